/**
 * The records an operation writes, in order, as `tapstate log` shows them: the command, each
 * effect's intent before it runs (with its attempt number, and what recovery must know of the
 * world before it), each outcome with its duration, and the snapshot once settled.
 */
import { describe, expect, it } from 'vitest';
import type { LogRecord } from '../../src/log/records.js';
import { NetlinkError } from '../../src/adapters/netlink.js';
import { SimulatedCrash, type FaultCall, type FaultPlan } from '../../src/adapters/faults.js';
import { memoryWorld, NETNS } from '../support/memory-world.js';

const brief = (r: LogRecord): string => {
  switch (r.k) {
    case 'event':
      return `event ${r.event.type.replace('xstate.', '')} → ${r.state.v}`;
    case 'intent':
      return `intent ${r.id} #${r.attempt}`;
    default:
      return r.k;
  }
};

describe('the records of an operation', () => {
  it('hot attach: command, then intent and outcome of each effect, then the snapshot', async () => {
    const w = memoryWorld();
    const store = await w.open();
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    await store.hotAttach('ep0');
    await store.close();
    const recs = w.records();
    expect(recs.map(brief)).toEqual([
      'create',
      'event HOT_ATTACH → hotAttach.createTap',
      'intent hotAttach.createTap #1',
      'event done.actor.hotAttach.createTap → hotAttach.setMtu',
      'intent hotAttach.setMtu #1',
      'event done.actor.hotAttach.setMtu → hotAttach.setUp',
      'intent hotAttach.setUp #1',
      'event done.actor.hotAttach.setUp → hotAttach.hotplug',
      'intent hotAttach.hotplug #1',
      'event done.actor.hotAttach.hotplug → hotAttached',
      'snapshot',
    ]);
    const intent = recs[2] as LogRecord & { k: 'intent' };
    expect(intent).toMatchObject({ ep: 'ep0', src: 'netlink.createTap', input: { netns: NETNS, name: 'tap0_kata', queues: 2 } });
    expect(intent).not.toHaveProperty('pre');
    const outcome = recs[3] as LogRecord & { k: 'event' };
    expect(typeof outcome.ms).toBe('number');
    expect(outcome.ms).toBeGreaterThanOrEqual(0);
    expect(recs[1]).not.toHaveProperty('ms');
    const snap = recs[10] as LogRecord & { k: 'snapshot' };
    expect(snap.snapshot).toMatchObject({ value: 'hotAttached', status: 'active', context: { pciPath: expect.any(String) } });
    // seq numbers follow each other
    expect(recs.map((r) => r.seq)).toEqual(recs.map((_, i) => recs[0]!.seq + i));
  });

  it("cold attach: qdiscOrig's intent records whether the original link had an ingress qdisc before", async () => {
    const w = memoryWorld();
    const store = await w.open();
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    await store.attach('ep0');
    await store.close();
    const intents = w.records().filter((r): r is LogRecord & { k: 'intent' } => r.k === 'intent');
    expect(intents.find((r) => r.id === 'attach.qdiscOrig')).toMatchObject({ pre: { origIngress: false } });
    expect(intents.filter((r) => r.pre !== undefined).map((r) => r.id)).toEqual(['attach.qdiscOrig']);
  });

  it('a teardown step run again by recovery is attempt 2; the reconciliation is noted and recorded with the outcome', async () => {
    const w = memoryWorld();
    const s1 = await w.open({ faults: (c) => (c.method === 'deleteLink' ? 'crash-before' : 'ok') });
    s1.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    await s1.hotAttach('ep0');
    await expect(s1.hotDetach('ep0')).rejects.toBeInstanceOf(SimulatedCrash);
    w.crash();
    const s2 = await w.open();
    expect(s2.recovery.endpoints).toMatchObject([{ effect: 'teardown.deleteTap', ran: true, action: 'rolled-forward', finalState: 'detached' }]);
    await s2.close();
    const recs = w.records();
    const deletes = recs.filter((r) => r.k === 'intent' && r.id === 'teardown.deleteTap');
    expect(deletes.map((r) => (r as LogRecord & { k: 'intent' }).attempt)).toEqual([1, 2]);
    const note = recs.find((r) => r.k === 'note' && r.note === 'recovery');
    expect(note).toMatchObject({ ep: 'ep0', data: { effect: 'teardown.deleteTap', ran: true, decision: 'rerun', observed: { tap: true } } });
    expect(w.taps()).toEqual([]);
  });

  it('an attach step rolled back by recovery: the failure event carries what was observed', async () => {
    const w = memoryWorld();
    const s1 = await w.open({ faults: (c) => (c.method === 'setMtu' ? 'crash-after' : 'ok') });
    s1.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    await expect(s1.hotAttach('ep0')).rejects.toBeInstanceOf(SimulatedCrash);
    w.crash();
    const s2 = await w.open();
    expect(s2.recovery.endpoints).toMatchObject([{ effect: 'hotAttach.setMtu', ran: true, action: 'rolled-back', finalState: 'created', observed: { tap: true, up: false } }]);
    expect(s2.recovery.endpoints[0]!.error).toBeUndefined();
    expect(typeof s2.recovery.endpoints[0]!.ms).toBe('number');
    await s2.close();
    const ev = w.records().find((r) => r.k === 'event' && r.event.type === 'xstate.error.actor.hotAttach.setMtu') as LogRecord & { k: 'event' };
    expect(ev.reconciled).toMatchObject({ tap: true, ran: true });
    expect(ev.event).toMatchObject({ error: { name: 'Interrupted', message: 'interrupted by a crash during netlink.setMtu' } });
  });

  it("rolling forward the interrupted rollback of a failed attach: recovery reports no error of its own, the endpoint keeps the attach's", async () => {
    const w = memoryWorld();
    const einval = new NetlinkError({ op: 'setMtu', netns: NETNS, errno: 'EINVAL', errnoNumber: 22 });
    const s1 = await w.open({ faults: (c) => (c.method === 'setMtu' ? { fail: einval } : c.method === 'deleteLink' ? 'crash-before' : 'ok') });
    s1.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    await expect(s1.hotAttach('ep0')).rejects.toBeInstanceOf(SimulatedCrash);
    w.crash();
    const s2 = await w.open();
    expect(s2.recovery.endpoints).toHaveLength(1);
    const [r] = s2.recovery.endpoints;
    expect(r).toMatchObject({ effect: 'teardown.deleteTap', action: 'rolled-forward', finalState: 'created' });
    expect(r).not.toHaveProperty('error');
    expect(s2.get('ep0').error?.message).toMatch(/^Could not set TAP MTU 1500: /);
    expect(w.taps()).toEqual([]);
    await s2.close();
  });

  it('recovery that cannot finish a teardown reports the error and the dirty state', async () => {
    const w = memoryWorld();
    const s1 = await w.open({ faults: (c) => (c.method === 'hotunplug' ? 'crash-before' : 'ok') });
    s1.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    await s1.hotAttach('ep0');
    await expect(s1.hotDetach('ep0')).rejects.toBeInstanceOf(SimulatedCrash);
    w.crash();
    w.hypervisor.stickNextUnplug();
    const s2 = await w.open();
    expect(s2.recovery.endpoints).toMatchObject([{ effect: 'teardown.unplug', action: 'rolled-forward', finalState: 'dirty', error: expect.stringContaining('DEVICE_DELETED never arrived') }]);
    await s2.close();
  });
});

