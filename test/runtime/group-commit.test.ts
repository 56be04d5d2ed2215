/** Group commit over an asynchronous sync (src/runtime/group-commit.ts). */
import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../src/runtime/group-commit.js';

/** A sync whose runs the test finishes by hand. */
function manualSync() {
  const runs: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  let running = 0;
  let maxRunning = 0;
  const sync = () =>
    new Promise<void>((resolve, reject) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      runs.push({
        resolve: () => (running--, resolve()),
        reject: (e) => (running--, reject(e)),
      });
    });
  return { sync, runs, max: () => maxRunning };
}
const turn = () => new Promise((r) => setImmediate(r));

describe('GroupCommit', () => {
  it('callers of one turn share one sync; callers during a sync share the next, started when it ends; never two at once', async () => {
    const m = manualSync();
    const g = new GroupCommit(m.sync);
    const first = [g.request(), g.request(), g.request()];
    await turn();
    expect(m.runs).toHaveLength(1);
    const second = [g.request(), g.request()]; // while the first runs
    await turn();
    expect(m.runs).toHaveLength(1); // not started: the first is still running
    let firstDone = false;
    void Promise.all(first).then(() => (firstDone = true));
    m.runs[0]!.resolve();
    await turn();
    expect(firstDone).toBe(true);
    expect(m.runs).toHaveLength(2); // the second batch's sync started when the first ended
    let secondDone = false;
    void Promise.all(second).then(() => (secondDone = true));
    await turn();
    expect(secondDone).toBe(false); // its own sync has not ended
    m.runs[1]!.resolve();
    await Promise.all(second);
    expect(m.max()).toBe(1);
    expect(g.busy).toBe(false);
  });

  it('a failed sync rejects its callers only; the next batch gets a sync of its own', async () => {
    const m = manualSync();
    const g = new GroupCommit(m.sync);
    const a = g.request();
    await turn();
    const b = g.request();
    m.runs[0]!.reject(new Error('EIO'));
    await expect(a).rejects.toThrow('EIO');
    await turn();
    m.runs[1]!.resolve();
    await expect(b).resolves.toBeUndefined();
  });

  it('idle() waits for the running sync and the one queued behind it', async () => {
    const m = manualSync();
    const g = new GroupCommit(m.sync);
    void g.request();
    await turn();
    void g.request();
    let idle = false;
    void g.idle().then(() => (idle = true));
    m.runs[0]!.resolve();
    await turn();
    expect(idle).toBe(false);
    m.runs[1]!.resolve();
    await turn();
    expect(idle).toBe(true);
    await expect(g.idle()).resolves.toBeUndefined();
  });

  it('busy while a sync only waits to start, and while one only runs; idle() waits for a lone running sync', async () => {
    const m = manualSync();
    const g = new GroupCommit(m.sync);
    expect(g.busy).toBe(false);
    void g.request();
    expect(g.busy).toBe(true); // queued, not started yet
    await turn();
    expect(m.runs).toHaveLength(1);
    expect(g.busy).toBe(true); // running, nothing queued
    let idle = false;
    void g.idle().then(() => (idle = true));
    await turn();
    expect(idle).toBe(false);
    m.runs[0]!.resolve();
    await turn();
    expect(idle).toBe(true);
    expect(g.busy).toBe(false);
  });

  it('a synchronous sync that throws rejects too', async () => {
    const g = new GroupCommit(() => {
      throw new Error('EBADF');
    });
    await expect(g.request()).rejects.toThrow('EBADF');
  });
});
