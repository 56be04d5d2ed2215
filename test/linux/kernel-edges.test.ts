/** Upstream's edge cases against the real kernel (root required; fails, never skips, otherwise). */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync, chmodSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import ts from 'typescript';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { NetlinkError } from '../../src/adapters/netlink.js';
import { LinuxNetlinkAdapter } from '../../src/linux/index.js';
import { expectNetlinkError } from '../adapters/netlink.contract.js';
import { addPlainLink, ipShow, makeNetns, requireRoot, tunFdCount, type TestNetns } from './fixture.js';

beforeAll(() => requireRoot());

describe('LinuxNetlinkAdapter kernel edge cases', () => {
  let ns: TestNetns;
  let a: LinuxNetlinkAdapter;
  beforeEach(() => {
    ns = makeNetns();
    a = new LinuxNetlinkAdapter();
  });
  afterEach(async () => {
    try {
      await a.close();
    } finally {
      ns.remove();
    }
  });

  it('creates the tap the way upstream does (ip -d link show agrees)', async () => {
    const { fds } = await a.createTap({ netns: ns.path, name: 'tap0_kata', queues: 4 });
    const out = ipShow(ns, 'tap0_kata');
    expect(out).toMatch(/tun type tap pi off vnet_hdr on multi_queue numqueues 4/);
    expect(out).toMatch(/persist on/);
    await a.closeFds(fds);
  });

  it('a persistent tap left by a "crash" (ip tuntap add) is EEXIST, not adopted', async () => {
    execFileSync('ip', ['-n', ns.name, 'tuntap', 'add', 'mode', 'tap', 'name', 'tap0_kata', 'vnet_hdr', 'multi_queue']);
    const before = tunFdCount();
    await expectNetlinkError(a.createTap({ netns: ns.path, name: 'tap0_kata', queues: 2 }), {
      op: 'createTap', link: 'tap0_kata', netns: ns.path, errno: 'EEXIST',
    });
    expect(tunFdCount()).toBe(before);
    expect(ipShow(ns, 'tap0_kata')).toMatch(/numqueues 0/);
  });

  it('the main thread is back in its own netns after every call', async () => {
    const home = readlinkSync('/proc/thread-self/ns/net');
    const { fds } = await a.createTap({ netns: ns.path, name: 't0', queues: 2 });
    await a.setMtu(ns.path, 't0', 1400);
    await a.getLink(ns.path, 'nope0').catch(() => undefined);
    expect(readlinkSync('/proc/thread-self/ns/net')).toBe(home);
    // and the tap is in the target netns, not ours
    expect(await a.probeLink('', 't0')).toBeNull();
    await a.closeFds(fds);
  });

  it('a namespace file that is not a network namespace is EINVAL naming the check', async () => {
    const e = await expectNetlinkError(a.getLink('/proc/self/ns/uts', 'lo'), { op: 'getLink', netns: '/proc/self/ns/uts', errno: 'EINVAL' });
    expect(e.message).toMatch(/not a network namespace/);
    expect(await a.netnsExists('/proc/self/ns/uts')).toBe(false);
  });

  it('a deleted and re-created netns path is re-resolved (ENOENT in between)', async () => {
    await a.listLinks(ns.path);
    ns.remove();
    await expectNetlinkError(a.listLinks(ns.path), { op: 'listLinks', netns: ns.path, errno: 'ENOENT' });
    execFileSync('ip', ['netns', 'add', ns.name]);
    try {
      expect((await a.listLinks(ns.path)).map((l) => l.name)).toEqual(['lo']);
    } finally {
      execFileSync('ip', ['netns', 'del', ns.name]);
    }
  });

  it('a netns re-created under the same path is used at once, never the old one kept alive by our sockets', async () => {
    addPlainLink(ns, 'old0');
    expect((await a.listLinks(ns.path)).map((l) => l.name).sort()).toEqual(['lo', 'old0']);
    expect((await a.getLink(ns.path, 'old0')).name).toBe('old0');
    // no adapter call in between: the cached sockets still sit in the old namespace
    ns.remove();
    execFileSync('ip', ['netns', 'add', ns.name]);
    try {
      await expectNetlinkError(a.getLink(ns.path, 'old0'), { op: 'getLink', netns: ns.path, errno: 'ENODEV' });
      const { fds } = await a.createTap({ netns: ns.path, name: 'new0', queues: 1 });
      await a.closeFds(fds);
      expect(execFileSync('ip', ['-n', ns.name, '-o', 'link', 'show', 'new0']).toString()).toMatch(/new0/);
      expect((await a.listLinks(ns.path)).map((l) => l.name).sort()).toEqual(['lo', 'new0']);
    } finally {
      execFileSync('ip', ['netns', 'del', ns.name]);
    }
  });

  it('a netns reached through a symlink (revalidated by stat) is re-resolved after delete + re-create', async () => {
    const dir = mkdtempSync(join('/tmp', `tst-${process.pid}-nslink-`));
    const link = join(dir, 'ns');
    symlinkSync(ns.path, link);
    try {
      addPlainLink(ns, 'old0');
      expect((await a.getLink(link, 'old0')).name).toBe('old0');
      ns.remove();
      await expectNetlinkError(a.getLink(link, 'old0'), { op: 'getLink', netns: link, errno: 'ENOENT' });
      execFileSync('ip', ['netns', 'add', ns.name]);
      try {
        await expectNetlinkError(a.getLink(link, 'old0'), { op: 'getLink', netns: link, errno: 'ENODEV' });
        expect((await a.listLinks(link)).map((l) => l.name)).toEqual(['lo']);
      } finally {
        execFileSync('ip', ['netns', 'del', ns.name]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('short calls keep working when a burst spills them over to the workers', async () => {
    const names = Array.from({ length: 24 }, (_, i) => `s${i}`);
    const fdss = await Promise.all(names.map((n) => a.createTap({ netns: ns.path, name: n, queues: 2 })));
    await Promise.all(names.map((n) => a.setUp(ns.path, n, true)));
    for (const n of names) expect((await a.getLink(ns.path, n)).flags.up).toBe(true);
    await Promise.all(fdss.map((c) => a.closeFds(c.fds)));
    await Promise.all(names.map((n) => a.setUp(ns.path, n, false)));
    const links = await a.listLinks(ns.path);
    for (const n of names) {
      const l = links.find((x) => x.name === n);
      expect(l?.flags.up).toBe(false);
      expect(l?.tun?.numQueues).toBe(0);
    }
    expect(tunFdCount()).toBe(0);
  });

  it('the worker hand-off never takes a late wake-up for a result (bursts of up/down, repeated)', async () => {
    // regression: a previous job's late Atomics.notify woke the next job's waiter, which then
    // read its own request bytes as the "result" (EIO "worker result: Expected ',' …")
    for (let round = 0; round < 8; round++) {
      const names = Array.from({ length: 16 }, (_, i) => `w${round}x${i}`);
      const created = await Promise.all(names.map((n) => a.createTap({ netns: ns.path, name: n, queues: 2 })));
      await Promise.all(names.map((n) => a.setUp(ns.path, n, true)));
      await Promise.all(created.map((c) => a.closeFds(c.fds)));
      await Promise.all(names.map((n) => a.setUp(ns.path, n, false)));
      await Promise.all(names.map((n) => a.deleteLink(ns.path, n)));
    }
    expect((await a.listLinks(ns.path)).map((l) => l.name)).toEqual(['lo']);
    expect(tunFdCount()).toBe(0);
  });

  it('the kernel extended-ack text is carried on the error', async () => {
    const { fds } = await a.createTap({ netns: ns.path, name: 't0', queues: 1 });
    const e = await expectNetlinkError(a.setMtu(ns.path, 't0', 65522), { op: 'setMtu', link: 't0', netns: ns.path, errno: 'EINVAL' });
    expect(e.extack).toMatch(/mtu/i);
    expect(e.errnoNumber).toBe(22);
    await a.closeFds(fds);
  });

  it('64 concurrent down+delete all finish, and the event loop keeps running meanwhile', async () => {
    const names = Array.from({ length: 64 }, (_, i) => `t${i}`);
    for (const n of names) await a.closeFds((await a.createTap({ netns: ns.path, name: n, queues: 1 })).fds);
    await Promise.all(names.map((n) => a.setUp(ns.path, n, true)));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      await Promise.all(names.map(async (n) => {
        await a.setUp(ns.path, n, false);
        await a.deleteLink(ns.path, n);
      }));
    } finally {
      clearInterval(timer);
    }
    expect(ticks).toBeGreaterThan(0);
    expect((await a.listLinks(ns.path)).map((l) => l.name)).toEqual(['lo']);
  });

  it('not root: creation fails with EPERM/EACCES as a NetlinkError', async () => {
    // Transpile the adapter into a temp dir, load it as root, drop to nobody, then try.
    const root = join(process.cwd());
    const dir = mkdtempSync(join('/tmp', `tst-${process.pid}-nonroot-`));
    try {
      // the adapter and what it imports: the netlink contract, and the pure core (error base, name rules)
      const files = [
        'src/adapters/netlink.ts',
        ...readdirSync(join(root, 'src/linux')).map((f) => `src/linux/${f}`),
        ...readdirSync(join(root, 'machines')).map((f) => `machines/${f}`),
      ];
      for (const f of files) {
        const out = ts.transpileModule(readFileSync(join(root, f), 'utf8'), {
          compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
        }).outputText;
        mkdirSync(dirname(join(dir, f)), { recursive: true });
        writeFileSync(join(dir, f).replace(/\.ts$/, '.js'), out);
      }
      writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
      symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
      writeFileSync(
        join(dir, 'child.mjs'),
        `import { LinuxNetlinkAdapter } from './src/linux/index.js';
         const a = new LinuxNetlinkAdapter();
         process.setgroups([]); process.setgid(65534); process.setuid(65534);
         const out = [];
         for (const [what, p] of [['own', a.createTap({ netns: '', name: 'tnr0', queues: 1 })],
                                  ['netns', a.createTap({ netns: process.argv[2], name: 'tnr0', queues: 1 })],
                                  ['mtu', a.setMtu('', 'lo', 1400)]]) {
           try { await p; out.push([what, 'ok']); } catch (e) { out.push([what, e.name, e.errno, e.op]); }
         }
         await a.close();
         console.log(JSON.stringify(out));`,
      );
      chmodSync(dir, 0o755);
      const res = JSON.parse(execFileSync(process.execPath, [join(dir, 'child.mjs'), ns.path]).toString()) as string[][];
      for (const r of res) {
        expect(r[1]).toBe('NetlinkError');
        expect(['EPERM', 'EACCES']).toContain(r[2]);
      }
      expect(res.map((r) => r[0])).toEqual(['own', 'netns', 'mtu']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('errors are NetlinkErrors with errno numbers from the kernel', async () => {
    const e = await a.deleteLink(ns.path, 'nope0').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(NetlinkError);
    expect((e as NetlinkError).errnoNumber).toBe(19);
  });
});
