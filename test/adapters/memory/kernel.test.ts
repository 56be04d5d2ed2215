/** Model-specific behaviour of MemoryKernel, beyond the netlink contract. */
import { constants } from 'node:os';
import { beforeEach, describe, expect, it } from 'vitest';
import { MemoryKernel } from '../../../src/adapters/memory/index.js';
import { NetlinkError } from '../../../src/adapters/netlink.js';

const NS = '/run/netns/model';

async function rejection(p: Promise<unknown> | (() => unknown)): Promise<NetlinkError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(NetlinkError);
    return e as NetlinkError;
  }
  throw new Error('expected a NetlinkError');
}

describe('MemoryKernel', () => {
  let k: MemoryKernel;
  beforeEach(() => {
    k = new MemoryKernel();
    k.addNetns(NS);
  });

  describe('namespaces', () => {
    it('the caller namespace "" always exists and holds lo', async () => {
      expect(await k.netnsExists('')).toBe(true);
      const lo = await k.getLink('', 'lo');
      expect(lo).toMatchObject({ index: 1, name: 'lo', mtu: 65536, kind: '', flags: { up: true, lowerUp: true } });
      expect(lo.tun).toBeUndefined();
    });

    it('addNetns of an existing path is EEXIST; "" cannot be deleted', async () => {
      expect((await rejection(() => k.addNetns(NS))).errno).toBe('EEXIST');
      expect((await rejection(() => k.deleteNetns(''))).errno).toBe('ENOENT');
      expect((await rejection(() => k.deleteNetns('/run/netns/none'))).errno).toBe('ENOENT');
    });

    it('deleteNetns removes its taps, qdiscs and redirects and leaves their fds open but dead', async () => {
      const { fds } = await k.createTap({ netns: NS, name: 'tap0_kata', queues: 2 });
      k.addDummyLink(NS, 'eth0');
      await k.addIngressQdisc(NS, 'tap0_kata');
      await k.addIngressQdisc(NS, 'eth0');
      await k.addRedirect({ netns: NS, from: 'eth0', to: 'tap0_kata' });
      const other = await k.createTap({ netns: '', name: 'keep0', queues: 1 });
      expect(fds.every((fd) => k.fdAlive(fd))).toBe(true);

      k.deleteNetns(NS);

      expect(await k.netnsExists(NS)).toBe(false);
      expect(k.namespaces()).toEqual(['']);
      expect(k.links(NS)).toEqual([]);
      expect((await rejection(k.getLink(NS, 'tap0_kata'))).errno).toBe('ENOENT');
      // the fds are still ours (to close), but attached to nothing
      expect(k.openFdCount('self')).toBe(3);
      expect(fds.map((fd) => k.fdAlive(fd))).toEqual([false, false]);
      expect(k.openFds().filter((f) => fds.includes(f.fd))).toEqual(
        fds.map((fd) => ({ fd, holder: 'self', netns: null, link: null })),
      );
      // the other namespace is untouched
      expect(k.fdAlive(other.fds[0]!)).toBe(true);
      expect((await k.getLink('', 'keep0')).tun?.numQueues).toBe(1);
      await k.closeFds(fds);
      expect(k.openFdCount()).toBe(1);
      await k.closeFds(other.fds);
      expect(k.openFdCount()).toBe(0);
    });

    it('a namespace re-added at the same path is fresh', async () => {
      await k.createTap({ netns: NS, name: 'tap0', queues: 1 });
      k.deleteNetns(NS);
      k.addNetns(NS);
      expect((await k.listLinks(NS)).map((l) => l.name)).toEqual(['lo']);
    });

    it('a plain file is not a namespace: EINVAL, and netnsExists false', async () => {
      k.addPlainFile('/tmp/plain');
      expect(await k.netnsExists('/tmp/plain')).toBe(false);
      const e = await rejection(k.listLinks('/tmp/plain'));
      expect(e.errno).toBe('EINVAL');
      expect(e.netns).toBe('/tmp/plain');
    });
  });

  describe('fd table', () => {
    it('hands out increasing, never reused fd numbers', async () => {
      const a = await k.createTap({ netns: NS, name: 'a', queues: 2 });
      await k.closeFds(a.fds);
      const b = await k.createTap({ netns: NS, name: 'b', queues: 1 });
      expect(a.fds).toEqual([100, 101]);
      expect(b.fds).toEqual([102]);
    });

    it('dupFds/releaseFds: the hypervisor copies keep the queues attached', async () => {
      const { fds } = await k.createTap({ netns: NS, name: 'tap0', queues: 2 });
      const copies = k.dupFds(fds);
      expect(copies).toHaveLength(2);
      expect(copies.some((c) => fds.includes(c))).toBe(false);
      expect(k.openFdCount('self')).toBe(2);
      expect(k.openFdCount('hypervisor')).toBe(2);
      expect(k.openFdCount()).toBe(4);

      await k.closeFds(fds);
      expect(k.openFdCount('self')).toBe(0);
      expect((await k.getLink(NS, 'tap0')).tun?.numQueues).toBe(2);

      k.releaseFds(copies);
      expect(k.openFdCount()).toBe(0);
      expect((await k.getLink(NS, 'tap0')).tun?.numQueues).toBe(0);
      k.releaseFds(copies); // idempotent
    });

    it('dupFds of a closed fd is EBADF and dups nothing', async () => {
      const { fds } = await k.createTap({ netns: NS, name: 'tap0', queues: 2 });
      await k.closeFds([fds[1]!]);
      expect((await rejection(() => k.dupFds(fds))).errno).toBe('EBADF');
      expect(k.openFdCount('hypervisor')).toBe(0);
    });

    it('closeFds refuses fds we never held, all-or-nothing', async () => {
      const { fds } = await k.createTap({ netns: NS, name: 'tap0', queues: 1 });
      const copies = k.dupFds(fds);
      const e = await rejection(k.closeFds([fds[0]!, 9999]));
      expect(e.errno).toBe('EBADF');
      expect(e.op).toBe('closeFds');
      expect(k.openFdCount('self')).toBe(1);
      // a hypervisor copy is not ours to close
      expect((await rejection(k.closeFds(copies))).errno).toBe('EBADF');
      // nor is ours the hypervisor's to release
      expect((await rejection(() => k.releaseFds(fds))).errno).toBe('EBADF');
      expect(k.openFdCount()).toBe(2);
    });

    it('simulateProcessDeath closes our fds, not the hypervisor copies; taps persist', async () => {
      const held = await k.createTap({ netns: NS, name: 'held', queues: 2 });
      const copies = k.dupFds(held.fds);
      await k.createTap({ netns: NS, name: 'orphan', queues: 4 });
      expect(k.openFdCount('self')).toBe(6);

      k.simulateProcessDeath();

      expect(k.openFdCount('self')).toBe(0);
      expect(k.openFds('hypervisor').map((f) => f.fd)).toEqual(copies);
      expect((await k.getLink(NS, 'held')).tun?.numQueues).toBe(2);
      expect((await k.getLink(NS, 'orphan')).tun).toMatchObject({ persist: true, numQueues: 0 });
      // the restarted process may close journalled fds again: idempotent
      await k.closeFds(held.fds);
    });

    it('deleteLink detaches the queues: fds stay open but dead', async () => {
      const { fds } = await k.createTap({ netns: NS, name: 'tap0', queues: 1 });
      await k.deleteLink(NS, 'tap0');
      expect(k.fdAlive(fds[0]!)).toBe(false);
      expect(k.openFdCount('self')).toBe(1);
      await k.closeFds(fds);
      expect(k.openFdCount()).toBe(0);
    });
  });

  describe('links', () => {
    it('a tap has carrier (lowerUp) only while up with a queue attached', async () => {
      const { fds } = await k.createTap({ netns: NS, name: 'tap0', queues: 1 });
      expect((await k.getLink(NS, 'tap0')).flags).toEqual({ up: false, lowerUp: false });
      await k.setUp(NS, 'tap0', true);
      expect((await k.getLink(NS, 'tap0')).flags).toEqual({ up: true, lowerUp: true });
      await k.closeFds(fds);
      expect((await k.getLink(NS, 'tap0')).flags).toEqual({ up: true, lowerUp: false });
    });

    it('ifindexes count per namespace from lo = 1', async () => {
      const a = await k.createTap({ netns: NS, name: 'a', queues: 1 });
      const d = k.addDummyLink(NS, 'eth0');
      const b = await k.createTap({ netns: '', name: 'b', queues: 1 });
      expect([a.index, d.index, b.index]).toEqual([2, 3, 2]);
    });

    it('lo cannot be deleted (EOPNOTSUPP)', async () => {
      expect((await rejection(k.deleteLink(NS, 'lo'))).errno).toBe('EOPNOTSUPP');
      expect(await k.probeLink(NS, 'lo')).not.toBeNull();
    });

    it('kernel errors carry the errno number and extack; validation errors carry 0', async () => {
      await k.createTap({ netns: NS, name: 'tap0', queues: 1 });
      const mtu = await rejection(k.setMtu(NS, 'tap0', 65522));
      expect(mtu.errnoNumber).toBe(constants.errno.EINVAL);
      expect(mtu.extack).toBe('mtu greater than device maximum');
      expect((await rejection(k.setMtu(NS, 'tap0', 10))).extack).toBe('mtu less than device minimum');
      const nodev = await rejection(k.getLink(NS, 'nope'));
      expect(nodev.errnoNumber).toBe(constants.errno.ENODEV);
      const long = await rejection(k.createTap({ netns: NS, name: 'x'.repeat(16), queues: 1 }));
      expect(long.errnoNumber).toBe(0);
      expect(long.message).toMatch(/name/);
      const q = await rejection(k.createTap({ netns: NS, name: 'tq', queues: -1 }));
      expect(q.message).toMatch(/queues/);
    });

    it('addLink: EEXIST for a taken name, any kind', async () => {
      k.addLink(NS, 'veth0', { kind: 'veth', mtu: 9000, up: true });
      expect(await k.getLink(NS, 'veth0')).toMatchObject({ kind: 'veth', mtu: 9000, flags: { up: true, lowerUp: true } });
      expect((await rejection(() => k.addDummyLink(NS, 'veth0'))).errno).toBe('EEXIST');
      expect((await rejection(() => k.addDummyLink(NS, 'x', { mac: '01:00:00:00:00:01' }))).errno).toBe('EADDRNOTAVAIL');
    });

    it('a redirect whose target was deleted dangles and is not listed', async () => {
      await k.createTap({ netns: NS, name: 'tap0', queues: 1 });
      k.addDummyLink(NS, 'eth0');
      await k.addIngressQdisc(NS, 'eth0');
      await k.addRedirect({ netns: NS, from: 'eth0', to: 'tap0' });
      await k.deleteLink(NS, 'tap0');
      expect(await k.listRedirects(NS, 'eth0')).toEqual([]);
      // a new link of the same name gets a new ifindex: the old filter still does not point at it
      await k.createTap({ netns: NS, name: 'tap0', queues: 1 });
      expect(await k.listRedirects(NS, 'eth0')).toEqual([]);
      expect(await k.hasIngressQdisc(NS, 'eth0')).toBe(true);
    });
  });

  describe('inspection', () => {
    it('snapshot is plain data with tc state, fds, and is deterministic', async () => {
      const run = async (): Promise<unknown> => {
        const m = new MemoryKernel();
        m.addNetns(NS);
        const { fds } = await m.createTap({ netns: NS, name: 'tap0_kata', queues: 2 });
        m.addDummyLink(NS, 'eth0', { mac: '5a:94:ef:e4:0c:ee' });
        await m.setMac(NS, 'tap0_kata', '5a:94:ef:e4:0c:ee');
        await m.addIngressQdisc(NS, 'tap0_kata');
        await m.addRedirect({ netns: NS, from: 'tap0_kata', to: 'eth0' });
        m.dupFds(fds);
        return m.snapshot();
      };
      const s1 = await run();
      const s2 = await run();
      expect(s1).toEqual(s2);
      expect(JSON.parse(JSON.stringify(s1))).toEqual(s1);
      const snap = s1 as ReturnType<MemoryKernel['snapshot']>;
      const tap = snap.netns.find((n) => n.path === NS)!.links.find((l) => l.name === 'tap0_kata')!;
      expect(tap).toMatchObject({ ingress: true, redirects: ['eth0'], mac: '5a:94:ef:e4:0c:ee', tun: { numQueues: 2 } });
      expect(snap.fds.map((f) => f.holder)).toEqual(['self', 'self', 'hypervisor', 'hypervisor']);
    });

    it('default MACs are locally administered unicast and distinct', async () => {
      await k.createTap({ netns: NS, name: 'a', queues: 1 });
      await k.createTap({ netns: NS, name: 'b', queues: 1 });
      const macs = (await k.listLinks(NS)).filter((l) => l.kind === 'tun').map((l) => l.mac);
      expect(new Set(macs).size).toBe(2);
      for (const mac of macs) expect(parseInt(mac.slice(0, 2), 16) & 0b11).toBe(0b10);
    });

    it('close() is counted and harmless', async () => {
      await k.close();
      expect(k.closeCount()).toBe(1);
      expect(await k.netnsExists(NS)).toBe(true);
    });
  });
});
