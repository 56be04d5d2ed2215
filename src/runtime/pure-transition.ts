/**
 * XState's pure `transition()`, without its per-call cost. `transition(logic, snapshot, event)`
 * builds a new inert actor scope (an unstarted actor of the machine, whose constructor computes
 * the machine's initial snapshot, and a new actor system) for every call; on the endpoint
 * machine that made each transition several times slower than the transition itself (recovery
 * and every command spend most of their CPU there). This module reuses one inert scope, built
 * exactly like XState's (`createInertActorScope`: an unstarted `createActor(machine)`, every
 * scope hook a no-op), for a bounded number of calls. Nothing is ever started in it: the
 * invoked children a transition creates are only described by the returned snapshot (spawning is
 * a deferred action, and deferred actions are dropped, as the runtime never executes them), so
 * the scope's system registers nothing and keeps no state between calls.
 */
import { createActor, type AnyActorScope, type AnyStateMachine, type EventFrom, type SnapshotFrom } from 'xstate';
import { endpointMachine } from '../../machines/index.js';

type Machine = typeof endpointMachine;

/** Calls served by one scope before a fresh one is built (bounds anything a scope could accumulate). */
const SCOPE_USES = 256;

let scope: AnyActorScope | null = null;
let uses = 0;

function inertScope(): AnyActorScope {
  if (scope === null || ++uses > SCOPE_USES) {
    const self = createActor(endpointMachine as AnyStateMachine); // no input: the context stays undefined (never read)
    scope = {
      self,
      defer: () => {},
      id: '',
      logger: () => {},
      sessionId: '',
      stopChild: () => {},
      system: self.system,
      emit: () => {},
      actionExecutor: () => {},
    } as unknown as AnyActorScope;
    uses = 0;
  }
  return scope;
}

/** The endpoint machine's next snapshot for `event` (pure: no action is executed, no actor started). */
export function nextSnapshot(snapshot: SnapshotFrom<Machine>, event: EventFrom<Machine>): SnapshotFrom<Machine> {
  return endpointMachine.transition(snapshot, event, inertScope() as never);
}
