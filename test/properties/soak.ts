/**
 * `npm run model -- --runs N [--seed S]`: the model-based property with a random seed (printed)
 * or the given one, N runs. CI runs the fixed seed of model.test.ts. fast-check prints the seed,
 * the path and the shrunk counterexample of a failure.
 */
import { spawnSync } from 'node:child_process';
import { parseSoakArgs, randomSeed } from '../support/soak-args.js';

const args = parseSoakArgs(process.argv.slice(2), '--runs', 300);
const seed = args.seed ?? randomSeed();
process.stdout.write(`model: seed ${seed}, ${args.count} runs (replay: npm run model -- --runs ${args.count} --seed ${seed})\n`);
const r = spawnSync('npx', ['vitest', 'run', 'test/properties/model.test.ts'], {
  env: { ...process.env, FC_SEED: String(seed), FC_NUM_RUNS: String(args.count) },
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
