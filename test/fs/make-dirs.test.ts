/**
 * makeDirs: `mkdir -p` with the kernel's errno. Node's recursive mkdirSync says ENOENT when the
 * missing directory sits on a read-only file system, so `tapstate init --store /ro/new` said
 * "mkdir …: no such file or directory (ENOENT)". The read-only file system is a bind mount this
 * test makes (root) and removes.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDirs } from '../../src/fs/make-dirs.js';
import { CLI } from '../torture/world.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-mkdirs-${process.pid}-`));
const ro = path.join(tmp, 'ro');
let mounted = false;

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('make-dirs.test needs root (a read-only bind mount)');
  fs.mkdirSync(ro);
  execFileSync('mount', ['--bind', ro, ro]);
  mounted = true;
  execFileSync('mount', ['-o', 'remount,bind,ro', ro]);
});
afterAll(() => {
  if (mounted) execFileSync('umount', [ro]);
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('makeDirs', () => {
  it('makes the missing directories, outermost first, with the mode', () => {
    const d = path.join(tmp, 'a', 'b', 'c');
    expect(makeDirs(d, 0o700)).toEqual([path.join(tmp, 'a'), path.join(tmp, 'a', 'b'), d]);
    expect(fs.statSync(d).mode & 0o777).toBe(0o700);
    expect(makeDirs(d, 0o700)).toEqual([]);
  });

  it('on a read-only file system: EROFS (Node\'s recursive mkdir says ENOENT)', () => {
    expect(() => fs.mkdirSync(path.join(ro, 'x', 'y'), { recursive: true })).toThrow(/ENOENT/); // the quirk this works around
    expect(() => makeDirs(path.join(ro, 'x', 'y'), 0o700)).toThrow(expect.objectContaining({ code: 'EROFS' }));
  });

  it('removes what it made when a deeper component fails', () => {
    const top = path.join(tmp, 'made');
    expect(() => makeDirs(path.join(top, 'n'.repeat(300)), 0o700)).toThrow(expect.objectContaining({ code: 'ENAMETOOLONG' }));
    expect(fs.existsSync(top)).toBe(false);
  });

  it('tapstate init --store on a read-only file system: one FileSystemError line naming EROFS, nothing made', () => {
    for (const store of [path.join(ro, 'sb1'), path.join(ro, 'new', 'sb1')]) {
      const r = spawnSync(process.execPath, [CLI, 'init', '--store', store, '--netns', '/run/netns/x'], { env: { ...process.env, TAPSTATE_ADAPTERS: 'memory' }, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).toBe(`tapstate: FileSystemError: mkdir ${path.join(ro, store === path.join(ro, 'sb1') ? 'sb1' : 'new')}: read-only file system (EROFS)\n`);
    }
    expect(fs.readdirSync(ro)).toEqual([]);
  });
});
