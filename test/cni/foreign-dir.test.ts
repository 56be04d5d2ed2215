/**
 * A `stateDir` shared with other software (a careless config: `/var/lib/cni`, where host-local
 * keeps `networks/` and libcni `results/`): a directory under it named like a container id that
 * is not a tapstate store is never deleted (DEL, GC) nor turned into a store (ADD). Before the
 * fix, DEL and GC removed such a directory recursively, and ADD wrote a log into it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { runPlugin } from '../../src/cni/index.js';
import { cniScratch } from './scratch.js';

const scratch = cniScratch('foreign');
afterEach(() => scratch.cleanup());

/** A stateDir holding what host-local and libcni keep in /var/lib/cni. */
function sharedStateDir(): { state: string; files: string[] } {
  const state = scratch.dir();
  fs.mkdirSync(path.join(state, 'networks', 'mynet'), { recursive: true });
  fs.writeFileSync(path.join(state, 'networks', 'mynet', '10.0.0.2'), 'c0ffee\neth0');
  fs.mkdirSync(path.join(state, 'results'));
  fs.writeFileSync(path.join(state, 'results', 'mynet-c0ffee-eth0'), '{}');
  fs.writeFileSync(path.join(state, 'cache'), 'x');
  return { state, files: ['networks/mynet/10.0.0.2', 'results/mynet-c0ffee-eth0', 'cache'] };
}

const listing = (d: string): string[] => (fs.readdirSync(d, { recursive: true }) as string[]).sort();

async function run(env: Record<string, string>, stdin: object): Promise<{ code: number; out: any }> {
  const o = await runPlugin(env, JSON.stringify(stdin));
  return { code: o.exitCode, out: o.stdout ? JSON.parse(o.stdout) : undefined };
}

it('DEL with a container id naming a foreign directory succeeds and leaves it alone', async () => {
  const { state } = sharedStateDir();
  const before = listing(state);
  for (const cid of ['networks', 'results', 'cache']) {
    const r = await run({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: cid, CNI_IFNAME: 'eth0', CNI_NETNS: '' }, { cniVersion: '1.0.0', name: 'n', type: 'tapstate-cni', stateDir: state });
    expect(r).toEqual({ code: 0, out: undefined });
  }
  expect(listing(state)).toEqual(before);
});

it('GC leaves directories that are not tapstate stores alone', async () => {
  const { state } = sharedStateDir();
  const before = listing(state);
  const r = await run({ CNI_COMMAND: 'GC' }, { cniVersion: '1.1.0', name: 'n', type: 'tapstate-cni', stateDir: state, 'cni.dev/valid-attachments': [] });
  expect(r).toEqual({ code: 0, out: undefined });
  expect(listing(state)).toEqual(before);
});

it('ADD into a foreign directory is refused (code 102) and writes nothing into it', async () => {
  const { state } = sharedStateDir();
  const before = listing(state);
  const p = scratch.netns().path;
  const r = await run(
    { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'networks', CNI_IFNAME: 'eth0', CNI_NETNS: p },
    { cniVersion: '1.0.0', name: 'n', type: 'tapstate-cni', stateDir: state, prevResult: { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: p }], ips: [] } },
  );
  expect(r.code).toBe(1);
  expect(r.out).toMatchObject({ code: 102, msg: expect.stringMatching(/networks is not a tapstate store and holds files of someone else \(mynet\): /) });
  expect(listing(state)).toEqual(before);
});

it('a leftover of an ADD killed before its first record (only a lock file) is still removed by DEL', async () => {
  const state = scratch.dir();
  fs.mkdirSync(path.join(state, 'c1'));
  fs.writeFileSync(path.join(state, 'c1', 'lock'), '');
  fs.writeFileSync(path.join(state, 'c1', 'log.jsonl.tmp'), '');
  const r = await run({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'c1', CNI_IFNAME: 'eth0', CNI_NETNS: '' }, { cniVersion: '1.0.0', name: 'n', type: 'tapstate-cni', stateDir: state });
  expect(r).toEqual({ code: 0, out: undefined });
  expect(fs.existsSync(path.join(state, 'c1'))).toBe(false);
});

it('what a store removal killed half-way leaves (no log; checkpoint, networks, segments/) is tapstate\'s: DEL and GC remove it', async () => {
  const state = scratch.dir();
  for (const cid of ['c1', 'c2']) {
    fs.mkdirSync(path.join(state, cid, 'segments'), { recursive: true });
    for (const f of ['lock', 'checkpoint.json', 'cni-networks.json', 'retention.json', 'segments/0000000001.jsonl']) fs.writeFileSync(path.join(state, cid, f), '{}');
  }
  const del = await run({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'c1', CNI_IFNAME: 'eth0', CNI_NETNS: '' }, { cniVersion: '1.0.0', name: 'n', type: 'tapstate-cni', stateDir: state });
  expect(del).toEqual({ code: 0, out: undefined });
  const gc = await run({ CNI_COMMAND: 'GC' }, { cniVersion: '1.1.0', name: 'n', type: 'tapstate-cni', stateDir: state, 'cni.dev/valid-attachments': [] });
  expect(gc).toEqual({ code: 0, out: undefined });
  expect(fs.readdirSync(state)).toEqual([]);
});
