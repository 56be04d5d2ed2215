/**
 * The model-based property: random commands on random endpoints, faults injected at any adapter
 * call, crashes at any adapter call and at any log record (drop the runtime, reopen the store,
 * recover); then a final teardown without faults. Afterwards, checked while the netns still
 * exists (test/support/world-invariants.ts): no tap except one an endpoint left to the netns
 * owner, no device/netdev in the hypervisor, no fd of ours, the original link's tc as it was
 * before the run (sometimes with someone else's ingress qdisc); after the VM stops no fd at all;
 * and the live snapshots equal a pure replay of the log. Reused by the fuzz target with a larger
 * budget.
 */
import fc from 'fast-check';
import { NetlinkError } from '../../src/adapters/netlink.js';
import { HypervisorError } from '../../src/adapters/hypervisor.js';
import { SimulatedCrash, type FaultAction } from '../../src/adapters/faults.js';
import { MIN_SEGMENT_BYTES, MemoryLogStore, type RetentionPolicy } from '../../src/log/index.js';
import { Tapstore } from '../../src/runtime/tapstore.js';
import type { EndpointCommand } from '../../machines/index.js';
import { memoryWorld, NETNS } from '../support/memory-world.js';
import { worldProblems } from '../support/world-invariants.js';

export type Fault = 'ok' | 'fail' | 'crash-before' | 'crash-after' | 'stuck';
export interface Scenario {
  netnsCreated: boolean;
  endpoints: number;
  /** `together`: runs concurrently with the previous command (another endpoint's, usually). */
  commands: Array<{ ep: number; cmd: EndpointCommand['type']; together: boolean }>;
  /** Fault for the n-th adapter call (beyond the array: ok). */
  faults: Fault[];
  /** Checkpoint interval in records: small values make every reopen restore from a checkpoint. */
  checkpointEvery: number;
  /** Crash at the n-th appended record (1-based), if any. */
  logCrash: { at: number; how: 'crash-before' | 'crash-after' | 'torn' } | null;
  /** Segments and retention: null = defaults (no rotation at this size); else tiny segments, compacted hard. */
  retention: RetentionPolicy | null;
  /** Crash before the n-th step (1-based) of a rotation or compaction, if any. */
  compactCrash: number | null;
  /** Someone else put an ingress qdisc on the original link before the run (it must survive it). */
  foreignQdisc: boolean;
  /** vhost: off; on with /dev/vhost-net (vhost fds counted and handed over like queue fds); on without it (every attach fails). */
  vhost: 'off' | 'on' | 'absent';
}

const fault = fc.oneof(
  { weight: 12, arbitrary: fc.constant<Fault>('ok') },
  { weight: 2, arbitrary: fc.constant<Fault>('fail') },
  { weight: 1, arbitrary: fc.constant<Fault>('crash-before') },
  { weight: 1, arbitrary: fc.constant<Fault>('crash-after') },
  { weight: 1, arbitrary: fc.constant<Fault>('stuck') },
);

export const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  netnsCreated: fc.boolean(),
  endpoints: fc.integer({ min: 1, max: 2 }),
  commands: fc.array(
    fc.record({
      ep: fc.integer({ min: 0, max: 1 }),
      cmd: fc.constantFrom<EndpointCommand['type']>('HOT_ATTACH', 'ATTACH', 'HOT_DETACH', 'DETACH', 'CLEANUP', 'HOT_ATTACH'),
      together: fc.boolean(),
    }),
    { maxLength: 8 },
  ),
  faults: fc.array(fault, { maxLength: 40 }),
  checkpointEvery: fc.constantFrom(1, 2, 7, 1000),
  vhost: fc.constantFrom<Scenario['vhost']>('off', 'on', 'absent'),
  logCrash: fc.option(fc.record({ at: fc.integer({ min: 1, max: 40 }), how: fc.constantFrom('crash-before', 'crash-after', 'torn') as fc.Arbitrary<'crash-before' | 'crash-after' | 'torn'> }), { nil: null }),
  retention: fc.constantFrom<RetentionPolicy | null>(
    null,
    // archived or deleted (the world invariants read retired endpoints' last snapshots from the
    // whole history: memoryWorld keeps the records of deleted segments for them, the store does not)
    { segmentBytes: MIN_SEGMENT_BYTES, maxBytes: 6000, maxAgeMs: null, keepHistory: true },
    { segmentBytes: MIN_SEGMENT_BYTES, maxBytes: 1, maxAgeMs: null, keepHistory: true },
    { segmentBytes: MIN_SEGMENT_BYTES, maxBytes: 6000, maxAgeMs: null, keepHistory: false },
    { segmentBytes: MIN_SEGMENT_BYTES, maxBytes: 1, maxAgeMs: null, keepHistory: false },
  ),
  compactCrash: fc.option(fc.integer({ min: 1, max: 12 }), { nil: null }),
  foreignQdisc: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
});

const injected = (method: string): Error =>
  ['hotplug', 'hotunplug', 'coldplug', 'probeDevice', 'probeNetdev', 'alive'].includes(method)
    ? new HypervisorError({ kind: 'command-failed', op: method, message: `injected failure of ${method}` })
    : new NetlinkError({ op: method, netns: NETNS, errno: 'EIO', errnoNumber: 5, message: `injected failure of ${method}` });

