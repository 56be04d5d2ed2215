import { describe, expect, it } from 'vitest';
import { memoryWorld, NETNS } from '../support/memory-world.js';
import { SimulatedCrash, type FaultPlan } from '../../src/adapters/faults.js';
import { InDoubtError } from '../../src/runtime/errors.js';
import { MemoryLogStore } from '../../src/log/index.js';
import { Tapstore } from '../../src/runtime/tapstore.js';
import type { NetlinkAdapter } from '../../src/adapters/netlink.js';
import type { HypervisorAdapter } from '../../src/adapters/hypervisor.js';

const crashOn =
  (method: string, how: 'crash-before' | 'crash-after'): FaultPlan =>
  (c) =>
    c.method === method ? how : 'ok';

/** Adapters that fail the test if replay calls them. */
const throwing = <T extends object>(): T =>
  new Proxy({} as T, {
    get: (_t, p) => {
      if (p === 'then') return undefined;
      return () => {
        throw new Error(`adapter called during replay: ${String(p)}`);
      };
    },
  });

describe('crash recovery (in-memory world)', () => {
  it('rolls back a hot-attach that crashed right after creating the tap', async () => {
    const w = memoryWorld();
    const s1 = await w.open({ faults: crashOn('createTap', 'crash-after') });
    s1.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    await expect(s1.hotAttach('ep0')).rejects.toBeInstanceOf(SimulatedCrash);
    w.crash();
    expect(w.taps()).toEqual([`${NETNS}:tap0_kata`]); // leaked, as upstream would leave it
    const s2 = await w.open();
    expect(s2.recovery.endpoints).toMatchObject([
      { id: 'ep0', effect: 'hotAttach.createTap', ran: true, action: 'rolled-back', finalState: 'created', observed: { tap: true } },
    ]);
    expect(w.taps()).toEqual([]);
    expect(w.kernel.openFdCount()).toBe(0);
    // and it can be attached again
    expect((await s2.hotAttach('ep0')).state).toBe('hotAttached');
    await s2.close();
  });

  it('unplugs and deletes when the crash came after the hotplug', async () => {
    const w = memoryWorld();
    const s1 = await w.open({ faults: crashOn('hotplug', 'crash-after') });
    s1.createEndpoint({ idx: 3, mac: '02:00:00:00:00:03' });
    await expect(s1.hotAttach('ep3')).rejects.toBeInstanceOf(SimulatedCrash);
    w.crash();
    expect(w.hypervisor.devices()).toHaveLength(1);
    const s2 = await w.open();
    expect(s2.recovery.endpoints[0]).toMatchObject({ effect: 'hotAttach.hotplug', action: 'rolled-back', observed: { plugged: true, tap: true } });
    expect(w.hypervisor.devices()).toEqual([]);
    expect(w.hypervisor.netdevs()).toEqual([]);
    expect(w.taps()).toEqual([]);
    expect(w.kernel.openFdCount()).toBe(0);
    await s2.close();
  });

  it('finishes a hot-detach interrupted before deleting the tap', async () => {
    const w = memoryWorld();
    const s1 = await w.open();
    s1.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    await s1.hotAttach('ep0');
    await s1.close();
    const s2 = await w.open({ faults: crashOn('deleteLink', 'crash-before') });
    await expect(s2.hotDetach('ep0')).rejects.toBeInstanceOf(SimulatedCrash);
    w.crash();
    const s3 = await w.open();
    expect(s3.recovery.endpoints).toMatchObject([{ effect: 'teardown.deleteTap', action: 'rolled-forward', finalState: 'detached' }]);
    expect(w.taps()).toEqual([]);
    await s3.close();
  });

  it('treats a tap that vanished with its netns as gone', async () => {
    const w = memoryWorld();
    const s1 = await w.open({ faults: crashOn('setUp', 'crash-after') });
    s1.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    await expect(s1.hotAttach('ep0')).rejects.toBeInstanceOf(SimulatedCrash);
    w.crash();
    w.kernel.deleteNetns(NETNS);
    const s2 = await w.open();
    expect(s2.recovery.endpoints[0]).toMatchObject({ action: 'rolled-back', finalState: 'created', observed: { netnsGone: true, tap: false } });
    await s2.close();
  });

  it('rolls back an interrupted forward setUp (same src as the teardown setDown) without going on to hotplug', async () => {
    const w = memoryWorld();
    const s1 = await w.open({ faults: crashOn('setUp', 'crash-after') });
    s1.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    await expect(s1.hotAttach('ep0')).rejects.toBeInstanceOf(SimulatedCrash);
    w.crash();
    const before = w.hypervisor.commands().length;
    const s2 = await w.open();
    expect(s2.recovery.endpoints).toMatchObject([{ effect: 'hotAttach.setUp', action: 'rolled-back', finalState: 'created', observed: { tap: true, up: true } }]);
    expect(w.hypervisor.commands().slice(before).filter((c) => c.startsWith('device_add') || c.startsWith('netdev_add'))).toEqual([]);
    expect(w.taps()).toEqual([]);
    await s2.close();
  });

  it('refuses commands on an endpoint in doubt until recovery ran', async () => {
    const w = memoryWorld();
    const s1 = await w.open({ faults: crashOn('setMtu', 'crash-before') });
    s1.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    await expect(s1.hotAttach('ep0')).rejects.toBeInstanceOf(SimulatedCrash);
    w.crash();
    const s2 = await w.open({ recover: false });
    expect(s2.get('ep0').status).toBe('in-doubt');
    await expect(s2.hotDetach('ep0')).rejects.toBeInstanceOf(InDoubtError);
    const report = await s2.recover();
    expect(report).toHaveLength(1);
    expect(s2.get('ep0')).toMatchObject({ state: 'created', status: 'settled' });
    await s2.close();
  });

  it('replays without calling any adapter and reproduces the live snapshots', async () => {
    const w = memoryWorld();
    const s1 = await w.open();
    for (const idx of [0, 1, 2]) s1.createEndpoint({ idx, mac: `02:00:00:00:00:0${idx + 1}` });
    await s1.hotAttach('ep0');
    await s1.hotAttach('ep1');
    await s1.hotDetach('ep1');
    await s1.attach('ep0').catch(() => {});
    const live = s1.list().map((v) => [v.id, s1.snapshotOf(v.id).value, s1.snapshotOf(v.id).context]);
    // no close: no checkpoint; replay the whole log, verifying every recorded state
    const replayed = await Tapstore.open({
      log: MemoryLogStore.open(w.medium, { readOnly: true }),
      adapters: { netlink: throwing<NetlinkAdapter>(), hypervisor: throwing<HypervisorAdapter>() },
      recover: false,
      verify: true,
    });
    expect(replayed.list().map((v) => [v.id, replayed.snapshotOf(v.id).value, replayed.snapshotOf(v.id).context])).toEqual(live);
    await s1.close();
  });

  it('survives a crash at a log record, including a torn one', async () => {
    for (const how of ['crash-before', 'crash-after', 'torn'] as const) {
      const w = memoryWorld();
      let n = 0;
      const s1 = await w.open({ hook: () => (++n === 4 ? how : 'ok') });
      s1.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
      await expect(s1.hotAttach('ep0')).rejects.toBeInstanceOf(SimulatedCrash);
      w.crash();
      const s2 = await w.open();
      expect(s2.recovery.torn === null).toBe(how !== 'torn');
      expect(s2.get('ep0')).toMatchObject({ state: 'created', status: 'settled' });
      expect(w.taps()).toEqual([]);
      await s2.close();
    }
  });
});
