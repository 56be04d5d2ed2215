/**
 * Opening a store without calling any adapter: read the checkpoint (every endpoint's snapshot
 * and pending intent at a log position), restore endpoints lazily, and replay the tail — from
 * each endpoint's latest `snapshot` record, checking every recorded state stamp. `verify`
 * ignores checkpoints and snapshot records and replays the whole history, checking everything.
 */
import type { LogHeader } from '../log/records.js';
import type { LogStore, TornTail } from '../log/store.js';
import { networkOfRecord } from '../persist/persisted-network.js';
import { EndpointSlot } from './endpoint-slot.js';
import { applyRecord, fastReplayPlan, fromCreateRecord } from './replay.js';

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
}

export function rebuildEndpoints(log: LogStore, verify: boolean): Rebuilt {
  const cp = verify ? null : log.readCheckpoint();
  const read = log.read(cp ? cp.offset : undefined);
  const slots = new Map<string, EndpointSlot>();
  let seq = 0;
  if (cp) {
    for (const [id, e] of Object.entries(cp.endpoints)) slots.set(id, EndpointSlot.stored(id, e));
    seq = cp.seq;
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
  }
  if (records.length) seq = records[records.length - 1]!.seq;
  let network: unknown = cp?.network ?? null;
  for (const r of records) network = networkOfRecord(r) ?? network;
  // endpoints in creation order (the checkpoint's, then the tail's creates)
  const order = [...(cp ? Object.keys(cp.endpoints) : []), ...records.filter((r) => r.k === 'create').map((r) => r.ep)];
  const ordered = new Map<string, EndpointSlot>();
  for (const id of order) if (slots.has(id)) ordered.set(id, slots.get(id)!);
  return { header: read.header, slots: ordered, seq, torn: read.torn, fromCheckpoint: cp !== null, replayed: read.records.length, network };
}
