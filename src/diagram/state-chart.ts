/**
 * The endpoint machine's state chart as plain data, read from the machine definition (its
 * `root` state node): every state with its parent, kind and invoked effect, and every
 * transition with its event and target. Pure: nothing is executed.
 */
import type { AnyStateMachine, AnyStateNode } from 'xstate';
import { endpointMachine } from '../../machines/index.js';

/** One state of the chart. */
export interface ChartState {
  /** Dotted path below the root: `created`, `hotAttach.setMtu`. */
  id: string;
  /** The last path segment: `setMtu`. */
  key: string;
  /** Dotted path of the parent state; `null` for top-level states. */
  parent: string | null;
  type: 'atomic' | 'compound' | 'final';
  /** Initial child (dotted path) of a compound state. */
  initial: string | null;
  /** The effect `src` this state invokes (e.g. `netlink.setMtu`), if any. */
  invokes: string | null;
}

/** One transition candidate of the definition (guarded candidates are listed separately). */
export interface ChartTransition {
  source: string;
  /** `null`: a targetless transition (it only updates the context). */
  target: string | null;
  /** The event type as XState names it (`HOT_ATTACH`, `xstate.done.actor.hotAttach.setMtu`). */
  event: string;
  /** A short label: the command, or `done` / `error` for an effect outcome. */
  label: string;
  guarded: boolean;
}

/** The whole chart. */
export interface StateChart {
  /** The machine id (`endpoint`). */
  machine: string;
  /** Initial top-level state. */
  initial: string;
  /** Depth-first, in definition order. */
  states: ChartState[];
  /** Deduplicated, in definition order. */
  transitions: ChartTransition[];
}

/** The label of an event type: commands as they are, effect outcomes as `done` / `error`. */
export function eventLabel(event: string): string {
  if (event.startsWith('xstate.done.actor.')) return 'done';
  if (event.startsWith('xstate.error.actor.')) return 'error';
  return event;
}

/** Read the chart of a machine (default: the endpoint machine). */
export function stateChart(machine: AnyStateMachine = endpointMachine): StateChart {
  const root = machine.root;
  const rel = (n: AnyStateNode): string => n.path.join('.');
  const states: ChartState[] = [];
  const transitions: ChartTransition[] = [];
  const seen = new Set<string>();
  const visit = (n: AnyStateNode): void => {
    const init = n.type === 'compound' ? n.initial?.target?.[0] : undefined;
    states.push({
      id: rel(n),
      key: n.key,
      parent: n.path.length > 1 ? n.path.slice(0, -1).join('.') : null,
      type: n.type === 'final' ? 'final' : n.type === 'compound' ? 'compound' : 'atomic',
      initial: init ? rel(init) : null,
      invokes: n.invoke.length > 0 && typeof n.invoke[0]!.src === 'string' ? n.invoke[0]!.src : null,
    });
    for (const [event, candidates] of n.transitions) {
      for (const t of candidates) {
        const targets = t.target && t.target.length > 0 ? t.target.map(rel) : [null];
        for (const target of targets) {
          const key = `${rel(n)}|${target}|${event}`;
          if (seen.has(key)) continue;
          seen.add(key);
          transitions.push({ source: rel(n), target, event, label: eventLabel(event), guarded: Boolean(t.guard) });
        }
      }
    }
    for (const child of Object.values(n.states)) visit(child);
  };
  for (const child of Object.values(root.states)) visit(child);
  const init = root.initial?.target?.[0];
  return { machine: root.id, initial: init ? rel(init) : (states[0]?.id ?? ''), states, transitions };
}
