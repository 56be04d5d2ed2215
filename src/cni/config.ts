/**
 * The network configuration a runtime passes on stdin (one plugin's entry of a conflist, with
 * `name`, `cniVersion` and `prevResult` injected), validated into what tapstate-cni needs.
 *
 * Keys (docs/cni.md): `stateDir`, `tapName` (alias `tap_name`), `idx`, `queues`; tc-redirect-tap's
 * `uid`/`gid` are accepted only when they are ours (the plugin's own euid/egid). `CNI_ARGS`
 * `TC_REDIRECT_TAP_NAME`, `TC_REDIRECT_TAP_UID`, `TC_REDIRECT_TAP_GID` override them.
 */
import * as path from 'node:path';
import { MAX_QUEUES, ifNameProblem } from '../../machines/index.js';
import { CniConfigError, CniDecodeError, CniUnsupportedFieldError, CniVersionError } from './errors.js';
import type { CniEnv } from './env.js';
import { parsePrevResult, type CniResult } from './result.js';
import { SUPPORTED_VERSIONS } from './version.js';

export const DEFAULT_STATE_DIR = '/var/lib/cni/tapstate';

export interface TapstateCniConfig {
  cniVersion: string;
  /** The network's name. */
  name: string;
  /** Where the per-container stores live: `<stateDir>/<containerId>/`. */
  stateDir: string;
  /** The tap's name; undefined = `tap<idx>_kata`. */
  tapName?: string;
  /** Endpoint index (names `tap<idx>_kata`); default: N of `CNI_IFNAME` = `ethN`, else 0. */
  idx: number;
  /**
   * Tap queues: 0 (the default) = a single-queue tap without IFF_MULTI_QUEUE, as tc-redirect-tap
   * makes for Firecracker; 1..256 = a multi-queue tap with that many queues (QEMU: one per vCPU).
   */
  queues: number;
  /** The previous plugin's result (required by ADD and CHECK). */
  prevResult: CniResult | null;
  /** GC: the attachments the runtime still holds (`cni.dev/valid-attachments`). */
  validAttachments: Array<{ containerID: string; ifname: string }> | null;
}


const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

function intField(raw: Record<string, unknown>, key: string, min: number, max: number): number | undefined {
  const v = raw[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new CniConfigError(key, 'range', `${key} must be an integer between ${min} and ${max} (got ${JSON.stringify(v)})`);
  return v;
}

function ownerField(raw: Record<string, unknown>, env: CniEnv, key: 'uid' | 'gid'): void {
  const argKey = key === 'uid' ? 'TC_REDIRECT_TAP_UID' : 'TC_REDIRECT_TAP_GID';
  const own = key === 'uid' ? process.geteuid?.() : process.getegid?.();
  const fromArgs = env.args[argKey];
  // a CNI_ARGS value is text: only decimal digits are an id (Number() would take '', ' 0', '0x0', '1e3')
  const v = fromArgs !== undefined ? (/^\d{1,10}$/.test(fromArgs) ? Number(fromArgs) : NaN) : raw[key];
  if (v === undefined) return;
  const field = fromArgs !== undefined ? `CNI_ARGS ${argKey}` : key;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new CniConfigError(field, 'integer', `${field} must be a non-negative integer (got ${JSON.stringify(fromArgs ?? raw[key])})`);
  if (v !== own)
    throw new CniUnsupportedFieldError(field, `${field} ${v}: tapstate-cni creates the tap owned by the plugin's own ${key} (${own}); another owner is not supported`);
}

/** Parse stdin (bytes) into a config. The cniVersion is checked first, then every key. */
export function parseConfig(stdin: string, env: CniEnv): TapstateCniConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(stdin);
  } catch (e) {
    throw new CniDecodeError(`the network configuration on stdin is not JSON: ${(e as Error).message}`);
  }
  if (!isObject(raw)) throw new CniConfigError('stdin', 'object', 'the network configuration on stdin must be a JSON object');
  const version = raw.cniVersion;
  if (typeof version !== 'string' || version === '') throw new CniConfigError('cniVersion', 'required', 'cniVersion is required (a string such as "1.0.0")');
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(version)) throw new CniVersionError(version, SUPPORTED_VERSIONS);
  if (typeof raw.name !== 'string' || raw.name === '') throw new CniConfigError('name', 'required', 'name (the network name) is required');
  let stateDir = DEFAULT_STATE_DIR;
  if (raw.stateDir !== undefined) {
    if (typeof raw.stateDir !== 'string' || !path.isAbsolute(raw.stateDir) || raw.stateDir.includes('\0'))
      throw new CniConfigError('stateDir', 'absolute', `stateDir must be an absolute path (got ${JSON.stringify(raw.stateDir)})`);
    stateDir = path.resolve(raw.stateDir);
  }
  let validAttachments: TapstateCniConfig['validAttachments'] = null;
  const va = raw['cni.dev/valid-attachments'] ?? raw.validAttachments;
  if (va !== undefined && env.command === 'GC') {
    if (!Array.isArray(va) || !va.every((x) => isObject(x) && typeof x.containerID === 'string' && typeof x.ifname === 'string'))
      throw new CniConfigError('cni.dev/valid-attachments', 'shape', 'cni.dev/valid-attachments must be an array of {"containerID","ifname"}');
    validAttachments = va as Array<{ containerID: string; ifname: string }>;
  }
  // DEL, GC and STATUS act from the store (or on stateDir): the attachment's own options are not
  // read, so a conflist edited after ADD (a bad queues, a uid) never keeps DEL from removing it
  if (env.command !== 'ADD' && env.command !== 'CHECK')
    return { cniVersion: version, name: raw.name, stateDir, idx: 0, queues: 0, prevResult: null, validAttachments };
  let tapName: string | undefined;
  let tapField = '';
  for (const key of ['tapName', 'tap_name'] as const) {
    const v = raw[key];
    if (v === undefined) continue;
    if (typeof v !== 'string') throw new CniConfigError(key, 'string', `${key} must be a string`);
    if (tapName !== undefined && v !== tapName) throw new CniConfigError(key, 'consistent', `tapName and tap_name disagree (${JSON.stringify(tapName)} vs ${JSON.stringify(v)})`);
    tapName = v;
    tapField = key;
  }
  if (env.args.TC_REDIRECT_TAP_NAME !== undefined) {
    tapName = env.args.TC_REDIRECT_TAP_NAME;
    tapField = 'CNI_ARGS TC_REDIRECT_TAP_NAME';
  }
  if (tapName !== undefined) {
    const p = ifNameProblem(tapName);
    if (p) throw new CniConfigError(tapField, 'ifname', `${tapField} "${tapName}" ${p}`);
  }
  ownerField(raw, env, 'uid');
  ownerField(raw, env, 'gid');
  const eth = /^eth(\d{1,4})$/.exec(env.ifName);
  const idx = intField(raw, 'idx', 0, 99999) ?? (eth ? Number(eth[1]) : 0);
  const queues = intField(raw, 'queues', 1, MAX_QUEUES) ?? 0;
  const prevResult = raw.prevResult === undefined || raw.prevResult === null ? null : parsePrevResult(raw.prevResult);
  return {
    cniVersion: version,
    name: raw.name,
    stateDir,
    ...(tapName !== undefined ? { tapName } : {}),
    idx,
    queues,
    prevResult,
    validAttachments,
  };
}
