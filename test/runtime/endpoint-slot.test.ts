/**
 * An endpoint slot's checkpoint form (src/runtime/endpoint-slot.ts): always relative to the
 * reference of the checkpoint being written — a compact form relative to another reference is
 * expressed again, never copied — and computed once per snapshot, so that checkpointing endpoints
 * that did not change (or were never even resolved since opening) costs nothing.
 */
import { describe, expect, it } from 'vitest';
import { EndpointSlot } from '../../src/runtime/endpoint-slot.js';
import { contextRef, storedContext, storedSnapshot } from '../../src/runtime/compact-context.js';
import { createFromInput } from '../../src/runtime/replay.js';
import type { SandboxConfig } from '../../src/runtime/sandbox-config.js';
import type { EndpointInput } from '../../machines/index.js';

const sandbox = { netnsPath: '/run/netns/slot', netnsCreated: true, vcpus: 2, vhost: false } as unknown as SandboxConfig;
const refA = contextRef(sandbox);
const refB = contextRef({ ...sandbox, vcpus: 4 } as SandboxConfig);
// an endpoint created with sandbox A's defaults, idx 3
const snap = createFromInput({ ...refA, mac: '02:00:00:00:00:09', id: 'ep1', idx: 3 } as EndpointInput);
const fresh = () => EndpointSlot.of({ id: 'ep1', snapshot: snap, pending: null, lastSeq: 7, replayed: 0 });
/** A slot restored (unresolved) from a checkpoint entry compact relative to `ref`. */
const restored = (ref: typeof refA) => {
  const entry = { snapshot: storedSnapshot(ref, 'ep1', snap.value, snap.status, snap.context), pending: null, lastSeq: 7 };
  expect(entry.snapshot.delta).toBeDefined();
  return { entry, slot: EndpointSlot.stored('ep1', entry, ref) };
};
const contextOf = (s: ReturnType<EndpointSlot['toCheckpoint']>, ref: typeof refA) => storedContext(s.snapshot, 'ep1', ref);

describe('EndpointSlot.toCheckpoint', () => {
  it('an untouched compact entry of the same reference is written back as it was read', () => {
    const { entry, slot } = restored(refA);
    expect(slot.toCheckpoint(refA).snapshot).toBe(entry.snapshot);
    expect(slot.toCheckpoint(refA)).toEqual(entry);
  });

  it('an untouched compact entry of another reference is expressed again against the new one', () => {
    const { entry, slot } = restored(refA);
    const cp = slot.toCheckpoint(refB);
    expect(cp.snapshot.delta).not.toBe(entry.snapshot.delta);
    expect(contextOf(cp, refB)).toEqual(snap.context);
    // and back: each checkpoint's form is its own reference's
    expect(contextOf(slot.toCheckpoint(refA), refA)).toEqual(snap.context);
  });

  it('an untouched entry read whole is stored compact when it can be (whatever wrote it whole)', () => {
    const whole = { snapshot: { value: snap.value, context: JSON.stringify(snap.context), status: snap.status }, pending: null, lastSeq: 7 };
    const cp = EndpointSlot.stored('ep1', whole, refA).toCheckpoint(refA);
    expect(cp.snapshot).not.toHaveProperty('context');
    expect(cp.snapshot.delta).toBeDefined();
    expect(contextOf(cp, refA)).toEqual(snap.context);
  });

  it('a snapshot unchanged since the last checkpoint reuses its form; another reference gets its own', () => {
    const slot = fresh();
    const a = slot.toCheckpoint(refA).snapshot;
    expect(slot.toCheckpoint(refA).snapshot).toBe(a);
    const b = slot.toCheckpoint(refB).snapshot;
    expect(contextOf({ snapshot: b, pending: null, lastSeq: 7 }, refB)).toEqual(snap.context);
    expect(contextOf(slot.toCheckpoint(refA), refA)).toEqual(snap.context);
    // a new snapshot: a new form
    slot.setSnapshot(createFromInput({ ...refA, mac: '02:00:00:00:00:0a', id: 'ep1', idx: 3 } as EndpointInput));
    expect(contextOf(slot.toCheckpoint(refA), refA)).toMatchObject({ mac: '02:00:00:00:00:0a' });
  });
});
