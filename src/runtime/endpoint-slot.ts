/**
 * One endpoint as the store holds it: its machine snapshot, the intent it waits on, its last
 * record, and whether a command is running on it. A slot restored from a checkpoint or a
 * `snapshot` record keeps the stored form (`raw`) and resolves it into a machine snapshot only
 * when first used, so that opening a large store touches only the endpoints it must.
 */
import { isEffectState } from '../../machines/index.js';
import type { CheckpointEndpoint, IntentRecord } from '../log/records.js';
import { restoreSnapshot, type EndpointSnapshot, type ReplayedEndpoint } from './replay.js';

type StoredSnapshot = CheckpointEndpoint['snapshot'];

export class EndpointSlot {
  /** The stored form, until first resolved. */
  #raw: StoredSnapshot | null;
  #live: EndpointSnapshot | null;
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
  ) {
    this.#live = 'live' in snapshot ? snapshot.live : null;
    this.#raw = 'raw' in snapshot ? snapshot.raw : null;
  }

  /** A new endpoint, or one rebuilt by replay. */
  static of(e: ReplayedEndpoint): EndpointSlot {
    return new EndpointSlot(e.id, { live: e.snapshot }, e.pending, e.lastSeq, e.replayed);
  }

  /** An endpoint stored in a checkpoint or a `snapshot` record, resolved lazily. */
  static stored(id: string, e: CheckpointEndpoint): EndpointSlot {
    return new EndpointSlot(id, { raw: e.snapshot }, e.pending, e.lastSeq, 0);
  }

  /** The machine snapshot (resolving the stored form on first use). */
  get snapshot(): EndpointSnapshot {
    if (this.#live === null) {
      this.#live = restoreSnapshot(this.#raw!);
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

  /** The checkpoint form; the context as an embedded JSON string (an open parses only those it touches). */
  toCheckpoint(): CheckpointEndpoint {
    const raw = this.#raw;
    const s = this.#live;
    const snapshot = raw
      ? { ...raw, context: typeof raw.context === 'string' ? raw.context : JSON.stringify(raw.context) }
      : { value: s!.value, context: JSON.stringify(s!.context), status: s!.status };
    return { snapshot, pending: this.pending, lastSeq: this.lastSeq };
  }
}
