/**
 * The compact checkpoint context (src/runtime/compact-context.ts) stores only what differs from
 * the reference a fresh endpoint of the same sandbox, id and idx derives, and expands it back
 * exactly, checked by hash. What a checkpoint holds is part of the store's size on disk (#14):
 * these tests pin the delta itself, not only the round trip.
 */
import { describe, expect, it } from 'vitest';
import { initialContext, type EndpointInput } from '../../machines/index.js';
import { contextRef, sameRef, storedContext, storedSnapshot } from '../../src/runtime/compact-context.js';
import { NonDeterminismError } from '../../src/runtime/errors.js';
import type { SandboxConfig } from '../../src/runtime/sandbox-config.js';

const sandbox = { netnsPath: '/run/netns/cc', netnsCreated: true, vcpus: 2, vhost: false } as unknown as SandboxConfig;
const ref = contextRef(sandbox);
const input = (over: Partial<EndpointInput> = {}): EndpointInput => ({ mac: '02:00:00:00:00:09', ...ref, id: 'ep1', idx: 3, ...over }) as EndpointInput;

describe('contextRef', () => {
  it('holds the sandbox defaults a store fills in; multiQueue only when the sandbox turns it off', () => {
    expect(ref).toEqual({ netnsPath: '/run/netns/cc', netnsCreated: true, vcpus: 2, vhost: false });
    expect(contextRef({ ...sandbox, multiQueue: false } as SandboxConfig)).toEqual({ ...ref, multiQueue: false });
    expect(contextRef({ ...sandbox, multiQueue: true } as SandboxConfig)).not.toHaveProperty('multiQueue');
  });
});

describe('sameRef', () => {
  it('keeps the shared object when the defaults are equal, else takes the new one', () => {
    const same = { ...ref };
    expect(sameRef(ref, same)).toBe(ref);
    const other = { ...ref, vcpus: 4 };
    expect(sameRef(ref, other)).toBe(other);
    expect(sameRef(null, same)).toBe(same);
    expect(sameRef(undefined, same)).toBe(same);
  });
});

describe('storedSnapshot / storedContext', () => {
  it('a fresh endpoint stores only its idx and its MAC (everything else derives), and expands exactly', () => {
    const ctx = initialContext(input());
    const s = storedSnapshot(ref, 'ep1', 'created', 'active', ctx);
    expect(s.context).toBeUndefined();
    expect(JSON.parse(s.delta!)).toEqual({ idx: 3, mac: '02:00:00:00:00:09' });
    expect(s.h).toMatch(/^[0-9a-f]{8}$/);
    expect(storedContext(s, 'ep1', ref)).toEqual(ctx);
  });

  it('a changed field, nested or not, is in the delta, and only it', () => {
    const ctx = { ...initialContext(input()), mtu: 9000, progress: { ...initialContext(input()).progress, tap: true } };
    const s = storedSnapshot(ref, 'ep1', 'hotAttached', 'active', ctx);
    expect(JSON.parse(s.delta!)).toEqual({ idx: 3, mac: '02:00:00:00:00:09', mtu: 9000, progress: ctx.progress });
    expect(storedContext(s, 'ep1', ref)).toEqual(ctx);
  });

  it('a field the reference lacks goes into the delta', () => {
    const ctx = { ...initialContext(input()), extra: 1 };
    const s = storedSnapshot(ref, 'ep1', 'created', 'active', ctx);
    expect(JSON.parse(s.delta!)).toMatchObject({ extra: 1 });
    expect(storedContext(s, 'ep1', ref)).toEqual(ctx);
  });

  it('a context missing a reference field, or without a numeric idx, is stored whole', () => {
    const { tapName: _drop, ...missing } = initialContext(input()) as unknown as Record<string, unknown>;
    const a = storedSnapshot(ref, 'ep1', 'created', 'active', missing);
    expect(a.delta).toBeUndefined();
    expect(JSON.parse(a.context as string)).toEqual(missing);
    expect(storedContext(a, 'ep1', ref)).toEqual(missing);
    const b = storedSnapshot(ref, 'ep1', 'created', 'active', { ...initialContext(input()), idx: 'x' });
    expect(b.delta).toBeUndefined();
    expect(storedContext({ value: 'created', status: 'active', context: { a: 1 } } as never, 'ep1', ref)).toEqual({ a: 1 });
  });

  it('a reference the input cannot be built from stores the context whole', () => {
    const bad = { ...ref, vcpus: -1 };
    const s = storedSnapshot(bad, 'ep1', 'created', 'active', initialContext(input()));
    expect(s.delta).toBeUndefined();
  });

  it('expanding fails loudly: no reference, another reference, a wrong hash', () => {
    const s = storedSnapshot(ref, 'ep1', 'created', 'active', initialContext(input()));
    const caught = (f: () => unknown): NonDeterminismError => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(NonDeterminismError);
        return e as NonDeterminismError;
      }
      throw new Error('did not throw');
    };
    const noRef = caught(() => storedContext(s, 'ep1', null, 7));
    expect(noRef).toMatchObject({ seq: 7, endpoint: 'ep1', recorded: { delta: s.delta } });
    expect(noRef.replayed).toMatch(/no reference context/);
    expect(() => storedContext(s, 'ep1', { ...ref, vcpus: 4 })).toThrow(NonDeterminismError);
    const badHash = caught(() => storedContext({ ...s, h: '00000000' }, 'ep1', ref, 9));
    expect(badHash).toMatchObject({ seq: 9, endpoint: 'ep1', recorded: { h: '00000000' }, replayed: { h: s.h } });
    expect(() => storedContext(s, 'ep2', ref)).toThrow(NonDeterminismError);
  });
});
