/**
 * The tapstate runtime: one store of one sandbox's endpoints. It interprets the endpoint
 * machine with pure `transition()` calls, journals every transition and every effect intent
 * (write-ahead) and outcome, runs the effects through the adapters, and on open rebuilds every
 * endpoint by pure replay and recovers interrupted effects.
 */
import { transition } from 'xstate';
import {
  COMMAND_TYPES,
  endpointMachine,
  isEffectState,
  pendingEffect,
  resolveEndpointInput,
  stateName,
  type EndpointCommand,
  type EndpointContext,
  type EndpointInput,
  type Progress,
} from '../../machines/index.js';
import { SimulatedCrash } from '../adapters/faults.js';
import { tracedAdapters } from './debug-log.js';
import { LOG_FORMAT, LOG_VERSION, type Checkpoint, type IntentRecord, type LogRecord } from '../log/records.js';
import type { LogStore, TornTail } from '../log/store.js';
import { runEffect, toFailure, FdTable, type Adapters } from './effects.js';
import {
  DuplicateEndpointError,
  EndpointBusyError,
  EndpointOperationError,
  InDoubtError,
  InvalidCommandError,
  NetnsMismatchError,
  StoreClosedError,
  StoreFailedError,
  UnknownEndpointError,
} from './errors.js';
import { InspectionMirror, type InspectOption } from './inspection.js';
import { beforeEffect, reconcile, type BeforeEffect } from './recovery.js';
import { vhostNetPresent } from './vhost-default.js';
import { type PersistNetworkV1, type PersistNetworkV2, type PersistShape } from '../persist/persist-json.js';
import { networkOfRecord, type PersistedNetwork } from '../persist/persisted-network.js';
import { loadPlan, loadRecords, saveDocument, type LoadResult } from '../persist/store-persist.js';
import { applyRecord, createFromInput, fastReplayPlan, fromCreateRecord, restoreSnapshot, stampOf, type EndpointSnapshot, type ReplayedEndpoint } from './replay.js';

/** The sandbox an endpoint store serves (kept in the log header's `meta.sandbox`). */
export interface SandboxConfig {
  /**
   * Network namespace path of the sandbox: the only netns this store acts in. `""` is the
   * runtime's own (the host's) and is set only by an explicit `init --host-netns` (`hostNetns`).
   */
  netnsPath: string;
  /** Set (true) when the store was made for the caller's own namespace on purpose (`init --host-netns`). */
  hostNetns?: boolean;
  /** Whether the runtime created that namespace (upstream NetNsCreated). */
  netnsCreated: boolean;
  /** NumVCPUs: queues per tap. */
  vcpus: number;
  /**
   * Ask for vhost-net: one /dev/vhost-net fd per queue, passed as `vhostfds`. Default (absent):
   * on when /dev/vhost-net exists, off otherwise (upstream: always on).
   */
  vhost?: boolean;
  /** The hypervisor reports multi-queue support (default true, as QEMU does); false: queues = 0. */
  multiQueue?: boolean;
  /** QMP socket of the VMM, when a real one is used. */
  qmp?: string;
  /** Hot plug only onto these root ports / bridges (QEMU ids); absent: any QEMU has. */
  hotplugBuses?: string[];
}

export interface TapstoreOptions {
  log: LogStore;
  adapters: Adapters;
  /**
   * `command` (default): one fdatasync per command, before its first effect (the command and
   * that intent together); later intents are written before their effect, without fsync.
   * `effect`: fdatasync before every effect and after each command settles.
   */
  durability?: 'command' | 'effect';
  /** Write a checkpoint after this many records (default 1000), and on close. */
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
}

