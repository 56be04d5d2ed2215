/** openStore: the lock, the typed sandbox config, owned adapters, read-only opens. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryHypervisor, MemoryKernel } from '../../src/adapters/memory/index.js';
import { FileLogStore } from '../../src/log/index.js';
import type { Adapters } from '../../src/runtime/effects.js';
import { SandboxConfigError, type SandboxConfig } from '../../src/runtime/sandbox-config.js';
import { SandboxMismatchError, StoreExistsError, StoreNotFoundError } from '../../src/store/errors.js';
import { createStore, openStore, storeExists, type OpenStoreOptions } from '../../src/store/open-store.js';
import { StoreLock, StoreLockedError } from '../../src/store/store-lock.js';
import { StoreOptionError } from '../../src/runtime/store-options.js';

const NETNS = '/run/netns/open-store-test';
const dirs: string[] = [];
function tmpStore(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-open-store-${process.pid}-`));
  dirs.push(d);
  return path.join(d, 'store');
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** In-memory adapters for the store's sandbox, counting closes. */
function memory(closed: { n: number }) {
  return (sb: SandboxConfig): Adapters => {
    const kernel = new MemoryKernel();
    kernel.addNetns(sb.netnsPath);
    const hypervisor = new MemoryHypervisor({ kernel });
    const close = kernel.close.bind(kernel);
    kernel.close = async () => {
      closed.n++;
      await close();
    };
    return { netlink: kernel, hypervisor };
  };
}

