/** The journal directly, and the durability it gives the store: group commit, per-effect syncs, failing closed. */
import { describe, expect, it } from 'vitest';
import { LogStoreClosedError, MemoryLogMedium, MemoryLogStore } from '../../src/log/index.js';
import { Journal } from '../../src/runtime/journal.js';
import { StoreFailedError } from '../../src/runtime/errors.js';
import { TapstateError } from '../../machines/index.js';
import { SimulatedCrash } from '../../src/adapters/faults.js';
import { memoryWorld } from '../support/memory-world.js';

const note = (n: number) => ({ k: 'note' as const, ep: 'ep0', note: `n${n}`, data: {} });
const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

function journal(): { j: Journal; medium: MemoryLogMedium } {
  const medium = new MemoryLogMedium();
  const log = MemoryLogStore.create(medium, {});
  return { j: new Journal(log, { seq: 0, clock: () => 0 }), medium };
}

describe('Journal', () => {
  it('numbers records after the seq it was opened at', () => {
    const { j } = journal();
    expect(j.append([note(1), note(2)], false).map((r) => r.seq)).toEqual([1, 2]);
    expect(j.seq).toBe(2);
    expect(j.sinceCheckpoint).toBe(2);
  });

  it('group commit: durable() calls made in the same event-loop turn share one fdatasync', async () => {
    const { j, medium } = journal();
    j.append([note(1)], false);
    const before = medium.datasyncs;
    const waits = [j.durable(), j.durable(), j.durable()];
    j.append([note(2)], false); // appended before the sync runs: covered by it
    await Promise.all(waits);
    expect(medium.datasyncs - before).toBe(1);
    expect(medium.syncedLength).toBe(medium.log.length);
    await j.durable(); // a later turn: its own fdatasync
    expect(medium.datasyncs - before).toBe(1); // nothing new appended: the store skips the datasync
    j.append([note(3)], false);
    await j.durable();
    expect(medium.datasyncs - before).toBe(2);
  });

  it('a failed write throws StoreFailedError (errno, message) and every later write throws it too', async () => {
    const { j, medium } = journal();
    j.append([note(1)], true);
    medium.failNextWrite = { afterBytes: 7, error: enospc() };
    const e = (() => {
      try {
        j.append([note(2)], false);
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(StoreFailedError);
    expect(e).toBeInstanceOf(TapstateError);
    expect(e).toMatchObject({ code: 'STORE_FAILED', errno: 'ENOSPC', during: 'write' });
    expect((e as Error).message).toBe("log write failed (ENOSPC); run 'tapstate recover' once space is available");
    expect((e as Error).cause).toMatchObject({ code: 'ENOSPC' });
    expect(j.failed).toBe(true);
    expect(() => j.append([note(3)], false)).toThrow(StoreFailedError);
    await expect(j.durable()).rejects.toMatchObject({ name: 'StoreFailedError', errno: 'ENOSPC', during: 'used-after-failure' });
    expect(() => j.assertUsable()).toThrow("the store stopped after a failed log write (ENOSPC); run 'tapstate recover' once the cause is fixed");
  });

  it('a failed fdatasync is a StoreFailedError too (during: fsync)', async () => {
    const { j } = journal();
    const log = (j as unknown as { log: { sync(): void } }).log;
    log.sync = () => {
      throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    };
    j.append([note(1)], false);
    await expect(j.durable()).rejects.toMatchObject({ name: 'StoreFailedError', errno: 'EIO', during: 'fsync', message: "log fsync failed (EIO); run 'tapstate recover' once the cause is fixed" });
    expect(j.failed).toBe(true);
  });

  it('idle() resolves only once a requested fdatasync has run (closing must not pull the fd from under it)', async () => {
    const { j, medium } = journal();
    j.append([note(1)], false);
    const durable = j.durable();
    await j.idle();
    expect(medium.syncedLength).toBe(medium.log.length);
    await durable;
    await expect(j.idle()).resolves.toBeUndefined(); // nothing running: at once
  });

  it('close() closes the log', () => {
    const { j } = journal();
    const log = (j as unknown as { log: MemoryLogStore }).log;
    j.close();
    expect(() => log.end).toThrow(LogStoreClosedError);
  });

  it('a write failing with an error of any shape (a code that is no errno string) still fails the journal closed', () => {
    for (const code of [Symbol('E'), ['ENOSPC'], 28]) {
      const { j, medium } = journal();
      const odd = Object.assign(new Error('odd failure'), { code });
      medium.failNextWrite = { afterBytes: 0, error: odd };
      expect(() => j.append([note(1)], false)).toThrow(odd); // not the medium's errno: thrown as it is
      expect(j.failed).toBe(true);
      expect(() => j.append([note(2)], false)).toThrow(expect.objectContaining({ name: 'StoreFailedError', errno: 'unknown', during: 'used-after-failure' }));
    }
  });

  it('a simulated crash stays a SimulatedCrash (tests), never a StoreFailedError', () => {
    const { j } = journal();
    expect(j.fail(new SimulatedCrash('test'))).toBeInstanceOf(SimulatedCrash);
    expect(() => j.append([note(1)], false)).toThrow(SimulatedCrash);
  });
});

describe('durability through the store', () => {
  it("'command' (default): concurrent commands share one fdatasync, made before their first effects", async () => {
    const w = memoryWorld();
    const store = await w.open();
    for (const idx of [0, 1, 2]) store.createEndpoint({ idx, mac: `02:00:00:00:00:0${idx + 1}` });
    const before = w.medium.datasyncs;
    await Promise.all(['ep0', 'ep1', 'ep2'].map((id) => store.hotAttach(id)));
    expect(w.medium.datasyncs - before).toBe(1);
    await store.close();
  });

  it("'effect': an fdatasync before every effect and one when the command settles", async () => {
    const w = memoryWorld();
    const store = await w.open({ durability: 'effect' });
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    const before = w.medium.datasyncs;
    await store.hotAttach('ep0'); // createTap, setMtu, setUp, hotplug
    expect(w.medium.datasyncs - before).toBe(4 + 1);
    await store.close();
  });

  it('a log write failure fails the command with StoreFailedError; the store refuses more; reopening recovers', async () => {
    const w = memoryWorld();
    const store = await w.open();
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    store.createEndpoint({ idx: 1, mac: '02:00:00:00:00:02' });
    w.medium.failNextWrite = { afterBytes: 3, error: enospc() };
    const e = await store.hotAttach('ep0').catch((err: unknown) => err);
    expect(e).toBeInstanceOf(StoreFailedError);
    expect((e as StoreFailedError).errno).toBe('ENOSPC');
    await expect(store.hotAttach('ep1')).rejects.toBeInstanceOf(StoreFailedError);
    await store.close();
    const again = await w.open();
    expect(again.recovery.torn).toBeNull(); // the partial write was cut back at once
    expect(again.list().map((v) => [v.id, v.state, v.status])).toEqual([
      ['ep0', 'created', 'settled'],
      ['ep1', 'created', 'settled'],
    ]);
    await again.close();
  });
});

describe('Journal: failing closed, checkpoints', () => {
  const eio = () => Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
  const patch = (j: Journal, m: Record<string, unknown>) => Object.assign((j as unknown as { log: object }).log, m);

  it('use after a simulated crash: a SimulatedCrash saying so; onFail sees every failure', () => {
    const seen: unknown[] = [];
    const j = new Journal(MemoryLogStore.create(new MemoryLogMedium(), {}), { seq: 0, clock: () => 0, onFail: (c) => void seen.push(c) });
    const crash = new SimulatedCrash('test');
    expect(j.fail(crash)).toBe(crash);
    expect(j.failed).toBe(true);
    expect(() => j.assertUsable()).toThrow('simulated crash: store used after a crash');
    j.fail(new Error('second'));
    expect(seen).toHaveLength(2);
  });

  it('the first failure is the one reported afterwards; a failure that is not the medium\'s is thrown as it is', () => {
    const { j } = journal();
    const bug = new TypeError('a bug');
    expect(j.fail(bug)).toBe(bug);
    j.fail(eio());
    expect(() => j.assertUsable()).toThrow(expect.objectContaining({ name: 'StoreFailedError', errno: 'unknown', during: 'used-after-failure' }));
    const { j: k } = journal();
    const first = k.fail(eio(), 'fsync');
    expect(first).toMatchObject({ name: 'StoreFailedError', errno: 'EIO', during: 'fsync' });
    // a later call names the first failure as its cause (what `tapstate` prints under it)
    expect(() => k.assertUsable()).toThrow(expect.objectContaining({ errno: 'EIO', during: 'used-after-failure', cause: first }));
    // a medium failure reported without saying when is a write failure
    expect(journal().j.fail(eio())).toMatchObject({ name: 'StoreFailedError', errno: 'EIO', during: 'write', message: "log write failed (EIO); run 'tapstate recover' once the cause is fixed" });
  });

  it('a checkpoint records the position, the endpoints, the retirements and the kept document; the count restarts', () => {
    const { j } = journal();
    j.append([note(1), note(2)], false);
    j.writeCheckpoint({}, { retired: 3, network: { kept: true } });
    expect(j.sinceCheckpoint).toBe(0);
    const log = (j as unknown as { log: MemoryLogStore }).log;
    expect(log.readCheckpoint()).toMatchObject({ seq: 2, offset: log.end, endpoints: {}, retired: 3, network: { kept: true } });
    j.writeCheckpoint({}, { retired: 0 });
    expect(log.readCheckpoint()).not.toHaveProperty('network');
  });

  it('a failed checkpoint write is typed but leaves the journal usable (the old checkpoint stays); a bug is thrown as it is', () => {
    const { j } = journal();
    j.append([note(1)], false);
    patch(j, {
      writeCheckpoint: () => {
        throw eio();
      },
    });
    expect(() => j.writeCheckpoint({}, { retired: 0 })).toThrow(expect.objectContaining({ name: 'StoreFailedError', errno: 'EIO', during: 'write' }));
    expect(j.failed).toBe(false);
    expect(j.sinceCheckpoint).toBe(1);
    patch(j, {
      writeCheckpoint: () => {
        throw new RangeError('bug');
      },
    });
    expect(() => j.writeCheckpoint({}, { retired: 0 })).toThrow(RangeError);
    expect(j.failed).toBe(false);
  });

  it('a failed log maintenance after the checkpoint fails the journal', () => {
    const { j } = journal();
    patch(j, {
      maintain: () => {
        throw eio();
      },
    });
    expect(() => j.writeCheckpoint({}, { retired: 0 })).toThrow(expect.objectContaining({ name: 'StoreFailedError', errno: 'EIO', during: 'write', message: "log write failed (EIO); run 'tapstate recover' once the cause is fixed" }));
    expect(j.failed).toBe(true);
  });

  it('maintenance keeps only what an endpoint still needs: it asks whether each checkpointed endpoint is settled', () => {
    const { j } = journal();
    let settled: ((e: never) => boolean) | undefined;
    patch(j, { maintain: (_cp: unknown, f: (e: never) => boolean) => void (settled = f) });
    j.writeCheckpoint({}, { retired: 0 });
    const ep = (value: unknown, pending: unknown) => ({ snapshot: { value, context: '{}', status: 'active' }, pending, lastSeq: 1 }) as never;
    expect(settled!(ep('hotAttached', null))).toBe(true);
    expect(settled!(ep({ teardown: 'unplug' }, null))).toBe(false);
    expect(settled!(ep('hotAttached', { k: 'intent' }))).toBe(false);
  });
});
