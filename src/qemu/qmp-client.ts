/**
 * Our own QMP client over a unix socket: greeting + `qmp_capabilities`, string request ids,
 * pipelined commands (QEMU answers in order per connection; we match by id, so a command that
 * timed out never confuses later answers), per-command timeouts, asynchronous events with
 * subscriptions, fd passing (`getfd` + SCM_RIGHTS), and typed errors.
 *
 * The client never waits for an event inside a command: waiting for `DEVICE_DELETED` is a
 * subscription ({@link QmpClient.subscribe}) that runs beside the command stream.
 */
import net from 'node:net';
import { createQmpStream, feedQmpStream, type QmpEvent, type QmpMessage, type QmpStreamState } from './qmp-stream.js';
import { SyscallError, sendWithFds } from './scm-rights.js';
import { TapstateError } from '../../machines/tapstate-error.js';

/** Why a QMP call failed. */
export type QmpErrorKind =
  /** QEMU answered `{"error":…}` (see `qmpClass`, `desc`). */
  | 'command'
  /** No answer within the timeout. */
  | 'timeout'
  /** The socket could not be opened, closed, or the client was closed. */
  | 'disconnected'
  /** QEMU sent bytes that are not QMP (the connection is closed). */
  | 'garbled';

/** A typed QMP failure. For `command`, `qmpClass`/`desc` are QEMU's. */
export class QmpError extends TapstateError {
  override readonly name = 'QmpError';
  readonly code = 'QMP_ERROR';
  constructor(
    readonly kind: QmpErrorKind,
    readonly command: string,
    message: string,
    readonly qmpClass = '',
    readonly desc = '',
  ) {
    super(message);
  }
}

/** Options of {@link QmpClient.connect}. */
export interface QmpConnectOptions {
  /** Timeout for connect + greeting + qmp_capabilities (ms). Default 5000. */
  connectTimeoutMs?: number;
  /** Default per-command timeout (ms). Default 5000. */
  commandTimeoutMs?: number;
  /** Largest accepted frame (bytes). */
  maxFrame?: number;
}

/** An event subscription: events arriving after {@link QmpClient.subscribe} that match. */
export interface QmpSubscription {
  /** Resolves with the first matching event; rejects with `timeout` or `disconnected`. */
  next(timeoutMs: number): Promise<QmpEvent>;
  /** Stop listening (idempotent). */
  cancel(): void;
}

interface Pending {
  command: string;
  resolve(value: unknown): void;
  reject(err: QmpError): void;
  timer: NodeJS.Timeout;
}

interface Sub {
  event: string;
  match: (e: QmpEvent) => boolean;
  queue: QmpEvent[];
  waiter?: { resolve(e: QmpEvent): void; reject(err: QmpError): void; timer: NodeJS.Timeout };
}

/** One QMP connection. Create with {@link QmpClient.connect}; reconnecting is a new connect. */
export class QmpClient {
  private stream: QmpStreamState;
  private readonly pending = new Map<string, Pending>();
  private readonly subs = new Set<Sub>();
  private readonly eventListeners = new Set<(e: QmpEvent) => void>();
  private nextId = 1;
  private nextFd = 0;
  private closedError: QmpError | undefined;
  private greetingWaiter: { resolve(): void; reject(e: QmpError): void } | undefined;
  private readonly closeListeners = new Set<(e: QmpError) => void>();

