/**
 * The netlink adapter contract suite. One suite, run against every {@link NetlinkAdapter}
 * implementation (the in-memory kernel model and the real Linux adapter), so that the model
 * behaves like the kernel — down to the errno of each failure.
 *
 * Usage (in a `*.test.ts` file):
 * ```ts
 * netlinkContract('linux adapter', async () => ({ adapter, netns, addDummyLink, … }));
 * ```
 * Assertions are on errno names and observable state, never on message text.
 */
import { constants } from 'node:os';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NetlinkError, type LinkInfo, type NetlinkAdapter } from '../../src/adapters/netlink.js';
import { getTap, WRONG_KIND_ERRNO } from '../../src/adapters/tap-lookup.js';
import { runEffect } from '../../src/runtime/effects.js';
import { FdTable } from '../../src/runtime/fd-table.js';

/** What a contract run needs from an implementation under test. A fresh harness per test. */
export interface NetlinkHarness {
  adapter: NetlinkAdapter;
  /** A fresh, empty network namespace path (contains only `lo`). */
  netns: string;
  /**
   * Create an "original" link in {@link netns} by other means than the adapter
   * (real: `ip link add NAME type dummy` in that netns; any non-tun software kind will do).
   */
  addDummyLink(name: string, opts?: { mtu?: number; mac?: string }): Promise<void>;
  /** A path that does not exist. */
  missingNetns: string;
  /** An existing file that is not a network namespace (e.g. a temp file). */
  notNetns: string;
  /**
   * Optional: how many TAP queue fds the adapter's process currently holds (real: entries of
   * `/proc/self/fd` pointing at `/dev/net/tun`; memory: the fd table). When provided, the
   * suite checks that failed operations leak no fd and that `closeFds` really closes.
   */
  openTapFdCount?(): Promise<number>;
  /** Remove everything the harness created. Always called, even when a test fails. */
  cleanup(): Promise<void>;
}

/** Expected shape of a NetlinkError. `errno` may list acceptable alternatives. */
interface ExpectedError {
  op: string;
  link?: string;
  netns: string;
  errno: string | readonly string[];
}

/**
 * Await a rejection and check it is a fully filled {@link NetlinkError}: `op`, `link`, `netns`,
 * `errno` as expected, `errnoNumber` either 0 (validation) or the errno's number.
 */
