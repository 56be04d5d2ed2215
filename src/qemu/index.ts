/** QEMU over QMP: the real hypervisor adapter and its parts. */
export { QemuHypervisorAdapter, type QemuAdapterOptions, type QemuAdapterTimings } from './adapter.js';
export { QmpClient, QmpError, type QmpErrorKind, type QmpConnectOptions, type QmpSubscription } from './qmp-client.js';
export { createQmpStream, feedQmpStream, QmpStreamError, type QmpMessage, type QmpEvent, type QmpStreamState, type QmpFeedResult } from './qmp-stream.js';
export { launchQemu, LaunchError, defaultAccel, type LaunchOptions, type MachineType, type QemuInstance } from './launcher.js';
export { rootPortTopology, shpcBridgeTopology, pciPathOf, discoverControllers, describeNoSlot, NoSlotError, type FoundController, type Slot, type Topology, type TopologyOptions } from './topology.js';
export { coldplugArgs, type ColdplugPlacement } from './coldplug.js';
