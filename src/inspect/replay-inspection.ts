/**
 * Replay a saved log into any XState `inspect` observer without running a single effect: each
 * endpoint is an {@link InspectionMirror} actor (every effect stubbed by a never-settling
 * promise) that receives exactly the journaled events, in log order — the same inspection
 * stream the live run produced. Every record is also applied by pure replay, which checks the
 * recorded state stamps (a log that does not match the machine fails with NonDeterminismError).
 */
import { stateName, type EndpointInput } from '../../machines/index.js';
import type { Checkpoint, LogRecord } from '../log/records.js';
import { InspectionMirror, type InspectOption } from '../runtime/inspection.js';
import { applyRecord, restoreSnapshot, type ReplayedEndpoint } from '../runtime/replay.js';

/** Where replay left an endpoint. */
export interface ReplayedState {
  id: string;
  /** Dotted state (`hotAttached`, `hotAttach.setMtu`). */
  state: string;
  /** An effect whose intent was logged but not its outcome: the run stopped (crashed) there. */
  inDoubt: string | null;
  records: number;
}

/**
 * Feed `records` (a whole log from its first record, or the retained history after `base`, the
 * state before its first record) to `inspect`. Returns the final state of every endpoint. Calls
 * no adapter and starts no effect.
 */
export function replayIntoInspector(records: readonly LogRecord[], inspect: InspectOption, base: Checkpoint | null = null): ReplayedState[] {
  const mirror = new InspectionMirror(inspect);
  const eps = new Map<string, ReplayedEndpoint>();
  try {
    for (const [id, e] of Object.entries(base?.endpoints ?? {})) {
      const snapshot = restoreSnapshot(e.snapshot, id, base?.ref, e.lastSeq);
      eps.set(id, { id, snapshot, pending: e.pending, lastSeq: e.lastSeq, replayed: 0 });
      mirror.restore(id, snapshot);
    }
    for (const rec of records) {
      const next = applyRecord(eps.get(rec.ep), rec);
      if (next) eps.set(rec.ep, next);
      if (rec.k === 'create') mirror.create(rec.ep, rec.input as EndpointInput);
      else if (rec.k === 'event') mirror.send(rec.ep, rec.event);
    }
  } finally {
    mirror.stop();
  }
  return [...eps.values()].map((e) => ({
    id: e.id,
    state: stateName(e.snapshot.value),
    inDoubt: e.pending ? e.pending.id : null,
    records: e.replayed,
  }));
}
