/**
 * When the store writes a checkpoint by itself (src/runtime/checkpointer.ts): every `every`
 * records, when the active segment is full (so that it rotates and retention can bound the
 * history), never when nothing was appended, and never once the log failed.
 */
import { describe, expect, it } from 'vitest';
import { MemoryLogStore } from '../../src/log/index.js';
import { DEFAULT_RETENTION, MIN_SEGMENT_BYTES } from '../../src/log/retention.js';
import { StoreFailedError } from '../../src/runtime/errors.js';
import { Tapstore } from '../../src/runtime/tapstore.js';
import { memoryWorld } from '../support/memory-world.js';

const retention = { ...DEFAULT_RETENTION, segmentBytes: MIN_SEGMENT_BYTES };
const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

/** A store whose active segment was filled by create records (which write no checkpoint), then left without closing. */
async function fullSegment() {
  const w = memoryWorld();
  const s = await w.open({ retention });
  const header = w.medium.log.length; // the active segment's records start after its header
  for (let i = 0; w.medium.log.length - header < MIN_SEGMENT_BYTES; i++) s.createEndpoint({ idx: i, mac: `02:00:00:00:01:${(i + 16).toString(16)}` });
  expect(w.medium.checkpoint).toBeNull();
  return { w, s };
}

describe('Checkpointer', () => {
  it('a full active segment gets a checkpoint long before `every` records, and rotates', async () => {
    const { w, s } = await fullSegment();
    await s.close();
    const cp = MemoryLogStore.open(w.medium, { readOnly: true }).readCheckpoint()!;
    expect(cp).not.toBeNull();
    expect(Object.keys(cp.endpoints).length).toBeGreaterThan(10);
    expect(w.medium.sealed()).toHaveLength(1);
    expect(w.medium.log.length).toBeLessThan(MIN_SEGMENT_BYTES);
  });

  it('a reader of a store whose segment is full (nothing appended since) closes without writing', async () => {
    const { w } = await fullSegment(); // the process died: no close
    const log = w.medium.log;
    // as `tapstate status` opens it (src/store/open-store.ts): a read-only log, no recovery
    const reader = await Tapstore.open({ log: MemoryLogStore.open(w.medium, { readOnly: true, retention }), adapters: { netlink: w.kernel, hypervisor: w.hypervisor }, recover: false });
    expect(reader.list().length).toBeGreaterThan(10);
    await reader.close();
    expect(w.medium.checkpoint).toBeNull();
    expect(w.medium.log.equals(log)).toBe(true);
    // a writer with nothing to recover does not checkpoint either: a checkpoint follows appended records
    const writer = await w.open({ retention });
    expect(writer.recovery.endpoints).toEqual([]);
    await writer.close();
    expect(w.medium.checkpoint).toBeNull();
    expect(w.medium.sealed()).toEqual([]);
  });

  it('once a log write failed, no checkpoint is written (it would claim records the log never got)', async () => {
    const w = memoryWorld();
    const s = await w.open();
    s.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    s.checkpoint();
    const before = w.medium.checkpoint;
    w.medium.failNextWrite = { afterBytes: 3, error: enospc() };
    expect(() => s.createEndpoint({ idx: 1, mac: '02:00:00:00:00:02' })).toThrow(StoreFailedError);
    s.checkpoint();
    await s.close();
    expect(w.medium.checkpoint!.equals(before!)).toBe(true);
  });
});
