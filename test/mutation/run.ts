/**
 * `npm run mutate [-- <stryker options>]`: StrykerJS over machines/ and src/runtime/ with the
 * fast in-memory tests (stryker.config.json, vitest.mutation.config.ts), two test processes
 * (`MUTATE_NICE=15` runs them niced), incremental (.tmp/stryker-incremental.json: a later run re-tests only the mutants
 * whose code or tests changed; `-- --force` re-tests all). src/persist/ is a separate run:
 * `npm run mutate -- --mutate "src/persist/**\/*.ts"`. Outside CI.
 *
 * Prints the per-file table (also written to .tmp/mutation-table.md for docs/testing.md) and
 * the bench-style line of the machines+runtime score (`case: "persist"` for a persist-only run).
 *
 * Stryker kills a test worker whose run times out, before the test's own cleanup runs, so the
 * tests' temp dirs of a killed worker would stay behind. Stryker therefore runs with a private
 * `TMPDIR` (`$TMPDIR/tapstate-mutate-XXXXXX`), removed with whatever is left in it when Stryker
 * exits, whatever its status. An interrupted run (Ctrl-C) may leave that one directory.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mutationSummary, type MutationReport } from './score.js';

const REPORT = '.tmp/mutation.json';
const skip = process.argv.includes('--report-only');
const extra = process.argv.slice(2).filter((a) => a !== '--report-only');
if (!skip) {
  fs.mkdirSync('.tmp', { recursive: true });
  // not niced by default: under CFS a nice-15 process gets ~4 % of a core against an ordinary one,
  // so on a shared machine the run would take hours
  const nice = process.env.MUTATE_NICE ?? '0';
  if (!/^\d{1,2}$/.test(nice) || Number(nice) > 19) {
    process.stderr.write(`mutate: MUTATE_NICE must be an integer 0..19, got ${JSON.stringify(nice)}\n`);
    process.exit(2);
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tapstate-mutate-'));
  let r;
  try {
    r = spawnSync('nice', ['-n', nice, 'npx', 'stryker', 'run', 'stryker.config.json', ...extra], { stdio: 'inherit', env: { ...process.env, TMPDIR: tmp } });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  if (r.status !== 0) {
    process.stderr.write(`mutate: stryker exited ${r.status}\n`);
    process.exit(r.status ?? 1);
  }
}
if (!fs.existsSync(REPORT)) {
  process.stderr.write(`mutate: ${REPORT} is missing (run without --report-only first)\n`);
  process.exit(1);
}
const s = mutationSummary(JSON.parse(fs.readFileSync(REPORT, 'utf8')) as MutationReport);
fs.writeFileSync('.tmp/mutation-table.md', s.table);
process.stdout.write(`${s.table}\n`);
process.stdout.write(`${JSON.stringify(s.line)}\n`);
