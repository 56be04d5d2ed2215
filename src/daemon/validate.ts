/** Validation of request bodies and path parameters: bad input is a {@link RequestFieldError} naming the field and the rule. */
import * as fs from 'node:fs';
import { MAX_QUEUES, normaliseMac } from '../../machines/index.js';
import { randomMac } from '../cli/commands/add.js';
import { vhostNetPresent } from '../runtime/vhost-default.js';
import type { SandboxConfig } from '../runtime/tapstore.js';
import { RequestFieldError } from './errors.js';
import { quoteArg } from '../../machines/echo.js';
import { NetnsInvalidError, NetnsMissingError, checkSandboxNetns, isOwnNetns } from '../cli/netns-check.js';
import { SUN_PATH_MAX } from '../cli/commands/init.js';
import { pathLengthProblem } from '../cli/store-dir.js';
import { dotDotProblem, normalPath } from '../runtime/sandbox-path.js';

export const SANDBOX_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function sandboxId(id: string): string {
  if (!SANDBOX_ID_RE.test(id)) throw new RequestFieldError('sandbox', 'pattern', `must match ${SANDBOX_ID_RE.source} (got ${quoteArg(id)})`);
  return id;
}

type Obj = Record<string, unknown>;

function optBool(o: Obj, k: string): boolean | undefined {
  if (o[k] === undefined) return undefined;
  if (typeof o[k] !== 'boolean') throw new RequestFieldError(k, 'type', 'must be a boolean');
  return o[k] as boolean;
}

function optInt(o: Obj, k: string): number | undefined {
  if (o[k] === undefined) return undefined;
  if (typeof o[k] !== 'number' || !Number.isInteger(o[k])) throw new RequestFieldError(k, 'type', 'must be an integer');
  // 9007199254740993 parses as …992: refused rather than silently changed
  if (!Number.isSafeInteger(o[k])) throw new RequestFieldError(k, 'range', `must be a safe integer (at most 2^53-1 in magnitude; got ${String(o[k])})`);
  return o[k] as number;
}

function optString(o: Obj, k: string): string | undefined {
  if (o[k] === undefined) return undefined;
  if (typeof o[k] !== 'string') throw new RequestFieldError(k, 'type', 'must be a string');
  return o[k] as string;
}

function onlyKnown(o: Obj, known: readonly string[]): void {
  for (const k of Object.keys(o)) if (!known.includes(k)) throw new RequestFieldError(k, 'unknown', `unknown field (known: ${known.join(', ')})`);
}

/**
 * An absolute path of the config (`netnsPath`, `qmp`) in its one spelling: `//`, `/./` and a
 * trailing `/` collapsed, a `..` segment refused (src/runtime/sandbox-path.ts). The same
 * namespace written twice is the same config: a retried `PUT` is answered `200`, not `409`.
 */
function configPath(field: string, p: string): string {
  if (p.includes('\0')) throw new RequestFieldError(field, 'nul', 'must not contain a NUL character');
  if (!p.startsWith('/')) throw new RequestFieldError(field, 'absolute', `must be an absolute path (got ${quoteArg(p)})`);
  const dots = dotDotProblem(p);
  if (dots) throw new RequestFieldError(field, 'dot-dot', dots);
  return normalPath(p);
}

/**
 * A sandbox config: `netnsPath` (absolute; not the daemon's own netns; must exist with the real adapters), `netnsCreated`
 * (default false), `qmp` (absolute), `vcpus` (1..256, default 1), `vhost` (default: /dev/vhost-net exists).
 * Both paths in their one spelling ({@link configPath}).
 */
