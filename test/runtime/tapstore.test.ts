import { describe, expect, it } from 'vitest';
import { memoryWorld, NETNS } from '../support/memory-world.js';
import { EndpointBusyError, EndpointOperationError, InvalidCommandError } from '../../src/runtime/errors.js';
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
    expect(again.get('ep0').state).toBe('detached');
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
    await expect(store.hotDetach('ep0').then(() => store.hotAttach('ep0'))).rejects.toBeInstanceOf(InvalidCommandError);
    expect(w.medium.log.length).toBeGreaterThan(before); // the hot-detach was logged
    const after = w.medium.log.length;
    await expect(store.hotAttach('ep0')).rejects.toBeInstanceOf(InvalidCommandError);
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
    const e = await store.hotDetach('ep0').catch((err: unknown) => err);
    expect(e).toBeInstanceOf(EndpointBusyError);
    expect(e).toMatchObject({ code: 'ENDPOINT_BUSY', endpoint: 'ep0', message: 'endpoint ep0 is busy with another command' });
    expect(w.medium.log.length).toBe(logged); // the refused command wrote nothing
    expect((await first).state).toBe('hotAttached');
    expect(store.get('ep0').status).toBe('settled');
    await store.close();
  });
});
