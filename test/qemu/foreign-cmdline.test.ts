/**
 * QEMU command lines other than ours (other runtimes' launchers): devices created without an id,
 * multifunction devices, ids with dots and dashes, a QMP monitor made with `-chardev socket` +
 * `-mon mode=control,pretty=on` (multi-line replies). Real QEMU, no guest, never KVM.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { NicSpec } from '../../src/adapters/hypervisor.js';
import { QemuHypervisorAdapter } from '../../src/qemu/adapter.js';
import { discoverControllers } from '../../src/qemu/topology.js';
import type { LaunchOptions, QemuInstance } from '../../src/qemu/launcher.js';
import { RealEnv } from './qemu-fixture.js';
import { tapDetails, uniqueName } from './tap-helper.js';

const env = new RealEnv();
const adapters: QemuHypervisorAdapter[] = [];
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(adapters.map((a) => a.close()));
  await env.teardown();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

let macN = 0;
function nic(tapName: string): NicSpec {
  const id = uniqueName('f', 12);
  return { netdevId: id, deviceId: `virtio-${id}`, mac: `02:00:00:00:61:${(macN++ % 256).toString(16).padStart(2, '0')}`, queues: 1, tapName, vhost: false };
}

async function start(launch: LaunchOptions, qmpPath?: (q: QemuInstance) => string): Promise<{ q: QemuInstance; a: QemuHypervisorAdapter }> {
  const q = await env.qemu({ topology: null, ...launch });
  const a = new QemuHypervisorAdapter({ qmpPath: qmpPath ? qmpPath(q) : q.qmpPath, unplugTimeoutMs: 3000 });
  adapters.push(a);
  return { q, a };
}

/** Hot plug a fresh tap; QEMU must hold the NIC with our MAC. */
async function plug(q: QemuInstance, a: QemuHypervisorAdapter): Promise<{ n: NicSpec; pciPath: string }> {
  const t = env.tap(1);
  const n = nic(t.tapName);
  try {
    const { pciPath } = await a.hotplug(n, t.fds);
    expect(await q.control.execute('qom-get', { path: `/machine/peripheral/${n.deviceId}`, property: 'mac' })).toBe(n.mac);
    return { n, pciPath };
  } finally {
    t.closeFds();
  }
}

/** The QOM paths of the virtio-net devices created without an id. */
async function anonNics(q: QemuInstance): Promise<string[]> {
  const list = (await q.control.execute('qom-list', { path: '/machine/peripheral-anon' })) as { name: string; type: string }[];
  return list.filter((p) => p.type.startsWith('child<virtio-net')).map((p) => `/machine/peripheral-anon/${p.name}`);
}

