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
 *
 * Hand-off: each worker sleeps in `Atomics.wait` on its own shared control words; the main
 * thread awaits the result with `Atomics.waitAsync`. Netlink jobs (the hot one: every
 * RTM_DELLINK) travel in binary — fd, seq, mode and timeout in control words, the request bytes
 * and the reply datagrams (length-prefixed) in a shared buffer — so neither side parses,
 * stringifies or allocates per job beyond the reply's own Buffers; the rare tun/close jobs
 * travel as JSON. A round trip costs ~50 µs hot / ~100 µs after idling, about half of
 * `postMessage` (~75 / ~180 µs), which matters for a ~16 ms DELLINK next to a C program.
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

/**
 * Control words: [0] state (0 idle, 1 job posted, 2 stop), [1] result ready, [2] job bytes,
 * [3] result bytes; binary netlink jobs: [4] kind (0 JSON, 1 netlink), [5] fd, [6] seq,
 * [7] reply mode, [8] timeout ms, [9] result errno (0: ok, the data holds the datagrams as
 * u32 length + bytes; otherwise the data holds the failed stage's text).
 */
const CTL_STATE = 0;
const CTL_DONE = 1;
const CTL_JOB_LEN = 2;
const CTL_RES_LEN = 3;
const CTL_KIND = 4;
const CTL_FD = 5;
const CTL_SEQ = 6;
const CTL_MODE = 7;
const CTL_TIMEOUT = 8;
const CTL_ERRNO = 9;
const CTL_WORDS = 10;
const KIND_JSON = 0;
const KIND_NL = 1;
/** Room for one job or one result (requests are < 1 KiB, results are acks / small records). */
const DATA_BYTES = 1 << 18;

const SOURCE = `
const { workerData } = require('node:worker_threads');
const koffi = require(workerData.koffiPath);
const bindLibc = ${bindLibc.toString()};
const transactSync = ${transactSync.toString()};
const tunAttachSync = ${tunAttachSync.toString()};
const l = bindLibc(koffi);
const rbuf = Buffer.allocUnsafe(131072);
const req = Buffer.allocUnsafe(${DATA_BYTES});
const ctl = new Int32Array(workerData.ctl);
const data = Buffer.from(workerData.data);
for (;;) {
  Atomics.wait(ctl, ${CTL_STATE}, 0);
  const state = Atomics.load(ctl, ${CTL_STATE});
  if (state === 2) break;
  if (state !== 1) continue;
  if (ctl[${CTL_KIND}] === ${KIND_NL}) {
    let r;
    try {
      const n = ctl[${CTL_JOB_LEN}];
      data.copy(req, 0, 0, n);
      r = transactSync(l, ctl[${CTL_FD}], req.subarray(0, n), ctl[${CTL_SEQ}] >>> 0, ctl[${CTL_MODE}], ctl[${CTL_TIMEOUT}], rbuf);
    } catch (e) {
      r = { ok: false, errno: 5, stage: 'worker: ' + String((e && e.message) || e) };
    }
    let off = 0;
    if (r.ok) {
      for (const d of r.datagrams) {
        if (off + 4 + d.length > data.length) {
          r = { ok: false, errno: 90, stage: 'worker: result too large' };
          break;
        }
        data.writeUInt32LE(d.length, off);
        d.copy(data, off + 4);
        off += 4 + d.length;
      }
    }
    if (!r.ok) off = data.write(r.stage, 0);
    ctl[${CTL_ERRNO}] = r.ok ? 0 : r.errno;
    ctl[${CTL_RES_LEN}] = off;
  } else {
    let res;
    try {
      const job = JSON.parse(Buffer.from(data.subarray(0, ctl[${CTL_JOB_LEN}])).toString());
      if (job.kind === 'tun') {
        res = tunAttachSync(l, job.fds, job.name, job.flags);
      } else if (job.kind === 'close') {
        const errors = [];
        for (const fd of job.fds) if (l.close(fd) < 0) errors.push([fd, l.errno()]);
        res = { ok: true, errors };
      } else res = { ok: false, errno: 22, stage: 'worker: unknown job' };
    } catch (e) {
      res = { ok: false, errno: 5, stage: 'worker: ' + String((e && e.message) || e) };
    }
    let out = Buffer.from(JSON.stringify(res));
    if (out.length > data.length) out = Buffer.from(JSON.stringify({ ok: false, errno: 90, stage: 'worker: result too large' }));
    out.copy(data, 0);
    ctl[${CTL_RES_LEN}] = out.length;
  }
  Atomics.store(ctl, ${CTL_STATE}, 0);
  Atomics.store(ctl, ${CTL_DONE}, 1);
  Atomics.notify(ctl, ${CTL_DONE});
}
`;

/** `Atomics.waitAsync` (ES2024; Node ≥ 16), typed here because the project's lib is ES2023. */
const waitAsync = (Atomics as unknown as {
  waitAsync(a: Int32Array, index: number, value: number): { async: false; value: string } | { async: true; value: Promise<string> };
}).waitAsync;

