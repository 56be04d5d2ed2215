/**
 * loadPlan and the kept-document record, with fake dependencies (pure, in memory): the netns
 * check comes before any kernel call, an idx in use is refused before any probe, the sandbox's
 * defaults a loaded endpoint takes (never owning a netns the document says it did not create),
 * which probed links are adopted, and the on-disk form of the `persist.network` note.
 */
import { describe, expect, it } from 'vitest';
import { loadPlan, loadRecords } from '../../src/persist/store-persist.js';
import { networkOfRecord, NETWORK_EP, PERSIST_NOTE } from '../../src/persist/persisted-network.js';
import { DuplicateEndpointError, NetnsMismatchError } from '../../src/runtime/errors.js';
import type { LinkInfo, TunInfo } from '../../src/adapters/netlink.js';

const NS = '/run/netns/plan';
const tuntap = (idx: number, mac = `02:00:00:00:00:0${idx}`) => ({
  Type: 'tuntap',
  Tuntap: { TuntapInterface: { Name: `eth${idx}`, TAPIface: { Name: `tap${idx}_kata`, HardAddr: mac, Addrs: null } } },
});
const tun = (mode: TunInfo['mode']): TunInfo => ({ mode, multiQueue: true, persist: true, vnetHdr: true, numQueues: 0 });
const link = (name: string, kind: string, t?: TunInfo): LinkInfo =>
  ({ index: 7, name, mtu: 1500, mac: '02:aa:00:00:00:01', flags: {}, kind, ...(t ? { tun: t } : {}) }) as unknown as LinkInfo;

/** Fake deps that record every kernel call. */
function deps(opts: { links?: Record<string, LinkInfo | null>; netns?: boolean; inUse?: number[] } = {}) {
  const calls: string[] = [];
  return {
    calls,
    deps: {
      freeId: (idx: number, taken: ReadonlySet<string>) => (taken.has(`ep${idx}`) ? `ep${idx}-b` : `ep${idx}`),
      idxInUse: (idx: number) => (opts.inUse ?? []).includes(idx),
      netlink: {
        netnsExists: async (ns: string) => {
          calls.push(`netnsExists ${ns}`);
          return opts.netns ?? true;
        },
        probeLink: async (ns: string, name: string) => {
          calls.push(`probeLink ${ns} ${name}`);
          return opts.links?.[name] ?? null;
        },
      },
    },
  };
}
const sandbox = { netnsPath: NS, netnsCreated: true, vcpus: 2 };

describe('loadPlan: refusals before any kernel call', () => {
  it.each([
    ['v1', { NetNsPath: '/run/netns/other', Endpoints: [tuntap(0)] }, 'NetNsPath'],
    ['2.x', { NetworkID: '/run/netns/other', Endpoints: [tuntap(0)] }, 'NetworkID'],
    ['v1 naming the current netns ("")', { NetNsPath: '', Endpoints: [tuntap(0)] }, 'NetNsPath'],
  ])('a %s document naming another netns: NetnsMismatchError naming its field', async (_what, doc, field) => {
    const d = deps();
    const e = await loadPlan(doc, sandbox, d.deps).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(NetnsMismatchError);
    expect(e).toMatchObject({ field, given: (doc as { NetNsPath?: string; NetworkID?: string }).NetNsPath ?? (doc as { NetworkID: string }).NetworkID, storeNetns: NS });
    expect(d.calls).toEqual([]);
  });

  it('an idx an endpoint of the store uses: DuplicateEndpointError (idx), nothing probed', async () => {
    const d = deps({ inUse: [3] });
    const e = await loadPlan({ NetNsPath: NS, Endpoints: [tuntap(1), tuntap(3)] }, sandbox, d.deps).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DuplicateEndpointError);
    expect(e).toMatchObject({ field: 'idx', value: 3 });
    expect(d.calls).toEqual([]);
  });
});

describe('loadPlan: what a loaded endpoint takes from the sandbox', () => {
  const inputOf = async (sb: Parameters<typeof loadPlan>[1], doc: Record<string, unknown> = {}) =>
    (await loadPlan({ NetNsPath: sb.netnsPath, NetNsCreated: true, Endpoints: [tuntap(0)], ...doc }, sb, deps().deps)).inputs[0]!.input;

  it('the store netns, its vcpus; vhost false unless the sandbox says so; multiQueue only when the sandbox turns it off', async () => {
    expect(await inputOf(sandbox)).toEqual({
      id: 'ep0', idx: 0, ifName: 'eth0', hwAddr: '02:00:00:00:00:00', netnsPath: NS, netnsCreated: true, vcpus: 2, vhost: false, fromPersist: true,
    });
    expect(await inputOf({ ...sandbox, vhost: true, multiQueue: true })).toMatchObject({ vhost: true });
    expect(await inputOf({ ...sandbox, multiQueue: true })).not.toHaveProperty('multiQueue');
    expect(await inputOf({ ...sandbox, multiQueue: false })).toMatchObject({ multiQueue: false, vhost: false });
  });

  it('owns the netns (netnsCreated) only when both the store and the document say it was created', async () => {
    expect((await inputOf(sandbox, { NetNsCreated: true })).netnsCreated).toBe(true);
    expect((await inputOf(sandbox, { NetNsCreated: false })).netnsCreated).toBe(false);
    expect((await inputOf({ ...sandbox, netnsCreated: false }, { NetNsCreated: true })).netnsCreated).toBe(false);
    expect((await inputOf({ ...sandbox, netnsCreated: false }, { NetNsCreated: false })).netnsCreated).toBe(false);
  });

  it('ids: a free one per endpoint, none given twice within the document', async () => {
    const d = deps();
    d.deps.freeId = (idx, taken) => (taken.has('ep') ? `ep-${idx}` : 'ep');
    const plan = await loadPlan({ NetNsPath: NS, Endpoints: [tuntap(0), tuntap(1)] }, sandbox, d.deps);
    expect(plan.inputs.map((i) => i.input.id)).toEqual(['ep', 'ep-1']);
  });
});

