/** What a caller sees of an endpoint: a plain, detached copy of its state. */
import { pendingEffect, stateName, type EndpointContext, type Progress } from '../../machines/index.js';
import type { SnapshotRecord } from '../log/records.js';
import type { EndpointSlot } from './endpoint-slot.js';

export interface EndpointView {
  id: string;
  idx: number;
  /** Dotted machine state: `created`, `hotAttached`, `teardown.deleteTap`, … */
  state: string;
  /** `settled`, `busy` (a command is running) or `in-doubt` (interrupted, recovery needed). */
  status: 'settled' | 'busy' | 'in-doubt';
  name: string;
  tapName: string;
  mac: string;
  hardAddr: string;
  mtu: number;
  queues: number;
  netnsPath: string;
  pciPath: string;
  progress: Progress;
  coldplugArgs: string[];
  error: EndpointContext['error'];
  warnings: string[];
  /** The effect the endpoint is waiting on, if any. */
  pendingEffect: { id: string; src: string } | null;
  lastSeq: number;
}

export function viewOf(s: EndpointSlot): EndpointView {
  return viewFrom(s.id, s.snapshot.value, s.snapshot.context, s.busy, s.lastSeq);
}

/**
 * The view an endpoint had when the log's `snapshot` record `r` was written (an operation had
 * just settled): what {@link viewOf} returned then. Serves an endpoint that has retired since.
 */
export function viewOfSnapshotRecord(r: SnapshotRecord): EndpointView {
  return viewFrom(r.ep, r.snapshot.value, r.snapshot.context as EndpointContext, false, r.seq);
}

function viewFrom(id: string, value: unknown, c: EndpointContext, busy: boolean, lastSeq: number): EndpointView {
  const eff = pendingEffect(value, c);
  return {
    id,
    idx: c.idx,
    state: stateName(value),
    status: busy ? 'busy' : eff ? 'in-doubt' : 'settled',
    name: c.name,
    tapName: c.tapName,
    mac: c.mac,
    hardAddr: c.hardAddr,
    mtu: c.mtu,
    queues: c.queues,
    netnsPath: c.netnsPath,
    pciPath: c.pciPath,
    progress: { ...c.progress },
    coldplugArgs: [...c.coldplugArgs],
    error: c.error,
    warnings: [...c.warnings],
    pendingEffect: eff && { id: eff.id, src: eff.src },
    lastSeq,
  };
}

/** The id an endpoint of `idx` gets when none is given: `ep<idx>`, then `ep<idx>-2`, … */
export function freeEndpointId(taken: (id: string) => boolean, idx: number): string {
  const base = Number.isInteger(idx) && idx >= 0 ? `ep${idx}` : 'ep';
  if (!taken(base)) return base;
  for (let n = 2; ; n++) if (!taken(`${base}-${n}`)) return `${base}-${n}`;
}
