/**
 * Taking over a NIC that upstream's runtime plugged (issue #13), against the real kernel and a
 * real QEMU (TCG, guest-less): the tap is created as upstream's createLink does
 * (IFF_MULTI_QUEUE|IFF_NO_PI|IFF_VNET_HDR), the NIC plugged over QMP exactly as upstream's
 * hotplugNetDevice does — queue fds by `getfd` as `fd<i>`, netdev `br<idx>_kata`, device
 * `virtio-<NetPair.ID>` (a UUID upstream never persists) — then the runtime "restarts": the
 * matching persist.json is loaded with `tapstate load` and `tapstate hot-detach` must leave QEMU
 * with 0 virtio-net devices, 0 tap netdevs and 0 /dev/net/tun fds, and the netns with 0 taps.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { E2eWorld, listedNetdevs } from '../e2e/world.js';
import { CLI } from '../torture/world.js';

let world: E2eWorld | undefined;
afterEach(async () => {
  const w = world;
  world = undefined;
  await w?.teardown();
});

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} missing: npm run build first`);
  const env = { ...process.env };
  delete env.TAPSTATE_ADAPTERS; // the real adapters
  const r = spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The /dev/net/tun fds a process holds. */
function tunFdsOf(pid: number): number {
  let n = 0;
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === '/dev/net/tun') n++;
    } catch {
      /* closed meanwhile */
    }
  }
  return n;
}

/** virtio-net devices under /machine/peripheral (or `container`). */
async function virtioNets(w: { control: { execute(c: string, a?: unknown): Promise<unknown> } }, container = '/machine/peripheral'): Promise<string[]> {
  const list = (await w.control.execute('qom-list', { path: container })) as Array<{ name: string; type: string }>;
  return list.filter((p) => p.type.startsWith('child<virtio-net')).map((p) => p.name);
}

