/**
 * Validation of a {@link NicSpec} and of fd lists, before anything talks to QEMU. Pure apart
 * from the fd-open check passed in. Failures are `HypervisorError` kind `invalid` naming the field.
 */
import { HypervisorError, type NicSpec } from '../adapters/hypervisor.js';

/** QEMU's id rule (id_wellformed): a letter, then letters, digits, `-`, `.`, `_`. */
const QEMU_ID = /^[A-Za-z][A-Za-z0-9._-]{0,127}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
/** Linux IFNAMSIZ-1, and no characters that break QEMU's option syntax or are invalid in names. */
const TAP_NAME = /^[A-Za-z0-9_.-][A-Za-z0-9_.@+-]{0,14}$/;
/** The kernel's MAX_TAP_QUEUES. */
export const MAX_QUEUES = 256;

function invalid(op: string, field: string, rule: string, value: unknown): HypervisorError {
  return new HypervisorError({ kind: 'invalid', op, message: `${op}: ${field} ${rule}, got ${JSON.stringify(value)}` });
}

/** Check a QEMU id field. */
export function checkId(op: string, field: string, value: unknown): void {
  if (typeof value !== 'string' || !QEMU_ID.test(value)) {
    throw invalid(op, field, 'must be a QEMU id (a letter, then letters/digits/./_/-, at most 128 chars)', value);
  }
}

/** Check a whole NicSpec. */
export function checkNic(op: string, nic: NicSpec): void {
  if (typeof nic !== 'object' || nic === null) throw invalid(op, 'nic', 'must be an object', nic);
  checkId(op, 'netdevId', nic.netdevId);
  checkId(op, 'deviceId', nic.deviceId);
  if (typeof nic.mac !== 'string' || !MAC.test(nic.mac)) throw invalid(op, 'mac', 'must be lower-case colon-separated (aa:bb:cc:dd:ee:ff)', nic.mac);
  if (parseInt(nic.mac.slice(0, 2), 16) & 1) throw invalid(op, 'mac', 'must be unicast (first octet even)', nic.mac);
  if (!Number.isInteger(nic.queues) || nic.queues < 0 || nic.queues > MAX_QUEUES) {
    throw invalid(op, 'queues', `must be an integer in 0..${MAX_QUEUES}`, nic.queues);
  }
  if (typeof nic.tapName !== 'string' || !TAP_NAME.test(nic.tapName)) throw invalid(op, 'tapName', 'must be an interface name of 1..15 chars without , / : or spaces', nic.tapName);
  if (typeof nic.vhost !== 'boolean') throw invalid(op, 'vhost', 'must be a boolean', nic.vhost);
}

/**
 * Check an fd list: `required` ⇒ non-empty; when non-empty it holds one fd per queue (one when
 * queues = 0: a tap without multi-queue); each fd open.
 */
export function checkFds(op: string, fds: readonly number[], queues: number, required: boolean, isOpen: (fd: number) => boolean): void {
  const want = Math.max(1, queues);
  if (!Array.isArray(fds)) throw invalid(op, 'fds', 'must be an array of fds', fds);
  if (required && fds.length === 0) throw invalid(op, 'fds', 'must hold one fd per queue (hot plug never uses ifname=)', fds);
  if (fds.length > 0 && fds.length !== want) throw invalid(op, 'fds', `must hold exactly ${want} fd(s) (queues ${queues})`, fds);
  for (const fd of fds) {
    if (!Number.isInteger(fd) || fd < 0) throw invalid(op, 'fds', 'must be non-negative integers', fds);
    if (!isOpen(fd)) throw invalid(op, 'fds', `must be open descriptors (fd ${fd} is not)`, fds);
  }
  if (new Set(fds).size !== fds.length) throw invalid(op, 'fds', 'must be distinct', fds);
}

/** Upstream (govmm) sets `mq=on` and `vectors` whenever queues > 0, so also for one queue. */
export const multiQueue = (queues: number): boolean => queues > 0;

/** Multiqueue vectors: 2N+2. */
export function vectorsFor(queues: number): number {
  return 2 * queues + 2;
}
