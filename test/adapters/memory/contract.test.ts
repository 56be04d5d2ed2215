/** The adapter contract suites, run against the in-memory models. */
import { MemoryHypervisor, MemoryKernel } from '../../../src/adapters/memory/index.js';
import { hypervisorContract, type HypervisorHarness } from '../hypervisor.contract.js';
import { netlinkContract, type NetlinkHarness } from '../netlink.contract.js';

netlinkContract('MemoryKernel (netlink contract)', async (): Promise<NetlinkHarness> => {
  const kernel = new MemoryKernel();
  const netns = '/run/netns/contract-test';
  const notNetns = '/tmp/not-a-netns';
  kernel.addNetns(netns);
  kernel.addPlainFile(notNetns);
  return {
    adapter: kernel,
    netns,
    missingNetns: '/run/netns/missing',
    notNetns,
    addDummyLink: async (name, opts) => {
      kernel.addDummyLink(netns, name, opts);
    },
    openTapFdCount: async () => kernel.openFdCount('self'),
    cleanup: async () => {
      kernel.deleteNetns(netns);
    },
  };
});

/** Build a hypervisor harness over a fresh kernel + hypervisor pair. */
function memoryHypervisorHarness(opts: { slots?: number; vhostAvailable: boolean }): () => Promise<HypervisorHarness> {
  return async () => {
    const kernel = new MemoryKernel();
    const netns = '/run/netns/hv-contract';
    kernel.addNetns(netns);
    const hv = new MemoryHypervisor({ kernel, vhostAvailable: opts.vhostAvailable, ...(opts.slots !== undefined ? { slots: opts.slots } : {}) });
    let n = 0;
    return {
      adapter: hv,
      vhostAvailable: opts.vhostAvailable,
      ...(opts.slots !== undefined ? { slots: opts.slots } : {}),
      makeTap: async (queues) => {
        const tapName = `tap${n++}_kata`;
        const { fds } = await kernel.createTap({ netns, name: tapName, queues });
        return { tapName, fds, closeFds: () => kernel.closeFds(fds) };
      },
      kill: async () => hv.kill(),
      cleanup: async () => {
        hv.kill();
        kernel.deleteNetns(netns);
        if (kernel.openFdCount('hypervisor') !== 0) throw new Error('hypervisor fd copies leaked');
      },
    };
  };
}

hypervisorContract('MemoryHypervisor (hypervisor contract, 3 slots)', memoryHypervisorHarness({ slots: 3, vhostAvailable: false }));
hypervisorContract('MemoryHypervisor (hypervisor contract, default slots, vhost)', memoryHypervisorHarness({ vhostAvailable: true }));
