/**
 * The hypervisor adapter contract suite. One suite, run against every {@link HypervisorAdapter}
 * implementation (the in-memory hypervisor model and the real QEMU/QMP adapter).
 *
 * Usage (in a `*.test.ts` file):
 * ```ts
 * hypervisorContract('qemu adapter', async () => ({ adapter, makeTap, kill, cleanup, vhostAvailable: false, slots: 2 }));
 * ```
 * Assertions are on error kinds and observable state, never on message text.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HypervisorError, type HypervisorAdapter, type HypervisorErrorKind, type NicSpec } from '../../src/adapters/hypervisor.js';

/** A tap and its queue fds, ready to hand to the hypervisor. */
export interface HarnessTap {
  tapName: string;
  fds: number[];
  /** Close our copies of the fds (idempotent). */
  closeFds(): Promise<void>;
}

/** What a contract run needs from an implementation under test. A fresh harness per test. */
export interface HypervisorHarness {
  adapter: HypervisorAdapter;
  /** Create a tap with `queues` queues and return its queue fds. Removed by {@link cleanup}. */
  makeTap(queues: number): Promise<HarnessTap>;
  /** Make the VMM die (real: SIGKILL the QEMU process the harness started). */
  kill(): Promise<void>;
  /** Remove everything the harness created (VMM, taps, fds, temp dirs). Always called. */
  cleanup(): Promise<void>;
  /** Whether vhost-net is available to the VMM. */
  vhostAvailable: boolean;
  /**
   * Optional: the number of hot-pluggable slots the VMM was started with. When given, the
   * suite fills them all and checks that the next hot-plug fails with `no-slot`.
   */
  slots?: number;
}

