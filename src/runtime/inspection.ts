/**
 * Live inspection: every endpoint gets a mirror XState actor (effects stubbed, never settling)
 * that receives exactly the events the runtime journals, so `@statelyai/inspect` (or any
 * `inspect` observer) sees the real lifecycle. The same mirror replays a saved log.
 */
import { SimulatedClock, createActor, fromPromise, type AnyActorRef, type InspectionEvent, type Observer } from 'xstate';
import { endpointMachine, type EndpointInput } from '../../machines/index.js';
import type { EndpointSnapshot } from './replay.js';

export type InspectOption = Observer<InspectionEvent> | ((event: InspectionEvent) => void);

const never = fromPromise<never, unknown>(() => new Promise<never>(() => {}));
/** The machine with every effect stubbed: it can be driven only by the events we send it. */
export const inspectableMachine = endpointMachine.provide({
  actors: Object.fromEntries(Object.keys(endpointMachine.implementations.actors).map((k) => [k, never])) as never,
});

export class InspectionMirror {
  private readonly actors = new Map<string, AnyActorRef>();
  /** The mirror never waits on real time: no timer of the machine may fire by itself. */
  private readonly clock = new SimulatedClock();
  constructor(private readonly inspect: InspectOption) {}

  /** A new endpoint (from its input). */
  create(id: string, input: EndpointInput): void {
    const a = createActor(inspectableMachine, { input, inspect: this.inspect, id, clock: this.clock });
    this.actors.set(id, a);
    a.start();
  }

  /** An endpoint restored from a checkpoint or replay. */
  restore(id: string, snapshot: EndpointSnapshot): void {
    const persisted = { status: snapshot.status, value: snapshot.value, context: snapshot.context, historyValue: {}, children: {} };
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const a = createActor(inspectableMachine, { snapshot: persisted, inspect: this.inspect, id, clock: this.clock } as any);
    this.actors.set(id, a);
    a.start();
  }

  send(id: string, event: { type: string }): void {
    this.actors.get(id)?.send(event as never);
  }

  stop(): void {
    for (const a of this.actors.values()) a.stop();
    this.actors.clear();
  }
}