describe('QEMU command lines of other launchers', () => {
  it('devices without an id occupy bridge slots too (regression: device_add refused "slot 1 function 0 not available … id=(null)")', async () => {
    const { q, a } = await start({
      extraArgs: [
        '-device', 'pcie-root-port,id=rp.0-x,bus=pcie.0,chassis=2,addr=0x2',
        '-device', 'pci-bridge,id=b.r-1,bus=pcie.0,chassis_nr=7,addr=0x5,shpc=on',
        '-device', 'virtio-serial-pci,bus=b.r-1,addr=0x1', // no id: /machine/peripheral-anon
        '-device', 'virtio-rng-pci,bus=b.r-1,addr=0x2.0x1', // no id, function 1 of slot 2
        '-drive', 'if=none,id=d0,file=null-co://,format=raw',
        '-device', 'virtio-blk-pci,id=blk0,bus=b.r-1,addr=0x3,drive=d0',
      ],
    });
    const got = [];
    for (let i = 0; i < 3; i++) got.push(await plug(q, a));
    expect(got.map((g) => g.pciPath)).toEqual(['02/00', '05/04', '05/05']);
    for (const { n } of got) {
      await a.hotunplug(n);
      expect(await a.probeDevice(n.deviceId)).toEqual({ present: false });
    }
  });

  it('a device plugged without an id by someone else between our plugs: the retry asks QEMU and finds another slot', async () => {
    const { q, a } = await start({ extraArgs: ['-device', 'pci-bridge,id=br-9,bus=pcie.0,chassis_nr=3,addr=0x4,shpc=on'] });
    const first = await plug(q, a);
    expect(first.pciPath).toBe('04/01');
    // another plugger takes the slot we would pick next, anonymously
    await q.control.execute('device_add', { driver: 'virtio-rng-pci', bus: 'br-9', addr: '0x2' });
    const second = await plug(q, a);
    expect(second.pciPath).toBe('04/03');
    await a.hotunplug(second.n);
    await a.hotunplug(first.n);
    expect(await a.probeDevice(first.n.deviceId)).toEqual({ present: false });
  });

  it('a device plugged by someone else at function 1 of our next slot: the retry finds another slot (regression: "PCI: 2.0 indicates single function, but 2.1 is already populated", on every later hot plug too)', async () => {
    const { q, a } = await start({ extraArgs: ['-device', 'pci-bridge,id=br.mf,bus=pcie.0,chassis_nr=4,addr=0x4,shpc=on'] });
    const first = await plug(q, a);
    expect(first.pciPath).toBe('04/01');
    await q.control.execute('device_add', { driver: 'virtio-rng-pci', id: uniqueName('rng', 12), bus: 'br.mf', addr: '0x2.0x1' });
    const second = await plug(q, a);
    expect(second.pciPath).toBe('04/03');
    const third = await plug(q, a);
    expect(third.pciPath).toBe('04/04');
    for (const { n } of [first, second, third]) await a.hotunplug(n);
    expect(await a.probeDevice(third.n.deviceId)).toEqual({ present: false });
  });

  it('controllers behind a root port (libvirt\'s q35 layout: pcie-pci-bridge behind a root port; a pci-bridge behind one) and a pcie-pci-bridge on pcie.0: slots used, PCI paths of three parts (regression: NoSlotError "not on the root bus")', async () => {
    const { q, a } = await start({
      extraArgs: [
        '-device', 'pcie-root-port,id=pci.1,bus=pcie.0,chassis=1,addr=0x2',
        '-device', 'pcie-pci-bridge,id=pci.2,bus=pci.1,addr=0x0',
        '-device', 'pcie-root-port,id=pci.3,bus=pcie.0,chassis=3,addr=0x3',
        '-device', 'pci-bridge,id=pci.4,bus=pci.3,chassis_nr=4,addr=0x0,shpc=on',
        '-device', 'virtio-rng-pci,bus=pci.4,addr=0x1',
        '-device', 'pcie-pci-bridge,id=ppb-root,bus=pcie.0,addr=0x7',
      ],
      acpiHotplugOff: true,
    });
    const found = await discoverControllers(q.control);
    expect(found.map((c) => [c.id, c.type, [c.rootSlot, ...(c.via ?? [])].join('/'), c.slots.length, c.unusable])).toEqual([
      ['pci.1', 'pcie-root-port', '2', 1, undefined],
      ['pci.2', 'pcie-pci-bridge', '2/0', 31, undefined],
      ['pci.3', 'pcie-root-port', '3', 1, undefined],
      ['pci.4', 'pci-bridge', '3/0', 31, undefined],
      ['ppb-root', 'pcie-pci-bridge', '7', 31, undefined],
    ]);
    const got = [await plug(q, a), await plug(q, a)];
    expect(got.map((g) => g.pciPath)).toEqual(['02/00/01', '02/00/02']);
    for (const { n, pciPath } of got) expect(await a.probeDevice(n.deviceId)).toEqual({ present: true, pciPath });
    // fill pci.2 (31 slots), then pci.4 (slot 1 taken), then the bridge on pcie.0
    const more = [];
    for (let i = 0; i < 29 + 1; i++) more.push(await plug(q, a));
    expect(more[28]!.pciPath).toBe('02/00/1f');
    expect(more[29]!.pciPath).toBe('03/00/02');
    for (const { n } of [...got, ...more]) await a.hotunplug(n);
    expect(await a.probeDevice(got[0]!.n.deviceId)).toEqual({ present: false });
    expect((await plug(q, a)).pciPath).toBe('02/00/01');
  }, 60_000);

  it('a socket that is an HMP monitor (-mon without mode=control): a typed invalid error naming qmpPath, never "QEMU is gone" (regression: probes said absent, alive false)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-hmp-${process.pid}-`));
    dirs.push(dir);
    const sock = path.join(dir, 'hmp.sock');
    const { a } = await start(
      { extraArgs: ['-chardev', `socket,id=hmp0,path=${sock},server=on,wait=off`, '-mon', 'chardev=hmp0,mode=readline', '-device', 'pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=0x3'] },
      () => sock,
    );
    const want = { name: 'HypervisorError', kind: 'invalid', message: expect.stringMatching(/^probeDevice: qmpPath .*hmp\.sock is not a QMP monitor \(give QEMU -qmp .* or -mon chardev=ID,mode=control\): /) };
    await expect(a.probeDevice('virtio-x')).rejects.toMatchObject(want);
    await expect(a.probeNetdev('x')).rejects.toMatchObject({ kind: 'invalid' });
    await expect(a.alive()).rejects.toMatchObject({ kind: 'invalid' });
    const t = env.tap(1);
    await expect(a.hotplug(nic(t.tapName), t.fds)).rejects.toMatchObject({ kind: 'invalid', op: 'hotplug' });
    t.closeFds();
  });

  it('a slot taken by another plugger between our first ask and our device_add (fresh connection): retried once (regression: refused, no retry)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-other-${process.pid}-`));
    dirs.push(dir);
    const other = path.join(dir, 'other.sock');
    const q = await env.qemu({ topology: null, extraArgs: ['-qmp', `unix:${other},server=on,wait=off`, '-device', 'pci-bridge,id=br-r,bus=pcie.0,chassis_nr=2,addr=0x3,shpc=on'] });
    // another runtime's plugger, on its own monitor, run synchronously when our netdev_add is sent
    // (after we chose slot 1, before our device_add): deterministic
    const script = [
      'import json, socket, sys',
      's = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rwb")',
      'f.readline()',
      'for c in [{"execute": "qmp_capabilities"}, {"execute": "device_add", "arguments": {"driver": "virtio-rng-pci", "bus": "br-r", "addr": "0x1"}}]:',
      '    f.write((json.dumps(c) + "\\n").encode()); f.flush()',
      '    while True:',
      '        r = json.loads(f.readline())',
      '        if "event" not in r: break',
      '    if "error" in r: sys.exit(r["error"]["desc"])',
    ].join('\n');
    let fired = false;
    const a = new QemuHypervisorAdapter({
      qmpPath: q.qmpPath,
      unplugTimeoutMs: 3000,
      qmpFaults: (c) => {
        if (c.method === 'netdev_add' && !fired) {
          fired = true;
          const r = spawnSync('python3', ['-c', script, other], { encoding: 'utf8', timeout: 10_000 });
          if (r.status !== 0) throw new Error(`other plugger failed: ${r.stderr}`);
        }
        return 'ok';
      },
    });
    adapters.push(a);
    const { n, pciPath } = await plug(q, a);
    expect(fired).toBe(true);
    expect(pciPath).toBe('03/02');
    await a.hotunplug(n);
    expect(await a.probeDevice(n.deviceId)).toEqual({ present: false });
  });

  it('Kata\'s pci-bridge (shpc=off) while ACPI PCI hotplug is off, and a root port: hot plug moves on to the root port, then no-slot names the refusal (regression: every hot plug failed "Bus \'pci-bridge-0\' does not support hotplugging")', async () => {
    const { q, a } = await start({
      acpiHotplugOff: true,
      extraArgs: [
        '-device', 'pci-bridge,bus=pcie.0,id=pci-bridge-0,chassis_nr=1,shpc=off,addr=2,io-reserve=4k,mem-reserve=1m,pref64-reserve=1m',
        '-device', 'pcie-root-port,id=rp0,bus=pcie.0,chassis=2,addr=0x5',
      ],
    });
    const { n, pciPath } = await plug(q, a);
    expect(pciPath).toBe('05/00');
    const t = env.tap(1);
    const m = nic(t.tapName);
    const e = await a.hotplug(m, t.fds).catch((x: unknown) => x);
    t.closeFds();
    expect(e).toMatchObject({ name: 'NoSlotError', kind: 'no-slot' });
    expect((e as Error).message).toBe(
      'hotplug: no free hot-pluggable slot: found pci-bridge pci-bridge-0 at 02 (QEMU refused to hot plug into it: a pci-bridge needs shpc=on, or ACPI PCI hotplug on), pcie-root-port rp0 at 05 (1 of 1 slot(s) in use)',
    );
    expect(await a.probeNetdev(m.netdevId)).toBe(false);
    await a.hotunplug(n);
    expect((await plug(q, a)).pciPath).toBe('05/00');
  });

  it('a monitor another client holds: hot plug fails with a typed timeout that says why; the probe does not say absent', async () => {
    const q = await env.qemu({ topology: null, extraArgs: ['-device', 'pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=0x3'] });
    const holder = new QemuHypervisorAdapter({ qmpPath: q.qmpPath });
    adapters.push(holder);
    expect(await holder.alive()).toBe(true); // holds the only client slot of that monitor
    const late = new QemuHypervisorAdapter({ qmpPath: q.qmpPath, connectTimeoutMs: 300 });
    adapters.push(late);
    const want = { kind: 'timeout', message: expect.stringContaining('no greeting within 300 ms (QEMU serves one client per monitor: is another one connected?)') };
    await expect(late.probeDevice('virtio-x')).rejects.toMatchObject(want);
    const t = env.tap(1);
    await expect(late.hotplug(nic(t.tapName), t.fds)).rejects.toMatchObject(want);
    t.closeFds();
  });

  it('takeover of a NIC another tool hot plugged without an id (/machine/peripheral-anon): found by its MAC, unplugged by its QOM path (regression: not found, its netdev deleted, the NIC left in QEMU)', async () => {
    const { q, a } = await start({ acpiHotplugOff: true, extraArgs: ['-device', 'pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=0x3'] });
    const t = env.tap(1);
    const mac = '02:00:00:00:62:01';
    // another tool's hot plug, upstream's netdev name, no device id
    await q.control.execute('getfd', { fdname: 'x0' }, { fds: [t.fds[0]!] });
    t.closeFds();
    await q.control.execute('netdev_add', { type: 'tap', id: 'br3_kata', fds: 'x0' });
    await q.control.execute('device_add', { driver: 'virtio-net-pci', romfile: '', bus: 'rp0', addr: '0x0', mac, netdev: 'br3_kata' });
    expect(await anonNics(q)).toHaveLength(1);
    expect(tapDetails(env.netnsName, t.tapName)).not.toContain('NO-CARRIER');
    await a.hotunplug({ netdevId: 'br3_kata', deviceId: '', mac: mac.toUpperCase(), queues: 1 });
    expect(await anonNics(q)).toEqual([]);
    expect(await a.probeNetdev('br3_kata')).toBe(false);
    expect(tapDetails(env.netnsName, t.tapName)).toContain('NO-CARRIER'); // QEMU let go of the tap
    // the slot is free again for our own hot plug
    expect((await plug(q, a)).pciPath).toBe('03/00');
  });

  it('takeover of a NIC a foreign command line created without an id, on another netdev (upstream\'s cold plug: -device virtio-net-pci,netdev=network-0,mac=…): found and refused by the cross-check, left in place (regression: not found, the endpoint said detached)', async () => {
    const t = env.tap(1);
    const mac = '02:00:00:00:62:02';
    const { q, a } = await start({
      acpiHotplugOff: true,
      inheritFds: t.fds,
      extraArgs: ['-device', 'pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=0x3', '-netdev', 'tap,id=network-0,fds=3', '-device', `virtio-net-pci,netdev=network-0,mac=${mac},bus=rp0,addr=0x0,romfile=`],
    });
    t.closeFds();
    const [path] = await anonNics(q);
    expect(path).toMatch(/^\/machine\/peripheral-anon\/device\[\d+\]$/);
    await expect(a.hotunplug({ netdevId: 'br0_kata', deviceId: '', mac, queues: 1 })).rejects.toMatchObject({
      name: 'HypervisorError',
      kind: 'invalid',
      message: `hotunplug: the NIC with MAC ${mac} cannot be taken over: device ${path} is backed by netdev network-0, not br0_kata`,
    });
    expect(await anonNics(q)).toEqual([path]);
    expect(await a.probeNetdev('network-0')).toBe(true);
  });

  it('QMP over -chardev socket + -mon mode=control,pretty=on (multi-line replies): hot plug and unplug work', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-mon-${process.pid}-`));
    dirs.push(dir);
    const sock = path.join(dir, 'mon.sock');
    const { q, a } = await start(
      {
        acpiHotplugOff: true,
        extraArgs: [
          '-name', 'sandbox-foreign,debug-threads=on',
          '-chardev', `socket,id=charmonitor.1,path=${sock},server=on,wait=off`,
          '-mon', 'chardev=charmonitor.1,id=monitor,mode=control,pretty=on',
          '-device', 'pcie-root-port,id=pci-bridge-0,bus=pcie.0,chassis=1,addr=0x3',
        ],
      },
      () => sock,
    );
    expect(await a.alive()).toBe(true);
    const { n, pciPath } = await plug(q, a);
    expect(pciPath).toBe('03/00');
    expect(await a.probeDevice(n.deviceId)).toEqual({ present: true, pciPath: '03/00' });
    expect(await a.probeNetdev(n.netdevId)).toBe(true);
    await a.hotunplug(n);
    expect(await a.probeDevice(n.deviceId)).toEqual({ present: false });
    expect(await a.probeNetdev(n.netdevId)).toBe(false);
    expect(tapDetails(env.netnsName, n.tapName)).toContain('NO-CARRIER');
  });
});
