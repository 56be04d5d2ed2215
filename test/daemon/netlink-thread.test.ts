/**
 * The daemon's netlink adapter on its own thread (src/daemon/netlink-thread.ts, `tapstate serve
 * --netlink-thread`): the whole netlink contract against the real kernel through it (same
 * results, same typed NetlinkErrors), the event loop keeps turning while it works, and which
 * adapter the daemon runs. Root required.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { NetlinkError } from '../../src/adapters/netlink.js';
import { ThreadedNetlinkAdapter } from '../../src/daemon/netlink-thread.js';
import { sharedNetlinkFor } from '../../src/daemon/sandbox-store.js';
import { LinuxNetlinkAdapter } from '../../src/linux/adapter.js';
import { request } from './client.js';
import { startDaemon } from './daemon-process.js';
import { netlinkContract } from '../adapters/netlink.contract.js';
import { addPlainLink, makeNetns, realKernelHarness, requireRoot } from '../linux/fixture.js';

/** The compiled worker (the tests run the TypeScript sources; `npm test` builds first). */
const workerUrl = pathToFileURL(path.resolve('dist/src/daemon/netlink-thread-worker.js'));

beforeAll(() => requireRoot());

netlinkContract('ThreadedNetlinkAdapter (the daemon\'s; real kernel, on a worker thread)', async () => realKernelHarness(() => new ThreadedNetlinkAdapter({ workerUrl })));

describe('ThreadedNetlinkAdapter', () => {
  it('the main thread never makes the kernel call: a timer keeps firing while 40 taps are created and brought up', async () => {
    requireRoot();
    const ns = makeNetns();
    const a = new ThreadedNetlinkAdapter({ workerUrl });
    const fds: number[] = [];
    try {
      await a.netnsExists(ns.path); // the thread is up
      let ticks = 0;
      const t = setInterval(() => ticks++, 1);
      await Promise.all(
        Array.from({ length: 40 }, async (_, i) => {
          const tap = await a.createTap({ netns: ns.path, name: `tq${i}`, queues: 1 });
          fds.push(...tap.fds);
          await a.setMtu(ns.path, `tq${i}`, 1400);
          await a.setUp(ns.path, `tq${i}`, true);
        }),
      );
      clearInterval(t);
      expect(ticks).toBeGreaterThan(0);
      expect((await a.getLink(ns.path, 'tq7')).mtu).toBe(1400);
    } finally {
      await a.closeFds(fds);
      await a.close();
      ns.remove();
    }
  });

  it('a call after close starts a new thread; an unknown method is refused by the thread', async () => {
    requireRoot();
    const a = new ThreadedNetlinkAdapter({ workerUrl });
    try {
      expect(await a.netnsExists('/proc/self/ns/net')).toBe(true);
      await a.close();
      expect(await a.netnsExists(`/run/netns/tst-${process.pid}-nope`)).toBe(false);
      const call = (a as unknown as { call(m: string, args: unknown[]): Promise<unknown> }).call.bind(a);
      await expect(call('close', [])).rejects.toThrow(/no method "close"/);
    } finally {
      await a.close();
    }
  });

  it('errors keep their type and fields across the thread', async () => {
    requireRoot();
    const a = new ThreadedNetlinkAdapter({ workerUrl });
    try {
      const e = await a.setMtu('/proc/self/ns/net', 'no-such-link0', 1400).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(NetlinkError);
      expect(e).toMatchObject({ op: 'setMtu', link: 'no-such-link0', errno: 'ENODEV', errnoNumber: 19, code: 'NETLINK_ERROR' });
    } finally {
      await a.close();
    }
  });
});

describe('which netlink adapter the daemon runs', () => {
  it('by default the library\'s own, on the event loop; with --netlink-thread (netlinkThread) the threaded one; none with the in-memory adapters', async () => {
    const inline = await sharedNetlinkFor({ TAPSTATE_ADAPTERS: 'real' });
    const threaded = await sharedNetlinkFor({ TAPSTATE_ADAPTERS: 'real' }, true);
    try {
      expect(inline).toBeInstanceOf(LinuxNetlinkAdapter);
      expect(threaded).toBeInstanceOf(ThreadedNetlinkAdapter);
      expect(await sharedNetlinkFor({ TAPSTATE_ADAPTERS: 'memory' }, true)).toBeUndefined();
    } finally {
      await inline?.close();
      await threaded?.close();
    }
  });

  it('tapstate serve --netlink-thread: a cold attach and its detach through the API, on the real kernel', async () => {
    const ns = makeNetns();
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-nlthread-${process.pid}-`));
    const sock = path.join(tmp, 'api.sock');
    const d = startDaemon(sock, path.join(tmp, 'state'), {}, ['--netlink-thread']);
    try {
      await d.ready();
      addPlainLink(ns, 'eth0');
      expect((await request(sock, 'PUT', '/v1/sandboxes/nt', { netnsPath: ns.path, netnsCreated: true, vcpus: 2, vhost: false })).status).toBe(201);
      expect((await request(sock, 'POST', '/v1/sandboxes/nt/endpoints', { idx: 0, ifName: 'eth0', mac: '02:00:00:00:0f:01' })).status).toBe(201);
      const att = await request(sock, 'POST', '/v1/sandboxes/nt/endpoints/ep0/actions', { action: 'attach' });
      expect([att.status, att.body.state], JSON.stringify(att.body)).toEqual([200, 'attached']);
      expect(execFileSync('ip', ['-n', ns.name, '-o', 'link', 'show', 'tap0_kata'], { encoding: 'utf8' })).toMatch(/tap0_kata/);
      const det = await request(sock, 'POST', '/v1/sandboxes/nt/endpoints/ep0/actions', { action: 'detach' });
      expect([det.status, det.body.state], JSON.stringify(det.body)).toEqual([200, 'detached']);
      expect(execFileSync('ip', ['-n', ns.name, '-o', 'link', 'show'], { encoding: 'utf8' })).not.toMatch(/tap0_kata/);
    } finally {
      await d.stop();
      ns.remove();
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
