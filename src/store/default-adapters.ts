/**
 * The real adapters a store's sandbox calls for: the Linux netlink adapter always; the QEMU
 * adapter when the sandbox has a QMP socket, otherwise {@link NoVmmHypervisor}. Cold plug uses
 * the `ifname=` form in both cases: the `fds=` form names fds of this process, which a VMM
 * started later by someone else cannot inherit.
 */
import type { HypervisorAdapter } from '../adapters/hypervisor.js';
import type { NetlinkAdapter } from '../adapters/netlink.js';
import { ColdplugByName, NoVmmHypervisor } from '../adapters/no-vmm-hypervisor.js';
import type { Adapters } from '../runtime/effects.js';
import type { SandboxConfig } from '../runtime/sandbox-config.js';

/** The real netlink adapter (Linux rtnetlink through koffi). */
export async function defaultNetlink(): Promise<NetlinkAdapter> {
  const { LinuxNetlinkAdapter } = await import('../linux/adapter.js');
  return new LinuxNetlinkAdapter();
}

/** The real hypervisor adapter for `sandbox`: QEMU over its QMP socket, or none. */
export async function defaultHypervisor(sandbox: SandboxConfig): Promise<HypervisorAdapter> {
  if (!sandbox.qmp) return new NoVmmHypervisor();
  const { QemuHypervisorAdapter } = await import('../qemu/adapter.js');
  return new ColdplugByName(new QemuHypervisorAdapter({ qmpPath: sandbox.qmp, ...(sandbox.hotplugBuses ? { hotplugBuses: sandbox.hotplugBuses } : {}) }));
}

/** Build the real adapters for `sandbox`. The caller closes them (openStore does, for its own). */
export async function defaultAdapters(sandbox: SandboxConfig): Promise<Adapters> {
  return { netlink: await defaultNetlink(), hypervisor: await defaultHypervisor(sandbox) };
}
