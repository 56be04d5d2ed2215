/**
 * The shared hypervisor contract suite, run against the real QEMU adapter (a fresh QEMU per test)
 * on several hot-plug topologies: root ports with arbitrary ids and a pci-bridge on i440fx (both
 * discovered from QEMU), and the launcher's root ports given as explicit slots.
 */
import { afterAll } from 'vitest';
import { QemuHypervisorAdapter, type QemuAdapterOptions } from '../../src/qemu/adapter.js';
import { launchQemu, type LaunchOptions } from '../../src/qemu/launcher.js';
import { rootPortTopology } from '../../src/qemu/topology.js';
import { LinuxNetlinkAdapter } from '../../src/linux/adapter.js';
import { hypervisorContract, type HarnessTap, type HypervisorHarness } from '../adapters/hypervisor.contract.js';
import { createNetns, requireRealEnvironment, uniqueName } from './tap-helper.js';

requireRealEnvironment();
const linux = new LinuxNetlinkAdapter();
afterAll(() => linux.close());

function qemuHarness(launch: LaunchOptions, adapterOpts: Omit<QemuAdapterOptions, 'qmpPath'>, slots: number): () => Promise<HypervisorHarness> {
  return async () => {
    const netns = createNetns();
    const q = await launchQemu(launch).catch((e: unknown) => {
      netns.delete();
      throw e;
    });
    const adapter = new QemuHypervisorAdapter({ qmpPath: q.qmpPath, unplugTimeoutMs: 3000, ...adapterOpts });
    const open = new Set<number>();
    return {
      adapter,
      vhostAvailable: false,
      slots,
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
  };
}

const explicit = rootPortTopology({ count: 3 });
hypervisorContract('QemuHypervisorAdapter (real QEMU 7.2, launcher root ports as explicit slots)', qemuHarness({ topology: explicit }, { slots: explicit.slots }, 3));

hypervisorContract(
  'QemuHypervisorAdapter (real QEMU 7.2, q35, root ports with arbitrary ids, discovered)',
  qemuHarness(
    {
      topology: null,
      extraArgs: [
        '-device', 'pcie-root-port,id=port-a,bus=pcie.0,chassis=7,addr=0x9',
        '-device', 'pcie-root-port,id=slotB,bus=pcie.0,chassis=8,addr=0x4',
        '-device', 'pcie-root-port,id=x,bus=pcie.0,chassis=9,addr=0x1c',
      ],
    },
    {},
    3,
  ),
);

hypervisorContract(
  'QemuHypervisorAdapter (real QEMU 7.2, i440fx, one pci-bridge, discovered)',
  qemuHarness({ machine: 'pc', topology: null, extraArgs: ['-device', 'pci-bridge,id=pb9,bus=pci.0,chassis_nr=1,addr=0x7,shpc=on'] }, {}, 31),
);
