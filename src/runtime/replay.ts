/**
 * Pure replay: rebuild an endpoint's snapshot from its records with `initialTransition` /
 * `transition` — no adapter is ever called — and check every recorded resulting state.
 */
import { crc32 } from 'node:zlib';
import { initialTransition, type SnapshotFrom } from 'xstate';
import { endpointMachine, initialContext, pendingEffect, stateName, type EndpointContext, type EndpointInput } from '../../machines/index.js';
import type { CheckpointEndpoint, EventRecord, IntentRecord, LogRecord, StateStamp } from '../log/records.js';
import { storedContext, type ContextRef } from './compact-context.js';
import { NonDeterminismError } from './errors.js';
import { nextSnapshot } from './pure-transition.js';

export type EndpointSnapshot = SnapshotFrom<typeof endpointMachine>;

/** The stamp the log records for a snapshot. */
export function stampOf(s: EndpointSnapshot): StateStamp {
  return { v: stateName(s.value), h: crc32(JSON.stringify(s.context)).toString(16).padStart(8, '0') };
}

/** An endpoint as replay leaves it. */
export interface ReplayedEndpoint {
  id: string;
  snapshot: EndpointSnapshot;
  /** An intent without its outcome: the effect is in doubt. */
  pending: IntentRecord | null;
  lastSeq: number;
  /** Records replayed for this endpoint (tail only when restored from a checkpoint). */
  replayed: number;
}

export function createFromInput(input: EndpointInput): EndpointSnapshot {
  return initialTransition(endpointMachine, input)[0];
}

/** The context of a stored snapshot (a checkpoint entry, compact relative to `ref`, or a `snapshot` record). */
export function restoreContext(cp: CheckpointEndpoint['snapshot'], id: string, ref: ContextRef | null | undefined, lastSeq = 0): EndpointContext {
  return storedContext(cp, id, ref, lastSeq) as EndpointContext;
}

/** A machine snapshot from its stored form (see {@link restoreContext}). */
export function restoreSnapshot(cp: CheckpointEndpoint['snapshot'], id: string, ref?: ContextRef | null, lastSeq = 0): EndpointSnapshot {
  return endpointMachine.resolveState({ value: cp.value as never, context: restoreContext(cp, id, ref, lastSeq) });
}

export function checkStamp(rec: { seq: number; ep: string; state: StateStamp }, s: EndpointSnapshot): void {
  const got = stampOf(s);
  if (got.v !== rec.state.v || got.h !== rec.state.h) throw new NonDeterminismError(rec.seq, rec.ep, rec.state, got);
}

/**
 * The records of a tail that fast replay must apply: for each endpoint, only those from its
 * latest snapshot record on (the snapshot itself restores it). Order is kept.
 */
export function fastReplayPlan(records: readonly LogRecord[]): LogRecord[] {
  const lastSnapshot = new Map<string, number>();
  records.forEach((r, i) => {
    if (r.k === 'snapshot') lastSnapshot.set(r.ep, i);
  });
  return records.filter((r, i) => i >= (lastSnapshot.get(r.ep) ?? -1));
}

/**
 * Fast replay of a create record: the initial state runs no actions, so its snapshot is the
 * resolved initial context; the recorded stamp is still checked.
 */
export function fromCreateRecord(rec: LogRecord & { k: 'create' }): ReplayedEndpoint {
  const snapshot = endpointMachine.resolveState({ value: 'created', context: initialContext(rec.input as EndpointInput) });
  checkStamp(rec, snapshot);
  return { id: rec.ep, snapshot, pending: null, lastSeq: rec.seq, replayed: 1 };
}

/** Apply one record to an endpoint (or create it). Pure. */
export function applyRecord(ep: ReplayedEndpoint | undefined, rec: LogRecord): ReplayedEndpoint | undefined {
  switch (rec.k) {
    case 'create': {
      const snapshot = createFromInput(rec.input as EndpointInput);
      checkStamp(rec, snapshot);
      return { id: rec.ep, snapshot, pending: null, lastSeq: rec.seq, replayed: 1 };
    }
    case 'event': {
      if (!ep) throw new NonDeterminismError(rec.seq, rec.ep, 'an event for an endpoint never created', null);
      const snapshot = nextSnapshot(ep.snapshot, rec.event as never);
      checkStamp(rec as EventRecord, snapshot);
      const outcome = rec.event.type.startsWith('xstate.done.actor.') || rec.event.type.startsWith('xstate.error.actor.');
      return { ...ep, snapshot, pending: outcome ? null : ep.pending, lastSeq: rec.seq, replayed: ep.replayed + 1 };
    }
    case 'intent': {
      if (!ep) throw new NonDeterminismError(rec.seq, rec.ep, 'an intent for an endpoint never created', null);
      const expected = pendingEffect(ep.snapshot.value, ep.snapshot.context);
      if (!expected || expected.id !== rec.id || expected.src !== rec.src || JSON.stringify(expected.input) !== JSON.stringify(rec.input))
        throw new NonDeterminismError(rec.seq, rec.ep, { id: rec.id, src: rec.src, input: rec.input }, expected && { id: expected.id, src: expected.src, input: expected.input });
      return { ...ep, pending: rec, lastSeq: rec.seq, replayed: ep.replayed + 1 };
    }
    case 'note':
      return ep && { ...ep, lastSeq: rec.seq };
    case 'snapshot': {
      // verify mode: the recorded snapshot must be exactly what replay produced
      if (!ep) throw new NonDeterminismError(rec.seq, rec.ep, 'a snapshot of an endpoint never created', null);
      const replayed = { value: ep.snapshot.value, context: ep.snapshot.context, status: ep.snapshot.status };
      if (JSON.stringify(replayed) !== JSON.stringify(rec.snapshot)) throw new NonDeterminismError(rec.seq, rec.ep, rec.snapshot, replayed);
      return { ...ep, lastSeq: rec.seq, replayed: ep.replayed + 1 };
    }
  }
}
