/**
 * Runs every code example of docs/: each fenced block tagged ```ts in docs/*.md (docs/reference/
 * excluded) is written to its own module and imported, so top-level code runs and a thrown
 * error or a failed `node:assert` fails the test.
 *
 * Convention for examples: import the library as a user would, from `'tapstate'` (and
 * `'tapstate/machines'` for the pure machine); the test points those at the sources
 * (src/index.ts, machines/index.ts). A user copies an example into a program that installed the
 * package: an example may import only the package's exports, `node:` modules and the package's
 * dependencies (checked below; a relative `'../src/…'` import fails that check).
 * Examples may use top-level await. Each block is a separate module: repeat the imports it needs.
 * Temp files go under test/docs/.run-<pid>-<random>/ and are removed afterwards.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOCS = path.join(ROOT, 'docs');
const RUN = path.join(ROOT, 'test', 'docs', `.run-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);

export interface Example {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  code: string;
}

/** The ```ts blocks of a Markdown text. */
export function extractExamples(file: string, text: string): Example[] {
  const out: Example[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/^```ts\s*$/.test(lines[i]!)) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    if (i >= lines.length) throw new Error(`${file}:${start + 1}: unterminated code block`);
    out.push({ file, line: start + 1, code: body.join('\n') + '\n' });
  }
  return out;
}

const EXPORTS = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, unknown> }).exports;

/** Point `'tapstate'` imports at the sources and relative imports at docs/. */
export function rewriteImports(code: string): string {
  const target = (spec: string): string => {
    // every subpath of package.json "exports" ('tapstate', 'tapstate/memory', …) → its source file
    if (spec === 'tapstate' || spec.startsWith('tapstate/')) {
      const key = spec === 'tapstate' ? '.' : `./${spec.slice('tapstate/'.length)}`;
      const exp = (EXPORTS[key] as { import?: string } | undefined)?.import;
      if (!exp) throw new Error(`docs example imports ${spec}, which package.json does not export`);
      return pathToFileURL(path.join(ROOT, exp.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts'))).href;
    }
    if (spec.startsWith('./') || spec.startsWith('../')) return pathToFileURL(path.resolve(DOCS, spec.replace(/\.js$/, '.ts'))).href;
    return spec;
  };
  return code.replace(/(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])([^'"]+)\2/g, (_m, pre: string, q: string, spec: string) => `${pre}${q}${target(spec)}${q}`);
}

const PKG = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies?: Record<string, string>; peerDependencies?: Record<string, string> };
const USER_PACKAGES = new Set([...Object.keys(PKG.dependencies ?? {}), ...Object.keys(PKG.peerDependencies ?? {})]);

/** The import specifiers of an example that a program which installed the package could not resolve. */
export function nonUserImports(code: string): string[] {
  const specs = [...code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])([^'"]+)\1/g)].map((m) => m[2]!);
  return specs.filter((spec) => {
    if (spec.startsWith('node:')) return false;
    if (spec === 'tapstate' || spec.startsWith('tapstate/')) return !EXPORTS[spec === 'tapstate' ? '.' : `./${spec.slice('tapstate/'.length)}`];
    const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
    return !USER_PACKAGES.has(pkg);
  });
}

function docFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((d) => (d.isDirectory() ? (d.name === 'reference' ? [] : docFiles(path.join(dir, d.name))) : d.name.endsWith('.md') ? [path.join(dir, d.name)] : []))
    .sort();
}

const examples = docFiles(DOCS).flatMap((f) => extractExamples(path.relative(ROOT, f), fs.readFileSync(f, 'utf8')));

afterAll(() => fs.rmSync(RUN, { recursive: true, force: true }));

describe('the code examples in docs/', () => {
  it('exist (docs/getting-started.md shows how to embed the library)', () => {
    expect(examples.some((e) => e.file === path.join('docs', 'getting-started.md'))).toBe(true);
  });

  for (const ex of examples) {
    it(`${ex.file}:${ex.line} imports only what a program that installed the package can`, () => {
      expect(nonUserImports(ex.code)).toEqual([]);
    });
  }

  for (const [n, ex] of examples.entries()) {
    it(`${ex.file}:${ex.line} runs`, async () => {
      fs.mkdirSync(RUN, { recursive: true });
      const file = path.join(RUN, `${path.basename(ex.file, '.md')}-${n}.ts`);
      fs.writeFileSync(file, rewriteImports(ex.code));
      await import(pathToFileURL(file).href);
    });
  }
});

describe('the example runner itself', () => {
  it('extracts only ```ts blocks and rewrites the tapstate imports', () => {
    const md = ['# x', '```ts', "import { Tapstore } from 'tapstate';", '```', '```json', '{}', '```', '```ts', "import { x } from '../src/a.js';", '```'].join('\n');
    const ex = extractExamples('x.md', md);
    expect(ex.map((e) => e.line)).toEqual([2, 8]);
    expect(rewriteImports(ex[0]!.code)).toContain(pathToFileURL(path.join(ROOT, 'src', 'index.ts')).href);
    expect(rewriteImports(ex[1]!.code)).toContain(pathToFileURL(path.join(ROOT, 'src', 'a.ts')).href);
    expect(() => extractExamples('y.md', '```ts\nlet a = 1;\n')).toThrow(/unterminated/);
    // what a user's program could not import
    expect(nonUserImports(ex[1]!.code)).toEqual(['../src/a.js']);
    expect(nonUserImports("import a from 'node:fs';\nimport { b } from 'tapstate/log';\nimport { c } from 'xstate';\nimport { d } from 'tapstate/nope';\nimport e from 'vitest';\n")).toEqual(['tapstate/nope', 'vitest']);
  });

  it("runs an example that imports from 'tapstate' and 'tapstate/machines'", async () => {
    fs.mkdirSync(RUN, { recursive: true });
    const file = path.join(RUN, 'imports.ts');
    const code = [
      "import assert from 'node:assert/strict';",
      "import { Tapstore, LogCorruptError } from 'tapstate';",
      "import { endpointMachine } from 'tapstate/machines';",
      "assert.equal(typeof Tapstore.open, 'function');",
      "assert.equal(new LogCorruptError('f', 0, 'checksum').name, 'LogCorruptError');",
      "assert.equal(endpointMachine.id, 'endpoint');",
      'export const ran = await Promise.resolve(true);',
    ].join('\n');
    fs.writeFileSync(file, rewriteImports(code));
    expect((await import(pathToFileURL(file).href)).ran).toBe(true);
  });

  it('fails on an example that throws', async () => {
    fs.mkdirSync(RUN, { recursive: true });
    const file = path.join(RUN, 'throws.ts');
    fs.writeFileSync(file, "import assert from 'node:assert/strict';\nassert.equal(1 + 1, 3);\n");
    await expect(import(pathToFileURL(file).href)).rejects.toThrow();
  });
});
