/**
 * Regression (issue #10, bug 2): a kill between `getfd` and `netdev_add` leaked a tap queue fd
 * inside QEMU, because fd names were `fd<counter>` per client and no later process knew them.
 * Names are now derived from the netdev id and the queue index, and the unplug of recovery's
 * rollback `closefd`s them. Deterministic: a child process is SIGKILLed right after the first
 * getfd of a 2-queue hot plug (QMP-level fault injection), then recovery runs in this process
 * against the same real QEMU, and QEMU's /proc/<pid>/fd must hold no /dev/net/tun.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LinuxNetlinkAdapter } from '../../src/linux/adapter.js';
import { FileLogStore } from '../../src/log/index.js';
import { QemuHypervisorAdapter } from '../../src/qemu/adapter.js';
import type { QemuInstance } from '../../src/qemu/launcher.js';
import { Tapstore } from '../../src/runtime/tapstore.js';
import { RealEnv } from './qemu-fixture.js';

const CHILD = path.resolve('dist/test/qemu/getfd-crash-child.js');

let env: RealEnv;
let q: QemuInstance;
let dir: string;

/** Entries of QEMU's fd table that are /dev/net/tun. */
function qemuTunFds(pid: number): number {
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

beforeAll(async () => {
  if (!fs.existsSync(CHILD)) throw new Error(`${CHILD} is missing: run npm run build (npm test does) first`);
  env = new RealEnv();
  q = await env.qemu();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tapstate-getfd-'));
});

afterAll(async () => {
  await env?.teardown();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('kill -9 right after the first getfd of a multi-queue hot plug (real QEMU)', () => {
  it('recovery closes the fd QEMU received: no /dev/net/tun left in QEMU, tap gone, endpoint back to created', async () => {
    const netnsPath = `/run/netns/${env.netnsName}`;
    const child = spawnSync(process.execPath, [CHILD, dir, netnsPath, q.qmpPath, '2'], { encoding: 'utf8', timeout: 30_000 });
    expect(child.signal, `child: ${child.stdout} ${child.stderr}`).toBe('SIGKILL');
    expect(child.stdout).toContain('after qmp getfd');
    // the leak this test is about: QEMU holds the one fd it got
    expect(qemuTunFds(q.pid)).toBe(1);

    const netlink = new LinuxNetlinkAdapter();
    const hypervisor = new QemuHypervisorAdapter({ qmpPath: q.qmpPath, unplugTimeoutMs: 3000 });
    try {
      const store = await Tapstore.open({ log: FileLogStore.open(dir), adapters: { netlink, hypervisor } });
      expect(store.recovery.endpoints).toMatchObject([{ id: 'ep0', effect: 'hotAttach.hotplug', ran: true, action: 'rolled-back', finalState: 'created' }]);
      expect(qemuTunFds(q.pid)).toBe(0);
      expect(await netlink.probeLink(netnsPath, 'tap0_kata')).toBeNull();
      // and the endpoint hot-attaches and detaches cleanly afterwards, under the same fd names
      expect((await store.hotAttach('ep0')).state).toBe('hotAttached');
      expect(qemuTunFds(q.pid)).toBe(2);
      expect((await store.hotDetach('ep0')).state).toBe('detached');
      expect(qemuTunFds(q.pid)).toBe(0);
      await store.close();
    } finally {
      await hypervisor.close();
      await netlink.close();
    }
  }, 60_000);
});
