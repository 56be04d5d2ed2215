import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { QmpClient, QmpError } from '../../src/qemu/qmp-client.js';
import { openFdCount } from './tap-helper.js';

const GREETING = '{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}}, "capabilities": []}}\r\n';

interface Fake {
  path: string;
  /** Commands received, in order. */
  received: { execute: string; id?: string; arguments?: unknown }[];
  server: net.Server;
  sockets: net.Socket[];
}

type Handler = (cmd: { execute: string; id?: string; arguments?: unknown }, s: net.Socket) => void;

const fakes: { fake: Fake; dir: string }[] = [];
afterEach(async () => {
  for (const { fake, dir } of fakes.splice(0)) {
    for (const s of fake.sockets) s.destroy();
    await new Promise((r) => fake.server.close(r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** A fake QMP server: greeting (unless `greeting` is given), qmp_capabilities → {}, then `handler`. */
async function fakeServer(handler: Handler, greeting: string | null = GREETING): Promise<Fake> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-qmpfake-${process.pid}-`));
  const fake: Fake = { path: path.join(dir, 'qmp.sock'), received: [], server: undefined as unknown as net.Server, sockets: [] };
  fake.server = net.createServer((s) => {
    fake.sockets.push(s);
    if (greeting !== null) s.write(greeting);
    let buf = '';
    s.on('error', () => undefined);
    s.on('data', (d) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const cmd = JSON.parse(buf.slice(0, nl)) as { execute: string; id?: string };
        buf = buf.slice(nl + 1);
        fake.received.push(cmd);
        if (cmd.execute === 'qmp_capabilities') s.write(JSON.stringify({ return: {}, id: cmd.id }) + '\r\n');
        else handler(cmd, s);
      }
    });
  });
  await new Promise<void>((r) => fake.server.listen(fake.path, r));
  fakes.push({ fake, dir });
  return fake;
}

const reply = (s: net.Socket, id: string | undefined, value: unknown) => s.write(JSON.stringify({ return: value, id }) + '\r\n');

describe('QmpClient (fake server)', () => {
  it('negotiates capabilities and matches answers by id, even out of order', async () => {
    const held: [net.Socket, string | undefined][] = [];
    const fake = await fakeServer((cmd, s) => {
      held.push([s, cmd.id]);
      if (held.length === 2) {
        reply(s, held[1]![1], 'second');
        reply(s, held[0]![1], 'first');
      }
    });
    const c = await QmpClient.connect(fake.path);
    const [a, b] = await Promise.all([c.execute('one'), c.execute('two', { x: 1 })]);
    expect([a, b]).toEqual(['first', 'second']);
    expect(fake.received.map((r) => r.execute)).toEqual(['qmp_capabilities', 'one', 'two']);
    expect(fake.received[2]!.arguments).toEqual({ x: 1 });
    c.close();
  });

  it('a QMP error becomes a typed QmpError with class and desc', async () => {
    const fake = await fakeServer((cmd, s) => s.write(JSON.stringify({ error: { class: 'DeviceNotFound', desc: "Device 'x' not found" }, id: cmd.id }) + '\r\n'));
    const c = await QmpClient.connect(fake.path);
    const e = await c.execute('device_del', { id: 'x' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(QmpError);
    expect(e).toMatchObject({ kind: 'command', command: 'device_del', qmpClass: 'DeviceNotFound', desc: "Device 'x' not found" });
    c.close();
  });

  it('split and merged frames are reassembled', async () => {
    const fake = await fakeServer((cmd, s) => {
      const line = JSON.stringify({ return: 'ok-' + cmd.execute, id: cmd.id }) + '\r\n';
      s.write(line.slice(0, 5));
      setTimeout(() => s.write(line.slice(5)), 10);
    });
    const c = await QmpClient.connect(fake.path);
    expect(await c.execute('a')).toBe('ok-a');
    c.close();
    const merged = await fakeServer(() => undefined, null);
    merged.server.removeAllListeners('connection');
    merged.server.on('connection', (s) => {
      merged.sockets.push(s);
      s.on('data', (d) => {
        for (const l of d.toString().split('\n').filter(Boolean)) {
          const cmd = JSON.parse(l) as { id: string; execute: string };
          if (cmd.execute === 'go') s.write(`{"event":"E1","data":{}}\r\n{"return":7,"id":"${cmd.id}"}\r\n{"event":"E2","data":{"n":2}}\r\n`);
          else s.write(`{"return":{},"id":"${cmd.id}"}\r\n`);
        }
      });
      s.write(GREETING);
    });
    const m = await QmpClient.connect(merged.path);
    const sub = m.subscribe('E2');
    expect(await m.execute('go')).toBe(7);
    expect((await sub.next(1000)).data).toEqual({ n: 2 });
    m.close();
  });

  it('events: subscriptions filter, queue early events, and time out', async () => {
    const fake = await fakeServer((cmd, s) => {
      reply(s, cmd.id, {});
      s.write('{"event":"DEVICE_DELETED","data":{"path":"/machine/peripheral/d1/virtio-backend"}}\r\n');
      s.write('{"event":"DEVICE_DELETED","data":{"device":"d1","path":"/machine/peripheral/d1"}}\r\n');
    });
    const c = await QmpClient.connect(fake.path);
    const seen: string[] = [];
    c.onEvent((e) => seen.push(e.event));
    const sub = c.subscribe('DEVICE_DELETED', (e) => e.data['device'] === 'd1');
    await c.execute('device_del', { id: 'd1' });
    await new Promise((r) => setTimeout(r, 20));
    expect((await sub.next(100)).data['device']).toBe('d1'); // queued before next()
    await expect(sub.next(50)).rejects.toMatchObject({ kind: 'timeout' });
    sub.cancel();
    expect(seen).toEqual(['DEVICE_DELETED', 'DEVICE_DELETED']);
    c.close();
  });

  it('a command without answer times out; its late answer is dropped; later commands still work', async () => {
    let first: { s: net.Socket; id: string | undefined } | undefined;
    const fake = await fakeServer((cmd, s) => {
      if (cmd.execute === 'slow') first = { s, id: cmd.id };
      else {
        if (first) reply(first.s, first.id, 'late');
        reply(s, cmd.id, 'fast');
      }
    });
    const c = await QmpClient.connect(fake.path);
    await expect(c.execute('slow', undefined, { timeoutMs: 50 })).rejects.toMatchObject({ kind: 'timeout', command: 'slow' });
    expect(await c.execute('quick')).toBe('fast');
    expect(c.connected).toBe(true);
    c.close();
  });

  it('garbage from the server closes the connection with a garbled error for pending commands', async () => {
    const fake = await fakeServer((_cmd, s) => s.write('this is not json\r\n'));
    const c = await QmpClient.connect(fake.path);
    await expect(c.execute('x')).rejects.toMatchObject({ kind: 'garbled' });
    expect(c.connected).toBe(false);
    await expect(c.execute('y')).rejects.toMatchObject({ kind: 'disconnected' });
  });

  it('a server close rejects pending commands and waits with disconnected', async () => {
    const fake = await fakeServer((_cmd, s) => setTimeout(() => s.destroy(), 20));
    const c = await QmpClient.connect(fake.path);
    const closed = new Promise((r) => c.onClose(r));
    const sub = c.subscribe('NEVER');
    const wait = sub.next(5000);
    await expect(c.execute('x')).rejects.toMatchObject({ kind: 'disconnected' });
    await expect(wait).rejects.toMatchObject({ kind: 'disconnected' });
    await closed;
  });

  it('connect: missing socket → disconnected; no greeting → timeout; no fd leaked', async () => {
    const silent = await fakeServer(() => undefined, null);
    const rude = await fakeServer(() => undefined, '{"oops": true}\r\n');
    const before = openFdCount(); // after the fake servers' listening sockets exist
    await expect(QmpClient.connect('/nonexistent/dir/qmp.sock')).rejects.toMatchObject({ kind: 'disconnected' });
    await expect(QmpClient.connect(silent.path, { connectTimeoutMs: 100 })).rejects.toMatchObject({ kind: 'timeout' });
    await expect(QmpClient.connect(rude.path)).rejects.toMatchObject({ kind: 'garbled' });
    await new Promise((r) => setTimeout(r, 20));
    expect(openFdCount()).toBe(before);
  });

  it('passFd sends getfd with names unique per connection (fd arrival itself is proven against real QEMU)', async () => {
    const fake = await fakeServer((cmd, s) => reply(s, cmd.id, {}));
    const c = await QmpClient.connect(fake.path);
    const fd = fs.openSync('/dev/null', 'r');
    try {
      const names = await Promise.all([c.passFd(fd), c.passFd(fd), c.passFd(fd, 'vhostfd')]);
      expect(names).toEqual(['fd0', 'fd1', 'vhostfd2']);
      expect(fake.received.filter((r) => r.execute === 'getfd').map((r) => r.arguments)).toEqual([{ fdname: 'fd0' }, { fdname: 'fd1' }, { fdname: 'vhostfd2' }]);
    } finally {
      fs.closeSync(fd);
      c.close();
    }
  });
});
