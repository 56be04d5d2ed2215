/**
 * Graph test: enumerate every path of the endpoint machine to its final state — every command in
 * every state, success and failure of every effect — bounded by length (commands), injected
 * failures and one visit per state along a path; then drive the real runtime with the in-memory
 * adapters along each path and check the world while the netns still exists: no tap except one
 * left to the netns owner, no device, netdev or fd, the original link as it was, and no change in
 * a netns that is not ours during a Detach (upstream's rule, as an independent oracle).
 */
import { describe, expect, it } from 'vitest';
import { doneEvent, errorEvent } from '../../src/testing/actor-events.js';
import { getShortestPaths } from 'xstate/graph';
import { initialTransition, transition, type AnyEventObject } from 'xstate';
import { endpointMachine, pendingEffect, stateName, type EndpointInput } from '../../machines/index.js';
import { NetlinkError } from '../../src/adapters/netlink.js';
import { HypervisorError } from '../../src/adapters/hypervisor.js';
import type { FaultAction } from '../../src/adapters/faults.js';
import { memoryWorld, NETNS } from '../support/memory-world.js';
import type { EndpointSnapshot } from '../../src/runtime/replay.js';
import { MemoryLogStore } from '../../src/log/index.js';
import { worldProblems } from '../support/world-invariants.js';

