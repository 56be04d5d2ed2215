/**
 * The daemon's caps on connections and event streams, with real sockets: one over the cap gets a
 * `503` in the error envelope and the connections already served are untouched; a freed slot is
 * free again. And the limits are checked at entry: a typed error naming the option, the flag and
 * the rule, nothing created.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { memoryDaemon } from './client.js';
import { Daemon } from '../../src/daemon/server.js';
import { DaemonOptionError } from '../../src/daemon/errors.js';

const CFG = { netnsPath: '/run/netns/limits', netnsCreated: true, vcpus: 1, vhost: false };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

/** A raw keep-alive connection: `ask` sends one request and resolves with its reply's status and body. */
async function conn(socketPath: string) {
  const s = net.connect(socketPath);
  cleanup.push(() => void s.destroy());
  s.on('error', () => {});
  await new Promise<void>((r) => s.once('connect', () => r()));
  let buf = '';
  let closed = false;
  s.on('data', (b) => (buf += b.toString()));
  s.on('close', () => (closed = true));
  /** The next full reply on the connection (within 3 s). */
  const reply = async (): Promise<{ status: number; body: any; close: boolean }> => {
    const end = Date.now() + 3000;
    for (;;) {
      const m = /^HTTP\/1\.1 (\d{3}) [^\r]*\r\n([\s\S]*?)\r\n\r\n/.exec(buf);
      const len = m ? Number(/content-length: (\d+)/i.exec(m[2]!)?.[1]) : NaN;
      if (m && buf.length >= m[0].length + len) {
        const body = JSON.parse(buf.slice(m[0].length, m[0].length + len));
        buf = buf.slice(m[0].length + len);
        return { status: Number(m[1]), body, close: /connection: close/i.test(m[2]!) };
      }
      if (Date.now() > end || (closed && !m)) throw new Error(`no reply (closed ${closed}): ${JSON.stringify(buf)}`);
      await sleep(10);
    }
  };
  return {
    socket: s,
    isClosed: () => closed,
    async ask(p = '/v1/health') {
      s.write(`GET ${p} HTTP/1.1\r\nhost: x\r\n\r\n`);
      return reply();
    },
    reply,
  };
}

/** Open an event stream; resolves with its status once the headers (or an error reply) came. */
function stream(socketPath: string, p: string): Promise<{ status: number; body: string; req: http.ClientRequest; res: http.IncomingMessage }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath, path: p, agent: false }, (res) => {
      cleanup.push(() => void req.destroy());
      if (res.statusCode === 200) return resolve({ status: 200, body: '', req, res });
      let body = '';
      res.on('data', (b) => (body += b.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body, req, res }));
    });
    req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e)));
  });
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('--max-connections', () => {
  it('one connection over the cap gets 503 too_many_connections and is closed; the others go on; a freed slot is free again', async () => {
    const logs: string[] = [];
    const d = await memoryDaemon({ maxConnections: 3, log: (l) => logs.push(l) });
    cleanup.push(() => d.stop());
    const held = [await conn(d.socketPath), await conn(d.socketPath), await conn(d.socketPath)];
    for (const c of held) expect((await c.ask()).status).toBe(200);
    const over = await conn(d.socketPath);
    const r = await over.reply();
    expect([r.status, r.body.error.type, r.body.error.code, r.body.error.limit, r.close]).toEqual([503, 'TooManyConnectionsError', 'too_many_connections', 3, true]);
    await until('the refused connection to close', () => over.isClosed());
    expect(logs.some((l) => /refused 1 connection\(s\): 3 open, --max-connections 3/.test(l))).toBe(true);
    // a flood of refusals harms no one: the held connections still answer, on the same sockets
    const flood = await Promise.all(Array.from({ length: 20 }, () => conn(d.socketPath)));
    for (const c of flood) expect((await c.reply()).status).toBe(503);
    for (const c of held) expect((await c.ask('/v1/version')).status).toBe(200);
    expect(held.every((c) => !c.isClosed())).toBe(true);
    // one hangs up: its slot is free for the next
    held[0]!.socket.destroy();
    await until('a freed slot', async () => {
      const c = await conn(d.socketPath);
      const x = await c.ask().catch(() => ({ status: 0 }));
      c.socket.destroy();
      return x.status === 200;
    });
  }, 20_000);

  it('a connection refused over the cap takes no slot: the cap counts the connections served', async () => {
    const d = await memoryDaemon({ maxConnections: 1 });
    cleanup.push(() => d.stop());
    const a = await conn(d.socketPath);
    expect((await a.ask()).status).toBe(200);
    expect((await (await conn(d.socketPath)).reply()).status).toBe(503);
    a.socket.destroy();
    await until('the slot to be free', async () => (await d.call('GET', '/v1/health').catch(() => ({ status: 0 }))).status === 200);
  });
});

