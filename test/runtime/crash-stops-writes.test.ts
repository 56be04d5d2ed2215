/**
 * A simulated crash is the death of the process: from the adapter call that "crashed" on, the
 * store writes nothing more — also from the recoveries running beside it — so the model tests only
 * ever see logs a real process could leave. (A crash in an effect already failed the journal at
 * once: the driver does it.)
 */
import { describe, expect, it } from 'vitest';
import { SimulatedCrash } from '../../src/adapters/faults.js';
import { memoryWorld } from '../support/memory-world.js';

describe('a simulated crash stops every write', () => {
  it('a crash in one endpoint’s recovery probe: the endpoints recovered beside it write nothing after it', async () => {
    const w = memoryWorld();
    // two endpoints left in an attach step by a crash
    const s1 = await w.open({ faults: (c) => (c.method === 'setUp' ? 'crash-before' : 'ok') });
    s1.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    s1.createEndpoint({ idx: 1, mac: '02:00:00:00:00:02' });
    await Promise.allSettled([s1.hotAttach('ep0'), s1.hotAttach('ep1')]);
    w.crash();
    const before = w.records().length;
    // recovery probes both at once; the first probe "kills" the process
    let probes = 0;
    await expect(w.open({ faults: (c) => (c.method === 'probeLink' && probes++ === 0 ? 'crash-before' : 'ok') })).rejects.toBeInstanceOf(SimulatedCrash);
    expect(probes).toBe(2); // the other endpoint's probe ran beside it
    expect(w.records().slice(before)).toEqual([]);
  });
});
