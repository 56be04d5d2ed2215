/**
 * xstate/graph: enumerate every simple path of the endpoint machine (commands, effect successes
 * and failures), then drive the real runtime with the in-memory adapters along each path that
 * ends in the final state, and assert nothing is left: no tap, no device, no netdev, no fd.
 */
import { describe, expect, it } from 'vitest';
import { doneEvent, errorEvent } from '../../src/testing/actor-events.js';
import { getShortestPaths, getSimplePaths } from 'xstate/graph';
import { initialTransition, transition, type AnyEventObject } from 'xstate';
import { endpointMachine, pendingEffect, stateName, type EndpointInput } from '../../machines/index.js';
import { NetlinkError } from '../../src/adapters/netlink.js';
import { HypervisorError } from '../../src/adapters/hypervisor.js';
import type { FaultAction } from '../../src/adapters/faults.js';
import { memoryWorld, NETNS } from '../support/memory-world.js';
import type { EndpointSnapshot } from '../../src/runtime/replay.js';

const COMMANDS = ['HOT_ATTACH', 'ATTACH', 'HOT_DETACH', 'DETACH', 'CLEANUP'].map((type) => ({ type }));
/** The adapter method that carries each effect (the one a fault is injected into). */
const PRIMARY: Record<string, string> = {
  'netlink.createTap': 'createTap',
  'netlink.getLink': 'getLink',
  'netlink.setMtu': 'setMtu',
  'netlink.setUp': 'setUp',
  'netlink.deleteLink': 'deleteLink',
  'netlink.addIngressQdisc': 'addIngressQdisc',
  'netlink.deleteIngressQdisc': 'deleteIngressQdisc',
  'netlink.addRedirect': 'addRedirect',
  'hypervisor.hotplug': 'hotplug',
  'hypervisor.hotunplug': 'hotunplug',
  'hypervisor.coldplug': 'coldplug',
};
const OUTPUT: Record<string, unknown> = {
  'netlink.createTap': { index: 2, queues: 2 },
  'netlink.getLink': { index: 1, mtu: 1400, mac: '02:aa:bb:cc:dd:01' },
  'hypervisor.hotplug': { pciPath: '03/00' },
  'hypervisor.coldplug': { args: [] },
};

/**
 * Events to explore in a state: the commands, and success or failure of the pending effect.
 * `full`: every command everywhere (for shortest paths to every state). Otherwise, to keep the
 * simple paths finite in number: from `dirty` only CLEANUP, and after a rolled-back attach only
 * HOT_DETACH (a re-attach walks the same sub-graph again).
 */
const eventsFor =
  (full: boolean) =>
  (s: EndpointSnapshot): AnyEventObject[] => {
  const eff = pendingEffect(s.value, s.context);
  if (!eff) {
    if (full) return COMMANDS;
    const n = stateName(s.value);
    if (n === 'dirty') return [{ type: 'CLEANUP' }];
    if (n === 'created' && s.context.op !== null) return [{ type: 'HOT_DETACH' }];
    return COMMANDS;
  }
  return [
    doneEvent(eff.id, OUTPUT[eff.src] ?? {}),
    errorEvent(eff.id, { name: 'Injected', message: `injected failure of ${eff.src}` }),
  ];
  };

const serializeState = (s: EndpointSnapshot) => {
  const c = s.context;
  return JSON.stringify([stateName(s.value), c.progress, c.goal, c.leftToNetnsOwner, c.op === 'attach']);
};

function pathsFor(netnsCreated: boolean) {
  const input: EndpointInput = { id: 'ep0', idx: 0, mac: '02:00:00:00:00:01', netnsPath: NETNS, netnsCreated, vcpus: 2 };
  const paths = getSimplePaths(endpointMachine, {
    input,
    events: eventsFor(false) as never,
    serializeState: serializeState as never,
    toState: ((s: EndpointSnapshot) => s.status === 'done') as never,
  });
  return { input, paths };
}

describe('xstate/graph: every simple path', () => {
  for (const netnsCreated of [true, false]) {
    it(`ends with no tap, device, netdev or fd on every path to the final state (netnsCreated=${netnsCreated})`, async () => {
      const { paths } = pathsFor(netnsCreated);
      const finals = paths.filter((p) => p.state.status === 'done');
      expect(finals.length).toBe(paths.length);
      expect(finals.length).toBeGreaterThan(netnsCreated ? 80 : 20);
      let driven = 0;
      for (const path of finals) {
        const steps = path.steps.slice(1); // the first step is the initial state
        const w = memoryWorld({ netnsCreated });
        // the outcome the path wants for each effect, in order
        const wanted = steps.filter((s) => s.event.type.startsWith('xstate.')).map((s) => s.event.type.startsWith('xstate.error.'));
        let cursor = 0;
        const plan = (c: { method: string }): FaultAction => {
          if (!Object.values(PRIMARY).includes(c.method)) return 'ok';
          const fail = wanted[cursor++];
          if (!fail) return 'ok';
          return c.method.startsWith('hot') || c.method === 'coldplug'
            ? { fail: new HypervisorError({ kind: 'command-failed', op: c.method, message: `injected failure of ${c.method}` }) }
            : { fail: new NetlinkError({ op: c.method, netns: NETNS, errno: 'EIO', errnoNumber: 5 }) };
        };
        const store = await w.open({ faults: plan });
        store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
        const seen: string[] = [];
        for (const step of steps) {
          if (step.event.type.startsWith('xstate.')) continue;
          await store.send('ep0', step.event as never).catch(() => {});
        }
        // the runtime went through exactly the path's states
        const expected = steps.map((s) => stateName(s.state.value));
        const log = (await import('../../src/log/index.js')).MemoryLogStore.open(w.medium, { readOnly: true }).read();
        for (const { record } of log.records) if (record.k === 'event') seen.push(record.state.v);
        expect(seen).toEqual(expected);
        expect(store.get('ep0').state).toBe('detached');
        await store.close();
        if (!netnsCreated) w.kernel.deleteNetns(NETNS);
        expect(w.taps()).toEqual([]);
        expect(w.hypervisor.devices()).toEqual([]);
        expect(w.hypervisor.netdevs()).toEqual([]);
        w.hypervisor.kill(); // VM stopped: cold-plug copies released
        expect(w.kernel.openFdCount()).toBe(0);
        driven++;
      }
      expect(driven).toBe(finals.length);
    }, 120_000);
  }

  it('the effect the runtime derives is the one XState spawns, on the shortest path to every state', () => {
    const { input } = pathsFor(true);
    const paths = getShortestPaths(endpointMachine, { input, events: eventsFor(true) as never, serializeState: serializeState as never });
    expect(paths.length).toBeGreaterThan(100);
    let checked = 0;
    for (const p of paths) {
      let [s] = initialTransition(endpointMachine, input);
      for (const step of p.steps.slice(1)) {
        const [next, actions] = transition(endpointMachine, s, step.event as never);
        const spawn = actions.find((a) => a.type === 'xstate.spawnChild') as { params: { id: string; src: string; input: unknown } } | undefined;
        const eff = pendingEffect(next.value, next.context);
        if (spawn || eff) {
          expect(eff && { id: eff.id, src: eff.src, input: eff.input }).toEqual(spawn && { id: spawn.params.id, src: spawn.params.src, input: spawn.params.input });
          checked++;
        }
        s = next;
      }
    }
    expect(checked).toBeGreaterThan(100);
  });
});