export function sandboxConfig(o: Obj, realWorld: boolean): SandboxConfig {
  onlyKnown(o, ['netnsPath', 'netnsCreated', 'qmp', 'vcpus', 'vhost', 'multiQueue']);
  const rawNetns = optString(o, 'netnsPath');
  if (rawNetns === undefined) throw new RequestFieldError('netnsPath', 'required', 'is required');
  const netnsPath = configPath('netnsPath', rawNetns);
  if (isOwnNetns(netnsPath))
    throw new RequestFieldError('netnsPath', 'not-own', "is the daemon's own network namespace (the host's): never a sandbox's (docs/security.md)");
  if (realWorld && !fs.existsSync(netnsPath)) throw new RequestFieldError('netnsPath', 'exists', `no such network namespace: ${netnsPath}`);
  const netnsLen = pathLengthProblem(netnsPath);
  if (netnsLen) throw new RequestFieldError('netnsPath', 'length', netnsLen);
  const rawQmp = optString(o, 'qmp');
  const qmp = rawQmp === undefined ? undefined : configPath('qmp', rawQmp);
  if (qmp !== undefined && Buffer.byteLength(qmp) > SUN_PATH_MAX)
    throw new RequestFieldError('qmp', 'length', `the socket path is ${Buffer.byteLength(qmp)} bytes, longer than a unix socket address allows (sun_path: ${SUN_PATH_MAX} bytes + NUL)`);
  const vcpus = optInt(o, 'vcpus') ?? 1;
  if (vcpus < 1 || vcpus > MAX_QUEUES) throw new RequestFieldError('vcpus', 'range', `must be between 1 and ${MAX_QUEUES} (got ${vcpus})`);
  const vhost = optBool(o, 'vhost') ?? vhostNetPresent();
  const multiQueue = optBool(o, 'multiQueue');
  return {
    netnsPath,
    netnsCreated: optBool(o, 'netnsCreated') ?? false,
    vcpus,
    vhost,
    ...(multiQueue !== undefined ? { multiQueue } : {}),
    ...(qmp !== undefined ? { qmp } : {}),
  };
}

/**
 * With the real adapters, `netnsPath` must be what the Linux adapter will open: an nsfs file of a
 * *network* namespace (the CLI's `init --netns` check, src/cli/netns-check.ts) — not a regular
 * file, a directory, /dev/null or another namespace type, which would be accepted here and fail
 * only at the first attach.
 */
export async function checkNetnsPath(netnsPath: string, realWorld: boolean): Promise<void> {
  try {
    await checkSandboxNetns(netnsPath, { field: 'netnsPath', kernel: realWorld });
  } catch (e) {
    if (e instanceof NetnsMissingError) throw new RequestFieldError('netnsPath', 'exists', `no such network namespace: ${netnsPath}`);
    if (e instanceof NetnsInvalidError) throw new RequestFieldError('netnsPath', e.rule, e.message.slice(`netnsPath ${netnsPath}: `.length));
    throw e;
  }
}

/** An endpoint to add: `idx` (required), `ifName`, `mac` (default: random locally-administered), `mtu`. The machine's rules check the values. */
export function endpointInput(o: Obj): { idx: number; ifName?: string; mac: string; mtu?: number } {
  onlyKnown(o, ['idx', 'ifName', 'mac', 'mtu']);
  const idx = optInt(o, 'idx');
  if (idx === undefined) throw new RequestFieldError('idx', 'required', 'is required');
  const ifName = optString(o, 'ifName');
  // as `tapstate add --ifname ''`: an empty name is refused, not silently turned into eth<idx>
  if (ifName === '') throw new RequestFieldError('ifName', 'empty', 'must not be empty (omit it for the default eth<idx>)');
  const mac = optString(o, 'mac');
  const mtu = optInt(o, 'mtu');
  return { idx, mac: mac !== undefined ? normaliseMac(mac) : randomMac(), ...(ifName !== undefined ? { ifName } : {}), ...(mtu !== undefined ? { mtu } : {}) };
}

export const ACTIONS = ['hot-attach', 'hot-detach', 'attach', 'detach', 'cleanup'] as const;
export type Action = (typeof ACTIONS)[number];

export function action(o: Obj): Action {
  onlyKnown(o, ['action']);
  const a = optString(o, 'action');
  if (a === undefined) throw new RequestFieldError('action', 'required', `is required (one of ${ACTIONS.join(', ')})`);
  if (!(ACTIONS as readonly string[]).includes(a)) throw new RequestFieldError('action', 'enum', `must be one of ${ACTIONS.join(', ')} (got ${quoteArg(a)})`);
  return a as Action;
}