/** Run one scenario; throws (with a description) when an invariant is broken. */
export async function runScenario(sc: Scenario): Promise<void> {
  const w = memoryWorld({ netnsCreated: sc.netnsCreated, vhost: sc.vhost !== 'off' }, { vhostNet: sc.vhost === 'on' });
  if (sc.foreignQdisc) await w.kernel.addIngressQdisc(NETNS, 'eth0');
  // endpoint idx 0 has its original link (eth0) in the netns; idx 1 does not: its cold attach fails
  let calls = 0;
  let faultsOn = true;
  const plan = (c: { method: string }): FaultAction => {
    // close(2) always releases the fd on Linux: an injected closeFds failure would model nothing real
    if (!faultsOn || c.method === 'closeFds') return 'ok';
    const f = sc.faults[calls++] ?? 'ok';
    if (f === 'stuck') {
      if (c.method === 'hotunplug') w.hypervisor.stickNextUnplug();
      return 'ok';
    }
    if (f === 'fail') return { fail: injected(c.method) };
    return f;
  };
  let records = 0;
  let logCrashed = false;
  const hook = () => {
    records++;
    if (sc.logCrash && !logCrashed && records === sc.logCrash.at) {
      logCrashed = true;
      return sc.logCrash.how;
    }
    return 'ok' as const;
  };
  let steps = 0;
  const compactHook = () => {
    steps++;
    return faultsOn && sc.compactCrash === steps ? ('crash' as const) : ('ok' as const);
  };
  const retention = sc.retention ?? undefined;
  const crashes: string[] = [];
  const openSurviving = async (): Promise<Tapstore> => {
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        return await w.open({ faults: plan, hook, compactHook, retention, checkpointEvery: sc.checkpointEvery });
      } catch (e) {
        if (!(e instanceof SimulatedCrash)) throw e;
        crashes.push(`open: ${e.message}`);
        w.crash();
      }
    }
    throw new Error('could not open the store 20 times in a row');
  };
  let store = await openSurviving();
  for (let i = 0; i < sc.endpoints; i++) {
    try {
      store.createEndpoint({ idx: i, mac: `02:00:00:00:00:0${i + 1}` });
    } catch (e) {
      if (!(e instanceof SimulatedCrash)) throw e;
      w.crash();
      store = await openSurviving();
      if (!store.list().some((v) => v.idx === i)) i--; // the create record was lost: create it again
    }
  }
  const ids = () => store.list().map((v) => v.id);
  // batches of commands that run concurrently (so checkpoints can catch endpoints mid-effect)
  const batches: Array<Array<{ ep: number; cmd: EndpointCommand['type'] }>> = [];
  for (const c of sc.commands) {
    if (c.together && batches.length) batches[batches.length - 1]!.push(c);
    else batches.push([c]);
  }
  for (const batch of batches) {
    const results = await Promise.allSettled(
      batch.map(({ ep, cmd }) => {
        const id = ids()[ep];
        return id ? store.send(id, { type: cmd }) : Promise.resolve(null);
      }),
    );
    const crash = results.find((r) => r.status === 'rejected' && r.reason instanceof SimulatedCrash) as PromiseRejectedResult | undefined;
    if (crash) {
      crashes.push(`${batch.map((b) => b.cmd).join('+')}: ${(crash.reason as Error).message}`);
      w.crash();
      store = await openSurviving();
    }
    // operation errors, invalid commands, busy or in-doubt refusals: the scenario goes on
  }
  // final teardown, no more faults; the VM is stopped at the end (cold-plugged NICs go with it)
  faultsOn = false;
  w.hypervisor.unstick();
  if (!logCrashed) logCrashed = true;
  store = await openSurviving();
  for (let round = 0; round < 3; round++) {
    for (const v of store.list()) {
      if (v.state === 'detached') continue;
      if (v.status === 'in-doubt') await store.recover();
      const cur = store.get(v.id);
      const cmd: EndpointCommand['type'] = cur.state === 'dirty' ? 'CLEANUP' : cur.state === 'attached' ? 'DETACH' : 'HOT_DETACH';
      await store.send(v.id, { type: cmd }).catch(() => {});
    }
    w.hypervisor.reset(); // completes unplugs stuck earlier (QEMU: system_reset)
  }
  const describe = () => JSON.stringify({ crashes, endpoints: store.list().map((v) => [v.id, v.state, v.progress, v.error?.message]) });
  const unsettled = store.list().filter((v) => !['detached', 'created'].includes(v.state));
  if (unsettled.length) throw new Error(`endpoints not torn down: ${describe()}`);
  // the world, while the netns still exists: taps only where left to the netns owner, no device,
  // netdev or fd of ours, the original link as it was before the run
  const problems = worldProblems(w, store, { origIngress: sc.foreignQdisc });
  if (problems.length) throw new Error(`${problems.join('; ')}: ${describe()}`);
  // the live snapshots equal a pure replay of the whole log
  const live = store.list().map((v) => [v.id, store.snapshotOf(v.id).value, store.snapshotOf(v.id).context]);
  const replay = await Tapstore.open({
    log: MemoryLogStore.open(w.medium, { readOnly: true }),
    adapters: { netlink: null as never, hypervisor: null as never },
    recover: false,
    verify: true,
  });
  const replayed = replay.list().map((v) => [v.id, replay.snapshotOf(v.id).value, replay.snapshotOf(v.id).context]);
  if (JSON.stringify(live) !== JSON.stringify(replayed)) throw new Error(`live != replay: ${JSON.stringify(live)} vs ${JSON.stringify(replayed)}`);
  await store.close();
  // the netns owner deletes a netns that is not ours (upstream Detach leaves the tap to it)
  if (!sc.netnsCreated) w.kernel.deleteNetns(NETNS);
  w.hypervisor.kill(); // the VM stops: staged cold-plug copies are released
  if (w.kernel.openFdCount() !== 0) throw new Error(`open fds left: ${JSON.stringify(w.kernel.openFds())}: ${describe()}`);
}

/** The property, for fc.assert with any budget. */
export const modelProperty = () => fc.asyncProperty(scenarioArb, runScenario);
