/**
 * The store's bookkeeping: fds held between createTap and the hand-over, default ids, endpoints
 * restored lazily from snapshot records and checkpointed without being touched, a settled
 * endpoint's checkpoint entry, the live inspection mirror, and an attach step that finds its link
 * gone (a failure, never "already gone").
 */
import { describe, expect, it } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { MemoryKernel } from '../../src/adapters/memory/index.js';
import { NetlinkError } from '../../src/adapters/netlink.js';
import { SimulatedCrash } from '../../src/adapters/faults.js';
import { MemoryLogStore } from '../../src/log/index.js';
import { FdTable } from '../../src/runtime/fd-table.js';
import { freeEndpointId } from '../../src/runtime/endpoint-view.js';
import { EndpointOperationError } from '../../src/runtime/errors.js';
import { memoryWorld, NETNS } from '../support/memory-world.js';

describe('FdTable', () => {
  it('holds nothing for an endpoint it never saw', () => {
    const t = new FdTable(new MemoryKernel());
    expect(t.get('ep0')).toEqual([]);
    expect(t.getVhost('ep0')).toEqual([]);
    expect(t.count).toBe(0);
  });

  it('a close that fails still forgets the fds (close(2) released them); a crash is a crash', async () => {
    const k = new MemoryKernel();
    let fail: Error = new Error('EBADF');
    const nl = Object.assign(Object.create(k) as MemoryKernel, {
      closeFds: async () => {
        throw fail;
      },
    });
    const t = new FdTable(nl);
    t.put('ep0', [3, 4]);
    await expect(t.release('ep0')).resolves.toBeUndefined();
    expect(t.count).toBe(0);
    t.put('ep0', [5]);
    fail = new SimulatedCrash('in closeFds');
    await expect(t.release('ep0')).rejects.toBeInstanceOf(SimulatedCrash);
  });
});

describe('FdTable through the store', () => {
  it('settling an endpoint that holds no fds calls no closeFds (the adapter, and NODE_DEBUG, see only real closes)', async () => {
    const w = memoryWorld();
    const closes: unknown[][] = [];
    const store = await w.open({
      faults: (c) => {
        if (c.method === 'closeFds') closes.push([...c.args]);
        return 'ok';
      },
    });
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    await store.hotAttach('ep0'); // the hypervisor took the queue fds: ours closed once
    expect(closes).toHaveLength(1);
    expect(closes[0]![0]).toHaveLength(2);
    await store.hotDetach('ep0'); // nothing held any more
    expect(closes).toHaveLength(1);
    await store.close();
  });
});

describe('freeEndpointId', () => {
  it('ep<idx>, then ep<idx>-2, -3 …; "ep" for an idx that cannot name one', () => {
    const taken = new Set(['ep0', 'ep0-2', 'ep0-3']);
    expect(freeEndpointId((id) => taken.has(id), 0)).toBe('ep0-4');
    expect(freeEndpointId((id) => taken.has(id), 1)).toBe('ep1');
    expect(freeEndpointId(() => false, -1)).toBe('ep');
    expect(freeEndpointId(() => false, 1.5)).toBe('ep');
    expect(freeEndpointId((id) => id === 'ep', -1)).toBe('ep-2');
  });
});

describe('checkpoints of settled and untouched endpoints', () => {
  it('a settled endpoint is checkpointed without a pending intent', async () => {
    const w = memoryWorld();
    const store = await w.open();
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    await store.hotAttach('ep0');
    store.checkpoint();
    await store.close();
    const cp = MemoryLogStore.open(w.medium, { readOnly: true }).readCheckpoint()!;
    expect(cp.endpoints.ep0).toMatchObject({ pending: null, snapshot: { value: 'hotAttached', status: 'active' } });
  });

  it('an endpoint restored from its snapshot record and checkpointed untouched keeps its state', async () => {
    const w = memoryWorld();
    const s1 = await w.open();
    s1.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    await s1.hotAttach('ep0');
    await s1.close();
    // restored lazily (a snapshot record, no checkpoint yet) and checkpointed without being resolved
    const s2 = await w.open();
    s2.checkpoint();
    await s2.close();
    expect(MemoryLogStore.open(w.medium, { readOnly: true }).readCheckpoint()!.endpoints.ep0).toMatchObject({ pending: null, snapshot: { value: 'hotAttached' } });
    const s3 = await w.open();
    expect(s3.get('ep0')).toMatchObject({ state: 'hotAttached', progress: { tap: true, plugged: true } });
    expect((await s3.hotDetach('ep0')).state).toBe('detached');
    await s3.close();
  });
});

