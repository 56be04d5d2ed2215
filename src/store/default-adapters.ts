/**
 * The real adapters a store's sandbox calls for: the Linux netlink adapter always; the QEMU
 * adapter when the sandbox has a QMP socket, otherwise {@link NoVmmHypervisor}. Cold plug uses
 * the `ifname=` form in both cases: the `fds=` form names fds of this process, which a VMM
 * started later by someone else cannot inherit.
 */
import type { HypervisorAdapter } from '../adapters/hypervisor.js';
import { ColdplugByName, NoVmmHypervisor } from '../adapters/no-vmm-hypervisor.js';
import type { Adapters } from '../runtime/effects.js';
import type { SandboxConfig } from '../runtime/sandbox-config.js';

/** Build the real adapters for `sandbox`. The caller closes them (openStore does, for its own). */
export async function defaultAdapters(sandbox: SandboxConfig): Promise<Adapters> {
  const { LinuxNetlinkAdapter } = await import('../linux/adapter.js');
  let hypervisor: HypervisorAdapter;
  if (sandbox.qmp) {
    const { QemuHypervisorAdapter } = await import('../qemu/adapter.js');
    hypervisor = new ColdplugByName(new QemuHypervisorAdapter({ qmpPath: sandbox.qmp }));
  } else hypervisor = new NoVmmHypervisor();
  return { netlink: new LinuxNetlinkAdapter(), hypervisor };
}

/** Close both adapters, never throwing. */
export async function closeAdapters(a: Adapters): Promise<void> {
  await Promise.allSettled([a.netlink.close(), a.hypervisor.close()]);
}
