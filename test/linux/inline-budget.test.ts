/**
 * Where short calls run (root required; fails, never skips). A short call (TUNSETIFF, up/down,
 * closing queue fds) whose event-loop turn has spent its inline budget yields one turn and then
 * runs on the main thread — a lone caller never pays a worker hand-off — but goes to a worker
 * whenever one is busy (a worker's DELLINK may hold rtnl: the main thread must not wait on it).
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { INLINE_BUDGET_MS, LinuxNetlinkAdapter } from '../../src/linux/adapter.js';
import type { Job } from '../../src/linux/worker.js';
import { ipShow, makeNetns, requireRoot, tunFdCount, type TestNetns } from './fixture.js';

beforeAll(() => requireRoot());

/** The adapter's private parts this test steers and observes. */
interface Internals {
  /** Account main-thread time of a short call started at `t0` to this turn. */
  charge(t0: number): void;
  pool: { run(job: Job): Promise<unknown> };
}

describe('short calls past the turn budget', () => {
  let ns: TestNetns;
  let a: LinuxNetlinkAdapter;
  let jobs: string[];
  /** As if short calls had already taken this turn's whole budget. */
  const spendBudget = (): void => {
    (a as unknown as Internals).charge(performance.now() - INLINE_BUDGET_MS);
  };
  /** Whether a setImmediate queued just before `call` ran before it settled (it let a turn go by). */
  const yielded = async (call: () => Promise<unknown>): Promise<boolean> => {
    let ran = false;
    setImmediate(() => (ran = true));
    await call();
    return ran;
  };

  beforeEach(() => {
    ns = makeNetns();
    a = new LinuxNetlinkAdapter();
    jobs = [];
    const pool = (a as unknown as Internals).pool;
    const run = pool.run.bind(pool);
    pool.run = (job: Job) => {
      jobs.push(job.kind);
      return run(job);
    };
  });
  afterEach(async () => {
    try {
      await a.close();
    } finally {
      ns.remove();
    }
  });

  it('a lone caller yields one turn and stays on the main thread (createTap, up, down, closeFds)', async () => {
    spendBudget();
    let fds: number[] = [];
    expect(await yielded(async () => ({ fds } = await a.createTap({ netns: ns.path, name: 'ib0', queues: 2 })))).toBe(true);
    spendBudget();
    expect(await yielded(() => a.setUp(ns.path, 'ib0', true))).toBe(true);
    expect(ipShow(ns, 'ib0')).toMatch(/[<,]UP[,>]/);
    spendBudget();
    expect(await yielded(() => a.setUp(ns.path, 'ib0', false))).toBe(true);
    expect(ipShow(ns, 'ib0')).not.toMatch(/[<,]UP[,>]/);
    spendBudget();
    expect(await yielded(() => a.closeFds(fds))).toBe(true);
    expect(tunFdCount()).toBe(0);
    expect(jobs).toEqual([]); // before: tun, nl, nl, close on workers
    await a.deleteLink(ns.path, 'ib0');
    expect(jobs).toEqual(['nl']); // DELLINK always on a worker
  });

  it('with a worker busy, a short call goes to a worker', async () => {
    const { fds } = await a.createTap({ netns: ns.path, name: 'ib1', queues: 1 });
    await a.closeFds(fds);
    const b = await a.createTap({ netns: ns.path, name: 'ib2', queues: 1 });
    const del = a.deleteLink(ns.path, 'ib1'); // a worker is busy from here on
    await a.setUp(ns.path, 'ib2', true);
    await del;
    expect(jobs).toEqual(['nl', 'nl']);
    expect(ipShow(ns, 'ib2')).toMatch(/[<,]UP[,>]/);
    await a.closeFds(b.fds);
  });
});