const COMMANDS = ['HOT_ATTACH', 'ATTACH', 'HOT_DETACH', 'DETACH', 'CLEANUP'].map((type) => ({ type }));
/** The adapter method that carries each effect (the one a fault is injected into). */
const PRIMARY: Record<string, string> = {
  'netlink.createTap': 'createTap',
  'netlink.getLink': 'getLink',
  'netlink.getTap': 'getLink',
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

/** Events to explore in a state: every command it accepts, or success and failure of its pending effect. */
const eventsFor = (s: EndpointSnapshot): AnyEventObject[] => {
  const eff = pendingEffect(s.value, s.context);
  if (!eff) return COMMANDS.filter((c) => s.can(c as never));
  return [
    doneEvent(eff.id, OUTPUT[eff.src] ?? {}),
    errorEvent(eff.id, { name: 'Injected', message: `injected failure of ${eff.src}` }),
  ];
};

const serializeState = (s: EndpointSnapshot) => {
  const c = s.context;
  return JSON.stringify([stateName(s.value), c.progress, c.goal, c.leftToNetnsOwner, c.op, c.tapVerified]);
};

/**
 * The bounds of the enumeration: depth, in commands and in injected failures. Every event is
 * explored everywhere (no command is dropped in any state, a state may recur along a path).
 * One operation cannot loop (its steps only move forward), so these two bounds make it finite.
 */
export const BOUNDS = process.env.TAPSTATE_MUTATION ? { commands: 2, failures: 1 } : { commands: 3, failures: 2 };
/** No path within the bounds is longer than this many events: a longer one means the machine loops. */
const MAX_EVENTS = 60;
/** `npm run mutate` runs a lighter enumeration (vitest.mutation.config.ts): every mutant runs it. */
const FULL = !process.env.TAPSTATE_MUTATION;

/** A rest state and a command it accepted: `dirty(after detach) DETACH`. */
const edgeName = (s: EndpointSnapshot, command: string) => `${stateName(s.value)}${s.context.op ? `(after ${s.context.op})` : ''} ${command}`;

interface GraphPath {
  steps: Array<{ event: AnyEventObject; state: EndpointSnapshot }>;
}

/** Every path to the final state within {@link BOUNDS}, and which (rest state, command) edges they use. */
export function enumeratePaths(input: EndpointInput, bounds = BOUNDS) {
  const [s0] = initialTransition(endpointMachine, input);
  const paths: GraphPath[] = [];
  const reachable = new Set<string>();
  const covered = new Set<string>();
  const walk = (s: EndpointSnapshot, steps: GraphPath['steps'], commands: number, failures: number, edges: string[]) => {
    if (s.status === 'done') {
      paths.push({ steps });
      for (const e of edges) covered.add(e);
      return;
    }
    if (steps.length >= MAX_EVENTS) throw new Error(`the machine loops: no end after ${MAX_EVENTS} events (${steps.map((x) => stateName(x.state.value)).slice(-6).join(' → ')})`);
    for (const event of eventsFor(s)) {
      const command = !event.type.startsWith('xstate.');
      const failure = event.type.startsWith('xstate.error.');
      if (command && commands >= bounds.commands) continue;
      if (failure && failures >= bounds.failures) continue;
      const [next] = transition(endpointMachine, s, event as never);
      const edge = command ? edgeName(s, event.type) : null;
      // an edge taken with a command to spare must lie on some complete path
      if (edge && commands + 1 < bounds.commands) reachable.add(edge);
      walk(next, [...steps, { event, state: next }], commands + (command ? 1 : 0), failures + (failure ? 1 : 0), edge ? [...edges, edge] : edges);
    }
  };
  walk(s0, [], 0, 0, []);
  return { paths, reachable, covered };
}

const MUTATING = new Set(['createTap', 'setMtu', 'setMac', 'setUp', 'deleteLink', 'addIngressQdisc', 'deleteIngressQdisc', 'addRedirect']);

describe('xstate/graph: every path within the bounds', () => {
  for (const netnsCreated of [true, false]) {
    it(`ends with nothing of ours left, the original link as it was, and the netns owner's rule kept (netnsCreated=${netnsCreated})`, async () => {
      const input: EndpointInput = { id: 'ep0', idx: 0, mac: '02:00:00:00:00:01', netnsPath: NETNS, netnsCreated, vcpus: 2 };
      const { paths, reachable, covered } = enumeratePaths(input);
      // no command is dropped: every (rest state, command) edge reachable within the bounds is on a path to the end,
      // among them DETACH from dirty and every command after a rolled-back attach
      expect([...reachable].filter((e) => !covered.has(e))).toEqual([]);
      if (FULL)
        for (const e of ['dirty(after detach) DETACH', 'dirty(after hotAttach) DETACH', 'dirty(after attach) CLEANUP', 'created(after hotAttach) ATTACH', 'created(after attach) HOT_ATTACH', 'created(after attach) DETACH'])
          expect(covered).toContain(e);
      expect(paths.length).toBeGreaterThan(FULL ? 600 : 20);
      let driven = 0;
      for (const path of paths) {
        const w = memoryWorld({ netnsCreated });
        // the outcome the path wants for each effect, in order
        const wanted = path.steps.filter((s) => s.event.type.startsWith('xstate.')).map((s) => s.event.type.startsWith('xstate.error.'));
        let cursor = 0;
        // upstream's Detach rule, as an oracle independent of the machine: while a DETACH in a netns
        // that is not ours (or the CLEANUP that finishes it) runs, nothing in the netns changes
        let ownerRule = false;
        const violations: string[] = [];
        const plan = (c: { method: string }): FaultAction => {
          if (ownerRule && MUTATING.has(c.method)) violations.push(c.method);
          if (!Object.values(PRIMARY).includes(c.method)) return 'ok';
          const fail = wanted[cursor++];
          if (!fail) return 'ok';
          return c.method.startsWith('hot') || c.method === 'coldplug'
            ? { fail: new HypervisorError({ kind: 'command-failed', op: c.method, message: `injected failure of ${c.method}` }) }
            : { fail: new NetlinkError({ op: c.method, netns: NETNS, errno: 'EIO', errnoNumber: 5 }) };
        };
        const store = await w.open({ faults: plan });
        store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
        const commands: string[] = [];
        for (const step of path.steps) {
          if (step.event.type.startsWith('xstate.')) continue;
          commands.push(step.event.type);
          if (step.event.type !== 'CLEANUP') ownerRule = step.event.type === 'DETACH' && !netnsCreated;
          await store.send('ep0', step.event as never).catch(() => {});
        }
        const where = `path ${commands.join(' → ')} (${path.steps.map((s) => stateName(s.state.value)).join(', ')})`;
        // the runtime went through exactly the path's states
        const expected = path.steps.map((s) => stateName(s.state.value));
        const seen: string[] = [];
        const log = MemoryLogStore.open(w.medium, { readOnly: true }).read();
        for (const { record } of log.records) if (record.k === 'event') seen.push(record.state.v);
        expect(seen, where).toEqual(expected);
        // ends detached: retired from the live set
        expect(store.list(), where).toEqual([]);
        expect(store.retired, where).toBe(1);
        expect(violations, `${where}: changed the netns of its owner`).toEqual([]);
        // checked while the netns exists (a netns that is not ours is deleted by its owner only afterwards)
        expect(worldProblems(w, store, { origIngress: false }), where).toEqual([]);
        await store.close();
        if (!netnsCreated) w.kernel.deleteNetns(NETNS);
        w.hypervisor.kill(); // VM stopped: cold-plug copies released
        expect(w.kernel.openFdCount(), where).toBe(0);
        driven++;
      }
      expect(driven).toBe(paths.length);
    }, 300_000);
  }

  it(`the effect the runtime derives is the one XState spawns, on ${FULL ? 'the shortest path to every state' : 'every enumerated path'}`, () => {
    const input: EndpointInput = { id: 'ep0', idx: 0, mac: '02:00:00:00:00:01', netnsPath: NETNS, netnsCreated: true, vcpus: 2 };
    // `npm run mutate` walks the (lighter) enumerated paths instead: getShortestPaths explores
    // the whole state space, too slow to run for every mutant
    const paths = FULL
      ? getShortestPaths(endpointMachine, { input, events: ((s: EndpointSnapshot) => [...COMMANDS, ...eventsFor(s)]) as never, serializeState: serializeState as never }).map((p) => p.steps.slice(1).map((x) => x.event))
      : enumeratePaths(input).paths.map((p) => p.steps.map((x) => x.event));
    expect(paths.length).toBeGreaterThan(FULL ? 100 : 20);
    let checked = 0;
    for (const events of paths) {
      let [s] = initialTransition(endpointMachine, input);
      for (const event of events) {
        const [next, actions] = transition(endpointMachine, s, event as never);
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
