/**
 * `tapstate init --hotplug-bus`: against a real QEMU whose root ports have arbitrary ids, the CLI
 * hot plugs only onto the named ones and says what it found when they are full. Bad values are
 * usage errors that create nothing.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RealEnv } from '../qemu/qemu-fixture.js';
import { CLI } from '../torture/world.js';

const env = new RealEnv();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-cli-hpbus-${process.pid}-`));
afterAll(async () => {
  await env.teardown();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('tapstate init --hotplug-bus', () => {
  it('restricts hot plug to the named root ports; out of slots names what QEMU has', async () => {
    const q = await env.qemu({
      topology: null,
      extraArgs: ['-device', 'pcie-root-port,id=left,bus=pcie.0,chassis=1,addr=0x3', '-device', 'pcie-root-port,id=right,bus=pcie.0,chassis=2,addr=0x4'],
    });
    const store = path.join(tmp, 's1');
    const netns = `/run/netns/${env.netnsName}`;
    const init = cli(['init', '--store', store, '--netns', netns, '--qmp', q.qmpPath, '--no-vhost', '--hotplug-bus', 'right']);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain('hot plug onto right');
    const status = JSON.parse(cli(['status', '--store', store, '--json']).stdout) as { sandbox: { hotplugBuses: string[] } };
    expect(status.sandbox.hotplugBuses).toEqual(['right']);
    for (const i of [0, 1]) expect(cli(['add', '--store', store, '--idx', String(i)]).code).toBe(0);
    const first = cli(['hot-attach', '--store', store, '--endpoint', 'ep0']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('pci 04/00');
    const second = cli(['hot-attach', '--store', store, '--endpoint', 'ep1']);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('no free hot-pluggable slot: found pcie-root-port left at 03 (0 of 1 slot(s) in use, not allowed), pcie-root-port right at 04 (1 of 1 slot(s) in use); restricted to hotplug bus(es) right');
    expect(cli(['hot-detach', '--store', store, '--endpoint', 'ep0']).code).toBe(0);
  });

  it.each([
    [['--hotplug-bus', 'a,,b', '--qmp', '/tmp/x.sock'], /--hotplug-bus: each id must be a QEMU id .*got ""/],
    [['--hotplug-bus', '1st', '--qmp', '/tmp/x.sock'], /--hotplug-bus: each id must be a QEMU id/],
    [['--hotplug-bus', 'rp0'], /--hotplug-bus: needs --qmp/],
  ])('%j is a usage error and creates nothing', (extra, msg) => {
    const store = path.join(tmp, `bad${Math.random().toString(36).slice(2)}`);
    const r = cli(['init', '--store', store, '--netns', `/run/netns/${env.netnsName}`, ...extra]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(msg);
    expect(fs.existsSync(store)).toBe(false);
  });
});
