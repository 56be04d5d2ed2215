/**
 * The sandboxes a daemon serves: one store per directory under the state dir, each opened for
 * writing (its lock held by the daemon) and recovered before any request for it is served.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SandboxConfig } from '../runtime/tapstore.js';
import { makeDirs } from '../fs/make-dirs.js';
import { SandboxExistsError, SandboxHealthyError, SandboxNotEmptyError, SandboxPathTakenError, SandboxNotFoundError, SandboxUnavailableError, StateDirError } from './errors.js';
import { StoreLockedError } from '../store/store-lock.js';
import { IdempotencyKeys } from './idempotency.js';
import { SANDBOX_ID_RE } from './validate.js';
import { vhostNetPresent } from '../runtime/vhost-default.js';
import { NEW_PREFIX, createSandboxStore, fsyncPath, isStoreDir, openSandboxStore, sharedNetlinkFor, type SandboxStore } from './sandbox-store.js';
import type { NetlinkAdapter } from '../adapters/netlink.js';

/** One sandbox: its store, opened (and recovered) once, and its idempotency keys. */
export class Sandbox {
  private opening: Promise<SandboxStore> | undefined;
  private opened: SandboxStore | undefined;
  keys: IdempotencyKeys | undefined;
  /** Set while being deleted or when the daemon stops: no new request gets the store. */
  closing = false;
  /** The last error opening it (e.g. StoreLockedError), for health. */
  lastError: Error | undefined;
  /** Open event streams: ended when the sandbox closes. */
  readonly streams = new Set<{ end(): void }>();

  constructor(
    readonly id: string,
    readonly dir: string,
    private readonly env: NodeJS.ProcessEnv,
    private readonly netlink: () => Promise<NetlinkAdapter | undefined>,
    /** Resolves when its store exists on disk (being created: see {@link Sandboxes.create}). */
    private readonly created: Promise<void> = Promise.resolve(),
  ) {}

  get state(): 'open' | 'opening' | 'closed' | 'error' {
    if (this.opened) return 'open';
    if (this.opening) return 'opening';
    return this.lastError ? 'error' : 'closed';
  }

  /** The open store; opens (replay + recovery) on first use, and again after a failed open (e.g. it was locked). */
  ready(): Promise<SandboxStore> {
    if (this.closing) return Promise.reject(new SandboxUnavailableError(this.id, 'it is being closed'));
    if (this.opened) return Promise.resolve(this.opened);
    this.opening ??= this.created.then(() => this.netlink()).then((nl) => openSandboxStore(this.dir, this.env, nl)).then(
      (s) => {
        this.opened = s;
        this.keys = new IdempotencyKeys(this.dir);
        this.lastError = undefined;
        this.opening = undefined;
        return s;
      },
      (e: unknown) => {
        this.lastError = e instanceof Error ? e : new Error(String(e));
        this.opening = undefined;
        throw e;
      },
    );
    return this.opening;
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const st of this.streams) st.end();
    this.streams.clear();
    const s = this.opened ?? (await this.opening?.catch(() => undefined));
    this.opened = undefined;
    await s?.close(); // waits for running operations, which record their keys' replies
    const keys = this.keys;
    this.keys = undefined;
    await keys?.close();
  }
}

/**
 * The state directory (followed if a symlink: systemd's `StateDirectory=` with `DynamicUser=` is
 * one) must be a directory owned by the daemon's uid and not group/other-writable. Else {@link StateDirError}.
 */
export function checkStateDir(dir: string): void {
  const st = fs.statSync(dir);
  if (!st.isDirectory()) throw new StateDirError(dir, 'not-a-directory', 'is not a directory');
  const uid = process.geteuid?.();
  if (uid !== undefined && st.uid !== uid) throw new StateDirError(dir, 'owner', `is owned by uid ${st.uid}, not the daemon's ${uid}`);
  if (st.mode & 0o022) throw new StateDirError(dir, 'mode', `mode ${(st.mode & 0o777).toString(8).padStart(4, '0')} is group/other-writable (chmod go-w it; 0700 is best)`);
}

/** `dir` is free for a new store: absent, or an empty directory (renamed over). Else {@link SandboxPathTakenError}. */
function notTaken(id: string, dir: string): void {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch {
    return; // absent
  }
  if (st.isSymbolicLink()) throw new SandboxPathTakenError(id, dir, 'symlink');
  if (st.isFile()) throw new SandboxPathTakenError(id, dir, 'file');
  if (!st.isDirectory()) throw new SandboxPathTakenError(id, dir, 'other');
  if (fs.readdirSync(dir).length > 0) throw new SandboxPathTakenError(id, dir, 'not-empty');
}

/** Prefix of a deleted sandbox's directory while it is being removed (never a valid sandbox id). */
const TRASH = '.trash-';
/** Prefix of a quarantined sandbox's directory, kept for inspection (never a valid sandbox id, never opened). */
export const QUARANTINE = '.quarantine-';

const sameConfig = (a: SandboxConfig, b: SandboxConfig): boolean =>
  a.netnsPath === b.netnsPath &&
  a.netnsCreated === b.netnsCreated &&
  a.vcpus === b.vcpus &&
  (a.vhost ?? vhostNetPresent()) === (b.vhost ?? vhostNetPresent()) &&
  (a.multiQueue ?? true) === (b.multiQueue ?? true) &&
  (a.qmp ?? '') === (b.qmp ?? '');

