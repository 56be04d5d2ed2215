/**
 * Recovery's decision for one interrupted effect, against worlds set up by hand in the in-memory
 * kernel and hypervisor: an attach step always becomes a failure carrying what the probes found
 * (so the machine's rollback removes exactly that); a teardown step is recorded done when its
 * postcondition holds and run again when it does not.
 */
import { describe, expect, it } from 'vitest';
import { MemoryHypervisor, MemoryKernel } from '../../src/adapters/memory/index.js';
import { SimulatedCrash, withFaults } from '../../src/adapters/faults.js';
import { NetlinkError } from '../../src/adapters/netlink.js';
import type { Adapters } from '../../src/runtime/effects.js';
import { beforeEffect, observeWorld, reconcile } from '../../src/runtime/recovery.js';
import { NOTHING, STEPS, initialContext, type EndpointContext, type PendingEffect, type Step } from '../../machines/index.js';

const NS = '/run/netns/rc';

function world(opts: { netns?: boolean } = {}) {
  const kernel = new MemoryKernel();
  if (opts.netns ?? true) {
    kernel.addNetns(NS);
    kernel.addDummyLink(NS, 'eth0', { mtu: 1400, mac: '02:aa:bb:cc:dd:01' });
  }
  const hypervisor = new MemoryHypervisor({ kernel, slots: 2 });
  const a: Adapters = { netlink: kernel, hypervisor };
  return { kernel, hypervisor, a };
}

const ctx = (patch: Partial<EndpointContext> = {}): EndpointContext => ({
  ...initialContext({ id: 'ep0', idx: 0, mac: '02:00:00:00:00:01', netnsPath: NS, netnsCreated: true, vcpus: 1 }),
  ...patch,
});

const effect = (phase: PendingEffect['phase'], step: Step, c: EndpointContext = ctx()): PendingEffect => ({
  id: `${phase}.${step}`,
  src: STEPS[step].src,
  input: STEPS[step].input(c),
  step,
  phase,
});

async function tapIn(w: ReturnType<typeof world>, up: boolean) {
  const t = await w.kernel.createTap({ netns: NS, name: 'tap0_kata', queues: 1 });
  await w.kernel.closeFds(t.fds);
  if (up) await w.kernel.setUp(NS, 'tap0_kata', true);
}

async function plugged(w: ReturnType<typeof world>) {
  const t = await w.kernel.createTap({ netns: NS, name: 'tap0_kata', queues: 1 });
  await w.hypervisor.hotplug({ netdevId: 'net-ep0', deviceId: 'virtio-net-ep0', mac: '02:00:00:00:00:01', queues: 1, tapName: 'tap0_kata', vhost: false }, t.fds);
  await w.kernel.closeFds(t.fds);
}

