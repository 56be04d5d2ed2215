/**
 * The offline view: one self-contained HTML page (inline CSS, JS and SVG; no network fetch of
 * any kind) with, for each endpoint, the state chart with its current state highlighted and the
 * states it went through marked, and the timeline of its log. The data travels as JSON inside
 * the page; the inline script builds the cards (with `textContent` only, never markup from data).
 */
import { stateChart, type StateChart } from '../diagram/index.js';
import { chartSvg, esc } from './chart-svg.js';
import type { EndpointTimeline } from './timeline.js';

/** What the page shows. */
export interface ViewModel {
  /** Shown as the page title (the store directory). */
  title: string;
  /** When the page was generated (ISO), shown in the header. */
  generatedAt: string;
  /** A partial last record found in the log, if any (bytes). */
  tornBytes: number | null;
  /** Live endpoints first, then endpoints (retired ones) that appear only in the records shown. */
  endpoints: EndpointTimeline[];
  /** How many records the timelines show, of how many retained. */
  window?: { shown: number; total: number };
}

const CSS = `
:root { font-family: system-ui, sans-serif; color: #1d2330; background: #f6f7f9; }
body { margin: 0 16px 24px; }
header { padding: 12px 0; border-bottom: 1px solid #ccd; margin-bottom: 12px; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 0; }
.meta { color: #556; font-size: 13px; }
.summary { display: flex; flex-wrap: wrap; gap: 8px; margin: 8px 0 0; padding: 0; list-style: none; }
.summary li { background: #fff; border: 1px solid #ccd; border-radius: 6px; padding: 3px 8px; font-size: 14px; }
.card { background: #fff; border: 1px solid #ccd; border-radius: 8px; padding: 12px; margin: 12px 0; }
.card-head { display: flex; gap: 12px; align-items: baseline; }
.badge { font-weight: 600; border-radius: 4px; padding: 2px 8px; background: #ffb347; color: #222; }
.badge.indoubt { background: #e5484d; color: #fff; }
svg.chart { max-width: 100%; height: auto; display: block; margin: 8px 0; }
svg .state rect { fill: #fff; stroke: #8a94a6; stroke-width: 1.2; }
svg .state.compound > rect { fill: #eef1f6; }
svg .state.visited > rect { fill: #dbeafe; stroke: #3b82f6; }
svg .state.active > rect { stroke: #e67e00; stroke-width: 2.5; }
svg .state.current > rect { fill: #ffb347; stroke: #b45309; stroke-width: 3; }
svg text { font-size: 12px; text-anchor: middle; fill: #1d2330; }
svg text.title { font-weight: 600; font-size: 13px; }
svg text.src { font-size: 9.5px; fill: #556; }
svg .edge { fill: none; stroke: #9aa3b5; stroke-width: 1.1; }
svg .arrowhead, svg .initial { fill: #6b7385; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid #eceef2; vertical-align: top; }
th { color: #556; font-weight: 600; }
tr.fault td { background: #fdecec; } tr.recovery td { background: #fff6d6; } tr.command td { font-weight: 600; }
.bar { display: inline-block; height: 9px; background: #3b82f6; border-radius: 2px; vertical-align: middle; margin-right: 6px; }
tr.fault .bar { background: #e5484d; }
.detail { color: #556; word-break: break-word; }
`;

