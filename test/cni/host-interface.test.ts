/**
 * A prevResult interface without `sandbox` is a host interface (CNI spec: every interface
 * created in or moved into a sandbox carries it). A host link with the same name as CNI_IFNAME
 * must give the VM interface neither its IPs nor its MAC. Before the fix both were taken: the
 * host interface's address was copied to the VM interface and, listed first, its MAC became the
 * guest's. A real chain: Debian's ptp + host-local, then a small plugin of the test's that reports
 * a host link `eth0` (no sandbox) with an address, listed first, then tapstate-cni.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { interfaceIps, interfaceMac } from '../../src/cni/result.js';
import { addList, delList, invoke, pluginConf, type ConfList } from './driver.js';
import { makeCniWorld, requireCniEnvironment, type CniWorld } from './world.js';

const HOST_MAC = '02:00:00:00:be:ef';
const HOST_IP = '192.0.2.7/24';

/** A plugin reporting the host's own `<CNI_IFNAME>` first in the result: no sandbox, an address. */
const hostLinkPlugin = `
let input = '';
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', () => {
  if (process.env.CNI_COMMAND !== 'ADD') return; // CHECK, DEL: nothing of ours to check or remove
  const conf = JSON.parse(input);
  const prev = conf.prevResult;
  const interfaces = [{ name: process.env.CNI_IFNAME, mac: '${HOST_MAC}' }, ...prev.interfaces];
  const ips = [{ interface: 0, address: '${HOST_IP}' }, ...prev.ips.map((ip) => ({ ...ip, interface: ip.interface + 1 }))];
  process.stdout.write(JSON.stringify({ ...prev, interfaces, ips }));
});
`;

let worlds: CniWorld[] = [];
beforeAll(() => requireCniEnvironment());
afterEach(() => {
  const ws = worlds;
  worlds = [];
  for (const w of ws) w.cleanup();
});

it('a host interface named as CNI_IFNAME (no sandbox) gives the VM interface neither its IPs nor its MAC', async () => {
  const w = makeCniWorld();
  worlds.push(w);
  fs.writeFileSync(path.join(w.rt.cniPath, 'host-link.js'), hostLinkPlugin);
  fs.writeFileSync(path.join(w.rt.cniPath, 'host-link'), `#!/bin/sh\nexec "${process.execPath}" "${path.join(w.rt.cniPath, 'host-link.js')}"\n`, { mode: 0o755 });
  const base = w.conflist('1.0.0');
  const list: ConfList = { ...base, plugins: [base.plugins[0]!, { type: 'host-link' }, base.plugins[1]!] };
  const rc = w.rc();
  const result = await addList(w.rt, list, rc);
  const ifs = result.interfaces as Array<{ name: string; mac?: string; sandbox?: string }>;
  // [host eth0, host veth, container eth0, tap, VM interface]
  expect(ifs.map((i) => [i.name, i.sandbox ?? null])).toEqual([
    ['eth0', null],
    [expect.stringMatching(/^veth/), null],
    ['eth0', w.ctrNsPath],
    ['tap0_kata', w.ctrNsPath],
    ['tap0_kata', rc.containerId],
  ]);
  const eth0 = ifs[2]!;
  const vm = ifs[4]!;
  expect(vm.mac).toBe(eth0.mac); // the container's eth0 (the cold attach reads the link's MAC itself, too)
  expect(vm.mac).not.toBe(HOST_MAC);
  const ethIp = result.ips.find((i: { interface: number }) => i.interface === 2);
  expect(result.ips.filter((i: { interface: number }) => i.interface === 4)).toEqual([{ interface: 4, address: ethIp.address, gateway: ethIp.gateway }]); // was: the host's 192.0.2.7/24 too
  // tapstate-cni's CHECK passes (ptp's own CHECK does not expect a second eth0 in the result)
  const check = await invoke(w.rt, 'CHECK', pluginConf(list, 2, result), rc);
  expect(check.code, check.stdout).toBe(0);
  await delList(w.rt, list, rc, result);
  expect(w.leftovers()).toEqual({ ctrLinks: [], hostLinks: [], ctrQdiscs: [], stores: [], ipam: [] });
});

it('interfaceMac / interfaceIps: only an interface whose sandbox is CNI_NETNS is the container\'s (none, "" or another sandbox: not)', () => {
  const ns = '/run/netns/x';
  const prev = {
    cniVersion: '1.0.0',
    interfaces: [{ name: 'eth0', mac: HOST_MAC }, { name: 'eth0', mac: '02:00:00:00:00:0e', sandbox: '' }, { name: 'eth0', mac: '02:00:00:00:00:0f', sandbox: '/run/netns/other' }, { name: 'eth0', mac: '02:00:00:00:00:02', sandbox: ns }],
    ips: [{ interface: 0, address: HOST_IP }, { interface: 1, address: '192.0.2.8/24' }, { interface: 2, address: '192.0.2.9/24' }, { interface: 3, address: '10.9.0.2/24' }],
  };
  expect(interfaceMac(prev, 'eth0', ns)).toBe('02:00:00:00:00:02'); // was: the host's
  expect(interfaceIps(prev, 'eth0', ns)).toEqual([{ interface: 3, address: '10.9.0.2/24' }]); // was: the first two too
  expect(interfaceMac({ ...prev, interfaces: prev.interfaces.slice(0, 3) }, 'eth0', ns)).toBe(''); // no container eth0: a random guest MAC
});
