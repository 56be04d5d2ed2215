/**
 * ADD input that only the endpoint's own rules reject (the tap's name equal to CNI_IFNAME, given
 * or by default `tap<idx>_kata`): code 7 naming the field and the rule, with nothing created.
 * Before the fix the store was created first and left behind.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runPlugin } from '../../src/cni/index.js';
import { cniScratch } from './scratch.js';

const scratch = cniScratch('addin');
let nsPath = '';
let dir = '';
beforeAll(() => {
  nsPath = scratch.netns({ eth0: true }).path;
  dir = scratch.dir();
});
afterAll(() => scratch.cleanup());

const cases: Array<[string, string, Record<string, unknown>, RegExp]> = [
  ['tapName = CNI_IFNAME', 'eth0', { tapName: 'eth0' }, /^tapName "eth0" must differ from the original link's name$/],
  ['CNI_IFNAME = the default tap name', 'tap0_kata', {}, /^tapName "tap0_kata" must differ from the original link's name$/],
];
for (const [what, ifName, extra, msg] of cases)
  it(`${what} → code 7, no store`, async () => {
    const state = path.join(dir, what.replace(/\W+/g, '-'));
    const conf = {
      cniVersion: '1.0.0',
      name: 'n',
      type: 'tapstate-cni',
      stateDir: state,
      prevResult: { cniVersion: '1.0.0', interfaces: [{ name: ifName, sandbox: nsPath }], ips: [] },
      ...extra,
    };
    const o = await runPlugin({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_IFNAME: ifName, CNI_NETNS: nsPath }, JSON.stringify(conf));
    expect(o.exitCode).toBe(1);
    expect(JSON.parse(o.stdout)).toMatchObject({ code: 7, msg: expect.stringMatching(msg), details: 'field tapName: rule distinct' });
    expect(fs.existsSync(state)).toBe(false);
  });

it('ADD over what a store removal killed half-way left (no log, a stale checkpoint) starts a fresh store', async () => {
  const state = path.join(dir, 'half-removed');
  fs.mkdirSync(path.join(state, 'c1', 'segments'), { recursive: true });
  fs.writeFileSync(path.join(state, 'c1', 'checkpoint.json'), '{"stale":true}');
  fs.writeFileSync(path.join(state, 'c1', 'cni-networks.json'), '{"cni-eth0":"other"}');
  const conf = { cniVersion: '1.0.0', name: 'n', type: 'tapstate-cni', stateDir: state, prevResult: { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: nsPath }], ips: [] } };
  const env = { CNI_CONTAINERID: 'c1', CNI_IFNAME: 'eth0', CNI_NETNS: nsPath };
  const add = await runPlugin({ ...env, CNI_COMMAND: 'ADD' }, JSON.stringify(conf));
  expect(add.exitCode, add.stdout).toBe(0);
  expect(fs.readFileSync(path.join(state, 'c1', 'cni-networks.json'), 'utf8')).toBe('{"cni-eth0":"n"}\n');
  expect(fs.existsSync(path.join(state, 'c1', 'checkpoint.json')) && fs.readFileSync(path.join(state, 'c1', 'checkpoint.json'), 'utf8').includes('stale')).toBe(false);
  const del = await runPlugin({ ...env, CNI_COMMAND: 'DEL' }, JSON.stringify(conf));
  expect(del.exitCode, del.stdout).toBe(0);
  expect(fs.readdirSync(state)).toEqual([]);
});
