/**
 * `tapstate scan` on the real kernel: a netns the test creates holding a TAP, a TUN, a veth pair
 * and a dummy (an ifb where this kernel has no dummy driver: see addPlainLink). Upstream's rules
 * and messages, `--dry-run`, idempotence; everything removed even on failure.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLI } from '../torture/world.js';
import { addPlainLink, makeNetns, plainLinkKind, requireRoot, type TestNetns } from './fixture.js';

let ns: TestNetns;
let dir: string;
beforeEach(() => {
  requireRoot();
  ns = makeNetns();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-scan-${process.pid}-`));
});
afterEach(() => {
  try {
    ns?.remove();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} missing: npm run build first`);
  const env = { ...process.env };
  delete env.TAPSTATE_ADAPTERS;
  const r = spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const ip = (...a: string[]) => execFileSync('ip', ['-n', ns.name, ...a], { encoding: 'utf8' });
const storeFiles = (store: string) => Object.fromEntries(fs.readdirSync(store).filter((f) => f !== 'lock').map((f) => [f, fs.readFileSync(path.join(store, f)).toString('base64')]));

describe('tapstate scan on a real netns (TAP, TUN, veth, dummy)', () => {
  it("upstream's rules and messages; --dry-run changes nothing; a second scan adds nothing", () => {
    ip('tuntap', 'add', 'dev', 'ctap0', 'mode', 'tap');
    ip('link', 'set', 'ctap0', 'mtu', '1400', 'address', '02:00:00:00:0c:01');
    ip('tuntap', 'add', 'dev', 'ctun0', 'mode', 'tun');
    ip('link', 'add', 'cveth0', 'type', 'veth', 'peer', 'name', 'cveth1');
    addPlainLink(ns, 'cdum0');
    const store = path.join(dir, 'store');
    let r = cli(['init', '--store', store, '--netns', ns.path, '--netns-created', '--vcpus', '2']);
    expect(r.code, r.stderr).toBe(0);

    const before = storeFiles(store);
    r = cli(['scan', '--store', store, '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    expect(storeFiles(store)).toEqual(before);
    const kind = plainLinkKind();
    // scan order = ifindex order: lo, ctap0, ctun0, cveth1/cveth0 (the peer gets the lower index), cdum0
    expect(r.stdout.trim().split('\n')).toEqual([
      'lo (no kind): loopback, skipped',
      'ctap0 (tun): would add ep0 (idx 0, mac 02:00:00:00:0c:01, mtu 1400)',
      'ctun0 (tun): refused: tun networking device not yet supported',
      expect.stringMatching(/^cveth[01] \(veth\): not a tuntap endpoint, left alone$/),
      expect.stringMatching(/^cveth[01] \(veth\): not a tuntap endpoint, left alone$/),
      `cdum0 (${kind}): not a tuntap endpoint, left alone`,
    ]);

    r = cli(['scan', '--store', store]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('ctap0 (tun): added ep0 (idx 0, mac 02:00:00:00:0c:01, mtu 1400)');
    const status = JSON.parse(cli(['status', '--store', store, '--json']).stdout);
    expect(status.endpoints).toMatchObject([{ id: 'ep0', idx: 0, name: 'ctap0', tapName: 'tap0_kata', hardAddr: '02:00:00:00:0c:01', mtu: 1400, state: 'created' }]);

    const once = storeFiles(store);
    r = cli(['scan', '--store', store]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('ctap0 (tun): already ep0');
    expect(r.stdout).not.toMatch(/added/);
    expect(storeFiles(store)).toEqual(once);
    // the links are left as they were
    expect(JSON.parse(ip('-j', 'link', 'show')).map((l: { ifname: string }) => l.ifname).sort()).toEqual(['cdum0', 'ctap0', 'ctun0', 'cveth0', 'cveth1', 'lo']);
  });
});
