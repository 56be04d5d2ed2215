/**
 * Builders of the events XState sends a machine when an invoked or spawned actor finishes
 * (like xstate's own `createDoneActorEvent` / `createErrorActorEvent`), for machine specs and
 * replay tests: `doneEvent('hotAttach.createTap', output)` is
 * `{ type: 'xstate.done.actor.hotAttach.createTap', output }`.
 */
import type { EffectFailure } from '../../machines/index.js';

// type aliases, not interfaces: assignable to the log's `{ type: string; [k: string]: unknown }`
export type DoneActorEvent<O = unknown> = {
  type: `xstate.done.actor.${string}`;
  output: O;
};

export type ErrorActorEvent<E = EffectFailure> = {
  type: `xstate.error.actor.${string}`;
  error: E;
};

/** The effect `id` succeeded with `output`. */
export function doneEvent<O>(id: string, output: O): DoneActorEvent<O> {
  return { type: `xstate.done.actor.${id}`, output };
}

/** The effect `id` failed with `error` (a plain {@link EffectFailure}, as the runtime records it). */
export function errorEvent<E = EffectFailure>(id: string, error: E): ErrorActorEvent<E> {
  return { type: `xstate.error.actor.${id}`, error };
}
