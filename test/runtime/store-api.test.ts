/**
 * The store's command surface as a library caller uses it: what createEndpoint fills in from the
 * sandbox, which inputs it refuses (typed, nothing logged), what a closed store does, what the
 * views say, checkpoints, and recovery on request.
 */
import { describe, expect, it } from 'vitest';
import { EndpointInputError, type EndpointInput } from '../../machines/index.js';
import type { LogRecord } from '../../src/log/records.js';
import { createFromInput, stampOf } from '../../src/runtime/replay.js';
import { SimulatedCrash } from '../../src/adapters/faults.js';
import { MemoryLogStore } from '../../src/log/index.js';
import {
  DuplicateEndpointError,
  EndpointOperationError,
  InDoubtError,
  InvalidCommandError,
  NetnsMismatchError,
  StoreClosedError,
  StoreFailedError,
  UnknownEndpointError,
} from '../../src/runtime/errors.js';
import { Tapstore } from '../../src/runtime/tapstore.js';
import { StoreOptionError } from '../../src/runtime/store-options.js';
import { memoryWorld, NETNS } from '../support/memory-world.js';

const recordCount = (w: ReturnType<typeof memoryWorld>) => MemoryLogStore.open(w.medium, { readOnly: true }).read().records.length;

describe('createEndpoint', () => {
  it('fills in the sandbox: its netns, netnsCreated, vCPUs as queues, vhost; the id ep<idx>', async () => {
    const w = memoryWorld({ vcpus: 3, netnsCreated: false });
    const store = await w.open();
    const v = store.createEndpoint({ idx: 2, mac: '02:00:00:00:00:02' });
    expect(v).toMatchObject({ id: 'ep2', idx: 2, state: 'created', status: 'settled', netnsPath: NETNS, queues: 3, tapName: 'tap2_kata', name: 'eth2', mac: '02:00:00:00:00:02', pendingEffect: null });
    const c = store.snapshotOf('ep2').context;
    expect(c).toMatchObject({ netnsCreated: false, vhost: false });
    // the record carries the full input (replay needs nothing else)
    const create = MemoryLogStore.open(w.medium, { readOnly: true }).read().records[0]!.record;
    expect(create).toMatchObject({ k: 'create', ep: 'ep2', input: { netnsPath: NETNS, netnsCreated: false, vcpus: 3, vhost: false, idx: 2, id: 'ep2' } });
    expect(v.lastSeq).toBe(create.seq);
    await store.close();
  });

  it('a sandbox without multi-queue: queues 0; an explicit id and the same netns are accepted', async () => {
    const w = memoryWorld({ multiQueue: false });
    const store = await w.open();
    expect(store.createEndpoint({ idx: 0, id: 'web', mac: '02:00:00:00:00:01', netnsPath: NETNS })).toMatchObject({ id: 'web', queues: 0 });
    await store.close();
  });

  it('another endpoint of the same idx gets ep<idx>-2, ep<idx>-3 … once the first is detached', async () => {
    const w = memoryWorld();
    const store = await w.open();
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01', id: 'ep0-2' });
    expect(() => store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:09' })).toThrow(expect.objectContaining({ field: 'idx', holder: 'ep0-2' }));
    await store.detach('ep0-2');
    expect(store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' }).id).toBe('ep0');
    await store.detach('ep0');
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01', id: 'ep0' });
    await store.close();
    const s2 = await w.open();
    await s2.detach('ep0');
    // ep0 retired: free again
    expect(s2.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' }).id).toBe('ep0');
    await s2.close();
  });

  it('refuses another netns, naming both (nothing logged)', async () => {
    const w = memoryWorld();
    const store = await w.open();
    const before = recordCount(w);
    const e = (() => {
      try {
        store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01', netnsPath: '/run/netns/other' });
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(NetnsMismatchError);
    expect(e).toMatchObject({ field: 'netnsPath', given: '/run/netns/other', storeNetns: NETNS });
    expect(() => store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01', netnsPath: '' })).toThrow(NetnsMismatchError);
    expect(recordCount(w)).toBe(before);
    expect(store.list()).toEqual([]);
    await store.close();
  });

  it('refuses bad input with EndpointInputError naming the field (nothing logged)', async () => {
    const w = memoryWorld();
    const store = await w.open();
    const before = recordCount(w);
    expect(() => store.createEndpoint({ idx: 0, mac: '01:00:5e:00:00:01' })).toThrow(expect.objectContaining({ name: 'EndpointInputError', field: 'mac' }));
    expect(() => store.createEndpoint({ idx: -1, mac: '02:00:00:00:00:01' })).toThrow(EndpointInputError);
    expect(recordCount(w)).toBe(before);
    await store.close();
  });

  it('refuses input of the wrong type with EndpointInputError naming the field and the rule, never a TypeError (nothing logged)', async () => {
    const w = memoryWorld();
    const store = await w.open();
    const before = recordCount(w);
    for (const input of [undefined, null, 'ep0', 7])
      expect(() => store.createEndpoint(input as never)).toThrow(expect.objectContaining({ name: 'EndpointInputError', field: 'input', rule: 'object' }));
    const bad: Array<[Record<string, unknown>, string, string]> = [
      [{ mac: 5 }, 'mac', 'string'],
      [{ mac: { toString: () => '02:00:00:00:00:01' } }, 'mac', 'string'],
      [{ hwAddr: 5 }, 'hwAddr', 'string'],
      [{ vhost: 'yes' }, 'vhost', 'boolean'],
      [{ vhost: 1 }, 'vhost', 'boolean'],
      [{ fromPersist: 'yes' }, 'fromPersist', 'boolean'], // was: accepted, an empty MAC then let through
    ];
    for (const [extra, field, rule] of bad)
      expect(() => store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01', ...extra } as never)).toThrow(expect.objectContaining({ name: 'EndpointInputError', field, rule }));
    expect(recordCount(w)).toBe(before);
    expect(store.list()).toEqual([]);
    // a frozen input is fine (nothing is written into it)
    expect(store.createEndpoint(Object.freeze({ idx: 0, mac: '02:00:00:00:00:01', vhost: false })).id).toBe('ep0');
    await store.close();
  });

  it('refuses an unknown field (a typo) with EndpointInputError naming it and the rule, as the daemon does (was: ignored, the default used; nothing logged)', async () => {
    const w = memoryWorld();
    const store = await w.open();
    const before = recordCount(w);
    for (const [extra, field] of [
      [{ mtus: 9000 }, 'mtus'],
      [{ ifname: 'eth7' }, 'ifname'],
      [{ macAddress: '02:00:00:00:00:09' }, 'macAddress'],
      [{ mtu: 1400, queues: 4 }, 'queues'],
      [{ undefinedButThere: undefined }, 'undefinedButThere'],
    ] as const) {
      let err: unknown;
      try {
        store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01', ...extra } as never);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(EndpointInputError);
      expect(err).toMatchObject({ code: 'ENDPOINT_INPUT_INVALID', field, rule: 'unknown' });
      expect((err as Error).message).toBe(
        `unknown field "${field}" of the endpoint input (known: id, idx, tapName, ifName, hwAddr, mac, mtu, netnsPath, netnsCreated, vcpus, multiQueue, vhost, model, fromPersist)`,
      );
    }
    expect(recordCount(w)).toBe(before);
    expect(store.list()).toEqual([]);
    // every field the input type has is still accepted
    const all = { id: 'x', idx: 1, tapName: 'tapx', ifName: 'eth1', hwAddr: '', mac: '02:00:00:00:00:02', mtu: 1400, netnsPath: NETNS, netnsCreated: true, vcpus: 2, multiQueue: true, vhost: false, model: 'tcfilter', fromPersist: false } as const;
    expect(store.createEndpoint(all).id).toBe('x');
    await store.close();
  });

  it('refuses a second live endpoint with the same id, idx, MAC or original link, naming the holder', async () => {
    const w = memoryWorld();
    const store = await w.open();
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    const dup = (input: Parameters<Tapstore['createEndpoint']>[0], field: string, value: unknown, holder?: string) => {
      let err: unknown;
      try {
        store.createEndpoint(input);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DuplicateEndpointError);
      expect(err).toMatchObject({ field, value, ...(holder ? { holder } : {}) });
    };
    dup({ idx: 5, id: 'ep0', mac: '02:00:00:00:00:05' }, 'id', 'ep0');
    dup({ idx: 0, id: 'x', mac: '02:00:00:00:00:05', ifName: 'eth9' }, 'idx', 0, 'ep0');
    dup({ idx: 5, mac: '02:00:00:00:00:01' }, 'mac', '02:00:00:00:00:01', 'ep0');
    dup({ idx: 5, mac: '02:00:00:00:00:05', ifName: 'eth0' }, 'ifName', 'eth0', 'ep0');
    expect(store.list().map((v) => v.id)).toEqual(['ep0']);
    // all distinct: accepted
    expect(store.createEndpoint({ idx: 5, mac: '02:00:00:00:00:05' }).id).toBe('ep5');
    await store.close();
  });

  it('a log from before MACs had to be unique (two live endpoints sharing one) opens and still takes new endpoints', async () => {
    const w = memoryWorld();
    const s1 = await w.open();
    s1.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    await s1.close();
    // what an older tapstate wrote: a second endpoint with ep0's MAC
    const log = MemoryLogStore.open(w.medium);
    const recs = log.read().records.map((r) => r.record);
    const ep0 = recs.find((r) => r.k === 'create')! as LogRecord & { k: 'create' };
    const input = { ...(ep0.input as EndpointInput), id: 'ep1', idx: 1, ifName: 'eth1' };
    log.append([{ k: 'create', ep: 'ep1', input, state: stampOf(createFromInput(input)), seq: recs[recs.length - 1]!.seq + 1, ts: 0 }], true);
    log.close();
    const s2 = await w.open();
    expect(s2.list().map((v) => [v.id, v.mac])).toEqual([
      ['ep0', '02:00:00:00:00:01'],
      ['ep1', '02:00:00:00:00:01'],
    ]);
    expect(s2.createEndpoint({ idx: 2, mac: '02:00:00:00:00:03' }).id).toBe('ep2');
    expect(() => s2.createEndpoint({ idx: 3, mac: '02:00:00:00:00:01' })).toThrow(DuplicateEndpointError);
    await s2.close();
  });
});

describe('commands', () => {
  it('an unknown command type is refused before anything else, naming it', async () => {
    const w = memoryWorld();
    const store = await w.open();
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    const before = recordCount(w);
    await expect(store.send('ep0', { type: 'REBOOT' } as never)).rejects.toMatchObject({ name: 'InvalidCommandError', command: 'REBOOT', state: '?' });
    await expect(store.send('nope', { type: 'REBOOT' } as never)).rejects.toBeInstanceOf(InvalidCommandError);
    await expect(store.send('nope', { type: 'DETACH' })).rejects.toBeInstanceOf(UnknownEndpointError);
    await expect(store.cleanup('ep0')).rejects.toMatchObject({ command: 'CLEANUP', state: 'created' });
    // not a command object at all: the same typed refusal, never a TypeError
    for (const command of [null, undefined, 'HOT_ATTACH', 5, {}, { type: 5 }])
      await expect(store.send('ep0', command as never)).rejects.toMatchObject({ name: 'InvalidCommandError', endpoint: 'ep0', state: '?' });
    expect(recordCount(w)).toBe(before);
    await store.close();
  });

  it('a failed operation rejects with upstream\'s message and where it settled; a DETACH that ends detached resolves', async () => {
    const w = memoryWorld();
    const store = await w.open();
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    w.hypervisor.kill();
    const e = await store.hotAttach('ep0').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(EndpointOperationError);
    expect(e).toMatchObject({ endpoint: 'ep0', op: 'hotAttach', step: 'hotplug', state: 'created' });
    expect(store.get('ep0')).toMatchObject({ state: 'created', error: { step: 'hotplug' }, progress: { tap: false, plugged: false } });
    expect(await store.detach('ep0')).toMatchObject({ state: 'detached', error: null });
    await store.close();
  });

  it('attach returns the VMM arguments; adopt and the other shortcuts send their command', async () => {
    const w = memoryWorld();
    const store = await w.open();
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    const v = await store.attach('ep0');
    expect(v.state).toBe('attached');
    expect(v.coldplugArgs[0]).toBe('-netdev');
    expect(v.hardAddr).toBe('02:aa:bb:cc:dd:01');
    expect((await store.detach('ep0')).state).toBe('detached');
    store.createEndpoint({ idx: 1, mac: '02:00:00:00:00:02' });
    expect((await store.adopt('ep1')).state).toBe('hotAttached');
    expect(w.hypervisor.commands()).toEqual([]);
    expect((await store.hotDetach('ep1')).state).toBe('detached');
    await store.close();
  });

  it('save refuses a shape other than v1 / v2 with PersistFormatError naming it (was: silently 2.x)', async () => {
    const w = memoryWorld();
    const store = await w.open();
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    for (const shape of ['v3', 'V1', null, 5, {}])
      expect(() => store.save(shape as never)).toThrow(expect.objectContaining({ name: 'PersistFormatError', field: 'shape', rule: 'known' }));
    expect(store.save('v2')).toHaveProperty('NetworkID', NETNS);
    expect(store.save()).toHaveProperty('NetNsPath', NETNS);
    await store.close();
  });

  it('views are copies: changing one changes nothing in the store', async () => {
    const w = memoryWorld();
    const store = await w.open();
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    const v = await store.attach('ep0');
    v.progress.tap = false;
    v.coldplugArgs.length = 0;
    v.warnings.push('x');
    expect(store.get('ep0')).toMatchObject({ progress: { tap: true }, warnings: [] });
    expect(store.get('ep0').coldplugArgs.length).toBeGreaterThan(0);
    await store.close();
  });
});

describe('a closed store', () => {
  it('refuses everything with StoreClosedError; close twice is fine; onClose runs once', async () => {
    const w = memoryWorld();
    let closes = 0;
    const store = await w.open({ onClose: () => void closes++ });
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    await store.close();
    await store.close();
    expect(closes).toBe(1);
    expect(() => store.createEndpoint({ idx: 1, mac: '02:00:00:00:00:02' })).toThrow(StoreClosedError);
    await expect(store.hotAttach('ep0')).rejects.toBeInstanceOf(StoreClosedError);
    await expect(store.load({ NetNsPath: NETNS, Endpoints: [] })).rejects.toBeInstanceOf(StoreClosedError);
    // a checkpoint after close writes nothing
    const before = MemoryLogStore.open(w.medium, { readOnly: true }).readCheckpoint();
    store.checkpoint();
    expect(MemoryLogStore.open(w.medium, { readOnly: true }).readCheckpoint()).toEqual(before);
    // the adapters given to Tapstore.open stay the caller's
    expect(w.kernel.closeCount()).toBe(0);
    expect(w.hypervisor.isClosed()).toBe(false);
  });

  it('close closes the log it was given, also once the log failed (its file descriptors are released); `log` is that log', async () => {
    for (const failed of [false, true]) {
      const w = memoryWorld();
      const log = MemoryLogStore.create(w.medium, { sandbox: w.sandbox });
      let closes = 0;
      const close = log.close.bind(log);
      log.close = () => {
        closes++;
        close();
      };
      const store = await Tapstore.open({ log, adapters: { netlink: w.kernel, hypervisor: w.hypervisor } });
      expect(store.log).toBe(log);
      if (failed) {
        w.medium.failNextWrite = { afterBytes: 0, error: Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' }) };
        expect(() => store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' })).toThrow(StoreFailedError);
      }
      await store.close();
      expect({ failed, closes }).toEqual({ failed, closes: 1 });
    }
  });

  it('once close is called: every new call is refused with StoreClosedError while the running command finishes; a second close shares the first (onClose once)', async () => {
    const w = memoryWorld();
    let closes = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    // the hot-plug of ep0 waits until the test lets it go: close() is called meanwhile
    const hotplug = w.hypervisor.hotplug.bind(w.hypervisor);
    w.hypervisor.hotplug = async (...args) => {
      await gate;
      return hotplug(...args);
    };
    const store = await w.open({ onClose: () => void closes++ });
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    store.createEndpoint({ idx: 1, mac: '02:00:00:00:00:02' });
    const running = store.hotAttach('ep0');
    const c1 = store.close();
    const c2 = store.close();
    expect(() => store.createEndpoint({ idx: 2, mac: '02:00:00:00:00:03' })).toThrow(StoreClosedError);
    await expect(store.hotAttach('ep1')).rejects.toBeInstanceOf(StoreClosedError);
    await expect(store.load({ NetNsPath: NETNS, Endpoints: [] })).rejects.toBeInstanceOf(StoreClosedError);
    await expect(store.recover()).rejects.toBeInstanceOf(StoreClosedError);
    release();
    await Promise.all([c1, c2]);
    await store.close();
    expect(closes).toBe(1);
    expect((await running).state).toBe('hotAttached');
    expect(store.get('ep1').state).toBe('created');
    await expect(store.recover()).rejects.toBeInstanceOf(StoreClosedError);
    // the log is whole: a new store replays both endpoints as they were
    const again = await w.open();
    expect(again.list().map((v) => [v.id, v.state])).toEqual([
      ['ep0', 'hotAttached'],
      ['ep1', 'created'],
    ]);
    await again.close();
  });

  it('close waits for the running command', async () => {
    const w = memoryWorld();
    const store = await w.open();
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    const p = store.hotAttach('ep0');
    expect(store.get('ep0').status).toBe('busy');
    await store.close();
    expect((await p).state).toBe('hotAttached');
  });
});

describe('a read-only store', () => {
  it('refuses every write with LogStoreClosedError (read-only) and stays usable: it is not failed (was: a StoreFailedError telling to run recover, from then on)', async () => {
    const w = memoryWorld();
    const writer = await w.open();
    writer.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    await writer.close();
    const reader = await Tapstore.open({ log: MemoryLogStore.open(w.medium, { readOnly: true }), adapters: { netlink: w.kernel, hypervisor: w.hypervisor }, recover: false });
    const readOnly = { name: 'LogStoreClosedError', code: 'LOG_STORE_CLOSED', why: 'read-only' };
    await expect(reader.load({ NetNsPath: NETNS, Endpoints: [] })).rejects.toMatchObject(readOnly);
    expect(() => reader.createEndpoint({ idx: 1, mac: '02:00:00:00:00:02' })).toThrow(expect.objectContaining(readOnly));
    await expect(reader.attach('ep0')).rejects.toMatchObject(readOnly);
    expect(() => reader.createEndpoint({ idx: 1, mac: '02:00:00:00:00:02' })).toThrow(expect.objectContaining(readOnly));
    expect(reader.get('ep0').state).toBe('created');
    await reader.close();
    // nothing was written: the writer reopens to the same state, and its next record follows the last one
    const again = await w.open();
    expect(again.list().map((v) => [v.id, v.state])).toEqual([['ep0', 'created']]);
    again.createEndpoint({ idx: 1, mac: '02:00:00:00:00:02' });
    await again.close();
  });
});

describe('checkpoints', () => {
  it('checkpoint() now: the next open starts from it and replays only the tail', async () => {
    const w = memoryWorld();
    const store = await w.open();
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    await store.hotAttach('ep0');
    store.checkpoint();
    store.createEndpoint({ idx: 1, mac: '02:00:00:00:00:02' });
    await store.close();
    const again = await w.open();
    expect(again.recovery).toMatchObject({ fromCheckpoint: true, replayed: 1, torn: null, endpoints: [] });
    expect(again.list().map((v) => [v.id, v.state])).toEqual([
      ['ep0', 'hotAttached'],
      ['ep1', 'created'],
    ]);
    await again.close();
  });

  it('checkpointEvery: a checkpoint once that many records were written', async () => {
    const w = memoryWorld();
    const store = await w.open({ checkpointEvery: 3 });
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    expect(MemoryLogStore.open(w.medium, { readOnly: true }).readCheckpoint()).toBeNull();
    await store.hotAttach('ep0');
    const cp = MemoryLogStore.open(w.medium, { readOnly: true }).readCheckpoint();
    expect(cp?.endpoints).toHaveProperty('ep0');
    await store.close();
  });
});

describe('recovery on request', () => {
  it('recover: false opens without recovering (commands refused: in doubt); recover() then settles it, reporting progress', async () => {
    const w = memoryWorld();
    const s1 = await w.open({ faults: (c) => (c.method === 'setUp' ? 'crash-after' : 'ok') });
    s1.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    s1.createEndpoint({ idx: 1, mac: '02:00:00:00:00:02' });
    await expect(s1.hotAttach('ep0')).rejects.toBeInstanceOf(SimulatedCrash);
    w.crash();
    const s2 = await w.open({ recover: false });
    expect(s2.recovery.endpoints).toEqual([]);
    expect(s2.get('ep0')).toMatchObject({ state: 'hotAttach.setUp', status: 'in-doubt', pendingEffect: { id: 'hotAttach.setUp', src: 'netlink.setUp' } });
    await expect(s2.hotDetach('ep0')).rejects.toBeInstanceOf(InDoubtError);
    const progress: Array<[number, number]> = [];
    await s2.close();
    const s3 = await w.open({ recover: false, onRecoveryProgress: (d, t) => progress.push([d, t]), recoveryConcurrency: 1 });
    const report = await s3.recover();
    expect(report).toMatchObject([{ id: 'ep0', effect: 'hotAttach.setUp', ran: true, action: 'rolled-back', finalState: 'created' }]);
    expect(progress).toEqual([[1, 1]]);
    expect(w.taps()).toEqual([]);
    expect(s3.get('ep0')).toMatchObject({ state: 'created', status: 'settled' });
    // nothing left to do
    expect(await s3.recover()).toEqual([]);
    await s3.close();
  });
});

describe('durability and failures', () => {
  const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

  it('createEndpoint writes its record without an fdatasync: the first command makes it durable with its first intent', async () => {
    const w = memoryWorld();
    const store = await w.open();
    const before = w.medium.datasyncs;
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    expect(w.medium.datasyncs).toBe(before);
    await store.hotAttach('ep0');
    expect(w.medium.datasyncs).toBeGreaterThan(before);
    await store.close();
  });

  it('a log write failure while queue fds are held: the fds are still ours and close() closes them', async () => {
    const w = memoryWorld();
    const store = await w.open({
      faults: (c) => {
        if (c.method === 'createTap') w.medium.failNextWrite = { afterBytes: 0, error: enospc() };
        return 'ok';
      },
    });
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    await expect(store.hotAttach('ep0')).rejects.toMatchObject({ name: 'StoreFailedError', errno: 'ENOSPC' });
    expect(store.heldFds).toBe(2);
    await store.close(); // resolves: nothing more is written to the failed log
    expect(store.heldFds).toBe(0);
    expect(w.kernel.openFdCount('self')).toBe(0);
  });

  it('a write failure whose cut-back failed too (the log closed itself): close still resolves and runs onClose', async () => {
    const w = memoryWorld();
    let onClose = 0;
    const store = await w.open({ onClose: () => void onClose++ });
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    const truncate = w.medium._truncate.bind(w.medium);
    w.medium._truncate = () => {
      w.medium._truncate = truncate;
      throw Object.assign(new Error('EIO: i/o error, ftruncate'), { code: 'EIO' });
    };
    w.medium.failNextWrite = { afterBytes: 7, error: enospc() };
    expect(() => store.createEndpoint({ idx: 1, mac: '02:00:00:00:00:02' })).toThrow(StoreFailedError);
    await store.close();
    expect(onClose).toBe(1);
  });

  it('a crash while queue fds are held: they died with the process (the store holds none)', async () => {
    const w = memoryWorld();
    const store = await w.open({ faults: (c) => (c.method === 'setMtu' ? 'crash-before' : 'ok') });
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    await expect(store.hotAttach('ep0')).rejects.toBeInstanceOf(SimulatedCrash);
    expect(store.heldFds).toBe(0);
  });

  it('close writes a checkpoint when one is due', async () => {
    const w = memoryWorld();
    const store = await w.open({ checkpointEvery: 1 });
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    expect(MemoryLogStore.open(w.medium, { readOnly: true }).readCheckpoint()).toBeNull();
    await store.close();
    expect(MemoryLogStore.open(w.medium, { readOnly: true }).readCheckpoint()?.endpoints).toHaveProperty('ep0');
  });

  it('a teardown that removed everything despite a failed step resolves detached, reporting the failure', async () => {
    const w = memoryWorld();
    const store = await w.open({
      faults: (c) => (c.method === 'setUp' && (c.args as unknown[])[2] === false ? { fail: new Error('setUp refused') } : 'ok'),
    });
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    await store.hotAttach('ep0');
    const v = await store.hotDetach('ep0');
    expect(v).toMatchObject({ state: 'detached', error: { step: 'setDown', message: 'Could not disable TAP tap0_kata: setUp refused' }, warnings: ['Could not disable TAP tap0_kata: setUp refused'] });
    expect(w.taps()).toEqual([]);
    await store.close();
  });

  it('an id ep<idx> held by another idx: the default id moves on', async () => {
    const w = memoryWorld();
    const store = await w.open();
    store.createEndpoint({ idx: 5, id: 'ep0', mac: '02:00:00:00:00:05' });
    expect(store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' }).id).toBe('ep0-2');
    await store.close();
  });
});

describe('opening', () => {
  it('bad options are refused with StoreOptionError naming the option, before the log is read (a NaN recoveryConcurrency skipped recovery)', async () => {
    const w = memoryWorld();
    const s1 = await w.open({ faults: (c) => (c.method === 'setUp' ? 'crash-after' : 'ok') });
    s1.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    await s1.hotAttach('ep0').catch(() => {});
    w.crash();
    const bad: Array<[Record<string, unknown>, string, string]> = [
      [{ recoveryConcurrency: NaN }, 'recoveryConcurrency', 'range'],
      [{ recoveryConcurrency: 0 }, 'recoveryConcurrency', 'range'],
      [{ recoveryConcurrency: 1.5 }, 'recoveryConcurrency', 'range'],
      [{ recoveryConcurrency: '2' }, 'recoveryConcurrency', 'range'],
      [{ checkpointEvery: NaN }, 'checkpointEvery', 'range'],
      [{ checkpointEvery: -1 }, 'checkpointEvery', 'range'],
      [{ durability: 'always' }, 'durability', 'enum'],
      [{ verify: 'yes' }, 'verify', 'boolean'],
      [{ recover: 0 }, 'recover', 'boolean'],
      [{ clock: 5 }, 'clock', 'function'],
      [{ onRecoveryProgress: 'x' }, 'onRecoveryProgress', 'function'],
      [{ recoverConcurrency: 1 }, 'recoverConcurrency', 'unknown'], // a typo: was ignored
    ];
    const before = recordCount(w);
    for (const [opts, field, rule] of bad) await expect(w.open(opts as never)).rejects.toMatchObject({ name: 'StoreOptionError', code: 'STORE_OPTION', field, rule });
    await expect(Tapstore.open(null as never)).rejects.toMatchObject({ name: 'StoreOptionError', field: 'options' });
    await expect(Tapstore.open({ log: null, adapters: {} } as never)).rejects.toMatchObject({ name: 'StoreOptionError', field: 'log', rule: 'object' });
    await expect(Tapstore.open({ log: MemoryLogStore.open(w.medium, { readOnly: true }), adapters: undefined } as never)).rejects.toMatchObject({ name: 'StoreOptionError', field: 'adapters', rule: 'object' });
    expect(recordCount(w)).toBe(before);
    // good options: the interrupted attach is recovered
    const s2 = await w.open({ recoveryConcurrency: 1, checkpointEvery: 10, durability: 'effect' });
    expect(s2.recovery.endpoints.map((r) => [r.id, r.action])).toEqual([['ep0', 'rolled-back']]);
    expect(s2.get('ep0').state).toBe('created');
    await s2.close();
  });

  it('adapters missing methods are refused with StoreOptionError naming the side and the methods, before the log is read; replay only may leave a side null', async () => {
    const w = memoryWorld();
    const s1 = await w.open({ faults: (c) => (c.method === 'setUp' ? 'crash-after' : 'ok') });
    s1.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    await s1.hotAttach('ep0').catch(() => {});
    w.crash();
    const before = recordCount(w);
    const hidden = (o: object, m: string) => new Proxy(o, { get: (t, p) => (p === m ? undefined : Reflect.get(t, p)) });
    const bad: Array<[unknown, string, string, RegExp]> = [
      [{}, 'adapters.netlink', 'object', /must be a NetlinkAdapter object \(got undefined\)$/],
      [{ netlink: w.kernel, hypervisor: {} }, 'adapters.hypervisor', 'methods', /missing hotplug\(\), hotunplug\(\), coldplug\(\), probeDevice\(\), probeNetdev\(\), alive\(\), close\(\)$/],
      [{ netlink: hidden(w.kernel, 'closeFds'), hypervisor: w.hypervisor }, 'adapters.netlink', 'methods', /^adapters\.netlink: must implement NetlinkAdapter: missing closeFds\(\)$/],
      [{ netlink: null, hypervisor: w.hypervisor }, 'adapters.netlink', 'object', /got null/], // null only in a replay-only open
    ];
    for (const [adapters, field, rule, message] of bad) {
      const e = await Tapstore.open({ log: MemoryLogStore.open(w.medium), adapters } as never).catch((err: unknown) => err);
      expect(e).toBeInstanceOf(StoreOptionError);
      expect(e).toMatchObject({ code: 'STORE_OPTION', field, rule });
      expect((e as Error).message).toMatch(message);
    }
    expect(recordCount(w)).toBe(before); // (was: a TypeError in recovery, journaled as a failed rollback)
    // replay only: a null side is accepted (an adapter refusing every call)
    const replay = await Tapstore.open({ log: MemoryLogStore.open(w.medium, { readOnly: true }), adapters: { netlink: null as never, hypervisor: null as never }, recover: false });
    expect(replay.get('ep0').status).toBe('in-doubt');
    await replay.close();
    const s2 = await w.open();
    expect(s2.get('ep0').state).toBe('created');
    await s2.close();
  });

  it('verify: replays the whole history, not from the checkpoint', async () => {
    const w = memoryWorld();
    const store = await w.open();
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    await store.hotAttach('ep0');
    store.checkpoint();
    await store.close();
    const fast = await w.open();
    expect(fast.recovery.fromCheckpoint).toBe(true);
    await fast.close();
    const verified = await w.open({ verify: true });
    expect(verified.recovery.fromCheckpoint).toBe(false);
    // the whole history: every record, not only the tail after the checkpoint
    expect(verified.recovery.replayed).toBe([...MemoryLogStore.open(w.medium, { readOnly: true }).history().records].length);
    expect(verified.recovery.replayed).toBeGreaterThan(fast.recovery.replayed);
    expect(verified.get('ep0').state).toBe('hotAttached');
    await verified.close();
  });

  it('inspect: the endpoints found in the log are mirrored to the observer too', async () => {
    const w = memoryWorld();
    const s1 = await w.open();
    s1.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    await s1.close();
    const seen: string[] = [];
    const s2 = await w.open({ inspect: (e) => void (e.type === '@xstate.actor' && seen.push((e.actorRef as unknown as { id: string }).id)) });
    expect(seen).toContain('ep0');
    await s2.close();
  });
});

describe('load', () => {
  const doc = (idx: number) => ({
    NetNsPath: NETNS,
    NetmonPID: 0,
    NetNsCreated: true,
    Endpoints: [{ Type: 'tuntap', Tuntap: { TuntapInterface: { Name: `eth${idx}`, TAPIface: { Name: `tap${idx}_kata`, HardAddr: `02:00:00:00:00:0${idx}`, Addrs: null } } } }],
  });

  it('refuses an endpoint whose idx a live endpoint has (nothing changed); a detached one frees it', async () => {
    const w = memoryWorld();
    const store = await w.open();
    store.createEndpoint({ idx: 1, mac: '02:00:00:00:00:09', ifName: 'eth9' });
    const before = recordCount(w);
    await expect(store.load(doc(1))).rejects.toMatchObject({ name: 'DuplicateEndpointError', field: 'idx', value: 1 });
    expect(recordCount(w)).toBe(before);
    await store.detach('ep1');
    const r = await store.load(doc(1));
    expect(r.endpoints.map((e) => [e.id, e.state])).toEqual([['ep1', 'created']]);
    await store.close();
  });

  it('a loaded endpoint takes the next free id when ep<idx> is held by another idx', async () => {
    const w = memoryWorld();
    const store = await w.open();
    store.createEndpoint({ idx: 7, id: 'ep2', mac: '02:00:00:00:00:07' });
    const r = await store.load(doc(2));
    expect(r.endpoints.map((e) => e.id)).toEqual(['ep2-2']);
    await store.close();
  });

  it('a document reusing a live idx is refused before the netns is probed, whatever the probes would say', async () => {
    const w = memoryWorld();
    const store = await w.open({ faults: (c) => (c.method === 'probeLink' || c.method === 'netnsExists' ? { fail: new Error('netns unreachable') } : 'ok') });
    store.createEndpoint({ idx: 1, mac: '02:00:00:00:00:09', ifName: 'eth9' });
    const before = recordCount(w);
    await expect(store.load(doc(1))).rejects.toMatchObject({ name: 'DuplicateEndpointError', field: 'idx', value: 1 });
    expect(recordCount(w)).toBe(before);
    await store.close();
  });

  it('the log failed as an endpoint finished detaching: reusing its idx reports the failure, not a duplicate (it holds nothing)', async () => {
    const w = memoryWorld();
    let arm = false;
    const eio = () => Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
    const store = await w.open({
      hook: (r) => {
        if (arm && r.k === 'snapshot') w.medium.failNextWrite = { afterBytes: 0, error: eio() };
        return 'ok';
      },
    });
    store.createEndpoint({ idx: 1, mac: '02:00:00:00:00:01' });
    await store.hotAttach('ep1');
    arm = true;
    await expect(store.hotDetach('ep1')).rejects.toMatchObject({ name: 'StoreFailedError', errno: 'EIO' });
    expect(store.get('ep1').state).toBe('detached');
    expect(() => store.createEndpoint({ idx: 1, mac: '02:00:00:00:00:01' })).toThrow(StoreFailedError);
    await expect(store.load(doc(1))).rejects.toBeInstanceOf(StoreFailedError);
    await store.close();
  });

  it('a load is durable when it returns, with one fdatasync, whether its endpoints were never attached or adopted', async () => {
    for (const tapExists of [false, true]) {
      const w = memoryWorld();
      const store = await w.open();
      if (tapExists) w.kernel.addLink(NETNS, 'tap3_kata', { kind: 'tun', tunMode: 'tap' });
      const before = w.medium.datasyncs;
      const r = await store.load(doc(3));
      expect(r.endpoints.map((e) => e.state)).toEqual([tapExists ? 'hotAttached' : 'created']);
      expect({ tapExists, synced: w.medium.syncedLength, fdatasyncs: w.medium.datasyncs - before }).toEqual({ tapExists, synced: w.medium.log.length, fdatasyncs: 1 });
      await store.close();
      w.medium.powerLoss();
      const again = await w.open();
      expect(again.list().map((v) => [v.id, v.state])).toEqual([['ep3', tapExists ? 'hotAttached' : 'created']]);
      await again.close();
    }
  });

  it('adopt is durable when it returns (it runs no effect whose intent would have synced it)', async () => {
    const w = memoryWorld();
    const store = await w.open();
    w.kernel.addLink(NETNS, 'tap0_kata', { kind: 'tun', tunMode: 'tap' });
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    const before = w.medium.datasyncs;
    expect((await store.adopt('ep0')).state).toBe('hotAttached');
    expect({ synced: w.medium.syncedLength, fdatasyncs: w.medium.datasyncs - before }).toEqual({ synced: w.medium.log.length, fdatasyncs: 1 });
    w.medium.powerLoss();
    w.crash();
    const again = await w.open();
    expect(again.get('ep0').state).toBe('hotAttached');
    await again.close();
  });

  it('a load of endpoints never attached is durable when it returns', async () => {
    const w = memoryWorld();
    const store = await w.open();
    const before = w.medium.datasyncs;
    await store.load(doc(3));
    expect(w.medium.datasyncs).toBeGreaterThan(before);
    expect(w.medium.syncedLength).toBe(w.medium.log.length);
    await store.close();
  });
});