/** What a caller sees of an endpoint. */
export interface EndpointView {
  id: string;
  idx: number;
  /** Dotted machine state: `created`, `hotAttached`, `teardown.deleteTap`, … */
  state: string;
  /** `settled`, `busy` (a command is running) or `in-doubt` (interrupted, recovery needed). */
  status: 'settled' | 'busy' | 'in-doubt';
  name: string;
  tapName: string;
  mac: string;
  hardAddr: string;
  mtu: number;
  queues: number;
  netnsPath: string;
  pciPath: string;
  progress: Progress;
  coldplugArgs: string[];
  error: EndpointContext['error'];
  warnings: string[];
  /** The effect the endpoint is waiting on, if any. */
  pendingEffect: { id: string; src: string } | null;
  lastSeq: number;
}

export interface RecoveredEndpoint {
  id: string;
  /** The interrupted effect (`hotAttach.setMtu`), and whether its intent was logged (it may have run). */
  effect: string;
  src: string;
  ran: boolean;
  /** `rolled-back` (an attach), `rolled-forward` (a teardown), or `failed` (recovery itself failed: run it again). */
  action: 'rolled-back' | 'rolled-forward' | 'failed';
  /** What the probes found. */
  observed: Record<string, unknown>;
  finalState: string;
  error?: string;
  ms: number;
}

export interface RecoveryReport {
  /** A partial last record that was dropped. */
  torn: TornTail | null;
  /** Whether opening started from a checkpoint. */
  fromCheckpoint: boolean;
  /** Records replayed (the tail after the checkpoint). */
  replayed: number;
  endpoints: RecoveredEndpoint[];
}

interface Slot extends ReplayedEndpoint {
  busy: boolean;
}

type RecordBody = LogRecord extends infer R ? (R extends LogRecord ? Omit<R, 'seq' | 'ts'> : never) : never;

/**
 * A slot restored from a checkpoint, resolved into a machine snapshot only when first used:
 * opening a large store touches only the endpoints it must.
 */
function lazySlot(id: string, e: Checkpoint['endpoints'][string]): Slot {
  let snap: EndpointSnapshot | undefined;
  const slot = { id, pending: e.pending, lastSeq: e.lastSeq, replayed: 0, busy: false } as Slot & { raw?: Checkpoint['endpoints'][string]['snapshot'] };
  // `raw` is not enumerable: a spread copy of the slot carries the resolved snapshot, never a stale raw form
  Object.defineProperty(slot, 'raw', { value: e.snapshot, enumerable: false, configurable: true, writable: true });
  Object.defineProperty(slot, 'snapshot', {
    enumerable: true,
    get: () => (snap ??= restoreSnapshot(e.snapshot)),
    set: (v: EndpointSnapshot) => {
      snap = v;
      delete slot.raw;
    },
  });
  return slot;
}

/** Is the endpoint in an effect state (without resolving a lazy slot)? */
function inEffect(s: Slot): boolean {
  const raw = (s as Slot & { raw?: { value: unknown } }).raw;
  return isEffectState(raw ? raw.value : s.snapshot.value);
}

const isOutcome = (type: string): boolean => type.startsWith('xstate.done.actor.') || type.startsWith('xstate.error.actor.');

export class Tapstore {
  private readonly slots = new Map<string, Slot>();
  private seq = 0;
  private sinceCheckpoint = 0;
  private closed = false;
  private dead = false;
  /** Why the store is dead: a real log failure (a StoreFailedError), or null for a simulated crash. */
  private failure: StoreFailedError | null = null;
  private readonly inflight = new Set<Promise<unknown>>();
  /** Group commit: callers waiting for the next fdatasync. */
  private syncWaiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  private readonly fds: FdTable;
  private readonly mirror: InspectionMirror | null;
  private readonly clock: () => number;
  /** The sandbox this store serves. */
  readonly sandbox: SandboxConfig;
  /** What opening found and did. */
  recovery: RecoveryReport;
  /** What the store keeps of the persist.json documents it loaded (for a lossless save). */
  private network: PersistedNetwork | null = null;

  private readonly opts: TapstoreOptions;

