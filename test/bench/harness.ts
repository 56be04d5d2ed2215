/**
 * The benchmark line format (`npm run bench -- [SUITE] --json`): one JSON object per case,
 * ours and baseline measured side by side in the same run; ratio = ours / baseline.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';

export interface BenchResult {
  suite: string;
  case: string;
  ours: number;
  baseline: number;
  baseline_name: string;
  unit: string;
  ratio: number;
  /** Optional: the target the issue sets, e.g. "<= 2". */
  target?: string;
  /** Optional extra figures (p99 delay, probe cost, …). */
  extra?: Record<string, number | string>;
}

export type BenchSuite = (opts: { quick: boolean }) => AsyncIterable<BenchResult>;

export function result(r: Omit<BenchResult, 'ratio'>): BenchResult {
  return { ...r, ratio: Number((r.ours / r.baseline).toFixed(4)) };
}

/** Median of samples. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function formatHuman(r: BenchResult): string {
  const extra = r.extra ? '  ' + Object.entries(r.extra).map(([k, v]) => `${k}=${v}`).join(' ') : '';
  return `${r.suite.padEnd(9)} ${r.case.padEnd(38)} ours ${r.ours.toFixed(3).padStart(10)} ${r.unit}  ${r.baseline_name} ${r.baseline
    .toFixed(3)
    .padStart(10)} ${r.unit}  ratio ${r.ratio.toFixed(3)}${r.target ? ` (target ${r.target})` : ''}${extra}`;
}

/**
 * The baseline of the opening/recovery benches: read a store's files — the log, verifying every
 * record's crc32, and the checkpoint, checksummed whole — what any reader of the store must do.
 * Returns the number of log records.
 */
export function readAndChecksumStore(dir: string): number {
  const cp = path.join(dir, 'checkpoint.json');
  if (fs.existsSync(cp)) crc32(fs.readFileSync(cp));
  const segs = path.join(dir, 'segments');
  const files = fs.existsSync(segs) ? fs.readdirSync(segs).sort().map((f) => path.join(segs, f)) : [];
  let n = 0;
  for (const f of [...files, path.join(dir, 'log.jsonl')]) n += checksumLines(fs.readFileSync(f));
  return n;
}

function checksumLines(buf: Buffer): number {
  let start = 0;
  let n = 0;
  for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, start)) {
    const want = parseInt(buf.toString('latin1', start, start + 8), 16);
    if (crc32(buf.subarray(start + 9, i)) !== want) throw new Error(`bad record at ${start}`);
    n++;
    start = i + 1;
  }
  return n;
}
