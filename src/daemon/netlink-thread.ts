/**
 * The daemon's Linux netlink adapter, run on a thread of its own. The library's
 * {@link LinuxNetlinkAdapter} makes its quick kernel calls (GETLINK, SETLINK MTU/MAC, SIOCGIFINDEX,
 * the setns() window that opens /dev/net/tun) synchronously on the calling thread, and its short
 * ones (TUNSETIFF, up/down) too within a per-turn budget: in one process serving one sandbox that
 * is the fastest way. A daemon serving many sandboxes at once is different: those calls take
 * the RTNL lock, which concurrent operations (DELLINK, qdiscs, other processes) hold for
 * milliseconds, and every such wait would stop the event loop — every sandbox's HTTP, QMP and
 * journal work with it. So the daemon hosts the adapter on a worker thread (one adapter, its
 * sockets and its own worker pool, for every sandbox), and the main thread only posts calls.
 *
 * Semantics are the adapter's: the same methods, results and {@link NetlinkError}s (rebuilt on
 * this side with their typed fields). Fds are the process's: queue fds the worker opens are
 * valid here. If the thread dies, pending calls fail with `EIO` and the next call starts a new one.
 */
import { Worker } from 'node:worker_threads';
import { NetlinkError, type CreateTapRequest, type CreatedTap, type LinkInfo, type NetlinkAdapter, type RedirectRequest } from '../adapters/netlink.js';
import type { LinuxNetlinkAdapterOptions } from '../linux/adapter.js';
import { NETLINK_METHODS } from '../adapters/adapter-methods.js';

export type NetlinkThreadMethod = Exclude<keyof NetlinkAdapter, 'close'>;

/** The {@link NetlinkAdapter} methods the thread serves: every one of the contract but `close`. */
export const NETLINK_THREAD_METHODS = NETLINK_METHODS.filter((m) => m !== 'close') as readonly NetlinkThreadMethod[];

/** A call posted to the thread. */
export interface NetlinkThreadCall {
  id: number;
  method: NetlinkThreadMethod;
  args: unknown[];
}

/** An error as it crosses the thread boundary. */
export type SerializedError =
  | { kind: 'netlink'; op: string; link: string; netns: string; errno: string; errnoNumber: number; extack: string; message: string }
  | { kind: 'error'; name: string; message: string };

export function serializeNetlinkThreadError(e: unknown): SerializedError {
  if (e instanceof NetlinkError) return { kind: 'netlink', op: e.op, link: e.link, netns: e.netns, errno: e.errno, errnoNumber: e.errnoNumber, extack: e.extack, message: e.message };
  if (e instanceof Error) return { kind: 'error', name: e.name, message: e.message };
  return { kind: 'error', name: 'Error', message: String(e) };
}

function revive(s: SerializedError): Error {
  if (s.kind === 'netlink') return new NetlinkError({ ...s, errno: s.errno as NetlinkError['errno'] });
  const e = new Error(s.message);
  e.name = s.name;
  return e;
}

/** Options of {@link ThreadedNetlinkAdapter}: the Linux adapter's, and where the worker's module is. */
export interface ThreadedNetlinkAdapterOptions extends LinuxNetlinkAdapterOptions {
  /** The compiled worker module (default: `netlink-thread-worker.js` next to this module; tests running the TypeScript sources give dist's). */
  workerUrl?: URL;
}

export class ThreadedNetlinkAdapter implements NetlinkAdapter {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, { method: string; resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private readonly workerUrl: URL;
  private readonly linux: LinuxNetlinkAdapterOptions;

  constructor(options: ThreadedNetlinkAdapterOptions = {}) {
    const { workerUrl, ...linux } = options;
    this.workerUrl = workerUrl ?? new URL('./netlink-thread-worker.js', import.meta.url);
    this.linux = linux;
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(this.workerUrl, { workerData: this.linux });
    const died = (why: string): void => {
      if (this.worker !== w) return;
      this.worker = undefined;
      for (const [id, p] of this.pending) {
        this.pending.delete(id);
        p.reject(new NetlinkError({ op: p.method, netns: '', errno: 'EIO', errnoNumber: 5, message: `${p.method}: EIO (the netlink thread ${why})` }));
      }
    };
    w.on('message', (m: { id: number; value?: unknown; error?: SerializedError }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) w.unref();
      if (m.error) p.reject(revive(m.error));
      else p.resolve(m.value);
    });
    w.on('error', (e) => died(`failed: ${e.message}`));
    w.on('exit', (code) => died(`exited (${code})`));
    w.unref();
    this.worker = w;
    return w;
  }

  private call<T>(method: NetlinkThreadMethod, args: unknown[]): Promise<T> {
    const w = this.thread();
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { method, resolve: resolve as (v: unknown) => void, reject });
      if (this.pending.size === 1) w.ref(); // a call in flight keeps the process alive
      w.postMessage({ id, method, args } satisfies NetlinkThreadCall);
    });
  }

  createTap(req: CreateTapRequest): Promise<CreatedTap> {
    return this.call('createTap', [req]);
  }
  getLink(netns: string, name: string): Promise<LinkInfo> {
    return this.call('getLink', [netns, name]);
  }
  listLinks(netns: string): Promise<LinkInfo[]> {
    return this.call('listLinks', [netns]);
  }
  setMtu(netns: string, name: string, mtu: number): Promise<void> {
    return this.call('setMtu', [netns, name, mtu]);
  }
  setMac(netns: string, name: string, mac: string): Promise<void> {
    return this.call('setMac', [netns, name, mac]);
  }
  setUp(netns: string, name: string, up: boolean): Promise<void> {
    return this.call('setUp', [netns, name, up]);
  }
  deleteLink(netns: string, name: string): Promise<void> {
    return this.call('deleteLink', [netns, name]);
  }
  addIngressQdisc(netns: string, name: string): Promise<void> {
    return this.call('addIngressQdisc', [netns, name]);
  }
  deleteIngressQdisc(netns: string, name: string): Promise<void> {
    return this.call('deleteIngressQdisc', [netns, name]);
  }
  hasIngressQdisc(netns: string, name: string): Promise<boolean> {
    return this.call('hasIngressQdisc', [netns, name]);
  }
  addRedirect(req: RedirectRequest): Promise<void> {
    return this.call('addRedirect', [req]);
  }
  listRedirects(netns: string, from: string): Promise<string[]> {
    return this.call('listRedirects', [netns, from]);
  }
  probeLink(netns: string, name: string): Promise<LinkInfo | null> {
    return this.call('probeLink', [netns, name]);
  }
  netnsExists(netns: string): Promise<boolean> {
    return this.call('netnsExists', [netns]);
  }
  openVhostFds(count: number): Promise<number[]> {
    return this.call('openVhostFds', [count]);
  }
  closeFds(fds: readonly number[]): Promise<void> {
    return this.call('closeFds', [[...fds]]);
  }

  /** Close the adapter on its thread (its sockets, its pool), then end the thread. */
  async close(): Promise<void> {
    const w = this.worker;
    if (!w) return;
    w.ref();
    await new Promise<void>((resolve) => {
      const done = (): void => resolve();
      w.once('exit', done);
      w.on('message', (m: { closed?: boolean }) => m.closed && done());
      w.postMessage({ close: true });
    });
    this.worker = undefined;
    await w.terminate();
  }
}