/** The reply datagrams of a binary netlink job, copied out of the shared buffer. */
function readDatagrams(data: Buffer, len: number): TransactOk | SyscallFailure {
  const datagrams: Buffer[] = [];
  for (let off = 0; off < len; ) {
    const n = data.readUInt32LE(off);
    datagrams.push(Buffer.from(data.subarray(off + 4, off + 4 + n)));
    off += 4 + n;
  }
  return { ok: true, datagrams };
}

interface Pending {
  job: Job;
  resolve: (r: unknown) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  busy: Pending | null;
  ctl: Int32Array;
  data: Buffer;
}

/** A lazily grown pool of at most `maxThreads` workers. */
export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private closed = false;

  constructor(private readonly maxThreads: number) {}

  /** Run a job on a free worker (queued when all are busy). */
  run<J extends Job>(job: J): Promise<JobResult<J>> {
    if (this.closed) this.closed = false; // reusable after close(): workers are re-spawned lazily
    return new Promise((resolve, reject) => {
      this.queue.push({ job, resolve: resolve as (r: unknown) => void, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.find((s) => s.busy === null);
      if (!slot && this.slots.length < this.maxThreads) slot = this.spawn();
      if (!slot) return;
      const p = this.queue.shift() as Pending;
      this.dispatch(slot, p);
    }
  }

  private dispatch(slot: Slot, p: Pending): void {
    const ctl = slot.ctl;
    const job = p.job;
    if (job.kind === 'nl') {
      if (job.req.length > slot.data.length) {
        p.reject(new Error(`netlink worker job of ${job.req.length} bytes exceeds ${slot.data.length}`));
        return;
      }
      job.req.copy(slot.data, 0);
      ctl[CTL_KIND] = KIND_NL;
      ctl[CTL_JOB_LEN] = job.req.length;
      ctl[CTL_FD] = job.fd;
      ctl[CTL_SEQ] = job.seq | 0;
      ctl[CTL_MODE] = job.mode;
      ctl[CTL_TIMEOUT] = job.timeoutMs;
    } else {
      const text = Buffer.from(JSON.stringify(job));
      if (text.length > slot.data.length) {
        p.reject(new Error(`netlink worker job of ${text.length} bytes exceeds ${slot.data.length}`));
        return;
      }
      text.copy(slot.data, 0);
      ctl[CTL_KIND] = KIND_JSON;
      ctl[CTL_JOB_LEN] = text.length;
    }
    slot.busy = p;
    slot.worker.ref();
    Atomics.store(ctl, CTL_DONE, 0);
    Atomics.store(ctl, CTL_STATE, 1);
    Atomics.notify(ctl, CTL_STATE);
    const finish = (): void => {
      if (slot.busy !== p) return; // the worker died meanwhile: already rejected
      let res: unknown;
      const len = ctl[CTL_RES_LEN] as number;
      try {
        if (ctl[CTL_KIND] === KIND_NL) {
          const errno = ctl[CTL_ERRNO] as number;
          res = errno === 0 ? readDatagrams(slot.data, len) : { ok: false, errno, stage: slot.data.toString('utf8', 0, len) };
        } else res = JSON.parse(slot.data.toString('utf8', 0, len));
      } catch (e) {
        res = { ok: false, errno: 5, stage: `worker result: ${(e as Error).message}` };
      }
      slot.busy = null;
      slot.worker.unref();
      p.resolve(res);
      this.pump();
    };
    // A wake-up is not a result: the previous job's `notify(DONE)` can land after we already saw
    // its DONE = 1 synchronously and dispatched this job. Finish only once DONE really is 1.
    const wait = (): void => {
      const w = waitAsync(ctl, CTL_DONE, 0);
      if (w.async) void w.value.then(check);
      else check();
    };
    const check = (): void => {
      if (Atomics.load(ctl, CTL_DONE) === 1) finish();
      else wait();
    };
    wait();
  }

  private spawn(): Slot {
    const ctl = new Int32Array(new SharedArrayBuffer(4 * CTL_WORDS));
    const dataSab = new SharedArrayBuffer(DATA_BYTES);
    const worker = new Worker(SOURCE, { eval: true, workerData: { koffiPath, ctl: ctl.buffer, data: dataSab } });
    const slot: Slot = { worker, busy: null, ctl, data: Buffer.from(dataSab) };
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

  /** Whether any job is running or queued. */
  busy(): boolean {
    return this.queue.length > 0 || this.slots.some((s) => s.busy !== null);
  }

  /** Terminate all workers (waits for jobs in flight to be rejected). */
  async close(): Promise<void> {
    this.closed = true;
    const slots = this.slots.splice(0);
    for (const p of this.queue.splice(0)) p.reject(new Error('netlink worker pool closed'));
    for (const s of slots) {
      Atomics.store(s.ctl, CTL_STATE, 2);
      Atomics.notify(s.ctl, CTL_STATE);
    }
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }
}
