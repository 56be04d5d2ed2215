/**
 * A sample run for the inspection, view and CLI tests: in-memory kernel and hypervisor, a real
 * on-disk log store in a fresh temp dir. Endpoints end in different states: hot-attached,
 * cold-attached, rolled back after a fault, detached, and (with `crash`) one interrupted by a
 * crash and recovered by a second session.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MemoryHypervisor, MemoryKernel } from '../../src/adapters/memory/index.js';
import { withFaults, type FaultPlan } from '../../src/adapters/faults.js';
import { NetlinkError } from '../../src/adapters/netlink.js';
import { FileLogStore } from '../../src/log/index.js';
import { Tapstore } from '../../src/runtime/tapstore.js';
import type { SandboxConfig } from '../../src/runtime/sandbox-config.js';
import type { InspectOption } from '../../src/runtime/inspection.js';

export const NETNS = '/run/netns/sample';

export interface SampleStore {
  dir: string;
  /** The state each endpoint ends in, as the live store reported it (ep3, detached, is retired from it). */
  states: Record<string, string>;
  remove(): void;
}

/** A fresh temp dir unique to this process and call. */
export function tempDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-${tag}-${process.pid}-`));
}

const mtuFault: FaultPlan = (c) =>
  c.method === 'setMtu' && JSON.stringify(c.args).includes('tap2_kata')
    ? { fail: new NetlinkError({ op: 'setMtu', netns: NETNS, errno: 'EINVAL', errnoNumber: 22 }) }
    : 'ok';

/**
 * Run the sample in one session (with `inspect` observing it live). With `crash`, ep4's
 * hot-plug crashes after the hypervisor call and a second session recovers it.
 */
export async function sampleStore(opts: { inspect?: InspectOption; crash?: boolean } = {}): Promise<SampleStore> {
  const dir = tempDir('sample');
  const remove = () => fs.rmSync(dir, { recursive: true, force: true });
  try {
    const kernel = new MemoryKernel();
    kernel.addNetns(NETNS);
    kernel.addDummyLink(NETNS, 'eth0', { mtu: 1400, mac: '02:aa:bb:cc:dd:01' });
    kernel.addDummyLink(NETNS, 'eth1', { mtu: 1500, mac: '02:aa:bb:cc:dd:02' });
    const hypervisor = new MemoryHypervisor({ kernel, slots: 8 });
    const sandbox: SandboxConfig = { netnsPath: NETNS, netnsCreated: true, vcpus: 2, vhost: false };
    let crashNow = false;
    const plan: FaultPlan = (c) => (crashNow && c.method === 'hotplug' ? 'crash-after' : mtuFault(c));
    const adapters = { netlink: withFaults(kernel, 'netlink', plan), hypervisor: withFaults(hypervisor, 'hypervisor', plan) };
    const store = await Tapstore.open({ log: FileLogStore.create(dir, { sandbox }), adapters, inspect: opts.inspect });
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:10' });
    await store.hotAttach('ep0');
    store.createEndpoint({ idx: 1, mac: '02:00:00:00:00:11' });
    await store.attach('ep1');
    store.createEndpoint({ idx: 2, mac: '02:00:00:00:00:12', mtu: 9000 });
    await store.hotAttach('ep2').catch(() => undefined);
    store.createEndpoint({ idx: 3, mac: '02:00:00:00:00:13' });
    await store.hotAttach('ep3');
    // detached: ep3 retires from the live set; its history (and its final state) stays in the log
    const retired = { ep3: (await store.hotDetach('ep3')).state };
    if (!opts.crash) {
      const states = { ...Object.fromEntries(store.list().map((v) => [v.id, v.state])), ...retired };
      await store.close();
      return { dir, states, remove };
    }
    store.createEndpoint({ idx: 4, mac: '02:00:00:00:00:14' });
    crashNow = true;
    await store.hotAttach('ep4').catch(() => undefined);
    crashNow = false;
    kernel.simulateProcessDeath();
    const again = await Tapstore.open({ log: FileLogStore.open(dir), adapters });
    const states = { ...Object.fromEntries(again.list().map((v) => [v.id, v.state])), ...retired };
    await again.close();
    return { dir, states, remove };
  } catch (e) {
    remove();
    throw e;
  }
}
