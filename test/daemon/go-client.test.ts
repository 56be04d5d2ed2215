/**
 * examples/go, a Go program using only the standard library, drives a real `tapstate serve`
 * (real kernel, real QEMU under TCG): (1) two endpoints hot-attached into a running QEMU,
 * checked on QEMU's own QMP, hot-detached, checked gone; (2) a cold attach whose queue fds it
 * receives over the socket (SCM_RIGHTS) and hands to a QEMU it boots itself with `fds=3:4`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchQemu } from '../../src/qemu/launcher.js';
import { TortureWorld, requireRoot } from '../torture/world.js';
import { startDaemon, type DaemonProcess } from './daemon-process.js';

let world: TortureWorld;
let daemon: DaemonProcess;
let bin: string;

function requireGo(): string {
  const r = spawnSync('go', ['version']);
  if (r.status !== 0) throw new Error('the Go client test needs Go (Debian golang-go; .ci/install-system-deps installs it)');
  return r.stdout.toString().trim();
}

beforeAll(async () => {
  requireRoot();
  requireGo();
  world = new TortureWorld();
  world.makeNetns(1);
  bin = path.join(world.tmp, 'tapstate-client');
  const env = { ...process.env, ...(process.env.HOME ? {} : { GOCACHE: path.join(world.tmp, 'gocache') }), GOFLAGS: '-mod=mod', CGO_ENABLED: '0' };
  execFileSync('go', ['build', '-o', bin, '.'], { cwd: path.resolve('examples/go'), env, stdio: 'pipe' });
  const qdir = path.join(world.tmp, 'qemu');
  world.qemu = await launchQemu({ dir: qdir, extraArgs: ['-qmp', `unix:${path.join(world.tmp, 'check.sock')},server=on,wait=off`] });
  daemon = startDaemon(path.join(world.tmp, 'api.sock'), path.join(world.tmp, 'state'));
  await daemon.ready();
}, 180_000);

afterAll(async () => {
  await daemon?.stop();
  await world?.teardown();
});

function runGo(args: string[]): { code: number | null; steps: any[]; stderr: string } {
  const r = spawnSync(bin, ['-socket', daemon.socketPath, '-netns', world.netnsPath, ...args], { timeout: 120_000 });
  const steps = r.stdout
    .toString()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  return { code: r.status, steps, stderr: r.stderr.toString() };
}

describe('the Go client (examples/go)', () => {
  it('hot-attaches two endpoints into a running QEMU, sees the NICs, hot-detaches them, sees them gone', async () => {
    const r = runGo(['-mode', 'hot', '-sandbox', 'go-hot', '-qmp', world.qemu!.qmpPath, '-check-qmp', path.join(world.tmp, 'check.sock')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.steps.map((s) => s.step)).toEqual([
      'version',
      'sandbox-created',
      'endpoint-added',
      'endpoint-added',
      'hot-attach',
      'hot-attach',
      'qemu-has-nics',
      'hot-detach',
      'hot-detach',
      'qemu-nics-gone',
      'sandbox-deleted',
    ]);
    const w = await world.view();
    expect([...w.taps.keys()]).toEqual([]);
    expect([...w.devices].filter((d) => d.startsWith('virtio-net-'))).toEqual([]);
    expect(w.qemuTunFds).toBe(0);
    expect(fs.existsSync(path.join(world.tmp, 'state', 'go-hot'))).toBe(false);
  }, 120_000);

  it('receives a cold-attached tap’s queue fds over the socket and boots its own QEMU with fds=', async () => {
    const r = runGo(['-mode', 'fds', '-sandbox', 'go-fds', '-dir', world.tmp]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.steps.map((s) => s.step)).toEqual(['version', 'sandbox-created', 'endpoint-added', 'attach', 'fds-received', 'qemu-booted-with-fds', 'qemu-stopped', 'detach', 'sandbox-deleted']);
    const got = r.steps.find((s) => s.step === 'fds-received');
    expect(got.fds).toBe(2);
    expect(got.args[1]).toMatch(/^tap,id=net-ep0,fds=3:4(,|$)/);
    // QEMU's NIC is the tap's (the kernel's tun queue fds it inherited)
    expect(r.steps.find((s) => s.step === 'qemu-booted-with-fds').info).toMatch(/net-ep0: .*fd=3/);
    const w = await world.view();
    expect([...w.taps.keys()]).toEqual([]);
    expect([...w.ingress]).toEqual([]);
  }, 120_000);
});
