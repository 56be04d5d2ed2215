/**
 * Hostile and careless requests, as a client would send them over the socket: each gets the API's
 * error envelope with the right status, naming the field and the rule; nothing changes on disk;
 * the daemon stays healthy. Each case here failed before its fix (a 500, node's bare reply, a
 * silently changed value, or a request routed elsewhere).
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { memoryDaemon } from './client.js';
import { checkNetnsPath } from '../../src/daemon/validate.js';
import { RequestFieldError } from '../../src/daemon/errors.js';

const CFG = { netnsPath: '/run/netns/hostile', netnsCreated: true, vcpus: 1, vhost: false };

let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function daemon(env: Record<string, string> = {}) {
  const d = await memoryDaemon({}, env);
  cleanup.push(() => d.stop());
  return d;
}

/** Every file under `dir` with its size: what "nothing changed on disk" compares. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(`${path.relative(dir, p)} ${fs.statSync(p).size}`);
    }
  };
  walk(dir);
  return out.sort();
}

/** Send raw bytes, read until the daemon closes the connection (or `ms`), return the reply. */
function raw(socketPath: string, data: Buffer | string, ms = 2000): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(socketPath, () => s.write(data));
    let reply = '';
    const t = setTimeout(() => s.destroy(), ms);
    s.on('data', (b) => (reply += b.toString()));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(t);
      resolve(reply);
    });
  });
}

/** Status and parsed error body of a raw HTTP reply (the first one on the connection). */
function parse(reply: string): { status: number; body: any } {
  const m = /^HTTP\/1\.1 (\d{3}) [^\r]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(reply);
  if (!m) throw new Error(`not an HTTP reply: ${JSON.stringify(reply.slice(0, 200))}`);
  const len = Number(/content-length: (\d+)/i.exec(m[2]!)?.[1] ?? -1);
  return { status: Number(m[1]), body: len >= 0 ? JSON.parse(Buffer.from(m[3]!).subarray(0, len).toString()) : m[3] };
}

const post = (p: string, body: Buffer) =>
  Buffer.concat([Buffer.from(`POST ${p} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n`), body]);

describe('the request target', () => {
  it('an absolute URL that does not parse is a 400 naming the url, not a 500 TypeError', async () => {
    const d = await daemon();
    const r = parse(await raw(d.socketPath, 'GET http://[ HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n'));
    expect([r.status, r.body.error.type, r.body.error.field, r.body.error.rule]).toEqual([400, 'RequestFieldError', 'url', 'syntax']);
    // a well-formed absolute-form target still works (RFC 9112 §3.2.2)
    expect(parse(await raw(d.socketPath, 'GET http://tapstate/v1/health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n')).status).toBe(200);
    expect((await d.call('GET', '/v1/health')).status).toBe(200);
  });

  it('dot segments are ids, never resolved: endpoint ".." of a sandbox is not the sandbox itself', async () => {
    const d = await daemon();
    expect((await d.call('PUT', '/v1/sandboxes/sb', CFG)).status).toBe(201);
    for (const ep of ['..', '%2e%2e', '%2E.', '.']) {
      const r = parse(await raw(d.socketPath, `GET /v1/sandboxes/sb/endpoints/${ep} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`));
      expect([ep, r.status, r.body.error?.type]).toEqual([ep, 404, 'UnknownEndpointError']);
    }
    // a sandbox id ".." is refused by its pattern, not turned into another route
    const r = parse(await raw(d.socketPath, 'DELETE /v1/sandboxes/x/%2e%2e/sb HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n'));
    expect(r.status).toBe(404);
    expect((await d.call('GET', '/v1/sandboxes/sb')).status).toBe(200); // not deleted
    const dots = parse(await raw(d.socketPath, 'PUT /v1/sandboxes/.. HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}'));
    expect([dots.status, dots.body.error.field, dots.body.error.rule]).toEqual([400, 'sandbox', 'pattern']);
  });

  it('a query parameter given twice, or not in digits, is refused', async () => {
    const d = await daemon();
    await d.call('PUT', '/v1/sandboxes/sb', CFG);
    for (const q of ['since=0&since=5', 'since=', 'since=%205', 'since=1e3', 'since=0x10']) {
      const r = await d.call('GET', `/v1/sandboxes/sb/events?${q}`);
      expect([q, r.status, r.body.error.field]).toEqual([q, 400, 'since']);
    }
    const shape = await d.call('GET', '/v1/sandboxes/sb/persist?shape=v1&shape=v3');
    expect([shape.status, shape.body.error.field, shape.body.error.rule]).toEqual([400, 'shape', 'single']);
  });
});

