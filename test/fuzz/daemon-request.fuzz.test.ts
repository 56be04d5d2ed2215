/**
 * Fuzz target: the daemon's request decoding. Arbitrary paths through the router, arbitrary JSON
 * bodies through the validators — only the documented typed errors; and mutated raw HTTP requests
 * against a live daemon (in-memory adapters): every reply is a documented status with a JSON error
 * body, never a 500 from the daemon itself, and the daemon keeps serving.
 */
import fc from 'fast-check';
import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EndpointInputError } from '../../machines/index.js';
import { routes } from '../../src/daemon/handlers.js';
import { Router } from '../../src/daemon/routes.js';
import { MethodNotAllowedError, RequestFieldError, RouteNotFoundError } from '../../src/daemon/errors.js';
import * as v from '../../src/daemon/validate.js';
import { memoryDaemon } from '../daemon/client.js';
import { FUZZ_SECONDS, fuzz, mutate, mutationArb, onlyTyped } from './budget.js';

const router = new Router(routes);
const segment = fc.oneof(fc.constantFrom('v1', 'sandboxes', 'sb', 'endpoints', 'ep0', 'actions', 'fds', 'events', 'persist', '%', '%E0%A4%A', '..', ''), fc.string(), fc.webSegment());
const pathArb = fc.array(segment, { maxLength: 7 }).map((xs) => '/' + xs.join('/'));

let d: Awaited<ReturnType<typeof memoryDaemon>>;
beforeAll(async () => {
  d = await memoryDaemon({ maxBodyBytes: 4096, headersTimeoutMs: 2000, requestTimeoutMs: 2000 });
  await d.call('PUT', '/v1/sandboxes/sb', { netnsPath: '/run/netns/fuzz', qmp: '/run/fuzz/qmp.sock' });
  await d.call('POST', '/v1/sandboxes/sb/endpoints', { idx: 0 });
});
afterAll(async () => {
  await d?.stop();
});

const TEMPLATES = [
  'GET /v1/health HTTP/1.1\r\nhost: x\r\n\r\n',
  'GET /v1/sandboxes/sb/endpoints/ep0 HTTP/1.1\r\nhost: x\r\n\r\n',
  'POST /v1/sandboxes/sb/endpoints HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 10\r\n\r\n{"idx": 7}',
  'POST /v1/sandboxes/sb/endpoints/ep0/actions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nidempotency-key: k\r\ncontent-length: 22\r\n\r\n{"action":"hot-attach"}',
  'PUT /v1/sandboxes/s2 HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n1b\r\n{"netnsPath":"/run/netns/x"}\r\n0\r\n\r\n',
];
const DOCUMENTED = new Set([200, 201, 204, 400, 404, 405, 408, 409, 413, 423, 431, 500, 505]);

/** Send raw bytes, read until the daemon closes or 300 ms of silence; the first status line. */
function raw(bytes: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(d.socketPath, () => s.end(bytes));
    let out = '';
    const done = () => resolve(out);
    let t = setTimeout(() => s.destroy(), 300);
    s.on('data', (b) => {
      out += b.toString('latin1');
      clearTimeout(t);
      t = setTimeout(() => s.destroy(), 300);
    });
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(t);
      done();
    });
  });
}

describe(`fuzz: daemon requests (${FUZZ_SECONDS} s)`, () => {
  it('the router: any path and method → a route or a typed error', async () => {
    await fuzz(
      'daemon/router',
      fc.property(fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'PATCH'), pathArb, (method, p) => {
        try {
          const m = router.match(method, p);
          expect(routes).toContain(m.route);
        } catch (e) {
          onlyTyped(e, [RouteNotFoundError, MethodNotAllowedError, RequestFieldError], `match ${method} ${p}`);
        }
      }),
      0.2,
    );
  });

  it('the validators: any JSON object → a value or RequestFieldError / EndpointInputError naming a field', async () => {
    await fuzz(
      'daemon/validate',
      fc.property(fc.dictionary(fc.constantFrom('netnsPath', 'netnsCreated', 'qmp', 'vcpus', 'vhost', 'idx', 'ifName', 'mac', 'mtu', 'action', 'x'), fc.jsonValue({ maxDepth: 1 })), (o) => {
        for (const f of [() => v.sandboxConfig(o, false), () => v.endpointInput(o), () => v.action(o)]) {
          try {
            f();
          } catch (e) {
            const err = onlyTyped(e, [RequestFieldError, EndpointInputError], 'validate') as RequestFieldError;
            expect(err.field.length).toBeGreaterThan(0);
          }
        }
      }),
      0.2,
    );
  });

  it('mutated raw requests to a live daemon: documented statuses, JSON errors, never a daemon-made 500', async () => {
    await fuzz(
      'daemon/raw-http',
      fc.asyncProperty(fc.constantFrom(...TEMPLATES.keys()), fc.array(mutationArb, { maxLength: 3 }), async (i, ms) => {
        let bytes: Buffer = Buffer.from(TEMPLATES[i]!, 'latin1');
        for (const m of ms) bytes = mutate(bytes, m).bytes;
        const reply = await raw(bytes);
        if (reply === '') return; // closed without a reply (e.g. an incomplete request timed out)
        const m = /^HTTP\/1\.1 (\d{3}) /.exec(reply);
        expect(m, reply.slice(0, 200)).not.toBeNull();
        const status = Number(m![1]);
        expect(DOCUMENTED.has(status), reply.slice(0, 300)).toBe(true);
        if (status === 500) expect(reply).toMatch(/"type":"EndpointOperationError"/);
      }),
      0.6,
    );
    expect((await d.call('GET', '/v1/health')).status).toBe(200);
  });
});
