/** The offline view of a store: one self-contained HTML page. */
export { timelines, TimelineBuilder, type EndpointTimeline, type TimelineEntry } from './timeline.js';
export { chartSvg } from './chart-svg.js';
export { renderViewPage, type ViewModel } from './page.js';

import { FileLogStore } from '../log/file-store.js';
import type { LogRecord } from '../log/records.js';
import { Tapstore } from '../runtime/tapstore.js';
import type { Adapters } from '../runtime/effects.js';
import { renderViewPage } from './page.js';
import { timelines, type EndpointTimeline } from './timeline.js';

/** Records the page shows by default (the newest ones). */
export const DEFAULT_VIEW_RECORDS = 1000;

/** Options of {@link storeViewPage}. */
export interface StoreViewOptions {
  /** Show the newest `last` records (default {@link DEFAULT_VIEW_RECORDS}). */
  last?: number;
  /** Show every retained record (memory grows with the history). */
  all?: boolean;
  /** With `all`: archived segments too. */
  archive?: boolean;
}

const inert = new Proxy({} as Adapters['netlink'] & Adapters['hypervisor'], {
  get(_t, prop) {
    return () => Promise.reject(new Error(`read-only view: ${String(prop)} not available`));
  },
});

/**
 * Read a store directory (read-only) and render its page: every live endpoint (from the
 * checkpoint and the tail, as `status` sees them) and the timeline of the newest `last` records
 * — streamed through a bounded window, so memory does not grow with the history — or, with
 * `all`, of every retained record.
 */
export async function storeViewPage(dir: string, now: Date = new Date(), opts: StoreViewOptions = {}): Promise<string> {
  const last = opts.all ? Infinity : Math.max(1, opts.last ?? DEFAULT_VIEW_RECORDS);
  const log = FileLogStore.open(dir, { readOnly: true });
  try {
    const store = await Tapstore.open({ log, adapters: { netlink: inert, hypervisor: inert }, recover: false });
    let window: LogRecord[] = [];
    let total = 0;
    for (const p of log.history({ archive: opts.all && opts.archive }).records) {
      total++;
      window.push(p.record);
      if (window.length >= 2 * last) window = window.slice(window.length - last);
    }
    if (window.length > last) window = window.slice(window.length - last);
    const tls = timelines(window);
    const byId = new Map(tls.map((t) => [t.id, t]));
    const live: EndpointTimeline[] = [];
    for (const v of store.list()) {
      const t = byId.get(v.id) ?? { id: v.id, state: v.state, visited: [v.state], inDoubt: null, tapName: v.tapName, entries: [] };
      byId.delete(v.id);
      t.state = v.state;
      t.tapName = v.tapName;
      t.inDoubt = v.pendingEffect?.id ?? null;
      live.push(t);
    }
    const torn = log.read(log.end).torn;
    return renderViewPage({
      title: dir,
      generatedAt: now.toISOString(),
      tornBytes: torn?.bytes ?? null,
      endpoints: [...live, ...byId.values()],
      window: { shown: window.length, total },
    });
  } finally {
    log.close();
  }
}
