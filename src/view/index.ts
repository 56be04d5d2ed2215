/** The offline view of a store: one self-contained HTML page. */
export { timelines, type EndpointTimeline, type TimelineEntry } from './timeline.js';
export { chartSvg } from './chart-svg.js';
export { renderViewPage, type ViewModel } from './page.js';

import { readStoreDir } from '../inspect/read-store.js';
import { renderViewPage } from './page.js';
import { timelines } from './timeline.js';

/** Read a store directory (read-only) and render its page. */
export function storeViewPage(dir: string, now: Date = new Date()): string {
  const log = readStoreDir(dir);
  return renderViewPage({ title: dir, generatedAt: now.toISOString(), tornBytes: log.torn?.bytes ?? null, endpoints: timelines(log.records) });
}