  private constructor(opts: TapstoreOptions, sandbox: SandboxConfig) {
    // NODE_DEBUG=tapstate: every adapter call logged (src/runtime/debug-log.ts)
    this.opts = { ...opts, adapters: tracedAdapters(opts.adapters) };
    this.sandbox = sandbox.vhost === undefined ? { ...sandbox, vhost: vhostNetPresent() } : sandbox;
    this.fds = new FdTable(this.opts.adapters.netlink);
    this.mirror = opts.inspect ? new InspectionMirror(opts.inspect) : null;
    this.clock = opts.clock ?? Date.now;
    this.recovery = { torn: null, fromCheckpoint: false, replayed: 0, endpoints: [] };
  }

  /** Open a store: replay its log (from the checkpoint) without calling any adapter, then recover. */
  static async open(opts: TapstoreOptions): Promise<Tapstore> {
    const cp = opts.verify ? null : opts.log.readCheckpoint();
    const read = opts.log.read(cp ? cp.offset : undefined);
    const sandbox = (read.header.meta as { sandbox?: SandboxConfig }).sandbox ?? { netnsPath: '', netnsCreated: true, vcpus: 1, vhost: false };
    const store = new Tapstore(opts, sandbox);
    if (cp) {
      for (const [id, e] of Object.entries(cp.endpoints)) store.slots.set(id, lazySlot(id, e));
      store.seq = cp.seq;
    }
    const records = read.records.map((r) => r.record);
    // fast: each endpoint from its latest snapshot record; verify: every record, checked
    for (const record of opts.verify ? records : fastReplayPlan(records)) {
      const next = opts.verify
        ? applyRecord(store.slots.get(record.ep), record)
        : record.k === 'snapshot'
          ? // a settled endpoint: restored lazily, like a checkpoint entry (the record's crc covers it)
            lazySlot(record.ep, { snapshot: record.snapshot, pending: null, lastSeq: record.seq })
          : record.k === 'create'
            ? fromCreateRecord(record)
            : applyRecord(store.slots.get(record.ep), record);
      if (next) store.slots.set(record.ep, 'busy' in next ? (next as Slot) : { ...next, busy: false });
    }
    if (records.length) store.seq = records[records.length - 1]!.seq;
    store.network = (cp?.network as PersistedNetwork | undefined) ?? null;
    for (const r of records) store.network = networkOfRecord(r) ?? store.network;
    // endpoints in creation order (the checkpoint's, then the tail's creates)
    const order = [...(cp ? Object.keys(cp.endpoints) : []), ...records.filter((r) => r.k === 'create').map((r) => r.ep)];
    const slots = new Map(store.slots);
    store.slots.clear();
    for (const id of order) if (slots.has(id)) store.slots.set(id, slots.get(id)!);
    store.recovery = { torn: read.torn, fromCheckpoint: cp !== null, replayed: read.records.length, endpoints: [] };
    if (store.mirror) for (const s of store.slots.values()) store.mirror.restore(s.id, s.snapshot);
    if (opts.recover ?? true) store.recovery.endpoints = await store.recover();
    return store;
  }

  // ---------------------------------------------------------------- journal

  private append(bodies: RecordBody[], durable: boolean): LogRecord[] {
    if (this.closed) throw new StoreClosedError();
    if (this.dead) throw this.deadError();
    const ts = this.clock();
    const recs = bodies.map((b) => ({ ...b, seq: ++this.seq, ts }) as LogRecord);
    try {
      this.opts.log.append(recs, durable);
    } catch (e) {
      this.dead = true; // the log is in an unknown state: never write again from this process
      if (e instanceof SimulatedCrash) this.fds.forgetAll();
      throw this.failed(e, 'write');
    }
    this.sinceCheckpoint += recs.length;
    return recs;
  }

  /** The error for a call on a dead store: the real failure that killed it, or the simulated crash. */
  private deadError(): Error {
    return this.failure ? new StoreFailedError(this.failure.code, 'used-after-failure') : new SimulatedCrash('store used after a crash');
  }

