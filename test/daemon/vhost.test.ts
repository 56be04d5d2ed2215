/**
 * vhost-net through the daemon, refused with typed errors on a host without /dev/vhost-net (the
 * reference host has none; the daemon runs in a private mount namespace whose /dev is a copy of
 * the host's, without vhost-net — or with a stand-in device node where a test needs an endpoint
 * that was attached with vhost — so the test is the same on any host):
 *
 * - a sandbox may ask for vhost without the device (as upstream, and `tapstate init --vhost`);
 *   hot-attach and attach then fail `500 endpoint_operation` with upstream's `Could not setup
 *   vhost fds …`, the typed cause (errno ENOENT) and the endpoint rolled back to `created`;
 * - the fd hand-over of an endpoint attached with vhost refuses `500 vhost_unavailable` (errno,
 *   device) before opening anything.
 *
 * Real daemon (built CLI), real kernel, root. Every reply is checked against docs/api/openapi.yaml.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { addPlainLink, makeNetns, requireRoot, type TestNetns } from '../linux/fixture.js';
import { request, type Reply } from './client.js';
import { startDaemon, type DaemonProcess } from './daemon-process.js';
import { check } from './schema-check.js';

const spec = parse(fs.readFileSync('docs/api/openapi.yaml', 'utf8')) as any;

/** Run the daemon with a private /dev: no vhost-net, or a stand-in node (a copy of /dev/null) when `standIn`. */
function privateDev(standIn: boolean): string[] {
  const script = `
    d=$(mktemp -d /tmp/tapstate-vhostdev-XXXXXX)
    mount -t tmpfs -o mode=755 tapstate-vhostdev "$d"
    cp -a --one-file-system /dev/. "$d"/
    rm -f "$d/vhost-net"
    ${standIn ? 'cp -a /dev/null "$d/vhost-net"' : ''}
    for sub in pts shm mqueue hugepages; do
      if mountpoint -q "/dev/$sub"; then mkdir -p "$d/$sub"; mount --rbind "/dev/$sub" "$d/$sub"; fi
    done
    mount --move "$d" /dev
    rmdir "$d" 2>/dev/null || true
    exec "$@"`;
  return ['unshare', '--mount', '--propagation', 'private', 'bash', '-euo', 'pipefail', '-c', script, 'private-dev'];
}

/** The error reply matches the spec's Error schema and the operation documents its status. */
function documented(r: Reply, template: string, method: string): void {
  expect(spec.paths[template][method].responses[String(r.status)], `${method} ${template} documents ${r.status}`).toBeDefined();
  expect(check(spec, spec.components.schemas.Error, r.body)).toEqual([]);
}

const links = (ns: TestNetns): string[] =>
  execFileSync('ip', ['-n', ns.name, '-o', 'link', 'show'], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(':')[1]!.trim().split('@')[0]!)
    .sort();

const tunFdsOf = (pid: number): number =>
  fs.readdirSync(`/proc/${pid}/fd`).filter((f) => {
    try {
      return fs.readlinkSync(`/proc/${pid}/fd/${f}`) === '/dev/net/tun';
    } catch {
      return false;
    }
  }).length;

