/**
 * Fuzz target 6: `Tapstore.load` with hostile persist.json documents — NetNsPath naming another
 * namespace, the host's (`""`), `/proc/self/ns/net`, traversals and junk; tap and link names with
 * `/`, `..`, newlines, other devices' names; duplicate, multicast and malformed MACs; deep
 * nesting and wrong types anywhere. The in-memory kernel records every call (through
 * `withFaults` as a pure recorder). After each document is loaded (or refused with a typed
 * error) and every loaded endpoint hot-detached and cleaned up, it asserts that no kernel call
 * named a netns other than the store's or a link other than a `tap<idx>_kata`, that every call
 * that changes something named the tap of a loaded endpoint, and that the other namespaces (the
 * host's included) are exactly as they were.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { withFaults, type FaultCall } from '../../src/adapters/faults.js';
import { MemoryHypervisor, MemoryKernel } from '../../src/adapters/memory/index.js';
import { MemoryLogMedium, MemoryLogStore } from '../../src/log/index.js';
import { EndpointInputError } from '../../machines/index.js';
import { PersistFormatError } from '../../src/persist/persist-json.js';
import { DuplicateEndpointError, EndpointOperationError, InvalidCommandError, NetnsMismatchError, UnknownEndpointError } from '../../src/runtime/errors.js';
import { Tapstore } from '../../src/runtime/tapstore.js';
import { FUZZ_SECONDS, fuzz, onlyTyped } from './budget.js';

const STORE_NS = '/run/netns/store';
const OTHER_NS = '/run/netns/other';

const netnsArb = fc.oneof(
  { weight: 12, arbitrary: fc.constant(STORE_NS) },
  { weight: 1, arbitrary: fc.constantFrom(OTHER_NS, '', '/proc/self/ns/net', '/proc/1/ns/net', `${STORE_NS}/../other`, `${STORE_NS}/`, `${STORE_NS}\u0000`, '/run/netns/STORE', 'store', '../../etc/passwd') },
  { weight: 1, arbitrary: fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.jsonValue({ maxDepth: 3 })) },
);
const idxArb = fc.oneof(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 9_999_999 }));
const tapNameArb = fc.oneof(
  { weight: 12, arbitrary: idxArb.map((i) => `tap${i}_kata`) },
  { weight: 1, arbitrary: fc.constantFrom('eth0', 'lo', 'tap0_kata/../eth0', 'tap01_kata', 'tap1_kata\n', '../../x', 'tap-1_kata', 'tap1_kata ', 'TAP1_KATA', 'tap99999999_kata') },
  { weight: 1, arbitrary: fc.string() },
);
const ifNameArb = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 99 }).map((i) => `eth${i}`) },
  fc.constantFrom('eth0', 'eth1', 'eth2', 'lo', 'tap0_kata', '', '../eth0', 'a/b', 'x'.repeat(16), 'eth0\n'),
  fc.string({ maxLength: 20 }),
) as fc.Arbitrary<string>;
const macArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('02:00:00:00:00:01', '02:00:00:00:00:02', '02:AA:BB:CC:DD:01', '5a:94:ef:e4:0c:ee') },
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 255 }).map((b) => `02:00:00:00:01:${b.toString(16).padStart(2, '0')}`) },
  { weight: 1, arbitrary: fc.constantFrom('', '01:00:5e:00:00:01', 'ff:ff:ff:ff:ff:ff', '00:00:00:00:00:00', '02:00:00:00:00', 'zz:00:00:00:00:01') },
  { weight: 1, arbitrary: fc.oneof(fc.string(), fc.constant(null), fc.integer()) },
);
/** Junk nested deep where an object was expected. */
const nestArb = fc.letrec((tie) => ({ node: fc.oneof({ depthSize: 'small' }, fc.jsonValue({ maxDepth: 1 }), fc.dictionary(fc.string({ maxLength: 4 }), tie('node'), { maxKeys: 3 })) })).node;

const endpointArb = fc.oneof(
  { weight: 12, arbitrary: fc.record({ name: ifNameArb, tap: tapNameArb, mac: macArb }).map((e) => ({ Type: 'tuntap', Tuntap: { TuntapInterface: { Name: e.name, TAPIface: { Name: e.tap, HardAddr: e.mac, Addrs: null } } } })) },
  { weight: 1, arbitrary: fc.record({ Type: fc.constantFrom('tuntap', 'veth', 'macvtap', 'physical'), Tuntap: nestArb }) },
  { weight: 1, arbitrary: nestArb },
);
const docArb = fc.record({
  v1: fc.boolean(),
  netns: netnsArb,
  created: fc.oneof({ weight: 5, arbitrary: fc.boolean() }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) }),
  endpoints: fc.array(endpointArb, { maxLength: 4 }),
}).map((d) =>
  d.v1
    ? { NetNsPath: d.netns, NetmonPID: 0, NetNsCreated: d.created, Endpoints: d.endpoints }
    : { NetworkID: d.netns, Endpoints: d.endpoints, NetworkCreated: d.created },
);

