/**
 * The mutation score from a StrykerJS JSON report (mutation-testing-report-schema): per file and
 * for machines/ + src/runtime/, as Stryker defines it — detected (killed + timeout) over valid
 * mutants (detected + survived + no coverage); compile and runtime errors and ignored mutants
 * do not count.
 */
export interface MutationReport {
  files: Record<string, { mutants: Array<{ status: string }> }>;
}

export interface FileScore {
  file: string;
  killed: number;
  timeout: number;
  survived: number;
  noCoverage: number;
  errors: number;
  score: number;
}

const pct = (detected: number, valid: number): number => (valid === 0 ? 100 : Math.round((detected / valid) * 10_000) / 100);

export function fileScore(file: string, mutants: ReadonlyArray<{ status: string }>): FileScore {
  const n = (st: string) => mutants.filter((m) => m.status === st).length;
  const killed = n('Killed');
  const timeout = n('Timeout');
  const survived = n('Survived');
  const noCoverage = n('NoCoverage');
  const errors = n('CompileError') + n('RuntimeError');
  return { file, killed, timeout, survived, noCoverage, errors, score: pct(killed + timeout, killed + timeout + survived + noCoverage) };
}

export function mutationSummary(report: MutationReport) {
  const files = Object.entries(report.files)
    .map(([f, v]) => fileScore(f, v.mutants))
    .sort((a, b) => a.file.localeCompare(b.file));
  // the line is for machines/ + src/runtime/; a run over other files only (e.g. src/persist/) gets its own case
  const core = files.filter((f) => f.file.startsWith('machines/') || f.file.startsWith('src/runtime/'));
  const target = core.length > 0 ? core : files;
  const label = core.length > 0 ? 'machines/ + src/runtime/' : [...new Set(files.map((f) => `${f.file.split('/').slice(0, -1).join('/')}/`))].join(' + ');
  const caseName = core.length > 0 ? 'machines+runtime' : [...new Set(files.map((f) => f.file.split('/').slice(-2, -1)[0]))].join('+');
  const sum = (k: keyof Omit<FileScore, 'file' | 'score'>) => target.reduce((a, f) => a + f[k], 0);
  const detected = sum('killed') + sum('timeout');
  const score = pct(detected, detected + sum('survived') + sum('noCoverage'));
  const rows = files.map((f) => `| \`${f.file}\` | ${f.killed} | ${f.timeout} | ${f.survived} | ${f.noCoverage} | ${f.errors} | ${f.score.toFixed(2)} |`);
  const table = [
    '| file | killed | timeout | survived | no coverage | errors | score % |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    `| **${label}** | ${sum('killed')} | ${sum('timeout')} | ${sum('survived')} | ${sum('noCoverage')} | ${sum('errors')} | **${score.toFixed(2)}** |`,
  ].join('\n');
  const line = { suite: 'mutation', case: caseName, ours: score, baseline: 100, baseline_name: 'all mutants killed', unit: '%', ratio: Math.round(score * 100) / 10_000 };
  return { files, score, table, line };
}
