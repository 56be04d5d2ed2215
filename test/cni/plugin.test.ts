/**
 * The plugin's protocol edges, in process (runPlugin = what main.ts runs): VERSION, STATUS, and
 * every bad input as a CNI error object with the spec's code, naming the field or variable and
 * the rule — with nothing created. A store held by another writer is code 11 (try again later).
 */
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { addResult, parseConfig, parseEnv, runPlugin } from '../../src/cni/index.js';
import { StoreLock } from '../../src/store/store-lock.js';

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  dirs = [];
});
const tmp = (): string => {
  const d = fs.mkdtempSync(path.join(tmpdir(), `tapstate-cni-unit-${process.pid}-`));
  dirs.push(d);
  return d;
};

const ENV = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_NETNS: '/run/netns/none-such', CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni' };
const prevResult = { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: '/run/netns/none-such' }], ips: [] };
const conf = (stateDir: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  cniVersion: '1.0.0',
  name: 'net',
  type: 'tapstate-cni',
  stateDir,
  prevResult,
  ...extra,
});

async function run(env: Record<string, string>, stdin: unknown): Promise<{ code: number; out: any }> {
  const o = await runPlugin(env, typeof stdin === 'string' ? stdin : JSON.stringify(stdin));
  return { code: o.exitCode, out: o.stdout ? JSON.parse(o.stdout) : undefined };
}

