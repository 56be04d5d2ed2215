/**
 * The hypervisor of a store without a QMP socket: there is no VMM to talk to. Cold plug works
 * (it only computes QEMU arguments); hot plug is refused with a typed `disconnected` error; the
 * probes find no devices and {@link NoVmmHypervisor.alive} is false, so recovery records the
 * hypervisor side as gone.
 */
import { HypervisorError, type ColdPlugResult, type DeviceProbe, type HotplugResult, type HypervisorAdapter, type NicSpec, type UnplugSpec } from './hypervisor.js';
import { coldplugArgs } from '../qemu/coldplug.js';

export class NoVmmHypervisor implements HypervisorAdapter {
  private refuse(op: string): HypervisorError {
    return new HypervisorError({
      kind: 'disconnected',
      op,
      message: `${op}: this store has no VMM (no QMP socket; create the store with tapstate init --qmp SOCKET)`,
    });
  }
  async hotplug(_nic: NicSpec, _fds: readonly number[]): Promise<HotplugResult> {
    throw this.refuse('hotplug');
  }
  async hotunplug(_nic: UnplugSpec): Promise<void> {
    throw this.refuse('hotunplug');
  }
  /** The `ifname=` form: a CLI process cannot hand its queue fds to a VMM started later. */
  async coldplug(nic: NicSpec, _fds: readonly number[]): Promise<ColdPlugResult> {
    return { args: coldplugArgs(nic, []), inheritFds: [] };
  }
  async probeDevice(_deviceId: string): Promise<DeviceProbe> {
    return { present: false };
  }
  async probeNetdev(_netdevId: string): Promise<boolean> {
    return false;
  }
  async alive(): Promise<boolean> {
    return false;
  }
  async close(): Promise<void> {}
}

/**
 * A real hypervisor adapter whose cold plug is replaced by the `ifname=` form: the `fds=` form
 * names fds of this process, which die with it, so a CLI must print arguments QEMU can use later.
 */
export class ColdplugByName implements HypervisorAdapter {
  constructor(private readonly inner: HypervisorAdapter) {}
  hotplug(nic: NicSpec, fds: readonly number[], vhostFds?: readonly number[]): Promise<HotplugResult> {
    return this.inner.hotplug(nic, fds, vhostFds);
  }
  hotunplug(nic: UnplugSpec): Promise<void> {
    return this.inner.hotunplug(nic);
  }
  async coldplug(nic: NicSpec, _fds: readonly number[]): Promise<ColdPlugResult> {
    return { args: coldplugArgs(nic, []), inheritFds: [] };
  }
  probeDevice(deviceId: string): Promise<DeviceProbe> {
    return this.inner.probeDevice(deviceId);
  }
  probeNetdev(netdevId: string): Promise<boolean> {
    return this.inner.probeNetdev(netdevId);
  }
  alive(): Promise<boolean> {
    return this.inner.alive();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
