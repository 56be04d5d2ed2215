/**
 * The benchmark line format (`npm run bench -- [SUITE] --json`): one JSON object per case,
 * ours and baseline measured side by side in the same run; ratio = ours / baseline.
 */
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
