/**
 * Fuzz target 4: the persist.json loader. Mutated upstream documents (v1 and 2.x shapes: values
 * replaced by arbitrary JSON, keys deleted or added, arrays shuffled) are loaded or refused with
 * PersistFormatError — and a refused document names a field.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PersistFormatError, parsePersistNetwork, toPersistNetwork } from '../../src/persist/persist-json.js';
import { FUZZ_SECONDS, fuzz, onlyTyped } from './budget.js';

const eps = [
  { name: 'eth0', tapName: 'tap0_kata', hardAddr: '02:00:00:00:00:01' },
  { name: 'eth1', tapName: 'tap1_kata', hardAddr: '02:00:00:00:00:02' },
];
const DOCS = [
  toPersistNetwork({ netnsPath: '/run/netns/cni-1', netnsCreated: true }, eps, 'v1'),
  toPersistNetwork({ netnsPath: '/run/netns/cni-2', netnsCreated: false }, eps, 'v2'),
  { ...toPersistNetwork({ netnsPath: '/run/netns/cni-3', netnsCreated: true }, eps, 'v1'), Endpoints: [{ Type: 'veth', Veth: {} }] },
];

type Edit = { path: number[]; op: 'replace' | 'delete' | 'add'; value: unknown; key: string };
const editArb: fc.Arbitrary<Edit> = fc.record({
  path: fc.array(fc.nat(), { maxLength: 6 }),
  op: fc.constantFrom('replace', 'delete', 'add'),
  value: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant(null), fc.constant(''), fc.constant(-1), fc.constant('tuntap'), fc.string()),
  key: fc.constantFrom('Type', 'Name', 'HardAddr', 'Tuntap', 'Endpoints', 'NetNsPath', '__proto__', 'x'),
});

/** Apply an edit at a path of child indexes (each index picks a key/element, wrapping). */
function apply(doc: unknown, e: Edit): unknown {
  const root = structuredClone(doc);
  let node: unknown = root;
  let parent: Record<string, unknown> | unknown[] | null = null;
  let slot: string | number | null = null;
  for (const i of e.path) {
    if (typeof node !== 'object' || node === null) break;
    const keys = Array.isArray(node) ? node.map((_, k) => k) : Object.keys(node);
    if (keys.length === 0) break;
    const k = keys[i % keys.length]!;
    parent = node as Record<string, unknown>;
    slot = k;
    node = (node as Record<string | number, unknown>)[k];
  }
  if (e.op === 'add' && typeof node === 'object' && node !== null && !Array.isArray(node)) {
    Object.defineProperty(node, e.key, { value: e.value, enumerable: true, writable: true, configurable: true });
    return root;
  }
  if (parent === null || slot === null) return e.op === 'replace' ? e.value : root;
  if (e.op === 'delete') {
    if (Array.isArray(parent)) parent.splice(slot as number, 1);
    else delete (parent as Record<string, unknown>)[slot];
  } else (parent as Record<string | number, unknown>)[slot] = e.value;
  return root;
}

describe(`fuzz: persist.json loader (${FUZZ_SECONDS} s)`, () => {
  it('mutated upstream documents: loaded, or refused with PersistFormatError naming a field', async () => {
    await fuzz(
      'persist/mutations',
      fc.property(fc.constantFrom(...DOCS.keys()), fc.array(editArb, { minLength: 1, maxLength: 4 }), fc.boolean(), (i, edits, viaJson) => {
        let doc: unknown = DOCS[i];
        for (const e of edits) doc = apply(doc, e);
        if (viaJson) doc = JSON.parse(JSON.stringify(doc) ?? 'null');
        try {
          const net = parsePersistNetwork(doc);
          expect(['v1', 'v2']).toContain(net.shape);
        } catch (e) {
          const err = onlyTyped(e, [PersistFormatError], 'parsePersistNetwork') as PersistFormatError;
          expect(typeof err.field).toBe('string');
          expect(err.rule.length).toBeGreaterThan(0);
        }
      }),
      0.7,
    );
  });

  it('arbitrary JSON: only PersistFormatError', async () => {
    await fuzz(
      'persist/json',
      fc.property(fc.jsonValue({ maxDepth: 4 }), (doc) => {
        try {
          parsePersistNetwork(doc);
        } catch (e) {
          onlyTyped(e, [PersistFormatError], 'parsePersistNetwork');
        }
      }),
      0.3,
    );
  });
});
