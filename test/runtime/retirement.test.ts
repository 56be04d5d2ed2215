/**
 * Retirement (src/runtime/retirement.ts): a detached endpoint leaves the store and is counted —
 * also when the process died after its last outcome but before its settled snapshot record.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedCrash } from '../../src/adapters/faults.js';
import { memoryWorld } from '../support/memory-world.js';

describe('retirement', () => {
  it('endpoints detached right before a crash (no snapshot record) are retired and counted on reopening', async () => {
    const w = memoryWorld();
    const s1 = await w.open();
    for (const idx of [0, 1, 2]) s1.createEndpoint({ idx, mac: `02:00:00:00:00:0${idx + 1}` });
    await s1.hotDetach('ep0'); // retired normally
    expect(s1.retired).toBe(1);
    await s1.close();
    // ep1 and ep2: the process dies as each detach's settled snapshot record is about to be written
    const s2 = await w.open({ hook: (r) => (r.k === 'snapshot' && r.snapshot.status === 'done' ? 'crash-before' : 'ok') });
    await expect(s2.hotDetach('ep1')).rejects.toBeInstanceOf(SimulatedCrash);
    w.crash();
    const s3 = await w.open({ hook: (r) => (r.k === 'snapshot' && r.snapshot.status === 'done' ? 'crash-before' : 'ok') });
    await expect(s3.hotDetach('ep2')).rejects.toBeInstanceOf(SimulatedCrash);
    w.crash();
    const s4 = await w.open();
    expect(s4.list()).toEqual([]);
    expect(s4.retired).toBe(3);
    s4.checkpoint();
    await s4.close();
    const s5 = await w.open();
    expect(s5.retired).toBe(3);
    await s5.close();
  });
});
