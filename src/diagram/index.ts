/** The endpoint machine's state chart, from its definition: as data, as Mermaid, as JSON. */
export { stateChart, eventLabel, type StateChart, type ChartState, type ChartTransition } from './state-chart.js';
export { toMermaid } from './mermaid.js';

import { stateChart } from './state-chart.js';
import { toMermaid } from './mermaid.js';

/** The endpoint machine's chart in the given format (what `tapstate diagram` prints). */
export function renderStateChart(format: 'mermaid' | 'json'): string {
  const chart = stateChart();
  return format === 'json' ? JSON.stringify(chart, null, 2) + '\n' : toMermaid(chart);
}
