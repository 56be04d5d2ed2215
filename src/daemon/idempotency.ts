/**
 * Idempotency keys of one sandbox's actions. A key is made durable (`start`, fdatasync off the
 * event loop, shared by the keys started together: {@link GroupCommit}) before the action is sent; its final reply is recorded (`done`) when the action ends. A retry with the
 * same key waits for the running action, or gets the recorded reply, or — when the daemon died
 * between `start` and `done` — the outcome recovery settled on. A refusal that ran nothing
 * (busy, not possible now, unknown) is `forget`-ten, so the client may retry with the same key.
 * One line of JSON per record in `<store>/idempotency.jsonl`, compacted when the store is opened
 * (one `start` and one `done` line per key, the newest {@link MAX_KEYS} keys) and, in a daemon
 * that runs for long, whenever it has grown four times past that ({@link IdempotencyKeys.trim}).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GroupCommit } from '../runtime/group-commit.js';

export const IDEMPOTENCY_FILE = 'idempotency.jsonl';
/** Keys kept when the file is compacted at open (the oldest are dropped first). */
export const MAX_KEYS = 10_000;
const KEY_RE = /^[\x21-\x7e]{1,128}$/;

export interface StoredReply {
  status: number;
  body: unknown;
}

interface Entry {
  /** What the key was first used for: `<endpoint> <action>`. */
  fp: string;
  /**
   * The endpoint's `lastSeq` when the key started (absent in files written before): the
   * endpoint's records after it are this action's — found in the log after a crash, even once the
   * endpoint has retired and its id been reused.
   */
  since?: number;
  done?: StoredReply;
  running?: Promise<StoredReply>;
}

export function validKey(key: string): boolean {
  return KEY_RE.test(key);
}

export class IdempotencyKeys {
  private readonly entries = new Map<string, Entry>();
  private fd: number;
  private readonly file: string;
  /** Lines in the key file (compacted: one `start` and at most one `done` per key). */
  private lines = 0;
  /** fdatasync of the key file on libuv's threadpool, shared by keys started together. */
  private readonly commits = new GroupCommit(
    () =>
      new Promise<void>((resolve, reject) => {
        if (this.fd < 0) return reject(new Error('idempotency key file closed'));
        fs.fdatasync(this.fd, (e) => (e ? reject(e) : resolve()));
      }),
  );

  constructor(dir: string) {
    const file = path.join(dir, IDEMPOTENCY_FILE);
    if (fs.existsSync(file)) {
      for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
        let r: { k?: string; fp?: string; since?: unknown; phase?: string; status?: number; body?: unknown };
        try {
          r = JSON.parse(line);
        } catch {
          continue; // a torn last line
        }
        if (typeof r.k !== 'string') continue;
        if (r.phase === 'start' && typeof r.fp === 'string') this.entries.set(r.k, { fp: r.fp, ...(Number.isSafeInteger(r.since) ? { since: r.since as number } : {}) });
        else if (r.phase === 'done' && this.entries.has(r.k)) this.entries.get(r.k)!.done = { status: r.status ?? 200, body: r.body };
        else if (r.phase === 'forget') this.entries.delete(r.k);
      }
    }
    // compact: one line per live key (the newest MAX_KEYS), written aside and renamed over
    const keep = [...this.entries.entries()].slice(-MAX_KEYS);
    this.entries.clear();
    for (const [k, e] of keep) this.entries.set(k, e);
    this.file = file;
    this.fd = this.rewrite();
  }

  /**
   * Write one `start` (+ `done`) line per key in memory to a temp file, fdatasync it, rename it over
   * the key file; returns an append fd on the new file.
   */
  private rewrite(): number {
    const lines: string[] = [];
    for (const [k, e] of this.entries) {
      lines.push(JSON.stringify({ k, fp: e.fp, ...(e.since !== undefined ? { since: e.since } : {}), phase: 'start' }));
      if (e.done) lines.push(JSON.stringify({ k, phase: 'done', status: e.done.status, body: e.done.body }));
    }
    const tmp = `${this.file}.tmp`;
    // never through a symlink: a leftover (a crash, or planted) is unlinked, never followed
    fs.rmSync(tmp, { force: true });
    const t = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
    try {
      fs.writeSync(t, lines.length ? lines.join('\n') + '\n' : '');
      fs.fdatasyncSync(t);
    } finally {
      fs.closeSync(t);
    }
    fs.renameSync(tmp, this.file);
    this.lines = lines.length;
    return fs.openSync(this.file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o600);
  }

  /**
   * Keep a long-running daemon's keys bounded, as opening does: beyond {@link MAX_KEYS} the oldest
   * settled keys are dropped from memory (a running one never), and once the file holds four times
   * as many lines as a compacted one would, it is compacted in place (the old fd is closed once no
   * fdatasync uses it).
   */
  private trim(): void {
    if (this.entries.size > MAX_KEYS) {
      for (const [k, e] of this.entries) {
        if (this.entries.size <= MAX_KEYS) break;
        if (!e.running) this.entries.delete(k);
      }
    }
    if (this.fd >= 0 && this.lines > 4 * MAX_KEYS) {
      const old = this.fd;
      try {
        this.fd = this.rewrite();
      } catch {
        // (disk full…) the old file is intact and still appended to: compaction is retried at the next key
        return;
      }
      void this.commits.idle().then(() => fs.closeSync(old));
    }
  }

  /** The entry of `key`: undefined (new), running, done, or interrupted (started by a daemon that died). */
  lookup(key: string): { fp: string; since?: number; done?: StoredReply; running?: Promise<StoredReply> } | undefined {
    return this.entries.get(key);
  }

  /** Append one record; after {@link close} (the sandbox closed under a running action) nothing: a key without its `done` is answered from the endpoint's state. */
  private write(rec: object): void {
    if (this.fd < 0) return;
    fs.writeSync(this.fd, JSON.stringify(rec) + '\n');
    this.lines++;
  }

  /**
   * Record that `key` starts `fp` on an endpoint whose last record is `since`, and remember the
   * running reply (a retry from now on waits for it); resolves once the record is durable — only
   * then may the action run. If the sync fails the key is forgotten and the error thrown: nothing ran.
   */
  async start(key: string, fp: string, running: Promise<StoredReply>, since?: number): Promise<void> {
    this.write({ k: key, fp, ...(since !== undefined ? { since } : {}), phase: 'start' });
    this.entries.set(key, { fp, ...(since !== undefined ? { since } : {}), running });
    try {
      await this.commits.request();
    } catch (e) {
      this.forget(key);
      throw e;
    }
  }

  finish(key: string, reply: StoredReply): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.write({ k: key, phase: 'done', status: reply.status, body: reply.body });
    e.done = reply;
    delete e.running;
    this.trim();
  }

  /** The action ran nothing: the key is free again. */
  forget(key: string): void {
    this.write({ k: key, phase: 'forget' });
    this.entries.delete(key);
    this.trim();
  }

  /** Close the file once no fdatasync uses it any more. */
  async close(): Promise<void> {
    await this.commits.idle();
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}
