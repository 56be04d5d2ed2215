/**
 * Durable commits off the event loop: the file store's fdatasync runs on libuv's threadpool
 * (`syncAsync`), and write-ahead still holds — an effect never starts before its intent is durable.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryHypervisor, MemoryKernel } from '../../src/adapters/memory/index.js';
import { FileLogStore } from '../../src/log/file-store.js';
import { StoreFailedError } from '../../src/runtime/errors.js';
import { Tapstore } from '../../src/runtime/tapstore.js';
import { hotAttach, tempDir } from '../log/fixtures.js';

const NETNS = '/run/netns/sb-async';

/** An fdatasync the test lets through by hand (recording which bytes of the log it was asked for). */
function gatedSync() {
  const waiting: Array<{ fd: number; size: number; go: () => void; fail: (e: unknown) => void }> = [];
  const fdatasyncAsync = (fd: number) =>
    new Promise<void>((resolve, reject) => {
      waiting.push({ fd, size: fs.fstatSync(fd).size, go: () => (fs.fdatasyncSync(fd), resolve()), fail: reject });
    });
  return { fdatasyncAsync, waiting };
}
const turn = () => new Promise((r) => setImmediate(r));
const until = async (cond: () => boolean) => {
  for (let i = 0; i < 1000 && !cond(); i++) await turn();
  expect(cond()).toBe(true);
};

describe('LogStore.syncAsync (file store)', () => {
  let root: string;
  beforeEach(() => (root = tempDir('async-sync')));
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('covers what was written before it started: an append made while it runs needs another sync', async () => {
    const g = gatedSync();
    let syncs = 0;
    const s = FileLogStore.create(path.join(root, 's'), { a: 1 }, { fdatasyncAsync: g.fdatasyncAsync, fdatasync: (fd) => (syncs++, fs.fdatasyncSync(fd)) });
    s.append(hotAttach(1).slice(0, 2), false);
    const p = s.syncAsync();
    await until(() => g.waiting.length === 1);
    s.append(hotAttach(3).slice(0, 1), false);
    g.waiting[0]!.go();
    await p;
    expect(syncs).toBe(0);
    s.sync(); // the record appended meanwhile is not durable yet: a real datasync
    expect(syncs).toBe(1);
    s.sync(); // now nothing new
    expect(syncs).toBe(1);
    await s.syncAsync(); // nothing new: no sync at all
    expect(g.waiting).toHaveLength(1);
    s.close();
  });

  it('closing while a threadpool fdatasync is in flight keeps the fd open until it ends (its number is never reused under it)', async () => {
    const g = gatedSync();
    const s = FileLogStore.create(path.join(root, 's'), { a: 1 }, { fdatasyncAsync: g.fdatasyncAsync });
    s.append(hotAttach(1).slice(0, 1), false);
    const p = s.syncAsync();
    await until(() => g.waiting.length === 1);
    const fd = g.waiting[0]!.fd;
    s.close();
    expect(() => fs.fstatSync(fd)).not.toThrow(); // still ours
    g.waiting[0]!.go();
    await p;
    expect(() => fs.fstatSync(fd)).toThrow(/EBADF/); // closed once the sync ended
  });

  it('the default path (fs.fdatasync on the threadpool) syncs', async () => {
    const s = FileLogStore.create(path.join(root, 's'), { a: 1 });
    s.append(hotAttach(1), false);
    await s.syncAsync();
    s.close();
    expect(FileLogStore.open(path.join(root, 's'), { readOnly: true }).read().records).toHaveLength(hotAttach(1).length);
  });
});

describe('write-ahead with an asynchronous fdatasync', () => {
  let root: string;
  beforeEach(() => (root = tempDir('async-wal')));
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  function world(fdatasyncAsync: (fd: number) => Promise<void>) {
    const kernel = new MemoryKernel();
    kernel.addNetns(NETNS);
    const hypervisor = new MemoryHypervisor({ kernel });
    const calls: string[] = [];
    const netlink = new Proxy(kernel, {
      get: (t, p) => {
        const v = Reflect.get(t, p) as unknown;
        if (typeof v !== 'function') return v;
        return (...a: unknown[]) => (calls.push(String(p)), (v as (...x: unknown[]) => unknown).apply(t, a));
      },
    });
    const log = FileLogStore.create(path.join(root, 'store'), { sandbox: { netnsPath: NETNS, netnsCreated: true, vcpus: 1, vhost: false } }, { fdatasyncAsync });
    return { kernel, calls, open: () => Tapstore.open({ log, adapters: { netlink, hypervisor } }) };
  }

  it('no effect starts before the intent is durable; the event loop turns meanwhile; concurrent commands share the sync', async () => {
    const g = gatedSync();
    const w = world(g.fdatasyncAsync);
    const store = await w.open();
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    store.createEndpoint({ idx: 1, mac: '02:00:00:00:00:02' });
    w.calls.length = 0;
    const ops = [store.hotAttach('ep0'), store.hotAttach('ep1')];
    await until(() => g.waiting.length === 1);
    for (let i = 0; i < 20; i++) await turn(); // the loop turns while the sync is held
    expect(w.calls).toEqual([]); // nothing ran: the intents are not durable yet
    const text = fs.readFileSync(path.join(root, 'store', 'log.jsonl'), 'utf8');
    expect(text.match(/"k":"intent"/g)).toHaveLength(2); // both intents written, in one sync's reach
    expect(g.waiting[0]!.size).toBe(Buffer.byteLength(text));
    g.waiting[0]!.go();
    await until(() => w.calls.includes('createTap'));
    for (const x of g.waiting.slice(1)) x.go();
    await Promise.all(ops);
    expect(g.waiting).toHaveLength(1); // one fdatasync for both commands
    expect(store.list().map((v) => v.state)).toEqual(['hotAttached', 'hotAttached']);
    await store.close();
  });

  it('a failed asynchronous fdatasync fails the command with StoreFailedError (fsync), nothing runs, and the store refuses more', async () => {
    const eio = () => Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    const w = world(async () => {
      throw eio();
    });
    const store = await w.open();
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    w.calls.length = 0;
    const e = await store.hotAttach('ep0').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(StoreFailedError);
    expect(e).toMatchObject({ errno: 'EIO', during: 'fsync' });
    expect(w.calls).toEqual([]);
    await expect(store.hotAttach('ep0')).rejects.toBeInstanceOf(Error);
    await store.close();
  });
});
