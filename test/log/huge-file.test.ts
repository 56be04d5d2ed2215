/**
 * Huge files in a store. A torn tail of gigabytes (zeros after a crash, garbage) is found without
 * reading it into memory; a file past 2 GiB is read in chunks (readSync's length is a 32-bit int);
 * one past what a Buffer holds is a typed LogFormatError `too-large`. Before: a 3 GiB tail made
 * every reader (status, log, inspect, verify, recover) fail with an untyped `RangeError: The value
 * of "length" is out of range` after reading windows growing to the whole tail.
 * The files are sparse: no disk is used.
 */
import * as buffer from 'node:buffer';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileLogStore } from '../../src/log/file-store.js';
import { encodeHeader, encodeRecord, newHeader, readTail } from '../../src/log/codec.js';
import { LogFormatError } from '../../src/log/errors.js';
import { hotAttach, tempDir } from './fixtures.js';

let root: string | undefined;
afterEach(() => {
  if (root) fs.rmSync(root, { recursive: true, force: true });
  root = undefined;
});

/** A store with a few records whose log.jsonl is then extended (sparse zeros) to `size` bytes. */
function storeOfSize(size: number): { dir: string; end: number } {
  root = tempDir('huge');
  const dir = path.join(root, 'store');
  const log = FileLogStore.create(dir, { sandbox: 'huge' });
  log.append(hotAttach(1), true);
  const end = log.end;
  log.close();
  fs.truncateSync(path.join(dir, 'log.jsonl'), size);
  return { dir, end };
}

describe('a huge torn tail', () => {
  it('readTail looks for the last newline in bounded windows: a 4 GiB tail is never read whole', () => {
    const head = Buffer.concat([encodeHeader(newHeader({})), ...hotAttach(1).map((r, i) => encodeRecord({ ...r, seq: i + 1 }))]);
    const headerEnd = encodeHeader(newHeader({})).length;
    const size = 4 * 2 ** 30;
    const zeros = Buffer.alloc(1 << 20); // codec's TAIL_CHUNK
    let biggest = 0;
    const readAt = (pos: number, len: number): Buffer => {
      biggest = Math.max(biggest, len);
      if (len > 64 * 2 ** 20) throw new Error(`read of ${len} bytes: the tail is being read whole`);
      if (pos >= head.length && len <= zeros.length) return zeros.subarray(0, len); // zeros past the records
      const out = Buffer.alloc(len);
      if (pos < head.length) head.copy(out, 0, pos, Math.min(head.length, pos + len));
      return out;
    };
    const scan = readTail(readAt, size, headerEnd, 'virtual.jsonl');
    expect(scan.end).toBe(head.length);
    expect(scan.torn).toEqual({ offset: head.length, bytes: size - head.length });
    expect(scan.last?.record.seq).toBe(hotAttach(1).length);
    expect(biggest).toBeLessThanOrEqual(1 << 20);
  });

  it('a real 2 GiB + 4 KiB log: opened, the records before the zeros read, the zeros reported as a torn tail', () => {
    const size = 2 ** 31 + 4096;
    const { dir, end } = storeOfSize(size);
    const log = FileLogStore.open(dir, { readOnly: true });
    try {
      const r = log.read();
      expect(r.records.length).toBe(hotAttach(1).length);
      expect(r.torn).toEqual({ offset: end, bytes: size - end });
    } finally {
      log.close();
    }
  }, 60_000);

  it('a checkpoint larger than a Buffer holds: LogFormatError too-large naming it, not a RangeError', async () => {
    const { dir } = storeOfSize(4096);
    const cp = path.join(dir, 'checkpoint.json');
    fs.writeFileSync(cp, '', { mode: 0o600 });
    fs.truncateSync(cp, buffer.constants.MAX_LENGTH + 2 ** 20);
    const log = FileLogStore.open(dir, { readOnly: true });
    let err: unknown;
    try {
      log.readCheckpoint();
    } catch (e) {
      err = e;
    } finally {
      log.close();
    }
    expect(err).toBeInstanceOf(LogFormatError);
    expect(err).toMatchObject({ reason: 'too-large', file: cp });
    expect((err as Error).message).toMatch(/checkpoint\.json: \d+ bytes to read at byte 0, more than this Node\.js can hold in memory/);
  });
});
