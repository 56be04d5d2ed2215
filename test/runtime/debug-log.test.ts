/** NODE_DEBUG=tapstate: every adapter call with its duration and errno / kind. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryHypervisor, MemoryKernel } from '../../src/adapters/memory/index.js';
import { describeError, traced, tracedAdapters, type DebugLogger } from '../../src/runtime/debug-log.js';
import { CLI } from '../torture/world.js';

function logger(enabled = true): DebugLogger & { lines: string[] } {
  const lines: string[] = [];
  return Object.assign((m: string) => void lines.push(m), { enabled, lines });
}

describe('traced adapters', () => {
  it('logs each call with its arguments, duration, and the errno of a kernel failure', async () => {
    const log = logger();
    const kernel = new MemoryKernel();
    kernel.addNetns('/run/netns/dbg');
    const k = traced(kernel, 'netlink', log);
    const tap = await k.createTap({ netns: '/run/netns/dbg', name: 'tap0_kata', queues: 1 });
    await k.closeFds(tap.fds);
    await expect(k.createTap({ netns: '/run/netns/dbg', name: 'tap0_kata', queues: 1 })).rejects.toMatchObject({ errno: 'EEXIST' });
    expect(log.lines[0]).toMatch(/^netlink\.createTap \{"netns":"\/run\/netns\/dbg","name":"tap0_kata","queues":1\} ok \d+\.\d\d ms$/);
    expect(log.lines[1]).toMatch(/^netlink\.closeFds \[\d+\] ok \d+\.\d\d ms$/);
    expect(log.lines[2]).toMatch(/^netlink\.createTap .* failed \d+\.\d\d ms: NetlinkError errno=EEXIST\(17\): /);
  });

  it('logs the kind of a hypervisor failure', async () => {
    const log = logger();
    const kernel = new MemoryKernel();
    const h = traced(new MemoryHypervisor({ kernel, slots: 1 }), 'hypervisor', log);
    const nic = { netdevId: 'n0', deviceId: 'd0', mac: '02:00:00:00:00:01', queues: 2, tapName: 't0', vhost: false };
    await expect(h.hotplug(nic, [])).rejects.toMatchObject({ kind: 'invalid' });
    expect(log.lines).toEqual([expect.stringMatching(/^hypervisor\.hotplug \{"netdevId":"n0",.*\} \[\] failed \d+\.\d\d ms: HypervisorError kind=invalid: /)]);
  });

  it('is the adapter itself when NODE_DEBUG lacks tapstate', () => {
    const kernel = new MemoryKernel();
    const hypervisor = new MemoryHypervisor({ kernel });
    const a = { netlink: kernel, hypervisor };
    expect(tracedAdapters(a, logger(false))).toBe(a);
    expect(traced(kernel, 'netlink', logger(false))).toBe(kernel);
  });

  it('describes system errors by code', () => {
    const e = Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT', errno: -2 });
    expect(describeError(e)).toBe('Error errno=ENOENT(2): ENOENT: no such file');
  });
});

describe('NODE_DEBUG=tapstate in the CLI', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-debuglog-${process.pid}-`));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const run = (args: string[], env: Record<string, string>) =>
    spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, TAPSTATE_ADAPTERS: 'memory', ...env }, encoding: 'utf8' });

  it('prints every adapter call on stderr (with the errno of a failed one), and nothing without it', () => {
    const store = path.join(tmp, 's');
    expect(run(['init', '--store', store, '--netns', '/run/netns/x', '--no-vhost'], {}).status).toBe(0);
    expect(run(['add', '--store', store, '--idx', '0'], {}).status).toBe(0);
    const quiet = run(['hot-attach', '--store', store, '--endpoint', 'ep0'], { NODE_DEBUG: '' });
    expect(quiet.status).toBe(0);
    expect(quiet.stderr).not.toContain('TAPSTATE');
    const r = run(['hot-detach', '--store', store, '--endpoint', 'ep0'], { NODE_DEBUG: 'tapstate' });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('TAPSTATE '));
    expect(lines.some((l) => /^TAPSTATE \d+: hypervisor\.hotunplug \{"netdevId":"net-ep0","deviceId":"virtio-net-ep0","queues":\d+\} (ok|failed) \d+\.\d\d ms/.test(l))).toBe(true);
    // each process has its own in-memory world: the tap of the previous one is not there (the
    // teardown's tap lookup finds nothing, so nothing is set down)
    expect(lines).toContainEqual(expect.stringMatching(/^TAPSTATE \d+: netlink\.getLink "\/run\/netns\/x" "tap0_kata" failed \d+\.\d\d ms: NetlinkError errno=ENODEV\(19\): /));
  });
});
