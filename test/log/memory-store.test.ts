/** What only the memory store models: a shared medium across instances and power loss. */
import { describe, expect, it } from 'vitest';
import { MemoryLogMedium, MemoryLogStore } from '../../src/log/memory-store.js';
import { hotAttach } from './fixtures.js';

describe('MemoryLogStore', () => {
  it('a power loss keeps exactly what was fdatasynced', () => {
    const m = new MemoryLogMedium();
    const s = MemoryLogStore.create(m, {});
    const recs = hotAttach(1);
    s.append(recs.slice(0, 3), true);
    s.append(recs.slice(3, 6), false);
    expect(m.syncedLength).toBeLessThan(m.log.length);
    m.powerLoss();
    const r = MemoryLogStore.open(m).read();
    expect(r.records.map((p) => p.record.seq)).toEqual([1, 2, 3]);
    expect(r.torn).toBeNull();
  });

  it('two instances over one medium see the same bytes (reopen after a crash)', () => {
    const m = new MemoryLogMedium('mem:test');
    const a = MemoryLogStore.create(m, { x: 1 });
    a.append(hotAttach(1), false);
    const b = MemoryLogStore.open(m, { readOnly: true });
    expect(b.read().records).toHaveLength(7);
    expect(b.read().header.meta).toEqual({ x: 1 });
  });

  it('a failed (partial) write is cut back, so later appends never follow a partial record', () => {
    const m = new MemoryLogMedium();
    const s = MemoryLogStore.create(m, {});
    const recs = hotAttach(1);
    s.append(recs.slice(0, 2), true);
    const end = s.end;
    m.failNextWrite = { afterBytes: 30, error: new Error('ENOSPC') };
    expect(() => s.append(recs.slice(2, 4), true)).toThrow('ENOSPC');
    expect(s.end).toBe(end);
    expect(m.log.length).toBe(end);
    s.append(recs.slice(2), true); // same seqs again: nothing of the failed append was kept
    expect(MemoryLogStore.open(m).read().records.map((p) => p.record.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });
});
