/**
 * Issue #9.2: `view --out` followed a planted symlink (overwriting its target as root, or
 * creating the target of a dangling one) and wrote the page 0644. Now every CLI output file goes
 * through src/fs/safe-write.ts: a new temp file in the target's directory (O_EXCL|O_NOFOLLOW,
 * 0600 unless --mode), renamed over the target; a symlink target is refused.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, refused } from './cli-support.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-safew-${process.pid}-`));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const store = path.join(tmp, 'store');
const init = cli(['init', '--store', store, '--netns', '/run/netns/x']);
if (init.code !== 0) throw new Error(init.stderr);

describe('tapstate view --out', () => {
  it('refuses a symlink to an existing file: the victim is unchanged', () => {
    const victim = path.join(tmp, 'victim');
    fs.writeFileSync(victim, 'precious\n');
    const out = path.join(tmp, 'out.html');
    fs.symlinkSync(victim, out);
    refused(['view', '--store', store, '--out', out], 1, /^tapstate: OutputFileError: --out .*out\.html: is a symbolic link: refusing to write through it/, tmp);
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(fs.lstatSync(out).isSymbolicLink()).toBe(true);
  });

  it('refuses a dangling symlink: its target is not created', () => {
    const target = path.join(tmp, 'created-by-attacker');
    const out = path.join(tmp, 'dangling.html');
    fs.symlinkSync(target, out);
    refused(['view', '--store', store, '--out', out], 1, /OutputFileError: .*is a symbolic link/, tmp);
    expect(fs.existsSync(target)).toBe(false);
  });

  it('writes 0600 by default, --mode when asked, replacing a regular file atomically; no temp file left', () => {
    const out = path.join(tmp, 'page.html');
    fs.writeFileSync(out, 'old', { mode: 0o644 });
    const r = cli(['view', '--store', store, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(fs.statSync(out).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(out, 'utf8')).toMatch(/^<!DOCTYPE html>/i);
    const pub = path.join(tmp, 'public.html');
    expect(cli(['view', '--store', store, '--out', pub, '--mode', '0644']).code).toBe(0);
    expect(fs.statSync(pub).mode & 0o777).toBe(0o644);
    refused(['view', '--store', store, '--out', pub, '--mode', '4777'], 1, /OutputFileError: --mode 4777: must be octal permission bits/, tmp);
    expect(fs.readdirSync(tmp).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