const SCRIPT = `
(function () {
  var data = JSON.parse(document.getElementById('tapstate-data').textContent);
  var tpl = document.getElementById('chart-template');
  var root = document.getElementById('endpoints');
  function el(tag, cls, text) { var e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = String(text); return e; }
  var maxMs = 0;
  data.endpoints.forEach(function (ep) { ep.entries.forEach(function (x) { if (typeof x.ms === 'number' && x.ms > maxMs) maxMs = x.ms; }); });
  var summary = document.getElementById('summary');
  data.endpoints.forEach(function (ep) {
    var li = el('li', null, ep.id + ': ' + ep.state + (ep.inDoubt ? ' (in doubt)' : ''));
    li.setAttribute('data-endpoint', ep.id);
    summary.appendChild(li);
    var card = el('section', 'card');
    card.id = 'endpoint-' + ep.id;
    card.setAttribute('data-endpoint', ep.id);
    card.setAttribute('data-current-state', ep.state);
    var head = el('div', 'card-head');
    head.appendChild(el('h2', null, ep.id));
    var badge = el('span', 'badge' + (ep.inDoubt ? ' indoubt' : ''), ep.state + (ep.inDoubt ? ' — in doubt: ' + ep.inDoubt : ''));
    badge.setAttribute('data-state-badge', ep.state);
    head.appendChild(badge);
    head.appendChild(el('span', 'meta', ep.tapName + ' · ' + ep.entries.length + ' log entries'));
    card.appendChild(head);
    var svg = tpl.content.firstElementChild.cloneNode(true);
    var parts = ep.state.split('.');
    svg.querySelectorAll('[data-state]').forEach(function (g) {
      var id = g.getAttribute('data-state');
      if (ep.visited.indexOf(id) >= 0) g.classList.add('visited');
      if (id === ep.state) g.classList.add('current');
      else if (ep.state.indexOf(id + '.') === 0) g.classList.add('active');
    });
    card.appendChild(svg);
    var table = el('table', 'timeline');
    var hr = el('tr');
    ['seq', 'time', 'kind', 'what', 'state after', 'duration', 'detail'].forEach(function (h) { hr.appendChild(el('th', null, h)); });
    table.appendChild(hr);
    ep.entries.forEach(function (x) {
      var tr = el('tr', x.kind);
      tr.appendChild(el('td', null, x.seq));
      tr.appendChild(el('td', null, new Date(x.ts).toISOString().slice(11, 23)));
      tr.appendChild(el('td', null, x.kind + (x.outcome && x.outcome !== 'ok' ? ' (' + x.outcome + ')' : '')));
      tr.appendChild(el('td', null, x.title + (x.attempt && x.attempt > 1 ? ' #' + x.attempt : '')));
      tr.appendChild(el('td', null, x.state || ''));
      var d = el('td');
      if (typeof x.ms === 'number') {
        var bar = el('span', 'bar');
        bar.style.width = Math.max(2, Math.round(120 * x.ms / (maxMs || 1))) + 'px';
        d.appendChild(bar);
        d.appendChild(document.createTextNode(x.ms.toFixed(3) + ' ms'));
      }
      tr.appendChild(d);
      tr.appendChild(el('td', 'detail', x.detail || ''));
      table.appendChild(tr);
    });
    card.appendChild(table);
    root.appendChild(card);
  });
  document.body.setAttribute('data-rendered', String(data.endpoints.length));
})();
`;

/** JSON safe inside a `<script>` element. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** The page as one HTML string. Deterministic for a given model and chart. */
export function renderViewPage(model: ViewModel, chart: StateChart = stateChart()): string {
  const torn = model.tornBytes ? ` · a torn last record (${model.tornBytes} bytes) was ignored` : '';
  const w = model.window;
  const shown = w ? ` · the newest ${w.shown} of ${w.total} records${w.shown < w.total ? ' (tapstate view --all for every one)' : ''}` : '';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>tapstate · ${esc(model.title)}</title>
<style>${CSS}</style>
</head>
<body data-rendered="0">
<header>
<h1>tapstate store ${esc(model.title)}</h1>
<div class="meta">${model.endpoints.length} endpoint(s) · generated ${esc(model.generatedAt)}${esc(shown)}${esc(torn)}</div>
<ul id="summary" class="summary"></ul>
</header>
<main id="endpoints"></main>
<noscript>This page draws its endpoints with JavaScript; the data is in the tapstate-data element.</noscript>
<template id="chart-template">${chartSvg(chart)}</template>
<script type="application/json" id="tapstate-data">${scriptJson({ endpoints: model.endpoints })}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
