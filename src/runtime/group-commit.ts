/**
 * Group commit over an asynchronous sync (an fdatasync on libuv's threadpool): callers that ask
 * in the same event-loop turn share one sync, and callers that ask while a sync is in flight
 * share the next one, started as soon as it ends. At most one sync runs at a time, and the event
 * loop never waits for the disk.
 *
 * A sync covers what was written before it *starts*; a caller asks after writing, so the sync it
 * is given always starts after its write: when its promise resolves, its bytes are durable.
 */
interface Batch {
  promise: Promise<void>;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class GroupCommit {
  /** A sync is running. */
  #running = false;
  /** The callers of the next sync (not started yet). */
  #next: Batch | null = null;
  /** Callers of {@link idle}. */
  #idle: Array<() => void> = [];

  /** `sync`: make everything written so far durable. */
  constructor(private readonly sync: () => Promise<void> | void) {}

  /** Resolves once everything written before this call is durable; rejects with the sync's error. */
  request(): Promise<void> {
    if (this.#next) return this.#next.promise;
    let resolve!: () => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
    this.#next = { promise, resolve, reject };
    // the other callers of this turn join it; a sync in flight starts it when it ends
    if (!this.#running) setImmediate(() => this.#start());
    return promise;
  }

  #start(): void {
    const batch = this.#next;
    if (!batch || this.#running) return;
    this.#next = null; // later callers wait for the sync after this one
    this.#running = true;
    void (async () => this.sync())()
      .then(batch.resolve, batch.reject)
      .finally(() => {
        this.#running = false;
        if (this.#next) return this.#start();
        const idle = this.#idle;
        this.#idle = [];
        for (const f of idle) f();
      });
  }

  /** Whether a sync is running or waiting to run. */
  get busy(): boolean {
    return this.#running || this.#next !== null;
  }

  /** Resolves when no sync is running or waiting to run (e.g. before closing the file). */
  idle(): Promise<void> {
    return this.busy ? new Promise((r) => this.#idle.push(r)) : Promise.resolve();
  }
}
