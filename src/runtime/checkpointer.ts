/**
 * Checkpoints: every endpoint's snapshot and pending intent at a log position, written every
 * `every` records (default 1000) so that opening replays a bounded tail. Settled endpoints also
 * have `snapshot` records in the log, so a store closed between checkpoints opens fast too: no
 * checkpoint is forced on close.
 */
import type { EndpointSlot } from './endpoint-slot.js';
import type { Journal } from './journal.js';
import type { Checkpoint } from '../log/records.js';
import type { ContextRef } from './compact-context.js';

export const DEFAULT_CHECKPOINT_EVERY = 1000;

export class Checkpointer {
  constructor(
    private readonly journal: Journal,
    private readonly slots: ReadonlyMap<string, EndpointSlot>,
    /** What the store keeps of loaded persist.json documents, checkpointed with the endpoints. */
    private readonly network: () => unknown,
    /** Endpoints retired over the store's life, checkpointed too. */
    private readonly retired: () => number,
    /** What compact contexts are relative to (the sandbox's input defaults). */
    private readonly ref: ContextRef,
    private readonly every = DEFAULT_CHECKPOINT_EVERY,
  ) {}

  /** Write a checkpoint if `every` records were appended since the last one, or the active segment is full (so that it rotates). */
  maybe(): void {
    const since = this.journal.sinceCheckpoint;
    if (since >= this.every || (since > 0 && this.journal.segmentFull)) this.now();
  }

  /** Write a checkpoint now (nothing once the journal failed). */
  now(): void {
    if (this.journal.failed) return;
    const endpoints: Checkpoint['endpoints'] = {};
    for (const s of this.slots.values()) endpoints[s.id] = s.toCheckpoint(this.ref);
    this.journal.writeCheckpoint(endpoints, { network: this.network() ?? undefined, retired: this.retired(), ref: this.ref });
  }
}
