/**
 * The recovery scheduler: finish or undo every interrupted operation, up to `concurrency`
 * endpoints at once (their write-ahead intents share fdatasyncs). For each endpoint,
 * {@link reconcile} decides from probes of the world; the drive loop then rolls the attach
 * back or the teardown forward. A crash during recovery stops it; running it again is safe.
 */
import { pendingEffect, stateName } from '../../machines/index.js';
import { SimulatedCrash } from '../adapters/faults.js';
import type { TornTail } from '../log/store.js';
import type { Driver } from './driver.js';
import type { Adapters } from './effects.js';
import type { EndpointSlot } from './endpoint-slot.js';
import { StoreFailedError } from './errors.js';
import type { Journal } from './journal.js';
import { reconcile, type BeforeEffect } from './recovery.js';

export interface RecoveredEndpoint {
  id: string;
  /** The interrupted effect (`hotAttach.setMtu`), and whether its intent was logged (it may have run). */
  effect: string;
  src: string;
  ran: boolean;
  /** `rolled-back` (an attach), `rolled-forward` (a teardown), or `failed` (recovery itself failed: run it again). */
  action: 'rolled-back' | 'rolled-forward' | 'failed';
  /** What the probes found. */
  observed: Record<string, unknown>;
  finalState: string;
  error?: string;
  ms: number;
}

export interface RecoveryReport {
  /** A partial last record that was dropped. */
  torn: TornTail | null;
  /** Whether opening started from a checkpoint. */
  fromCheckpoint: boolean;
  /** Records replayed (the tail after the checkpoint). */
  replayed: number;
  endpoints: RecoveredEndpoint[];
}

export interface RecoveryContext {
  journal: Journal;
  driver: Driver;
  adapters: Adapters;
  /** How many endpoints to work on at once (default 16). */
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Recover the endpoints `todo` (each in an effect state, none busy). */
export async function recoverEndpoints(todo: readonly EndpointSlot[], ctx: RecoveryContext): Promise<RecoveredEndpoint[]> {
  const report: RecoveredEndpoint[] = new Array(todo.length);
  let done = 0;
  let next = 0;
  let crash: unknown = null;
  const worker = async (): Promise<void> => {
    while (next < todo.length && crash === null) {
      const i = next++;
      try {
        report[i] = await recoverOne(todo[i]!, ctx);
      } catch (e) {
        // the process died (SimulatedCrash) or the log failed: stop — and a dead process writes
        // nothing more, also from the endpoints the other workers are recovering
        crash = e instanceof SimulatedCrash ? ctx.journal.fail(e) : e;
        return;
      }
      ctx.onProgress?.(++done, todo.length);
    }
  };
  const width = Math.max(1, Math.min(ctx.concurrency ?? 16, todo.length));
  await Promise.all(Array.from({ length: width }, worker));
  if (crash !== null) throw crash;
  return report;
}

async function recoverOne(slot: EndpointSlot, ctx: RecoveryContext): Promise<RecoveredEndpoint> {
  const eff = pendingEffect(slot.snapshot.value, slot.snapshot.context)!;
  const ran = slot.pending !== null && slot.pending.id === eff.id;
  const t0 = performance.now();
  const entry: RecoveredEndpoint = {
    id: slot.id,
    effect: eff.id,
    src: eff.src,
    ran,
    action: eff.phase === 'teardown' ? 'rolled-forward' : 'rolled-back',
    observed: {},
    finalState: '',
    ms: 0,
  };
  slot.busy = true;
  try {
    const r = await reconcile(slot.snapshot.context, eff, ran, ctx.adapters, ran ? (slot.pending!.pre as BeforeEffect | undefined) : undefined);
    entry.observed = r.observed;
    // informational: the next intent (if any) is made durable and syncs it too
    ctx.journal.append([{ k: 'note', ep: slot.id, note: 'recovery', data: { effect: eff.id, ran, decision: r.kind, observed: r.observed } }], false);
    if (r.kind === 'event') ctx.driver.apply(slot, r.event, { reconciled: r.observed });
    await ctx.driver.drive(slot, true);
    // recovery's own failure: something is left (dirty). A rolled-back attach always carries the
    // Interrupted failure recovery fed it (a rollback keeps its attach's error), and a rolled-forward
    // teardown the error of the operation it finishes: neither is recovery's
    const err = slot.snapshot.context.error;
    if (err && stateName(slot.snapshot.value) === 'dirty') entry.error = err.message;
  } catch (e) {
    if (e instanceof SimulatedCrash || e instanceof StoreFailedError) throw e;
    entry.action = 'failed';
    entry.error = e instanceof Error ? e.message : String(e);
  } finally {
    slot.busy = false;
  }
  entry.finalState = stateName(slot.snapshot.value);
  entry.ms = Number((performance.now() - t0).toFixed(3));
  return entry;
}
