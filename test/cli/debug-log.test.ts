/** NODE_DEBUG=tapstate in the CLI: every adapter call on stderr (the tracing itself: test/runtime/debug-log.test.ts). */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI } from '../torture/world.js';

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
