/**
 * Given/when/then specifications of the endpoint machine (after emmett's `DeciderSpecification`):
 *
 * ```ts
 * given(input, [{ type: 'HOT_ATTACH' }, doneEvent('hotAttach.createTap', out)])
 *   .when(errorEvent('hotAttach.setMtu', boom))
 *   .then({ state: 'teardown.setDown', context: { goal: 'rollback' }, spawns: ['netlink.setUp'] });
 * ```
 *
 * `given` is the endpoint's input and the events it already saw; `when` the events under test;
 * `then` checks the resulting state (dotted name), a subset of the context, and the effect
 * sources the last transition spawns. Pure: `transition()` only, nothing runs.
 */
import { expect } from 'vitest';
import { initialTransition, transition } from 'xstate';
import { endpointMachine, stateName, type EndpointContext, type EndpointInput } from '../../machines/index.js';
import type { EndpointSnapshot } from '../../src/runtime/replay.js';

type AnyEvent = { readonly type: string };

export interface Expectation {
  /** Dotted state name, e.g. `teardown.deleteTap`. */
  state?: string;
  /** A subset of the context (`toMatchObject`). */
  context?: Partial<{ [K in keyof EndpointContext]: unknown }>;
  /** The `src` of every effect the last transition spawns, in order (`[]`: none). */
  spawns?: string[];
}

export interface Then {
  /** Check the outcome; returns the resulting snapshot for further checks. */
  then(expected: Expectation): EndpointSnapshot;
}

function run(s: EndpointSnapshot, events: readonly AnyEvent[]): [EndpointSnapshot, string[]] {
  let spawns: string[] = [];
  for (const e of events) {
    const [next, actions] = transition(endpointMachine, s, e as never);
    s = next;
    spawns = actions.filter((a) => a.type === 'xstate.spawnChild').map((a) => String((a as { params?: { src?: unknown } }).params?.src));
  }
  return [s, spawns];
}

export function given(input: EndpointInput, history: readonly AnyEvent[] = []): { when(...events: AnyEvent[]): Then } {
  const [start] = run(initialTransition(endpointMachine, input)[0], history);
  return {
    when(...events) {
      const [s, spawns] = run(start, events);
      return {
        then(expected) {
          if (expected.state !== undefined) expect(stateName(s.value)).toBe(expected.state);
          if (expected.context !== undefined) expect(s.context).toMatchObject(expected.context);
          if (expected.spawns !== undefined) expect(spawns).toEqual(expected.spawns);
          return s;
        },
      };
    },
  };
}