describe('tapstate-cni protocol', () => {
  it('VERSION lists the supported versions', async () => {
    const r = await run({ CNI_COMMAND: 'VERSION' }, { cniVersion: '1.0.0' });
    expect(r).toEqual({ code: 0, out: { cniVersion: '1.0.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] } });
  });

  it('STATUS (1.1.0) succeeds when stateDir is usable; GC needs 1.1.0', async () => {
    const d = tmp();
    expect(await run({ CNI_COMMAND: 'STATUS' }, { cniVersion: '1.1.0', name: 'n', type: 'tapstate-cni', stateDir: path.join(d, 's') })).toEqual({ code: 0, out: undefined });
    const gc = await run({ CNI_COMMAND: 'GC' }, { cniVersion: '1.0.0', name: 'n', type: 'tapstate-cni', stateDir: d, 'cni.dev/valid-attachments': [] });
    expect(gc.out).toMatchObject({ code: 1, msg: 'GC needs cniVersion 1.1.0 or later (the config says "1.0.0")' });
  });

  const cases: Array<[string, Record<string, string>, (d: string) => unknown, number, RegExp]> = [
    ['no CNI_COMMAND', { ...ENV, CNI_COMMAND: '' }, (d) => conf(d), 4, /^CNI_COMMAND is not set/],
    ['unknown CNI_COMMAND', { ...ENV, CNI_COMMAND: 'PUT' }, (d) => conf(d), 4, /^CNI_COMMAND "PUT" is not one of/],
    ['no CNI_CONTAINERID', { ...ENV, CNI_CONTAINERID: '' }, (d) => conf(d), 4, /^CNI_CONTAINERID is required for ADD/],
    ['a container id that is a path', { ...ENV, CNI_CONTAINERID: '../etc' }, (d) => conf(d), 4, /^CNI_CONTAINERID "\.\.\/etc" must match/],
    ['no CNI_NETNS for ADD', { ...ENV, CNI_NETNS: '' }, (d) => conf(d), 4, /^CNI_NETNS is required for ADD/],
    ['a relative CNI_NETNS', { ...ENV, CNI_NETNS: 'run/netns/x' }, (d) => conf(d), 4, /^CNI_NETNS must be an absolute path/],
    ['a CNI_IFNAME longer than IFNAMSIZ', { ...ENV, CNI_IFNAME: 'eth0123456789abcdef' }, (d) => conf(d), 4, /^CNI_IFNAME "eth0123456789abcdef" must be at most 15 bytes/],
    ['bad CNI_ARGS', { ...ENV, CNI_ARGS: 'novalue' }, (d) => conf(d), 4, /^CNI_ARGS: "novalue" is not KEY=VALUE/],
    ['stdin not JSON', ENV, () => '{nope', 6, /^the network configuration on stdin is not JSON/],
    ['an unknown cniVersion', ENV, (d) => conf(d, { cniVersion: '0.2.0' }), 1, /^cniVersion "0.2.0" is not supported/],
    ['no name', ENV, (d) => conf(d, { name: undefined }), 7, /^name \(the network name\) is required/],
    ['a relative stateDir', ENV, () => conf('var/lib/x'), 7, /^stateDir must be an absolute path/],
    ['queues 0', ENV, (d) => conf(d, { queues: 0 }), 7, /^queues must be an integer between 1 and 256 \(got 0\)/],
    ['a tap_name too long', ENV, (d) => conf(d, { tap_name: 'a-very-long-tap-name' }), 7, /^tap_name "a-very-long-tap-name" must be at most 15 bytes/],
    ['tapName and tap_name disagree', ENV, (d) => conf(d, { tap_name: 'a', tapName: 'b' }), 7, /^tapName and tap_name disagree/],
    ['a tap owner other than ours', ENV, (d) => conf(d, { uid: 12345 }), 2, /^uid 12345: tapstate-cni creates the tap owned by the plugin's own uid/],
    ['a tap owner through CNI_ARGS', { ...ENV, CNI_ARGS: 'TC_REDIRECT_TAP_GID=777' }, (d) => conf(d), 2, /^CNI_ARGS TC_REDIRECT_TAP_GID 777/],
    ['an empty tap owner in CNI_ARGS', { ...ENV, CNI_ARGS: 'TC_REDIRECT_TAP_UID=' }, (d) => conf(d), 7, /^CNI_ARGS TC_REDIRECT_TAP_UID must be a non-negative integer \(got ""\)/],
    ['a hex tap owner in CNI_ARGS', { ...ENV, CNI_ARGS: 'TC_REDIRECT_TAP_GID=0x0' }, (d) => conf(d), 7, /^CNI_ARGS TC_REDIRECT_TAP_GID must be a non-negative integer \(got "0x0"\)/],
    ['no prevResult (not chained)', ENV, (d) => conf(d, { prevResult: undefined }), 7, /^prevResult: required: tapstate-cni is a chained plugin/],
    ['a malformed prevResult', ENV, (d) => conf(d, { prevResult: { interfaces: {} } }), 7, /^prevResult: interfaces must be an array/],
    ['a missing netns', ENV, (d) => conf(d), 4, /^CNI_NETNS \/run\/netns\/none-such: no such network namespace/],
  ];
  for (const [what, env, stdin, code, msg] of cases)
    it(`${what} → code ${code}, nothing created`, async () => {
      const d = tmp();
      const state = path.join(d, 'state');
      const cfg = stdin(state);
      const r = await run(env, cfg);
      expect(r.code).toBe(1);
      expect(r.out.code).toBe(code);
      expect(r.out.msg).toMatch(msg);
      expect(r.out.cniVersion).toBe('1.0.0'); // the config's, or 1.0.0 when it has none we speak
      expect(fs.existsSync(state)).toBe(false);
    });

  it('a store held by another writer → code 11 (try again later), the store untouched', async () => {
    const d = tmp();
    const store = path.join(d, 'c1');
    fs.mkdirSync(store, { mode: 0o700 });
    const lock = StoreLock.acquire(store);
    try {
      const r = await run({ ...ENV, CNI_COMMAND: 'DEL' }, conf(d));
      expect(r.out).toMatchObject({ cniVersion: '1.0.0', code: 11, msg: `another tapstate-cni holds this container's store (pid ${process.pid}): try again later` });
      expect(fs.readdirSync(store)).toEqual(['lock']);
    } finally {
      lock.release();
    }
    // released: DEL finds a store that never got a log (an ADD killed early) and removes it
    expect(await run({ ...ENV, CNI_COMMAND: 'DEL' }, conf(d))).toEqual({ code: 0, out: undefined });
    expect(fs.existsSync(store)).toBe(false);
  });

  it('results: the tap and the VM interface added, IPs copied; MTU only in 1.1.0', () => {
    const prev = {
      cniVersion: '1.0.0',
      interfaces: [{ name: 'veth1' }, { name: 'eth0', mac: '02:00:00:00:00:02', sandbox: '/run/netns/x' }],
      ips: [{ interface: 1, address: '10.9.0.2/24', gateway: '10.9.0.1' }],
    };
    const facts = { tapName: 't0', tapMac: '02:00:00:00:00:03', guestMac: '02:00:00:00:00:02', mtu: 1400, netns: '/run/netns/x', containerId: 'c', ifName: 'eth0' };
    const r10 = addResult('1.0.0', prev, facts);
    expect(r10.interfaces!.slice(2)).toEqual([
      { name: 't0', mac: '02:00:00:00:00:03', sandbox: '/run/netns/x' },
      { name: 't0', mac: '02:00:00:00:00:02', sandbox: 'c' },
    ]);
    expect(r10.ips![1]).toEqual({ interface: 3, address: '10.9.0.2/24', gateway: '10.9.0.1' });
    const r11 = addResult('1.1.0', prev, facts);
    expect(r11.interfaces![3]).toMatchObject({ mtu: 1400 });
    expect(addResult('0.4.0', prev, facts).ips![1]).toMatchObject({ version: '4' });
  });

  it('the conflist in docs/cni.md is one this plugin accepts', () => {
    const md = fs.readFileSync(new URL('../../docs/cni.md', import.meta.url), 'utf8');
    const block = /```json\n([\s\S]*?)\n```/.exec(md)![1]!;
    const list = JSON.parse(block) as { cniVersion: string; name: string; plugins: Array<Record<string, unknown>> };
    expect(list.plugins.map((p) => p.type)).toEqual(['ptp', 'tapstate-cni']);
    const env = parseEnv({ ...ENV, CNI_COMMAND: 'ADD' });
    const cfg = parseConfig(JSON.stringify({ ...list.plugins[1], name: list.name, cniVersion: list.cniVersion, prevResult }), env);
    expect(cfg).toMatchObject({ cniVersion: '1.0.0', name: 'vmnet', stateDir: '/var/lib/cni/tapstate', idx: 0, queues: 2 });
  });

  it('the error object carries the config\'s cniVersion', async () => {
    const r = await run({ ...ENV, CNI_CONTAINERID: '' }, conf('/x', { cniVersion: '0.4.0' }));
    expect(r.out).toMatchObject({ cniVersion: '0.4.0', code: 4 });
  });
});
