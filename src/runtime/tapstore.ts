/**
 * The tapstate runtime: one store of one sandbox's endpoints, and its command surface. It
 * interprets the endpoint machine with pure `transition()` calls through the {@link Driver},
 * which journals every transition and every effect intent (write-ahead) and outcome in the
 * {@link Journal}; on open it rebuilds every endpoint by pure replay ({@link rebuildEndpoints})
 * and recovers interrupted effects ({@link recoverEndpoints}).
 *
 * Most callers open a store with `openStore(dir, …)` (src/store/open-store.ts), which also
 * takes the single-writer lock and reads the sandbox config; `Tapstore.open` is the layer below,
 * over any {@link LogStore}.
 */
import { COMMAND_TYPES, EndpointInputError, pendingEffect, resolveEndpointInput, stateName, type EndpointCommand, type EndpointInput } from '../../machines/index.js';
import { SimulatedCrash } from '../adapters/faults.js';
import { inertAdapter } from '../adapters/inert-adapters.js';
import type { LogStore } from '../log/store.js';
import { Checkpointer } from './checkpointer.js';
import { contextRef, sameRef } from './compact-context.js';
import { tracedAdapters } from './debug-log.js';
import { Driver, type Durability } from './driver.js';
import type { Adapters } from './effects.js';
import { FdTable } from './fd-table.js';
import { EndpointSlot } from './endpoint-slot.js';
import { freeEndpointId, viewOf, type EndpointView } from './endpoint-view.js';
import {
  DuplicateEndpointError,
  EndpointBusyError,
  EndpointOperationError,
  InDoubtError,
  InvalidCommandError,
  NetnsMismatchError,
  StoreClosedError,
  UnknownEndpointError,
} from './errors.js';
import { InspectionMirror, type InspectOption } from './inspection.js';
import { ENDPOINT_INPUT_FIELDS, unknownField } from './input-fields.js';
import { Journal } from './journal.js';
import { rebuildEndpoints } from './rebuild.js';
import { Retirements } from './retirement.js';
import { recoverEndpoints, type RecoveredEndpoint, type RecoveryReport } from './recovery-scheduler.js';
import { createFromInput, stampOf, type EndpointSnapshot } from './replay.js';
import { sandboxFromMeta, type SandboxConfig } from './sandbox-config.js';
import { normalPath } from './sandbox-path.js';
import { checkLogAndAdapters, checkStoreOptions } from './store-options.js';
import type { PersistNetworkV1, PersistNetworkV2, PersistShape } from '../persist/persist-json.js';
import type { PersistedNetwork } from '../persist/persisted-network.js';
import { loadPlan, loadRecords, saveDocument, type LoadResult } from '../persist/store-persist.js';

// the store's view and config types, where src/daemon and src/cni import them from
export type { EndpointView } from './endpoint-view.js';
export type { SandboxConfig } from './sandbox-config.js';

export interface TapstoreOptions {
  log: LogStore;
  /**
   * Both sides complete (every method of `NetlinkAdapter` / `HypervisorAdapter`), or
   * `StoreOptionError` (`field` `adapters.netlink`, rule `methods`) before the log is read. With
   * `recover: false` (replay only) a side may be `null`: every call to it is then refused.
   */
  adapters: Adapters;
  /**
   * `command` (default): one fdatasync per command, before its first effect (the command and
   * that intent together); later intents are written before their effect, without fsync.
   * `effect`: fdatasync before every effect and after each command settles.
   */
  durability?: Durability;
  /** Write a checkpoint after this many records (default 1000). */
  checkpointEvery?: number;
  /** Replay the whole history (checking every recorded state) instead of starting from the checkpoint. */
  verify?: boolean;
  /** Recover interrupted effects while opening (default true). */
  recover?: boolean;
  /** XState inspection observer: every endpoint is mirrored to it live. */
  inspect?: InspectOption;
  /** Wall clock for record timestamps (default Date.now). */
  clock?: () => number;
  /** Called as recovery goes through the endpoints that need it. */
  onRecoveryProgress?: (done: number, total: number) => void;
  /** How many endpoints recovery works on at once (default 16). */
  recoveryConcurrency?: number;
  /** Called last by {@link Tapstore.close} (openStore: close the adapters it built, drop the lock). */
  onClose?: () => void | Promise<void>;
}

