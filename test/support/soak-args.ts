/**
 * Command-line options of the soak runners (`npm run torture -- …`, `npm run model -- …`):
 * `--trials N` / `--runs N`, `--seed S`, `--keep-going`. Bad input: one clear line, exit 2.
 */
export interface SoakArgs {
  count: number;
  seed: number | null;
  keepGoing: boolean;
}

export function parseSoakArgs(argv: readonly string[], countFlag: '--trials' | '--runs', defaultCount: number): SoakArgs {
  const out: SoakArgs = { count: defaultCount, seed: null, keepGoing: false };
  const num = (flag: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (v === undefined || !/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min) {
      process.stderr.write(`${flag}: must be an integer >= ${min}, got ${v === undefined ? 'nothing' : JSON.stringify(v)}\n`);
      process.exit(2);
    }
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === countFlag) out.count = num(a, argv[++i], 1);
    else if (a === '--seed') out.seed = num(a, argv[++i], 0);
    else if (a === '--keep-going') out.keepGoing = true;
    else {
      process.stderr.write(`unknown option ${JSON.stringify(a)} (expected ${countFlag} N, --seed S, --keep-going)\n`);
      process.exit(2);
    }
  }
  return out;
}

/** A fresh random seed (31 bits, like the ones in the CI lists). */
export const randomSeed = (): number => Math.floor(Math.random() * 2 ** 31);
