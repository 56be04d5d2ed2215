/**
 * DEL acts from the store: a conflist edited after ADD (queues out of range, a tap owner not
 * ours, a bad tapName, a malformed prevResult, a malformed CNI_ARGS) must not keep DEL from
 * removing what ADD made. Before the fix every such DEL failed (codes 7, 2, 4) and the tap
 * leaked for as long as the config stayed so.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runPlugin } from '../../src/cni/index.js';

const ns = `tsc-delcf-${process.pid}-${Date.now().toString(36)}`;
const nsPath = `/run/netns/${ns}`;
let state = '';
beforeAll(() => {
  execFileSync('ip', ['netns', 'add', ns]);
  execFileSync('ip', ['-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'peer0']);
  execFileSync('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
  state = fs.mkdtempSync(path.join(tmpdir(), `tapstate-cni-delcf-${process.pid}-`));
});
afterAll(() => {
  execFileSync('ip', ['netns', 'del', ns]);
  fs.rmSync(state, { recursive: true, force: true });
});
const links = (): string[] => (JSON.parse(execFileSync('ip', ['-n', ns, '-j', 'link', 'show']).toString()) as Array<{ ifname: string }>).map((l) => l.ifname);

const base = { cniVersion: '1.0.0', name: 'n', type: 'tapstate-cni' };
const env = { CNI_CONTAINERID: 'c1', CNI_IFNAME: 'eth0', CNI_NETNS: nsPath };
const edits: Array<[string, Record<string, unknown>, string]> = [
  ['queues 0', { queues: 0 }, ''],
  ['a uid not ours', { uid: 4242 }, ''],
  ['a bad tapName', { tapName: 'a/b' }, ''],
  ['a malformed prevResult', { prevResult: 'x' }, ''],
  ['a malformed CNI_ARGS', {}, 'garbage;TC_REDIRECT_TAP_UID=4242'],
];
for (const [what, edit, args] of edits)
  it(`DEL after ADD with ${what} in the edited config removes everything`, async () => {
    const conf = { ...base, stateDir: state, queues: 2, prevResult: { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: nsPath }], ips: [] } };
    const add = await runPlugin({ ...env, CNI_COMMAND: 'ADD' }, JSON.stringify(conf));
    expect(add.exitCode, add.stdout).toBe(0);
    expect(links()).toContain('tap0_kata');
    const del = await runPlugin({ ...env, CNI_COMMAND: 'DEL', CNI_ARGS: args }, JSON.stringify({ ...conf, ...edit }));
    expect({ code: del.exitCode, out: del.stdout }).toEqual({ code: 0, out: '' });
    expect(links()).not.toContain('tap0_kata');
    expect(fs.readdirSync(state)).toEqual([]);
  });

it('DEL still refuses what it needs: an unsupported cniVersion, a bad stateDir', async () => {
  for (const [conf, code] of [
    [{ ...base, cniVersion: '9.9.9', stateDir: state }, 1],
    [{ ...base, stateDir: 'rel/dir' }, 7],
    [{ ...base, stateDir: `${state}/a\0b` }, 7],
  ] as const) {
    const del = await runPlugin({ ...env, CNI_COMMAND: 'DEL' }, JSON.stringify(conf));
    expect(del.exitCode).toBe(1);
    expect(JSON.parse(del.stdout)).toMatchObject({ code });
  }
});
