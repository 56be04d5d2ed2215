/**
 * `npm run torture -- --trials N [--seed S] [--keep-going]`: the kill -9 torture with random
 * seeds, for soak runs (CI runs the fixed seeds of kill9.test.ts instead). Without `--seed`, the
 * trials are split into runs of at most 80, each with a fresh random seed, printed before it
 * starts; a failing run prints the command that replays it. With `--seed`, one run of N trials.
 * Coverage (every effect state hit by a kill, recovery itself killed) is checked once, over the
 * union of all runs, not per seed. Appends one JSON line per run to .tmp/torture-soak.jsonl.
 * Exit 1 if any run failed or the union missed an effect state.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { parseSoakArgs, randomSeed } from '../support/soak-args.js';

/** Trials per seed: enough for the coverage check of kill9.test.ts (every effect state hit). */
const PER_RUN = 80;
const args = parseSoakArgs(process.argv.slice(2), '--trials', PER_RUN);
fs.mkdirSync('.tmp', { recursive: true });
let left = args.count;
let runs = 0;
let trials = 0;
const failed: Array<{ seed: number; trials: number }> = [];
const hits = new Map<string, number>();
let recoverKills = 0;
let effects: string[] = [];
const hitsFile = `.tmp/torture-hits-${process.pid}.json`;
while (left > 0) {
  const n = args.seed !== null ? left : Math.min(PER_RUN, left);
  const seed = args.seed ?? randomSeed();
  process.stdout.write(`torture: seed ${seed}, ${n} trials (${trials} done, ${failed.length} failed)\n`);
  const t0 = Date.now();
  const r = spawnSync('npx', ['vitest', 'run', 'test/torture/kill9.test.ts'], {
    env: { ...process.env, TORTURE_SEED: String(seed), TORTURE_TRIALS: String(n), TORTURE_HITS_FILE: hitsFile },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const ok = r.status === 0;
  if (fs.existsSync(hitsFile)) {
    const h = JSON.parse(fs.readFileSync(hitsFile, 'utf8')) as { hits: Record<string, number>; recoverKills: number; effects: string[] };
    for (const [k, v] of Object.entries(h.hits)) hits.set(k, (hits.get(k) ?? 0) + v);
    recoverKills += h.recoverKills;
    effects = h.effects;
    fs.rmSync(hitsFile);
  }
  runs++;
  trials += n;
  left -= n;
  fs.appendFileSync('.tmp/torture-soak.jsonl', JSON.stringify({ seed, trials: n, ok, ms: Date.now() - t0, at: new Date().toISOString() }) + '\n');
  if (!ok) {
    failed.push({ seed, trials: n });
    fs.writeFileSync(`.tmp/torture-fail-${seed}.log`, `${r.stdout}\n${r.stderr}`);
    process.stdout.write(`torture: FAILED with seed ${seed}; replay: npm run torture -- --trials ${n} --seed ${seed} (output in .tmp/torture-fail-${seed}.log)\n`);
    if (!args.keepGoing) break;
  }
}
process.stdout.write(`torture: ${trials} trials in ${runs} runs, ${failed.length} failed${failed.length ? `: seeds ${failed.map((f) => f.seed).join(', ')}` : ''}\n`);
const missed = effects.filter((e) => !hits.has(e));
const coverageOk = effects.length > 0 && missed.length === 0 && recoverKills > 0;
process.stdout.write(
  `torture: kills per effect state over all runs: ${JSON.stringify(Object.fromEntries([...hits].sort()))}; recovery killed ${recoverKills} times` +
    (coverageOk ? '\n' : `; COVERAGE SHORTFALL: ${missed.length ? `never killed in ${missed.join(', ')}` : 'recovery never killed'}\n`),
);
process.exit(failed.length || !coverageOk ? 1 : 0);