export class Tapstore {
  private readonly slots: Map<string, EndpointSlot>;
  private closed = false;
  /** Set when close() starts: from then on every caller gets StoreClosedError (see close). */
  private closing: Promise<void> | null = null;
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly fds: FdTable;
  private readonly mirror: InspectionMirror | null;
  private readonly journal: Journal;
  private readonly driver: Driver;
  private readonly checkpoints: Checkpointer;
  private readonly retirements: Retirements;
  /** The sandbox this store serves. */
  readonly sandbox: SandboxConfig;
  /** What opening found and did. */
  recovery: RecoveryReport;
  /** What the store keeps of the persist.json documents it loaded (for a lossless save). */
  private network: PersistedNetwork | null;

  private readonly opts: TapstoreOptions;

  private constructor(opts: TapstoreOptions, rebuilt: ReturnType<typeof rebuildEndpoints>) {
    // NODE_DEBUG=tapstate: every adapter call logged (src/runtime/debug-log.ts)
    this.opts = opts = { ...opts, adapters: tracedAdapters(opts.adapters) };
    this.sandbox = sandboxFromMeta(rebuilt.header.meta);
    this.slots = rebuilt.slots;
    this.network = rebuilt.network as PersistedNetwork | null;
    this.fds = new FdTable(opts.adapters.netlink);
    this.mirror = opts.inspect ? new InspectionMirror(opts.inspect) : null;
    this.journal = new Journal(opts.log, {
      seq: rebuilt.seq,
      clock: opts.clock ?? Date.now,
      onFail: (cause) => {
        if (cause instanceof SimulatedCrash) this.fds.forgetAll(); // they died with the "process"
      },
    });
    this.retirements = new Retirements(this.slots, rebuilt.retired);
    this.driver = new Driver(this.journal, opts.adapters, this.fds, this.mirror, opts.durability ?? 'command', this.retirements);
    // compact checkpoint contexts are relative to the sandbox's input defaults (the stored ones when the same)
    const ref = sameRef(rebuilt.ref, contextRef(this.sandbox));
    this.checkpoints = new Checkpointer(this.journal, this.slots, () => this.network, () => this.retirements.count, ref, opts.checkpointEvery);
    this.recovery = { torn: rebuilt.torn, fromCheckpoint: rebuilt.fromCheckpoint, replayed: rebuilt.replayed, endpoints: [] };
  }

  /** Open a store: replay its log (from the checkpoint) without calling any adapter, then recover. */
  static async open(opts: TapstoreOptions): Promise<Tapstore> {
    checkStoreOptions(opts); // a NaN recoveryConcurrency skipped recovery: refused before the log is read
    checkLogAndAdapters(opts);
    // a replay-only open may leave a side null: it gets an adapter refusing every call
    const { netlink, hypervisor } = opts.adapters;
    if (netlink === null || hypervisor === null) opts = { ...opts, adapters: { netlink: netlink ?? inertAdapter, hypervisor: hypervisor ?? inertAdapter } };
    const store = new Tapstore(opts, rebuildEndpoints(opts.log, opts.verify ?? false));
    if (store.mirror) for (const s of store.slots.values()) store.mirror.restore(s.id, s.snapshot);
    if (opts.recover ?? true) store.recovery.endpoints = await store.recover();
    return store;
  }

  private slot(id: string): EndpointSlot {
    const s = this.slots.get(id);
    if (!s) throw new UnknownEndpointError(id);
    return s;
  }

