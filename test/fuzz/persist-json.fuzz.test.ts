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

describe(`fuzz: hostile persist.json documents against a world (${FUZZ_SECONDS} s)`, () => {
  it('load + hot-detach/detach of every loaded endpoint never removes a link that is not a tap<idx>_kata tuntap', async () => {
    const { memoryWorld, NETNS } = await import('../support/memory-world.js');
    const linkArb = fc.record({ idx: fc.integer({ min: 0, max: 3 }), ifName: fc.constantFrom('eth0', 'tap0', 'victim', 'tap1_kata', 'lo', ''), mac: fc.constantFrom('', '5a:94:ef:e4:0c:ee', '02:00:00:00:00:01', 'zz') });
    await fuzz(
      'persist/hostile-world',
      fc.asyncProperty(fc.array(linkArb, { maxLength: 4 }), fc.array(editArb, { maxLength: 2 }), fc.boolean(), async (eps, edits, tapExists) => {
        const w = memoryWorld();
        // bystanders: a dummy named like a tapstate tap, a real tuntap of someone else, the original link
        w.kernel.addDummyLink(NETNS, 'tap2_kata', { mtu: 1500, mac: '02:00:00:00:00:22' });
        const other = await w.kernel.createTap({ netns: NETNS, name: 'victim', queues: 1 });
        await w.kernel.closeFds(other.fds);
        if (tapExists) await w.kernel.closeFds((await w.kernel.createTap({ netns: NETNS, name: 'tap0_kata', queues: 1 })).fds);
        let doc: unknown = {
          NetNsPath: NETNS,
          NetmonPID: 0,
          NetNsCreated: true,
          Endpoints: eps.map((e) => ({ Type: 'tuntap', Tuntap: { TuntapInterface: { Name: e.ifName, TAPIface: { Name: `tap${e.idx}_kata`, HardAddr: e.mac, Addrs: null } } } })),
        };
        for (const e of edits) doc = apply(doc, e);
        const store = await w.open();
        const before = w.kernel.snapshot().netns.flatMap((n) => n.links.map((l) => `${n.path}:${l.name}`));
        try {
          await store.load(doc);
        } catch {
          /* refused: fine */
        }
        for (const v of store.list()) {
          await store.hotDetach(v.id).catch(() => {});
          await store.detach(v.id).catch(() => {});
        }
        const after = new Set(w.kernel.snapshot().netns.flatMap((n) => n.links.map((l) => `${n.path}:${l.name}`)));
        for (const l of before) if (!/:tap[0-9]+_kata$/.test(l) || l.endsWith(':tap2_kata')) expect(after.has(l), `${l} was removed`).toBe(true);
        await store.close();
      }),
      0.5,
    );
  });
});