describe('loadPlan: which taps exist (adopted as hot-attached)', () => {
  const plan = (links: Record<string, LinkInfo | null>, ns = NS, netns = true) => {
    const d = deps({ links, netns });
    return loadPlan({ NetNsPath: ns, Endpoints: [tuntap(0), tuntap(1), tuntap(2), tuntap(3)] }, { ...sandbox, netnsPath: ns }, d.deps).then((p) => ({ p, calls: d.calls }));
  };

  it('only a TAP-mode tuntap link of that name; a TUN-mode one, one of undetermined mode, or a tuntap without its details is not ours', async () => {
    const { p } = await plan({
      tap0_kata: link('tap0_kata', 'tun', tun('tap')),
      tap1_kata: link('tap1_kata', 'tun', tun('tun')),
      tap2_kata: link('tap2_kata', 'tun', tun('undetermined')),
      tap3_kata: link('tap3_kata', 'tun'),
    });
    expect(p.inputs.map((i) => i.tapExists)).toEqual([true, false, false, false]);
  });

  it('a link whose kind is not tun is never adopted, whatever TUN details the adapter reports with it', async () => {
    const { p } = await plan({ tap0_kata: link('tap0_kata', 'dummy', tun('tap')), tap1_kata: link('tap1_kata', '', tun('tap')), tap2_kata: link('tap2_kata', 'tun', tun('tap')) });
    expect(p.inputs.map((i) => i.tapExists)).toEqual([false, false, true, false]);
  });

  it('a missing netns: nothing probed, nothing adopted', async () => {
    const { p, calls } = await plan({ tap0_kata: link('tap0_kata', 'tun', tun('tap')) }, NS, false);
    expect(p.inputs.map((i) => i.tapExists)).toEqual([false, false, false, false]);
    expect(calls.every((c) => c === `netnsExists ${NS}`)).toBe(true);
  });

  it('the current netns (""): probed directly, no netns lookup', async () => {
    const { p, calls } = await plan({ tap0_kata: link('tap0_kata', 'tun', tun('tap')) }, '', false);
    expect(p.inputs.map((i) => i.tapExists)).toEqual([true, false, false, false]);
    expect(calls).toEqual(['probeLink  tap0_kata', 'probeLink  tap1_kata', 'probeLink  tap2_kata', 'probeLink  tap3_kata']);
  });

  it('other endpoint types: reported by index and type', async () => {
    const p = await loadPlan({ NetNsPath: NS, Endpoints: [{ Type: 'virtual' }, tuntap(0), { Type: 'physical', Physical: {} }] }, sandbox, deps().deps);
    expect(p.skipped).toEqual([{ index: 0, type: 'virtual' }, { index: 2, type: 'physical' }]);
  });
});

describe('the kept document in the log: a persist.network note on @network', () => {
  it('loadRecords writes exactly this record (the log format: changing it loses the documents of existing logs)', async () => {
    const p = await loadPlan({ NetNsPath: NS, Endpoints: [tuntap(0)] }, sandbox, deps().deps);
    const [rec, network] = loadRecords(null, p);
    expect(rec).toEqual({ k: 'note', ep: '@network', note: 'persist.network', data: { network } });
    expect([NETWORK_EP, PERSIST_NOTE]).toEqual(['@network', 'persist.network']);
  });

  it('networkOfRecord reads that record, and no other', () => {
    const network = { shape: 'v1', header: {}, entries: [] };
    expect(networkOfRecord({ k: 'note', ep: '@network', note: 'persist.network', data: { network } })).toBe(network);
    expect(networkOfRecord({ k: 'note', ep: '@network', note: 'persist.network' })).toBeUndefined();
    // another note, a note of an endpoint, another record kind: not the kept document
    expect(networkOfRecord({ k: 'note', ep: '@network', note: 'other', data: { network } })).toBeUndefined();
    expect(networkOfRecord({ k: 'note', ep: 'ep0', note: 'persist.network', data: { network } })).toBeUndefined();
    expect(networkOfRecord({ k: 'effect', ep: '@network', note: 'persist.network', data: { network } })).toBeUndefined();
  });
});
