/**
 * Opening a store without calling any adapter: read the checkpoint (every endpoint's snapshot
 * and pending intent at a log position), restore endpoints lazily, and replay the tail — from
 * each endpoint's latest `snapshot` record, checking every recorded state stamp. `verify`
 * ignores checkpoints and snapshot records and replays the whole retained history (from the
 * state before its first record), checking everything. A detached endpoint is retired: not in
 * the result, only counted (src/runtime/retirement.ts).
 */
import type { LogHeader } from '../log/records.js';
import type { LogStore, ReadResult, TornTail } from '../log/store.js';
import { networkOfRecord } from '../persist/persisted-network.js';
import { EndpointSlot } from './endpoint-slot.js';
import { applyRecord, fastReplayPlan, fromCreateRecord } from './replay.js';
import { sweepDone } from './retirement.js';

export interface Rebuilt {
  header: LogHeader;
  /** Every endpoint, in creation order. */
  slots: Map<string, EndpointSlot>;
  /** seq of the last record. */
  seq: number;
  /** A partial last record that was dropped. */
  torn: TornTail | null;
  /** Whether opening started from a checkpoint. */
  fromCheckpoint: boolean;
  /** Records replayed (the tail after the checkpoint). */
  replayed: number;
  /** What the store keeps of loaded persist.json documents (the latest), or null. */
  network: unknown;
  /** Endpoints retired (detached) over the store's life. */
  retired: number;
  /** What the checkpoint's compact contexts are relative to (null: none). */
  ref: Record<string, unknown> | null;
}

export function rebuildEndpoints(log: LogStore, verify: boolean): Rebuilt {
  // verify: the whole retained history, from the state before its first record
  const hist = verify ? log.history() : null;
  const cp = hist ? hist.base : log.readCheckpoint();
  let read: Pick<ReadResult, 'header' | 'torn' | 'records'>;
  if (hist) {
    const { header, torn } = log.read(log.end);
    read = { header, torn, records: [...hist.records] };
  } else read = log.read(cp ? cp.offset : undefined);
  const slots = new Map<string, EndpointSlot>();
  let seq = 0;
  let retired = 0;
  if (cp) {
    for (const [id, e] of Object.entries(cp.endpoints)) slots.set(id, EndpointSlot.stored(id, e, cp.ref ?? null));
    seq = cp.seq;
    retired = cp.retired ?? 0;
  }
  const records = read.records.map((r) => r.record);
  // fast: each endpoint from its latest snapshot record; verify: every record, checked
  for (const record of verify ? records : fastReplayPlan(records)) {
    let next: EndpointSlot | undefined;
    if (!verify && record.k === 'snapshot') {
      // a settled endpoint: restored lazily, like a checkpoint entry (the record's crc covers it)
      next = EndpointSlot.stored(record.ep, { snapshot: record.snapshot, pending: null, lastSeq: record.seq });
    } else {
      const replayed = !verify && record.k === 'create' ? fromCreateRecord(record) : applyRecord(slots.get(record.ep)?.toReplayed(), record);
      next = replayed && EndpointSlot.of(replayed);
    }
    if (next) slots.set(record.ep, next);
    if (record.k === 'snapshot' && record.snapshot.status === 'done') slots.delete(record.ep);
  }
  // every retirement in the tail counts (fast replay skips the earlier lives of a reused id)
  for (const r of records) if (r.k === 'snapshot' && r.snapshot.status === 'done') retired++;
  if (records.length) seq = records[records.length - 1]!.seq;
  let network: unknown = cp?.network ?? null;
  for (const r of records) network = networkOfRecord(r) ?? network;
  // endpoints in creation order (the checkpoint's, then the tail's creates); an id created
  // again after its endpoint retired counts from its latest create
  const order = new Set<string>(cp ? Object.keys(cp.endpoints) : []);
  for (const r of records)
    if (r.k === 'create') {
      order.delete(r.ep);
      order.add(r.ep);
    }
  const ordered = new Map<string, EndpointSlot>();
  for (const id of order) if (slots.has(id)) ordered.set(id, slots.get(id)!);
  // detached but its snapshot record never written (a crash right before it): retired as well
  retired += sweepDone(ordered);
  return { header: read.header, slots: ordered, seq, torn: read.torn, fromCheckpoint: cp !== null && !verify, replayed: read.records.length, network, retired, ref: cp?.ref ?? null };
}
