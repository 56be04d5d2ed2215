/**
 * A small pool of worker threads that own koffi bindings and run the blocking kernel calls
 * (netlink transactions such as RTM_DELLINK, which waits ~16 ms in the kernel; TUNSETIFF;
 * close() of tap queue fds) so the event loop never waits for them.
 *
 * The workers only ever touch fds that the main thread already bound to a netns: the netns of a
 * socket or /dev/net/tun fd is fixed when it is created, so workers never call setns(). Workers
 * are spawned lazily from the main thread and never inside a netns window (a thread created
 * there would stay in the foreign netns). Idle workers are unref'd and never keep the process
 * alive.
 *
 * The worker source embeds the very functions the main thread uses ({@link bindLibc},
 * {@link transactSync}, {@link tunAttachSync}) via `Function.prototype.toString`, so it runs
 * unchanged from TypeScript sources (vitest) and from the compiled `dist/`.
 */
import { Worker } from 'node:worker_threads';
import { bindLibc, koffiPath } from './libc.js';
import { transactSync, type SyscallFailure, type TransactOk } from './netlink-socket.js';
import { tunAttachSync, type TunAttachResult } from './tun-ioctl.js';

/** A job for a worker. */
export type Job =
  | { kind: 'nl'; fd: number; req: Buffer; seq: number; mode: number; timeoutMs: number }
  | { kind: 'tun'; fds: number[]; name: string; flags: number }
  | { kind: 'close'; fds: number[] };

/** The result of a job, by kind. */
export type JobResult<J extends Job> = J extends { kind: 'nl' }
  ? TransactOk | SyscallFailure
  : J extends { kind: 'tun' }
    ? TunAttachResult
    : { ok: true; errors: Array<[number, number]> };

const SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const koffi = require(workerData.koffiPath);
const bindLibc = ${bindLibc.toString()};
const transactSync = ${transactSync.toString()};
const tunAttachSync = ${tunAttachSync.toString()};
const l = bindLibc(koffi);
const rbuf = Buffer.allocUnsafe(131072);
parentPort.on('message', function (job) {
  let res;
  try {
    if (job.kind === 'nl') {
      const req = Buffer.from(job.req.buffer, job.req.byteOffset, job.req.byteLength);
      res = transactSync(l, job.fd, req, job.seq, job.mode, job.timeoutMs, rbuf);
    } else if (job.kind === 'tun') {
      res = tunAttachSync(l, job.fds, job.name, job.flags);
    } else if (job.kind === 'close') {
      const errors = [];
      for (const fd of job.fds) if (l.close(fd) < 0) errors.push([fd, l.errno()]);
      res = { ok: true, errors };
    } else res = { ok: false, errno: 22, stage: 'worker: unknown job' };
  } catch (e) {
    res = { ok: false, errno: 5, stage: 'worker: ' + String((e && e.message) || e) };
  }
  parentPort.postMessage({ id: job.id, res });
});
`;

interface Pending {
  job: Job & { id: number };
  resolve: (r: unknown) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  busy: Pending | null;
}

/** A lazily grown pool of at most `maxThreads` workers. */
export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;

  constructor(private readonly maxThreads: number) {}

  /** Run a job on a free worker (queued when all are busy). */
  run<J extends Job>(job: J): Promise<JobResult<J>> {
    if (this.closed) this.closed = false; // reusable after close(): workers are re-spawned lazily
    return new Promise((resolve, reject) => {
      this.queue.push({ job: { ...job, id: this.nextId++ }, resolve: resolve as (r: unknown) => void, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.find((s) => s.busy === null);
      if (!slot && this.slots.length < this.maxThreads) slot = this.spawn();
      if (!slot) return;
      const p = this.queue.shift() as Pending;
      slot.busy = p;
      slot.worker.ref();
      slot.worker.postMessage(p.job);
    }
  }

  private spawn(): Slot {
    const worker = new Worker(SOURCE, { eval: true, workerData: { koffiPath } });
    const slot: Slot = { worker, busy: null };
    worker.on('message', (m: { id: number; res: unknown }) => {
      const p = slot.busy;
      slot.busy = null;
      worker.unref();
      if (p && p.job.id === m.id) p.resolve(m.res);
      this.pump();
    });
    const fail = (e: Error): void => {
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
      const p = slot.busy;
      slot.busy = null;
      if (p) p.reject(e);
      this.pump();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`netlink worker exited (${code})`)));
    worker.unref();
    this.slots.push(slot);
    return slot;
  }

  /** Terminate all workers (waits for jobs in flight to be rejected). */
  async close(): Promise<void> {
    this.closed = true;
    const slots = this.slots.splice(0);
    for (const p of this.queue.splice(0)) p.reject(new Error('netlink worker pool closed'));
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }
}