describe('openStore', () => {
  it('creates the store from a sandbox config with its defaults, records it versioned, and reopens it', async () => {
    const dir = tmpStore();
    const closed = { n: 0 };
    const store = await openStore(dir, { sandbox: { netnsPath: NETNS, vhost: false }, adapters: memory(closed) });
    expect(store.sandbox).toEqual({ netnsPath: NETNS, netnsCreated: false, vcpus: 1, vhost: false });
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    await store.hotAttach('ep0');
    await store.close();
    expect(closed.n).toBe(1); // adapters it built are closed with the store
    const log = FileLogStore.open(dir, { readOnly: true });
    expect(log.header.meta).toEqual({ sandbox: { netnsPath: NETNS, netnsCreated: false, vcpus: 1, vhost: false }, sandboxVersion: 1 });
    log.close();
    const again = await openStore(dir, { adapters: memory(closed) });
    expect(again.get('ep0').state).toBe('hotAttached');
    await again.close();
  });

  it('one writer: a second open is refused with StoreLockedError naming the holder; the lock is dropped on close', async () => {
    const dir = tmpStore();
    const closed = { n: 0 };
    const first = await openStore(dir, { sandbox: { netnsPath: NETNS }, adapters: memory(closed) });
    const e = await openStore(dir, { adapters: memory(closed) }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(StoreLockedError);
    expect(e).toMatchObject({ code: 'STORE_LOCKED', pid: process.pid, waitedMs: 0 });
    expect(closed.n).toBe(0); // refused before building adapters
    await first.close();
    const second = await openStore(dir, { adapters: memory(closed) });
    await second.close();
  });

  it('lock.timeoutMs: waits for the holder, or fails naming how long it waited', async () => {
    const dir = tmpStore();
    await createStore(dir, { netnsPath: NETNS });
    const held = StoreLock.acquire(dir);
    const e = await openStore(dir, { adapters: memory({ n: 0 }), lock: { timeoutMs: 60 } }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(StoreLockedError);
    expect(e).toMatchObject({ pid: process.pid, waitedMs: 60 });
    expect((e as Error).message).toMatch(/still held after waiting 60 ms$/);
    setTimeout(() => held.release(), 50);
    const store = await openStore(dir, { adapters: memory({ n: 0 }), lock: { timeoutMs: 5000 } });
    await store.close();
  });

  it('a bad lock option is refused at once with StoreOptionError naming it (a NaN timeout waited for ever); nothing is created', async () => {
    const dir = tmpStore();
    await createStore(dir, { netnsPath: NETNS });
    const held = StoreLock.acquire(dir);
    try {
      const bad: Array<[unknown, string]> = [
        [{ timeoutMs: NaN }, 'lock.timeoutMs'],
        [{ timeoutMs: -1 }, 'lock.timeoutMs'],
        [{ timeoutMs: Infinity }, 'lock.timeoutMs'],
        [{ timeoutMs: '100' }, 'lock.timeoutMs'],
        [{ retryMs: 0 }, 'lock.retryMs'],
        [{ retryMs: NaN }, 'lock.retryMs'],
        ['yes', 'lock'],
        [null, 'lock'],
        [true, 'lock'],
      ];
      for (const [lock, field] of bad) {
        const e = await openStore(dir, { adapters: memory({ n: 0 }), lock: lock as never }).catch((err: unknown) => err);
        expect(e).toBeInstanceOf(StoreOptionError);
        expect(e).toMatchObject({ code: 'STORE_OPTION', field });
      }
      // a new store is not even created
      const fresh = tmpStore();
      await expect(openStore(fresh, { sandbox: { netnsPath: NETNS }, adapters: memory({ n: 0 }), lock: { timeoutMs: NaN } })).rejects.toBeInstanceOf(StoreOptionError);
      await expect(createStore(fresh, { netnsPath: NETNS }, { lock: { timeoutMs: -5 } })).rejects.toBeInstanceOf(StoreOptionError);
      expect(fs.existsSync(fresh)).toBe(false);
      expect(() => StoreLock.acquire(dir, NaN)).toThrow(StoreOptionError);
    } finally {
      held.release();
    }
  });

  it('a store directory that is not a non-empty string without NUL is refused with StoreOptionError (\'\' was the working directory)', async () => {
    const cwd = fs.readdirSync('.');
    for (const [dir, rule] of [['', 'non-empty'], [undefined, 'string'], [5, 'string'], ['/tmp/x\0y', 'no-nul']] as const) {
      await expect(openStore(dir as never, { sandbox: { netnsPath: NETNS }, adapters: memory({ n: 0 }) })).rejects.toMatchObject({ name: 'StoreOptionError', field: 'dir', rule });
      await expect(createStore(dir as never, { netnsPath: NETNS })).rejects.toMatchObject({ name: 'StoreOptionError', field: 'dir', rule });
    }
    expect(fs.readdirSync('.')).toEqual(cwd); // nothing created in the working directory
  });

  it('an open that fails after taking the lock drops it, whatever the adapter factory returned or its close() did', async () => {
    const dir = tmpStore();
    const first = await openStore(dir, { sandbox: { netnsPath: NETNS }, adapters: memory({ n: 0 }) });
    first.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    await first.close();
    const throwingClose = (sb: SandboxConfig): Adapters => {
      const a = memory({ n: 0 })(sb);
      // adapters whose close throws synchronously, and an open that fails after building them
      a.netlink.close = () => {
        throw new Error('close threw');
      };
      return a;
    };
    const failures: Array<OpenStoreOptions> = [
      { adapters: () => null as never },
      // the open fails after the adapters were built: the inspection observer throws on the restored endpoint
      {
        adapters: throwingClose,
        inspect: () => {
          throw new Error('observer threw');
        },
      },
    ];
    for (const opts of failures) {
      // a factory returning no adapters: StoreOptionError naming them; the observer's own error as it threw it
      await expect(openStore(dir, opts)).rejects.toThrow(opts.inspect ? /observer threw/ : /^adapters: must be an object/);
      // the lock is free again: the next open gets it at once
      const store = await openStore(dir, { adapters: memory({ n: 0 }) });
      await store.close();
    }
  });

  it('adapters missing methods are refused where they enter, naming the side and the methods: nothing created, nothing written, the lock free', async () => {
    const closed = { n: 0 };
    const kernelOnly = (sb: SandboxConfig) => ({ netlink: memory(closed)(sb).netlink, hypervisor: {} });
    const noProbe = (sb: SandboxConfig) => {
      const a = memory(closed)(sb);
      return { netlink: new Proxy(a.netlink, { get: (t, p) => (p === 'probeLink' ? undefined : Reflect.get(t, p)) }), hypervisor: a.hypervisor };
    };
    const bad: Array<[OpenStoreOptions['adapters'], string, string, RegExp]> = [
      [() => ({}) as never, 'adapters.netlink', 'object', /^adapters\.netlink: must be a NetlinkAdapter object \(got undefined\) \(returned by the adapters factory\)$/],
      [kernelOnly as never, 'adapters.hypervisor', 'methods', /missing hotplug\(\), hotunplug\(\), coldplug\(\), probeDevice\(\), probeNetdev\(\), alive\(\), close\(\) \(returned/],
      [noProbe as never, 'adapters.netlink', 'methods', /^adapters\.netlink: must implement NetlinkAdapter: missing probeLink\(\) \(returned/],
      [async () => ({ netlink: 5, hypervisor: {} }) as never, 'adapters.netlink', 'object', /got 5\) \(returned/],
      [{ netlink: {} } as never, 'adapters.netlink', 'methods', /missing createTap\(\), getLink\(\)/],
      [{ hypervisor: { hotplug: () => {} } } as never, 'adapters.hypervisor', 'methods', /missing hotunplug\(\)/],
      [5 as never, 'adapters', 'object', /or a factory function \(got number\)/],
    ];
    // a new store: refused before anything is made (was: the store was created, then the first operation failed and rolled back)
    for (const [adapters, field, rule, message] of bad) {
      const dir = tmpStore();
      const e = await openStore(dir, { sandbox: { netnsPath: NETNS }, adapters }).catch((err: unknown) => err);
      expect(e).toBeInstanceOf(StoreOptionError);
      expect(e).toMatchObject({ code: 'STORE_OPTION', field, rule });
      expect((e as Error).message).toMatch(message);
      expect(fs.existsSync(dir)).toBe(false);
      expect(fs.readdirSync(path.dirname(dir))).toEqual([]);
    }
    expect(closed.n).toBe(2); // what a refused factory built is closed (kernelOnly's and noProbe's kernels)
    // an existing store with an interrupted attach: refused before its log is touched (no recovery, no torn tail cut)
    const dir = tmpStore();
    const first = await openStore(dir, { sandbox: { netnsPath: NETNS }, adapters: memory(closed) });
    first.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    await first.close();
    fs.appendFileSync(path.join(dir, 'log.jsonl'), '{"torn');
    const before = fs.readFileSync(path.join(dir, 'log.jsonl'));
    for (const [adapters, field, rule] of bad) {
      await expect(openStore(dir, { adapters })).rejects.toMatchObject({ name: 'StoreOptionError', field, rule });
      await expect(openStore(dir, { adapters, lock: false })).rejects.toMatchObject({ name: 'StoreOptionError', field, rule });
    }
    expect(fs.readFileSync(path.join(dir, 'log.jsonl'))).toEqual(before);
    expect(closed.n).toBe(2 + 1 + 4); // + the first writer's, + the refused ones again (writer and reader)
    closed.n = 0;
    const good = await openStore(dir, { adapters: memory(closed) }); // the lock is free
    expect(good.get('ep0').state).toBe('created');
    await good.close();
  });

  it('a sandbox with an unknown field (a typo) is refused with SandboxConfigError naming it, before anything is made; on an existing store too', async () => {
    const dir = tmpStore();
    for (const [sandbox, field] of [[{ netnsPath: NETNS, vcpu: 4 }, 'vcpu'], [null, 'sandbox'], ['x', 'sandbox']] as const) {
      await expect(openStore(dir, { sandbox: sandbox as never, adapters: memory({ n: 0 }) })).rejects.toMatchObject({ name: 'SandboxConfigError', field });
      await expect(createStore(dir, sandbox as never)).rejects.toMatchObject({ name: 'SandboxConfigError', field });
    }
    expect(fs.existsSync(dir)).toBe(false);
    await createStore(dir, { netnsPath: NETNS, vcpus: 4 });
    await expect(openStore(dir, { sandbox: { netnsPath: NETNS, vcpu: 4 } as never, adapters: memory({ n: 0 }) })).rejects.toMatchObject({ name: 'SandboxConfigError', field: 'vcpu' });
    await expect(openStore(dir, { sandbox: { netnsPath: NETNS, vcpu: 4 } as never, lock: false })).rejects.toMatchObject({ name: 'SandboxConfigError', field: 'vcpu' });
  });

  it('a store dir that is, or lies under, a regular file is a StoreOptionError (was: a bare EEXIST / ENOTDIR); storeExists checks its dir too', async () => {
    const dir = tmpStore();
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    fs.writeFileSync(dir, 'not a directory');
    for (const d of [dir, path.join(dir, 'sub')]) {
      await expect(openStore(d, { sandbox: { netnsPath: NETNS }, adapters: memory({ n: 0 }) })).rejects.toMatchObject({ name: 'StoreOptionError', field: 'dir', rule: 'directory' });
      await expect(createStore(d, { netnsPath: NETNS })).rejects.toMatchObject({ name: 'StoreOptionError', field: 'dir', rule: 'directory' });
    }
    expect(fs.readFileSync(dir, 'utf8')).toBe('not a directory');
    expect(() => storeExists(5 as never)).toThrow(expect.objectContaining({ name: 'StoreOptionError', field: 'dir', rule: 'string' }));
    expect(storeExists(path.dirname(dir))).toBe(false);
  });

  it('an unknown option (a typo) is a StoreOptionError naming it, before anything is made (was: ignored: `adaptors:` built the real adapters)', async () => {
    const dir = tmpStore();
    const e = await openStore(dir, { sandbox: { netnsPath: NETNS }, adaptors: memory({ n: 0 }) } as never).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(StoreOptionError);
    expect(e).toMatchObject({ field: 'adaptors', rule: 'unknown' });
    expect((e as Error).message).toBe('adaptors: unknown option (known: sandbox, adapters, lock, durability, checkpointEvery, verify, recover, inspect, clock, onRecoveryProgress, recoveryConcurrency)');
    await expect(openStore(dir, { lock: false, log: {} } as never)).rejects.toMatchObject({ name: 'StoreOptionError', field: 'log', rule: 'unknown' });
    await expect(createStore(dir, { netnsPath: NETNS }, { locks: {} } as never)).rejects.toMatchObject({ name: 'StoreOptionError', field: 'locks', rule: 'unknown' });
    // a bad retention policy: refused before the store is created (was: after, the store left behind)
    await expect(createStore(dir, { netnsPath: NETNS }, { retention: { segmentBytes: 5 } as never })).rejects.toMatchObject({ name: 'LogRecordError', field: 'retention.segmentBytes' });
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('given adapters stay the caller\'s: one netlink adapter shared by two stores; the side left out is built and closed', async () => {
    const closed = { n: 0 };
    const shared = memory(closed)({ netnsPath: NETNS, netnsCreated: false, vcpus: 1, vhost: false }).netlink as MemoryKernel;
    shared.addDummyLink(NETNS, 'eth0', { mtu: 1500, mac: '02:aa:bb:cc:dd:01' });
    const a = await openStore(tmpStore(), { sandbox: { netnsPath: NETNS }, adapters: { netlink: shared } });
    const b = await openStore(tmpStore(), { sandbox: { netnsPath: NETNS }, adapters: { netlink: shared } });
    a.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    // no QMP socket in the sandbox: the built hypervisor is the no-VMM one, which refuses hot-plug
    await expect(a.hotAttach('ep0')).rejects.toMatchObject({ name: 'EndpointOperationError', message: expect.stringMatching(/no VMM/) });
    expect((await a.attach('ep0')).coldplugArgs.join(' ')).toMatch(/ifname=tap0_kata/);
    await a.close();
    await b.close();
    expect(closed.n).toBe(0);
    expect(shared.links(NETNS).map((l) => l.name)).toContain('tap0_kata');
  });

  it('lock: false opens read-only, without the lock, recovery or adapters', async () => {
    const dir = tmpStore();
    const writer = await openStore(dir, { sandbox: { netnsPath: NETNS }, adapters: memory({ n: 0 }) });
    writer.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    const reader = await openStore(dir, { lock: false }); // while the writer holds the lock
    expect(reader.list().map((v) => v.id)).toEqual(['ep0']);
    await reader.close();
    await writer.close();
  });

  it('createStore writes the retention policy before the log: a failure in between leaves no store without its policy', async () => {
    const dir = tmpStore();
    fs.mkdirSync(path.join(dir, 'retention.json.tmp'), { recursive: true }); // writing the policy fails (EISDIR)
    await expect(createStore(dir, { netnsPath: NETNS }, { retention: { segmentBytes: 1 << 20, maxBytes: 64 << 20, maxAgeMs: null, keepHistory: true } })).rejects.toThrow();
    // before: the log was made first, so a store existed with the default policy, not the one asked for
    expect(fs.existsSync(path.join(dir, 'log.jsonl'))).toBe(false);
  });

  it('typed errors: no store, a store that exists, another sandbox, a bad field, a newer config version', async () => {
    const dir = tmpStore();
    await expect(openStore(dir)).rejects.toBeInstanceOf(StoreNotFoundError);
    expect(fs.existsSync(dir)).toBe(false); // nothing made
    await expect(createStore(dir, { netnsPath: 'relative' })).rejects.toMatchObject({ name: 'SandboxConfigError', field: 'netnsPath' });
    await expect(createStore(dir, { netnsPath: NETNS, vcpus: 0 })).rejects.toBeInstanceOf(SandboxConfigError);
    expect(fs.existsSync(dir)).toBe(false);
    await createStore(dir, { netnsPath: NETNS, vcpus: 2 });
    await expect(createStore(dir, { netnsPath: NETNS })).rejects.toBeInstanceOf(StoreExistsError);
    const e = await openStore(dir, { sandbox: { netnsPath: NETNS, vcpus: 4 }, adapters: memory({ n: 0 }) }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(SandboxMismatchError);
    expect(e).toMatchObject({ field: 'vcpus', recorded: 2, given: 4 });
    const same = await openStore(dir, { sandbox: { netnsPath: NETNS, vcpus: 2 }, adapters: memory({ n: 0 }) });
    await same.close();
    const newer = tmpStore();
    FileLogStore.create(newer, { sandbox: { netnsPath: NETNS, netnsCreated: false, vcpus: 1, vhost: false }, sandboxVersion: 2 }).close();
    await expect(openStore(newer, { adapters: memory({ n: 0 }) })).rejects.toMatchObject({ name: 'SandboxConfigError', field: 'sandboxVersion' });
  });
});
