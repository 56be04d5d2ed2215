/**
 * Hot-plug topology discovery against real QEMUs: whatever the ids, a missing port is no
 * problem, the `hotplugBuses` restriction, and the typed out-of-slots error naming what was found.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { HypervisorError, type NicSpec } from '../../src/adapters/hypervisor.js';
import { QemuHypervisorAdapter } from '../../src/qemu/adapter.js';
import type { LaunchOptions } from '../../src/qemu/launcher.js';
import { describeNoSlot, discoverControllers, NoSlotError, type FoundController } from '../../src/qemu/topology.js';
import { rootBusDevfns } from '../../src/qemu/device-census.js';
import { RealEnv } from './qemu-fixture.js';
import { uniqueName } from './tap-helper.js';

const env = new RealEnv();
const adapters: QemuHypervisorAdapter[] = [];
afterAll(async () => {
  await Promise.all(adapters.map((a) => a.close()));
  await env.teardown();
});

function nic(tapName: string): NicSpec {
  const id = uniqueName('n', 12);
  return { netdevId: id, deviceId: `virtio-${id}`, mac: '02:00:00:00:33:01', queues: 1, tapName, vhost: false };
}

const rootPort = (id: string, slot: number, extra = ''): string[] => ['-device', `pcie-root-port,id=${id},bus=pcie.0,chassis=${slot},addr=0x${slot.toString(16)}${extra}`];

async function start(launch: LaunchOptions, opts: { hotplugBuses?: string[] } = {}): Promise<QemuHypervisorAdapter> {
  const q = await env.qemu({ topology: null, ...launch });
  const a = new QemuHypervisorAdapter({ qmpPath: q.qmpPath, unplugTimeoutMs: 3000, ...opts });
  adapters.push(a);
  return a;
}

async function plug(a: QemuHypervisorAdapter): Promise<{ n: NicSpec; pciPath: string }> {
  const t = env.tap(1);
  const n = nic(t.tapName);
  try {
    return { n, pciPath: (await a.hotplug(n, t.fds)).pciPath };
  } finally {
    t.closeFds();
  }
}

async function noSlot(a: QemuHypervisorAdapter): Promise<NoSlotError> {
  const t = env.tap(1);
  const n = nic(t.tapName);
  const e = await a.hotplug(n, t.fds).then(
    () => undefined,
    (x: unknown) => x,
  );
  t.closeFds();
  expect(e).toBeInstanceOf(NoSlotError);
  expect(e).toBeInstanceOf(HypervisorError);
  expect(e).toMatchObject({ name: 'NoSlotError', kind: 'no-slot', op: 'hotplug' });
  expect(await a.probeDevice(n.deviceId)).toEqual({ present: false });
  expect(await a.probeNetdev(n.netdevId)).toBe(false);
  return e as NoSlotError;
}

describe('hot-plug topology discovered from QEMU', () => {
  it('ports rp1 and rp2 (no rp0): plugs into rp1, then rp2 (regression: "Bus \'rp0\' not found")', async () => {
    const a = await start({ extraArgs: [...rootPort('rp1', 4), ...rootPort('rp2', 5)] });
    expect((await plug(a)).pciPath).toBe('04/00');
    expect((await plug(a)).pciPath).toBe('05/00');
    const e = await noSlot(a);
    expect(e.found.map((c) => [c.id, c.type, c.rootSlot])).toEqual([
      ['rp1', 'pcie-root-port', 4],
      ['rp2', 'pcie-root-port', 5],
    ]);
    expect(e.message).toBe('hotplug: no free hot-pluggable slot: found pcie-root-port rp1 at 04 (1 of 1 slot(s) in use), pcie-root-port rp2 at 05 (1 of 1 slot(s) in use)');
  });

  it('no root port and no bridge: NoSlotError says so and what QEMU needs', async () => {
    const a = await start({});
    const e = await noSlot(a);
    expect(e.found).toEqual([]);
    expect(e.hotplugBuses).toBeNull();
    expect(e.message).toMatch(/^hotplug: no hot-pluggable slot: QEMU has no pcie-root-port, pci-bridge or pcie-pci-bridge .*-device pcie-root-port,id=rp0.* on q35, or -device pci-bridge,id=br0,bus=pci.0,.* on -machine pc\)$/);
  });

  it('lists unusable controllers: hotplug=off (learnt from QEMU refusing the device_add), one without an id (named by its QOM path), root ports behind a PCI expander bridge', async () => {
    const a = await start({
      extraArgs: [
        ...rootPort('fixed', 6, ',hotplug=off'),
        '-device', 'pcie-root-port,bus=pcie.0,chassis=9,addr=0x9',
        '-device', 'pxb-pcie,id=pxb1,bus_nr=32,bus=pcie.0,addr=0xa',
        '-device', 'pcie-root-port,id=rpx,bus=pxb1,chassis=10,addr=0x0',
      ],
    });
    const e = await noSlot(a);
    expect(e.found).toEqual([
      { id: 'rpx', type: 'pcie-root-port', rootSlot: -1, parentBus: expect.stringMatching(/^\/machine\/unattached\/device\[\d+\]\/pxb1$/), unusable: 'behind PCI expander bridge pxb-pcie pxb1: its own PCI root bus, which a PCI path (slots from the root bus) cannot name', slots: [] },
      { id: 'fixed', type: 'pcie-root-port', rootSlot: 6, parentBus: '/machine/q35/pcie.0', unusable: 'hotplug=off', slots: [] },
      {
        id: '/machine/peripheral-anon/device[0]',
        type: 'pcie-root-port',
        rootSlot: 9,
        parentBus: '/machine/q35/pcie.0',
        unusable: 'created without an id: QEMU names its bus itself (pcie.N or pci.N, the first one like the root bus) and device_add bus= takes a bus name, not a QOM path; give it an id',
        slots: [],
      },
    ]);
    expect(e.message).toContain('pcie-root-port fixed at 06 (hotplug=off)');
    expect(e.message).toContain('pcie-root-port /machine/peripheral-anon/device[0] at 09 (created without an id: ');
    expect(e.message).toContain('pcie-root-port rpx (behind PCI expander bridge pxb-pcie pxb1: ');
  });

  it('why an id-less controller is not used: QEMU 7.2 takes no QOM path for device_add bus=, and names the first id-less root port\'s bus pcie.0 like the root bus', async () => {
    const q = await env.qemu({ topology: null, extraArgs: ['-device', 'pcie-root-port,bus=pcie.0,chassis=1,addr=0x3'] });
    const list = (await q.control.execute('qom-list', { path: '/machine/peripheral-anon/device[0]' })) as { name: string; type: string }[];
    expect(list.filter((p) => p.type === 'child<PCIE>').map((p) => p.name)).toEqual(['pcie.0']);
    const add = (bus: string) => q.control.execute('device_add', { driver: 'virtio-rng-pci', bus, addr: '0x0' }).then(() => 'added', (x: Error) => x.message);
    expect(await add('/machine/peripheral-anon/device[0]/pcie.0')).toMatch(/DeviceNotFound: Device 'machine' not found/);
    expect(await add('pcie.0')).toMatch(/Bus 'pcie.0' does not support hotplugging/); // the root bus, not the port's
  });

  it('hotplugBuses restricts the choice, in any order; an unknown id is named', async () => {
    const a = await start({ extraArgs: [...rootPort('a', 3), ...rootPort('b', 4), ...rootPort('c', 5)] }, { hotplugBuses: ['c', 'zz'] });
    expect((await plug(a)).pciPath).toBe('05/00');
    const e = await noSlot(a);
    expect(e.hotplugBuses).toEqual(['c', 'zz']);
    expect(e.message).toContain('pcie-root-port a at 03 (0 of 1 slot(s) in use, not allowed)');
    expect(e.message).toContain('pcie-root-port c at 05 (1 of 1 slot(s) in use)');
    expect(e.message).toContain('restricted to hotplug bus(es) c,zz (zz: no such root port or bridge)');
  });

  it('i440fx with a pci-bridge and a bridge-less root: slots 1..31 of the bridge', async () => {
    const a = await start({ machine: 'pc', extraArgs: ['-device', 'pci-bridge,id=brA,bus=pci.0,chassis_nr=1,addr=0x6,shpc=on'] });
    expect((await plug(a)).pciPath).toBe('06/01');
    const { n, pciPath } = await plug(a);
    expect(pciPath).toBe('06/02');
    expect(await a.probeDevice(n.deviceId)).toEqual({ present: true, pciPath: '06/02' });
    await a.hotunplug(n);
    expect(await a.probeDevice(n.deviceId)).toEqual({ present: false });
    expect((await plug(a)).pciPath).toBe('06/02'); // freed, found free again by asking QEMU
  });

  it('discoverControllers: ordered by PCI path, bridges and root ports together, nested ones behind their parent', async () => {
    const q = await env.qemu({
      topology: null,
      extraArgs: [...rootPort('z', 3), '-device', 'pci-bridge,id=br,bus=pcie.0,chassis_nr=5,addr=0x2', '-device', 'pci-bridge,id=inner,bus=br,chassis_nr=6,addr=0x3'],
    });
    const found = await discoverControllers(q.control);
    expect(found.map((c) => [c.id, c.rootSlot, c.via, c.slots.length, c.unusable])).toEqual([
      ['br', 2, undefined, 31, undefined],
      ['inner', 2, [3], 31, undefined],
      ['z', 3, undefined, 1, undefined],
    ]);
    expect(found[1]!.slots[0]).toEqual({ bus: 'inner', addr: 1, bridgeAddr: 2, via: [3] });
  });

  it('a guest whose firmware ran (query-pci then also lists what is behind the bridges): the same controllers, slots and PCI paths as under -S', async () => {
    const q = await env.qemu({
      topology: null,
      extraArgs: [...rootPort('rp0', 3), ...rootPort('rp1', 4), '-device', 'pcie-pci-bridge,id=ppb,bus=rp1,addr=0x0', '-device', 'virtio-rng-pci,id=rng1,bus=ppb,addr=0x1'],
    });
    const before = await discoverControllers(q.control);
    await q.control.execute('cont');
    // SeaBIOS numbers the bridges' secondary buses: query-pci now nests the devices behind them
    const nested = async () => {
      const pci = (await q.control.execute('query-pci')) as { bus: number; devices: { qdev_id: string; pci_bridge?: { devices?: unknown[] } }[] }[];
      return pci.find((b) => b.bus === 0)?.devices.find((d) => d.qdev_id === 'rp1')?.pci_bridge?.devices?.length ?? 0;
    };
    for (let t = Date.now(); (await nested()) === 0; ) {
      if (Date.now() - t > 20_000) throw new Error('the firmware did not number the bridges within 20 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await discoverControllers(q.control)).toEqual(before);
    expect(before.map((c) => [c.id, c.rootSlot, c.via, c.slots.length])).toEqual([
      ['rp0', 3, undefined, 1],
      ['rp1', 4, undefined, 1],
      ['ppb', 4, [0], 31],
    ]);
    const a = new QemuHypervisorAdapter({ qmpPath: q.qmpPath, unplugTimeoutMs: 3000 });
    adapters.push(a);
    // rp1 holds the bridge, the bridge's slot 1 the rng
    expect((await plug(a)).pciPath).toBe('03/00');
    expect((await plug(a)).pciPath).toBe('04/00/02');
  });

  it('bad hotplugBuses are invalid at construction', () => {
    for (const bad of [[], ['a,b'], [''], 'rp0'] as unknown[]) {
      expect(() => new QemuHypervisorAdapter({ qmpPath: '/x', hotplugBuses: bad as string[] })).toThrow(expect.objectContaining({ kind: 'invalid', message: expect.stringContaining('hotplugBuses') }));
    }
  });
});

describe('rootBusDevfns (pure): query-pci read for the root bus only', () => {
  const dev = (qdev_id: string, slot: number, fn = 0, pci_bridge?: unknown) => ({ qdev_id, slot, function: fn, ...(pci_bridge ? { pci_bridge } : {}) });
  it('devices with an id on bus 0, by devfn; nothing behind bridges, nothing of other root buses (pxb)', () => {
    const behind = { bus: { number: 1, secondary: 1 }, devices: [dev('nic', 0)] };
    const m = rootBusDevfns([{ bus: 32, devices: [dev('rpx', 0)] }, { bus: 0, devices: [dev('', 0), dev('rp0', 3, 0, behind), dev('rp1', 3, 1), dev('', 31, 2)] }]);
    expect([...m]).toEqual([['rp0', 24], ['rp1', 25]]);
  });
  it('no answer, or two bus-0 entries: nothing (every placement is then asked)', () => {
    expect(rootBusDevfns(undefined).size).toBe(0);
    expect(rootBusDevfns([{ bus: 0, devices: [dev('a', 1)] }, { bus: 0, devices: [dev('b', 2)] }]).size).toBe(0);
    expect(rootBusDevfns([{ bus: 0, devices: [{ qdev_id: 'x', slot: '1', function: 0 }] }]).size).toBe(0);
  });
});

describe('describeNoSlot (pure)', () => {
  const port = (id: string, slot: number): FoundController => ({ id, type: 'pcie-root-port', rootSlot: slot, parentBus: '/machine/q35/pcie.0', slots: [{ bus: id, addr: 0, bridgeAddr: slot }] });
  it('counts used slots per controller', () => {
    expect(describeNoSlot([port('p', 16)], new Set(['p:0']))).toBe('no free hot-pluggable slot: found pcie-root-port p at 10 (1 of 1 slot(s) in use)');
  });
  it('nothing found, restricted', () => {
    expect(describeNoSlot([], new Set(), ['x'])).toMatch(/no hot-pluggable slot: .*; restricted to hotplug bus\(es\) x \(x: no such root port or bridge\)$/);
  });
});