/** A world: the store's netns, another one and the host's, each holding taps and an eth0. */
async function world(): Promise<MemoryKernel> {
  const kernel = new MemoryKernel();
  kernel.addNetns(STORE_NS);
  kernel.addNetns(OTHER_NS);
  for (const ns of [STORE_NS, OTHER_NS, '']) {
    kernel.addDummyLink(ns, 'eth0', { mac: '02:aa:bb:cc:dd:01' });
    for (const i of [0, 1, 2]) {
      const { fds } = await kernel.createTap({ netns: ns, name: `tap${i}_kata`, queues: 2 });
      await kernel.closeFds(fds);
    }
  }
  return kernel;
}

/** Netlink calls that change nothing. */
const READ_ONLY = new Set(['getLink', 'listLinks', 'probeLink', 'netnsExists', 'hasIngressQdisc', 'listRedirects']);

// UnknownEndpointError: a hot-detach that ends detached retires the endpoint (its cleanup then names no endpoint)
const TYPED = [PersistFormatError, EndpointInputError, NetnsMismatchError, DuplicateEndpointError, EndpointOperationError, InvalidCommandError, UnknownEndpointError];

describe(`fuzz: load with hostile documents (${FUZZ_SECONDS} s)`, () => {
  it('never touches a netns but the store\'s, nor a link but tap<idx>_kata of a loaded endpoint', async () => {
    let loaded = 0;
    const runs = await fuzz(
      'load/hostile',
      fc.asyncProperty(docArb, async (doc) => {
        const kernel = await world();
        const outside = JSON.stringify(kernel.snapshot().netns.filter((n) => n.path !== STORE_NS));
        const calls: FaultCall[] = [];
        const netlink = withFaults(kernel, 'netlink', (c) => (calls.push(c), 'ok'));
        const hypervisor = new MemoryHypervisor({ kernel });
        const log = MemoryLogStore.create(new MemoryLogMedium(), { sandbox: { netnsPath: STORE_NS, netnsCreated: true, vcpus: 2, vhost: false } });
        const store = await Tapstore.open({ log, adapters: { netlink, hypervisor } });
        const taps = new Set<string>();
        try {
          const r = await store.load(doc);
          if (r.endpoints.length) loaded++;
          for (const v of r.endpoints) {
            taps.add(v.tapName);
            expect(v.netnsPath).toBe(STORE_NS);
          }
        } catch (e) {
          onlyTyped(e, TYPED, 'load');
        }
        for (const v of store.list()) {
          taps.add(v.tapName);
          for (const op of ['hotDetach', 'cleanup'] as const) {
            try {
              await store[op](v.id);
            } catch (e) {
              onlyTyped(e, TYPED, op);
            }
          }
        }
        await store.close();
        for (const c of calls) {
          if (c.method === 'closeFds' || c.method === 'close') continue;
          const a0 = c.args[0];
          const netns = typeof a0 === 'object' && a0 !== null ? (a0 as { netns: string }).netns : a0;
          expect(netns, `${c.method}(${JSON.stringify(c.args)})`).toBe(STORE_NS);
          const names =
            typeof a0 === 'object' && a0 !== null
              ? [(a0 as { name?: string; from?: string; to?: string }).name, (a0 as { from?: string }).from, (a0 as { to?: string }).to]
              : c.method === 'listLinks' || c.method === 'netnsExists'
                ? []
                : [c.args[1]];
          for (const name of names.filter((x) => x !== undefined)) {
            // read-only probes may look at any tap<idx>_kata of the document (load plans before it
            // refuses); anything that changes the world only at the taps of loaded endpoints
            const ok = /^tap\d+_kata$/.test(name as string) && (READ_ONLY.has(c.method) || taps.has(name as string));
            expect(ok, `${c.method}(${JSON.stringify(c.args)})`).toBe(true);
          }
        }
        expect(JSON.stringify(kernel.snapshot().netns.filter((n) => n.path !== STORE_NS))).toBe(outside);
      }),
    );
    // not vacuous: a good share of the documents were loaded (and their endpoints detached)
    console.log(`load/hostile: ${loaded} of ${runs} documents loaded endpoints`);
    expect(loaded).toBeGreaterThan(runs / 20);
  });
});
