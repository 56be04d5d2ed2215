/**
 * Test fixtures for the real kernel: uniquely named network namespaces (`tst-<pid>-<rand>`),
 * a non-dummy fallback for kernels built without the dummy driver, and the root requirement.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Fail (never skip) when not root: these tests need CAP_NET_ADMIN and CAP_SYS_ADMIN. */
export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new Error('test/linux needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN for setns): run the tests as root');
  }
}

/** A fresh netns; `remove()` deletes it (idempotent). */
export interface TestNetns {
  name: string;
  path: string;
  remove(): void;
}

/** `ip netns add tst-<pid>-<rand>`. */
export function makeNetns(): TestNetns {
  const name = `tst-${process.pid}-${randomBytes(4).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', name]);
  let removed = false;
  return {
    name,
    path: `/run/netns/${name}`,
    remove() {
      if (removed) return;
      removed = true;
      execFileSync('ip', ['netns', 'del', name]);
    },
  };
}

let dummyKind: string | undefined;

/**
 * `ip link add NAME type dummy` in the netns; on kernels without the dummy driver ("Unknown
 * device type") an `ifb` link (another single software link) is used instead.
 */
export function addPlainLink(ns: TestNetns, name: string, opts: { mtu?: number; mac?: string } = {}): void {
  const extra = [...(opts.mtu !== undefined ? ['mtu', String(opts.mtu)] : []), ...(opts.mac ? ['address', opts.mac] : [])];
  const add = (kind: string): void => {
    execFileSync('ip', ['-n', ns.name, 'link', 'add', name, ...extra, 'type', kind], { stdio: ['ignore', 'ignore', 'pipe'] });
  };
  if (dummyKind) return add(dummyKind);
  try {
    add('dummy');
    dummyKind = 'dummy';
  } catch (e) {
    if (!String((e as { stderr?: Buffer }).stderr ?? e).includes('Unknown device type')) throw e;
    dummyKind = 'ifb';
    add('ifb');
  }
}

/** The kind {@link addPlainLink} ends up using on this kernel. */
export const plainLinkKind = (): string | undefined => dummyKind;

/** Number of fds of this process open on /dev/net/tun. */
export function tunFdCount(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === '/dev/net/tun') n++;
    } catch {
      /* fd closed meanwhile */
    }
  }
  return n;
}

/** A temp dir holding a regular file (a path that exists but is not a netns). */
export function makeNotNetns(): { path: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `tst-${process.pid}-`));
  const path = join(dir, 'not-a-netns');
  writeFileSync(path, 'x');
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** `ip -n NS -d link show NAME` output. */
export const ipShow = (ns: TestNetns, name: string): string =>
  execFileSync('ip', ['-n', ns.name, '-d', 'link', 'show', name]).toString();

/**
 * The netlink contract's harness on the real kernel (test/adapters/netlink.contract.ts): a fresh
 * netns and a path that is not one, then the adapter `make` builds; cleanup closes the adapter and
 * removes both, even when one step fails. Shared by every real-kernel adapter's contract run.
 */
export function realKernelHarness<A extends { close(): Promise<void> | void }>(make: () => A) {
  requireRoot();
  const ns = makeNetns();
  const notNetns = makeNotNetns();
  const adapter = make();
  return {
    adapter,
    netns: ns.path,
    missingNetns: `/run/netns/tst-${process.pid}-missing-${Math.random().toString(36).slice(2)}`,
    notNetns: notNetns.path,
    addDummyLink: async (name: string, opts?: { mtu?: number; mac?: string }) => addPlainLink(ns, name, opts),
    openTapFdCount: async () => tunFdCount(),
    cleanup: async () => {
      try {
        await adapter.close();
      } finally {
        try {
          ns.remove();
        } finally {
          notNetns.remove();
        }
      }
    },
  };
}
