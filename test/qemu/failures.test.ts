import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HypervisorError, type NicSpec } from '../../src/adapters/hypervisor.js';
import { QemuHypervisorAdapter } from '../../src/qemu/adapter.js';
import { rootPortTopology, shpcBridgeTopology } from '../../src/qemu/topology.js';
import { RealEnv } from './qemu-fixture.js';
import { openFdCount, queueCounts, tapDetails, uniqueName } from './tap-helper.js';

let env: RealEnv | undefined;
const adapters: QemuHypervisorAdapter[] = [];

function newEnv(): RealEnv {
  env = new RealEnv();
  return env;
}

function track(a: QemuHypervisorAdapter): QemuHypervisorAdapter {
  adapters.push(a);
  return a;
}

afterEach(async () => {
  for (const a of adapters.splice(0)) await a.close();
  await env?.teardown();
  env = undefined;
});

function nic(tapName: string, queues: number): NicSpec {
  const id = uniqueName('n', 12);
  return { netdevId: id, deviceId: `virtio-${id}`, mac: '02:11:22:33:44:55', queues, tapName, vhost: false };
}

describe('stuck unplug (q35 with ACPI PCI hotplug on: device_del never completes without a guest)', () => {
  it('reports unplug-stuck within its timeout, deletes the netdev, and remembers the pending unplug', async () => {
    const e = newEnv();
    const q = await e.qemu({ acpiHotplugOff: false });
    const a = track(new QemuHypervisorAdapter({ qmpPath: q.qmpPath, unplugTimeoutMs: 300 }));
    const t = e.tap(2);
    const n = nic(t.tapName, 2);
    await a.hotplug(n, t.fds);
    t.closeFds();
    const t0 = performance.now();
    const err = await a.hotunplug(n).catch((x: unknown) => x);
    const took = performance.now() - t0;
    expect(err).toBeInstanceOf(HypervisorError);
    expect(err).toMatchObject({ kind: 'unplug-stuck', message: expect.stringMatching(/did not arrive within 300 ms \(the guest has not released it: with ACPI PCI hotplug on, QEMU's default, removal waits for the guest OS\)/) });
    expect(took).toBeLessThan(2000); // bounded, never an endless wait
    expect(await a.probeNetdev(n.netdevId)).toBe(false);
    // The tap is released although the NIC lingers.
    expect(queueCounts(tapDetails(e.netnsName, t.tapName))).toEqual({ numqueues: 0, numdisabled: 0 });
    expect(await a.probeDevice(n.deviceId)).toMatchObject({ present: true, unplugPending: true });
    // A second attempt: QEMU answers "already in the process of unplug" → stuck at once.
    const t1 = performance.now();
    await expect(a.hotunplug(n)).rejects.toMatchObject({ kind: 'unplug-stuck', message: expect.stringContaining('already in the process of unplug') });
    expect(performance.now() - t1).toBeLessThan(250);
    // system_reset executes pending removes: the device then goes away.
    await q.control.execute('system_reset');
    for (let i = 0; i < 100 && (await a.probeDevice(n.deviceId)).present; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await a.probeDevice(n.deviceId)).toEqual({ present: false });
  });

  it('SHPC bridge topology (ACPI off): hot plug at bridge slot 1 and unplug completes', async () => {
    const e = newEnv();
    const topo = shpcBridgeTopology({ count: 1, firstAddr: 5 });
    const q = await e.qemu({ topology: topo });
    const a = track(new QemuHypervisorAdapter({ qmpPath: q.qmpPath, slots: topo.slots, unplugTimeoutMs: 3000 }));
    const t = e.tap(1);
    const n = nic(t.tapName, 1);
    expect(await a.hotplug(n, t.fds)).toEqual({ pciPath: '05/01' });
    expect(await a.probeDevice(n.deviceId)).toEqual({ present: true, pciPath: '05/01' });
    await a.hotunplug(n);
    expect(await a.probeDevice(n.deviceId)).toEqual({ present: false });
  });
});

describe('QEMU killed mid-operation', () => {
  it('gives a typed disconnected error, alive() false, and leaks no fd', async () => {
    const before = openFdCount();
    const e = newEnv();
    const q = await e.qemu({ acpiHotplugOff: false, topology: rootPortTopology({ count: 2 }) });
    const a = new QemuHypervisorAdapter({ qmpPath: q.qmpPath, unplugTimeoutMs: 10_000 });
    try {
      const t = e.tap(1);
      const n = nic(t.tapName, 1);
      await a.hotplug(n, t.fds);
      expect(await a.alive()).toBe(true);
      const pending = a.hotunplug(n).catch((x: unknown) => x); // waits for an event that never comes
      await new Promise((r) => setTimeout(r, 100));
      await q.kill();
      const err = await pending;
      expect(err).toBeInstanceOf(HypervisorError);
      expect(err).toMatchObject({ kind: 'disconnected' });
      expect(await a.alive()).toBe(false);
      // A dead VMM has no devices: probes answer absent, changes fail.
      expect(await a.probeDevice(n.deviceId)).toEqual({ present: false });
      expect(await a.probeNetdev(n.netdevId)).toBe(false);
      await expect(a.hotunplug(n)).rejects.toMatchObject({ kind: 'disconnected' });
      await expect(a.hotplug(nic(t.tapName, 1), t.fds)).rejects.toMatchObject({ kind: 'disconnected' });
    } finally {
      await a.close();
      await e.teardown();
      env = undefined;
    }
    expect(openFdCount()).toBe(before);
  });
});

describe('vhost', () => {
  it('vhost requested without /dev/vhost-net → vhost-unavailable before any QMP traffic', async () => {
    expect(fs.existsSync('/dev/vhost-net')).toBe(false); // the premise on this machine
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-vhost-${process.pid}-`));
    const sock = path.join(dir, 'fake.sock');
    let connections = 0;
    const server = net.createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((r) => server.listen(sock, r));
    try {
      const n = { ...nic('tapx', 1), vhost: true };
      const [r, w] = [fs.openSync('/dev/null', 'r'), fs.openSync('/dev/null', 'r')];
      try {
        const dflt = new QemuHypervisorAdapter({ qmpPath: sock });
        const injected = new QemuHypervisorAdapter({ qmpPath: sock, vhostAvailable: () => false });
        for (const a of [dflt, injected]) {
          await expect(a.hotplug(n, [r])).rejects.toMatchObject({ kind: 'vhost-unavailable' });
          await expect(a.coldplug({ ...n, queues: 2 }, [r, w])).rejects.toMatchObject({ kind: 'vhost-unavailable' });
          await a.close();
        }
        const yes = new QemuHypervisorAdapter({ qmpPath: sock, vhostAvailable: () => true });
        const cold = await yes.coldplug(n, [r]);
        expect(cold.args[1]).toContain('vhost=on');
        await yes.close();
      } finally {
        fs.closeSync(r);
        fs.closeSync(w);
      }
      expect(connections).toBe(0);
    } finally {
      await new Promise((r) => server.close(r));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