export async function expectNetlinkError(p: Promise<unknown>, want: ExpectedError): Promise<NetlinkError> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${want.op} to fail with ${String(want.errno)}`).toBeInstanceOf(NetlinkError);
  const e = caught as NetlinkError;
  const errnos = typeof want.errno === 'string' ? [want.errno] : want.errno;
  expect(errnos).toContain(e.errno);
  expect(e.op).toBe(want.op);
  expect(e.netns).toBe(want.netns);
  if (want.link !== undefined) expect(e.link).toBe(want.link);
  const num = (constants.errno as Record<string, number>)[e.errno];
  expect([0, num]).toContain(e.errnoNumber);
  expect(e.message.length).toBeGreaterThan(0);
  return e;
}

const names = (links: readonly LinkInfo[]): string[] => links.map((l) => l.name).sort();

/** Declare the contract suite for one implementation. */
export function netlinkContract(name: string, makeHarness: () => Promise<NetlinkHarness>): void {
  describe(name, () => {
    let h: NetlinkHarness;
    let a: NetlinkAdapter;
    let ns: string;
    /** fds created by a test, closed in afterEach even if the test failed. */
    let openedFds: number[];

    beforeEach(async () => {
      h = await makeHarness();
      a = h.adapter;
      ns = h.netns;
      openedFds = [];
    });

    afterEach(async () => {
      try {
        if (openedFds.length > 0) await a.closeFds(openedFds);
      } finally {
        await h.cleanup();
      }
    });

    /** createTap and remember the fds for cleanup. */
    async function tap(nm: string, queues: number): Promise<number[]> {
      const { fds, index } = await a.createTap({ netns: ns, name: nm, queues });
      openedFds.push(...fds);
      expect(index).toBeGreaterThan(0);
      return fds;
    }

    async function fdCount(): Promise<number | undefined> {
      return h.openTapFdCount ? h.openTapFdCount() : undefined;
    }

    describe('openVhostFds', () => {
      // /dev/vhost-net is absent on the reference machine and in the default memory model:
      // both implementations must refuse it the same typed way; the present case is modelled in
      // test/runtime/vhost.test.ts
      it('absent /dev/vhost-net: NetlinkError ENOENT, nothing opened; a bad count is EINVAL', async () => {
        const before = await fdCount();
        let fds: number[] | undefined;
        try {
          fds = await a.openVhostFds(2);
        } catch (e) {
          expect(e).toBeInstanceOf(NetlinkError);
          expect((e as NetlinkError).op).toBe('openVhostFds');
          expect((e as NetlinkError).errno).toBe('ENOENT');
        }
        if (fds) {
          expect(fds).toHaveLength(2);
          await a.closeFds(fds);
        }
        if (before !== undefined) expect(await fdCount()).toBe(before);
        await expect(a.openVhostFds(0)).rejects.toMatchObject({ errno: 'EINVAL' });
      });
    });

    describe('createTap', () => {
      it.each([0, 1, 4])('creates a persistent vnet_hdr tap with %i queue(s), one fd per queue (one for 0)', async (queues) => {
        const before = await fdCount();
        const fds = await tap('tq0', queues);
        const nfds = Math.max(1, queues);
        expect(fds).toHaveLength(nfds);
        expect(new Set(fds).size).toBe(nfds);
        for (const fd of fds) expect(Number.isInteger(fd) && fd >= 0).toBe(true);
        if (before !== undefined) expect(await fdCount()).toBe(before + nfds);

        const link = await a.getLink(ns, 'tq0');
        expect(link.name).toBe('tq0');
        expect(link.kind).toBe('tun');
        expect(link.index).toBeGreaterThan(0);
        expect(link.tun).toEqual({
          mode: 'tap',
          // upstream createLink: TUNTAP_MULTI_QUEUE_DEFAULTS whenever queues > 0 (also 1 vCPU)
          multiQueue: queues > 0,
          persist: true,
          vnetHdr: true,
          numQueues: nfds,
        });
        expect(link.mac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
        expect(link.flags.up).toBe(false);
      });

      it('returns the index getLink reports', async () => {
        const { index, fds } = await a.createTap({ netns: ns, name: 'tidx', queues: 1 });
        openedFds.push(...fds);
        expect((await a.getLink(ns, 'tidx')).index).toBe(index);
      });

      it.each([1, 4])('the tap persists with no queue attached after closeFds (%i queue(s))', async (queues) => {
        const before = await fdCount();
        const fds = await tap('tpers', queues);
        await a.closeFds(fds);
        openedFds = [];
        if (before !== undefined) expect(await fdCount()).toBe(before);
        const link = await a.getLink(ns, 'tpers');
        expect(link.kind).toBe('tun');
        expect(link.tun?.persist).toBe(true);
        expect(link.tun?.numQueues).toBe(0);
        expect(link.tun?.multiQueue).toBe(queues > 0);
        // closeFds is idempotent for fds we already closed
        await a.closeFds(fds);
      });

      it('accepts a 15-byte name', async () => {
        await tap('abcdefghijklmno', 1);
        expect((await a.getLink(ns, 'abcdefghijklmno')).name).toBe('abcdefghijklmno');
      });

      it.each([1, 4])('EEXIST for a leftover persistent tap of the same name (%i queue(s)), nothing changes', async (queues) => {
        const fds = await tap('tleft', queues);
        await a.closeFds(fds);
        openedFds = [];
        const linksBefore = names(await a.listLinks(ns));
        const leftover = await a.getLink(ns, 'tleft');
        const fdsBefore = await fdCount();

        await expectNetlinkError(a.createTap({ netns: ns, name: 'tleft', queues }), {
          op: 'createTap',
          link: 'tleft',
          netns: ns,
          errno: 'EEXIST',
        });

        if (fdsBefore !== undefined) expect(await fdCount()).toBe(fdsBefore);
        expect(names(await a.listLinks(ns))).toEqual(linksBefore);
        const after = await a.getLink(ns, 'tleft');
        expect(after.index).toBe(leftover.index);
        expect(after.tun?.numQueues).toBe(0);
      });

      it('EEXIST when a tap of the name is live (fds still open)', async () => {
        await tap('tlive', 1);
        await expectNetlinkError(a.createTap({ netns: ns, name: 'tlive', queues: 1 }), {
          op: 'createTap',
          link: 'tlive',
          netns: ns,
          errno: 'EEXIST',
        });
        expect((await a.getLink(ns, 'tlive')).tun?.numQueues).toBe(1);
      });

      it('EEXIST when a non-tun link has the name, nothing changes', async () => {
        await h.addDummyLink('orig0');
        const before = await a.getLink(ns, 'orig0');
        const fdsBefore = await fdCount();
        await expectNetlinkError(a.createTap({ netns: ns, name: 'orig0', queues: 2 }), {
          op: 'createTap',
          link: 'orig0',
          netns: ns,
          errno: 'EEXIST',
        });
        if (fdsBefore !== undefined) expect(await fdCount()).toBe(fdsBefore);
        expect(names(await a.listLinks(ns))).toEqual(['lo', 'orig0']);
        const after = await a.getLink(ns, 'orig0');
        // (harnesses on kernels without the dummy driver may create another software link kind)
        expect(after.kind).toBe(before.kind);
        expect(after.kind).not.toBe('tun');
        expect(after.index).toBe(before.index);
        expect(after.tun).toBeUndefined();
      });

      it.each([
        ['16 ASCII bytes', 'abcdefghijklmnop'],
        ['19 ASCII bytes', 'tap0_kata_too_long1'],
        ['8 two-byte chars = 16 bytes', 'éééééééé'],
      ])('rejects a name over 15 bytes (%s) with EINVAL/ERANGE, never truncates', async (_what, nm) => {
        const fdsBefore = await fdCount();
        await expectNetlinkError(a.createTap({ netns: ns, name: nm, queues: 1 }), {
          op: 'createTap',
          link: nm,
          netns: ns,
          errno: ['EINVAL', 'ERANGE'],
        });
        if (fdsBefore !== undefined) expect(await fdCount()).toBe(fdsBefore);
        expect(names(await a.listLinks(ns))).toEqual(['lo']);
        expect(await a.probeLink(ns, Buffer.from(nm).subarray(0, 15).toString())).toBeNull();
      });

      it.each([
        ['empty', ''],
        ['slash', 'a/b'],
        ['space', 'a b'],
        ['dot', '.'],
        ['dotdot', '..'],
      ])('rejects an invalid name (%s) with EINVAL', async (_what, nm) => {
        await expectNetlinkError(a.createTap({ netns: ns, name: nm, queues: 1 }), {
          op: 'createTap',
          netns: ns,
          errno: 'EINVAL',
        });
        expect(names(await a.listLinks(ns))).toEqual(['lo']);
      });

      it.each([-1, 1.5, 257, Number.NaN])('rejects queues=%s with EINVAL', async (queues) => {
        const fdsBefore = await fdCount();
        await expectNetlinkError(a.createTap({ netns: ns, name: 'tq', queues }), {
          op: 'createTap',
          link: 'tq',
          netns: ns,
          errno: 'EINVAL',
        });
        if (fdsBefore !== undefined) expect(await fdCount()).toBe(fdsBefore);
        expect(await a.probeLink(ns, 'tq')).toBeNull();
      });
    });

    describe('missing links → ENODEV', () => {
      it('getLink', async () => {
        await expectNetlinkError(a.getLink(ns, 'nope0'), { op: 'getLink', link: 'nope0', netns: ns, errno: 'ENODEV' });
      });
      it('deleteLink', async () => {
        await expectNetlinkError(a.deleteLink(ns, 'nope0'), { op: 'deleteLink', link: 'nope0', netns: ns, errno: 'ENODEV' });
      });
      it('setMtu', async () => {
        await expectNetlinkError(a.setMtu(ns, 'nope0', 1500), { op: 'setMtu', link: 'nope0', netns: ns, errno: 'ENODEV' });
      });
      it('setMac', async () => {
        await expectNetlinkError(a.setMac(ns, 'nope0', '02:00:00:00:00:01'), {
          op: 'setMac',
          link: 'nope0',
          netns: ns,
          errno: 'ENODEV',
        });
      });
      it('setUp', async () => {
        await expectNetlinkError(a.setUp(ns, 'nope0', true), { op: 'setUp', link: 'nope0', netns: ns, errno: 'ENODEV' });
      });
      it('addIngressQdisc', async () => {
        await expectNetlinkError(a.addIngressQdisc(ns, 'nope0'), {
          op: 'addIngressQdisc',
          link: 'nope0',
          netns: ns,
          errno: 'ENODEV',
        });
      });
      it('probeLink returns null instead', async () => {
        expect(await a.probeLink(ns, 'nope0')).toBeNull();
      });
    });

    describe('setMtu', () => {
      it.each([68, 1400, 65521])('accepts %i', async (mtu) => {
        await tap('tmtu', 1);
        await a.setMtu(ns, 'tmtu', mtu);
        expect((await a.getLink(ns, 'tmtu')).mtu).toBe(mtu);
      });

      it.each([67, 65522, 0, 70000])('rejects %i with EINVAL and leaves the MTU unchanged', async (mtu) => {
        await tap('tmtu', 1);
        await a.setMtu(ns, 'tmtu', 1400);
        await expectNetlinkError(a.setMtu(ns, 'tmtu', mtu), { op: 'setMtu', link: 'tmtu', netns: ns, errno: 'EINVAL' });
        expect((await a.getLink(ns, 'tmtu')).mtu).toBe(1400);
      });

      it('sets a dummy link MTU too', async () => {
        await h.addDummyLink('orig0', { mtu: 1450 });
        expect((await a.getLink(ns, 'orig0')).mtu).toBe(1450);
        await a.setMtu(ns, 'orig0', 9000);
        expect((await a.getLink(ns, 'orig0')).mtu).toBe(9000);
      });
    });

    describe('setMac', () => {
      it('sets a unicast MAC, reported lower-case colon-separated', async () => {
        await tap('tmac', 1);
        await a.setMac(ns, 'tmac', '5a:94:ef:e4:0c:ee');
        expect((await a.getLink(ns, 'tmac')).mac).toBe('5a:94:ef:e4:0c:ee');
      });

      it('rejects a multicast MAC with EADDRNOTAVAIL and leaves the MAC unchanged', async () => {
        await tap('tmac', 1);
        await a.setMac(ns, 'tmac', '02:00:00:00:00:07');
        await expectNetlinkError(a.setMac(ns, 'tmac', '01:00:5e:00:00:01'), {
          op: 'setMac',
          link: 'tmac',
          netns: ns,
          errno: 'EADDRNOTAVAIL',
        });
        expect((await a.getLink(ns, 'tmac')).mac).toBe('02:00:00:00:00:07');
      });

      it.each(['not-a-mac', '02:00:00:00:00', '02:00:00:00:00:0g'])('rejects a malformed MAC %j with EINVAL', async (mac) => {
        await tap('tmac', 1);
        const before = (await a.getLink(ns, 'tmac')).mac;
        await expectNetlinkError(a.setMac(ns, 'tmac', mac), { op: 'setMac', link: 'tmac', netns: ns, errno: 'EINVAL' });
        expect((await a.getLink(ns, 'tmac')).mac).toBe(before);
      });

      it('a dummy link created with a MAC reports it', async () => {
        await h.addDummyLink('orig0', { mac: '5a:94:ef:e4:0c:01' });
        expect((await a.getLink(ns, 'orig0')).mac).toBe('5a:94:ef:e4:0c:01');
      });
    });

    describe('setUp', () => {
      it('sets and clears IFF_UP', async () => {
        await tap('tup', 1);
        await a.setUp(ns, 'tup', true);
        expect((await a.getLink(ns, 'tup')).flags.up).toBe(true);
        await a.setUp(ns, 'tup', false);
        expect((await a.getLink(ns, 'tup')).flags.up).toBe(false);
      });

      it('is idempotent', async () => {
        await tap('tup', 1);
        await a.setUp(ns, 'tup', true);
        await a.setUp(ns, 'tup', true);
        expect((await a.getLink(ns, 'tup')).flags.up).toBe(true);
      });
    });

    describe('deleteLink and listLinks', () => {
      it('a fresh netns holds only lo', async () => {
        expect(names(await a.listLinks(ns))).toEqual(['lo']);
      });

      it('lists what we created and forgets what we deleted', async () => {
        await tap('ta', 1);
        await tap('tb', 2);
        await h.addDummyLink('orig0');
        const links = await a.listLinks(ns);
        expect(names(links)).toEqual(['lo', 'orig0', 'ta', 'tb']);
        expect(links.find((l) => l.name === 'tb')?.tun?.multiQueue).toBe(true);
        expect(new Set(links.map((l) => l.index)).size).toBe(links.length);

        await a.deleteLink(ns, 'ta');
        expect(await a.probeLink(ns, 'ta')).toBeNull();
        expect(names(await a.listLinks(ns))).toEqual(['lo', 'orig0', 'tb']);
        await expectNetlinkError(a.deleteLink(ns, 'ta'), { op: 'deleteLink', link: 'ta', netns: ns, errno: 'ENODEV' });
      });

      it('deletes a tap whose queue fds are still open; the name is free again', async () => {
        await tap('tdel', 4);
        await a.deleteLink(ns, 'tdel');
        expect(await a.probeLink(ns, 'tdel')).toBeNull();
        // closing the fds of a deleted tap is fine
        await a.closeFds(openedFds);
        openedFds = [];
        await tap('tdel', 1);
        expect((await a.getLink(ns, 'tdel')).tun?.numQueues).toBe(1);
      });

      it('probeLink returns the link when present', async () => {
        await tap('tp', 1);
        const p = await a.probeLink(ns, 'tp');
        expect(p?.name).toBe('tp');
        expect(p?.kind).toBe('tun');
      });
    });

    describe('ingress qdisc and redirects', () => {
      it('add / has / delete; EEXIST on a second add', async () => {
        await tap('tq', 1);
        expect(await a.hasIngressQdisc(ns, 'tq')).toBe(false);
        await a.addIngressQdisc(ns, 'tq');
        expect(await a.hasIngressQdisc(ns, 'tq')).toBe(true);
        await expectNetlinkError(a.addIngressQdisc(ns, 'tq'), {
          op: 'addIngressQdisc',
          link: 'tq',
          netns: ns,
          errno: 'EEXIST',
        });
        expect(await a.hasIngressQdisc(ns, 'tq')).toBe(true);
        await a.deleteIngressQdisc(ns, 'tq');
        expect(await a.hasIngressQdisc(ns, 'tq')).toBe(false);
      });

      it('deleting an absent ingress qdisc fails with ENOENT/EINVAL', async () => {
        await tap('tq', 1);
        await expectNetlinkError(a.deleteIngressQdisc(ns, 'tq'), {
          op: 'deleteIngressQdisc',
          link: 'tq',
          netns: ns,
          errno: ['ENOENT', 'EINVAL'],
        });
      });

      it('redirects both ways between a tap and a dummy link', async () => {
        await tap('tap0_kata', 2);
        await h.addDummyLink('eth0');
        expect(await a.listRedirects(ns, 'tap0_kata')).toEqual([]);
        await a.addIngressQdisc(ns, 'tap0_kata');
        await a.addIngressQdisc(ns, 'eth0');
        await a.addRedirect({ netns: ns, from: 'eth0', to: 'tap0_kata' });
        await a.addRedirect({ netns: ns, from: 'tap0_kata', to: 'eth0' });
        expect(await a.listRedirects(ns, 'eth0')).toEqual(['tap0_kata']);
        expect(await a.listRedirects(ns, 'tap0_kata')).toEqual(['eth0']);
      });

      it('deleting the ingress qdisc removes its redirects', async () => {
        await tap('tap0_kata', 1);
        await h.addDummyLink('eth0');
        await a.addIngressQdisc(ns, 'tap0_kata');
        await a.addIngressQdisc(ns, 'eth0');
        await a.addRedirect({ netns: ns, from: 'eth0', to: 'tap0_kata' });
        await a.addRedirect({ netns: ns, from: 'tap0_kata', to: 'eth0' });
        await a.deleteIngressQdisc(ns, 'eth0');
        expect(await a.hasIngressQdisc(ns, 'eth0')).toBe(false);
        expect(await a.listRedirects(ns, 'eth0')).toEqual([]);
        expect(await a.listRedirects(ns, 'tap0_kata')).toEqual(['eth0']);
      });

      it('deleting a link removes its ingress qdisc with it', async () => {
        await tap('tq', 1);
        await a.addIngressQdisc(ns, 'tq');
        await a.deleteLink(ns, 'tq');
        await a.closeFds(openedFds);
        openedFds = [];
        await tap('tq', 1);
        expect(await a.hasIngressQdisc(ns, 'tq')).toBe(false);
      });

      it('a redirect without an ingress qdisc on `from` fails with EINVAL/ENOENT', async () => {
        await tap('tq', 1);
        await h.addDummyLink('eth0');
        await expectNetlinkError(a.addRedirect({ netns: ns, from: 'eth0', to: 'tq' }), {
          op: 'addRedirect',
          link: 'eth0',
          netns: ns,
          errno: ['EINVAL', 'ENOENT'],
        });
        expect(await a.listRedirects(ns, 'eth0')).toEqual([]);
      });

      it('a redirect to a missing link fails with ENODEV', async () => {
        await h.addDummyLink('eth0');
        await a.addIngressQdisc(ns, 'eth0');
        await expectNetlinkError(a.addRedirect({ netns: ns, from: 'eth0', to: 'nope0' }), {
          op: 'addRedirect',
          netns: ns,
          errno: 'ENODEV',
        });
        expect(await a.listRedirects(ns, 'eth0')).toEqual([]);
      });
    });

    describe('teardown lookup (getTap: upstream getLinkByName expecting a tuntap)', () => {
      it('returns a tap we created', async () => {
        await tap('tlook', 2);
        const l = await getTap(a, ns, 'tlook');
        expect(l).toMatchObject({ name: 'tlook', kind: 'tun', tun: { mode: 'tap' } });
      });

      it('a non-tun link called like a tap: EMEDIUMTYPE "Incorrect link type <kind>, expecting tuntap"; the teardown effect leaves it up and in place', async () => {
        await h.addDummyLink('tap9_kata');
        await a.setUp(ns, 'tap9_kata', true);
        const e = await expectNetlinkError(getTap(a, ns, 'tap9_kata'), { op: 'getTap', link: 'tap9_kata', netns: ns, errno: WRONG_KIND_ERRNO });
        const kind = (await a.getLink(ns, 'tap9_kata')).kind; // the harness's non-tun kind (dummy, ifb…)
        expect(e.message).toBe(`Incorrect link type ${kind}, expecting tuntap`);
        // the runtime's teardown effect fails the same way (no `absent`), touching nothing
        const fds = new FdTable(a);
        await expect(runEffect('ep9', 'netlink.getTap', { netns: ns, name: 'tap9_kata' }, { netlink: a, hypervisor: null as never }, fds, true)).rejects.toMatchObject({
          errno: WRONG_KIND_ERRNO,
        });
        expect(await a.getLink(ns, 'tap9_kata')).toMatchObject({ kind, flags: { up: true } });
      });

      it('a missing link: "LinkByName() failed for tuntap name …" keeping ENODEV, which a teardown reads as already gone', async () => {
        const e = await expectNetlinkError(getTap(a, ns, 'tnone'), { op: 'getTap', link: 'tnone', netns: ns, errno: 'ENODEV' });
        expect(e.message).toMatch(/^LinkByName\(\) failed for tuntap name tnone: /);
        const fds = new FdTable(a);
        expect(await runEffect('ep9', 'netlink.getTap', { netns: ns, name: 'tnone' }, { netlink: a, hypervisor: null as never }, fds, true)).toEqual({ absent: true });
      });
    });

    describe('network namespaces', () => {
      it('netnsExists: true for the harness netns, false for a missing path and a non-netns file', async () => {
        expect(await a.netnsExists(ns)).toBe(true);
        expect(await a.netnsExists(h.missingNetns)).toBe(false);
        expect(await a.netnsExists(h.notNetns)).toBe(false);
      });

      it('operations in a missing netns fail with ENOENT naming the netns', async () => {
        const m = h.missingNetns;
        const fdsBefore = await fdCount();
        await expectNetlinkError(a.createTap({ netns: m, name: 'tq', queues: 2 }), { op: 'createTap', netns: m, errno: 'ENOENT' });
        if (fdsBefore !== undefined) expect(await fdCount()).toBe(fdsBefore);
        await expectNetlinkError(a.getLink(m, 'lo'), { op: 'getLink', netns: m, errno: 'ENOENT' });
        await expectNetlinkError(a.listLinks(m), { op: 'listLinks', netns: m, errno: 'ENOENT' });
        await expectNetlinkError(a.setMtu(m, 'lo', 1500), { op: 'setMtu', netns: m, errno: 'ENOENT' });
        await expectNetlinkError(a.deleteLink(m, 'lo'), { op: 'deleteLink', netns: m, errno: 'ENOENT' });
        await expectNetlinkError(a.probeLink(m, 'lo'), { op: 'probeLink', netns: m, errno: 'ENOENT' });
        await expectNetlinkError(a.addIngressQdisc(m, 'lo'), { op: 'addIngressQdisc', netns: m, errno: 'ENOENT' });
      });

      it('operations in a path that is not a netns fail with EINVAL naming the netns', async () => {
        const m = h.notNetns;
        await expectNetlinkError(a.createTap({ netns: m, name: 'tq', queues: 1 }), { op: 'createTap', netns: m, errno: 'EINVAL' });
        await expectNetlinkError(a.getLink(m, 'lo'), { op: 'getLink', netns: m, errno: 'EINVAL' });
        await expectNetlinkError(a.listLinks(m), { op: 'listLinks', netns: m, errno: 'EINVAL' });
      });
    });

    describe('adapter lifecycle', () => {
      it('close() can be called and the harness still cleans up', async () => {
        await tap('tq', 1);
        await a.closeFds(openedFds);
        openedFds = [];
        await a.close();
      });
    });
  });
}
