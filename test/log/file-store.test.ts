/** What only the file store does: permissions, symlink and ownership refusal, atomic checkpoints, sync order. */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LOG_FORMAT, type Checkpoint } from '../../src/log/records.js';
import { FileLogStore } from '../../src/log/file-store.js';
import { encodeHeader } from '../../src/log/codec.js';
import { LogFormatError } from '../../src/log/errors.js';
import { hotAttach, tempDir } from './fixtures.js';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

const mode = (p: string) => fs.lstatSync(p).mode & 0o777;
const cp = (seq: number, offset: number): Checkpoint => ({ format: LOG_FORMAT, version: 1, seq, offset, endpoints: {} });

describe('FileLogStore on disk', () => {
  let root: string;
  let dir: string;
  beforeEach(() => {
    root = tempDir('fstore');
    dir = path.join(root, 'store');
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('creates the directory 0700 and log.jsonl / checkpoint.json 0600, leaving no temp files', () => {
    const s = FileLogStore.create(dir, { a: 1 });
    s.append(hotAttach(1), true);
    s.writeCheckpoint(cp(7, s.end));
    s.close();
    expect(mode(dir)).toBe(0o700);
    expect(mode(path.join(dir, 'log.jsonl'))).toBe(0o600);
    expect(mode(path.join(dir, 'checkpoint.json'))).toBe(0o600);
    expect(fs.readdirSync(dir).sort()).toEqual(['checkpoint.json', 'log.jsonl']);
  });

  it('the log is one "<crc32> <json>" line per record after the header line', () => {
    const s = FileLogStore.create(dir, {});
    s.append(hotAttach(1), false);
    s.close();
    const lines = fs.readFileSync(path.join(dir, 'log.jsonl'), 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(8);
    for (const l of lines) expect(l).toMatch(/^[0-9a-f]{8} \{.*\}$/);
    expect(lines[0]).toMatch(/^[0-9a-f]{8} \{"k":"header","format":"tapstate-log","version":1,/);
  });

  it('refuses a symlinked log.jsonl', () => {
    FileLogStore.create(dir, {}).close();
    const real = path.join(root, 'elsewhere.jsonl');
    fs.renameSync(path.join(dir, 'log.jsonl'), real);
    fs.symlinkSync(real, path.join(dir, 'log.jsonl'));
    expect(thrown(() => FileLogStore.open(dir))).toMatchObject({ name: 'LogFormatError', reason: 'unsafe-file' });
    expect(thrown(() => FileLogStore.create(dir, {}))).toMatchObject({ reason: 'unsafe-file' });
    expect(fs.lstatSync(path.join(dir, 'log.jsonl')).isSymbolicLink()).toBe(true);
  });

  it('refuses a symlinked store directory', () => {
    FileLogStore.create(dir, {}).close();
    const link = path.join(root, 'link');
    fs.symlinkSync(dir, link);
    // the message says why: a symlink (O_DIRECTORY|O_NOFOLLOW fails ENOTDIR on one), not "not a directory"
    expect(thrown(() => FileLogStore.open(link))).toMatchObject({ name: 'LogFormatError', reason: 'unsafe-file', message: expect.stringMatching(/: refused: is a symbolic link$/) });
    expect(thrown(() => FileLogStore.open(link + '/'))).toMatchObject({ reason: 'unsafe-file' });
    expect(thrown(() => FileLogStore.create(link, {}))).toMatchObject({ reason: 'unsafe-file' });
  });

  it('refuses a symlinked checkpoint.json, and never writes through a planted temp-file symlink', () => {
    const s = FileLogStore.create(dir, {});
    s.append(hotAttach(1), true);
    const victim = path.join(root, 'victim');
    fs.writeFileSync(victim, 'precious');
    fs.symlinkSync(victim, path.join(dir, 'checkpoint.json'));
    expect(thrown(() => s.readCheckpoint())).toMatchObject({ reason: 'unsafe-file' });
    fs.unlinkSync(path.join(dir, 'checkpoint.json'));
    fs.symlinkSync(victim, path.join(dir, 'checkpoint.json.tmp'));
    s.writeCheckpoint(cp(7, s.end));
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious');
    expect(s.readCheckpoint()!.seq).toBe(7);
    s.close();
  });

  it('refuses a group/other-writable directory or log, a directory owned by someone else, and a non-regular log', () => {
    FileLogStore.create(dir, {}).close();
    const log = path.join(dir, 'log.jsonl');
    fs.chmodSync(dir, 0o770);
    expect(thrown(() => FileLogStore.open(dir))).toMatchObject({ reason: 'unsafe-file' });
    fs.chmodSync(dir, 0o700);
    fs.chmodSync(log, 0o666);
    expect(thrown(() => FileLogStore.open(dir))).toMatchObject({ reason: 'unsafe-file' });
    fs.chmodSync(log, 0o600);
    expect(process.getuid!()).toBe(0); // the ownership case needs root to chown
    fs.chownSync(dir, 65534, 65534);
    expect(thrown(() => FileLogStore.open(dir))).toMatchObject({ reason: 'unsafe-file' });
    fs.chownSync(dir, 0, 0);
    fs.unlinkSync(log);
    fs.mkdirSync(log, { mode: 0o700 });
    expect(thrown(() => FileLogStore.open(dir))).toMatchObject({ reason: 'unsafe-file' });
    fs.rmdirSync(log);
    execFileSync('mkfifo', ['-m', '600', log]);
    expect(thrown(() => FileLogStore.open(dir, { readOnly: true }))).toMatchObject({ reason: 'unsafe-file' });
    expect(thrown(() => FileLogStore.open(dir))).toMatchObject({ reason: 'unsafe-file' });
    fs.unlinkSync(log);
    expect(thrown(() => FileLogStore.open(dir))).toMatchObject({ reason: 'empty' });
  });

  it('a missing directory is "empty"; a regular file in place of the directory is unsafe', () => {
    expect(thrown(() => FileLogStore.open(dir))).toMatchObject({ name: 'LogFormatError', reason: 'empty' });
    fs.writeFileSync(dir, 'x');
    expect(thrown(() => FileLogStore.open(dir))).toMatchObject({ reason: 'unsafe-file' });
  });

  it('create() re-initialises a torn header and drops a stale checkpoint', () => {
    fs.mkdirSync(dir, { mode: 0o700 });
    const h = encodeHeader({ k: 'header', format: LOG_FORMAT, version: 1, created: 'x', meta: {} });
    fs.writeFileSync(path.join(dir, 'log.jsonl'), h.subarray(0, 17), { mode: 0o600 });
    fs.writeFileSync(path.join(dir, 'checkpoint.json'), 'stale', { mode: 0o600 });
    fs.writeFileSync(path.join(dir, 'log.jsonl.tmp'), 'leftover', { mode: 0o600 });
    const s = FileLogStore.create(dir, { again: true });
    expect(s.read().header.meta).toEqual({ again: true });
    expect(s.readCheckpoint()).toBeNull();
    s.close();
    expect(fs.readdirSync(dir)).toEqual(['log.jsonl']);
  });

  it('syncs in order: log fdatasync, checkpoint temp fsync, directory fsync', () => {
    const calls: string[] = [];
    const s = FileLogStore.create(dir, {}, {
      fdatasync: (fd) => {
        calls.push('fdatasync');
        fs.fdatasyncSync(fd);
      },
      fsync: (fd) => {
        calls.push(fs.fstatSync(fd).isDirectory() ? 'fsync-dir' : 'fsync-file');
        fs.fsyncSync(fd);
      },
    });
    calls.length = 0;
    s.append(hotAttach(1), false);
    s.writeCheckpoint(cp(7, s.end));
    expect(calls).toEqual(['fdatasync', 'fsync-file', 'fsync-dir']);
    s.close();
  });

  it('a crash while writing the checkpoint leaves the previous checkpoint intact', () => {
    let fail = false;
    const s = FileLogStore.create(dir, {}, {
      fsync: (fd) => {
        if (fail) throw new Error('power cut');
        fs.fsyncSync(fd);
      },
    });
    s.append(hotAttach(1), true);
    s.writeCheckpoint(cp(3, s.read().records[3]!.offset));
    fail = true;
    expect(thrown(() => s.writeCheckpoint(cp(7, s.end)))).toMatchObject({ message: 'power cut' });
    expect(s.readCheckpoint()!.seq).toBe(3);
    fail = false;
    s.writeCheckpoint(cp(7, s.end)); // the leftover temp file does not block the next one
    expect(s.readCheckpoint()!.seq).toBe(7);
    s.close();
    expect(fs.readdirSync(dir).sort()).toEqual(['checkpoint.json', 'log.jsonl']);
  });

  it('counts one real fdatasync per durable append through the default path', () => {
    // with no injected fdatasync the store uses fs.fdatasyncSync: check it is reachable and works
    const s = FileLogStore.create(dir, {});
    for (const r of hotAttach(1)) s.append([r], true);
    s.close();
    expect(FileLogStore.open(dir).read().records).toHaveLength(7);
  });

  it('an unserialisable record (BigInt) is refused before anything is written', () => {
    const s = FileLogStore.create(dir, {});
    s.append(hotAttach(1).slice(0, 2), true);
    const end = s.end;
    const before = fs.readFileSync(path.join(dir, 'log.jsonl'));
    const bad = { ...hotAttach(1)[2]!, seq: 3, input: { big: 1n } } as never;
    expect(thrown(() => s.append([bad], true))).toMatchObject({ name: 'LogRecordError', field: 'records[0]' });
    expect(s.end).toBe(end);
    expect(fs.readFileSync(path.join(dir, 'log.jsonl')).equals(before)).toBe(true);
    s.append(hotAttach(3).slice(0, 1), true);
    s.close();
    expect(FileLogStore.open(dir).read().records).toHaveLength(3);
  });

  it('LogFormatError messages name the file', () => {
    FileLogStore.create(dir, {}).close();
    fs.writeFileSync(path.join(dir, 'log.jsonl'), 'nope\n');
    const e = thrown(() => FileLogStore.open(dir)) as LogFormatError;
    expect(e.file).toBe(path.join(dir, 'log.jsonl'));
    expect(e.message).toContain(path.join(dir, 'log.jsonl'));
  });
});
