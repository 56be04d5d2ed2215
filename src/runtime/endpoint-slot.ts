/**
 * One endpoint as the store holds it: its machine snapshot, the intent it waits on, its last
 * record, and whether a command is running on it. A slot restored from a checkpoint or a
 * `snapshot` record keeps the stored form (`raw`) and resolves it into a machine snapshot only
 * when first used, so that opening a large store touches only the endpoints it must.
 */
import { isEffectState } from '../../machines/index.js';
import type { CheckpointEndpoint, IntentRecord } from '../log/records.js';
import { storedSnapshot, type ContextRef } from './compact-context.js';
import { restoreContext, restoreSnapshot, type EndpointSnapshot, type ReplayedEndpoint } from './replay.js';

type StoredSnapshot = CheckpointEndpoint['snapshot'];

export class EndpointSlot {
  /** The stored form, until first resolved. */
  #raw: StoredSnapshot | null;
  /** What a compact stored form is relative to (the checkpoint's `ref`). */
  readonly #rawRef: ContextRef | null;
  #live: EndpointSnapshot | null;
  /** The checkpoint form last computed, for the snapshot (live or stored) it was computed from. */
  #stored: { of: object; ref: ContextRef; snapshot: StoredSnapshot } | null = null;
  /** A command (or recovery) is running on the endpoint. */
  busy = false;

  private constructor(
    readonly id: string,
    snapshot: { live: EndpointSnapshot } | { raw: StoredSnapshot },
    /** An intent without its outcome: the effect is in doubt (or running). */
    public pending: IntentRecord | null,
    /** seq of the endpoint's last record. */
    public lastSeq: number,
    /** Records replayed for this endpoint while opening. */
    readonly replayed: number,
    rawRef: ContextRef | null = null,
  ) {
    this.#live = 'live' in snapshot ? snapshot.live : null;
    this.#raw = 'raw' in snapshot ? snapshot.raw : null;
    this.#rawRef = rawRef;
  }

  /** A new endpoint, or one rebuilt by replay. */
  static of(e: ReplayedEndpoint): EndpointSlot {
    return new EndpointSlot(e.id, { live: e.snapshot }, e.pending, e.lastSeq, e.replayed);
  }

  /** An endpoint stored in a checkpoint (compact contexts relative to `ref`) or a `snapshot` record, resolved lazily. */
  static stored(id: string, e: CheckpointEndpoint, ref: ContextRef | null = null): EndpointSlot {
    return new EndpointSlot(id, { raw: e.snapshot }, e.pending, e.lastSeq, 0, ref);
  }

  /** The machine snapshot (resolving the stored form on first use). */
  get snapshot(): EndpointSnapshot {
    if (this.#live === null) {
      this.#live = restoreSnapshot(this.#raw!, this.id, this.#rawRef, this.lastSeq);
      this.#raw = null;
    }
    return this.#live;
  }

  setSnapshot(next: EndpointSnapshot): void {
    this.#live = next;
    this.#raw = null;
  }

  /** Has the endpoint reached its final state, detached (without resolving a stored form)? */
  isDone(): boolean {
    return (this.#raw ? this.#raw.status : this.snapshot.status) === 'done';
  }

  /** Is the endpoint in an effect state (without resolving a stored form)? */
  inEffect(): boolean {
    return isEffectState(this.#raw ? this.#raw.value : this.snapshot.value);
  }

  /** The endpoint as pure replay sees it. */
  toReplayed(): ReplayedEndpoint {
    return { id: this.id, snapshot: this.snapshot, pending: this.pending, lastSeq: this.lastSeq, replayed: this.replayed };
  }

  /**
   * The checkpoint form, its context compact relative to `ref` (src/runtime/compact-context.ts)
   * or whole as an embedded JSON string: an open parses only the contexts it touches. Computed
   * once per snapshot: an endpoint that did not change since the last checkpoint costs nothing.
   */
  toCheckpoint(ref: ContextRef): CheckpointEndpoint {
    return { snapshot: this.#storedFor(ref), pending: this.pending, lastSeq: this.lastSeq };
  }

  #storedFor(ref: ContextRef): StoredSnapshot {
    const raw = this.#raw;
    if (raw && raw.delta !== undefined && this.#rawRef === ref) return raw; // already compact, same reference
    const of: object = raw ?? this.#live!;
    if (this.#stored && this.#stored.of === of && this.#stored.ref === ref) return this.#stored.snapshot;
    const snapshot = raw
      ? storedSnapshot(ref, this.id, raw.value, raw.status, restoreContext(raw, this.id, this.#rawRef, this.lastSeq))
      : storedSnapshot(ref, this.id, this.#live!.value, this.#live!.status, this.#live!.context);
    this.#stored = { of, ref, snapshot };
    return snapshot;
  }
}