describe('observeWorld', () => {
  it('an empty world: nothing of ours', async () => {
    const w = world();
    expect(await observeWorld(ctx(), w.a)).toStrictEqual({ tap: false, up: false, tcTap: false, tcOrig: false, plugged: false });
  });

  it('a tap that is up, a tap that is down', async () => {
    const up = world();
    await tapIn(up, true);
    expect(await observeWorld(ctx(), up.a)).toMatchObject({ tap: true, up: true, plugged: false });
    expect(await observeWorld(ctx(), up.a)).not.toHaveProperty('tcTap');
    const down = world();
    await tapIn(down, false);
    expect(await observeWorld(ctx(), down.a)).toMatchObject({ tap: true, up: false });
  });

  it('the netns gone: everything in it went with it', async () => {
    const w = world({ netns: false });
    expect(await observeWorld(ctx(), w.a)).toStrictEqual({ tap: false, up: false, tcTap: false, tcOrig: false, netnsGone: true, plugged: false });
  });

  it('the own netns ("") is never probed for existence', async () => {
    const w = world();
    w.kernel.addDummyLink('', 'eth0');
    const c = ctx({ netnsPath: '' });
    const probed: unknown[] = [];
    const a: Adapters = { ...w.a, netlink: withFaults(w.kernel, 'netlink', (call) => (call.method === 'netnsExists' && probed.push(call.args[0]), 'ok')) };
    expect(await observeWorld(c, a)).toMatchObject({ tap: false, plugged: false });
    expect(await observeWorld(c, a)).not.toHaveProperty('netnsGone');
    expect(probed).toEqual([]);
  });

  it('a taken-over NIC (no device id): the VMM is never asked about a device "" (QEMU refuses an empty id), its netdev tells', async () => {
    const w = world();
    await plugged(w);
    // the QEMU adapter's checkId: a device id must be a QEMU id
    const refusing = withFaults(w.hypervisor, 'hypervisor', (call) =>
      call.method === 'probeDevice' && call.args[0] === '' ? { fail: new Error('probeDevice: deviceId must be a QEMU id, got ""') } : 'ok',
    );
    const a: Adapters = { ...w.a, hypervisor: refusing };
    expect(await observeWorld(ctx({ deviceId: '' }), a)).toMatchObject({ plugged: true });
    expect(await observeWorld(ctx({ deviceId: '', netdevId: 'br0_kata' }), a)).toMatchObject({ plugged: false });
  });

  it('plugged: the device or only its netdev; a dead VMM plugs nothing', async () => {
    const w = world();
    await plugged(w);
    expect(await observeWorld(ctx(), w.a)).toMatchObject({ plugged: true });
    // a taken-over NIC (no device id): its netdev tells
    expect(await observeWorld(ctx({ deviceId: '' }), w.a)).toMatchObject({ plugged: true });
    expect(await observeWorld(ctx({ deviceId: '', netdevId: 'br0_kata' }), w.a)).toMatchObject({ plugged: false });
    // the device without the netdev (e.g. a netdev id that is not ours)
    expect(await observeWorld(ctx({ netdevId: 'other' }), w.a)).toMatchObject({ plugged: true });
    w.hypervisor.kill();
    expect(await observeWorld(ctx(), w.a)).toMatchObject({ plugged: false, vmmGone: true });
  });

  describe("the original link's ingress qdisc: ours only once qdiscOrig added it", () => {
    const withQdisc = async () => {
      const w = world();
      await w.kernel.addIngressQdisc(NS, 'eth0');
      return w;
    };
    it('recorded in the progress: probed', async () => {
      const w = await withQdisc();
      expect(await observeWorld(ctx({ progress: { ...NOTHING, tcOrig: true } }), w.a)).toMatchObject({ tcOrig: true });
      const gone = world();
      expect(await observeWorld(ctx({ progress: { ...NOTHING, tcOrig: true } }), gone.a)).toMatchObject({ tcOrig: false });
    });
    it('an interrupted cold attach qdiscOrig whose intent found none before: probed', async () => {
      const w = await withQdisc();
      expect(await observeWorld(ctx({ op: 'attach' }), w.a, 'qdiscOrig', { origIngress: false })).toMatchObject({ tcOrig: true });
      // an intent from an older log (no pre): trusted to the probe
      expect(await observeWorld(ctx({ op: 'attach' }), w.a, 'qdiscOrig')).toMatchObject({ tcOrig: true });
    });
    it('someone else\'s (there before, or any other step, op or model): never taken for ours', async () => {
      const w = await withQdisc();
      expect(await observeWorld(ctx({ op: 'attach' }), w.a, 'qdiscOrig', { origIngress: true })).toMatchObject({ tcOrig: false });
      expect(await observeWorld(ctx({ op: 'attach' }), w.a, 'qdiscTap', { origIngress: false })).toMatchObject({ tcOrig: false });
      expect(await observeWorld(ctx({ op: 'hotAttach' }), w.a, 'qdiscOrig', { origIngress: false })).toMatchObject({ tcOrig: false });
      expect(await observeWorld(ctx({ op: 'attach', model: 'none' }), w.a, 'qdiscOrig', { origIngress: false })).toMatchObject({ tcOrig: false });
      expect(await observeWorld(ctx(), w.a)).toMatchObject({ tcOrig: false });
    });
    it('the original link gone: no qdisc', async () => {
      const w = world();
      await w.kernel.deleteLink(NS, 'eth0').catch(() => {});
      const c = ctx({ progress: { ...NOTHING, tcOrig: true }, name: 'eth9' });
      expect(await observeWorld(c, w.a)).toMatchObject({ tcOrig: false });
    });
  });
});

