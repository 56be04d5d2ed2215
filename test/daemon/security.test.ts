/**
 * The daemon's security: the socket's mode and group, the SO_PEERCRED peer check (a client of
 * another uid is refused even when the socket's mode lets it connect; a member of --group is
 * admitted), the body size limit, slow and idle connection timeouts, and no TCP or UDP socket at all.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { memoryDaemon, request } from './client.js';
import { CLI } from '../torture/world.js';

const NOBODY = 65534;
const GROUP = 47_123; // a gid no one else uses
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error('the security tests need root (to run clients as another uid): run them as root');
}

async function daemon(opts: Parameters<typeof memoryDaemon>[0] = {}) {
  const d = await memoryDaemon(opts);
  cleanup.push(() => d.stop());
  return d;
}

/** GET `p` from a child process running as `uid`/`gid`; its status and body (or the connect error). */
function getAs(uid: number, gid: number, socketPath: string, p: string): Promise<{ status: number; body: any; error?: string }> {
  const script = `
    const http = require('node:http');
    const req = http.get({ socketPath: ${JSON.stringify(socketPath)}, path: ${JSON.stringify(p)} }, (res) => {
      let b = ''; res.on('data', (c) => (b += c)); res.on('end', () => { process.stdout.write(JSON.stringify({ status: res.statusCode, body: JSON.parse(b) })); });
    });
    req.on('error', (e) => process.stdout.write(JSON.stringify({ status: 0, body: null, error: e.code })));`;
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ['-e', script], { uid, gid, cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (b: Buffer) => (out += b.toString()));
    c.stderr.on('data', (b: Buffer) => (err += b.toString()));
    c.on('close', () => {
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(new Error(`client as uid ${uid}: ${out} ${err}`));
      }
    });
  });
}

/** Open a raw connection, write `data`, and resolve with how long until the daemon closed it (ms). */
function closedAfter(socketPath: string, data: string): Promise<{ ms: number; reply: string }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const s = net.connect(socketPath, () => s.write(data));
    let reply = '';
    s.on('data', (b) => (reply += b.toString()));
    s.on('error', () => {});
    s.on('close', () => resolve({ ms: performance.now() - t0, reply }));
  });
}

describe('the socket', () => {
  it('is created 0600, owned by the daemon', async () => {
    const d = await daemon();
    const st = fs.statSync(d.socketPath);
    expect(st.isSocket()).toBe(true);
    expect((st.mode & 0o777).toString(8)).toBe('600');
    expect(st.uid).toBe(process.geteuid!());
  });

  it('with --group: 0660 and owned by the group', async () => {
    const d = await daemon({ gid: GROUP });
    const st = fs.statSync(d.socketPath);
    expect([(st.mode & 0o777).toString(8), st.gid]).toEqual(['660', GROUP]);
  });
});

describe('SO_PEERCRED', () => {
  it('refuses a peer of another uid even when the socket mode would let it in', async () => {
    requireRoot();
    const d = await daemon();
    fs.chmodSync(d.tmp, 0o755);
    // the mode alone keeps it out…
    expect((await getAs(NOBODY, NOBODY, d.socketPath, '/v1/health')).error).toBe('EACCES');
    // …and the peer check does when the mode does not
    fs.chmodSync(d.socketPath, 0o666);
    const r = await getAs(NOBODY, NOBODY, d.socketPath, '/v1/health');
    expect([r.status, r.body.error.code, r.body.error.uid]).toEqual([403, 'peer_rejected', NOBODY]);
  });

  it('admits root, and a member of --group', async () => {
    requireRoot();
    const d = await daemon({ gid: GROUP });
    fs.chmodSync(d.tmp, 0o755);
    expect((await request(d.socketPath, 'GET', '/v1/health')).status).toBe(200);
    expect((await getAs(NOBODY, GROUP, d.socketPath, '/v1/health')).status).toBe(200);
    // another gid: the socket mode refuses it; with the mode opened, the peer check does
    fs.chmodSync(d.socketPath, 0o666);
    expect((await getAs(NOBODY, NOBODY, d.socketPath, '/v1/health')).status).toBe(403);
  });
});

