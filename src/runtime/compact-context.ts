/**
 * Compact checkpoint contexts (checkpoint version 2, docs/log-format.md). Most of an endpoint's
 * context is derivable: what a fresh endpoint of the same sandbox, id and idx would hold (its
 * names, ids, netns, queues, defaults). The checkpoint stores once, as `ref`, the input defaults
 * the store fills in (the sandbox's), and for each endpoint only `idx` and the fields that differ
 * from that reference (`delta`), with `h`, the crc32 of the whole context's JSON (the hash of
 * the state stamp): expanding checks it, so a build that derived a different reference fails
 * loudly instead of restoring a wrong context. A context that does not round-trip exactly (key
 * order, a field the reference lacks) is stored whole, as in version 1.
 */
import { crc32 } from 'node:zlib';
import { initialContext, type EndpointInput } from '../../machines/index.js';
import type { CheckpointEndpoint } from '../log/records.js';
import { NonDeterminismError } from './errors.js';
import type { SandboxConfig } from './sandbox-config.js';

/** The input defaults a checkpoint's compact contexts are relative to. */
export type ContextRef = Record<string, unknown>;

type Stored = CheckpointEndpoint['snapshot'];
type Ctx = Record<string, unknown>;

/** The input defaults a store fills in from its sandbox (as `createEndpoint` does). */
export function contextRef(sandbox: SandboxConfig): ContextRef {
  return {
    netnsPath: sandbox.netnsPath,
    netnsCreated: sandbox.netnsCreated,
    vcpus: sandbox.vcpus,
    vhost: sandbox.vhost,
    ...(sandbox.multiQueue === false ? { multiQueue: false } : {}),
  };
}

/** `a` if it holds the same defaults as `b` (one object shared by every slot), else `b`. */
export function sameRef(a: ContextRef | null | undefined, b: ContextRef): ContextRef {
  return a && JSON.stringify(a) === JSON.stringify(b) ? a : b;
}

const hex8 = (n: number): string => n.toString(16).padStart(8, '0');

/** A placeholder guest MAC for the reference (an input needs one; an endpoint's own is in its delta). */
const REF_MAC = '02:00:00:00:00:00';

function reference(ref: ContextRef, id: string, idx: unknown): Ctx | null {
  if (typeof idx !== 'number') return null;
  try {
    return initialContext({ mac: REF_MAC, ...ref, id, idx } as EndpointInput) as unknown as Ctx;
  } catch {
    return null; // an input the reference cannot be built from: stored whole
  }
}

/**
 * The stored form of a snapshot for a checkpoint: compact (`delta` + `h`) when the context
 * round-trips through the reference exactly, else whole (`context`, an embedded JSON string).
 */
export function storedSnapshot(ref: ContextRef, id: string, value: unknown, status: string, context: unknown): Stored {
  const json = JSON.stringify(context);
  const ctx = context as Ctx;
  const r = reference(ref, id, ctx.idx);
  if (r) {
    const d: Ctx = { idx: ctx.idx };
    for (const k of Object.keys(ctx)) if (!(k in r) || JSON.stringify(ctx[k]) !== JSON.stringify(r[k])) d[k] = ctx[k];
    // the exact check: a context missing a reference field, or in another key order, is stored whole
    if (JSON.stringify({ ...r, ...d }) === json) return { value, status, delta: JSON.stringify(d), h: hex8(crc32(json)) };
  }
  return { value, context: json, status };
}

/** The whole context of a stored snapshot (compact ones expanded and checked against `h`). */
export function storedContext(s: Stored, id: string, ref: ContextRef | null | undefined, lastSeq = 0): unknown {
  if (s.delta === undefined) return typeof s.context === 'string' ? JSON.parse(s.context) : s.context;
  const d = JSON.parse(s.delta) as Ctx;
  const r = ref ? reference(ref, id, d.idx) : null;
  if (!r) throw new NonDeterminismError(lastSeq, id, { delta: s.delta }, 'no reference context (checkpoint ref missing or unusable)');
  const ctx = { ...r, ...d };
  const h = hex8(crc32(JSON.stringify(ctx)));
  if (h !== s.h) throw new NonDeterminismError(lastSeq, id, { h: s.h }, { h });
  return ctx;
}
