/**
 * docs/api/openapi.yaml is valid and true: it parses as OpenAPI 3.1, every $ref resolves, its
 * operations are exactly the daemon's routes, and every reply of a live daemon (in-memory
 * adapters) — every operation, success and error statuses — is documented and matches its schema.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { routes } from '../../src/daemon/handlers.js';
import { check, refs, resolveRef } from './schema-check.js';
import { memoryDaemon, readEvents, type Reply } from './client.js';

const spec = parse(fs.readFileSync('docs/api/openapi.yaml', 'utf8')) as any;
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

/** Problems of `reply` against the spec's response for (template, method). */
function against(template: string, method: string, reply: Reply): string[] {
  const op = spec.paths[template]?.[method.toLowerCase()];
  if (!op) return [`${method} ${template}: not in the spec`];
  let resp = op.responses[String(reply.status)];
  if (!resp) return [`${method} ${template}: status ${reply.status} not documented (body ${JSON.stringify(reply.body)})`];
  if (resp.$ref) resp = resolveRef(spec, resp.$ref);
  if (reply.status === 204) return reply.body === null ? [] : ['204 with a body'];
  const schema = resp.content?.['application/json']?.schema;
  if (!schema) return [`${method} ${template} ${reply.status}: no JSON schema`];
  if (!String(reply.headers['content-type']).startsWith('application/json')) return [`content-type ${reply.headers['content-type']}`];
  return check(spec, schema, reply.body).map((p) => `${method} ${template} ${reply.status}: ${p}`);
}

let d: Awaited<ReturnType<typeof memoryDaemon>>;
beforeAll(async () => {
  d = await memoryDaemon();
});
afterAll(async () => {
  await d?.stop();
});

