/** src/fs/safe-write.ts: what it refuses, and that it leaves nothing behind. */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OutputFileError, parseFileMode, writeFileSafely } from '../../src/fs/safe-write.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-sw-${process.pid}-`));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('writeFileSafely', () => {
  it('refuses a FIFO and a directory; names the field; leaves no temp file', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'w-'));
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    expect(() => writeFileSafely(fifo, 'x', { field: '--completion' })).toThrow(/^--completion .*fifo: exists and is not a regular file$/);
    expect(() => writeFileSafely(dir, 'x')).toThrow(OutputFileError);
    expect(fs.readdirSync(dir)).toEqual(['fifo']);
  });

  it('writes the exact mode whatever the umask, and replaces a file atomically', () => {
    const f = path.join(tmp, 'exact');
    const old = process.umask(0o077);
    try {
      writeFileSafely(f, 'one', { mode: 0o644 });
    } finally {
      process.umask(old);
    }
    expect(fs.statSync(f).mode & 0o777).toBe(0o644);
    writeFileSafely(f, 'two');
    expect(fs.readFileSync(f, 'utf8')).toBe('two');
    expect(fs.statSync(f).mode & 0o777).toBe(0o600);
    expect(parseFileMode('0640')).toBe(0o640);
    expect(() => parseFileMode('rwx')).toThrow(OutputFileError);
  });
});
