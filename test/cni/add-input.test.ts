/**
 * ADD input that only the endpoint's own rules reject (the tap's name equal to CNI_IFNAME, given
 * or by default `tap<idx>_kata`): code 7 naming the field and the rule, with nothing created.
 * Before the fix the store was created first and left behind.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runPlugin } from '../../src/cni/index.js';

const ns = `tsc-addin-${process.pid}-${Date.now().toString(36)}`;
const nsPath = `/run/netns/${ns}`;
let dir = '';
beforeAll(() => {
  execFileSync('ip', ['netns', 'add', ns]);
  dir = fs.mkdtempSync(path.join(tmpdir(), `tapstate-cni-addin-${process.pid}-`));
});
afterAll(() => {
  execFileSync('ip', ['netns', 'del', ns]);
  fs.rmSync(dir, { recursive: true, force: true });
});

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