describe('what node parses before any route: the error envelope, not a bare reply', () => {
  it('an unknown method, a bad Content-Length, a bad chunk, oversized headers, CONNECT', async () => {
    const d = await daemon();
    const cases: Array<[string, number, string]> = [
      ['FOO /v1/health HTTP/1.1\r\nhost: x\r\n\r\n', 400, 'malformed_request'],
      ['PUT /v1/sandboxes/q HTTP/1.1\r\nhost: x\r\ncontent-length: abc\r\n\r\n{}', 400, 'malformed_request'],
      ['PUT /v1/sandboxes/q HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\n{}', 400, 'malformed_request'],
      ['PUT /v1/sandboxes/q HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n', 400, 'malformed_request'],
      [`GET /v1/sandboxes/${'a'.repeat(20_000)} HTTP/1.1\r\nhost: x\r\n\r\n`, 431, 'headers_too_large'],
      ['CONNECT tapstate:80 HTTP/1.1\r\nhost: x\r\n\r\n', 405, 'method_not_allowed'], // was: the connection dropped, no reply
    ];
    for (const [req, status, code] of cases) {
      const r = parse(await raw(d.socketPath, req));
      expect([req.slice(0, 40), r.status, r.body.error.code]).toEqual([req.slice(0, 40), status, code]);
      expect(typeof r.body.error.message).toBe('string');
    }
    expect(fs.readdirSync(d.stateDir)).toEqual([]);
    expect((await d.call('GET', '/v1/health')).status).toBe(200);
  });

  it('a malformed request pipelined behind a running action is never answered as if it were that action', async () => {
    const d = await daemon({ TAPSTATE_TEST_EFFECT_DELAY_MS: '100' });
    await d.call('PUT', '/v1/sandboxes/sb', { ...CFG, qmp: '/run/hostile/qmp.sock' });
    await d.call('POST', '/v1/sandboxes/sb/endpoints', { idx: 0 });
    const body = JSON.stringify({ action: 'hot-attach' });
    const reply = await raw(d.socketPath, `${post('/v1/sandboxes/sb/endpoints/ep0/actions', Buffer.from(body)).toString().replace('connection: close\r\n', '')}FOO / HTTP/1.1\r\n\r\n`, 3000);
    // before: 'HTTP/1.1 400 … malformed_request' came first, read by the client as the hot-attach's reply
    expect(reply).not.toMatch(/^HTTP\/1\.1 400 /);
    let v = (await d.call('GET', '/v1/sandboxes/sb/endpoints/ep0')).body;
    for (let i = 0; i < 100 && v.status !== 'settled'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      v = (await d.call('GET', '/v1/sandboxes/sb/endpoints/ep0')).body;
    }
    expect(v.state).toBe('hotAttached'); // the action was never cut
  }, 20_000);

  it('headers that do not arrive in time: 408 in the envelope', async () => {
    const d = await memoryDaemon({ headersTimeoutMs: 200 });
    cleanup.push(() => d.stop());
    const r = parse(await raw(d.socketPath, 'GET /v1/health HTTP/1.1\r\nhost: x\r\n', 5000));
    expect([r.status, r.body.error.code]).toEqual([408, 'request_timeout']);
  }, 10_000);
});