describe('--max-event-streams', () => {
  it('one stream over the cap gets 503 too_many_event_streams; other requests and streams go on; an ended stream frees its slot', async () => {
    const d = await memoryDaemon({ maxEventStreams: 2 });
    cleanup.push(() => d.stop());
    await d.call('PUT', '/v1/sandboxes/a', CFG);
    await d.call('PUT', '/v1/sandboxes/b', CFG);
    const s1 = await stream(d.socketPath, '/v1/sandboxes/a/events');
    const s2 = await stream(d.socketPath, '/v1/sandboxes/b/events?since=0');
    expect([s1.status, s2.status]).toEqual([200, 200]);
    const over = await stream(d.socketPath, '/v1/sandboxes/a/events');
    const err = JSON.parse(over.body).error;
    expect([over.status, err.type, err.code, err.limit]).toEqual([503, 'TooManyEventStreamsError', 'too_many_event_streams', 2]);
    // the open streams still get the live records
    const got: string[] = [];
    s1.res.on('data', (b: Buffer) => got.push(b.toString()));
    expect((await d.call('POST', '/v1/sandboxes/a/endpoints', { idx: 0 })).status).toBe(201);
    await until('the live record on the first stream', () => got.join('').includes('"seq"'));
    // the reader hangs up: its slot is free
    s1.req.destroy();
    await until('a freed slot', async () => {
      const s = await stream(d.socketPath, '/v1/sandboxes/a/events');
      s.req.destroy();
      return s.status === 200;
    });
    // a stream the daemon ends (its sandbox deleted) frees its slot too
    const s3 = await stream(d.socketPath, '/v1/sandboxes/a/events');
    expect(s3.status).toBe(200);
    expect((await d.call('DELETE', '/v1/sandboxes/b')).status).toBe(204);
    await until('the slot of the ended stream', async () => {
      const s = await stream(d.socketPath, '/v1/sandboxes/a/events');
      s.req.destroy();
      return s.status === 200;
    });
  }, 20_000);
});

describe('limits are checked at entry', () => {
  it('a bad limit is a DaemonOptionError naming the option, the flag and the rule; nothing is created', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-limits-${process.pid}-`));
    cleanup.push(() => fs.rmSync(tmp, { recursive: true, force: true }));
    const socketPath = path.join(tmp, 'run', 'api.sock');
    const stateDir = path.join(tmp, 'state');
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ maxConnections: 0 }, 'maxConnections', '--max-connections'],
      [{ maxEventStreams: 1.5 }, 'maxEventStreams', '--max-event-streams'],
      [{ maxEventStreams: Number.NaN }, 'maxEventStreams', '--max-event-streams'],
      [{ eventsBehindBytes: -1 }, 'eventsBehindBytes', '--events-behind-bytes'],
      [{ maxBodyBytes: '1024' }, 'maxBodyBytes', '--max-body'],
      [{ idleTimeoutMs: 2 ** 60 }, 'idleTimeoutMs', '--idle-timeout-ms'],
    ];
    for (const [opt, option, flag] of cases) {
      const e = await Daemon.start({ socketPath, stateDir, env: { ...process.env, TAPSTATE_ADAPTERS: 'memory' }, ...opt }).catch((x: unknown) => x);
      expect(e, option).toBeInstanceOf(DaemonOptionError);
      expect([(e as DaemonOptionError).option, (e as DaemonOptionError).flag, (e as DaemonOptionError).rule]).toEqual([option, flag, 'positive-integer']);
      expect((e as Error).message).toMatch(new RegExp(`^${flag} \\(${option}\\): must be a positive integer`));
    }
    expect(fs.readdirSync(tmp)).toEqual([]);
  });
});
