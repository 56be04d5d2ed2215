/** withFaults: fail / crash-before / crash-after, the call counter, and close never faulted. */
import { beforeEach, describe, expect, it } from 'vitest';
import { SimulatedCrash, withFaults, type FaultAction, type FaultCall } from '../../src/adapters/faults.js';
import { HypervisorError, type NicSpec } from '../../src/adapters/hypervisor.js';
import { MemoryHypervisor, MemoryKernel } from '../../src/adapters/memory/index.js';
import { NetlinkError } from '../../src/adapters/netlink.js';

const NS = '/run/netns/faults';

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('withFaults', () => {
  let k: MemoryKernel;
  let calls: FaultCall[];

  beforeEach(() => {
    k = new MemoryKernel();
    k.addNetns(NS);
    calls = [];
  });

  /** A recording plan that answers `action(call)`. */
  const plan = (action: (c: FaultCall) => FaultAction) => (c: FaultCall): FaultAction => {
    calls.push(c);
    return action(c);
  };

  it("'ok' calls through and returns the adapter's result; the plan sees adapter, method and args", async () => {
    const nl = withFaults(k, 'netlink', plan(() => 'ok'));
    const created = await nl.createTap({ netns: NS, name: 'tap0', queues: 2 });
    expect(created.fds).toHaveLength(2);
    expect((await nl.getLink(NS, 'tap0')).index).toBe(created.index);
    expect(calls.map((c) => [c.adapter, c.method, c.n])).toEqual([
      ['netlink', 'createTap', 0],
      ['netlink', 'getLink', 1],
    ]);
    expect(calls[1]!.args).toEqual([NS, 'tap0']);
  });

  it("'ok' lets the adapter's own errors through unchanged", async () => {
    const nl = withFaults(k, 'netlink', plan(() => 'ok'));
    const e = await caught(nl.getLink(NS, 'nope'));
    expect(e).toBeInstanceOf(NetlinkError);
    expect((e as NetlinkError).errno).toBe('ENODEV');
  });

  it('fail: throws the given error and does not call the adapter', async () => {
    const injected = new NetlinkError({ op: 'createTap', link: 'tap0', netns: NS, errno: 'EPERM', errnoNumber: 1 });
    const nl = withFaults(k, 'netlink', plan((c) => (c.method === 'createTap' ? { fail: injected } : 'ok')));
    expect(await caught(nl.createTap({ netns: NS, name: 'tap0', queues: 1 }))).toBe(injected);
    expect(await k.probeLink(NS, 'tap0')).toBeNull();
    expect(k.openFdCount()).toBe(0);
  });

  it('crash-before: SimulatedCrash and the world is unchanged', async () => {
    const before = k.snapshot();
    const nl = withFaults(k, 'netlink', plan(() => 'crash-before'));
    const e = await caught(nl.createTap({ netns: NS, name: 'tap0', queues: 2 }));
    expect(e).toBeInstanceOf(SimulatedCrash);
    expect(e).not.toBeInstanceOf(NetlinkError);
    expect((e as SimulatedCrash).where).toBe('before netlink.createTap');
    expect(k.snapshot()).toEqual(before);
  });

  it('crash-after: the effect happened, then SimulatedCrash instead of the result', async () => {
    const nl = withFaults(k, 'netlink', plan(() => 'crash-after'));
    const e = await caught(nl.createTap({ netns: NS, name: 'tap0', queues: 2 }));
    expect(e).toBeInstanceOf(SimulatedCrash);
    expect((e as SimulatedCrash).where).toBe('after netlink.createTap');
    // the tap exists and its fds are open, though the caller never learnt their numbers
    expect((await k.getLink(NS, 'tap0')).tun?.numQueues).toBe(2);
    expect(k.openFdCount('self')).toBe(2);
    // the process "dies": its fds close, the persistent tap stays behind as a leftover
    k.simulateProcessDeath();
    expect((await k.getLink(NS, 'tap0')).tun?.numQueues).toBe(0);
  });

  it('crash-after a failing call surfaces the failure (no effect to crash after)', async () => {
    const nl = withFaults(k, 'netlink', plan(() => 'crash-after'));
    const e = await caught(nl.deleteLink(NS, 'nope'));
    expect(e).toBeInstanceOf(NetlinkError);
  });

  it('n counts every call made through the wrapper, 0-based, including faulted ones', async () => {
    const nl = withFaults(
      k,
      'netlink',
      plan((c) => (c.n === 1 ? 'crash-before' : c.n === 2 ? { fail: new Error('x') } : 'ok')),
    );
    await nl.netnsExists(NS);
    await caught(nl.listLinks(NS));
    await caught(nl.listLinks(NS));
    await nl.listLinks(NS);
    expect(calls.map((c) => c.n)).toEqual([0, 1, 2, 3]);
    // a second wrapper has its own counter
    const other = withFaults(k, 'other', plan(() => 'ok'));
    await other.netnsExists(NS);
    expect(calls.at(-1)).toMatchObject({ adapter: 'other', n: 0 });
  });

  it('a plan can target the n-th call (crash at every point of a sequence)', async () => {
    const seen: string[] = [];
    for (let crashAt = 0; crashAt < 3; crashAt++) {
      const kk = new MemoryKernel();
      kk.addNetns(NS);
      const nl = withFaults(kk, 'netlink', (c) => (c.n === crashAt ? 'crash-after' : 'ok'));
      try {
        const { fds } = await nl.createTap({ netns: NS, name: 'tap0', queues: 1 });
        await nl.setMtu(NS, 'tap0', 1400);
        await nl.setUp(NS, 'tap0', true);
        await nl.closeFds(fds);
      } catch (e) {
        expect(e).toBeInstanceOf(SimulatedCrash);
        seen.push((e as SimulatedCrash).where);
      }
    }
    expect(seen).toEqual(['after netlink.createTap', 'after netlink.setMtu', 'after netlink.setUp']);
  });

  it('close is never faulted and never counted', async () => {
    const nl = withFaults(k, 'netlink', plan(() => 'crash-before'));
    await nl.close();
    expect(k.closeCount()).toBe(1);
    expect(calls).toEqual([]);
    await caught(nl.netnsExists(NS));
    expect(calls.map((c) => [c.method, c.n])).toEqual([['netnsExists', 0]]);
  });

  it('works for the hypervisor: crash-after hotplug leaves the NIC plugged', async () => {
    const hv = new MemoryHypervisor({ kernel: k, slots: 2 });
    const faulty = withFaults(hv, 'hypervisor', plan((c) => (c.method === 'hotplug' ? 'crash-after' : 'ok')));
    const { fds } = await k.createTap({ netns: NS, name: 'tap0', queues: 1 });
    const nic: NicSpec = { netdevId: 'n0', deviceId: 'virtio-n0', mac: '02:00:00:00:00:01', queues: 1, tapName: 'tap0', vhost: false };
    expect(await caught(faulty.hotplug(nic, fds))).toBeInstanceOf(SimulatedCrash);
    expect(await faulty.probeDevice('virtio-n0')).toMatchObject({ present: true, pciPath: '03/00' });
    // plain (non-function) properties pass through untouched
    expect(faulty.slots).toBe(2);
    const fail = withFaults(hv, 'hypervisor', () => ({
      fail: new HypervisorError({ kind: 'timeout', op: 'hotunplug', message: 'no answer' }),
    }));
    const e = await caught(fail.hotunplug(nic));
    expect((e as HypervisorError).kind).toBe('timeout');
    expect((await hv.probeDevice('virtio-n0')).present).toBe(true);
    await hv.close();
    await k.closeFds(fds);
  });
});