describe('beforeEffect', () => {
  it('only a cold attach qdiscOrig records whether the original link had an ingress qdisc', async () => {
    const w = world();
    const c = ctx({ op: 'attach' });
    expect(await beforeEffect(c, effect('attach', 'qdiscOrig', c), w.a)).toStrictEqual({ origIngress: false });
    await w.kernel.addIngressQdisc(NS, 'eth0');
    expect(await beforeEffect(c, effect('attach', 'qdiscOrig', c), w.a)).toStrictEqual({ origIngress: true });
    expect(await beforeEffect(c, effect('attach', 'qdiscTap', c), w.a)).toBeUndefined();
    expect(await beforeEffect(c, effect('teardown', 'removeTc', c), w.a)).toBeUndefined();
  });

  it('a failed probe counts as "there was one" (never remove what we are not sure we added); a crash is a crash', async () => {
    const w = world();
    const c = ctx({ op: 'attach', name: 'eth9' });
    expect(await beforeEffect(c, effect('attach', 'qdiscOrig', c), w.a)).toStrictEqual({ origIngress: true });
    const crash = new SimulatedCrash('before hasIngressQdisc');
    const a: Adapters = {
      netlink: Object.assign(Object.create(w.kernel) as MemoryKernel, {
        hasIngressQdisc: async () => {
          throw crash;
        },
      }),
      hypervisor: w.hypervisor,
    };
    await expect(beforeEffect(c, effect('attach', 'qdiscOrig', c), a)).rejects.toBe(crash);
  });
});

