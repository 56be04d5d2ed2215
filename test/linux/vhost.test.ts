/**
 * vhost-net on the real kernel of this machine, where /dev/vhost-net is absent (a missing
 * prerequisite of the positive path, covered in memory by test/runtime/vhost.test.ts): the
 * adapter's openVhostFds fails with a typed ENOENT and leaves no fd open, and a store with vhost
 * on rolls a hot attach back with upstream's message, leaving no tap and no /dev/net/tun fd.
 */
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryHypervisor } from '../../src/adapters/memory/index.js';
import { NetlinkError } from '../../src/adapters/netlink.js';
import { LinuxNetlinkAdapter } from '../../src/linux/adapter.js';
import { MemoryLogMedium, MemoryLogStore } from '../../src/log/index.js';
import { Tapstore } from '../../src/runtime/tapstore.js';
import { makeNetns, requireRoot, tunFdCount, type TestNetns } from './fixture.js';

let ns: TestNetns | undefined;
const nl = new LinuxNetlinkAdapter();
afterEach(async () => {
  ns?.remove();
  ns = undefined;
});

describe('vhost-net on this kernel (/dev/vhost-net absent)', () => {
  it('the machine really has no /dev/vhost-net (else these tests would test nothing)', () => {
    expect(fs.existsSync('/dev/vhost-net')).toBe(false);
  });

  it('openVhostFds: NetlinkError ENOENT, no fd left open', async () => {
    const before = fs.readdirSync('/proc/self/fd').length;
    const e = await nl.openVhostFds(2).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(NetlinkError);
    expect(e).toMatchObject({ op: 'openVhostFds', errno: 'ENOENT' });
    expect(fs.readdirSync('/proc/self/fd').length).toBe(before);
  });

  it("a store with vhost on: hot attach fails with `Could not setup vhost fds %s : %s` and rolls back", async () => {
    requireRoot();
    ns = makeNetns();
    const store = await Tapstore.open({
      log: MemoryLogStore.create(new MemoryLogMedium(), { sandbox: { netnsPath: ns.path, netnsCreated: true, vcpus: 2, vhost: true } }),
      adapters: { netlink: nl, hypervisor: new MemoryHypervisor() },
    });
    const tunBefore = tunFdCount();
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    const e = await store.hotAttach('ep0').catch((x: unknown) => x);
    expect((e as Error).message).toMatch(/^Could not setup vhost fds eth0 : openVhostFds: ENOENT/);
    expect(store.get('ep0').state).toBe('created');
    expect(await nl.probeLink(ns.path, 'tap0_kata')).toBeNull();
    expect(tunFdCount()).toBe(tunBefore);
    expect(store.heldFds).toBe(0);
    await store.close();
  });
});