export class Sandboxes {
  private readonly map = new Map<string, Sandbox>();
  /** One Linux adapter for every sandbox: one set of netlink sockets and worker threads, one inline budget. */
  private netlink: Promise<NetlinkAdapter | undefined> | undefined;
  private readonly sharedNetlink = () => (this.netlink ??= sharedNetlinkFor(this.env, this.opts.netlinkThread));

  constructor(
    readonly stateDir: string,
    private readonly env: NodeJS.ProcessEnv,
    private readonly opts: { netlinkThread?: boolean } = {},
  ) {
    // a file there is StateDirError not-a-directory (recursive mkdirSync said EEXIST)
    this.made = makeDirs(stateDir, 0o700);
    checkStateDir(stateDir);
  }

  /** The directories the constructor made (the state dir and missing parents): removed again if the daemon cannot start. */
  readonly made: string[];

  /**
   * Find every store under the state dir and open (recover) them all, `width` at a time. What a
   * create or a delete interrupted by a crash left (a `.new-*` or `.trash-*` directory) is removed first.
   */
  async openAll(width = 8): Promise<void> {
    for (const name of fs.readdirSync(this.stateDir).sort()) {
      const dir = path.join(this.stateDir, name);
      if (name.startsWith(TRASH) || name.startsWith(NEW_PREFIX)) fs.rmSync(dir, { recursive: true, force: true });
      else if (!this.map.has(name) && SANDBOX_ID_RE.test(name) && isStoreDir(dir)) this.map.set(name, new Sandbox(name, dir, this.env, this.sharedNetlink));
    }
    const todo = [...this.map.values()];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < todo.length) await todo[next++]!.ready().catch(() => undefined);
    };
    await Promise.all(Array.from({ length: Math.min(width, todo.length) }, worker));
  }

  list(): Sandbox[] {
    return [...this.map.values()];
  }

  get(id: string): Sandbox {
    const s = this.map.get(id);
    if (!s) throw new SandboxNotFoundError(id);
    return s;
  }

  /** Create (or find, with the same config: a retried PUT) a sandbox. `created` is false for an identical existing one. */
  async create(id: string, config: SandboxConfig): Promise<{ sandbox: Sandbox; created: boolean }> {
    const existing = this.map.get(id);
    if (existing) {
      const s = await existing.ready();
      if (!sameConfig(s.sandbox, config)) throw new SandboxExistsError(id);
      return { sandbox: existing, created: false };
    }
    const dir = path.join(this.stateDir, id);
    if (!isStoreDir(dir)) notTaken(id, dir);
    // in the map at once: a second PUT of the id while the store is being created waits for it
    const creating = isStoreDir(dir) ? Promise.resolve() : createSandboxStore(dir, config);
    const sb = new Sandbox(id, dir, this.env, this.sharedNetlink, creating);
    this.map.set(id, sb);
    try {
      await creating;
    } catch (e) {
      if (this.map.get(id) === sb) this.map.delete(id);
      throw e;
    }
    const s = await sb.ready();
    if (!sameConfig(s.sandbox, config)) throw new SandboxExistsError(id);
    return { sandbox: sb, created: true };
  }

  /** Delete a sandbox whose endpoints hold nothing (all `created` or `detached`): close its store, remove its directory. */
  async delete(id: string): Promise<void> {
    const sb = this.get(id);
    const s = await sb.ready();
    const live = s.store.list().filter((v) => v.state !== 'created' && v.state !== 'detached');
    if (live.length) throw new SandboxNotEmptyError(id, live.map((v) => v.id));
    this.map.delete(id);
    await sb.close();
    // atomically out of the way first: a crash in the middle of removing it never leaves a
    // half-removed store (a checkpoint without its log) under the sandbox's name
    const trash = path.join(this.stateDir, `${TRASH}${id}-${process.pid}-${Date.now()}`);
    fs.renameSync(sb.dir, trash);
    fs.rmSync(trash, { recursive: true, force: true });
  }

  /**
   * Take a sandbox whose store cannot be opened (a corrupt or foreign log, files removed by hand)
   * out of service: its directory is moved aside to `<state-dir>/.quarantine-<id>-<ms>`, kept for
   * inspection (`tapstate verify`), nothing deleted and no adapter called; the id
   * is free for a new PUT. Returns where it went (`null`: the directory was already gone). A store
   * that opens: {@link SandboxHealthyError}. One locked by another process: its
   * {@link StoreLockedError}, untouched.
   */
  async quarantine(id: string): Promise<string | null> {
    const sb = this.get(id);
    try {
      await sb.ready();
    } catch (e) {
      if (e instanceof StoreLockedError || e instanceof SandboxUnavailableError) throw e;
      this.map.delete(id);
      await sb.close();
      if (!fs.existsSync(sb.dir)) return null;
      const to = path.join(this.stateDir, `${QUARANTINE}${id}-${Date.now()}`);
      fs.renameSync(sb.dir, to);
      await fsyncPath(this.stateDir, true);
      return to;
    }
    throw new SandboxHealthyError(id);
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.map.values()].map((s) => s.close()));
    await (await this.netlink?.catch(() => undefined))?.close();
  }
}