describe('reconcile', () => {
  describe('an interrupted attach step becomes a failure (the rollback follows)', () => {
    it('before it ran: no probe, nothing observed', async () => {
      const w = world();
      await tapIn(w, true);
      const r = await reconcile(ctx({ op: 'hotAttach' }), effect('hotAttach', 'setMtu'), false, w.a);
      expect(r).toStrictEqual({
        kind: 'event',
        event: { type: 'xstate.error.actor.hotAttach.setMtu', error: { name: 'Interrupted', message: 'interrupted by a crash before netlink.setMtu', observed: {} } },
        observed: { ran: false },
      });
    });

    it('after it may have run: what the probes found, without the netns/VMM flags in the progress', async () => {
      const w = world();
      await tapIn(w, true);
      const r = await reconcile(ctx({ op: 'hotAttach' }), effect('hotAttach', 'setUp'), true, w.a);
      expect(r).toStrictEqual({
        kind: 'event',
        event: {
          type: 'xstate.error.actor.hotAttach.setUp',
          error: { name: 'Interrupted', message: 'interrupted by a crash during netlink.setUp', observed: { tap: true, up: true, tcOrig: false, plugged: false } },
        },
        observed: { tap: true, up: true, tcOrig: false, plugged: false, ran: true },
      });
      const gone = world({ netns: false });
      const g = await reconcile(ctx({ op: 'hotAttach' }), effect('hotAttach', 'setUp'), true, gone.a);
      expect(g.kind === 'event' && g.event.error!.observed).toStrictEqual({ tap: false, up: false, tcTap: false, tcOrig: false, plugged: false });
      expect(g.observed).toMatchObject({ netnsGone: true, ran: true });
    });

    it('a hot plug that may have run is unplugged even when nothing is seen (queue fds passed with getfd), unless the VMM is gone', async () => {
      const w = world();
      const r = await reconcile(ctx({ op: 'hotAttach' }), effect('hotAttach', 'hotplug'), true, w.a);
      expect(r.kind === 'event' && r.event.error!.observed).toMatchObject({ plugged: true });
      expect(r.observed).toMatchObject({ plugged: false });
      w.hypervisor.kill();
      const dead = await reconcile(ctx({ op: 'hotAttach' }), effect('hotAttach', 'hotplug'), true, w.a);
      expect(dead.kind === 'event' && dead.event.error!.observed).toMatchObject({ plugged: false });
      // another step with nothing plugged: not plugged
      const other = await reconcile(ctx({ op: 'hotAttach' }), effect('hotAttach', 'setUp'), true, world().a);
      expect(other.kind === 'event' && other.event.error!.observed).toMatchObject({ plugged: false });
    });
  });

  describe('an interrupted teardown step is finished', () => {
    it('before it ran: run it', async () => {
      const w = world();
      expect(await reconcile(ctx(), effect('teardown', 'deleteTap'), false, w.a)).toStrictEqual({ kind: 'rerun', observed: { ran: false } });
    });

    it('unplug: run again while plugged; done when unplugged, or vmmGone when the VMM died', async () => {
      const w = world();
      await plugged(w);
      expect(await reconcile(ctx(), effect('teardown', 'unplug'), true, w.a)).toMatchObject({ kind: 'rerun', observed: { plugged: true, ran: true } });
      const clean = world();
      expect(await reconcile(ctx(), effect('teardown', 'unplug'), true, clean.a)).toMatchObject({ kind: 'event', event: { type: 'xstate.done.actor.teardown.unplug', output: {} } });
      clean.hypervisor.kill();
      expect(await reconcile(ctx(), effect('teardown', 'unplug'), true, clean.a)).toMatchObject({ kind: 'event', event: { output: { vmmGone: true } }, observed: { vmmGone: true } });
    });

    it('removeTc: run again while our qdisc is there, else done (absent)', async () => {
      const w = world();
      await w.kernel.addIngressQdisc(NS, 'eth0');
      const c = ctx({ progress: { ...NOTHING, tcOrig: true } });
      expect(await reconcile(c, effect('teardown', 'removeTc', c), true, w.a)).toMatchObject({ kind: 'rerun' });
      await w.kernel.deleteIngressQdisc(NS, 'eth0');
      expect(await reconcile(c, effect('teardown', 'removeTc', c), true, w.a)).toMatchObject({ kind: 'event', event: { type: 'xstate.done.actor.teardown.removeTc', output: { absent: true } } });
    });

    it('setDown: absent without a tap, run again while up, done once down', async () => {
      const none = world();
      expect(await reconcile(ctx(), effect('teardown', 'setDown'), true, none.a)).toMatchObject({ kind: 'event', event: { output: { absent: true } } });
      const up = world();
      await tapIn(up, true);
      expect(await reconcile(ctx(), effect('teardown', 'setDown'), true, up.a)).toMatchObject({ kind: 'rerun', observed: { tap: true, up: true } });
      const down = world();
      await tapIn(down, false);
      const r = await reconcile(ctx(), effect('teardown', 'setDown'), true, down.a);
      expect(r).toMatchObject({ kind: 'event', event: { type: 'xstate.done.actor.teardown.setDown' } });
      expect(r.kind === 'event' && r.event.output).toStrictEqual({});
    });

    it('deleteTap: run again while the tap exists, else done (absent)', async () => {
      const w = world();
      await tapIn(w, false);
      expect(await reconcile(ctx(), effect('teardown', 'deleteTap'), true, w.a)).toMatchObject({ kind: 'rerun', observed: { tap: true, ran: true } });
      await w.kernel.deleteLink(NS, 'tap0_kata');
      expect(await reconcile(ctx(), effect('teardown', 'deleteTap'), true, w.a)).toMatchObject({ kind: 'event', event: { type: 'xstate.done.actor.teardown.deleteTap', output: { absent: true } } });
    });

    it('lookupTap: always looked up again', async () => {
      const w = world();
      await tapIn(w, false);
      expect(await reconcile(ctx(), effect('teardown', 'lookupTap'), true, w.a)).toMatchObject({ kind: 'rerun', observed: { tap: true, ran: true } });
      expect(await reconcile(ctx(), effect('teardown', 'lookupTap'), true, world().a)).toMatchObject({ kind: 'rerun' });
    });
  });

  it('a probe failure is not swallowed', async () => {
    const w = world();
    const a: Adapters = {
      netlink: Object.assign(Object.create(w.kernel) as MemoryKernel, {
        probeLink: async () => {
          throw new NetlinkError({ op: 'probeLink', netns: NS, errno: 'EPERM', errnoNumber: 1 });
        },
      }),
      hypervisor: w.hypervisor,
    };
    await expect(reconcile(ctx(), effect('teardown', 'deleteTap'), true, a)).rejects.toMatchObject({ errno: 'EPERM' });
  });
});
