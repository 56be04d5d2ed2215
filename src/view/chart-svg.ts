/**
 * The state chart drawn as inline SVG (pure, no layout engine): top-level states in columns
 * in definition order, the children of a compound state stacked inside it, arrows for the
 * effect chains inside compound states and arcs for the moves between top-level states.
 * Every state's rectangle carries `data-state="<dotted id>"` so the page can highlight it.
 */
import type { ChartState, StateChart } from '../diagram/index.js';

const COL_W = 150;
const GAP = 18;
const BOX_H = 30;
const ROW = 42;
const TOP = 80;
const PAD = 10;

interface Box {
  s: ChartState;
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Escape text for HTML/SVG content and attributes. */
export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function layout(chart: StateChart): { boxes: Map<string, Box>; width: number; height: number } {
  const boxes = new Map<string, Box>();
  const tops = chart.states.filter((s) => s.parent === null);
  let height = 0;
  tops.forEach((s, i) => {
    const x = PAD + i * (COL_W + GAP);
    const kids = chart.states.filter((c) => c.parent === s.id);
    const h = kids.length === 0 ? BOX_H : 34 + kids.length * ROW;
    boxes.set(s.id, { s, x, y: TOP, w: COL_W, h });
    kids.forEach((c, j) => boxes.set(c.id, { s: c, x: x + 10, y: TOP + 30 + j * ROW, w: COL_W - 20, h: BOX_H }));
    height = Math.max(height, TOP + h);
  });
  return { boxes, width: PAD * 2 + tops.length * (COL_W + GAP) - GAP, height: height + 70 };
}

const topOf = (id: string): string => id.split('.')[0]!;

/** The chart as an `<svg>` element (a string). */
export function chartSvg(chart: StateChart): string {
  const { boxes, width, height } = layout(chart);
  const parts: string[] = [];
  parts.push(
    `<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="endpoint state chart">`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrowhead"/></marker></defs>',
  );
  // arcs between top-level states (forward above, backward below), one per pair
  const pairs = new Map<string, { from: string; to: string; labels: Set<string> }>();
  for (const t of chart.transitions) {
    if (!t.target) continue;
    const from = topOf(t.source);
    const to = topOf(t.target);
    if (from === to) continue;
    const k = `${from}|${to}`;
    const p = pairs.get(k) ?? { from, to, labels: new Set<string>() };
    p.labels.add(t.label);
    pairs.set(k, p);
  }
  let lane = 0;
  for (const p of pairs.values()) {
    const a = boxes.get(p.from)!;
    const b = boxes.get(p.to)!;
    const fwd = b.x > a.x;
    const ax = a.x + a.w / 2 + (fwd ? 12 : -12);
    const bx = b.x + b.w / 2 + (fwd ? -12 : 12);
    const lift = 18 + (lane++ % 4) * 12;
    const d = fwd
      ? `M${ax},${a.y} C${ax},${a.y - lift - 20} ${bx},${b.y - lift - 20} ${bx},${b.y}`
      : `M${ax},${a.y + a.h} C${ax},${height - 40 + (lift - 18) / 3} ${bx},${height - 40 + (lift - 18) / 3} ${bx},${b.y + b.h}`;
    parts.push(`<path class="edge" d="${d}" marker-end="url(#arrow)"><title>${esc(`${p.from} → ${p.to}: ${[...p.labels].join(', ')}`)}</title></path>`);
  }
  // boxes
  for (const { s, x, y, w, h } of boxes.values()) {
    const cls = `state ${s.type}`;
    parts.push(`<g class="${cls}" data-state="${esc(s.id)}">`);
    parts.push(`<rect x="${x}" y="${y}" width="${w}" height="${h}" rx="${s.type === 'final' ? 15 : 6}"/>`);
    if (s.type === 'compound') {
      parts.push(`<text class="title" x="${x + w / 2}" y="${y + 18}">${esc(s.key)}</text>`);
    } else {
      parts.push(`<text x="${x + w / 2}" y="${y + (s.invokes ? 13 : 19)}">${esc(s.key)}</text>`);
      if (s.invokes) parts.push(`<text class="src" x="${x + w / 2}" y="${y + 25}">${esc(s.invokes)}</text>`);
    }
    parts.push('</g>');
  }
  // the effect chain inside compound states (done → next child)
  for (const t of chart.transitions) {
    if (!t.target || t.label !== 'done' || t.guarded) continue;
    const a = boxes.get(t.source)!;
    const b = boxes.get(t.target)!;
    if (a.s.parent === null || a.s.parent !== b.s.parent) continue;
    parts.push(`<path class="edge chain" d="M${a.x + a.w / 2},${a.y + a.h} L${b.x + b.w / 2},${b.y}" marker-end="url(#arrow)"/>`);
  }
  const init = boxes.get(chart.initial);
  if (init) parts.push(`<circle class="initial" cx="${init.x + init.w / 2}" cy="${init.y - 46}" r="6"/><path class="edge" d="M${init.x + init.w / 2},${init.y - 40} L${init.x + init.w / 2},${init.y}" marker-end="url(#arrow)"/>`);
  parts.push('</svg>');
  return parts.join('\n');
}
