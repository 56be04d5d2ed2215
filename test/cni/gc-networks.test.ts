/**
 * GC is per network (spec 1.1: the runtime runs it for each network with that network's
 * attachments in `cni.dev/valid-attachments`). One container attached to two networks that both
 * chain tapstate-cni with the same stateDir: GC of network A must leave network B's attachment
 * alone. Before the fix, GC of A detached B's tap (it is not in A's list).
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { addList, checkList, delList, invoke, pluginConf, type ConfList } from './driver.js';
import { makeCniWorld, requireCniEnvironment, type CniWorld } from './world.js';

let w: CniWorld;
beforeAll(() => {
  requireCniEnvironment();
  w = makeCniWorld();
});
afterAll(() => w?.cleanup());

const links = (ns: string): string[] => (JSON.parse(execFileSync('ip', ['-n', ns, '-j', 'link', 'show']).toString()) as Array<{ ifname: string }>).map((l) => l.ifname);

it('GC of one network keeps the attachments another network made in the same stateDir', async () => {
  const a = w.conflist('1.0.0');
  // network B: its own name and subnet, same stateDir (the default one, in a real deployment)
  const [o1, o2, o3] = w.subnet.split('.');
  const ptpB = { ...a.plugins[0]!, ipam: { ...(a.plugins[0]!.ipam as object), subnet: `${o1}.${o2}.${(Number(o3) + 1) % 256}.0/24` } };
  const b: ConfList = { ...a, name: `${a.name}-b`, plugins: [ptpB, a.plugins[1]!] };
  const rcA = w.rc(1, 'eth0');
  const rcB = { ...rcA, ifName: 'eth1' };
  const rA = await addList(w.rt, a, rcA);
  const rB = await addList(w.rt, b, rcB);
  expect(links(w.ctrNs)).toEqual(expect.arrayContaining(['tap0_kata', 'tap1_kata']));

  // the runtime GCs network A: only A's attachment is listed
  const gcA = { ...pluginConf(a, 1, undefined), cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: rcA.containerId, ifname: 'eth0' }] };
  const gc = await invoke(w.rt, 'GC', gcA, { containerId: '', netns: '', ifName: '' });
  expect(gc.code, gc.stdout + gc.stderr).toBe(0);
  expect(links(w.ctrNs)).toEqual(expect.arrayContaining(['tap0_kata', 'tap1_kata']));
  await checkList(w.rt, b, rcB, rB);

  // GC of network B with nothing valid removes B's attachment only
  const gcB = { ...pluginConf(b, 1, undefined), cniVersion: '1.1.0', 'cni.dev/valid-attachments': [] };
  expect((await invoke(w.rt, 'GC', gcB, { containerId: '', netns: '', ifName: '' })).code).toBe(0);
  expect(links(w.ctrNs)).not.toContain('tap1_kata');
  await checkList(w.rt, a, rcA, rA);

  await delList(w.rt, b, rcB, rB);
  await delList(w.rt, a, rcA, rA);
  expect(w.leftovers()).toEqual({ ctrLinks: [], hostLinks: [], ctrQdiscs: [], stores: [], ipam: [] });
});
