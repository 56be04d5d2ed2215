/**
 * Issue #9.1 and #9.5 against the real kernel: namespaces A, B and H created by the test, the CLI
 * run inside H with `ip netns exec` so that H plays "the host" (the caller's own netns) without
 * touching the real host. Before the fix, `load` of a document naming B (or `""`) made the store
 * delete taps in B (or in H); `init` accepted /etc/passwd, /dev/null, a directory and
 * /proc/self/ns/net (a tap was created in H).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeNetns, requireRoot, type TestNetns } from '../linux/fixture.js';
import { cli, networkDoc, refused } from './cli-support.js';

requireRoot();
const REAL = { TAPSTATE_ADAPTERS: 'real' };
let A: TestNetns, B: TestNetns, H: TestNetns;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-secns-${process.pid}-`));
beforeAll(() => {
  A = makeNetns();
  B = makeNetns();
  H = makeNetns();
});
afterAll(() => {
  for (const ns of [A, B, H]) ns?.remove();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const inH = () => ['ip', 'netns', 'exec', H.name];
const links = (ns: TestNetns) => execFileSync('ip', ['-n', ns.name, '-o', 'link', 'show']).toString();
const addTap = (ns: TestNetns, name: string) => execFileSync('ip', ['-n', ns.name, 'tuntap', 'add', 'dev', name, 'mode', 'tap']);
let n = 0;
const doc = (d: unknown) => {
  const f = path.join(tmp, `doc${n++}.json`);
  fs.writeFileSync(f, JSON.stringify(d));
  return f;
};

describe('load never acts outside the store netns (real kernel)', () => {
  it('refuses documents naming netns B or "" — the taps there survive; a document of A loads and detaches in A', () => {
    addTap(B, 'tap7_kata');
    addTap(H, 'tap8_kata');
    addTap(A, 'tap9_kata');
    const store = path.join(tmp, 'store-a');
    const init = cli(['init', '--store', store, '--netns', A.path, '--netns-created'], REAL, inH());
    expect(init.code, init.stderr).toBe(0);
    refused(['load', '--store', store, doc(networkDoc(B.path, [{ idx: 7, mac: '02:00:00:00:07:07' }]))], 1, /^tapstate: NetnsMismatchError: NetNsPath ".*" is not this store's network namespace/, store, REAL, inH());
    refused(['load', '--store', store, doc(networkDoc('', [{ idx: 8, mac: '02:00:00:00:08:08' }]))], 1, /^tapstate: NetnsMismatchError: NetNsPath "" /, store, REAL, inH());
    // what the reproduction did next: hot-detach whatever was loaded — nothing was
    expect(cli(['hot-detach', '--store', store, '--endpoint', 'ep7'], REAL, inH()).stderr).toMatch(/UnknownEndpointError/);
    expect(links(B)).toMatch(/tap7_kata/);
    expect(links(H)).toMatch(/tap8_kata/);
    const ok = cli(['load', '--store', store, doc(networkDoc(A.path, [{ idx: 9, mac: '02:00:00:00:09:09' }]))], REAL, inH());
    expect(ok.code, ok.stderr).toBe(0);
    const det = cli(['hot-detach', '--store', store, '--endpoint', 'ep9'], REAL, inH());
    expect(det.code, det.stderr).toBe(0);
    expect(links(A)).not.toMatch(/tap9_kata/);
    expect(links(B)).toMatch(/tap7_kata/);
    expect(links(H)).toMatch(/tap8_kata/);
  });
});

describe('init checks that --netns is a network namespace, and not the own one', () => {
  it('refuses a regular file, a device, a directory, a missing path and the own netns; accepts a real one', () => {
    const notNs = path.join(tmp, 'plain-file');
    fs.writeFileSync(notNs, 'x');
    const d = path.join(tmp, 'never');
    for (const [p, msg] of [
      ['/etc/passwd', /NetnsInvalidError: --netns \/etc\/passwd: \/etc\/passwd is not a namespace file/],
      [notNs, /NetnsInvalidError: --netns .*is not a namespace file/],
      ['/dev/null', /NetnsInvalidError: --netns \/dev\/null: is not a namespace file \(a directory or a device\)/],
      [tmp, /NetnsInvalidError: --netns .*: is not a namespace file \(a directory or a device\)/],
      ['/proc/self/ns/uts', /NetnsInvalidError: --netns \/proc\/self\/ns\/uts: \/proc\/self\/ns\/uts is not a network namespace/],
      [`/run/netns/none-${process.pid}`, /NetnsMissingError: --netns \/run\/netns\/none-\d+: no such network namespace/],
      ['/proc/self/ns/net', /NetnsInvalidError: --netns \/proc\/self\/ns\/net: is this process's own network namespace/],
      [`/run/netns/${H.name}`, /NetnsInvalidError: .*own network namespace/], // H is the caller's own here
    ] as const) {
      refused(['init', '--store', d, '--netns', p], 1, msg, tmp, REAL, inH());
    }
    expect(fs.existsSync(d)).toBe(false);
    const ok = cli(['init', '--store', d, '--netns', A.path], REAL, inH());
    expect(ok.code, ok.stderr).toBe(0);
  });
});
