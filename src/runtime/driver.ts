/**
 * The drive loop: apply an event to an endpoint (pure transition: {@link nextSnapshot}, then journal it), and
 * run the endpoint's effects until it settles — each intent journaled before its effect runs
 * (write-ahead), each outcome journaled after.
 */
import { pendingEffect } from '../../machines/index.js';
import { SimulatedCrash } from '../adapters/faults.js';
import type { IntentRecord } from '../log/records.js';
import type { EndpointSlot } from './endpoint-slot.js';
import { runEffect, toFailure, type Adapters } from './effects.js';
import { beforeEffect } from './recovery.js';
import type { FdTable } from './fd-table.js';
import type { InspectionMirror } from './inspection.js';
import type { Journal } from './journal.js';
import type { Retirements } from './retirement.js';
import { stampOf } from './replay.js';
import { nextSnapshot } from './pure-transition.js';

export type Durability = 'command' | 'effect';

const isOutcome = (type: string): boolean => type.startsWith('xstate.done.actor.') || type.startsWith('xstate.error.actor.');

export class Driver {
  constructor(
    private readonly journal: Journal,
    private readonly adapters: Adapters,
    private readonly fds: FdTable,
    private readonly mirror: InspectionMirror | null,
    private readonly durability: Durability,
    private readonly retirements: Retirements,
  ) {}

  /** Apply an event to an endpoint: transition, journal, then make it the endpoint's state. */
  apply(slot: EndpointSlot, event: { type: string; [k: string]: unknown }, extra: { ms?: number; reconciled?: Record<string, unknown> } = {}): void {
    const next = nextSnapshot(slot.snapshot, event as never);
    const [rec] = this.journal.append([{ k: 'event', ep: slot.id, event, state: stampOf(next), ...extra }], false);
    slot.setSnapshot(next);
    if (isOutcome(event.type)) slot.pending = null;
    slot.lastSeq = rec!.seq;
    this.mirror?.send(slot.id, event);
  }

  /**
   * A per-endpoint checkpoint in the log: opening restores from it instead of replaying the
   * history. A detached endpoint (final state) then retires (src/runtime/retirement.ts).
   */
  private snapshotRecord(slot: EndpointSlot): void {
    const s = slot.snapshot;
    const [rec] = this.journal.append([{ k: 'snapshot', ep: slot.id, snapshot: { value: s.value, context: s.context, status: s.status }, state: stampOf(s) }], false);
    slot.lastSeq = rec!.seq;
    this.retirements.settled(slot);
  }

  /** Run effects until the endpoint settles. The first intent is made durable when `durable`. */
  async drive(slot: EndpointSlot, durable: boolean): Promise<void> {
    const everyEffect = this.durability === 'effect';
    for (;;) {
      const eff = pendingEffect(slot.snapshot.value, slot.snapshot.context);
      if (!eff) break;
      const attempt = slot.pending && slot.pending.id === eff.id ? slot.pending.attempt + 1 : 1;
      // what recovery must know of the world before the effect (only a simulated crash escapes)
      const pre = await beforeEffect(slot.snapshot.context, eff, this.adapters).catch((e: unknown) => {
        throw e instanceof SimulatedCrash ? this.journal.fail(e) : e;
      });
      const [intent] = this.journal.append([{ k: 'intent', ep: slot.id, id: eff.id, src: eff.src, input: eff.input, attempt, ...(pre && { pre }) }], false);
      slot.pending = intent as IntentRecord;
      slot.lastSeq = intent!.seq;
      // write-ahead: the intent (and the command before it) is durable before the effect runs
      if (durable || everyEffect) await this.journal.durable();
      durable = false;
      const t0 = performance.now();
      let event: { type: string; output?: unknown; error?: unknown };
      try {
        event = { type: `xstate.done.actor.${eff.id}`, output: await runEffect(slot.id, eff.src, eff.input, this.adapters, this.fds, eff.phase === 'teardown') };
      } catch (e) {
        if (e instanceof SimulatedCrash) throw this.journal.fail(e);
        event = { type: `xstate.error.actor.${eff.id}`, error: toFailure(e) };
      }
      this.journal.assertUsable();
      this.apply(slot, event, { ms: Number((performance.now() - t0).toFixed(3)) });
    }
    // settled: no queue fd of ours outlives the operation
    await this.fds.release(slot.id);
    this.snapshotRecord(slot);
    if (everyEffect) await this.journal.durable();
  }
}
