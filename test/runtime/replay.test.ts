/**
 * Pure replay against a real history (a store that hot-attached and hot-detached an endpoint):
 * the history replays to the same endpoint, record by record, and every way a log can disagree
 * with the machine — a changed state, a changed intent, a record of an endpoint never created,
 * a snapshot that is not what replay gives — is a NonDeterminismError naming the record.
 */
import { describe, expect, it } from 'vitest';
import { MemoryLogStore } from '../../src/log/index.js';
import type { LogRecord } from '../../src/log/records.js';
import { NonDeterminismError } from '../../src/runtime/errors.js';
import { applyRecord, fastReplayPlan, fromCreateRecord, stampOf, type ReplayedEndpoint } from '../../src/runtime/replay.js';
import { stateName } from '../../machines/index.js';
import { memoryWorld } from '../support/memory-world.js';

async function history(): Promise<LogRecord[]> {
  const w = memoryWorld();
  const store = await w.open();
  store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
  await store.hotAttach('ep0');
  await store.hotDetach('ep0');
  await store.close();
  return MemoryLogStore.open(w.medium, { readOnly: true })
    .read()
    .records.map((r) => r.record);
}

const replayAll = (records: readonly LogRecord[]) => {
  let ep: ReplayedEndpoint | undefined;
  for (const r of records) ep = applyRecord(ep, r);
  return ep;
};

const nonDeterminism = (f: () => unknown, seq: number) => {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(NonDeterminismError);
  expect(err).toMatchObject({ seq, endpoint: 'ep0' });
  return err as NonDeterminismError;
};

