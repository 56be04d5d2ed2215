/**
 * XState's pure `transition(machine, snapshot, event)`, without its per-call cost. xstate builds
 * a throwaway actor for every call (`createInertActorScope`: a full `Actor`, whose constructor
 * computes the machine's initial snapshot) only to pass its scope to `machine.transition`; for
 * the endpoint machine that is about a third of a transition's CPU, paid on every event the
 * runtime applies or replays. Here one inert scope is built once and reused: the same
 * `machine.transition(snapshot, event, scope)` call, with actions collected and not executed.
 *
 * Reusing it is safe for this machine: the scope's actor is never started, so nothing registers
 * in its system (children spawned by `spawnChild` only book a session id and live in the returned
 * snapshot), no action is executed (the executor discards them: the runtime runs effects itself
 * from {@link pendingEffect}), and the endpoint machine has no delayed events, no `systemId`s and
 * no emitted events. Its results are XState's: test/runtime/pure-transition.test.ts compares them
 * with `transition()` on every path of the machine.
 */
import { createActor, type ActorScope, type AnyStateMachine, type EventFrom, type SnapshotFrom } from 'xstate';
import { endpointMachine } from '../../machines/index.js';

type Machine = typeof endpointMachine;
type Scope = ActorScope<SnapshotFrom<Machine>, EventFrom<Machine>>;

let scope: Scope | undefined;

function inertScope(): Scope {
  const self = createActor(endpointMachine as AnyStateMachine);
  return {
    self,
    defer: () => {},
    id: '',
    logger: () => {},
    sessionId: '',
    stopChild: () => {},
    system: self.system,
    emit: () => {},
    actionExecutor: () => {},
  } as unknown as Scope;
}

/** The endpoint machine's next snapshot for `event` (pure; no action executed). */
export function nextSnapshot(snapshot: SnapshotFrom<Machine>, event: EventFrom<Machine>): SnapshotFrom<Machine> {
  scope ??= inertScope();
  return endpointMachine.transition(snapshot, event, scope);
}
