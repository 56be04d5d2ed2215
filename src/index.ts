/**
 * tapstate: the lifecycle of a VM's TAP network endpoint as an event-sourced XState machine.
 *
 * ```ts
 * const store = await Tapstore.open({ log, adapters: { netlink, hypervisor } });
 * const ep = store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
 * await store.hotAttach(ep.id);
 * await store.hotDetach(ep.id);
 * await store.close();
 * ```
 */
export * from '../machines/index.js';
export { NetlinkError, type NetlinkAdapter, type LinkInfo, type TunInfo, type CreateTapRequest, type CreatedTap, type RedirectRequest } from './adapters/netlink.js';
export { HypervisorError, type HypervisorAdapter, type NicSpec, type HotplugResult, type ColdPlugResult, type DeviceProbe } from './adapters/hypervisor.js';
export { withFaults, SimulatedCrash, type FaultPlan, type FaultAction, type FaultCall } from './adapters/faults.js';
export * from './runtime/errors.js';
export { Tapstore, type TapstoreOptions, type SandboxConfig, type EndpointView, type RecoveryReport, type RecoveredEndpoint } from './runtime/tapstore.js';
export type { Adapters } from './runtime/effects.js';
export type { InspectOption } from './runtime/inspection.js';
export { PersistFormatError, type PersistNetworkV1, type PersistNetworkV2, type PersistShape } from './persist/persist-json.js';
export { scanNetns, planScan, tuntapModeRefusal, type ScanEntry, type ScanReport } from './scan/scan.js';
export * from './log/records.js';
export type { LogStore, ReadResult, TornTail } from './log/store.js';
export { LogCorruptError, LogFormatError } from './log/errors.js';
export { writeFileSafely, parseFileMode, OutputFileError, DEFAULT_FILE_MODE, type SafeWriteOptions } from './fs/safe-write.js';