  /** A failure of the log medium (errno): remembered, and typed as StoreFailedError. Others pass through. */
  private failed(e: unknown, during: 'write' | 'fsync'): unknown {
    if (e instanceof SimulatedCrash || typeof (e as NodeJS.ErrnoException | null)?.code !== 'string') return e;
    this.failure ??= StoreFailedError.of(e, during);
    return StoreFailedError.of(e, during);
  }

  /**
   * Make everything appended so far durable. Group commit: operations running concurrently (many
   * endpoints, recovery) that ask in the same turn of the event loop share one fdatasync.
   */
  private durable(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.syncWaiters.push({ resolve, reject });
      if (this.syncWaiters.length > 1) return;
      setImmediate(() => {
        const waiters = this.syncWaiters;
        this.syncWaiters = [];
        try {
          if (this.dead) throw this.deadError();
          this.opts.log.sync();
          for (const w of waiters) w.resolve();
        } catch (e) {
          this.dead = true;
          const err = this.failed(e, 'fsync');
          for (const w of waiters) w.reject(err);
        }
      });
    });
  }

  /** Apply an event to an endpoint: transition, journal, then make it the endpoint's state. */
  private apply(slot: Slot, event: { type: string; [k: string]: unknown }, extra: { ms?: number; reconciled?: Record<string, unknown> } = {}): void {
    const [next] = transition(endpointMachine, slot.snapshot, event as never);
    const [rec] = this.append([{ k: 'event', ep: slot.id, event, state: stampOf(next), ...extra }], false);
    slot.snapshot = next;
    if (isOutcome(event.type)) slot.pending = null;
    slot.lastSeq = rec!.seq;
    this.mirror?.send(slot.id, event);
  }

  /** A per-endpoint checkpoint in the log: opening restores from it instead of replaying the history. */
  private snapshotRecord(slot: Slot): void {
    const s = slot.snapshot;
    const [rec] = this.append([{ k: 'snapshot', ep: slot.id, snapshot: { value: s.value, context: s.context, status: s.status }, state: stampOf(s) }], false);
    slot.lastSeq = rec!.seq;
  }

  /** Run effects until the endpoint settles. The first intent is made durable when `durable`. */
  private async drive(slot: Slot, durable: boolean): Promise<void> {
    const everyEffect = this.opts.durability === 'effect';
    for (;;) {
      const eff = pendingEffect(slot.snapshot.value, slot.snapshot.context);
      if (!eff) break;
      const attempt = slot.pending && slot.pending.id === eff.id ? slot.pending.attempt + 1 : 1;
      // what recovery must know of the world before the effect (only a simulated crash escapes)
      const pre = await beforeEffect(slot.snapshot.context, eff, this.opts.adapters).catch((e: unknown) => {
        this.dead = true;
        this.fds.forgetAll();
        throw e;
      });
      const [intent] = this.append([{ k: 'intent', ep: slot.id, id: eff.id, src: eff.src, input: eff.input, attempt, ...(pre && { pre }) }], false);
      slot.pending = intent as IntentRecord;
      slot.lastSeq = intent!.seq;
      // write-ahead: the intent (and the command before it) is durable before the effect runs
      if (durable || everyEffect) await this.durable();
      durable = false;
      const t0 = performance.now();
      let event: { type: string; output?: unknown; error?: unknown };
      try {
        event = { type: `xstate.done.actor.${eff.id}`, output: await runEffect(slot.id, eff.src, eff.input, this.opts.adapters, this.fds, eff.phase === 'teardown') };
      } catch (e) {
        if (e instanceof SimulatedCrash) {
          this.dead = true;
          this.fds.forgetAll();
          throw e;
        }
        event = { type: `xstate.error.actor.${eff.id}`, error: toFailure(e) };
      }
      if (this.dead) throw this.deadError();
      this.apply(slot, event, { ms: Number((performance.now() - t0).toFixed(3)) });
    }
    // settled: no queue fd of ours outlives the operation
    await this.fds.release(slot.id);
    this.snapshotRecord(slot);
    if (everyEffect) {
      try {
        this.opts.log.sync();
      } catch (e) {
        this.dead = true;
        throw this.failed(e, 'fsync');
      }
    }
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    const done = () => this.inflight.delete(p);
    p.then(done, done);
    return p;
  }

  private maybeCheckpoint(): void {
    if (this.sinceCheckpoint >= (this.opts.checkpointEvery ?? 1000)) this.checkpoint();
  }

  /** Write a checkpoint now: every endpoint's snapshot and pending intent, and the log position. */
  checkpoint(): void {
    if (this.closed || this.dead) return;
    const endpoints: Checkpoint['endpoints'] = {};
    for (const s of this.slots.values()) {
      const raw = (s as Slot & { raw?: Checkpoint['endpoints'][string]['snapshot'] }).raw;
      // contexts as embedded JSON strings: an open parses only those it touches
      const snapshot = raw
        ? { ...raw, context: typeof raw.context === 'string' ? raw.context : JSON.stringify(raw.context) }
        : { value: s.snapshot.value, context: JSON.stringify(s.snapshot.context), status: s.snapshot.status };
      endpoints[s.id] = { snapshot, pending: s.pending, lastSeq: s.lastSeq };
    }
    try {
      this.opts.log.writeCheckpoint({
        format: LOG_FORMAT,
        version: LOG_VERSION,
        seq: this.seq,
        offset: this.opts.log.end,
        endpoints,
        ...(this.network ? { network: this.network } : {}),
      });
    } catch (e) {
      // the log itself is intact (the checkpoint is replaced atomically), but say what failed, typed
      throw this.failed(e, 'write');
    }
    this.sinceCheckpoint = 0;
  }

  // ---------------------------------------------------------------- endpoints

  private slot(id: string): Slot {
    const s = this.slots.get(id);
    if (!s) throw new UnknownEndpointError(id);
    return s;
  }

  /**
   * Create an endpoint (upstream createTuntapNetworkEndpoint). The sandbox's netns, vCPUs and
   * vhost setting fill what the input leaves out. Bad input throws EndpointInputError and
   * logs nothing.
   */
  createEndpoint(input: Partial<EndpointInput> & { idx: number }): EndpointView {
    if (this.closed) throw new StoreClosedError();
    // the store's netns is the only one this store ever acts in (docs/security.md)
    if (input.netnsPath !== undefined && input.netnsPath !== this.sandbox.netnsPath)
      throw new NetnsMismatchError('netnsPath', String(input.netnsPath), this.sandbox.netnsPath);
    const full: EndpointInput = {
      netnsPath: this.sandbox.netnsPath,
      netnsCreated: this.sandbox.netnsCreated,
      vcpus: this.sandbox.vcpus,
      vhost: this.sandbox.vhost,
      ...(this.sandbox.multiQueue === false ? { multiQueue: false } : {}),
      ...input,
      id: input.id ?? this.freeId(input.idx),
    };
    const resolved = resolveEndpointInput(full);
    if (this.slots.has(resolved.id)) throw new DuplicateEndpointError('id', resolved.id);
    this.checkUnique([resolved]);
    const snapshot = createFromInput(full);
    const [rec] = this.append([{ k: 'create', ep: resolved.id, input: full, state: stampOf(snapshot) }], false);
    const slot: Slot = { id: resolved.id, snapshot, pending: null, lastSeq: rec!.seq, replayed: 0, busy: false };
    this.slots.set(slot.id, slot);
    this.mirror?.create(slot.id, full);
    return this.view(slot);
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

  private freeId(idx: number): string {
    const base = Number.isInteger(idx) && idx >= 0 ? `ep${idx}` : 'ep';
    if (!this.slots.has(base)) return base;
    for (let n = 2; ; n++) if (!this.slots.has(`${base}-${n}`)) return `${base}-${n}`;
  }

  /** Send a command and run the operation to its end. Rejects with the operation's (upstream) error. */
  send(id: string, command: EndpointCommand): Promise<EndpointView> {
    return this.track(this.run(id, command));
  }

  private async run(id: string, command: EndpointCommand): Promise<EndpointView> {
    if (this.closed) throw new StoreClosedError();
    if (!COMMAND_TYPES.has(command.type)) throw new InvalidCommandError(id, String(command.type), '?');
    const slot = this.slot(id);
    if (slot.busy) throw new EndpointBusyError(id);
    const eff = pendingEffect(slot.snapshot.value, slot.snapshot.context);
    if (eff) throw new InDoubtError(id, eff.id);
    if (!slot.snapshot.can(command)) throw new InvalidCommandError(id, command.type, stateName(slot.snapshot.value));
    slot.busy = true;
    try {
      this.apply(slot, command);
      await this.drive(slot, true);
    } finally {
      slot.busy = false;
    }
    this.maybeCheckpoint();
    const state = stateName(slot.snapshot.value);
    const err = slot.snapshot.context.error;
    if (err && state !== 'detached') throw new EndpointOperationError(id, err, state);
    return this.view(slot);
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

  get(id: string): EndpointView {
    return this.view(this.slot(id));
  }
  list(): EndpointView[] {
    return [...this.slots.values()].map((s) => this.view(s));
  }
  /** The raw machine snapshot of an endpoint (for tests and tools). */
  snapshotOf(id: string): EndpointSnapshot {
    return this.slot(id).snapshot;
  }
  /** Queue fds this process still holds (0 whenever every endpoint is settled). */
  get heldFds(): number {
    return this.fds.count;
  }

  private view(s: Slot): EndpointView {
    const c = s.snapshot.context;
    const eff = pendingEffect(s.snapshot.value, c);
    return {
      id: s.id,
      idx: c.idx,
      state: stateName(s.snapshot.value),
      status: s.busy ? 'busy' : eff ? 'in-doubt' : 'settled',
      name: c.name,
      tapName: c.tapName,
      mac: c.mac,
      hardAddr: c.hardAddr,
      mtu: c.mtu,
      queues: c.queues,
      netnsPath: c.netnsPath,
      pciPath: c.pciPath,
      progress: { ...c.progress },
      coldplugArgs: [...c.coldplugArgs],
      error: c.error,
      warnings: [...c.warnings],
      pendingEffect: eff && { id: eff.id, src: eff.src },
      lastSeq: s.lastSeq,
    };
  }

  // ---------------------------------------------------------------- persist.json

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
   * first: on any error (a {@link PersistFormatError} naming the JSON path) nothing changes.
   */
  async load(doc: unknown): Promise<LoadResult<EndpointView>> {
    if (this.closed) throw new StoreClosedError();
    const plan = await loadPlan(doc, this.sandbox, {
      freeId: (idx, taken) => {
        const base = `ep${idx}`;
        if (!this.slots.has(base) && !taken.has(base)) return base;
        for (let n = 2; ; n++) if (!this.slots.has(`${base}-${n}`) && !taken.has(`${base}-${n}`)) return `${base}-${n}`;
      },
      idxInUse: (idx) => [...this.slots.values()].some((s) => s.snapshot.context.idx === idx && s.snapshot.status !== 'done'),
      netlink: this.opts.adapters.netlink,
    });
    // a MAC or original link a live endpoint (or an earlier one of the document) has: refused
    this.checkUnique(plan.inputs.map((i) => resolveEndpointInput(i.input)));
    // the kept document first, then the endpoints (durable with the first ADOPT, or at the end)
    const [note, network] = loadRecords(this.network, plan);
    this.append([note], false);
    this.network = network;
    const endpoints: EndpointView[] = [];
    for (const { input, tapExists } of plan.inputs) {
      const v = this.createEndpoint(input);
      endpoints.push(tapExists ? await this.send(v.id, { type: 'ADOPT', takeover: true }) : v);
    }
    if (!plan.inputs.some((i) => i.tapExists)) await this.durable();
    return { endpoints, skipped: plan.skipped };
  }

  // ---------------------------------------------------------------- recovery

  /**
   * Finish or undo every interrupted operation: an interrupted attach is rolled back, an
   * interrupted teardown is finished. Safe to run again after a crash during it.
   */
  async recover(): Promise<RecoveredEndpoint[]> {
    const todo = [...this.slots.values()].filter((s) => !s.busy && inEffect(s));
    const report: RecoveredEndpoint[] = new Array(todo.length);
    let done = 0;
    let next = 0;
    let crash: unknown = null;
    const worker = async (): Promise<void> => {
      while (next < todo.length && crash === null) {
        const i = next++;
        try {
          report[i] = await this.recoverOne(todo[i]!);
        } catch (e) {
          crash = e; // a SimulatedCrash or StoreFailedError: this process writes no more
          return;
        }
        this.opts.onRecoveryProgress?.(++done, todo.length);
      }
    };
    const width = Math.max(1, Math.min(this.opts.recoveryConcurrency ?? 16, todo.length));
    await Promise.all(Array.from({ length: width }, worker));
    if (crash !== null) throw crash;
    this.maybeCheckpoint();
    return report;
  }

  private async recoverOne(slot: Slot): Promise<RecoveredEndpoint> {
    const eff = pendingEffect(slot.snapshot.value, slot.snapshot.context)!;
    const ran = slot.pending !== null && slot.pending.id === eff.id;
    const t0 = performance.now();
    const entry: RecoveredEndpoint = {
      id: slot.id,
      effect: eff.id,
      src: eff.src,
      ran,
      action: eff.phase === 'teardown' ? 'rolled-forward' : 'rolled-back',
      observed: {},
      finalState: '',
      ms: 0,
    };
    slot.busy = true;
    try {
      const r = await reconcile(slot.snapshot.context, eff, ran, this.opts.adapters, ran ? (slot.pending!.pre as BeforeEffect | undefined) : undefined);
      entry.observed = r.observed;
      // informational: the next intent (if any) is made durable and syncs it too
      this.append([{ k: 'note', ep: slot.id, note: 'recovery', data: { effect: eff.id, ran, decision: r.kind, observed: r.observed } }], false);
      if (r.kind === 'event') this.apply(slot, r.event, { reconciled: r.observed });
      await this.drive(slot, true);
      const err = slot.snapshot.context.error;
      if (err && eff.phase !== 'teardown' && err.cause.name !== 'Interrupted') entry.error = err.message;
      else if (stateName(slot.snapshot.value) === 'dirty' && err) entry.error = err.message;
    } catch (e) {
      if (e instanceof SimulatedCrash || e instanceof StoreFailedError) throw e;
      entry.action = 'failed';
      entry.error = e instanceof Error ? e.message : String(e);
    } finally {
      slot.busy = false;
    }
    entry.finalState = stateName(slot.snapshot.value);
    entry.ms = Number((performance.now() - t0).toFixed(3));
    return entry;
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Wait for running commands, close the log. Adapters stay the caller's. No checkpoint is
   * written here: settled endpoints have snapshot records in the log and a checkpoint is written
   * every `checkpointEvery` records, so the tail an open replays stays bounded either way.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.allSettled([...this.inflight]);
    if (!this.dead) this.maybeCheckpoint();
    this.closed = true;
    this.mirror?.stop();
    for (const s of this.slots.values()) await this.fds.release(s.id).catch(() => {});
    if (!this.dead) this.opts.log.close();
  }
}
