/**
 * The drive loop (src/runtime/driver.ts) as the log and the checkpoint show it: an outcome —
 * a failure as much as a success — ends the intent it answers, and each outcome records how long
 * its effect ran.
 */
import { describe, expect, it } from 'vitest';
import { performance } from 'node:perf_hooks';
import { NetlinkError } from '../../src/adapters/netlink.js';
import { MemoryLogStore } from '../../src/log/index.js';
import type { LogRecord } from '../../src/log/records.js';
import { EndpointOperationError } from '../../src/runtime/errors.js';
import { memoryWorld, NETNS } from '../support/memory-world.js';

describe('the drive loop', () => {
  it('a failed effect ends its intent: nothing is left in doubt, and the next command starts at attempt 1', async () => {
    const w = memoryWorld();
    let failing = true;
    const store = await w.open({
      faults: (c) => (failing && c.method === 'createTap' ? { fail: new NetlinkError({ op: 'createTap', netns: NETNS, link: 'tap0_kata', errno: 'EPERM', errnoNumber: 1 }) } : 'ok'),
    });
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    const e = await store.hotAttach('ep0').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(EndpointOperationError);
    expect(store.get('ep0')).toMatchObject({ status: 'settled', pendingEffect: null });
    // the checkpoint holds no intent for the settled endpoint (an intent there would be in doubt)
    store.checkpoint();
    expect(MemoryLogStore.open(w.medium, { readOnly: true }).readCheckpoint()!.endpoints.ep0).toMatchObject({ pending: null });
    // a new command is a first attempt, not a retry of the failed one
    failing = false;
    expect((await store.hotAttach('ep0')).state).toBe('hotAttached');
    await store.close();
    const creates = w.records().filter((r): r is LogRecord & { k: 'intent' } => r.k === 'intent' && r.id === 'hotAttach.createTap');
    expect(creates.map((r) => r.attempt)).toEqual([1, 1]);
  });

  it('each outcome records how long its effect ran (never more than the whole command took)', async () => {
    const w = memoryWorld();
    const store = await w.open();
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    const t0 = performance.now();
    await store.hotAttach('ep0');
    const took = performance.now() - t0;
    await store.close();
    const outcomes = w.records().filter((r): r is LogRecord & { k: 'event' } => r.k === 'event' && r.event.type.startsWith('xstate.done.actor.'));
    expect(outcomes).toHaveLength(4);
    for (const o of outcomes) {
      expect(o.ms).toBeGreaterThanOrEqual(0);
      expect(o.ms).toBeLessThanOrEqual(took);
    }
  });
});