describe('the inspection mirror', () => {
  it('shows each endpoint as an actor with its id and every event it gets', async () => {
    const w = memoryWorld();
    const events: InspectionEvent[] = [];
    const store = await w.open({ inspect: (e) => void events.push(e) });
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    await store.hotAttach('ep0');
    const actors = events.filter((e) => e.type === '@xstate.actor').map((e) => (e.actorRef as unknown as { id: string }).id);
    expect(actors).toContain('ep0');
    const sent = events.filter((e) => e.type === '@xstate.event').map((e) => (e as { event: { type: string } }).event.type);
    expect(sent).toContain('HOT_ATTACH');
    expect(sent).toContain('xstate.done.actor.hotAttach.hotplug');
    const snaps = events.filter((e) => e.type === '@xstate.snapshot');
    expect((snaps[snaps.length - 1] as unknown as { snapshot: { value: unknown } }).snapshot.value).toBe('hotAttached');
    await store.close();
  });
});

describe('the inspection mirror of a reopened store', () => {
  it('shows restored endpoints in their stored state, follows their events, and stops with the store', async () => {
    const w = memoryWorld();
    const s1 = await w.open();
    s1.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    await s1.hotAttach('ep0');
    await s1.close();
    const events: InspectionEvent[] = [];
    const s2 = await w.open({ inspect: (e) => void events.push(e) });
    const actor = events.find((e) => e.type === '@xstate.actor' && (e.actorRef as unknown as { id: string }).id === 'ep0')!.actorRef;
    expect(actor.getSnapshot()).toMatchObject({ status: 'active', value: 'hotAttached', context: { id: 'ep0', mac: '02:00:00:00:00:01', progress: { tap: true, plugged: true } } });
    await s2.hotDetach('ep0');
    expect(actor.getSnapshot()).toMatchObject({ status: 'done', value: 'detached' });
    s2.createEndpoint({ idx: 1, mac: '02:00:00:00:00:02' });
    const created = events.filter((e) => e.type === '@xstate.actor').map((e) => e.actorRef).find((a) => (a as unknown as { id: string }).id === 'ep1')!;
    expect(created.getSnapshot().status).toBe('active');
    await s2.close();
    expect(created.getSnapshot().status).toBe('stopped');
  });
});

describe('an attach step that finds its link gone', () => {
  it('fails (ENODEV is "already gone" only for a teardown step) and rolls back', async () => {
    const w = memoryWorld();
    const store = await w.open({ faults: (c) => (c.method === 'setMtu' ? { fail: new NetlinkError({ op: 'setMtu', netns: NETNS, link: 'tap0_kata', errno: 'ENODEV', errnoNumber: 19 }) } : 'ok') });
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    const e = await store.hotAttach('ep0').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(EndpointOperationError);
    expect(e).toMatchObject({ step: 'setMtu', state: 'created' });
    expect(w.taps()).toEqual([]);
    await store.close();
  });

  it('a crash in the probe before qdiscOrig fails the store like any crash', async () => {
    const w = memoryWorld();
    const store = await w.open({ faults: (c) => (c.method === 'hasIngressQdisc' ? 'crash-before' : 'ok') });
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    await expect(store.attach('ep0')).rejects.toBeInstanceOf(SimulatedCrash);
    expect(() => store.createEndpoint({ idx: 1, mac: '02:00:00:00:00:02' })).toThrow(SimulatedCrash);
  });
});
