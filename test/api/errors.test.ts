/**
 * Every error class tapstate defines extends TapstateError and declares its own stable `code`
 * (a catch-all `instanceof TapstateError` works, and `code`s tell them apart). Checked on the
 * sources, so that a new error class cannot forget it; plus every error class reachable from the
 * entry points, at run time.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TapstateError } from '../../machines/index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    return d.isDirectory() ? sources(p) : d.name.endsWith('.ts') ? [p] : [];
  });
}

const files = [...sources(path.join(ROOT, 'src')), ...sources(path.join(ROOT, 'machines'))];
const classes = files.flatMap((f) => {
  const text = fs.readFileSync(f, 'utf8');
  return [...text.matchAll(/export (?:abstract )?class (\w+) extends (\w+) \{([\s\S]*?)\n\}/g)].map((m) => ({ file: path.relative(ROOT, f), name: m[1]!, base: m[2]!, body: m[3]! }));
});
const errors = classes.filter((c) => /Error$|Crash$/.test(c.base) || /Error$|Crash$/.test(c.name));

describe('error classes', () => {
  it('all extend TapstateError (none extends Error directly)', () => {
    expect(errors.length).toBeGreaterThan(30);
    // directly, or through another error class of the list (NoSlotError extends HypervisorError)
    const names = new Set(errors.map((c) => c.name));
    for (const c of errors) if (c.name !== 'TapstateError' && !names.has(c.base)) expect(`${c.file}: ${c.name} extends ${c.base}`).toMatch(/extends TapstateError$/);
  });

  it('each declares a distinct, stable code', () => {
    const codes = new Map<string, string>();
    for (const c of errors) {
      if (c.name === 'TapstateError') continue;
      const code = /readonly code(?:: string)? = '([A-Z_]+)'/.exec(c.body)?.[1];
      expect(code, `${c.file}: ${c.name} has no readonly code = '…'`).toBeDefined();
      expect(codes.get(code!), `${c.name} reuses ${code}`).toBeUndefined();
      codes.set(code!, c.name);
    }
  });

  it('every error class the entry points export is a TapstateError at run time', async () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, { import?: string } | string> };
    let n = 0;
    for (const v of Object.values(pkg.exports)) {
      if (typeof v === 'string' || !v.import) continue;
      const mod = (await import(pathToFileURL(path.join(ROOT, v.import.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts'))).href)) as Record<string, unknown>;
      for (const [name, value] of Object.entries(mod)) {
        if (typeof value !== 'function' || !(value.prototype instanceof Error) || value === TapstateError) continue;
        expect(value.prototype instanceof TapstateError, name).toBe(true);
        n++;
      }
    }
    expect(n).toBeGreaterThan(20);
  });
});
