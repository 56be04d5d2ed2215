/**
 * A real chain, as a runtime runs it: Debian's ptp + host-local, then tapstate-cni, in network
 * namespaces the test creates (the plugins run in a "host" netns of ours). ADD → CHECK → traffic
 * both ways → DEL, for spec 1.0.0 and 0.4.0 configs; idempotent DEL in every form.
 */
import { execFileSync } from 'node:child_process';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { addList, checkList, delList, invoke, pluginConf } from './driver.js';
import { hostVethOf, makeCniWorld, requireCniEnvironment, traffic, type CniWorld } from './world.js';

const clean = { ctrLinks: [], hostLinks: [], ctrQdiscs: [], stores: [], ipam: [] };
let worlds: CniWorld[] = [];
const world = (): CniWorld => {
  const w = makeCniWorld();
  worlds.push(w);
  return w;
};

beforeAll(() => requireCniEnvironment());
afterEach(() => {
  const ws = worlds;
  worlds = [];
  for (const w of ws) w.cleanup();
});

describe('ptp + host-local → tapstate-cni', () => {
  it('ADD → CHECK → traffic both ways → DEL (1.0.0); nothing left anywhere', async () => {
    const w = world();
    const list = w.conflist('1.0.0');
    const rc = w.rc();
    const result = await addList(w.rt, list, rc);
    // prevResult kept, plus the tap (in the netns) and the VM interface (sandbox = container id)
    expect(result.cniVersion).toBe('1.0.0');
    const names = result.interfaces.map((i: { name: string }) => i.name);
    expect(names.slice(1)).toEqual(['eth0', 'tap0_kata', 'tap0_kata']);
    const [, eth0, tap, vm] = result.interfaces;
    expect(tap.sandbox).toBe(w.ctrNsPath);
    expect(vm.sandbox).toBe(rc.containerId);
    expect(vm.mac).toBe(eth0.mac);
    expect(tap.mac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    expect(tap.mac).not.toBe(eth0.mac);
    // the CNI interface's IP copied to the VM interface
    const ethIp = result.ips.find((i: { interface: number }) => i.interface === 1);
    const vmIp = result.ips.find((i: { interface: number }) => i.interface === 3);
    expect(vmIp).toEqual({ interface: 3, address: ethIp.address, gateway: ethIp.gateway });
    expect(vmIp.address.startsWith(w.subnet.split('.').slice(0, 3).join('.'))).toBe(true);

    await checkList(w.rt, list, rc, result);
    // by default a single-queue tap, as tc-redirect-tap makes (Firecracker opens it without IFF_MULTI_QUEUE)
    expect(execFileSync('ip', ['-n', w.ctrNs, '-d', 'link', 'show', 'tap0_kata']).toString()).not.toContain('multi_queue');
    expect(traffic(w, hostVethOf(result), 'tap0_kata')).toEqual({ vethToTap: true, tapToVeth: true, onTapSocket: true });
    await delList(w.rt, list, rc, result);
    expect(w.leftovers()).toEqual(clean);
  });

  it('0.4.0 config: ips carry "version"; CHECK and DEL work', async () => {
    const w = world();
    const list = w.conflist('0.4.0');
    const rc = w.rc();
    const result = await addList(w.rt, list, rc);
    expect(result.cniVersion).toBe('0.4.0');
    const vmIp = result.ips.find((i: { interface: number }) => i.interface === 3);
    expect(vmIp.version).toBe('4');
    await checkList(w.rt, list, rc, result);
    await delList(w.rt, list, rc, result);
    expect(w.leftovers()).toEqual(clean);
  });

  it('tap name from CNI_ARGS (tc-redirect-tap\'s TC_REDIRECT_TAP_NAME), two queues: traffic on a multi-queue tap', async () => {
    const w = world();
    const list = w.conflist('1.0.0', { queues: 2 });
    const rc = { ...w.rc(), args: 'IgnoreUnknown=1;TC_REDIRECT_TAP_NAME=vmtap7' };
    const result = await addList(w.rt, list, rc);
    expect(result.interfaces.slice(2).map((i: { name: string }) => i.name)).toEqual(['vmtap7', 'vmtap7']);
    expect(execFileSync('ip', ['-n', w.ctrNs, '-d', 'link', 'show', 'vmtap7']).toString()).toContain('multi_queue');
    await checkList(w.rt, list, rc, result);
    expect(traffic(w, hostVethOf(result), 'vmtap7', 2)).toEqual({ vethToTap: true, tapToVeth: true, onTapSocket: true });
    await delList(w.rt, list, rc, result);
    expect(w.leftovers()).toEqual(clean);
  });

  it('CHECK fails with a clear msg when the kernel no longer matches the store', async () => {
    const w = world();
    const list = w.conflist();
    const rc = w.rc();
    const result = await addList(w.rt, list, rc);
    execFileSync('tc', ['-n', w.ctrNs, 'qdisc', 'del', 'dev', 'eth0', 'ingress']);
    const inv = await invoke(w.rt, 'CHECK', pluginConf(list, 1, result), rc);
    expect(inv.code).toBe(1);
    expect(inv.json).toMatchObject({ cniVersion: '1.0.0', code: 101, msg: `${rc.containerId}/eth0: eth0 has no ingress qdisc` });
    // and the traffic check sees it too (a negative control of the frame helper): veth → tap is cut
    expect(traffic(w, hostVethOf(result), 'tap0_kata')).toEqual({ vethToTap: false, tapToVeth: true, onTapSocket: false });
    await delList(w.rt, list, rc, result);
    expect(w.leftovers()).toEqual(clean);
  });

  it('DEL is idempotent: twice, without prevResult, with no store at all', async () => {
    const w = world();
    const list = w.conflist();
    const rc = w.rc();
    // never added
    await delList(w.rt, list, rc, null);
    const result = await addList(w.rt, list, rc);
    // the runtime lost its cache: DEL without any prevResult still finds the tap through the store
    await delList(w.rt, list, rc, null);
    expect(w.leftovers()).toEqual(clean);
    await delList(w.rt, list, rc, result);
    await delList(w.rt, list, rc, null);
    expect(w.leftovers()).toEqual(clean);
  });

  it('DEL after the netns is gone (with and without CNI_NETNS)', async () => {
    const w = world();
    const list = w.conflist();
    const rc1 = w.rc();
    const r1 = await addList(w.rt, list, rc1);
    expect(r1.interfaces.length).toBe(4);
    w.deleteCtrNs();
    await delList(w.rt, list, rc1, r1);
    await delList(w.rt, list, { ...rc1, netns: '' }, r1);
    expect(w.leftovers()).toEqual(clean);
  });

  it('an ADD that fails half-way rolls back what it made (code 100, upstream\'s message)', async () => {
    const w = world();
    const list = w.conflist();
    const rc = w.rc();
    const result = await addList(w.rt, { ...list, plugins: list.plugins.slice(0, 1) }, rc);
    // CNI_IFNAME names no link: createTap succeeds, getOrigLink fails, the tap is removed again
    const bad = await invoke(w.rt, 'ADD', pluginConf(list, 1, result), { ...rc, ifName: 'eth5' });
    expect(bad.code).toBe(1);
    expect(bad.json).toMatchObject({ code: 100, msg: expect.stringMatching(/^LinkByName\(\) failed for tuntap name eth5: getLink eth5 in \S+: ENODEV/) });
    expect(w.leftovers().ctrLinks).toEqual(['eth0']);
    await invoke(w.rt, 'DEL', pluginConf(list, 1, null), { ...rc, ifName: 'eth5' });
    await delList(w.rt, list, rc, result);
    expect(w.leftovers()).toEqual(clean);
  });

  it('two networks on one container (eth0, eth1): one store, tap0_kata and tap1_kata; the store goes with the last DEL', async () => {
    const w = world();
    const list0 = w.conflist();
    const second = w.conflist();
    // a second network: its own name, subnet and IPAM dir (ptp's host routes must not overlap)
    const subnet1 = w.subnet.replace(/^10\.231\./, '10.232.');
    const list1 = { ...second, name: `${second.name}-b`, plugins: [{ ...second.plugins[0]!, ipam: { type: 'host-local', subnet: subnet1, dataDir: w.ipamDir } }, second.plugins[1]!] };
    const rc0 = w.rc();
    const rc1 = { ...rc0, ifName: 'eth1' };
    const r0 = await addList(w.rt, list0, rc0);
    const r1 = await addList(w.rt, list1, rc1);
    expect(r0.interfaces[2].name).toBe('tap0_kata');
    expect(r1.interfaces[2].name).toBe('tap1_kata');
    await checkList(w.rt, list0, rc0, r0);
    await checkList(w.rt, list1, rc1, r1);
    await delList(w.rt, list0, rc0, r0);
    expect(w.leftovers().stores).toEqual([rc0.containerId]);
    expect(w.leftovers().ctrLinks.sort()).toEqual(['eth1', 'tap1_kata']);
    await checkList(w.rt, list1, rc1, r1);
    // eth0 again, then a third interface not named ethN: it defaults to idx 0, which eth0 holds
    const r0b = await addList(w.rt, list0, rc0);
    const clash = await invoke(w.rt, 'ADD', pluginConf(list1, 1, r1), { ...rc0, ifName: 'net2' });
    expect(clash.json).toMatchObject({ code: 7, msg: 'another network of this container already uses idx 0 (tap tap0_kata): give this network its own "idx" or "tapName"' });
    await delList(w.rt, list0, rc0, r0b);
    await delList(w.rt, list1, rc1, r1);
    expect(w.leftovers()).toEqual(clean);
  });

  it('repeated ADD after a finished ADD returns the same attachment', async () => {
    const w = world();
    const list = w.conflist();
    const rc = w.rc();
    const result = await addList(w.rt, list, rc);
    // tapstate-cni ADD again with ptp's result (a runtime retrying after losing the first answer)
    const ptpResult = { ...result, interfaces: result.interfaces.slice(0, 2), ips: result.ips.filter((i: { interface: number }) => i.interface === 1) };
    const again = await invoke(w.rt, 'ADD', pluginConf(list, 1, ptpResult), rc);
    expect(again.code, again.stdout).toBe(0);
    expect(again.json.interfaces[2]).toEqual(result.interfaces[2]);
    await delList(w.rt, list, rc, result);
    expect(w.leftovers()).toEqual(clean);
  });
});

describe('GC (spec 1.1)', () => {
  it('removes the attachments not in cni.dev/valid-attachments, keeps the others', async () => {
    const w = world();
    // Debian's ptp (1.1.1) speaks up to 1.0.0: the attachments are made with 1.0.0, GC is 1.1.0
    const list = w.conflist('1.0.0');
    const links = (ns: string): string[] => (JSON.parse(execFileSync('ip', ['-n', ns, '-j', 'link', 'show']).toString()) as Array<{ ifname: string }>).map((l) => l.ifname);
    // the second container gets a netns of its own (ours, removed below)
    const ns2 = `${w.ctrNs}-2`;
    execFileSync('ip', ['netns', 'add', ns2]);
    try {
      const keep = w.rc();
      const drop = { ...w.rc(), netns: `/run/netns/${ns2}` };
      const rKeep = await addList(w.rt, list, keep);
      await addList(w.rt, list, drop);
      const gcConf = { ...pluginConf(list, 1, undefined), cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: keep.containerId, ifname: 'eth0' }] };
      const gc = await invoke(w.rt, 'GC', gcConf, { containerId: '', netns: '', ifName: '' });
      expect(gc.code, gc.stdout).toBe(0);
      expect(w.leftovers().stores).toEqual([keep.containerId]);
      expect(links(ns2)).not.toContain('tap0_kata');
      expect(links(w.ctrNs)).toContain('tap0_kata');
      await checkList(w.rt, list, keep, rKeep);
      await delList(w.rt, list, keep, rKeep);
      await delList(w.rt, list, drop, null);
      expect(w.leftovers()).toEqual(clean);
    } finally {
      execFileSync('ip', ['netns', 'del', ns2]);
    }
  });
});
