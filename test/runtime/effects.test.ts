/**
 * The effect executor, one effect at a time on the in-memory kernel and hypervisor: which adapter
 * call each `src` makes, what it returns to the machine, which fds it holds and releases, how a
 * teardown effect treats a gone object, and how errors become the log's plain failures.
 */
import { describe, expect, it } from 'vitest';
import { MemoryHypervisor, MemoryKernel } from '../../src/adapters/memory/index.js';
import { NetlinkError } from '../../src/adapters/netlink.js';
import { HypervisorError } from '../../src/adapters/hypervisor.js';
import { SimulatedCrash } from '../../src/adapters/faults.js';
import { FdTable } from '../../src/runtime/fd-table.js';
import { VhostSetupError, runEffect, toFailure, type Adapters } from '../../src/runtime/effects.js';
import { TapstateError } from '../../machines/index.js';

const NS = '/run/netns/fx';

function world(opts: { vhostNet?: boolean } = {}) {
  const kernel = new MemoryKernel({ vhostNet: opts.vhostNet ?? false });
  kernel.addNetns(NS);
  kernel.addDummyLink(NS, 'eth0', { mtu: 1400, mac: '02:aa:bb:cc:dd:01' });
  const hypervisor = new MemoryHypervisor({ kernel, slots: 2 });
  const a: Adapters = { netlink: kernel, hypervisor };
  const fds = new FdTable(kernel);
  const run = (src: Parameters<typeof runEffect>[1], input: unknown, teardown = false) => runEffect('ep0', src, input, a, fds, teardown);
  const link = (name: string) => kernel.links(NS).find((l) => l.name === name);
  return { kernel, hypervisor, fds, run, link };
}

const nic = { netdevId: 'net-ep0', deviceId: 'virtio-net-ep0', mac: '02:00:00:00:00:01', queues: 2, tapName: 'tap0_kata', vhost: false };

