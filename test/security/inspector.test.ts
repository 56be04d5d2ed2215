/**
 * Issue #9.3: `tapstate inspect` listened on every address, accepted any Origin, relayed any
 * client's message to every client, and crashed with a stack trace on a port in use. Now:
 * loopback by default, `--listen` opt-in with a warning, Origin and Host checks, read-only
 * clients, and a one-line InspectorListenError.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startCli, type CliChild } from '../torture/world.js';
import { cli, MEMORY } from './cli-support.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-insp-${process.pid}-`));
const store = path.join(tmp, 'store');
for (const args of [
  ['init', '--store', store, '--netns', '/run/netns/x'],
  ['add', '--store', store, '--idx', '0', '--mac', '02:00:00:00:00:42'],
]) {
  const r = cli(args);
  if (r.code !== 0) throw new Error(r.stderr);
}
let child: CliChild | null = null;
afterEach(async () => {
  child?.kill();
  if (child) await child.done;
  child = null;
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A non-loopback IPv4 address of this host (the test fails loudly without one). */
function externalAddress(): string {
  const a = Object.values(os.networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal);
  if (!a) throw new Error('this test needs a non-loopback IPv4 address on the host');
  return a.address;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Start `tapstate inspect` and wait until it serves. */
async function serve(extra: string[] = []): Promise<{ port: number; child: CliChild; out: () => string }> {
  const port = await freePort();
  const c = startCli(['inspect', '--store', store, '--port', String(port), ...extra], MEMORY);
  child = c;
  let text = '';
  const deadline = Date.now() + 20_000;
  const done = c.done.then((r) => (text = r.stdout + r.stderr));
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, extra.includes('--listen') ? extra[extra.indexOf('--listen') + 1]! : '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`inspect did not start: ${text}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  void done;
  return { port, child: c, out: () => text };
}

/** A WebSocket upgrade request: the status code the server answers (101, 403), or the connect error code. */
function upgrade(host: string, port: number, headers: Record<string, string> = {}): Promise<number | string> {
  return new Promise((resolve) => {
    const req = http.request({
      host,
      port,
      path: '/',
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    req.end();
  });
}

interface WsClient {
  on(ev: string, fn: (...a: any[]) => void): void;
  send(d: string): void;
  close(): void;
}
const WebSocket = createRequire(import.meta.url)('ws') as new (url: string, opts?: object) => WsClient;
function wsConnect(url: string): Promise<{ ws: WsClient; messages: string[] }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const messages: string[] = [];
    ws.on('message', (d: Buffer) => messages.push(d.toString()));
    ws.on('open', () => resolve({ ws, messages }));
    ws.on('error', reject);
  });
}

describe('tapstate inspect: who can read the log', () => {
  it('listens on loopback only by default', async () => {
    const { port } = await serve();
    expect(await upgrade('127.0.0.1', port)).toBe(101);
    expect(await upgrade(externalAddress(), port)).toBe('ECONNREFUSED');
  });

  it('refuses a foreign Origin and a non-loopback Host (DNS rebinding); accepts its own page and Origin-less tools', async () => {
    const { port } = await serve();
    expect(await upgrade('127.0.0.1', port, { Origin: 'http://evil.example' })).toBe(403);
    expect(await upgrade('127.0.0.1', port, { Origin: 'null' })).toBe(403);
    expect(await upgrade('127.0.0.1', port, { Host: `evil.example:${port}` })).toBe(403);
    expect(await upgrade('127.0.0.1', port, { Origin: `http://localhost:${port}` })).toBe(101);
    expect(await upgrade('127.0.0.1', port, { Origin: `http://127.0.0.1:${port}` })).toBe(101);
  });

  it('clients are read-only: a message from one never reaches another', async () => {
    const { port } = await serve();
    const a = await wsConnect(`ws://127.0.0.1:${port}`);
    const b = await wsConnect(`ws://127.0.0.1:${port}`);
    await new Promise((r) => setTimeout(r, 300));
    expect(b.messages.some((m) => m.includes('02:00:00:00:00:42'))).toBe(true); // it does serve the history
    const before = b.messages.length;
    a.ws.send(JSON.stringify({ type: '@xstate.snapshot', sessionId: 'ep0', snapshot: { value: 'forged' } }));
    await new Promise((r) => setTimeout(r, 500));
    expect(b.messages.slice(before)).toEqual([]);
    a.ws.close();
    b.ws.close();
  });

  it('--listen serves another address, with a warning on stderr', async () => {
    const addr = externalAddress();
    const { port, child: c } = await serve(['--listen', addr]);
    expect(await upgrade(addr, port)).toBe(101);
    expect(await upgrade(addr, port, { Origin: 'http://evil.example' })).toBe(403);
    c.kill();
    const r = await c.done;
    expect(r.stderr).toMatch(new RegExp(`^tapstate: WARNING: serving this store's history \\(MACs, netns paths, errors\\) on ${addr.replace(/\./g, '\\.')}:${port}`, 'm'));
  });

  it('a port in use is one typed line, exit 1, no stack trace', async () => {
    const holder = net.createServer();
    const port = await new Promise<number>((resolve) => holder.listen(0, '127.0.0.1', () => resolve((holder.address() as net.AddressInfo).port)));
    try {
      const r = cli(['inspect', '--store', store, '--port', String(port)]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`tapstate: InspectorListenError: 127.0.0.1:${port} is in use by another process: choose another --port (EADDRINUSE)\n`);
      expect(r.stdout).toBe('');
    } finally {
      holder.close();
    }
  });
});
