/**
 * The public API is what package.json "exports" reaches. This test lists every name each entry
 * point exports (values and types, through the TypeScript checker) and compares the list with
 * the checked-in `test/api/exports.json`, so that widening or narrowing the API is a deliberate
 * act: change the code, then the snapshot (and docs/api.md) in the same commit. To rewrite the
 * snapshot after a deliberate change: `TAPSTATE_UPDATE_EXPORTS=1 npx vitest run test/api`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SNAPSHOT = path.join(ROOT, 'test', 'api', 'exports.json');

/** Entry point → its source file, from package.json "exports". */
function entryPoints(): Record<string, string> {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, { import?: string } | string> };
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(pkg.exports)) {
    if (typeof v === 'string' || !v.import) continue;
    const name = key === '.' ? 'tapstate' : `tapstate/${key.slice(2)}`;
    out[name] = path.join(ROOT, v.import.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts'));
  }
  return out;
}

/** `name (value)` / `name (type)` for every export of each entry point, sorted. */
function exportList(): Record<string, string[]> {
  const entries = entryPoints();
  const program = ts.createProgram(Object.values(entries), { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, noEmit: true, skipLibCheck: true });
  const checker = program.getTypeChecker();
  const out: Record<string, string[]> = {};
  for (const [name, file] of Object.entries(entries)) {
    const sf = program.getSourceFile(file);
    if (!sf) throw new Error(`${name}: ${file} not found`);
    const mod = checker.getSymbolAtLocation(sf);
    if (!mod) throw new Error(`${name}: ${file} is not a module`);
    out[name] = checker
      .getExportsOfModule(mod)
      .map((s) => {
        const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
        return `${s.getName()} (${target.flags & ts.SymbolFlags.Value ? 'value' : 'type'})`;
      })
      .sort();
  }
  return out;
}

describe('the public API', () => {
  it('is exactly the checked-in export list (test/api/exports.json)', () => {
    const actual = exportList();
    if (process.env.TAPSTATE_UPDATE_EXPORTS === '1') fs.writeFileSync(SNAPSHOT, JSON.stringify(actual, null, 2) + '\n');
    const expected = JSON.parse(fs.readFileSync(SNAPSHOT, 'utf8')) as Record<string, string[]>;
    expect(actual).toEqual(expected);
  }, 60_000);

  it('the root export holds no machine internals and no test helpers', () => {
    const root = JSON.parse(fs.readFileSync(SNAPSHOT, 'utf8')).tapstate as string[];
    const names = root.map((s) => s.split(' ')[0]);
    for (const internal of ['STEPS', 'nextTeardown', 'forwardFailed', 'initialContext', 'endpointMachine', 'withFaults', 'SimulatedCrash', 'MemoryKernel', 'encodeRecord'])
      expect(names, internal).not.toContain(internal);
  });
});