describe('bodies whose text is not what was sent', () => {
  it('invalid UTF-8 and lone surrogate escapes are 400s, never stored as U+FFFD or unpaired surrogates', async () => {
    const d = await daemon();
    await d.call('PUT', '/v1/sandboxes/sb', CFG);
    const before = tree(d.stateDir);
    const bodies = [
      Buffer.concat([Buffer.from('{"idx":3,"ifName":"a'), Buffer.from([0xff, 0xfe]), Buffer.from('b"}')]),
      Buffer.concat([Buffer.from('{"idx":4,"ifName":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]), // an encoded surrogate
      Buffer.from('{"idx":5,"ifName":"\\ud800x"}'),
      Buffer.from('{"idx":6,"\\udc00":1}'),
    ];
    for (const b of bodies) {
      const r = parse(await raw(d.socketPath, post('/v1/sandboxes/sb/endpoints', b)));
      expect([b.toString('latin1'), r.status, r.body.error.code]).toEqual([b.toString('latin1'), 400, 'bad_json']);
    }
    expect(tree(d.stateDir)).toEqual(before);
    expect((await d.call('GET', '/v1/sandboxes/sb/endpoints')).body.endpoints).toEqual([]);
    // a paired surrogate (an emoji) and a BOM are text
    const ok = await raw(d.socketPath, post('/v1/sandboxes/sb/endpoints', Buffer.from('\ufeff{"idx":7,"ifName":"e\ud83d\ude00"}')));
    expect(parse(ok).status).toBe(201);
  });

  it('a key given twice is refused, naming it and its path, never read last-wins; nothing changes', async () => {
    const d = await daemon();
    await d.call('PUT', '/v1/sandboxes/sb', CFG);
    await d.call('POST', '/v1/sandboxes/sb/endpoints', { idx: 0 });
    const before = tree(d.stateDir);
    const cases: Array<[string, string, string, string]> = [
      ['POST', '/v1/sandboxes/sb/endpoints/ep0/actions', '{"action":"hot-detach","action":"hot-attach"}', 'body.action'],
      ['POST', '/v1/sandboxes/sb/endpoints', '{"idx":1,"ifName":"a","ifName":"b"}', 'body.ifName'],
      ['PUT', '/v1/sandboxes/sb2', '{"netnsPath":"/run/netns/other","netnsPath":"/run/netns/hostile"}', 'body.netnsPath'],
      ['PUT', '/v1/sandboxes/sb/persist', '{"NetNsPath":"/run/netns/hostile","Endpoints":[{"Type":"tap","Type":"tuntap"}]}', 'body.Endpoints[0].Type'],
    ];
    for (const [method, p, body, field] of cases) {
      const r = await d.call(method, p, body);
      expect([p, r.status, r.body.error.type, r.body.error.code, r.body.error.field, r.body.error.rule]).toEqual([p, 400, 'DuplicateKeyError', 'duplicate_key', field, 'unique-keys']);
    }
    expect(tree(d.stateDir)).toEqual(before);
    expect((await d.call('GET', '/v1/sandboxes/sb/endpoints/ep0')).body.state).toBe('created');
    // the same key in two objects, and a key spelt with an escape once: no duplicate
    expect((await d.call('POST', '/v1/sandboxes/sb/endpoints', '{"\u0069dx":1,"mtu":1400}')).status).toBe(201);
  });

  it("an empty ifName is refused as the CLI refuses --ifname '', not silently made eth<idx>", async () => {
    const d = await daemon();
    await d.call('PUT', '/v1/sandboxes/sb', CFG);
    const r = await d.call('POST', '/v1/sandboxes/sb/endpoints', { idx: 0, ifName: '' });
    expect([r.status, r.body.error.field, r.body.error.rule]).toEqual([400, 'ifName', 'empty']);
    expect((await d.call('GET', '/v1/sandboxes/sb/endpoints')).body.endpoints).toEqual([]);
  });

  it('an integer JSON cannot hold exactly is refused, not rounded', async () => {
    const d = await daemon();
    const r = await d.call('PUT', '/v1/sandboxes/sb', '{"netnsPath":"/run/netns/hostile","vcpus":9007199254740993}');
    expect([r.status, r.body.error.field, r.body.error.rule]).toEqual([400, 'vcpus', 'range']);
    await d.call('PUT', '/v1/sandboxes/sb', CFG);
    const e = await d.call('POST', '/v1/sandboxes/sb/endpoints', '{"idx":9007199254740993}');
    expect([e.status, e.body.error.field, e.body.error.rule]).toEqual([400, 'idx', 'range']);
  });
});

describe('PUT sandbox: paths the adapters would refuse later', () => {
  it('a qmp socket path longer than sun_path allows is refused, as the CLI refuses it', async () => {
    const d = await daemon();
    const r = await d.call('PUT', '/v1/sandboxes/sb', { ...CFG, qmp: `/${'q'.repeat(120)}` });
    expect([r.status, r.body.error.field, r.body.error.rule]).toEqual([400, 'qmp', 'length']);
    expect(fs.readdirSync(d.stateDir)).toEqual([]);
  });

  it('netnsPath and qmp have one spelling: a trailing /, // or /./ is the same sandbox (a retried PUT is 200, not 409); a .. is refused', async () => {
    const d = await daemon();
    const put = (id: string, body: Record<string, unknown>) => d.call('PUT', `/v1/sandboxes/${id}`, body);
    const first = await put('sb', { ...CFG, qmp: '/run/vm/qmp.sock' });
    expect([first.status, first.body.config.netnsPath]).toEqual([201, '/run/netns/hostile']);
    for (const [netnsPath, qmp] of [
      ['/run/netns/hostile/', '/run/vm/qmp.sock/'],
      ['/run//netns/./hostile', '//run/vm/./qmp.sock'],
    ]) {
      const r = await put('sb', { ...CFG, netnsPath, qmp });
      expect([netnsPath, r.status, r.body.config?.netnsPath, r.body.config?.qmp]).toEqual([netnsPath, 200, '/run/netns/hostile', '/run/vm/qmp.sock']);
    }
    // created with another spelling: stored, answered and compared in the one spelling
    const other = await put('sb2', { ...CFG, netnsPath: '/run/netns//other/' });
    expect([other.status, other.body.config.netnsPath]).toEqual([201, '/run/netns/other']);
    expect((await d.call('GET', '/v1/sandboxes/sb2')).body.config.netnsPath).toBe('/run/netns/other');
    expect((await put('sb2', { ...CFG, netnsPath: '/run/netns/other' })).status).toBe(200);
    const before = tree(d.stateDir);
    for (const [body, field] of [
      [{ ...CFG, netnsPath: '/run/netns/../netns/hostile' }, 'netnsPath'],
      [{ ...CFG, qmp: '/run/vm/../vm/qmp.sock' }, 'qmp'],
    ] as const) {
      const r = await put('sb3', body);
      expect([r.status, r.body.error.field, r.body.error.rule]).toEqual([400, field, 'dot-dot']);
    }
    expect(tree(d.stateDir)).toEqual(before);
  });

  it('the own-namespace rule holds for every spelling of /proc/self/ns/net', async () => {
    const d = await daemon();
    for (const p of ['/proc/self/ns/net/', '/proc//self/ns/./net']) {
      const r = await d.call('PUT', '/v1/sandboxes/sb', { ...CFG, netnsPath: p });
      expect([p, r.status, r.body.error.field, r.body.error.rule]).toEqual([p, 400, 'netnsPath', 'not-own']);
    }
    expect(fs.readdirSync(d.stateDir)).toEqual([]);
  });

  it('a NUL in netnsPath or qmp is a 400 (a C string would end there): not stored, with any adapters', async () => {
    const d = await daemon();
    for (const [body, field] of [
      [{ ...CFG, qmp: '/run/vm/qmp.sock\0x' }, 'qmp'],
      [{ ...CFG, netnsPath: '/run/netns/a\0/../b' }, 'netnsPath'],
    ] as const) {
      const r = await d.call('PUT', '/v1/sandboxes/sb', body);
      expect([r.status, r.body.error.field, r.body.error.rule]).toEqual([400, field, 'nul']);
    }
    expect(fs.readdirSync(d.stateDir)).toEqual([]);
  });

  it("a sandbox name taken on disk by something that is not a store is a typed 409, not a 500 from rename(); it is left alone", async () => {
    const d = await daemon();
    const dir = (n: string) => path.join(d.stateDir, n);
    fs.mkdirSync(dir('full'));
    fs.writeFileSync(path.join(dir('full'), 'keep'), 'x');
    fs.writeFileSync(dir('afile'), 'x');
    fs.symlinkSync(d.tmp, dir('alink'));
    const before = tree(d.stateDir);
    for (const [id, rule] of [['full', 'not-empty'], ['afile', 'file'], ['alink', 'symlink']]) {
      const r = await d.call('PUT', `/v1/sandboxes/${id}`, CFG);
      expect([id, r.status, r.body.error.type, r.body.error.code, r.body.error.rule]).toEqual([id, 409, 'SandboxPathTakenError', 'sandbox_path_taken', rule]);
    }
    expect(tree(d.stateDir)).toEqual(before);
    expect(fs.readlinkSync(dir('alink'))).toBe(d.tmp);
    // an empty directory is free: the store is renamed over it
    fs.mkdirSync(dir('empty'));
    expect((await d.call('PUT', '/v1/sandboxes/empty', CFG)).status).toBe(201);
  });

  it('with the real adapters, netnsPath must be a network namespace: not a file, a directory, a device or another namespace type', async () => {
    const d = await daemon({ TAPSTATE_ADAPTERS: 'real' });
    const file = path.join(d.tmp, 'not-a-netns');
    fs.writeFileSync(file, '');
    const cases: Array<[string, string]> = [
      [file, 'nsfs'],
      [d.tmp, 'nsfs'],
      ['/dev/null', 'nsfs'],
      ['/proc/self/ns/mnt', 'net-namespace'],
      [path.join(d.tmp, 'absent'), 'exists'],
    ];
    for (const [p, rule] of cases) {
      const r = await d.call('PUT', '/v1/sandboxes/sb', { netnsPath: p });
      expect([p, r.status, r.body.error.type, r.body.error.field, r.body.error.rule]).toEqual([p, 400, 'RequestFieldError', 'netnsPath', rule]);
    }
    expect(fs.readdirSync(d.stateDir)).toEqual([]);
  });

  it('checkNetnsPath: in-memory adapters skip the nsfs check, never the own-namespace rule', async () => {
    await expect(checkNetnsPath('/dev/null', false)).resolves.toBeUndefined();
    await expect(checkNetnsPath('/proc/self/ns/net', false)).rejects.toBeInstanceOf(RequestFieldError);
  });
});

describe('PUT persist: a document for another netns', () => {
  it("is a 400 naming NetNsPath (the document's), not a 500; nothing loaded", async () => {
    const d = await daemon();
    await d.call('PUT', '/v1/sandboxes/sb', CFG);
    const before = tree(d.stateDir);
    for (const netns of ['/proc/self/ns/net', '/run/netns/other']) {
      const r = await d.call('PUT', '/v1/sandboxes/sb/persist', { NetNsPath: netns, NetNsCreated: true, Endpoints: [] });
      expect([r.status, r.body.error.type, r.body.error.field]).toEqual([400, 'NetnsMismatchError', 'NetNsPath']);
    }
    expect(tree(d.stateDir)).toEqual(before);
  });
});

/** Send `header`, then up to `total` bytes of body as fast as the socket takes them; resolves with what the daemon took before it closed, and its reply. */
function pushBody(socketPath: string, header: string, total: number): Promise<{ sent: number; reply: string }> {
  return new Promise((resolve) => {
    const s = net.connect(socketPath);
    let sent = 0;
    let reply = '';
    let done = false;
    const chunk = Buffer.alloc(1 << 16, 0x78);
    const finish = () => {
      if (done) return;
      done = true;
      s.destroy();
      resolve({ sent, reply });
    };
    const pump = (): void => {
      while (!done && sent < total) {
        sent += chunk.length;
        if (!s.write(chunk)) return void s.once('drain', pump);
      }
      if (sent >= total) setTimeout(finish, 200);
    };
    s.on('connect', () => {
      s.write(header);
      pump();
    });
    s.on('data', (b) => (reply += b.toString()));
    s.on('error', finish);
    s.on('close', finish);
  });
}

describe('a body the daemon will not read', () => {
  it('an error before the body was read closes the connection: the rest of a 256 MiB body is not read and discarded', async () => {
    const d = await daemon();
    const total = 256 << 20;
    for (const target of ['PUT /v1/sandboxes/.bad', 'GET /v1/health', 'POST /v1/sandboxes/nope/endpoints']) {
      const r = await pushBody(d.socketPath, `${target} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${total}\r\n\r\n`, total);
      expect(r.sent, target).toBeLessThan(total / 4);
      expect(r.reply, target).toMatch(/^HTTP\/1\.1 (400|404|413|200) [^]*connection: close/i);
    }
    expect((await d.call('GET', '/v1/health')).status).toBe(200);
  }, 60_000);
});