  /**
   * Create an endpoint (upstream createTuntapNetworkEndpoint). The sandbox's netns, vCPUs and
   * vhost setting fill what the input leaves out; the id defaults to `ep<idx>`. Bad input throws
   * EndpointInputError and logs nothing.
   */
  createEndpoint(input: Partial<EndpointInput> & { idx: number }): EndpointView {
    if (this.closed || this.closing) throw new StoreClosedError();
    return this.create(input);
  }

  private create(input: Partial<EndpointInput> & { idx: number }): EndpointView {
    if (typeof input !== 'object' || input === null) throw new EndpointInputError('input', 'object', 'endpoint input must be an object');
    // a field the input does not have (a typo) was ignored: the endpoint made with a default instead
    const unknown = unknownField(input, ENDPOINT_INPUT_FIELDS);
    if (unknown !== null) throw new EndpointInputError(unknown, 'unknown', `unknown field ${JSON.stringify(unknown)} of the endpoint input (known: ${ENDPOINT_INPUT_FIELDS.join(', ')})`);
    if (input.fromPersist !== undefined && typeof input.fromPersist !== 'boolean') throw new EndpointInputError('fromPersist', 'boolean', 'fromPersist must be a boolean');
    // the store's netns is the only one this store ever acts in (docs/security.md)
    if (input.netnsPath !== undefined && (typeof input.netnsPath !== 'string' || normalPath(input.netnsPath) !== this.sandbox.netnsPath))
      throw new NetnsMismatchError('netnsPath', String(input.netnsPath), this.sandbox.netnsPath);
    const full: EndpointInput = {
      netnsCreated: this.sandbox.netnsCreated,
      vcpus: this.sandbox.vcpus,
      vhost: this.sandbox.vhost,
      ...(this.sandbox.multiQueue === false ? { multiQueue: false } : {}),
      ...input,
      // the store's spelling of its netns, whichever spelling the input used
      netnsPath: this.sandbox.netnsPath,
      id: input.id ?? freeEndpointId((id) => this.slots.has(id), input.idx),
    };
    const resolved = resolveEndpointInput(full);
    if (this.slots.has(resolved.id)) throw new DuplicateEndpointError('id', resolved.id);
    this.checkUnique([resolved]);
    const snapshot = createFromInput(full);
    const [rec] = this.journal.append([{ k: 'create', ep: resolved.id, input: full, state: stampOf(snapshot) }], false);
    const slot = EndpointSlot.of({ id: resolved.id, snapshot, pending: null, lastSeq: rec!.seq, replayed: 0 });
    this.slots.set(slot.id, slot);
    this.mirror?.create(slot.id, full);
    return viewOf(slot);
  }

  /**
   * Refuse endpoints whose idx, MAC or original link a live (not detached) endpoint of the store,
   * or an earlier one of `candidates`, has already.
   */
  private checkUnique(candidates: ReadonlyArray<{ id: string; idx: number; mac: string; name: string }>): void {
    const taken = new Map<string, string>();
    const key = (field: string, v: string | number) => `${field}\0${String(v)}`;
    const claim = (id: string, c: { idx: number; mac: string; name: string }, check: boolean) => {
      for (const [field, v] of [['idx', c.idx], ['mac', c.mac], ['ifName', c.name]] as const) {
        const holder = taken.get(key(field, v));
        if (check && holder !== undefined) throw new DuplicateEndpointError(field, v, holder);
        taken.set(key(field, v), id);
      }
    };
    for (const s of this.slots.values()) {
      if (s.snapshot.status === 'done') continue;
      const c = s.snapshot.context;
      claim(s.id, { idx: c.idx, mac: c.mac, name: c.name }, false);
    }
    for (const c of candidates) claim(c.id, c, true);
  }

  /** Send a command and run the operation to its end. Rejects with the operation's (upstream) error. */
  send(id: string, command: EndpointCommand): Promise<EndpointView> {
    if (this.closed || this.closing) return Promise.reject(new StoreClosedError());
    return this.track(this.run(id, command));
  }

