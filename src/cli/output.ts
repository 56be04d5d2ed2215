/**
 * Human and JSON output helpers for `tapstate`: aligned tables, durations, times, and the stable
 * JSON shapes of `status --json` (see docs/cli.md). Pure.
 */
import type { EndpointView } from '../runtime/endpoint-view.js';
import type { RecoveryReport } from '../runtime/recovery-scheduler.js';
import type { SandboxConfig } from '../runtime/sandbox-config.js';

/** A table column: header and how to get the cell text. */
export interface Column<T> {
  header: string;
  cell(row: T): string;
  /** Right-align (numbers). */
  right?: boolean;
}

/** Render rows as an aligned table with a header line; `-` for empty cells. */
export function table<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((r) => columns.map((c) => c.cell(r) || '-'));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i]!.length)));
  const line = (vals: readonly string[]) =>
    vals
      .map((v, i) => (columns[i]!.right ? v.padStart(widths[i]!) : i === vals.length - 1 ? v : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header.toUpperCase())), ...cells.map(line)].join('\n') + '\n';
}

/** `0.4 ms`, `12 ms`, `1.52 s`, `2m03s`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** Local wall-clock time with milliseconds: `14:03:07.123`. */
export function formatTime(ts: number): string {
  const d = new Date(ts);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** Quote an argument for a POSIX shell only when needed. */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Version of the `status --json` document. Bumped only on incompatible changes. */
export const STATUS_JSON_VERSION = 1;

/** One endpoint in `status --json`: the view's fields, with `error` narrowed to its stable part. */
export type StatusEndpointJson = Pick<
  EndpointView,
  'id' | 'idx' | 'state' | 'status' | 'name' | 'tapName' | 'mac' | 'hardAddr' | 'mtu' | 'queues' | 'netnsPath' | 'pciPath' | 'progress' | 'pendingEffect' | 'warnings' | 'lastSeq'
> & { error: { op: string; step: string; message: string } | null };

/** The `status --json` document. */
export interface StatusJson {
  version: typeof STATUS_JSON_VERSION;
  store: string;
  sandbox: SandboxConfig;
  /** Endpoints with an interrupted effect (`tapstate recover` settles them). */
  inDoubt: number;
  endpoints: StatusEndpointJson[];
}

export function statusJson(store: string, sandbox: SandboxConfig, views: readonly EndpointView[]): StatusJson {
  return {
    version: STATUS_JSON_VERSION,
    store,
    sandbox,
    inDoubt: views.filter((v) => v.status === 'in-doubt').length,
    endpoints: views.map(endpointJson),
  };
}

/** One endpoint as `status --json` (and every command's `--json`) shows it. */
export function endpointJson(v: EndpointView): StatusEndpointJson {
  return {
    id: v.id,
    idx: v.idx,
    state: v.state,
    status: v.status,
    name: v.name,
    tapName: v.tapName,
    mac: v.mac,
    hardAddr: v.hardAddr,
    mtu: v.mtu,
    queues: v.queues,
    netnsPath: v.netnsPath,
    pciPath: v.pciPath,
    progress: v.progress,
    pendingEffect: v.pendingEffect,
    error: v.error && { op: v.error.op, step: v.error.step, message: v.error.message },
    warnings: v.warnings,
    lastSeq: v.lastSeq,
  };
}

/** The endpoints table of `tapstate status`. */
export function statusTable(views: readonly EndpointView[]): string {
  return table(views, [
    { header: 'id', cell: (v) => v.id },
    { header: 'idx', cell: (v) => String(v.idx), right: true },
    { header: 'state', cell: (v) => v.state },
    { header: 'tap', cell: (v) => v.tapName },
    { header: 'mac', cell: (v) => v.mac },
    { header: 'mtu', cell: (v) => String(v.mtu), right: true },
    { header: 'queues', cell: (v) => String(v.queues), right: true },
    { header: 'pci', cell: (v) => v.pciPath },
    { header: 'status', cell: (v) => (v.status === 'in-doubt' && v.pendingEffect ? `in-doubt (${v.pendingEffect.id})` : v.status) },
    { header: 'error', cell: (v) => v.error?.message ?? (v.warnings.length ? `warning: ${v.warnings[0]}` : '') },
  ]);
}

/** The human recovery report. */
export function recoveryText(r: RecoveryReport): string {
  const head = [
    `replayed ${r.replayed} record(s)${r.fromCheckpoint ? ' after the checkpoint' : ' (whole log)'}`,
    r.torn ? `dropped a torn last record (${r.torn.bytes} bytes at offset ${r.torn.offset})` : '',
  ].filter(Boolean);
  if (r.endpoints.length === 0) return [...head, 'nothing to recover: no interrupted effects'].join('\n') + '\n';
  const observed = (o: Record<string, unknown>) =>
    Object.entries(o)
      .filter(([k]) => k !== 'ran')
      .map(([k, v]) => (v === true ? k : v === false ? `!${k}` : `${k}=${String(v)}`))
      .join(' ');
  return (
    [...head, `recovered ${r.endpoints.length} interrupted effect(s):`].join('\n') +
    '\n' +
    table(r.endpoints, [
      { header: 'endpoint', cell: (e) => e.id },
      { header: 'effect', cell: (e) => e.effect },
      { header: 'ran', cell: (e) => (e.ran ? 'maybe' : 'no') },
      { header: 'action', cell: (e) => e.action },
      { header: 'observed', cell: (e) => observed(e.observed) },
      { header: 'state', cell: (e) => e.finalState },
      { header: 'took', cell: (e) => formatDuration(e.ms), right: true },
      { header: 'error', cell: (e) => e.error ?? '' },
    ])
  );
}
