/**
 * `npm run bench -- [SUITE…] [--json] [--quick]`. Each suite lives in test/bench/<suite>.ts and
 * exports `suite: BenchSuite`.
 */
import { formatHuman, type BenchSuite } from './harness.js';

const KNOWN = ['core', 'netlink', 'qemu', 'recovery', 'serve', 'cni', 'growth'] as const;

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const json = argv.includes('--json');
  const quick = argv.includes('--quick');
  const names = argv.filter((a) => !a.startsWith('--'));
  for (const n of names) {
    if (!(KNOWN as readonly string[]).includes(n)) {
      process.stderr.write(`unknown bench suite "${n}" (known: ${KNOWN.join(', ')})\n`);
      process.exit(2);
    }
  }
  const selected = names.length ? names : [...KNOWN];
  for (const name of selected) {
    const mod = (await import(`./${name}.js`)) as { suite: BenchSuite };
    for await (const r of mod.suite({ quick })) {
      process.stdout.write((json ? JSON.stringify(r) : formatHuman(r)) + '\n');
    }
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