describe('vhost through the daemon, without /dev/vhost-net', () => {
  let tmp: string;
  let ns: TestNetns;
  let d: DaemonProcess | undefined;
  let sock: string;
  const start = async (standIn: boolean): Promise<DaemonProcess> => {
    await d?.stop(); // one daemon at a time (a test that failed midway left its own running)
    d = startDaemon(sock, path.join(tmp, 'state'), {}, [], privateDev(standIn));
    await d.ready();
    return d;
  };
  const call = (method: string, p: string, body?: unknown) => request(sock, method, p, body);

  beforeAll(() => {
    requireRoot();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-vhost-${process.pid}-`));
    sock = path.join(tmp, 'api.sock');
    ns = makeNetns();
    addPlainLink(ns, 'eth0');
  });
  afterAll(async () => {
    await d?.stop().catch(() => {});
    ns?.remove();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('a sandbox may ask for vhost; hot-attach and attach fail 500 with upstream\'s message and the typed cause, rolled back, nothing left', async () => {
    const dd = await start(false);
    const put = await call('PUT', '/v1/sandboxes/vh', { netnsPath: ns.path, netnsCreated: true, vcpus: 2, vhost: true });
    expect(put.status, JSON.stringify(put.body)).toBe(201);
    expect(put.body.config.vhost).toBe(true);
    expect((await call('POST', '/v1/sandboxes/vh/endpoints', { idx: 0, ifName: 'eth0', mac: '02:00:00:00:0e:01' })).status).toBe(201);
    for (const [action, op] of [
      ['hot-attach', 'hotAttach'],
      ['attach', 'attach'],
    ] as const) {
      const r = await call('POST', '/v1/sandboxes/vh/endpoints/ep0/actions', { action });
      expect(r.status, JSON.stringify(r.body)).toBe(500);
      expect(r.body.error).toMatchObject({ type: 'EndpointOperationError', code: 'endpoint_operation', endpoint: 'ep0', op, step: 'createTap', state: 'created' });
      expect(r.body.error.cause).toMatchObject({ name: 'VhostSetupError', errno: 'ENOENT' });
      expect(r.body.error.message).toMatch(/^Could not setup vhost fds eth0 : openVhostFds: ENOENT \(open\(\/dev\/vhost-net\)\)/);
      documented(r, '/v1/sandboxes/{sandbox}/endpoints/{endpoint}/actions', 'post');
      expect((await call('GET', '/v1/sandboxes/vh/endpoints/ep0')).body).toMatchObject({ state: 'created', status: 'settled' });
      expect(links(ns)).toEqual(['eth0', 'lo']); // no tap left
      expect(tunFdsOf(dd.pid)).toBe(0);
    }
    // not cold-attached: the hand-over is a state conflict (409), nothing opened
    const fds = await call('POST', '/v1/sandboxes/vh/endpoints/ep0/fds');
    expect([fds.status, fds.body.error.code]).toEqual([409, 'fd_handover']);
    await dd.stop();
  });

  it('the fd hand-over of an endpoint attached with vhost refuses 500 vhost_unavailable (errno, device) before opening anything', async () => {
    // attached with vhost where the device existed (a stand-in node) …
    let dd = await start(true);
    const att = await call('POST', '/v1/sandboxes/vh/endpoints/ep0/actions', { action: 'attach' });
    expect(att.status, JSON.stringify(att.body)).toBe(200);
    expect(att.body.state).toBe('attached');
    expect(att.body.coldplugArgs.join(' ')).toMatch(/vhost=on/);
    await dd.stop();
    // … then served by a daemon on a host without it
    dd = await start(false);
    const r = await call('POST', '/v1/sandboxes/vh/endpoints/ep0/fds');
    expect(r.status, JSON.stringify(r.body)).toBe(500);
    expect(r.body.error).toMatchObject({ type: 'VhostUnavailableError', code: 'vhost_unavailable', endpoint: 'ep0', op: 'handOverFds', errno: 'ENOENT', device: '/dev/vhost-net' });
    documented(r, '/v1/sandboxes/{sandbox}/endpoints/{endpoint}/fds', 'post');
    expect(tunFdsOf(dd.pid)).toBe(0); // no queue of the tap was opened
    expect((await call('GET', '/v1/sandboxes/vh/endpoints/ep0')).body.state).toBe('attached'); // nothing changed
    // the endpoint is still detachable: teardown needs no vhost-net
    const det = await call('POST', '/v1/sandboxes/vh/endpoints/ep0/actions', { action: 'detach' });
    expect(det.status, JSON.stringify(det.body)).toBe(200);
    expect(links(ns)).toEqual(['eth0', 'lo']);
    await dd.stop();
  });
});