describe('pure replay', () => {
  it('replays the history to the end state, counting the records, the pending intent cleared by each outcome', async () => {
    const records = await history();
    const kinds = new Set(records.map((r) => r.k));
    expect([...kinds].sort()).toEqual(['create', 'event', 'intent', 'snapshot']);
    let ep: ReplayedEndpoint | undefined;
    for (const r of records) {
      ep = applyRecord(ep, r);
      expect(ep!.lastSeq).toBe(r.seq);
      if (r.k === 'intent') expect(ep!.pending).toBe(r);
      if (r.k === 'event' && r.event.type.startsWith('xstate.')) expect(ep!.pending).toBeNull();
      if (r.k === 'event' || r.k === 'create') expect(stampOf(ep!.snapshot)).toEqual(r.state);
    }
    expect(ep!.snapshot.status).toBe('done');
    expect(stateName(ep!.snapshot.value)).toBe('detached');
    expect(ep!.replayed).toBe(records.length);
    // a command leaves the pending intent as it was (none)
    const firstCommand = records.findIndex((r) => r.k === 'event' && r.event.type === 'HOT_ATTACH');
    expect(replayAll(records.slice(0, firstCommand + 1))!.pending).toBeNull();
  });

  it('a note changes nothing but the position, and needs no endpoint', async () => {
    const records = await history();
    const created = applyRecord(undefined, records[0]!)!;
    const note = { k: 'note', ep: 'ep0', seq: 99, ts: 0, note: 'n', data: {} } as unknown as LogRecord;
    expect(applyRecord(created, note)).toEqual({ ...created, lastSeq: 99 });
    expect(applyRecord(undefined, note)).toBeUndefined();
  });

  it('fast replay of a create record gives the same endpoint as the machine, and checks the stamp', async () => {
    const create = (await history())[0] as LogRecord & { k: 'create' };
    expect(create.k).toBe('create');
    const fast = fromCreateRecord(create);
    const slow = applyRecord(undefined, create!)!;
    expect(fast).toMatchObject({ id: 'ep0', pending: null, lastSeq: create!.seq, replayed: 1 });
    expect(fast.snapshot.context).toEqual(slow.snapshot.context);
    expect(stampOf(fast.snapshot)).toEqual(stampOf(slow.snapshot));
    const bad = { ...create!, state: { ...create!.state, h: '00000000' } } as LogRecord & { k: 'create' };
    nonDeterminism(() => fromCreateRecord(bad), create!.seq);
    nonDeterminism(() => applyRecord(undefined, bad), create!.seq);
  });

  it('an event whose recorded state differs from the machine\'s (name or context hash)', async () => {
    const records = await history();
    const i = records.findIndex((r) => r.k === 'event');
    const rec = records[i] as LogRecord & { k: 'event' };
    const ep = replayAll(records.slice(0, i));
    const e = nonDeterminism(() => applyRecord(ep, { ...rec, state: { ...rec.state, v: 'dirty' } }), rec.seq);
    expect(e.recorded).toEqual({ ...rec.state, v: 'dirty' });
    expect(e.replayed).toEqual(rec.state);
    nonDeterminism(() => applyRecord(ep, { ...rec, state: { ...rec.state, h: 'ffffffff' } }), rec.seq);
  });

  it('an intent the machine would not run (another effect or another input)', async () => {
    const records = await history();
    const i = records.findIndex((r) => r.k === 'intent');
    const rec = records[i] as LogRecord & { k: 'intent' };
    const ep = replayAll(records.slice(0, i));
    expect(applyRecord(ep, rec)!.pending).toBe(rec);
    const e = nonDeterminism(() => applyRecord(ep, { ...rec, id: 'hotAttach.setMtu' }), rec.seq);
    expect(e.recorded).toEqual({ id: 'hotAttach.setMtu', src: rec.src, input: rec.input });
    expect(e.replayed).toEqual({ id: rec.id, src: rec.src, input: rec.input });
    nonDeterminism(() => applyRecord(ep, { ...rec, src: 'netlink.setMtu' }), rec.seq);
    nonDeterminism(() => applyRecord(ep, { ...rec, input: { ...(rec.input as object), queues: 9 } }), rec.seq);
    // no effect pending at all (a settled endpoint)
    const settled = replayAll(records.slice(0, records.findIndex((r) => r.k === 'create') + 1));
    expect(nonDeterminism(() => applyRecord(settled, rec), rec.seq).replayed).toBeNull();
  });

  it('a snapshot record must be exactly what replay produced', async () => {
    const records = await history();
    const i = records.findIndex((r) => r.k === 'snapshot');
    const rec = records[i] as LogRecord & { k: 'snapshot' };
    const ep = replayAll(records.slice(0, i));
    const after = applyRecord(ep, rec)!;
    expect(after).toMatchObject({ lastSeq: rec.seq, replayed: ep!.replayed + 1 });
    expect(after.snapshot).toBe(ep!.snapshot);
    nonDeterminism(() => applyRecord(ep, { ...rec, snapshot: { ...rec.snapshot, value: 'dirty' } }), rec.seq);
  });

  it.each(['event', 'intent', 'snapshot'] as const)('an %s record of an endpoint never created', async (k) => {
    const records = await history();
    const rec = records.find((r) => r.k === k)!;
    const e = nonDeterminism(() => applyRecord(undefined, rec), rec.seq);
    expect(e.message).toContain(`never created`);
  });

  it('fastReplayPlan keeps, per endpoint, only the records from its latest snapshot record on', async () => {
    const records = await history();
    const snaps = records.map((r, i) => [r, i] as const).filter(([r]) => r.k === 'snapshot');
    const last = snaps[snaps.length - 1]![1];
    const other = { k: 'note', ep: 'ep1', seq: 1000, ts: 0, note: 'x', data: {} } as unknown as LogRecord;
    expect(fastReplayPlan([other, ...records])).toEqual([other, ...records.slice(last)]);
    // without a snapshot record: everything
    const noSnap = records.filter((r) => r.k !== 'snapshot');
    expect(fastReplayPlan(noSnap)).toEqual(noSnap);
  });

  it('an error outcome clears the pending intent too', async () => {
    const w = memoryWorld();
    const store = await w.open({ faults: (c) => (c.method === 'setMtu' ? { fail: new Error('refused') } : 'ok') });
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    await store.hotAttach('ep0').catch(() => {});
    await store.close();
    const records = MemoryLogStore.open(w.medium, { readOnly: true })
      .read()
      .records.map((r) => r.record);
    const i = records.findIndex((r) => r.k === 'event' && r.event.type === 'xstate.error.actor.hotAttach.setMtu');
    expect(replayAll(records.slice(0, i))!.pending).not.toBeNull();
    expect(replayAll(records.slice(0, i + 1))!.pending).toBeNull();
  });
});
