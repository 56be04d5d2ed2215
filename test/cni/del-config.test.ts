/**
 * DEL acts from the store: a conflist edited after ADD (queues out of range, a tap owner not
 * ours, a bad tapName, a malformed prevResult, a malformed CNI_ARGS) must not keep DEL from
 * removing what ADD made. Before the fix every such DEL failed (codes 7, 2, 4) and the tap
 * leaked for as long as the config stayed so.
 */
import * as fs from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runPlugin } from '../../src/cni/index.js';
import { cniScratch, linksIn } from './scratch.js';

const scratch = cniScratch('delcf');
let ns = '';
let nsPath = '';
let state = '';
beforeAll(() => {
  ({ name: ns, path: nsPath } = scratch.netns({ eth0: true }));
  state = scratch.dir();
});
afterAll(() => scratch.cleanup());
const links = (): string[] => linksIn(ns);

const base = { cniVersion: '1.0.0', name: 'n', type: 'tapstate-cni' };
const env = (): Record<string, string> => ({ CNI_CONTAINERID: 'c1', CNI_IFNAME: 'eth0', CNI_NETNS: nsPath });
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
    const add = await runPlugin({ ...env(), CNI_COMMAND: 'ADD' }, JSON.stringify(conf));
    expect(add.exitCode, add.stdout).toBe(0);
    expect(links()).toContain('tap0_kata');
    const del = await runPlugin({ ...env(), CNI_COMMAND: 'DEL', CNI_ARGS: args }, JSON.stringify({ ...conf, ...edit }));
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
    const del = await runPlugin({ ...env(), CNI_COMMAND: 'DEL' }, JSON.stringify(conf));
    expect(del.exitCode).toBe(1);
    expect(JSON.parse(del.stdout)).toMatchObject({ code });
  }
});