  /** close() waits for every promise tracked here. */
  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    const done = () => this.inflight.delete(p);
    p.then(done, done);
    return p;
  }

  private async run(id: string, command: EndpointCommand): Promise<EndpointView> {
    if (this.closed) throw new StoreClosedError();
    // a library caller may pass anything: not a command object is refused as an unknown command
    if (typeof command !== 'object' || command === null) throw new InvalidCommandError(id, String(command), '?');
    const type: unknown = (command as { type?: unknown }).type;
    if (typeof type !== 'string' || !COMMAND_TYPES.has(type as EndpointCommand['type'])) throw new InvalidCommandError(id, String(type), '?');
    const slot = this.slot(id);
    if (slot.busy) throw new EndpointBusyError(id);
    const eff = pendingEffect(slot.snapshot.value, slot.snapshot.context);
    if (eff) throw new InDoubtError(id, eff.id);
    if (!slot.snapshot.can(command)) throw new InvalidCommandError(id, command.type, stateName(slot.snapshot.value));
    slot.busy = true;
    try {
      this.driver.apply(slot, command);
      await this.driver.drive(slot, true);
    } finally {
      slot.busy = false;
    }
    this.checkpoints.maybe();
    const state = stateName(slot.snapshot.value);
    const err = slot.snapshot.context.error;
    if (err && state !== 'detached') throw new EndpointOperationError(id, err, state);
    return viewOf(slot);
  }

  hotAttach(id: string): Promise<EndpointView> {
    return this.send(id, { type: 'HOT_ATTACH' });
  }
  /** Cold attach; the view's `coldplugArgs` holds the VMM arguments. */
  attach(id: string): Promise<EndpointView> {
    return this.send(id, { type: 'ATTACH' });
  }
  hotDetach(id: string): Promise<EndpointView> {
    return this.send(id, { type: 'HOT_DETACH' });
  }
  detach(id: string): Promise<EndpointView> {
    return this.send(id, { type: 'DETACH' });
  }
  /** Tear down what a failed operation left (state `dirty`). */
  cleanup(id: string): Promise<EndpointView> {
    return this.send(id, { type: 'CLEANUP' });
  }
  /**
   * Adopt an endpoint that exists already (persist.json load): `created` → `hotAttached`, no
   * effect — so no intent made it durable: it is synced before it returns.
   */
  async adopt(id: string): Promise<EndpointView> {
    const v = await this.send(id, { type: 'ADOPT' });
    await this.journal.durable();
    return v;
  }

  get(id: string): EndpointView {
    return viewOf(this.slot(id));
  }
  list(): EndpointView[] {
    return [...this.slots.values()].map(viewOf);
  }
  /** The raw machine snapshot of an endpoint (for tests and tools). */
  snapshotOf(id: string): EndpointSnapshot {
    return this.slot(id).snapshot;
  }
  /** How many endpoints were detached and retired over the store's life (they are not in {@link list}). */
  get retired(): number {
    return this.retirements.count;
  }
  /** The log this store writes (for tools that follow it live, e.g. the daemon's event stream). */
  get log(): LogStore {
    return this.opts.log;
  }
  /** Queue fds this process still holds (0 whenever every endpoint is settled). */
  get heldFds(): number {
    return this.fds.count;
  }

  /**
   * upstream save(): the `Network` section of persist.json for the endpoints not detached, in
   * the v1 (`NetNsPath…`) or 2.x (`NetworkID…`) shape (default: the loaded document's, else v1).
   * What `load` read comes back without loss: other endpoint types verbatim, in their order.
   */
  save(shape?: PersistShape): PersistNetworkV1 | PersistNetworkV2 {
    const eps = [...this.slots.values()].map((s) => ({ id: s.id, status: s.snapshot.status, context: s.snapshot.context }));
    return saveDocument(this.sandbox, eps, this.network, shape);
  }

  /**
   * upstream load(), without dropping the endpoint: every tuntap endpoint of the document is
   * created; one whose tap exists in the netns is adopted as hot-attached (its NIC taken over:
   * found by its MAC when it is unplugged), one whose tap does not exist (never attached) stays
   * `created`. Every other endpoint is kept verbatim for `save`. The whole document is validated
   * first (src/persist/store-persist.ts): on any error nothing changes.
   */
  load(doc: unknown): Promise<LoadResult<EndpointView>> {
    if (this.closed || this.closing) return Promise.reject(new StoreClosedError());
    return this.track(this.loadDoc(doc));
  }

  private async loadDoc(doc: unknown): Promise<LoadResult<EndpointView>> {
    const plan = await loadPlan(doc, this.sandbox, {
      freeId: (idx, taken) => freeEndpointId((id) => this.slots.has(id) || taken.has(id), idx),
      idxInUse: (idx) => [...this.slots.values()].some((s) => s.snapshot.context.idx === idx && s.snapshot.status !== 'done'),
      netlink: this.opts.adapters.netlink,
    });
    // a MAC or original link a live endpoint (or an earlier one of the document) has: refused
    this.checkUnique(plan.inputs.map((i) => resolveEndpointInput(i.input)));
    // the kept document first, then the endpoints; all of it durable when load returns
    const [note, network] = loadRecords(this.network, plan);
    this.journal.append([note], false);
    this.network = network;
    const endpoints: EndpointView[] = [];
    for (const { input, tapExists } of plan.inputs) {
      const v = this.create(input);
      endpoints.push(tapExists ? await this.track(this.run(v.id, { type: 'ADOPT', takeover: true })) : v);
    }
    // an ADOPT runs no effect, so nothing made it durable yet: one fdatasync for the whole load
    await this.journal.durable();
    return { endpoints, skipped: plan.skipped };
  }

  /** Write a checkpoint now: every endpoint's snapshot and pending intent, and the log position. */
  checkpoint(): void {
    if (!this.closed) this.checkpoints.now();
  }

  /**
   * Finish or undo every interrupted operation: an interrupted attach is rolled back, an
   * interrupted teardown is finished. Safe to run again after a crash during it.
   */
  recover(): Promise<RecoveredEndpoint[]> {
    if (this.closed || this.closing) return Promise.reject(new StoreClosedError());
    return this.track(this.recoverNow());
  }

  private async recoverNow(): Promise<RecoveredEndpoint[]> {
    const todo = [...this.slots.values()].filter((s) => !s.busy && s.inEffect());
    const report = await recoverEndpoints(todo, {
      journal: this.journal,
      driver: this.driver,
      adapters: this.opts.adapters,
      concurrency: this.opts.recoveryConcurrency,
      onProgress: this.opts.onRecoveryProgress,
    });
    this.checkpoints.maybe();
    return report;
  }

  /**
   * Wait for running commands, then close the log and call `onClose`. Adapters given to
   * `Tapstore.open` stay the caller's. A checkpoint is written only when one is due: settled
   * endpoints have snapshot records, so the tail an open replays stays bounded either way.
   * Once close is called every new call is refused with StoreClosedError (the commands already
   * running finish); calling it again, even while it runs, returns the same promise.
   */
  close(): Promise<void> {
    this.closing ??= this.closeNow();
    return this.closing;
  }

  private async closeNow(): Promise<void> {
    if (this.closed) return;
    await Promise.allSettled([...this.inflight]);
    await this.journal.idle(); // an fdatasync still in flight (e.g. load's) uses the log's fd
    // a failed log may have closed itself (its cut-back failed too): not even asked if a checkpoint is due
    if (!this.journal.failed) this.checkpoints.maybe();
    this.closed = true;
    this.mirror?.stop();
    try {
      // only the endpoints holding fds (a store of 1,000 endpoints closes without 1,000 awaits)
      for (const id of this.fds.holders()) await this.fds.release(id).catch(() => {});
      // a failed log is closed too: its fds are released (a daemon goes on running)
      this.journal.close();
    } finally {
      await this.opts.onClose?.();
    }
  }
}
