/**
 * The state chart as a Mermaid `stateDiagram-v2`. Mermaid state ids are global, so nested states
 * get ids with `_` for `.` and keep their own name as the label.
 */
import type { ChartState, StateChart } from './state-chart.js';

const mid = (id: string): string => id.replace(/\./g, '_');

/** Render the chart as Mermaid text (deterministic: same machine, same text). */
export function toMermaid(chart: StateChart): string {
  const lines: string[] = ['stateDiagram-v2'];
  const children = new Map<string | null, ChartState[]>();
  for (const s of chart.states) {
    const list = children.get(s.parent) ?? [];
    list.push(s);
    children.set(s.parent, list);
  }
  const emit = (parent: string | null, indent: string): void => {
    for (const s of children.get(parent) ?? []) {
      const label = s.invokes ? `${s.key}: ${s.invokes}` : s.key;
      if (s.type === 'compound') {
        lines.push(`${indent}state "${s.key}" as ${mid(s.id)} {`);
        if (s.initial) lines.push(`${indent}  [*] --> ${mid(s.initial)}`);
        emit(s.id, indent + '  ');
        lines.push(`${indent}}`);
      } else {
        lines.push(`${indent}state "${label}" as ${mid(s.id)}`);
      }
      if (s.type === 'final') lines.push(`${indent}${mid(s.id)} --> [*]`);
    }
  };
  lines.push(`  [*] --> ${mid(chart.initial)}`);
  emit(null, '  ');
  // one edge per (source, target): the labels of every event that can take it
  const edges = new Map<string, { source: string; target: string; labels: string[] }>();
  for (const t of chart.transitions) {
    if (t.target === null) continue;
    const k = `${t.source}|${t.target}`;
    const e = edges.get(k) ?? { source: t.source, target: t.target, labels: [] };
    if (!e.labels.includes(t.label)) e.labels.push(t.label);
    edges.set(k, e);
  }
  for (const e of edges.values()) lines.push(`  ${mid(e.source)} --> ${mid(e.target)}: ${e.labels.join(', ')}`);
  return lines.join('\n') + '\n';
}
