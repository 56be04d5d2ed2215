/**
 * The worker side of {@link ThreadedNetlinkAdapter}: one {@link LinuxNetlinkAdapter} living on this
 * thread, serving the calls the daemon's main thread posts. Its quick and short kernel calls
 * (GETLINK, SETLINK, TUNSETIFF, up/down, netns switches) block this thread, never the daemon's
 * event loop; its slow ones go to its own worker pool as in any process.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { LinuxNetlinkAdapter, type LinuxNetlinkAdapterOptions } from '../linux/adapter.js';
import { NETLINK_THREAD_METHODS, serializeNetlinkThreadError, type NetlinkThreadCall } from './netlink-thread.js';

const port = parentPort;
if (!port) throw new Error('netlink-thread-worker: not a worker thread');
const adapter = new LinuxNetlinkAdapter((workerData ?? {}) as LinuxNetlinkAdapterOptions);
const allowed = new Set<string>(NETLINK_THREAD_METHODS);

port.on('message', (m: NetlinkThreadCall | { close: true }) => {
  if ('close' in m) {
    void adapter.close().finally(() => port.postMessage({ closed: true }));
    return;
  }
  const run = async (): Promise<unknown> => {
    if (!allowed.has(m.method)) throw new TypeError(`netlink thread: no method ${JSON.stringify(m.method)}`);
    return (adapter[m.method] as (...a: unknown[]) => Promise<unknown>)(...m.args);
  };
  run().then(
    (value) => port.postMessage({ id: m.id, value }),
    (e: unknown) => port.postMessage({ id: m.id, error: serializeNetlinkThreadError(e) }),
  );
});
