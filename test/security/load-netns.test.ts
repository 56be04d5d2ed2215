/**
 * Issue #9.1 and #9.6 at the library level (in-memory world, every kernel call recorded): a
 * Tapstore acts only in its sandbox's netns, whatever a persist.json document or an endpoint
 * input says, and refuses a second live endpoint with the same MAC or original link.
 */
import { describe, expect, it } from 'vitest';
import { withFaults, type FaultCall } from '../../src/adapters/faults.js';
import { DuplicateEndpointError, NetnsMismatchError } from '../../src/runtime/errors.js';
import { memoryWorld, NETNS } from '../support/memory-world.js';

const OTHER = '/run/netns/other';
const doc = (netns: string, idx: number, mac: string) => ({
  NetNsPath: netns,
  NetmonPID: 0,
  NetNsCreated: true,
  Endpoints: [{ Type: 'tuntap', Tuntap: { TuntapInterface: { Name: `eth${idx}`, TAPIface: { Name: `tap${idx}_kata`, HardAddr: mac, Addrs: null } } } }],
});

describe('Tapstore.load and createEndpoint: the store netns only', () => {
  it("a document naming another netns (or '') is refused, nothing logged, no kernel call; the other netns' tap survives", async () => {
    const w = memoryWorld();
    w.kernel.addNetns(OTHER);
    const { fds } = await w.kernel.createTap({ netns: OTHER, name: 'tap7_kata', queues: 1 });
    await w.kernel.closeFds(fds);
    const calls: FaultCall[] = [];
    const store = await w.open({ faults: (c) => (calls.push(c), 'ok') });
    const before = Buffer.from(w.medium.log);
    await expect(store.load(doc(OTHER, 7, '02:00:00:00:07:01'))).rejects.toBeInstanceOf(NetnsMismatchError);
    await expect(store.load(doc('', 7, '02:00:00:00:07:01'))).rejects.toThrow(/NetNsPath "" is not this store's network namespace/);
    expect(() => store.createEndpoint({ idx: 7, mac: '02:00:00:00:07:01', netnsPath: OTHER })).toThrow(NetnsMismatchError);
    expect(w.medium.log.equals(before)).toBe(true);
    expect(store.list()).toEqual([]);
    expect(calls).toEqual([]);
    expect(w.taps()).toEqual([`${OTHER}:tap7_kata`]);
    // a document of the store's own netns loads, and its endpoint acts there
    const { fds: f2 } = await w.kernel.createTap({ netns: NETNS, name: 'tap3_kata', queues: 2 });
    await w.kernel.closeFds(f2);
    const { endpoints } = await store.load(doc(NETNS, 3, '02:00:00:00:03:01'));
    expect(endpoints.map((e) => e.netnsPath)).toEqual([NETNS]);
    await store.hotDetach(endpoints[0]!.id);
    expect(calls.filter((c) => c.adapter === 'netlink').every((c) => c.args.includes(NETNS) || (c.args[0] as { netns?: string })?.netns === NETNS || c.method === 'closeFds')).toBe(true);
    expect(w.taps()).toEqual([`${OTHER}:tap7_kata`]);
    await store.close();
  });

  it('a document saying NetNsCreated false never lets detach delete the tap, whatever the store says', async () => {
    const w = memoryWorld();
    const store = await w.open();
    const d = { ...doc(NETNS, 2, '02:00:00:00:02:01'), NetNsCreated: false };
    const { fds } = await w.kernel.createTap({ netns: NETNS, name: 'tap2_kata', queues: 2 });
    await w.kernel.closeFds(fds);
    const { endpoints } = await store.load(d);
    expect(store.snapshotOf(endpoints[0]!.id).context.netnsCreated).toBe(false);
    await store.close();
  });

  it('refuses a second live endpoint with the same MAC or original link, naming the holder; a detached one frees them', async () => {
    const w = memoryWorld();
    const store = await w.open();
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01', ifName: 'eth0' });
    expect(() => store.createEndpoint({ idx: 1, mac: '02:00:00:00:00:01' })).toThrow(new DuplicateEndpointError('mac', '02:00:00:00:00:01', 'ep0'));
    expect(() => store.createEndpoint({ idx: 1, mac: '02:00:00:00:00:02', ifName: 'eth0' })).toThrow(/an endpoint with ifName eth0 exists already: ep0/);
    // the default ifName eth<idx> counts too
    store.createEndpoint({ idx: 2, mac: '02:00:00:00:00:03' });
    expect(() => store.createEndpoint({ idx: 3, mac: '02:00:00:00:00:04', ifName: 'eth2' })).toThrow(/ifName eth2 exists already: ep2/);
    await store.hotAttach('ep0');
    await store.hotDetach('ep0');
    expect(store.createEndpoint({ idx: 5, mac: '02:00:00:00:00:01', ifName: 'eth0' }).id).toBe('ep5');
    await store.close();
  });
});
