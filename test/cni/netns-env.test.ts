/**
 * ADD with a CNI_NETNS that is not a container's network namespace: a regular file, a directory,
 * a mount namespace, the plugin's own (host) netns by any path. Each is code 4 (invalid
 * environment) naming CNI_NETNS and the rule, before anything is created. Before the fix only
 * existence was checked: a file or a mount ns failed at createTap (code 100) after creating the
 * store, which then blocked a retried ADD with the right netns (NetnsMismatchError, code 199);
 * the host netns was attached in (a tap and an ingress redirect on the host's CNI_IFNAME); a FIFO
 * hung the plugin in open().
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { runPlugin } from '../../src/cni/index.js';
import { checkAddNetns } from '../../src/cni/netns-check.js';
import { cniScratch } from './scratch.js';
import { pluginMain } from './world.js';

const scratch = cniScratch('netns');
afterEach(() => scratch.cleanup());
const tmp = (): string => scratch.dir();

async function add(d: string, ns: string): Promise<{ code: number; out: any }> {
  const conf = {
    cniVersion: '1.0.0',
    name: 'n',
    type: 'tapstate-cni',
    stateDir: path.join(d, 'state'),
    prevResult: { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: ns }], ips: [] },
  };
  const o = await runPlugin({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_IFNAME: 'eth0', CNI_NETNS: ns }, JSON.stringify(conf));
  return { code: o.exitCode, out: o.stdout ? JSON.parse(o.stdout) : undefined };
}

const cases: Array<[string, (d: string) => string, RegExp]> = [
  ['a regular file', (d) => (fs.writeFileSync(path.join(d, 'f'), 'x'), path.join(d, 'f')), /^CNI_NETNS \S+\/f: not a network namespace \(.*not a namespace file/],
  ['a directory', (d) => d, /^CNI_NETNS \S+: not a network namespace/],
  ['a mount namespace', () => '/proc/self/ns/mnt', /^CNI_NETNS \/proc\/self\/ns\/mnt: not a network namespace \(\/proc\/self\/ns\/mnt is not a network namespace\)/],
  ['the host netns', () => '/proc/self/ns/net', /^CNI_NETNS \/proc\/self\/ns\/net is the plugin's own \(the host's\) network namespace/],
  ['the host netns by pid', () => `/proc/${process.pid}/ns/net`, /is the plugin's own \(the host's\) network namespace/],
  ['a path under a file', (d) => (fs.writeFileSync(path.join(d, 'f'), 'x'), path.join(d, 'f', 'ns')), /: no such network namespace$/],
];
for (const [what, nsPath, msg] of cases)
  it(`ADD in ${what} → code 4, nothing created`, async () => {
    const d = tmp();
    const r = await add(d, nsPath(d));
    expect(r.code).toBe(1);
    expect(r.out).toMatchObject({ code: 4, msg: expect.stringMatching(msg), details: expect.stringMatching(/^variable CNI_NETNS: rule /) });
    expect(fs.existsSync(path.join(d, 'state'))).toBe(false);
  });

it('a container netns, directly or through a symlink, passes the check', () => {
  const ns = scratch.netns().path;
  const link = path.join(tmp(), 'ns-link');
  fs.symlinkSync(ns, link);
  expect(() => checkAddNetns(ns)).not.toThrow();
  expect(() => checkAddNetns(link)).not.toThrow();
});

it('ADD in a FIFO → code 4 at once (the open must not block), nothing created', () => {
  // run as a process with a deadline: a blocking open() would hang this test's own thread
  const d = tmp();
  const fifo = path.join(d, 'p');
  execFileSync('mkfifo', [fifo]);
  const conf = { cniVersion: '1.0.0', name: 'n', type: 'tapstate-cni', stateDir: path.join(d, 'state'), prevResult: { cniVersion: '1.0.0', interfaces: [], ips: [] } };
  const r = spawnSync(process.execPath, [pluginMain()], {
    env: { PATH: process.env.PATH ?? '', CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_IFNAME: 'eth0', CNI_NETNS: fifo },
    input: JSON.stringify(conf),
    encoding: 'utf8',
    timeout: 15_000,
    killSignal: 'SIGKILL',
  });
  expect(r.signal, 'the plugin hung in open() and was killed').toBeNull();
  expect(JSON.parse(r.stdout)).toMatchObject({ code: 4, msg: expect.stringMatching(/^CNI_NETNS \S+\/p: not a network namespace \(.*not a namespace file/) });
  expect(fs.existsSync(path.join(d, 'state'))).toBe(false);
});
