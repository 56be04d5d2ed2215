/**
 * The sandbox a store serves: typed, versioned, kept in the log header's `meta` as
 * `{ sandbox: SandboxConfig, sandboxVersion: 1 }`, with every default applied here and nowhere
 * else. Stores written before the version existed have no `sandboxVersion` (read as 1); logs
 * without a `sandbox` at all get {@link LEGACY_SANDBOX}.
 */
import { MAX_QUEUES, TapstateError } from '../../machines/index.js';
import { quoteArg } from '../../machines/echo.js';
import { vhostNetPresent } from './vhost-default.js';
import { dotDotProblem, normalPath } from './sandbox-path.js';
import { SANDBOX_FIELDS, unknownField } from './input-fields.js';

/** The sandbox an endpoint store serves. */
export interface SandboxConfig {
  /**
   * Network namespace path of the sandbox: the only netns this store acts in. `""` is the
   * runtime's own (the host's) and is set only by an explicit `init --host-netns` (`hostNetns`).
   */
  netnsPath: string;
  /** Set (true) when the store was made for the caller's own namespace on purpose (`init --host-netns`). */
  hostNetns?: boolean;
  /** Whether the runtime created that namespace (upstream NetNsCreated): detach then deletes the tap. */
  netnsCreated: boolean;
  /** NumVCPUs: queues per tap. */
  vcpus: number;
  /**
   * Ask for vhost-net: one /dev/vhost-net fd per queue, passed as `vhostfds`. A stored config
   * without it (written by a library caller) gets the host's default when the store opens: on
   * when /dev/vhost-net exists (upstream: always on).
   */
  vhost: boolean;
  /** The hypervisor reports multi-queue support (default true, as QEMU does); false: queues = 0. */
  multiQueue?: boolean;
  /** QMP socket of the VMM, when a real one is used. */
  qmp?: string;
  /** Hot plug only onto these root ports / bridges (QEMU ids); absent: any QEMU has. */
  hotplugBuses?: string[];
}

/** What creating a store needs; everything else has a default ({@link resolveSandbox}). */
export interface SandboxInit {
  /** Absolute path of the sandbox's network namespace (`""`: the runtime's own). */
  netnsPath: string;
  /** The store acts in the caller's own namespace on purpose (`netnsPath` `""`, `init --host-netns`). */
  hostNetns?: boolean;
  /** Default false: the namespace is someone else's and detach leaves the tap to its owner. */
  netnsCreated?: boolean;
  /** Default 1. */
  vcpus?: number;
  /** Default `'auto'`: use vhost-net when /dev/vhost-net exists. */
  vhost?: boolean | 'auto';
  /** Default true. */
  multiQueue?: boolean;
  /** Absolute path of the VMM's QMP socket; none: no VMM (cold attach only). */
  qmp?: string;
  /** Hot plug only onto these root ports / bridges (QEMU ids); default: any. */
  hotplugBuses?: string[];
}

/** The version of the sandbox config this code writes and reads. */
export const SANDBOX_CONFIG_VERSION = 1;

/** The sandbox of a log whose header has none (the runtime's own netns, 1 vCPU). */
export const LEGACY_SANDBOX: Readonly<SandboxConfig> = Object.freeze({ netnsPath: '', netnsCreated: true, vcpus: 1, vhost: false });

/** A sandbox config (given, or read from a store) breaks a rule: names the field and the rule. */
export class SandboxConfigError extends TapstateError {
  override readonly name = 'SandboxConfigError';
  readonly code = 'SANDBOX_CONFIG_INVALID';
  constructor(
    readonly field: string,
    readonly rule: string,
  ) {
    super(`sandbox config: ${field} ${rule}`);
  }
}

/**
 * Check a full config; throws {@link SandboxConfigError}. Returns it with `netnsPath` and `qmp` in
 * their one spelling ({@link normalPath}: `/run/netns/a/` is `/run/netns/a`); a `..` segment in
 * either is refused.
 */
