import { describe, expect, it } from 'vitest';
import { memoryWorld, NETNS } from '../support/memory-world.js';
import { EndpointBusyError, EndpointOperationError, InvalidCommandError, UnknownEndpointError } from '../../src/runtime/errors.js';
import { MemoryLogStore } from '../../src/log/index.js';
import { Tapstore } from '../../src/runtime/tapstore.js';
import { NetlinkError } from '../../src/adapters/netlink.js';

describe('Tapstore with the in-memory adapters', () => {
  it('hot-attaches and hot-detaches an endpoint, journaling every step', async () => {
    const w = memoryWorld();
    const store = await w.open();
    const ep = store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01', mtu: 1400 });
    expect(ep).toMatchObject({ id: 'ep0', state: 'created', tapName: 'tap0_kata', name: 'eth0' });
    const v = await store.hotAttach('ep0');
    expect(v.state).toBe('hotAttached');
    expect(v.pciPath).toMatch(/^[0-9a-f]{2}\/[0-9a-f]{2}$/);
    const tap = w.kernel.links(NETNS).find((l) => l.name === 'tap0_kata')!;
    expect(tap).toMatchObject({ mtu: 1400, kind: 'tun', flags: { up: true } });
    expect(tap.tun).toMatchObject({ multiQueue: true, persist: true });
    expect(w.hypervisor.devices().map((d) => d.id)).toEqual(['virtio-net-ep0']);
    expect(w.kernel.openFdCount('self')).toBe(0);
    expect(store.heldFds).toBe(0);
    const d = await store.hotDetach('ep0');
    expect(d.state).toBe('detached');
    expect(w.taps()).toEqual([]);
    expect(w.hypervisor.devices()).toEqual([]);
    expect(w.hypervisor.netdevs()).toEqual([]);
    expect(w.kernel.openFdCount()).toBe(0);
    await store.close();
    const again = await w.open();
    // detached: retired from the live set (and the checkpoint); its history stays in the log
    expect(again.list()).toEqual([]);
    expect(() => again.get('ep0')).toThrow(UnknownEndpointError);
    expect(again.retired).toBe(1);
    await again.close();
  });

  it('retires a detached endpoint: not listed, not checkpointed, its id free again; replay agrees', async () => {
    const w = memoryWorld();
    const store = await w.open({ checkpointEvery: 1 });
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    store.createEndpoint({ idx: 1, mac: '02:00:00:00:00:02' });
    await store.hotAttach('ep0');
    await store.hotAttach('ep1');
    const d = await store.hotDetach('ep0');
    expect(d.state).toBe('detached'); // the command still reports where it ended
    expect(store.list().map((v) => v.id)).toEqual(['ep1']);
    expect(() => store.get('ep0')).toThrow(UnknownEndpointError);
    const cp = MemoryLogStore.open(w.medium, { readOnly: true }).readCheckpoint()!;
    expect(Object.keys(cp.endpoints)).toEqual(['ep1']);
    expect(cp.retired).toBe(1);
    // the same slot again: the id is reused, the old history stays in the log
    expect(store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:03' }).id).toBe('ep0');
    await store.hotAttach('ep0');
    await store.close();
    const creates = MemoryLogStore.open(w.medium, { readOnly: true }).read().records.filter((r) => r.record.k === 'create' && r.record.ep === 'ep0');
    expect(creates).toHaveLength(2);
    for (const verify of [false, true]) {
      const again = await Tapstore.open({ log: MemoryLogStore.open(w.medium, { readOnly: true }), adapters: { netlink: null as never, hypervisor: null as never }, recover: false, verify });
      expect(again.list().map((v) => [v.id, v.state, v.mac])).toEqual([
        ['ep1', 'hotAttached', '02:00:00:00:00:02'],
        ['ep0', 'hotAttached', '02:00:00:00:00:03'],
      ]);
      expect(again.retired).toBe(1);
    }
  });

  it('counts every retirement of a reused id in the replayed tail (fast replay skips the earlier lives)', async () => {
    const w = memoryWorld();
    const store = await w.open();
    for (let i = 0; i < 3; i++) {
      store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
      await store.hotAttach('ep0');
      await store.hotDetach('ep0');
    }
    expect(store.retired).toBe(3);
    await store.close();
    for (const verify of [false, true]) {
      const again = await Tapstore.open({ log: MemoryLogStore.open(w.medium, { readOnly: true }), adapters: { netlink: null as never, hypervisor: null as never }, recover: false, verify });
      expect(again.retired).toBe(3);
      expect(again.list()).toEqual([]);
    }
  });

  it('an endpoint detached right before its snapshot record (crash) is retired when the store reopens', async () => {
    const w = memoryWorld();
    let arm = false;
    const store = await w.open({ hook: (r) => (arm && r.k === 'snapshot' ? 'crash-before' : 'ok') });
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    await store.hotAttach('ep0');
    arm = true;
    await expect(store.hotDetach('ep0')).rejects.toThrow(/crash-before/);
    w.crash();
    const again = await w.open();
    expect(again.list()).toEqual([]);
    expect(again.retired).toBe(1);
    expect(again.recovery.endpoints).toEqual([]);
    await again.close();
  });

  it('rolls a failing hot-attach back in reverse and reports upstream\'s message', async () => {
    const w = memoryWorld();
    const store = await w.open({
      faults: (c) => (c.method === 'setMtu' ? { fail: new NetlinkError({ op: 'setMtu', netns: NETNS, errno: 'EINVAL', errnoNumber: 22 }) } : 'ok'),
    });
    store.createEndpoint({ idx: 1, mac: '02:00:00:00:00:02' });
    const err = await store.hotAttach('ep1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EndpointOperationError);
    expect((err as Error).message).toMatch(/^Could not set TAP MTU 1500: setMtu .*EINVAL/);
    expect((err as EndpointOperationError).state).toBe('created');
    expect(w.taps()).toEqual([]);
    expect(w.kernel.openFdCount()).toBe(0);
    await store.close();
  });

  it('refuses a command in the wrong state and logs nothing', async () => {
    const w = memoryWorld();
    const store = await w.open();
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    const before = w.medium.log.length;
    await expect(store.cleanup('ep0')).rejects.toBeInstanceOf(InvalidCommandError);
    expect(w.medium.log.length).toBe(before);
    await store.hotDetach('ep0');
    expect(w.medium.log.length).toBeGreaterThan(before); // the hot-detach was logged
    const after = w.medium.log.length;
    // detached: retired, so unknown from now on
    await expect(store.hotAttach('ep0')).rejects.toBeInstanceOf(UnknownEndpointError);
    expect(w.medium.log.length).toBe(after);
    await store.close();
  });
});

describe('a command on a busy endpoint', () => {
  it('is refused with EndpointBusyError while another runs, logs nothing, and the first completes', async () => {
    const w = memoryWorld();
    const store = await w.open();
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    const first = store.hotAttach('ep0');
    expect(store.get('ep0').status).toBe('busy');
    const logged = w.medium.log.length;
    const refused = store.hotDetach('ep0');
    // measured before yielding: the first command goes on appending its own records meanwhile
    expect(w.medium.log.length).toBe(logged); // the refused command wrote nothing
    const e = await refused.catch((err: unknown) => err);
    expect(e).toBeInstanceOf(EndpointBusyError);
    expect(e).toMatchObject({ code: 'ENDPOINT_BUSY', endpoint: 'ep0', message: 'endpoint ep0 is busy with another command' });
    expect((await first).state).toBe('hotAttached');
    expect(store.get('ep0').status).toBe('settled');
    await store.close();
  });
});