/** Await a rejection and check it is a {@link HypervisorError} of the expected kind. */
export async function expectHypervisorError(
  p: Promise<unknown>,
  kind: HypervisorErrorKind,
): Promise<HypervisorError> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected a HypervisorError of kind ${kind}`).toBeInstanceOf(HypervisorError);
  const e = caught as HypervisorError;
  expect(e.kind).toBe(kind);
  expect(typeof e.op).toBe('string');
  expect(e.op.length).toBeGreaterThan(0);
  expect(e.message.length).toBeGreaterThan(0);
  return e;
}

const PCI_PATH = /^[0-9a-f]{2}\/[0-9a-f]{2}$/;

/** A NIC spec for test number `i`. */
export function nicSpec(i: number, tapName: string, queues: number, over: Partial<NicSpec> = {}): NicSpec {
  const hex = (i & 0xff).toString(16).padStart(2, '0');
  return {
    netdevId: `network-${i}`,
    deviceId: `virtio-network-${i}`,
    mac: `02:00:00:00:01:${hex}`,
    queues,
    tapName,
    vhost: false,
    ...over,
  };
}

/** Declare the contract suite for one implementation. */
export function hypervisorContract(name: string, makeHarness: () => Promise<HypervisorHarness>): void {
  describe(name, () => {
    let h: HypervisorHarness;
    let a: HypervisorAdapter;
    let taps: HarnessTap[];

    beforeEach(async () => {
      h = await makeHarness();
      a = h.adapter;
      taps = [];
    });

    afterEach(async () => {
      try {
        for (const t of taps) await t.closeFds();
      } finally {
        await h.cleanup();
      }
    });

    async function tap(queues: number): Promise<HarnessTap> {
      const t = await h.makeTap(queues);
      taps.push(t);
      expect(t.fds).toHaveLength(queues);
      return t;
    }

    async function plug(i: number, queues: number, over: Partial<NicSpec> = {}): Promise<{ nic: NicSpec; pciPath: string }> {
      const t = await tap(queues);
      const nic = nicSpec(i, t.tapName, queues, over);
      const { pciPath } = await a.hotplug(nic, t.fds);
      // the caller closes its copies whatever the outcome; the VMM holds its own
      await t.closeFds();
      return { nic, pciPath };
    }

    it('is alive before anything happens; unknown ids probe absent', async () => {
      expect(await a.alive()).toBe(true);
      expect(await a.probeDevice('virtio-none')).toMatchObject({ present: false });
      expect(await a.probeNetdev('none')).toBe(false);
    });

    describe('hotplug', () => {
      it.each([1, 4])('hot-plugs a %i-queue NIC and reports its PCI path', async (queues) => {
        const { nic, pciPath } = await plug(0, queues);
        expect(pciPath).toMatch(PCI_PATH);
        const probe = await a.probeDevice(nic.deviceId);
        expect(probe.present).toBe(true);
        expect(probe.pciPath).toBe(pciPath);
        expect(probe.unplugPending ?? false).toBe(false);
        expect(await a.probeNetdev(nic.netdevId)).toBe(true);
      });

      it('the NIC stays after the caller closed its fd copies', async () => {
        const { nic } = await plug(0, 2);
        expect(taps[0]!.fds).toHaveLength(2);
        expect((await a.probeDevice(nic.deviceId)).present).toBe(true);
        expect(await a.probeNetdev(nic.netdevId)).toBe(true);
      });

      it('two NICs get different slots', async () => {
        const one = await plug(0, 1);
        const two = await plug(1, 2);
        expect(one.pciPath).toMatch(PCI_PATH);
        expect(two.pciPath).toMatch(PCI_PATH);
        expect(two.pciPath).not.toBe(one.pciPath);
        expect((await a.probeDevice(one.nic.deviceId)).pciPath).toBe(one.pciPath);
        expect((await a.probeDevice(two.nic.deviceId)).pciPath).toBe(two.pciPath);
      });

      it('a duplicate netdevId fails with command-failed and changes nothing', async () => {
        const first = await plug(0, 1);
        const t = await tap(1);
        const dup = nicSpec(1, t.tapName, 1, { netdevId: first.nic.netdevId });
        await expectHypervisorError(a.hotplug(dup, t.fds), 'command-failed');
        expect((await a.probeDevice(dup.deviceId)).present).toBe(false);
        const probe = await a.probeDevice(first.nic.deviceId);
        expect(probe.present).toBe(true);
        expect(probe.pciPath).toBe(first.pciPath);
        expect(await a.probeNetdev(first.nic.netdevId)).toBe(true);
      });

      it('a duplicate deviceId fails with command-failed and undoes its netdev_add', async () => {
        const first = await plug(0, 1);
        const t = await tap(1);
        const dup = nicSpec(1, t.tapName, 1, { deviceId: first.nic.deviceId });
        await expectHypervisorError(a.hotplug(dup, t.fds), 'command-failed');
        expect(await a.probeNetdev(dup.netdevId)).toBe(false);
        expect((await a.probeDevice(first.nic.deviceId)).pciPath).toBe(first.pciPath);
        expect(await a.probeNetdev(first.nic.netdevId)).toBe(true);
        // the failed attempt did not consume a slot for good: another NIC still plugs
        const next = await plug(2, 1);
        expect(next.pciPath).not.toBe(first.pciPath);
      });

      it('fds.length !== queues is rejected as invalid before anything is added', async () => {
        const t = await tap(2);
        const nic = nicSpec(0, t.tapName, 2);
        await expectHypervisorError(a.hotplug(nic, t.fds.slice(0, 1)), 'invalid');
        expect(await a.probeNetdev(nic.netdevId)).toBe(false);
        expect((await a.probeDevice(nic.deviceId)).present).toBe(false);
      });

      it('vhost without vhost-net available → vhost-unavailable, nothing added', async () => {
        const t = await tap(2);
        const nic = nicSpec(0, t.tapName, 2, { vhost: true });
        if (h.vhostAvailable) {
          const { pciPath } = await a.hotplug(nic, t.fds);
          expect(pciPath).toMatch(PCI_PATH);
          expect((await a.probeDevice(nic.deviceId)).present).toBe(true);
        } else {
          await expectHypervisorError(a.hotplug(nic, t.fds), 'vhost-unavailable');
          expect(await a.probeNetdev(nic.netdevId)).toBe(false);
          expect((await a.probeDevice(nic.deviceId)).present).toBe(false);
          expect(await a.alive()).toBe(true);
        }
      });

      it('when the hot-pluggable slots run out → no-slot, nothing added; a freed slot is reused', async () => {
        const slots = h.slots;
        if (slots === undefined) {
          // Nothing to exhaust deterministically: at least one NIC must plug.
          await plug(0, 1);
          return;
        }
        expect(slots).toBeGreaterThan(0);
        const plugged: { nic: NicSpec; pciPath: string }[] = [];
        for (let i = 0; i < slots; i++) plugged.push(await plug(i, 1));
        expect(new Set(plugged.map((p) => p.pciPath)).size).toBe(slots);
        const t = await tap(1);
        const extra = nicSpec(slots, t.tapName, 1);
        await expectHypervisorError(a.hotplug(extra, t.fds), 'no-slot');
        expect(await a.probeNetdev(extra.netdevId)).toBe(false);
        expect((await a.probeDevice(extra.deviceId)).present).toBe(false);

        const freed = plugged[0]!;
        await a.hotunplug(freed.nic);
        const again = await plug(slots + 1, 1);
        expect(again.pciPath).toBe(freed.pciPath);
      });
    });

    describe('hotunplug', () => {
      it.each([1, 4])('removes the device and the netdev (%i queue(s))', async (queues) => {
        const { nic } = await plug(0, queues);
        await a.hotunplug(nic);
        expect((await a.probeDevice(nic.deviceId)).present).toBe(false);
        expect(await a.probeNetdev(nic.netdevId)).toBe(false);
      });

      it('of something absent is a no-op', async () => {
        await a.hotunplug({ netdevId: 'network-none', deviceId: 'virtio-none' });
        const { nic } = await plug(0, 1);
        await a.hotunplug(nic);
        await a.hotunplug(nic);
        expect((await a.probeDevice(nic.deviceId)).present).toBe(false);
        expect(await a.alive()).toBe(true);
      });

      it('leaves other NICs alone, and the ids can be plugged again', async () => {
        const one = await plug(0, 1);
        const two = await plug(1, 1);
        await a.hotunplug(one.nic);
        expect((await a.probeDevice(two.nic.deviceId)).pciPath).toBe(two.pciPath);
        expect(await a.probeNetdev(two.nic.netdevId)).toBe(true);
        const t = await tap(1);
        const { pciPath } = await a.hotplug(one.nic, t.fds);
        expect(pciPath).toMatch(PCI_PATH);
        expect((await a.probeDevice(one.nic.deviceId)).present).toBe(true);
      });
    });

    describe('coldplug', () => {
      it.each([1, 2, 4])('builds -netdev/-device args for %i queue(s), with no VMM call', async (queues) => {
        const t = await tap(queues);
        const nic = nicSpec(0, t.tapName, queues);
        const { args, inheritFds } = await a.coldplug(nic, t.fds);
        expect(inheritFds).toHaveLength(queues);

        const ni = args.indexOf('-netdev');
        const di = args.indexOf('-device');
        expect(ni).toBeGreaterThanOrEqual(0);
        expect(di).toBeGreaterThanOrEqual(0);
        const netdev = args[ni + 1] ?? '';
        const device = args[di + 1] ?? '';

        expect(netdev.startsWith(`tap,id=${nic.netdevId},`)).toBe(true);
        const fdsMatch = /(?:^|,)fds=([0-9:]+)(?:,|$)/.exec(netdev);
        expect(fdsMatch, `fds= in ${netdev}`).not.toBeNull();
        const numbered = fdsMatch![1]!.split(':').map(Number);
        expect(numbered).toHaveLength(queues);
        expect(new Set(numbered).size).toBe(queues);
        for (const n of numbered) expect(n).toBeGreaterThanOrEqual(3);

        const params = device.split(',');
        expect(params[0]).toBe('driver=virtio-net-pci');
        expect(params).toContain(`netdev=${nic.netdevId}`);
        expect(params).toContain(`mac=${nic.mac}`);
        // upstream: mq=on,vectors=2N+2 whenever queues > 0 (also one queue)
        if (queues > 0) {
          expect(params).toContain('mq=on');
          expect(params).toContain(`vectors=${2 * queues + 2}`);
        }

        // no VMM call: nothing was added
        expect(await a.probeNetdev(nic.netdevId)).toBe(false);
        expect((await a.probeDevice(nic.deviceId)).present).toBe(false);
      });

      it('fds.length !== queues is invalid', async () => {
        const t = await tap(2);
        await expectHypervisorError(a.coldplug(nicSpec(0, t.tapName, 2), t.fds.slice(0, 1)), 'invalid');
      });
    });

    describe('when the VMM dies', () => {
      it('alive() is false, devices are gone, calls fail with disconnected', async () => {
        const { nic } = await plug(0, 1);
        await h.kill();
        expect(await a.alive()).toBe(false);
        expect((await a.probeDevice(nic.deviceId)).present).toBe(false);
        expect(await a.probeNetdev(nic.netdevId)).toBe(false);
        const t = await tap(1);
        await expectHypervisorError(a.hotplug(nicSpec(1, t.tapName, 1), t.fds), 'disconnected');
      });
    });
  });
}