export function checkSandbox(s: SandboxConfig): SandboxConfig {
  if (typeof s !== 'object' || s === null) throw new SandboxConfigError('sandbox', 'must be an object');
  if (typeof s.netnsPath !== 'string' || (s.netnsPath !== '' && !s.netnsPath.startsWith('/')))
    throw new SandboxConfigError('netnsPath', `must be an absolute path or "" (got ${typeof s.netnsPath === 'string' ? quoteArg(s.netnsPath) : JSON.stringify(s.netnsPath)})`);
  // a C string ends at NUL: koffi would open "/run/netns/a" for "/run/netns/a\0/../b", not the path checked
  if (s.netnsPath.includes('\0')) throw new SandboxConfigError('netnsPath', 'must not contain a NUL character');
  if (s.hostNetns !== undefined && typeof s.hostNetns !== 'boolean') throw new SandboxConfigError('hostNetns', 'must be a boolean');
  if (s.hostNetns === true && s.netnsPath !== '') throw new SandboxConfigError('hostNetns', 'needs netnsPath "" (the own namespace)');
  if (typeof s.netnsCreated !== 'boolean') throw new SandboxConfigError('netnsCreated', 'must be a boolean');
  if (!Number.isInteger(s.vcpus) || s.vcpus < 1 || s.vcpus > MAX_QUEUES) throw new SandboxConfigError('vcpus', `must be an integer between 1 and ${MAX_QUEUES} (got ${s.vcpus})`);
  if (typeof s.vhost !== 'boolean') throw new SandboxConfigError('vhost', 'must be a boolean');
  if (s.multiQueue !== undefined && typeof s.multiQueue !== 'boolean') throw new SandboxConfigError('multiQueue', 'must be a boolean');
  if (s.qmp !== undefined && (typeof s.qmp !== 'string' || !s.qmp.startsWith('/')))
    throw new SandboxConfigError('qmp', `must be an absolute socket path (got ${typeof s.qmp === 'string' ? quoteArg(s.qmp) : JSON.stringify(s.qmp)})`);
  if (s.qmp !== undefined && s.qmp.includes('\0')) throw new SandboxConfigError('qmp', 'must not contain a NUL character');
  if (s.hotplugBuses !== undefined && (!Array.isArray(s.hotplugBuses) || s.hotplugBuses.some((b) => typeof b !== 'string' || b === '')))
    throw new SandboxConfigError('hotplugBuses', 'must be a list of non-empty QEMU ids');
  const netnsDots = dotDotProblem(s.netnsPath);
  if (netnsDots) throw new SandboxConfigError('netnsPath', netnsDots);
  const qmpDots = s.qmp === undefined ? undefined : dotDotProblem(s.qmp);
  if (qmpDots) throw new SandboxConfigError('qmp', qmpDots);
  return normalSandbox(s);
}

/** `s` with its paths in their one spelling (the same object when they are already). */
function normalSandbox<T extends { netnsPath: string; qmp?: string }>(s: T): T {
  const netnsPath = normalPath(s.netnsPath);
  const qmp = s.qmp === undefined ? undefined : normalPath(s.qmp);
  if (netnsPath === s.netnsPath && qmp === s.qmp) return s;
  return { ...s, netnsPath, ...(qmp !== undefined ? { qmp } : {}) };
}

/** Apply the defaults to a {@link SandboxInit} and check the result. */
export function resolveSandbox(init: SandboxInit): SandboxConfig {
  if (typeof init !== 'object' || init === null) throw new SandboxConfigError('sandbox', `must be an object (got ${init === null ? 'null' : typeof init})`);
  // a typo (`vcpu: 2`) was ignored: the store made with the default instead
  const unknown = unknownField(init, SANDBOX_FIELDS);
  if (unknown !== null) throw new SandboxConfigError(unknown, `is not a field of the sandbox config (known: ${SANDBOX_FIELDS.join(', ')})`);
  // checked before the copy below: a string would be spread into its characters ('rp0' → ['r', 'p', '0'])
  if (init.hotplugBuses !== undefined && !Array.isArray(init.hotplugBuses)) throw new SandboxConfigError('hotplugBuses', 'must be a list of non-empty QEMU ids');
  const vhost = init.vhost ?? 'auto';
  const s: SandboxConfig = {
    netnsPath: init.netnsPath,
    ...(init.hostNetns === true ? { hostNetns: true } : {}),
    netnsCreated: init.netnsCreated ?? false,
    vcpus: init.vcpus ?? 1,
    vhost: vhost === 'auto' ? vhostNetPresent() : vhost,
    ...(init.multiQueue === false ? { multiQueue: false } : {}),
    ...(init.qmp !== undefined ? { qmp: init.qmp } : {}),
    ...(init.hotplugBuses !== undefined ? { hotplugBuses: [...init.hotplugBuses] } : {}),
  };
  return checkSandbox(s);
}

/** The header `meta` that records a sandbox config. */
export function sandboxMeta(s: SandboxConfig): Record<string, unknown> {
  return { sandbox: s, sandboxVersion: SANDBOX_CONFIG_VERSION };
}

/** The sandbox config of a log header's `meta`. */
export function sandboxFromMeta(meta: Record<string, unknown>): SandboxConfig {
  const version = meta.sandboxVersion ?? 1;
  if (version !== SANDBOX_CONFIG_VERSION) throw new SandboxConfigError('sandboxVersion', `must be ${SANDBOX_CONFIG_VERSION} (got ${JSON.stringify(version)}): a newer tapstate wrote this store`);
  const s = meta.sandbox as (Omit<SandboxConfig, 'vhost'> & { vhost?: boolean }) | undefined;
  if (s === undefined) return { ...LEGACY_SANDBOX };
  // a store written before paths had one spelling reads as if it had been written with it (a `..` is kept)
  const n = typeof s.netnsPath === 'string' && (s.qmp === undefined || typeof s.qmp === 'string') ? normalSandbox(s) : s;
  return n.vhost === undefined ? { ...n, vhost: vhostNetPresent() } : (n as SandboxConfig);
}
