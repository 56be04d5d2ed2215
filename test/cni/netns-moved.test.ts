/**
 * ADD for a container id whose store was made for another network namespace (a runtime that
 * reuses container ids, after a DEL that never came: a reboot empties /run/netns, not stateDir).
 * The old netns gone: ADD retires the old store and attaches in the new netns (before the fix:
 * code 199 NetnsMismatchError on every ADD until a DEL). The old netns still there with an
 * attachment: code 4, nothing touched.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runPlugin } from '../../src/cni/index.js';
import { cniScratch, linksIn as links } from './scratch.js';

const scratch = cniScratch('mv');
let state = '';
beforeAll(() => {
  state = scratch.dir();
});
afterAll(() => scratch.cleanup());

async function run(command: string, netns: string): Promise<{ code: number; out: any }> {
  const conf = { cniVersion: '1.0.0', name: 'n', type: 'tapstate-cni', stateDir: state, prevResult: { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: netns }], ips: [] } };
  const o = await runPlugin({ CNI_COMMAND: command, CNI_CONTAINERID: 'c1', CNI_IFNAME: 'eth0', CNI_NETNS: netns }, JSON.stringify(conf));
  return { code: o.exitCode, out: o.stdout ? JSON.parse(o.stdout) : undefined };
}

it('the old netns gone: ADD in the new one retires the old store and attaches', async () => {
  const { name: a, path: pa } = scratch.netns({ eth0: true });
  expect((await run('ADD', pa)).code).toBe(0);
  scratch.deleteNetns(a); // the DEL never comes (a reboot, a runtime crash)
  const { name: b, path: pb } = scratch.netns({ eth0: true });
  const r = await run('ADD', pb);
  expect(r.code, JSON.stringify(r.out)).toBe(0);
  expect(links(b)).toContain('tap0_kata');
  const log = fs.readFileSync(path.join(state, 'c1', 'log.jsonl'), 'utf8');
  expect(log).toContain(pb);
  expect(log).not.toContain(pa);

  // the old netns still there with an attachment: refused, nothing touched
  const { name: c, path: pc } = scratch.netns({ eth0: true });
  const before = fs.readFileSync(path.join(state, 'c1', 'log.jsonl'), 'utf8');
  const refused = await run('ADD', pc);
  expect(refused.out).toMatchObject({
    code: 4,
    msg: `CNI_NETNS ${pc}: container c1 still has attachments in the network namespace ${pb} (cni-eth0): DEL them first`,
    details: 'variable CNI_NETNS: rule same-netns',
  });
  expect(fs.readFileSync(path.join(state, 'c1', 'log.jsonl'), 'utf8')).toBe(before);
  expect(links(b)).toContain('tap0_kata');
  expect(links(c)).not.toContain('tap0_kata');

  expect((await run('DEL', pb)).code).toBe(0);
  expect(links(b)).not.toContain('tap0_kata');
  expect(fs.readdirSync(state)).toEqual([]);
});