describe("taking over a NIC upstream's runtime plugged (real kernel + real QEMU, via the CLI)", () => {
  it('tapstate load + hot-detach: 0 virtio-net devices, 0 tap netdevs, 0 tun fds in QEMU, 0 taps in the netns', async () => {
    const w = (world = new E2eWorld({ qemu: true, vcpus: 2 }));
    const q = await w.qemu();
    const idx = 1;
    const mac = '5a:94:ef:e4:0c:ee';

    // upstream's tuntapNetwork: createLink(tap<idx>_kata, queues = NumVCPUs), MTU, up
    const { fds } = await w.netlink.createTap({ netns: w.netns.path, name: `tap${idx}_kata`, queues: 2 });
    await w.netlink.setUp(w.netns.path, `tap${idx}_kata`, true);
    expect(w.link(`tap${idx}_kata`)?.linkinfo?.info_data).toMatchObject({ multi_queue: true, vnet_hdr: true, persist: true });

    // upstream's hotplugNetDevice, command for command
    const names: string[] = [];
    for (const [i, fd] of fds.entries()) {
      await q.control.execute('getfd', { fdname: `fd${i}` }, { fds: [fd] });
      names.push(`fd${i}`);
    }
    await q.control.execute('netdev_add', { type: 'tap', id: `br${idx}_kata`, fds: names.join(':') });
    const deviceId = `virtio-${randomUUID()}`;
    await q.control.execute('device_add', { id: deviceId, driver: 'virtio-net-pci', romfile: '', bus: 'rp0', addr: '0x0', mac, netdev: `br${idx}_kata`, mq: 'on', vectors: 2 * 2 + 2 });
    await w.netlink.closeFds(fds); // the runtime that plugged it is gone
    expect(await virtioNets(q)).toEqual([deviceId]);
    expect(await listedNetdevs(q.control)).toContain(`br${idx}_kata`);
    expect(tunFdsOf(q.pid)).toBe(2);

    // the persist.json upstream's runtime left (its save(): NetPair, and so the device id, are not persisted)
    const file = path.join(w.dir, 'persist.json');
    const network = {
      NetNsPath: w.netns.path,
      NetmonPID: 0,
      NetNsCreated: true,
      Endpoints: [{ Type: 'tuntap', Tuntap: { TuntapInterface: { Name: `eth${idx}`, TAPIface: { Name: `tap${idx}_kata`, HardAddr: mac, Addrs: null } } } }],
    };
    fs.writeFileSync(file, JSON.stringify({ Network: network }));

    const store = path.join(w.dir, 'cli-store');
    let r = cli(['init', '--store', store, '--netns', w.netns.path, '--netns-created', '--qmp', q.qmpPath, '--vcpus', '2']);
    expect(r.code, r.stderr).toBe(0);
    r = cli(['load', '--store', store, file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^ep${idx}: hotAttached, tap tap${idx}_kata, mac ${mac}$`, 'm'));
    r = cli(['save', '--store', store]);
    expect(JSON.parse(r.stdout)).toEqual(network);

    r = cli(['hot-detach', '--store', store, '--endpoint', `ep${idx}`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^ep${idx}: detached`));

    expect(await virtioNets(q)).toEqual([]);
    const netdevs = [...(await listedNetdevs(q.control))];
    expect(netdevs.filter((n) => n === `br${idx}_kata`)).toEqual([]);
    expect(netdevs).toEqual([]); // no tap netdev at all
    expect(tunFdsOf(q.pid)).toBe(0);
    expect(w.linkNames().filter((n) => w.link(n)?.linkinfo?.info_kind === 'tun')).toEqual([]);
    // and the log shows the takeover: the unplug effect was asked to find the NIC by its MAC
    const log = fs.readFileSync(path.join(store, 'log.jsonl'), 'utf8');
    expect(log).toContain(`"src":"hypervisor.hotunplug","input":{"netdevId":"br${idx}_kata","deviceId":"","mac":"${mac}","queues":2}`);
  });

  it('a NIC plugged without a device id (under /machine/peripheral-anon): hot-detach finds it by its MAC and unplugs it by its QOM path (regression: exit 0, "detached", the NIC left in QEMU)', async () => {
    const w = (world = new E2eWorld({ qemu: true, vcpus: 1 }));
    const q = await w.qemu();
    const mac = '5a:94:ef:e4:0c:f0';
    const { fds } = await w.netlink.createTap({ netns: w.netns.path, name: 'tap2_kata', queues: 1 });
    await w.netlink.setUp(w.netns.path, 'tap2_kata', true);
    await q.control.execute('getfd', { fdname: 'fd0' }, { fds: [fds[0]!] });
    await q.control.execute('netdev_add', { type: 'tap', id: 'br2_kata', fds: 'fd0' });
    await q.control.execute('device_add', { driver: 'virtio-net-pci', romfile: '', bus: 'rp0', addr: '0x0', mac, netdev: 'br2_kata' }); // no id
    await w.netlink.closeFds(fds);
    expect(await virtioNets(q, '/machine/peripheral-anon')).toHaveLength(1);
    const file = path.join(w.dir, 'persist.json');
    fs.writeFileSync(file, JSON.stringify({ NetNsPath: w.netns.path, NetmonPID: 0, NetNsCreated: true, Endpoints: [{ Type: 'tuntap', Tuntap: { TuntapInterface: { Name: 'eth2', TAPIface: { Name: 'tap2_kata', HardAddr: mac, Addrs: null } } } }] }));
    const store = path.join(w.dir, 'cli-store');
    expect(cli(['init', '--store', store, '--netns', w.netns.path, '--netns-created', '--qmp', q.qmpPath, '--vcpus', '1']).code).toBe(0);
    expect(cli(['load', '--store', store, file]).stdout).toMatch(/^ep2: hotAttached/m);
    const r = cli(['hot-detach', '--store', store, '--endpoint', 'ep2']);
    expect(r.code, r.stderr).toBe(0);
    expect(await virtioNets(q, '/machine/peripheral-anon')).toEqual([]);
    expect([...(await listedNetdevs(q.control))]).toEqual([]);
    expect(tunFdsOf(q.pid)).toBe(0);
  });

  it('a NIC carrying the MAC on another netdev is not ours: hot-detach refuses to unplug it, exit 1, it stays', async () => {
    const w = (world = new E2eWorld({ qemu: true, vcpus: 1 }));
    const q = await w.qemu();
    const mac = '5a:94:ef:e4:0c:ef';
    // the tap upstream created, and a NIC with the same MAC that someone else plugged on another tap
    await w.netlink.closeFds((await w.netlink.createTap({ netns: w.netns.path, name: 'tap0_kata', queues: 1 })).fds);
    const other = await w.netlink.createTap({ netns: w.netns.path, name: 'othertap', queues: 1 });
    await q.control.execute('getfd', { fdname: 'x0' }, { fds: [other.fds[0]!] });
    await q.control.execute('netdev_add', { type: 'tap', id: 'someone', fds: 'x0' });
    await q.control.execute('device_add', { id: 'nic9', driver: 'virtio-net-pci', romfile: '', bus: 'rp0', addr: '0x0', mac, netdev: 'someone' });
    await w.netlink.closeFds(other.fds);
    const file = path.join(w.dir, 'persist.json');
    fs.writeFileSync(file, JSON.stringify({ NetNsPath: w.netns.path, NetmonPID: 0, NetNsCreated: true, Endpoints: [{ Type: 'tuntap', Tuntap: { TuntapInterface: { Name: 'eth0', TAPIface: { Name: 'tap0_kata', HardAddr: mac, Addrs: null } } } }] }));
    const store = path.join(w.dir, 'cli-store');
    expect(cli(['init', '--store', store, '--netns', w.netns.path, '--netns-created', '--qmp', q.qmpPath, '--vcpus', '1']).code).toBe(0);
    expect(cli(['load', '--store', store, file]).stdout).toMatch(/^ep0: hotAttached/m);
    const r = cli(['hot-detach', '--store', store, '--endpoint', 'ep0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot be taken over: device nic9 is backed by netdev someone, not br0_kata/);
    expect(await virtioNets(q)).toEqual(['nic9']);
    expect(await listedNetdevs(q.control)).toContain('someone');
    // its own tap was removed all the same (unplug first, then the tap: the teardown goes on)
    expect(w.link('tap0_kata')).toBeNull();
  });
});