describe('runEffect', () => {
  it('createTap: creates the tap, holds one fd per queue, and reports the index and queue count', async () => {
    const w = world();
    const out = await w.run('netlink.createTap', { netns: NS, name: 'tap0_kata', queues: 2 });
    expect(out).toEqual({ index: w.link('tap0_kata')!.index, queues: 2 });
    expect(w.fds.get('ep0')).toHaveLength(2);
    expect(w.fds.getVhost('ep0')).toEqual([]);
    expect(w.kernel.openFdCount('self')).toBe(2);
  });

  it('createTap with vhost: one /dev/vhost-net fd per queue, held apart from the queue fds', async () => {
    const w = world({ vhostNet: true });
    await w.run('netlink.createTap', { netns: NS, name: 'tap0_kata', queues: 2, vhost: true });
    expect(w.fds.get('ep0')).toHaveLength(2);
    expect(w.fds.getVhost('ep0')).toHaveLength(2);
    expect(w.fds.getVhost('ep0').every((fd) => w.kernel.isVhostFd(fd))).toBe(true);
    expect(w.fds.count).toBe(4);
  });

  it('createTap with vhost but no /dev/vhost-net: VhostSetupError, the queue fds closed, the tap left for the rollback', async () => {
    const w = world({ vhostNet: false });
    const e = await w.run('netlink.createTap', { netns: NS, name: 'tap0_kata', queues: 2, vhost: true }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(VhostSetupError);
    expect(e).toBeInstanceOf(TapstateError);
    expect(e).toMatchObject({ code: 'VHOST_SETUP_FAILED', message: 'openVhostFds: open /dev/vhost-net: ENOENT' });
    expect((e as VhostSetupError).reason).toBeInstanceOf(NetlinkError);
    expect(w.fds.count).toBe(0);
    expect(w.kernel.openFdCount()).toBe(0);
    expect(w.link('tap0_kata')?.kind).toBe('tun');
  });

  it('createTap with vhost: a crash while opening the vhost fds is the crash (no failure journaled, no rollback started)', async () => {
    const w = world({ vhostNet: true });
    const crash = new SimulatedCrash('before netlink.openVhostFds');
    const a: Adapters = {
      netlink: Object.assign(Object.create(w.kernel) as MemoryKernel, {
        openVhostFds: async () => {
          throw crash;
        },
      }),
      hypervisor: w.hypervisor,
    };
    await expect(runEffect('ep0', 'netlink.createTap', { netns: NS, name: 'tap0_kata', queues: 2, vhost: true }, a, w.fds, false)).rejects.toBe(crash);
  });

  it('getLink returns the original link\'s index, MTU and MAC; getTap only the index of a tap', async () => {
    const w = world();
    expect(await w.run('netlink.getLink', { netns: NS, name: 'eth0' })).toEqual({ index: w.link('eth0')!.index, mtu: 1400, mac: '02:aa:bb:cc:dd:01' });
    await w.run('netlink.createTap', { netns: NS, name: 'tap0_kata', queues: 1 });
    expect(await w.run('netlink.getTap', { netns: NS, name: 'tap0_kata' }, true)).toEqual({ index: w.link('tap0_kata')!.index });
    // a link that is not a tap is never taken for ours, even in a teardown
    await expect(w.run('netlink.getTap', { netns: NS, name: 'eth0' }, true)).rejects.toMatchObject({ errno: 'EMEDIUMTYPE' });
  });

  it('setMtu, setUp (up and down), qdisc and redirect effects change the link as asked and return {}', async () => {
    const w = world();
    await w.run('netlink.createTap', { netns: NS, name: 'tap0_kata', queues: 1 });
    expect(await w.run('netlink.setMtu', { netns: NS, name: 'tap0_kata', mtu: 1400 })).toEqual({});
    expect(w.link('tap0_kata')!.mtu).toBe(1400);
    expect(await w.run('netlink.setUp', { netns: NS, name: 'tap0_kata', up: true })).toEqual({});
    expect(w.link('tap0_kata')!.flags.up).toBe(true);
    expect(await w.run('netlink.addIngressQdisc', { netns: NS, name: 'eth0' })).toEqual({});
    expect(await w.kernel.hasIngressQdisc(NS, 'eth0')).toBe(true);
    expect(await w.run('netlink.addRedirect', { netns: NS, from: 'eth0', to: 'tap0_kata' })).toEqual({});
    expect(await w.kernel.listRedirects(NS, 'eth0')).toEqual(['tap0_kata']);
    expect(await w.run('netlink.deleteIngressQdisc', { netns: NS, name: 'eth0' }, true)).toEqual({});
    expect(await w.kernel.hasIngressQdisc(NS, 'eth0')).toBe(false);
    expect(await w.run('netlink.setUp', { netns: NS, name: 'tap0_kata', up: false }, true)).toEqual({});
    expect(w.link('tap0_kata')!.flags.up).toBe(false);
  });

  it('deleteLink closes our queue fds first, then deletes the tap', async () => {
    const w = world();
    await w.run('netlink.createTap', { netns: NS, name: 'tap0_kata', queues: 2 });
    expect(await w.run('netlink.deleteLink', { netns: NS, name: 'tap0_kata' }, true)).toEqual({});
    expect(w.link('tap0_kata')).toBeUndefined();
    expect(w.fds.count).toBe(0);
    expect(w.kernel.openFdCount()).toBe(0);
  });

  it('hotplug hands the queue fds to the hypervisor and closes ours; the output is the PCI path', async () => {
    const w = world();
    await w.run('netlink.createTap', { netns: NS, name: 'tap0_kata', queues: 2 });
    const out = await w.run('hypervisor.hotplug', nic);
    expect(out).toEqual({ pciPath: expect.stringMatching(/^\w+\/\w+$/) });
    expect(w.hypervisor.netdevs()).toMatchObject([{ id: 'net-ep0', queues: 2 }]);
    expect(w.fds.count).toBe(0);
    expect(w.kernel.openFdCount('self')).toBe(0);
    expect(w.kernel.openFdCount('hypervisor')).toBe(2);
  });

  it('a failed hotplug closes our fds too', async () => {
    const w = world();
    await w.run('netlink.createTap', { netns: NS, name: 'tap0_kata', queues: 2 });
    w.hypervisor.kill();
    await expect(w.run('hypervisor.hotplug', nic)).rejects.toBeInstanceOf(HypervisorError);
    expect(w.fds.count).toBe(0);
    expect(w.kernel.openFdCount()).toBe(0);
  });

  it('coldplug returns only the VMM arguments and closes our fds', async () => {
    const w = world();
    await w.run('netlink.createTap', { netns: NS, name: 'tap0_kata', queues: 2 });
    const out = (await w.run('hypervisor.coldplug', nic)) as { args: string[] };
    expect(Object.keys(out)).toEqual(['args']);
    expect(out.args[0]).toBe('-netdev');
    expect(out.args[1]).toMatch(/^tap,id=net-ep0,fds=3:4$/);
    expect(w.fds.count).toBe(0);
  });

  it('hotunplug removes the device and netdev; a dead VMM counts as unplugged (vmmGone), a live failure does not', async () => {
    const w = world();
    await w.run('netlink.createTap', { netns: NS, name: 'tap0_kata', queues: 1 });
    await w.run('hypervisor.hotplug', { ...nic, queues: 1 });
    expect(await w.run('hypervisor.hotunplug', { netdevId: 'net-ep0', deviceId: 'virtio-net-ep0', queues: 1 }, true)).toEqual({});
    expect(w.hypervisor.devices()).toEqual([]);
    expect(w.hypervisor.netdevs()).toEqual([]);

    const dead = world();
    dead.hypervisor.kill();
    expect(await dead.run('hypervisor.hotunplug', { netdevId: 'net-ep0', deviceId: 'virtio-net-ep0', queues: 1 }, true)).toEqual({ vmmGone: true });

    const stuck = world();
    await stuck.run('netlink.createTap', { netns: NS, name: 'tap0_kata', queues: 1 });
    await stuck.run('hypervisor.hotplug', { ...nic, queues: 1 });
    stuck.hypervisor.stickNextUnplug();
    await expect(stuck.run('hypervisor.hotunplug', { netdevId: 'net-ep0', deviceId: 'virtio-net-ep0', queues: 1 }, true)).rejects.toMatchObject({ kind: 'unplug-stuck' });
  });

  it('a dead VMM counts as unplugged only when the unplug lost the connection: an answered refusal or a crash stands', async () => {
    const w = world();
    const failing = (e: Error): Adapters => ({
      netlink: w.kernel,
      hypervisor: Object.assign(Object.create(w.hypervisor) as MemoryHypervisor, {
        hotunplug: async () => {
          throw e;
        },
        alive: async () => false,
      }),
    });
    const unplug = (a: Adapters) => runEffect('ep0', 'hypervisor.hotunplug', { netdevId: 'n', deviceId: 'd', queues: 1 }, a, w.fds, true);
    expect(await unplug(failing(new HypervisorError({ kind: 'disconnected', op: 'device_del', message: 'socket closed' })))).toEqual({ vmmGone: true });
    // the VMM answered (it was alive then): its answer is the outcome, whatever alive() says later
    for (const kind of ['command-failed', 'timeout', 'unplug-stuck'] as const) {
      await expect(unplug(failing(new HypervisorError({ kind, op: 'device_del', message: kind })))).rejects.toMatchObject({ kind });
    }
    // the process "died" during the unplug: nothing after it runs, not even the liveness probe
    const crash = new SimulatedCrash('after hypervisor.hotunplug');
    await expect(unplug(failing(crash))).rejects.toBe(crash);
  });

  it('a live VMM that reports disconnected is not taken for gone', async () => {
    const w = world();
    const a: Adapters = {
      netlink: w.kernel,
      hypervisor: Object.assign(Object.create(w.hypervisor) as MemoryHypervisor, {
        hotunplug: async () => {
          throw new HypervisorError({ kind: 'disconnected', op: 'device_del', message: 'socket closed' });
        },
        alive: async () => true,
      }),
    };
    await expect(runEffect('ep0', 'hypervisor.hotunplug', { netdevId: 'n', deviceId: 'd', queues: 1 }, a, w.fds, true)).rejects.toMatchObject({ kind: 'disconnected' });
  });

  describe('a teardown effect finding its object gone succeeds with absent', () => {
    it.each([
      ['netlink.setUp', { netns: NS, name: 'tap0_kata', up: false }],
      ['netlink.deleteLink', { netns: NS, name: 'tap0_kata' }],
      ['netlink.getTap', { netns: NS, name: 'tap0_kata' }],
      // ENOENT: the qdisc is not there
      ['netlink.deleteIngressQdisc', { netns: NS, name: 'eth0' }],
      // ENOENT: the netns is gone
      ['netlink.setUp', { netns: '/run/netns/gone', name: 'tap0_kata', up: false }],
    ] as const)('%s %j', async (src, input) => {
      const w = world();
      expect(await w.run(src, input, true)).toEqual({ absent: true });
      // the same failure in an attach is a failure
      await expect(w.run(src, input, false)).rejects.toBeInstanceOf(NetlinkError);
    });

    it('deleteIngressQdisc EINVAL (the link has no qdisc support) is gone too; EINVAL of other ops is not', async () => {
      const w = world();
      const einval = (op: string) => new NetlinkError({ op, netns: NS, errno: 'EINVAL', errnoNumber: 22 });
      const a = (op: string): Adapters => ({
        netlink: Object.assign(Object.create(w.kernel) as MemoryKernel, {
          deleteIngressQdisc: async () => {
            throw einval(op);
          },
          setUp: async () => {
            throw einval(op);
          },
        }),
        hypervisor: w.hypervisor,
      });
      expect(await runEffect('ep0', 'netlink.deleteIngressQdisc', { netns: NS, name: 'eth0' }, a('deleteIngressQdisc'), w.fds, true)).toEqual({ absent: true });
      await expect(runEffect('ep0', 'netlink.setUp', { netns: NS, name: 'x', up: false }, a('setUp'), w.fds, true)).rejects.toMatchObject({ errno: 'EINVAL' });
    });

    it('deleteIngressQdisc refused for another reason (EPERM, EBUSY) is a failure: the qdisc is still there', async () => {
      const w = world();
      await w.kernel.addIngressQdisc(NS, 'eth0');
      for (const errno of ['EPERM', 'EBUSY'] as const) {
        const a: Adapters = {
          netlink: Object.assign(Object.create(w.kernel) as MemoryKernel, {
            deleteIngressQdisc: async () => {
              throw new NetlinkError({ op: 'deleteIngressQdisc', netns: NS, link: 'eth0', errno, errnoNumber: errno === 'EPERM' ? 1 : 16 });
            },
          }),
          hypervisor: w.hypervisor,
        };
        await expect(runEffect('ep0', 'netlink.deleteIngressQdisc', { netns: NS, name: 'eth0' }, a, w.fds, true)).rejects.toMatchObject({ errno });
      }
      expect(await w.kernel.hasIngressQdisc(NS, 'eth0')).toBe(true);
    });

    it('a simulated crash is never taken for a gone object', async () => {
      const w = world();
      const crash = new SimulatedCrash('before netlink.deleteLink');
      const a: Adapters = {
        netlink: Object.assign(Object.create(w.kernel) as MemoryKernel, {
          deleteLink: async () => {
            throw crash;
          },
        }),
        hypervisor: w.hypervisor,
      };
      await expect(runEffect('ep0', 'netlink.deleteLink', { netns: NS, name: 'tap0_kata' }, a, w.fds, true)).rejects.toBe(crash);
    });
  });
});

describe('toFailure: what the machine and the log carry of an error', () => {
  it('keeps the errno of a kernel error, the kind of a VMM error, the name and message of any error', () => {
    const n = new NetlinkError({ op: 'setMtu', netns: NS, link: 'tap0_kata', errno: 'EINVAL', errnoNumber: 22 });
    expect(toFailure(n)).toStrictEqual({ name: 'NetlinkError', message: n.message, errno: 'EINVAL' });
    const h = new HypervisorError({ kind: 'no-slot', op: 'hotplug', message: 'no free slot' });
    expect(toFailure(h)).toStrictEqual({ name: 'HypervisorError', message: h.message, kind: 'no-slot' });
    expect(toFailure(new RangeError('bad'))).toStrictEqual({ name: 'RangeError', message: 'bad' });
    expect(toFailure('plain')).toStrictEqual({ name: 'Error', message: 'plain' });
    expect(toFailure(undefined)).toStrictEqual({ name: 'Error', message: 'undefined' });
  });

  it('a vhost setup failure says the tap exists (so the rollback deletes it)', () => {
    expect(toFailure(new VhostSetupError(new Error('ENOENT')))).toStrictEqual({ name: 'VhostSetupError', message: 'ENOENT', observed: { tap: true } });
    // a kernel error opening /dev/vhost-net keeps its errno (ENOENT: no vhost-net on this host)
    const open = new NetlinkError({ op: 'openVhostFds', netns: '', errno: 'ENOENT', errnoNumber: 2 });
    expect(toFailure(new VhostSetupError(open))).toStrictEqual({ name: 'VhostSetupError', message: open.message, errno: 'ENOENT', observed: { tap: true } });
    expect(new VhostSetupError('no device').message).toBe('no device');
  });
});
