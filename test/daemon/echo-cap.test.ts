/**
 * A caller's value echoed in an error message is capped (`"aaa…" (5000 chars)`, docs/cli.md),
 * in the CLI's error line and in the daemon's error envelope alike; the typed field keeps the
 * exact value. Before the fix a 5,000-character endpoint id was echoed whole: the daemon's
 * message was 5,000+ characters, the CLI's line was cut at its 1,000-character limit.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI } from '../torture/world.js';
import { memoryDaemon } from './client.js';

const LONG = 'a'.repeat(5000);
const CFG = { netnsPath: '/run/netns/echo-cap', netnsCreated: true, vcpus: 1, vhost: false };

let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

/** The message says the value's length and is short: the echo was capped, not the line cut. */
function capped(message: string): void {
  expect(message).toMatch(/… \(50\d\d chars\)/); // the id, or the path around it
  expect(message).not.toContain('(cut;');
  expect(message.length).toBeLessThan(400);
}

describe('the daemon error envelope', () => {
  it('caps an endpoint or sandbox id, a path and an action in the message; the field keeps the value', async () => {
    const d = await memoryDaemon();
    cleanup.push(() => d.stop());
    expect((await d.call('PUT', '/v1/sandboxes/sb', CFG)).status).toBe(201);
    const unknown = await d.call('GET', `/v1/sandboxes/sb/endpoints/${LONG}`);
    expect([unknown.status, unknown.body.error.type, unknown.body.error.endpoint]).toEqual([404, 'UnknownEndpointError', LONG]);
    capped(unknown.body.error.message);
    const action = await d.call('POST', `/v1/sandboxes/sb/endpoints/${LONG}/actions`, { action: 'hot-attach' });
    expect([action.status, action.body.error.type]).toEqual([404, 'UnknownEndpointError']);
    capped(action.body.error.message);
    const cases: Array<[string, string, unknown, string]> = [
      ['GET', `/v1/sandboxes/${LONG}`, undefined, 'sandbox'],
      ['PUT', '/v1/sandboxes/sb2', { ...CFG, netnsPath: `run/${LONG}` }, 'netnsPath'],
      ['PUT', '/v1/sandboxes/sb2', { ...CFG, netnsPath: `/run/../${LONG}` }, 'netnsPath'],
    ];
    for (const [method, p, body, field] of cases) {
      const r = await d.call(method, p, body);
      expect([field, r.status, r.body.error.field]).toEqual([field, 400, field]);
      capped(r.body.error.message);
    }
    await d.call('POST', '/v1/sandboxes/sb/endpoints', { idx: 0 });
    const bad = await d.call('POST', '/v1/sandboxes/sb/endpoints/ep0/actions', { action: LONG.slice(0, 4999) + 'b' });
    expect([bad.status, bad.body.error.field]).toEqual([400, 'action']);
    capped(bad.body.error.message);
  });
});

describe('the CLI error line', () => {
  it('an unknown 5,000-character endpoint id is echoed capped, not cut at the line limit', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-echo-cap-${process.pid}-`));
    cleanup.push(() => fs.rmSync(tmp, { recursive: true, force: true }));
    const run = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, TAPSTATE_ADAPTERS: 'memory' }, encoding: 'utf8' });
    const store = path.join(tmp, 's');
    expect(run(['init', '--store', store, '--netns', '/run/netns/echo-cap', '--netns-created']).status).toBe(0);
    for (const cmd of ['hot-attach', 'hot-detach', 'attach', 'detach']) {
      const r = run([cmd, '--store', store, '--endpoint', LONG]);
      expect([cmd, r.status]).toEqual([cmd, 1]);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^tapstate: UnknownEndpointError: no endpoint a+… \(5000 chars\) in this store$/m);
      capped(r.stderr);
      // --json keeps the exact value in the typed field
      const j = run([cmd, '--store', store, '--endpoint', LONG, '--json']);
      expect(JSON.parse(j.stdout).error.endpoint).toBe(LONG);
    }
  });
});
