/**
 * tapstate: the lifecycle of a VM's TAP network endpoint as an event-sourced XState machine.
 *
 * ```ts
 * const store = await openStore('/run/tapstate/sb1', { sandbox: { netnsPath: '/run/netns/sb1' } });
 * const ep = store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
 * await store.hotAttach(ep.id);
 * await store.hotDetach(ep.id);
 * await store.close();
 * ```
 *
 * This is the stable surface (docs/api.md); `test/api/exports.test.ts` compares it with a
 * checked-in list. The machine itself is at `tapstate/machines`, the adapters at
 * `tapstate/linux`, `tapstate/qemu`, `tapstate/memory`, the log stores at `tapstate/log`, and test
 * helpers (fault injection, simulated crashes) at `tapstate/testing`.
 */

// opening a store
export { openStore, createStore, removeStore, storeExists, type OpenStoreOptions, type AdapterFactory } from './store/open-store.js';
export { defaultAdapters, defaultHypervisor, defaultNetlink } from './store/default-adapters.js';
export { StoreLock, type StoreLockOptions } from './store/store-lock.js';
export { SANDBOX_CONFIG_VERSION, resolveSandbox, type SandboxConfig, type SandboxInit } from './runtime/sandbox-config.js';

// the store, its options and views
export { Tapstore, type TapstoreOptions } from './runtime/tapstore.js';
export type { Durability } from './runtime/driver.js';
export type { EndpointView } from './runtime/endpoint-view.js';
export type { RecoveryReport, RecoveredEndpoint } from './runtime/recovery-scheduler.js';
export type { Adapters } from './runtime/effects.js';
export type { InspectOption } from './runtime/inspection.js';
export type { PersistNetworkV1, PersistNetworkV2, PersistShape } from './persist/persist-json.js';
export type { LoadResult } from './persist/store-persist.js';

// finding taps that exist already (adoption of a running sandbox)
export { scanNetns, planScan, tuntapModeRefusal, type ScanEntry, type ScanReport } from './scan/scan.js';

// the errors: every one is a TapstateError with a stable `code`
export { TapstateError, EndpointInputError } from '../machines/index.js';
export {
  DuplicateEndpointError,
  EndpointBusyError,
  EndpointOperationError,
  InDoubtError,
  InvalidCommandError,
  NonDeterminismError,
  StoreClosedError,
  StoreFailedError,
  UnknownEndpointError,
} from './runtime/errors.js';
export { SandboxConfigError } from './runtime/sandbox-config.js';
export { SandboxMismatchError, StoreExistsError, StoreNotFoundError, StoreNotRemovableError } from './store/errors.js';
export { StoreLockedError } from './store/store-lock.js';
export { StoreOptionError } from './runtime/store-options.js';
export { PersistFormatError } from './persist/persist-json.js';
export { LogCorruptError, LogFormatError } from './log/errors.js';
export { LogRecordError, LogStoreClosedError } from './log/codec.js';
export { NetnsMismatchError } from './runtime/errors.js';

// writing an output file safely (temp file, O_EXCL|O_NOFOLLOW, fsync, rename)
export { writeFileSafely, parseFileMode, OutputFileError, DEFAULT_FILE_MODE, type SafeWriteOptions } from './fs/safe-write.js';

// the adapter contracts
export { NetlinkError, type NetlinkAdapter, type ErrnoName, type LinkInfo, type LinkFlags, type TunInfo, type CreateTapRequest, type CreatedTap, type RedirectRequest } from './adapters/netlink.js';
export { HypervisorError, type HypervisorAdapter, type HypervisorErrorKind, type NicSpec, type UnplugSpec, type HotplugResult, type ColdPlugResult, type DeviceProbe } from './adapters/hypervisor.js';

// what a consumer reads: endpoint input and state, commands, log records
export type { EndpointInput, InterworkingModel, EndpointCommand, EndpointContext, EndpointError, EffectFailure, Progress, Operation } from '../machines/index.js';
export type { LogStore, ReadResult, TornTail } from './log/store.js';
export type { LogHeader, LogRecord, CreateRecord, EventRecord, IntentRecord, NoteRecord, SnapshotRecord, StateStamp, Checkpoint, CheckpointEndpoint } from './log/records.js';
