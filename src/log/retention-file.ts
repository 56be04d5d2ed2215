/**
 * `retention.json`: the store's retention policy, one framed line (`<crc32> <json>\n`, like the
 * checkpoint), replaced atomically (temp file, fsync, rename, fsync of the directory). Absent:
 * {@link DEFAULT_RETENTION}.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { frameJson } from './codec.js';
import { LogCorruptError, LogFormatError } from './errors.js';
import { checkRetention, DEFAULT_RETENTION, type RetentionPolicy } from './retention.js';

export const RETENTION_FILE = 'retention.json';

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY } = fs.constants;

function refuseUnsafe(file: string, st: fs.Stats): void {
  const uid = process.getuid?.();
  if (!st.isFile() || (uid !== undefined && st.uid !== uid) || st.mode & 0o022)
    throw new LogFormatError(file, 'unsafe-file', `${file}: refused: not a regular file of ours, or group/other-writable`);
}

/** The policy in `<dir>/retention.json`, or null if there is none. */
export function readRetentionFile(dir: string): RetentionPolicy | null {
  const file = path.join(dir, RETENTION_FILE);
  let fd: number;
  try {
    fd = fs.openSync(file, O_RDONLY | O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ELOOP') throw new LogFormatError(file, 'unsafe-file', `${file}: refused: is a symbolic link`);
    throw e;
  }
  let buf: Buffer;
  try {
    refuseUnsafe(file, fs.fstatSync(fd));
    buf = fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  const nl = buf.indexOf(0x0a);
  if (nl !== buf.length - 1 || nl < 10 || buf[8] !== 0x20) throw new LogCorruptError(file, 0, 'retention', 'not exactly one "<crc32> <json>" line');
  const want = buf.toString('latin1', 0, 8);
  const got = (crc32(buf.subarray(9, nl)) >>> 0).toString(16).padStart(8, '0');
  if (want !== got) throw new LogCorruptError(file, 0, 'retention', `checksum: stored ${want}, computed ${got}`);
  let v: unknown;
  try {
    v = JSON.parse(buf.toString('utf8', 9, nl));
  } catch (e) {
    throw new LogCorruptError(file, 0, 'retention', (e as Error).message);
  }
  try {
    return checkRetention(v, DEFAULT_RETENTION);
  } catch (e) {
    throw new LogCorruptError(file, 0, 'retention', (e as Error).message);
  }
}

/** Replace `<dir>/retention.json` atomically and durably (the policy is validated first). */
export function writeRetentionFile(dir: string, policy: RetentionPolicy): void {
  const p = checkRetention(policy);
  const file = path.join(dir, RETENTION_FILE);
  const tmp = file + '.tmp';
  try {
    fs.unlinkSync(tmp);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const fd = fs.openSync(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  try {
    fs.writeSync(fd, frameJson(JSON.stringify(p)));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  const dfd = fs.openSync(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  try {
    fs.fsyncSync(dfd);
  } finally {
    fs.closeSync(dfd);
  }
}
