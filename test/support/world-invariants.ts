/**
 * The end-of-run invariants of the in-memory world, shared by the graph test and the model-based
 * test. They are checked while the sandbox netns still exists: deleting a netns that is not ours
 * drops every link in it, and a check after that passes whatever tapstate did.
 *
 * - a tap may remain only for an endpoint that recorded `leftToNetnsOwner` (upstream Detach in a
 *   netns that is not ours);
 * - no device, netdev or fd of ours may remain, ever;
 * - the original link carries no ingress qdisc or redirect filter that tapstate added (what
 *   was there before the run must still be there); only a Detach that left everything to the
 *   netns owner may leave its tc rules.
 */
import type { MemoryWorld } from './memory-world.js';
import { NETNS } from './memory-world.js';
import type { Tapstore } from '../../src/runtime/tapstore.js';
import { MemoryLogStore } from '../../src/log/index.js';
import type { EndpointContext } from '../../machines/index.js';
import { applyRecord, type ReplayedEndpoint } from '../../src/runtime/replay.js';
import type { LogRecord } from '../../src/log/records.js';

/** Every record the store ever wrote: those of deleted segments (kept by the test), then the retained history with the archive. */
function* wholeHistory(w: MemoryWorld, log: MemoryLogStore): Generator<LogRecord> {
  yield* w.deleted;
  for (const { record } of log.history({ archive: true }).records) if (record.seq > (w.deleted[w.deleted.length - 1]?.seq ?? 0)) yield record;
}

/**
 * The last contexts of the endpoints that retired (detached), from the log's history and archive:
 * their `done` snapshot records, and a pure replay of the history (a crash can land between an
 * endpoint's final event and its snapshot record; the end-of-replay sweep retires it all the same).
 */
function retiredContexts(w: MemoryWorld): EndpointContext[] {
  const log = MemoryLogStore.open(w.medium, { readOnly: true });
  try {
    const out: EndpointContext[] = [];
    const eps = new Map<string, ReplayedEndpoint | undefined>();
    const flush = (ep: ReplayedEndpoint | undefined) => {
      if (ep && ep.snapshot.status === 'done') out.push(ep.snapshot.context);
    };
    for (const r of wholeHistory(w, log)) {
      if (r.k === 'snapshot' && r.snapshot.status === 'done') out.push(r.snapshot.context as EndpointContext);
      if (!('ep' in r)) continue;
      if (r.k === 'create') flush(eps.get(r.ep));
      else if (!eps.has(r.ep)) continue; // restored from a base checkpoint: its snapshot records speak for it
      try {
        eps.set(r.ep, applyRecord(r.k === 'create' ? undefined : eps.get(r.ep), r));
      } catch {
        eps.delete(r.ep);
      }
    }
    for (const ep of eps.values()) flush(ep);
    return out;
  } finally {
    log.close();
  }
}

/**
 * Whether a qdiscOrig intent recorded the original link's ingress qdisc as existing before the
 * step: its probe found one, or failed (a failed probe counts as "it existed", so recovery never
 * removes a qdisc it is not sure it added — docs/recovery.md). Such a qdisc is accounted for.
 */
function origIngressUnsure(w: MemoryWorld): boolean {
  const log = MemoryLogStore.open(w.medium, { readOnly: true });
  try {
    for (const r of wholeHistory(w, log))
      if (r.k === 'intent' && r.id === 'attach.qdiscOrig' && (r.pre as { origIngress?: boolean } | undefined)?.origIngress === true) return true;
    return false;
  } finally {
    log.close();
  }
}

export interface Baseline {
  /** The original link's ingress qdisc before the run (someone else's). */
  origIngress: boolean;
}

/** The problems found, as readable lines (empty: all good). */
export function worldProblems(w: MemoryWorld, store: Tapstore, base: Baseline, orig = 'eth0'): string[] {
  const out: string[] = [];
  // a detached endpoint retires from the live set: what it left to the netns owner is in its last snapshot record
  const ctxs = [...store.list().map((v) => store.snapshotOf(v.id).context), ...retiredContexts(w)];
  const leftTaps = new Set(ctxs.filter((c) => c.leftToNetnsOwner).map((c) => `${c.netnsPath}:${c.tapName}`));
  for (const t of w.taps()) if (!leftTaps.has(t)) out.push(`tap ${t} left, and no endpoint left it to the netns owner`);
  if (w.hypervisor.devices().length) out.push(`devices left: ${w.hypervisor.devices().map((d) => d.id).join(', ')}`);
  if (w.hypervisor.netdevs().length) out.push(`netdevs left: ${w.hypervisor.netdevs().map((d) => d.id).join(', ')}`);
  if (store.heldFds !== 0) out.push(`the runtime holds ${store.heldFds} fds`);
  const selfFds = w.kernel.openFdCount('self');
  if (selfFds !== 0) out.push(`${selfFds} fds of ours open in the kernel`);
  const ns = w.kernel.snapshot().netns.find((n) => n.path === NETNS);
  const link = ns?.links.find((l) => l.name === orig);
  if (!link) out.push(`the original link ${orig} is gone`);
  else {
    const origCtx = ctxs.filter((c) => c.name === orig);
    const leftToOwner = origCtx.some((c) => c.leftToNetnsOwner);
    const accounted = link.ingress && (leftToOwner || (!base.origIngress && origIngressUnsure(w)));
    if (link.ingress !== base.origIngress && !accounted) {
      out.push(`${orig} ${link.ingress ? 'has an ingress qdisc tapstate added' : 'lost the ingress qdisc it had before'}`);
    }
    if (link.redirects.length && !leftToOwner) out.push(`${orig} still redirects to ${link.redirects.join(', ')}`);
  }
  return out;
}
