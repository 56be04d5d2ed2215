/**
 * The options a library caller passes to `Tapstore.open` / `openStore`, checked as JavaScript may
 * pass them: a NaN, a negative, a string where a number goes is refused with a typed error naming
 * the option, before anything is opened, created or locked (a NaN `recoveryConcurrency` skipped
 * recovery, a NaN lock timeout waited for ever).
 */
import { TapstateError } from '../../machines/tapstate-error.js';
import { HYPERVISOR_METHODS, missingMethods, NETLINK_METHODS } from '../adapters/adapter-methods.js';
import type { TapstoreOptions } from './tapstore.js';

/** An option of `Tapstore.open` / `openStore` / `createStore` breaks a rule; nothing was opened, created or locked. */
export class StoreOptionError extends TapstateError {
  override readonly name = 'StoreOptionError';
  readonly code = 'STORE_OPTION';
  constructor(
    readonly field: string,
    readonly rule: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

const describe = (v: unknown): string => (typeof v === 'number' ? String(v) : v === null ? 'null' : typeof v);

/** Why a number option is not an acceptable value (finite, at least `min`, an integer when asked), or null. */
export function numberProblem(v: unknown, min: number, integer = false): string | null {
  if (typeof v === 'number' && Number.isFinite(v) && v >= min && (!integer || Number.isInteger(v))) return null;
  return `must be ${integer ? 'an integer' : 'a finite number'} >= ${min} (got ${describe(v)})`;
}

/** Throw StoreOptionError unless `opts[field]` is undefined or passes `problem`. */
export function checkOption(opts: object, field: string, problem: (v: unknown) => string | null, rule: string, prefix = ''): void {
  const v = (opts as Record<string, unknown>)[field];
  if (v === undefined) return;
  const p = problem(v);
  if (p) throw new StoreOptionError(prefix + field, rule, p);
}

const isFunction = (v: unknown) => (typeof v === 'function' ? null : `must be a function (got ${describe(v)})`);
const isBoolean = (v: unknown) => (typeof v === 'boolean' ? null : `must be a boolean (got ${describe(v)})`);

/**
 * The store directory given to openStore / createStore: a non-empty string without NUL. `''`
 * would resolve to the process's working directory (and removeStore would delete it).
 */
export function checkStoreDir(dir: unknown): void {
  if (typeof dir !== 'string') throw new StoreOptionError('dir', 'string', `must be a string (got ${describe(dir)})`);
  if (dir === '') throw new StoreOptionError('dir', 'non-empty', 'must not be empty (it would be the working directory)');
  if (dir.includes('\0')) throw new StoreOptionError('dir', 'no-nul', 'must not contain NUL');
}

/**
 * One side of a store's adapters (`adapters.netlink`, `adapters.hypervisor`): an object with
 * every method of its contract ({@link NETLINK_METHODS}, {@link HYPERVISOR_METHODS}). `from`
 * says where it came from, for the message (`returned by the adapters factory`).
 */
export function checkAdapter(v: unknown, side: 'netlink' | 'hypervisor', from = ''): void {
  const field = `adapters.${side}`;
  const contract = side === 'netlink' ? 'NetlinkAdapter' : 'HypervisorAdapter';
  const where = from ? ` (${from})` : '';
  if (typeof v !== 'object' || v === null) throw new StoreOptionError(field, 'object', `must be a ${contract} object (got ${describe(v)})${where}`);
  const missing = missingMethods(v, side === 'netlink' ? NETLINK_METHODS : HYPERVISOR_METHODS);
  if (missing.length) throw new StoreOptionError(field, 'methods', `must implement ${contract}: missing ${missing.map((m) => `${m}()`).join(', ')}${where}`);
}

/** A whole adapters object (`{ netlink, hypervisor }`, both sides complete); `from` as for {@link checkAdapter}. */
export function checkAdapters(v: unknown, from = ''): void {
  if (typeof v !== 'object' || v === null) throw new StoreOptionError('adapters', 'object', `must be an object (got ${describe(v)})${from ? ` (${from})` : ''}`);
  const a = v as Record<string, unknown>;
  checkAdapter(a.netlink, 'netlink', from);
  checkAdapter(a.hypervisor, 'hypervisor', from);
}

/**
 * `Tapstore.open`'s log and adapters: objects; each adapter complete ({@link checkAdapter}). A
 * replay-only open (`recover: false`) may leave a side `null` (it is given adapters that refuse
 * every call instead).
 */
export function checkLogAndAdapters(opts: { log?: unknown; adapters?: unknown; recover?: unknown }): void {
  for (const f of ['log', 'adapters'] as const) {
    const v = opts[f];
    if (typeof v !== 'object' || v === null) throw new StoreOptionError(f, 'object', `must be an object (got ${describe(v)})`);
  }
  const a = opts.adapters as Record<string, unknown>;
  for (const side of ['netlink', 'hypervisor'] as const) if (!(opts.recover === false && a[side] === null)) checkAdapter(a[side], side);
}

const tapstoreOptions: Record<keyof TapstoreOptions, true> = {
  log: true,
  adapters: true,
  durability: true,
  checkpointEvery: true,
  verify: true,
  recover: true,
  inspect: true,
  clock: true,
  onRecoveryProgress: true,
  recoveryConcurrency: true,
  onClose: true,
};
/** Every option of `Tapstore.open` (`TapstoreOptions`; the compiler keeps the list complete). */
export const TAPSTORE_OPTIONS: readonly string[] = Object.keys(tapstoreOptions);

/**
 * The options of `Tapstore.open` (or `openStore`: `known`) other than the log and adapters. An
 * option that does not exist is refused: a typo (`adaptors:`) was ignored, and `openStore` then
 * built the real adapters.
 */
export function checkStoreOptions(opts: unknown, known: readonly string[] = TAPSTORE_OPTIONS): void {
  if (typeof opts !== 'object' || opts === null) throw new StoreOptionError('options', 'object', `must be an object (got ${describe(opts)})`);
  for (const k of Object.keys(opts)) if (!known.includes(k)) throw new StoreOptionError(k, 'unknown', `unknown option (known: ${known.join(', ')})`);
  checkOption(opts, 'durability', (v) => (v === 'command' || v === 'effect' ? null : `must be "command" or "effect" (got ${JSON.stringify(v) ?? describe(v)})`), 'enum');
  checkOption(opts, 'checkpointEvery', (v) => numberProblem(v, 1, true), 'range');
  checkOption(opts, 'recoveryConcurrency', (v) => numberProblem(v, 1, true), 'range');
  for (const f of ['verify', 'recover']) checkOption(opts, f, isBoolean, 'boolean');
  for (const f of ['clock', 'onRecoveryProgress', 'onClose']) checkOption(opts, f, isFunction, 'function');
}
