/**
 * A plain `inspect` observer that records, for every endpoint actor (the root actors only,
 * not their stubbed effect children), what an inspector sees: actor registrations, the events
 * it receives and the state value of each snapshot. Used to compare a live run with its replay.
 */
import type { InspectionEvent } from 'xstate';

/** One observed inspection event of an endpoint actor. */
export interface InspectedStep {
  /** The endpoint id (the actor's id). */
  actor: string;
  type: '@xstate.actor' | '@xstate.event' | '@xstate.snapshot';
  /** `@xstate.event`: the event type. */
  event?: string;
  /** `@xstate.snapshot` / `@xstate.actor`: the snapshot's state value. */
  value?: unknown;
  /** `@xstate.snapshot`: the actor status (`active`, `done`, `stopped`). */
  status?: string;
}

/** An observer plus what it has seen so far. */
export interface InspectionCapture {
  inspect: (event: InspectionEvent) => void;
  readonly steps: InspectedStep[];
}

/** Start capturing. Pass `capture.inspect` as a Tapstore's (or a replay's) `inspect` option. */
export function captureInspection(): InspectionCapture {
  const steps: InspectedStep[] = [];
  const inspect = (ie: InspectionEvent): void => {
    if (ie.actorRef.sessionId !== ie.rootId) return;
    const actor = (ie.actorRef as { id?: string }).id ?? ie.actorRef.sessionId;
    if (ie.type === '@xstate.event') steps.push({ actor, type: ie.type, event: ie.event.type });
    else if (ie.type === '@xstate.snapshot') {
      const snap = ie.snapshot as { value?: unknown; status?: string };
      steps.push({ actor, type: ie.type, value: snap.value, status: snap.status });
    }
    else if (ie.type === '@xstate.actor') steps.push({ actor, type: ie.type });
  };
  return { inspect, steps };
}