  private constructor(
    private readonly socket: net.Socket,
    readonly path: string,
    private readonly commandTimeoutMs: number,
    maxFrame: number | undefined,
  ) {
    this.stream = createQmpStream(maxFrame);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.shutdown(new QmpError('disconnected', '', `QMP socket ${path}: ${err.message}`)));
    socket.on('close', () => this.shutdown(new QmpError('disconnected', '', `QMP socket ${path} closed`)));
  }

  /**
   * Connect to a QMP unix socket, read the greeting and negotiate capabilities.
   * Rejects with a `disconnected` {@link QmpError} (socket missing/refused/closed) or `timeout`.
   */
  static async connect(path: string, opts: QmpConnectOptions = {}): Promise<QmpClient> {
    const connectTimeoutMs = opts.connectTimeoutMs ?? 5000;
    const socket = net.createConnection({ path });
    const client = new QmpClient(socket, path, opts.commandTimeoutMs ?? 5000, opts.maxFrame);
    const timer = setTimeout(
      () => client.shutdown(new QmpError('timeout', 'connect', `QMP ${path}: no greeting within ${connectTimeoutMs} ms (QEMU serves one client per monitor: is another one connected?)`)),
      connectTimeoutMs,
    );
    try {
      await new Promise<void>((resolve, reject) => {
        client.greetingWaiter = { resolve, reject };
        if (client.closedError) reject(client.closedError);
      });
      await client.execute('qmp_capabilities', undefined, { timeoutMs: connectTimeoutMs });
      return client;
    } catch (e) {
      client.close();
      throw e instanceof QmpError ? e : new QmpError('disconnected', 'connect', String(e));
    } finally {
      clearTimeout(timer);
    }
  }

  /** Is the connection open? */
  get connected(): boolean {
    return this.closedError === undefined;
  }

  /** Called once when the connection ends (immediately if already closed). */
  onClose(listener: (e: QmpError) => void): void {
    if (this.closedError) listener(this.closedError);
    else this.closeListeners.add(listener);
  }

  /** Listen to every event. Returns an unsubscribe function. */
  onEvent(listener: (e: QmpEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /**
   * Execute a command. Resolves with its `return` value; rejects with a {@link QmpError}
   * (`command` with QEMU's class/desc, `timeout`, `disconnected`, `garbled`).
   * `fds` are attached (SCM_RIGHTS) to this command's bytes — only meaningful for `getfd`/`add-fd`.
   */
  execute(command: string, args?: Record<string, unknown>, opts: { timeoutMs?: number; fds?: readonly number[] } = {}): Promise<unknown> {
    if (this.closedError) {
      return Promise.reject(new QmpError('disconnected', command, `${command}: ${this.closedError.message}`));
    }
    const id = `c${this.nextId++}`;
    const line = Buffer.from(JSON.stringify(args === undefined ? { execute: command, id } : { execute: command, arguments: args, id }) + '\n');
    const timeoutMs = opts.timeoutMs ?? this.commandTimeoutMs;
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new QmpError('timeout', command, `${command}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { command, resolve, reject, timer });
      const fail = (e: unknown): void => {
        if (!this.pending.delete(id)) return;
        clearTimeout(timer);
        reject(e instanceof QmpError ? e : new QmpError('disconnected', command, `${command}: ${(e as Error).message}`));
      };
      if (opts.fds && opts.fds.length > 0) this.writeWithFds(command, line, opts.fds).catch(fail);
      else this.socket.write(line);
    });
  }

  /**
   * Pass one fd to QEMU under a fresh name unique on this connection (`<prefix><n>`), via
   * `getfd` + SCM_RIGHTS. Returns the name. The caller keeps its own fd.
   */
  async passFd(fd: number, prefix = 'fd', opts: { timeoutMs?: number } = {}): Promise<string> {
    const fdname = `${prefix}${this.nextFd++}`;
    await this.passNamedFd(fd, fdname, opts);
    return fdname;
  }

  /**
   * Pass one fd to QEMU under `fdname` (getfd + SCM_RIGHTS). QEMU keeps getfd'd fds per monitor,
   * not per connection: a name survives this client, and a second getfd of the same name
   * replaces (and closes) the first. The caller keeps its own fd.
   */
  async passNamedFd(fd: number, fdname: string, opts: { timeoutMs?: number } = {}): Promise<void> {
    await this.execute('getfd', { fdname }, { ...opts, fds: [fd] });
  }

  /**
   * Subscribe to `event` (optionally filtered) from now on. Subscribe BEFORE sending the command
   * that causes the event.
   */
  subscribe(event: string, match: (e: QmpEvent) => boolean = () => true): QmpSubscription {
    const sub: Sub = { event, match, queue: [] };
    this.subs.add(sub);
    const cancel = (): void => {
      this.subs.delete(sub);
      if (sub.waiter) clearTimeout(sub.waiter.timer);
      sub.waiter = undefined;
    };
    return {
      cancel,
      next: (timeoutMs) => {
        const queued = sub.queue.shift();
        if (queued) return Promise.resolve(queued);
        if (this.closedError) return Promise.reject(new QmpError('disconnected', event, `waiting for ${event}: ${this.closedError.message}`));
        if (sub.waiter) return Promise.reject(new Error('subscription: next() already pending'));
        return new Promise<QmpEvent>((resolve, reject) => {
          const timer = setTimeout(() => {
            sub.waiter = undefined;
            reject(new QmpError('timeout', event, `no ${event} within ${timeoutMs} ms`));
          }, timeoutMs);
          sub.waiter = { resolve, reject, timer };
        });
      },
    };
  }

  /** Close the connection; pending commands and waits reject with `disconnected`. Idempotent. */
  close(): void {
    this.shutdown(new QmpError('disconnected', '', `QMP ${this.path}: client closed`));
  }

  private async writeWithFds(command: string, line: Buffer, fds: readonly number[]): Promise<void> {
    // The fds must travel with this command's bytes: send directly with sendmsg, but only when
    // Node's own write queue is empty (JS is single-threaded: nothing slips in between the check
    // and the call). A full queue or socket buffer (EAGAIN) is waited out.
    for (let tries = 0; ; tries++) {
      if (this.closedError) throw new QmpError('disconnected', command, `${command}: ${this.closedError.message}`);
      const fd = (this.socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
      if (typeof fd !== 'number' || fd < 0) throw new QmpError('disconnected', command, `${command}: QMP socket has no fd`);
      if (this.socket.writableLength > 0) {
        await new Promise((r) => this.socket.once('drain', r).once('close', r));
        continue;
      }
      let sent: number;
      try {
        sent = sendWithFds(fd, line, fds);
      } catch (e) {
        if (e instanceof SyscallError && (e.errnoName === 'EAGAIN' || e.errnoName === 'EWOULDBLOCK' || e.errnoName === 'EINTR') && tries < 1000) {
          await new Promise((r) => setTimeout(r, 1));
          continue;
        }
        throw new QmpError('disconnected', command, `${command}: ${(e as Error).message}`);
      }
      if (sent < line.length) this.socket.write(line.subarray(sent));
      return;
    }
  }

  private onData(chunk: Buffer): void {
    const r = feedQmpStream(this.stream, chunk);
    this.stream = r.state;
    for (const m of r.messages) this.dispatch(m);
    if (r.error) this.shutdown(new QmpError('garbled', '', `QMP ${this.path}: ${r.error.message}`));
  }

  private dispatch(m: QmpMessage): void {
    switch (m.kind) {
      case 'greeting': {
        const w = this.greetingWaiter;
        this.greetingWaiter = undefined;
        w?.resolve();
        return;
      }
      case 'return':
      case 'error': {
        if (m.id === undefined) return;
        const p = this.pending.get(m.id);
        if (!p) return; // timed out earlier: drop the late answer
        this.pending.delete(m.id);
        clearTimeout(p.timer);
        if (m.kind === 'return') p.resolve(m.value);
        else p.reject(new QmpError('command', p.command, `${p.command}: ${m.errorClass}: ${m.desc}`, m.errorClass, m.desc));
        return;
      }
      case 'event': {
        for (const l of this.eventListeners) l(m);
        for (const sub of this.subs) {
          if (sub.event !== m.event || !sub.match(m)) continue;
          if (sub.waiter) {
            const w = sub.waiter;
            sub.waiter = undefined;
            clearTimeout(w.timer);
            w.resolve(m);
          } else sub.queue.push(m);
        }
      }
    }
  }

  private shutdown(err: QmpError): void {
    if (this.closedError) return;
    this.closedError = err;
    this.socket.destroy();
    const g = this.greetingWaiter;
    this.greetingWaiter = undefined;
    g?.reject(err);
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new QmpError(err.kind === 'garbled' ? 'garbled' : 'disconnected', p.command, `${p.command}: ${err.message}`));
    }
    this.pending.clear();
    for (const sub of this.subs) {
      if (sub.waiter) {
        clearTimeout(sub.waiter.timer);
        sub.waiter.reject(new QmpError('disconnected', sub.event, `waiting for ${sub.event}: ${err.message}`));
        sub.waiter = undefined;
      }
    }
    this.subs.clear();
    for (const l of this.closeListeners) l(err);
    this.closeListeners.clear();
  }
}
