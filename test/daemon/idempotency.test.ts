/** The idempotency-key file: durable start, recorded replies, forgotten keys, a torn last line, compaction at open. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IDEMPOTENCY_FILE, IdempotencyKeys, MAX_KEYS, validKey } from '../../src/daemon/idempotency.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-idem-${process.pid}-`));
  dirs.push(d);
  return d;
};

describe('IdempotencyKeys', () => {
  it('reopened: done keys keep their reply, started-only keys are interrupted, forgotten keys are gone, a torn line is ignored', () => {
    const d = tmp();
    const k = new IdempotencyKeys(d);
    k.start('a', 'ep0 hot-attach', new Promise(() => {}));
    k.finish('a', { status: 200, body: { state: 'hotAttached' } });
    k.start('b', 'ep1 attach', new Promise(() => {}));
    k.start('c', 'ep2 detach', new Promise(() => {}));
    k.forget('c');
    k.close();
    fs.appendFileSync(path.join(d, IDEMPOTENCY_FILE), '{"k":"d","fp":"ep3 hot-att');
    const r = new IdempotencyKeys(d);
    expect(r.lookup('a')).toEqual({ fp: 'ep0 hot-attach', done: { status: 200, body: { state: 'hotAttached' } } });
    expect(r.lookup('b')).toEqual({ fp: 'ep1 attach' });
    expect(r.lookup('c')).toBeUndefined();
    expect(r.lookup('d')).toBeUndefined();
    r.close();
    // compacted: one start (+ one done) line per live key
    expect(fs.readFileSync(path.join(d, IDEMPOTENCY_FILE), 'utf8').trim().split('\n')).toHaveLength(3);
  });

  it('never writes through a symlink planted as the temp file: the link is replaced, its target untouched', () => {
    const d = tmp();
    const victim = path.join(tmp(), 'victim');
    fs.writeFileSync(victim, 'keep');
    fs.symlinkSync(victim, path.join(d, `${IDEMPOTENCY_FILE}.tmp`));
    const k = new IdempotencyKeys(d);
    k.start('a', 'ep0 hot-attach', new Promise(() => {}));
    k.close();
    expect(fs.readFileSync(victim, 'utf8')).toBe('keep');
    expect(fs.lstatSync(path.join(d, IDEMPOTENCY_FILE)).isFile()).toBe(true);
    expect(fs.existsSync(path.join(d, `${IDEMPOTENCY_FILE}.tmp`))).toBe(false);
  });

  it('a daemon that runs for long keeps its keys bounded in memory and on disk, as opening does (a running key is never dropped)', async () => {
    const d = tmp();
    const k = new IdempotencyKeys(d);
    const file = path.join(d, IDEMPOTENCY_FILE);
    void k.start('old-running', 'ep0 hot-attach', new Promise(() => {}));
    const n = 3 * MAX_KEYS;
    let maxLines = 0;
    for (let i = 0; i < n; i++) {
      void k.start(`k${i}`, `ep${i} attach`, new Promise(() => {}));
      k.finish(`k${i}`, { status: 200, body: { id: `ep${i}`, state: 'attached' } });
      if (i % 1000 === 0) maxLines = Math.max(maxLines, fs.readFileSync(file, 'utf8').split('\n').length - 1);
    }
    // before: every key stayed in memory and every line in the file until the next open (60,001 lines here)
    expect(k.lookup('k0')).toBeUndefined();
    expect(k.lookup(`k${n - MAX_KEYS + 1}`)?.done).toEqual({ status: 200, body: { id: `ep${n - MAX_KEYS + 1}`, state: 'attached' } });
    expect(k.lookup('old-running')).toMatchObject({ fp: 'ep0 hot-attach' });
    expect(maxLines).toBeLessThanOrEqual(4 * MAX_KEYS + 2);
    await k.close();
    // what a restart reads: the newest keys with their replies
    const r = new IdempotencyKeys(d);
    expect(r.lookup(`k${n - 1}`)?.done?.status).toBe(200);
    await r.close();
  }, 60_000);

  it('keys are 1..128 printable ASCII characters', () => {
    expect(validKey('sb1-ep0-plug')).toBe(true);
    expect(validKey('')).toBe(false);
    expect(validKey('x'.repeat(129))).toBe(false);
    expect(validKey('a b')).toBe(false);
    expect(validKey('é')).toBe(false);
  });
});