describe('limits and timeouts', () => {
  it('a body over the limit is refused with 413, declared or chunked', async () => {
    const d = await daemon({ maxBodyBytes: 1024 });
    await d.call('PUT', '/v1/sandboxes/sb', { netnsPath: '/run/netns/x' });
    const big = JSON.stringify({ idx: 1, ifName: 'x'.repeat(2000) });
    const r = await d.call('POST', '/v1/sandboxes/sb/endpoints', big);
    expect([r.status, r.body.error.code, r.body.error.limit]).toEqual([413, 'body_too_large', 1024]);
    const chunked = await closedAfter(
      d.socketPath,
      `POST /v1/sandboxes/sb/endpoints HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n${(3000).toString(16)}\r\n${'x'.repeat(3000)}\r\n0\r\n\r\n`,
    );
    expect(chunked.reply).toMatch(/^HTTP\/1\.1 413 /);
    expect((await d.call('GET', '/v1/sandboxes/sb/endpoints')).body.endpoints).toEqual([]);
  });

  it('a client that sends its headers too slowly is cut off', async () => {
    const d = await daemon({ headersTimeoutMs: 300 });
    const r = await closedAfter(d.socketPath, 'GET /v1/health HTTP/1.1\r\nhost: x\r\n');
    expect(r.ms).toBeGreaterThanOrEqual(250);
    expect(r.ms).toBeLessThan(3000);
    expect(r.reply).toMatch(/^HTTP\/1\.1 408 |^$/);
  }, 10_000);

  it('a client that sends its body too slowly is cut off', async () => {
    const d = await daemon({ headersTimeoutMs: 200, requestTimeoutMs: 400 });
    const r = await closedAfter(d.socketPath, 'PUT /v1/sandboxes/slow HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"netns');
    expect(r.ms).toBeGreaterThanOrEqual(350);
    expect(r.ms).toBeLessThan(3000);
    expect(fs.existsSync(path.join(d.stateDir, 'slow'))).toBe(false);
  }, 10_000);

  it('a long operation is never cut by the timeouts: they bound receiving a request, not running it', async () => {
    const d = await memoryDaemon({ headersTimeoutMs: 200, requestTimeoutMs: 300, idleTimeoutMs: 200 }, { TAPSTATE_TEST_EFFECT_DELAY_MS: '200' });
    cleanup.push(() => d.stop());
    await d.call('PUT', '/v1/sandboxes/sb', { netnsPath: '/run/netns/x', qmp: '/run/x/qmp.sock' });
    await d.call('POST', '/v1/sandboxes/sb/endpoints', { idx: 0 });
    const t0 = performance.now();
    const r = await d.call('POST', '/v1/sandboxes/sb/endpoints/ep0/actions', { action: 'hot-attach' });
    expect([r.status, r.body.state]).toEqual([200, 'hotAttached']);
    expect(performance.now() - t0).toBeGreaterThan(700);
  }, 20_000);

  it('an idle keep-alive connection is closed', async () => {
    const d = await daemon({ idleTimeoutMs: 200 });
    const r = await closedAfter(d.socketPath, 'GET /v1/health HTTP/1.1\r\nhost: x\r\n\r\n');
    expect(r.reply).toMatch(/^HTTP\/1\.1 200 /);
    expect(r.ms).toBeGreaterThanOrEqual(150);
    expect(r.ms).toBeLessThan(3000);
  });
});

describe('the daemon process', () => {
  it('has no TCP or UDP socket, replaces a stale socket file, and refuses a second daemon on a live one', async () => {
    requireRoot();
    const d = await daemon();
    // a second daemon on the same socket: refused
    await expect(memoryDaemon({ socketPath: d.socketPath })).rejects.toThrow(/another daemon is listening there/);
    await expect(memoryDaemon({ socketPath: d.socketPath })).rejects.toMatchObject({ name: 'SocketPathError', path: d.socketPath });
    const sock = path.join(d.tmp, 'child.sock');
    const start = () => {
      const c = spawn(process.execPath, [CLI, 'serve', '--socket', sock, '--state-dir', path.join(d.tmp, 'child-state')], { env: { ...process.env, TAPSTATE_ADAPTERS: 'memory' }, stdio: 'ignore' });
      cleanup.push(() => void (c.exitCode === null && c.signalCode === null && c.kill('SIGKILL')));
      return c;
    };
    const waitUp = async () => {
      for (let i = 0; i < 300; i++) {
        if ((await request(sock, 'GET', '/v1/health').catch(() => ({ status: 0 }))).status === 200) return;
        await sleep(20);
      }
      throw new Error('child daemon did not come up');
    };
    const c1 = start();
    await waitUp();
    const inodes = (pid: number) =>
      fs
        .readdirSync(`/proc/${pid}/fd`)
        .map((f) => {
          try {
            return /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${f}`))?.[1];
          } catch {
            return undefined;
          }
        })
        .filter((x): x is string => x !== undefined);
    const ours = new Set(inodes(c1.pid!));
    expect(ours.size).toBeGreaterThan(0);
    for (const table of ['tcp', 'tcp6', 'udp', 'udp6']) {
      const rows = fs.readFileSync(`/proc/${c1.pid}/net/${table}`, 'utf8').split('\n').slice(1).filter(Boolean);
      for (const row of rows) expect(ours.has(row.trim().split(/\s+/)[9]!), `${table}: ${row}`).toBe(false);
    }
    const unix = fs.readFileSync('/proc/net/unix', 'utf8').split('\n').filter((l) => l.endsWith(` ${sock}`));
    expect(unix.some((l) => ours.has(l.trim().split(/\s+/)[6]!))).toBe(true);
    // kill -9 leaves the socket file: the next daemon replaces it
    c1.kill('SIGKILL');
    await new Promise((r) => c1.once('exit', r));
    expect(fs.existsSync(sock)).toBe(true);
    start();
    await waitUp();
  });
});
