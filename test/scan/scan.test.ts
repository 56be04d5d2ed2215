/**
 * The netns scan (upstream's endpoint discovery), on the in-memory kernel: every rule, upstream's
 * messages verbatim, idempotence, dry run. The same on the real kernel: test/linux/scan.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { planScan, scanNetns, tuntapModeRefusal } from '../../src/scan/scan.js';
import { memoryWorld, NETNS } from '../support/memory-world.js';

describe("upstream's tuntap mode messages (createEndpoint), verbatim", () => {
  it.each([
    [0, 'Network device mode not determined correctly. Mount sysfs in caller'],
    [1, 'tun networking device not yet supported'],
    [2, null],
    [3, 'tuntap network 3 mode unsupported'],
  ])('mode %i → %s', (mode, message) => {
    expect(tuntapModeRefusal(mode)).toBe(message);
  });
});

async function world() {
  const w = memoryWorld();
  // scan order (ifindex): lo 1, eth0 2 (dummy, from memoryWorld), then:
  w.kernel.addLink(NETNS, 'tapA', { tunMode: 'tap', mtu: 1400, mac: '02:00:00:00:0a:01' });
  w.kernel.addLink(NETNS, 'tun0', { tunMode: 'tun' });
  w.kernel.addLink(NETNS, 'veth0', { kind: 'veth' });
  w.kernel.addLink(NETNS, 'tunX', { tunMode: 'undetermined' });
  w.kernel.addLink(NETNS, 'tapB', { tunMode: 'tap', mac: '02:00:00:00:0b:01' });
  return w;
}

describe('scanNetns', () => {
  it('loopback skipped, TAP → TuntapEndpoint (idx in scan order, name, MAC, MTU), TUN/undetermined refused, others left alone', async () => {
    const w = await world();
    const store = await w.open();
    const r = await scanNetns(store, w.kernel);
    expect(r.entries.map((e) => [e.name, e.action, 'idx' in e ? e.idx : 'message' in e ? e.message : ''])).toEqual([
      ['lo', 'loopback', ''],
      ['eth0', 'other', ''],
      ['tapA', 'add', 1],
      ['tun0', 'refused', 'tun networking device not yet supported'],
      ['veth0', 'other', ''],
      ['tunX', 'refused', 'Network device mode not determined correctly. Mount sysfs in caller'],
      ['tapB', 'add', 3],
    ]);
    expect(store.list().map((v) => ({ id: v.id, idx: v.idx, name: v.name, tapName: v.tapName, hardAddr: v.hardAddr, mac: v.mac, mtu: v.mtu, state: v.state }))).toEqual([
      { id: 'ep1', idx: 1, name: 'tapA', tapName: 'tap1_kata', hardAddr: '02:00:00:00:0a:01', mac: '02:00:00:00:0a:01', mtu: 1400, state: 'created' },
      { id: 'ep3', idx: 3, name: 'tapB', tapName: 'tap3_kata', hardAddr: '02:00:00:00:0b:01', mac: '02:00:00:00:0b:01', mtu: 1500, state: 'created' },
    ]);
    await store.close();
  });

  it('idempotent: a second scan adds nothing, also after a hot-attach created tap<idx>_kata', async () => {
    const w = await world();
    const store = await w.open();
    await scanNetns(store, w.kernel);
    await store.hotAttach('ep1');
    const before = Buffer.from(w.medium.log);
    const again = await scanNetns(store, w.kernel);
    expect(again.added).toEqual([]);
    expect(again.entries.filter((e) => e.action === 'known').map((e) => e.name)).toEqual(['tapA', 'tapB']);
    expect(again.entries.find((e) => e.name === 'tap1_kata')).toMatchObject({ action: 'own-tap', id: 'ep1' });
    expect(w.medium.log.equals(before)).toBe(true);
    expect(store.list()).toHaveLength(2);
    await store.close();
  });

  it('--dry-run only reports', async () => {
    const w = await world();
    const store = await w.open();
    const before = Buffer.from(w.medium.log);
    const r = await scanNetns(store, w.kernel, { dryRun: true });
    expect(r.entries.filter((e) => e.action === 'add')).toHaveLength(2);
    expect(r.added).toEqual([]);
    expect(store.list()).toEqual([]);
    expect(w.medium.log.equals(before)).toBe(true);
    await store.close();
  });

  it('an idx used by another endpoint is refused for that link, not reused', () => {
    const links = [{ index: 2, name: 'tapA', mtu: 1500, mac: '02:00:00:00:00:01', flags: { up: false, lowerUp: false }, kind: 'tun', tun: { mode: 'tap' as const, multiQueue: false, persist: true, vnetHdr: false, numQueues: 0 } }];
    const plan = planScan(links, [{ id: 'mine', idx: 0, name: 'eth0', tapName: 'tap0_kata', state: 'created' }], (i) => `ep${i}`);
    expect(plan).toMatchObject([{ name: 'tapA', action: 'refused', message: 'idx 0 is already used by endpoint mine' }]);
  });
});

describe('scanNetns: what a JavaScript caller may pass', () => {
  it('a store that is not a Tapstore, or a netlink adapter without listLinks, is a StoreOptionError naming it (was: a TypeError)', async () => {
    const w = await world();
    const store = await w.open();
    await expect(scanNetns(null as never, w.kernel)).rejects.toMatchObject({ name: 'StoreOptionError', code: 'STORE_OPTION', field: 'store', rule: 'object' });
    await expect(scanNetns({ sandbox: { netnsPath: NETNS } } as never, w.kernel)).rejects.toMatchObject({ name: 'StoreOptionError', field: 'store' });
    for (const netlink of [null, {}, { listLinks: 5 }])
      await expect(scanNetns(store, netlink as never)).rejects.toMatchObject({ name: 'StoreOptionError', field: 'netlink', rule: 'methods' });
    expect(store.list()).toEqual([]);
    await store.close();
  });
});
