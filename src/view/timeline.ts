/**
 * An endpoint's log as a timeline (pure): commands, effects with their durations, faults
 * (failed effects and interrupted ones), recoveries; plus the state the endpoint is in, from the
 * state stamps the records carry (what replay produced when they were written: `verify`
 * checks them). Works on any window of the log: the last N records are enough.
 */
import type { IntentRecord, LogRecord } from '../log/records.js';
import { NETWORK_EP } from '../persist/persisted-network.js';

/** One line of an endpoint's timeline. */
export interface TimelineEntry {
  seq: number;
  /** Wall-clock ms of the record. */
  ts: number;
  kind: 'create' | 'command' | 'effect' | 'fault' | 'recovery' | 'note';
  /** Command type, effect `src`, note name. */
  title: string;
  /** The state after the record (events and creation). */
  state?: string;
  /** Effects: the invoke id (`hotAttach.setMtu`). */
  effect?: string;
  /** Effects: how long it took (ms), when it completed in a live run. */
  ms?: number;
  /** Effects: `ok`, `failed`, `reconciled` (outcome found by recovery), `in-doubt` (no outcome). */
  outcome?: 'ok' | 'failed' | 'reconciled' | 'in-doubt';
  attempt?: number;
  /** Failure message, recovery decision, … */
  detail?: string;
}

/** An endpoint as the page shows it. */
export interface EndpointTimeline {
  id: string;
  /** Current dotted state. */
  state: string;
  /** Every state the endpoint has been in (dotted), in order of first visit. */
  visited: string[];
  /** The effect the log ends in the middle of, if any. */
  inDoubt: string | null;
  tapName: string;
  entries: TimelineEntry[];
}

const OUTCOME = /^xstate\.(done|error)\.actor\.(.+)$/;

function messageOf(error: unknown): string {
  if (error && typeof error === 'object' && 'message' in error) {
    const e = error as { name?: unknown; message?: unknown };
    return `${typeof e.name === 'string' ? e.name + ': ' : ''}${String(e.message)}`;
  }
  return String(error);
}

/** Build every endpoint's timeline from records in log order (the whole log, or its last records). */
export function timelines(records: Iterable<LogRecord>): EndpointTimeline[] {
  const b = new TimelineBuilder();
  for (const r of records) b.add(r);
  return b.finish();
}

/** {@link timelines} one record at a time. */
export class TimelineBuilder {
  readonly #out = new Map<string, EndpointTimeline>();
  readonly #intents = new Map<string, IntentRecord>();

  add(rec: LogRecord): void {
    const out = this.#out;
    const intents = this.#intents;
    const state = rec.k === 'create' || rec.k === 'event' || rec.k === 'snapshot' ? rec.state.v : undefined;
    if (rec.ep === NETWORK_EP) return; // the loaded persist.json documents: not an endpoint
    let tl = out.get(rec.ep);
    if (!tl || rec.k === 'create') {
      // a create starts the endpoint (an id reused after its endpoint retired starts over)
      if (tl && rec.k === 'create') out.delete(rec.ep);
      tl = { id: rec.ep, state: state ?? '', visited: [], inDoubt: null, tapName: '', entries: [] };
      out.set(rec.ep, tl);
      intents.delete(rec.ep);
    }
    if (state) {
      tl.state = state;
      if (!tl.visited.includes(state)) tl.visited.push(state);
    }
    if (rec.k === 'create') tl.tapName = tapNameOf(rec.input);
    if (rec.k === 'snapshot') {
      const c = rec.snapshot.context as { tapName?: unknown };
      if (typeof c.tapName === 'string') tl.tapName = c.tapName;
    }
    const base = { seq: rec.seq, ts: rec.ts };
    switch (rec.k) {
      case 'create':
        tl.entries.push({ ...base, kind: 'create', title: 'create', state });
        break;
      case 'intent': {
        const prev = intents.get(rec.ep);
        if (prev) tl.entries.push({ ...base, kind: 'fault', title: prev.src, effect: prev.id, outcome: 'in-doubt', attempt: prev.attempt, detail: 'interrupted' });
        intents.set(rec.ep, rec);
        break;
      }
      case 'event': {
        const m = OUTCOME.exec(rec.event.type);
        if (!m) {
          tl.entries.push({ ...base, kind: 'command', title: rec.event.type, state });
          break;
        }
        const intent = intents.get(rec.ep);
        intents.delete(rec.ep);
        const failed = m[1] === 'error';
        const reconciled = rec.reconciled !== undefined;
        tl.entries.push({
          ...base,
          kind: failed ? 'fault' : 'effect',
          title: intent?.src ?? m[2]!,
          effect: m[2]!,
          state,
          ms: rec.ms,
          outcome: reconciled ? 'reconciled' : failed ? 'failed' : 'ok',
          attempt: intent?.attempt,
          detail: failed ? messageOf((rec.event as { error?: unknown }).error) : reconciled ? `probes: ${JSON.stringify(rec.reconciled)}` : undefined,
        });
        break;
      }
      case 'note':
        tl.entries.push({
          ...base,
          kind: rec.note === 'recovery' ? 'recovery' : 'note',
          title: rec.note,
          detail: rec.data ? JSON.stringify(rec.data) : undefined,
        });
        break;
    }
  }

  finish(): EndpointTimeline[] {
    for (const [id, tl] of this.#out) {
      const open = this.#intents.get(id);
      if (open) {
        tl.inDoubt = open.id;
        tl.entries.push({ seq: open.seq, ts: open.ts, kind: 'fault', title: open.src, effect: open.id, outcome: 'in-doubt', attempt: open.attempt, detail: 'no outcome logged' });
      }
    }
    return [...this.#out.values()];
  }
}

/** The tap name a create record's input gives (`tap<idx>_kata`). */
function tapNameOf(input: unknown): string {
  const i = input as { idx?: unknown } | null;
  return i && typeof i.idx === 'number' ? `tap${i.idx}_kata` : '';
}
