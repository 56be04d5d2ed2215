/** The shared hypervisor contract suite, run against the real QEMU adapter (a fresh QEMU per test). */
import { afterAll } from 'vitest';
import { QemuHypervisorAdapter } from '../../src/qemu/adapter.js';
import { launchQemu } from '../../src/qemu/launcher.js';
import { rootPortTopology } from '../../src/qemu/topology.js';
import { LinuxNetlinkAdapter } from '../../src/linux/adapter.js';
import { hypervisorContract, type HarnessTap, type HypervisorHarness } from '../adapters/hypervisor.contract.js';
import { createNetns, requireRealEnvironment, uniqueName } from './tap-helper.js';

requireRealEnvironment();
const linux = new LinuxNetlinkAdapter();
afterAll(() => linux.close());

const SLOTS = 3;

hypervisorContract('QemuHypervisorAdapter (real QEMU 7.2, root ports)', async (): Promise<HypervisorHarness> => {
  const topology = rootPortTopology({ count: SLOTS });
  const netns = createNetns();
  const q = await launchQemu({ topology }).catch((e: unknown) => {
    netns.delete();
    throw e;
  });
  const adapter = new QemuHypervisorAdapter({ qmpPath: q.qmpPath, slots: topology.slots, unplugTimeoutMs: 3000 });
  const open = new Set<number>();
  return {
    adapter,
    vhostAvailable: false,
    slots: SLOTS,
    makeTap: async (queues): Promise<HarnessTap> => {
      const tapName = uniqueName('tc', 15);
      const { fds } = await linux.createTap({ netns: `/run/netns/${netns.name}`, name: tapName, queues });
      for (const fd of fds) open.add(fd);
      let closed = false;
      return {
        tapName,
        fds,
        closeFds: async () => {
          if (closed) return;
          closed = true;
          for (const fd of fds) open.delete(fd);
          await linux.closeFds(fds);
        },
      };
    },
    kill: () => q.kill(),
    cleanup: async () => {
      try {
        await adapter.close();
        await q.stop(1000);
        if (open.size) await linux.closeFds([...open]);
      } finally {
        netns.delete();
      }
    },
  };
});
