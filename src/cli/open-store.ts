/**
 * How the CLI opens a store: through the library's {@link openStore} (which owns the lock, the
 * sandbox config and the real adapters), with two environment variables for tests and
 * benchmarks only (docs/cli.md): `TAPSTATE_ADAPTERS=memory` uses the in-memory kernel and
 * hypervisor (every process starts with an empty world), and `TAPSTATE_TEST_EFFECT_DELAY_MS=N`
 * stretches every adapter call by N ms (half before, half after the real call) so that kill -9
 * tests can land in every effect state. Writers print a line on stderr when opening recovered
 * something.
 */
import * as path from 'node:path';
import type { Adapters } from '../runtime/effects.js';
import type { LogEngine } from '../log/log-engine.js';
import type { LogStore } from '../log/store.js';
import type { SandboxConfig } from '../runtime/sandbox-config.js';
import type { Tapstore } from '../runtime/tapstore.js';
import { envAdapters as cliAdapters } from '../store/env-adapters.js';
import { openStore } from '../store/open-store.js';
import type { CliIO } from './command.js';

export { adapterKind, envAdapters as cliAdapters, type AdapterKind } from '../store/env-adapters.js';

/** An open store (reader or writer). */
export interface StoreSession {
  dir: string;
  store: Tapstore;
  /** The store's log (the daemon follows it live). */
  log: LogStore;
  sandbox: SandboxConfig;
  /** The adapters (writers only). */
  adapters?: Adapters;
  /** Close the store (writers: its adapters and the lock too). */
  close(): Promise<void>;
}

function session(dir: string, store: Tapstore): StoreSession {
  return { dir: path.resolve(dir), store, log: store.log, sandbox: store.sandbox, close: () => store.close() };
}

/**
 * Open a store read-only, without the lock and without recovery: in-doubt endpoints show as
 * `in-doubt`. Used by `status`, `save`.
 */
export async function openReader(dir: string): Promise<StoreSession> {
  return session(dir, await openStore(dir, { lock: false }));
}

/** The stderr line of a writer that cut a torn tail. */
export function tornNotice(t: { offset: number; bytes: number }): string {
  return `tapstate: cut a torn last record (${t.bytes} bytes at byte ${t.offset}) left by an interrupted writer; the records before it are intact\n`;
}

/** Options of {@link openWriter}. */
export interface WriterOptions {
  io: CliIO;
  /** Called as recovery goes through in-doubt endpoints. */
  onRecoveryProgress?: (done: number, total: number) => void;
  /** Print the "recovered first" line on stderr when opening recovered something (default true). */
  announceRecovery?: boolean;
  /** Wait this long for the write lock (ms, default 0: fail at once). */
  lockTimeoutMs?: number;
  /** A netlink adapter shared by many stores (the daemon's): used instead of a new one, never closed here. */
  sharedNetlink?: Adapters['netlink'];
}

/**
 * Open a store for writing: take the lock, build the adapters, replay and recover every
 * in-doubt effect first (the documented policy), saying so on stderr.
 */
export async function openWriter(dir: string, opts: WriterOptions): Promise<StoreSession> {
  let adapters: Adapters | undefined;
  const store = await openStore(dir, {
    adapters: async (sb) => (adapters = await cliAdapters(sb, opts.io.env, opts.sharedNetlink)),
    lock: { timeoutMs: opts.lockTimeoutMs ?? 0 },
    onRecoveryProgress: opts.onRecoveryProgress,
  });
  // opening for writing cut a partial last record away: say so (docs/recovery.md)
  const torn = (store.log as Partial<Pick<LogEngine, 'tornAtOpen'>>).tornAtOpen;
  if (torn) opts.io.err(tornNotice(torn));
  const rec = store.recovery.endpoints;
  if (rec.length > 0 && (opts.announceRecovery ?? true)) {
    const failed = rec.filter((r) => r.action === 'failed').length;
    opts.io.err(
      `tapstate: found ${rec.length} interrupted effect(s) and recovered first: ` +
        rec.map((r) => `${r.id} ${r.effect} ${r.action} → ${r.finalState}`).join('; ') +
        (failed ? ` (${failed} failed: run tapstate recover)` : '') +
        '\n',
    );
  }
  return { ...session(dir, store), adapters };
}

// ---- used by CLI commands (load, verify)
export { sandboxFromMeta as sandboxOf } from '../runtime/sandbox-config.js';
export { StoreNotFoundError } from '../store/errors.js';
export { checkStore } from '../store/open-store.js';