describe('docs/api/openapi.yaml', () => {
  it('is OpenAPI 3.1 and every $ref resolves', () => {
    expect(spec.openapi).toMatch(/^3\.1\./);
    const all = refs(spec);
    expect(all.length).toBeGreaterThan(20);
    for (const r of all) expect(() => resolveRef(spec, r), r).not.toThrow();
  });

  it('documents exactly the daemon routes, with their operationIds', () => {
    const documented = Object.entries(spec.paths as Record<string, any>)
      .flatMap(([p, item]) => METHODS.filter((m) => item[m]).map((m) => `${m.toUpperCase()} ${p} ${item[m].operationId}`))
      .sort();
    const served = routes.map((r) => `${r.method} ${r.path} ${r.operationId}`).sort();
    expect(documented).toEqual(served);
  });

  it('every reply of a live daemon, for every operation, is documented and matches its schema', async () => {
    const problems: string[] = [];
    const seen = new Set<string>();
    const call = async (template: string, method: string, p: string, body?: unknown, headers?: Record<string, string>): Promise<Reply> => {
      const r = await d.call(method, p, body, headers);
      problems.push(...against(template, method, r));
      seen.add(`${method} ${template}`);
      return r;
    };
    const SB = '/v1/sandboxes/{sandbox}';
    const EP = `${SB}/endpoints/{endpoint}`;
    expect((await call('/v1/health', 'GET', '/v1/health')).status).toBe(200);
    expect((await call('/v1/version', 'GET', '/v1/version')).status).toBe(200);
    const cfg = { netnsPath: '/run/netns/spec', netnsCreated: true, vcpus: 2, vhost: false, qmp: '/run/spec/qmp.sock' };
    expect((await call(SB, 'PUT', '/v1/sandboxes/sb1', cfg)).status).toBe(201);
    expect((await call(SB, 'PUT', '/v1/sandboxes/sb1', cfg)).status).toBe(200);
    expect((await call(SB, 'PUT', '/v1/sandboxes/sb1', { ...cfg, vcpus: 3 })).status).toBe(409);
    const bad = await call(SB, 'PUT', '/v1/sandboxes/sb2', { netnsPath: 'relative' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ type: 'RequestFieldError', code: 'request_field', field: 'netnsPath', rule: 'absolute' });
    expect((await call(SB, 'PUT', '/v1/sandboxes/sb2', { netnsPath: '/x', vcpus: 0 })).body.error).toMatchObject({ field: 'vcpus', rule: 'range' });
    expect((await call('/v1/sandboxes', 'GET', '/v1/sandboxes')).body.sandboxes).toEqual([{ id: 'sb1', state: 'open' }]);
    expect((await call(SB, 'GET', '/v1/sandboxes/sb1')).status).toBe(200);
    expect((await call(SB, 'GET', '/v1/sandboxes/nope')).status).toBe(404);
    expect((await call(`${SB}/endpoints`, 'POST', '/v1/sandboxes/sb1/endpoints', { idx: 0, mac: '02:00:00:00:00:01' })).status).toBe(201);
    expect((await call(`${SB}/endpoints`, 'POST', '/v1/sandboxes/sb1/endpoints', { idx: 1 })).status).toBe(201);
    expect((await call(`${SB}/endpoints`, 'POST', '/v1/sandboxes/sb1/endpoints', { idx: 0 })).status).toBe(409);
    const badMac = await call(`${SB}/endpoints`, 'POST', '/v1/sandboxes/sb1/endpoints', { idx: 5, mac: '01:00:00:00:00:01' });
    expect(badMac.status).toBe(400);
    expect(badMac.body.error.type).toBe('EndpointInputError');
    expect((await call(`${SB}/endpoints`, 'GET', '/v1/sandboxes/sb1/endpoints')).body.endpoints).toHaveLength(2);
    expect((await call(EP, 'GET', '/v1/sandboxes/sb1/endpoints/ep0')).body.state).toBe('created');
    expect((await call(EP, 'GET', '/v1/sandboxes/sb1/endpoints/ep9')).status).toBe(404);
    const hot = await call(`${EP}/actions`, 'POST', '/v1/sandboxes/sb1/endpoints/ep0/actions', { action: 'hot-attach' }, { 'idempotency-key': 'spec-1' });
    expect(hot.status).toBe(200);
    expect(hot.body.state).toBe('hotAttached');
    expect((await call(`${EP}/actions`, 'POST', '/v1/sandboxes/sb1/endpoints/ep0/actions', { action: 'hot-attach' })).status).toBe(409);
    expect((await call(`${EP}/actions`, 'POST', '/v1/sandboxes/sb1/endpoints/ep0/actions', { action: 'fly' })).status).toBe(400);
    // the in-memory kernel has no eth1: a cold attach fails, is rolled back, and says why
    const failed = await call(`${EP}/actions`, 'POST', '/v1/sandboxes/sb1/endpoints/ep1/actions', { action: 'attach' });
    expect(failed.status).toBe(500);
    expect(failed.body.error).toMatchObject({ type: 'EndpointOperationError', op: 'attach', step: 'getOrigLink', state: 'created', cause: { name: 'NetlinkError', errno: 'ENODEV' } });
    expect((await call(`${EP}/fds`, 'POST', '/v1/sandboxes/sb1/endpoints/ep0/fds')).status).toBe(409);
    expect((await call(`${SB}/recover`, 'POST', '/v1/sandboxes/sb1/recover')).body.inDoubt).toEqual([]);
    expect((await call(`${SB}/persist`, 'GET', '/v1/sandboxes/sb1/persist?shape=v2')).status).toBe(200);
    expect((await call(`${SB}/persist`, 'GET', '/v1/sandboxes/sb1/persist?shape=v3')).status).toBe(400);
    const saved = (await call(`${SB}/persist`, 'GET', '/v1/sandboxes/sb1/persist')).body;
    // ep1 was never attached (no HardAddr): keep the hot-attached one
    saved.Endpoints = saved.Endpoints.filter((e: any) => e.Tuntap.TuntapInterface.TAPIface.HardAddr !== '');
    expect((await call(`${SB}/persist`, 'PUT', '/v1/sandboxes/sb1/persist', { Endpoints: 'nope' })).status).toBe(400);
    // loading the same document again: idx 0 exists
    expect((await call(`${SB}/persist`, 'PUT', '/v1/sandboxes/sb1/persist', saved)).status).toBe(409);
    expect((await call(SB, 'PUT', '/v1/sandboxes/sb3', cfg)).status).toBe(201);
    const loaded = await call(`${SB}/persist`, 'PUT', '/v1/sandboxes/sb3/persist', saved);
    expect(loaded.status, JSON.stringify(loaded.body)).toBe(200);
    // sb3's (in-memory) netns has no tap0_kata: the endpoint is created, not adopted
    expect(loaded.body.endpoints[0].state).toBe('created');
    expect((await call(SB, 'DELETE', '/v1/sandboxes/sb1')).status).toBe(409);
    expect((await call(`${EP}/actions`, 'POST', '/v1/sandboxes/sb1/endpoints/ep0/actions', { action: 'hot-detach' })).status).toBe(200);
    // events: NDJSON of the log records, from the start with since=0
    const lines = await readEvents(d.socketPath, '/v1/sandboxes/sb1/events?since=0', 5);
    for (const l of lines) problems.push(...check(spec, spec.components.schemas.LogRecord, l, 'event'));
    expect(lines.map((l) => l.seq)).toEqual([1, 2, 3, 4, 5]);
    seen.add('GET /v1/sandboxes/{sandbox}/events');
    expect((await call(`${SB}/events`, 'GET', '/v1/sandboxes/sb1/events?since=-1')).status).toBe(400);
    expect((await call(SB, 'DELETE', '/v1/sandboxes/sb1')).status).toBe(204);
    expect((await call(SB, 'DELETE', '/v1/sandboxes/sb1')).status).toBe(404);
    expect(fs.existsSync(`${d.stateDir}/sb1`)).toBe(false);
    // routes and methods that do not exist
    const r404 = await d.call('GET', '/v2/nothing');
    expect([r404.status, r404.body.error.code]).toEqual([404, 'route_not_found']);
    const r405 = await d.call('PATCH', '/v1/sandboxes/sb3');
    expect([r405.status, r405.body.error.code]).toEqual([405, 'method_not_allowed']);
    expect(problems).toEqual([]);
    expect([...seen].sort()).toEqual(routes.map((r) => `${r.method} ${r.path}`).sort());
  });
  it('the refusal of an event stream over --max-event-streams is documented and matches its schema', async () => {
    const d1 = await memoryDaemon({ maxEventStreams: 1 });
    let first: http.ClientRequest | undefined;
    try {
      await d1.call('PUT', '/v1/sandboxes/sb', { netnsPath: '/run/netns/spec', vhost: false });
      // the first stream, open (its headers came back): it holds the one slot
      const status = await new Promise<number>((resolve, reject) => {
        first = http.get({ socketPath: d1.socketPath, path: '/v1/sandboxes/sb/events', agent: false }, (res) => resolve(res.statusCode ?? 0));
        first.on('error', reject);
      });
      expect(status).toBe(200);
      const over = await d1.call('GET', '/v1/sandboxes/sb/events');
      expect(over.status).toBe(503);
      expect(against('/v1/sandboxes/{sandbox}/events', 'GET', over)).toEqual([]);
    } finally {
      first?.destroy();
      await d1.stop();
    }
  });
});