describe('recovery as a whole', () => {
  const twoInDoubt = async () => {
    const w = memoryWorld();
    const s1 = await w.open({ faults: (c) => (c.method === 'deleteLink' ? 'crash-before' : 'ok') });
    s1.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    s1.createEndpoint({ idx: 1, mac: '02:00:00:00:00:02' });
    await s1.hotAttach('ep0');
    await s1.hotAttach('ep1');
    const a = s1.hotDetach('ep0').catch((e: unknown) => e);
    const b = s1.hotDetach('ep1').catch((e: unknown) => e);
    expect(await a).toBeInstanceOf(SimulatedCrash);
    await b;
    w.crash();
    return w;
  };

  it('makes the first intent it writes durable, and times each endpoint', async () => {
    const w = await twoInDoubt();
    const before = w.medium.datasyncs;
    const s2 = await w.open();
    expect(w.medium.datasyncs).toBeGreaterThan(before);
    expect(s2.recovery.endpoints.map((e) => [e.id, e.finalState])).toEqual([
      ['ep0', 'detached'],
      ['ep1', 'detached'],
    ]);
    for (const e of s2.recovery.endpoints) expect(e.ms).toBeLessThan(60_000);
    await s2.close();
  });

  it('a crash during recovery stops it (the next endpoint is not touched) and fails the open', async () => {
    const w = await twoInDoubt();
    expect(w.taps()).toHaveLength(2);
    await expect(w.open({ recoveryConcurrency: 1, faults: (c) => (c.method === 'deleteLink' ? 'crash-before' : 'ok') })).rejects.toBeInstanceOf(SimulatedCrash);
    w.crash();
    expect(w.taps()).toHaveLength(2);
    const s3 = await w.open();
    expect(w.taps()).toEqual([]);
    await s3.close();
  });

  it('a log write failure during recovery fails the open with StoreFailedError', async () => {
    const w = await twoInDoubt();
    w.medium.failNextWrite = { afterBytes: 0, error: Object.assign(new Error('ENOSPC'), { code: 'ENOSPC' }) };
    await expect(w.open()).rejects.toMatchObject({ name: 'StoreFailedError', errno: 'ENOSPC' });
  });

  it('a probe that fails: that endpoint is reported failed with the reason, the others recovered', async () => {
    const w = await twoInDoubt();
    let probes = 0;
    const s2 = await w.open({
      faults: (c) => (c.method === 'probeLink' && probes++ === 0 ? { fail: new Error('probe refused') } : 'ok'),
    });
    expect(s2.recovery.endpoints).toMatchObject([
      { id: 'ep0', action: 'failed', error: 'probe refused', finalState: 'teardown.deleteTap' },
      { id: 'ep1', action: 'rolled-forward', finalState: 'detached' },
    ]);
    expect(s2.get('ep0').status).toBe('in-doubt');
    await s2.close();
  });

  it('an endpoint being recovered is busy: a command meanwhile is refused', async () => {
    const w = await twoInDoubt();
    const s2 = await w.open({ recover: false });
    const p = s2.recover();
    await expect(s2.hotDetach('ep0')).rejects.toMatchObject({ name: 'EndpointBusyError' });
    await p;
    await s2.close();
  });

  /** `n` endpoints hot-detached at once, all crashed right before deleting their taps (each intent logged). */
  const inDoubt = async (n: number) => {
    const w = memoryWorld();
    const s1 = await w.open({ faults: (c) => (c.method === 'deleteLink' ? 'crash-before' : 'ok') });
    for (let i = 0; i < n; i++) {
      s1.createEndpoint({ idx: i, mac: `02:00:00:00:00:0${i + 1}` });
      await s1.hotAttach(`ep${i}`);
    }
    await Promise.all(Array.from({ length: n }, (_, i) => s1.hotDetach(`ep${i}`).catch(() => {})));
    w.crash();
    expect(w.taps()).toHaveLength(n);
    return w;
  };
  /** The tap each netlink call names (recovery probes and deletes `tap<idx>_kata`). */
  const tapsTouched = (calls: string[]) => (c: FaultCall) => {
    const tap = c.args.find((a) => typeof a === 'string' && a.startsWith('tap'));
    if (c.adapter === 'netlink' && typeof tap === 'string') calls.push(tap);
    return 'ok' as const;
  };

  it('recoveryConcurrency: 1 recovers one endpoint after the other; 2 works on two at once', async () => {
    for (const concurrency of [1, 2]) {
      const w = await inDoubt(2);
      const calls: string[] = [];
      const s2 = await w.open({ recoveryConcurrency: concurrency, faults: tapsTouched(calls) });
      expect(s2.recovery.endpoints.map((e) => [e.id, e.finalState])).toEqual([
        ['ep0', 'detached'],
        ['ep1', 'detached'],
      ]);
      const overlap = calls.indexOf('tap1_kata') < calls.lastIndexOf('tap0_kata');
      expect({ concurrency, overlap }).toEqual({ concurrency, overlap: concurrency > 1 });
      await s2.close();
    }
  });

  it('endpoints recovered at once share one fdatasync (their notes are not synced on their own)', async () => {
    const w = await inDoubt(4);
    const before = w.medium.datasyncs;
    const s2 = await w.open();
    expect(s2.recovery.endpoints.map((e) => e.finalState)).toEqual(['detached', 'detached', 'detached', 'detached']);
    expect(w.medium.datasyncs - before).toBe(1);
    await s2.close();
  });

  it('a crash while several endpoints are recovered at once: no endpoint is started after it', async () => {
    const w = await inDoubt(3);
    const calls: string[] = [];
    const crash: FaultPlan = (c) => (c.method === 'probeLink' && c.args[1] === 'tap0_kata' ? 'crash-before' : tapsTouched(calls)(c));
    await expect(w.open({ recoveryConcurrency: 2, faults: crash })).rejects.toBeInstanceOf(SimulatedCrash);
    w.crash();
    expect(calls).not.toContain('tap2_kata'); // ep2 was never probed
    expect(w.taps()).toContain(`${NETNS}:tap2_kata`);
    const s3 = await w.open();
    expect(w.taps()).toEqual([]);
    await s3.close();
  });

  it('reopening: a store without a checkpoint does not start from one; a crash before the snapshot record still retires', async () => {
    const w = memoryWorld();
    const s1 = await w.open();
    s1.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    await s1.close();
    const s2 = await w.open();
    expect(s2.recovery.fromCheckpoint).toBe(false);
    await s2.close();
  });
});
