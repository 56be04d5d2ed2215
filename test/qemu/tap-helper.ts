/**
 * Test-only helpers: uniquely named netns + taps made with `ip`, queue fds opened through a koffi
 * setns window (the /dev/net/tun fd belongs to the netns it was opened in), root/QEMU checks (never KVM: QEMU runs with `accel=kvm:tcg`, plain TCG on hosts without it).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import koffi from 'koffi';

const libc = koffi.load('libc.so.6');
const openFn = libc.func('int open(const char *path, int flags, ...)');
const ioctlFn = libc.func('int ioctl(int fd, unsigned long request, ...)');
const setnsFn = libc.func('int setns(int fd, int nstype)');
const closeFn = libc.func('int close(int fd)');

const O_RDWR = 2;
const O_CLOEXEC = 0o2000000;
const CLONE_NEWNET = 0x40000000;
const TUNSETIFF = 0x400454ca;
const IFF_TAP = 0x0002;
const IFF_NO_PI = 0x1000;
const IFF_VNET_HDR = 0x4000;
const IFF_MULTI_QUEUE = 0x0100;

/** Fail loudly (never skip) when the environment cannot run the real-QEMU tests. */
export function requireRealEnvironment(): void {
  if (process.getuid?.() !== 0) throw new Error('test/qemu needs root (run as uid 0)');
  if (!fs.existsSync('/dev/net/tun')) throw new Error('test/qemu needs /dev/net/tun');
  try {
    execFileSync('qemu-system-x86_64', ['--version'], { stdio: 'pipe' });
  } catch {
    throw new Error('test/qemu needs qemu-system-x86_64 on PATH');
  }
}

/** A unique name with our pid and a random suffix, ≤ 15 chars when `max` is 15. */
export function uniqueName(prefix: string, max = 15): string {
  const s = `${prefix}${process.pid.toString(36)}${Math.random().toString(36).slice(2)}`;
  return s.slice(0, max);
}

export function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A netns we created (and delete). */
export interface TestNetns {
  name: string;
  delete(): void;
}

export function createNetns(): TestNetns {
  const name = uniqueName('tsq', 30);
  ip('netns', 'add', name);
  return {
    name,
    delete: () => {
      try {
        ip('netns', 'del', name);
      } catch {
        /* gone */
      }
    },
  };
}

/** A tap in a netns, with its queue fds open in this process. */
export interface TestTap {
  tapName: string;
  fds: number[];
  closeFds(): void;
}

/** Open `queues` fds on `tapName` inside netns `netns`. */
export function openTapFds(netns: string, tapName: string, queues: number, multiQueue: boolean): number[] {
  const self = openFn('/proc/thread-self/ns/net', O_CLOEXEC) as number;
  const target = openFn(`/run/netns/${netns}`, O_CLOEXEC) as number;
  if (self < 0 || target < 0) throw new Error(`open netns fds failed: errno ${koffi.errno()}`);
  const fds: number[] = [];
  try {
    if ((setnsFn(target, CLONE_NEWNET) as number) < 0) throw new Error(`setns into ${netns} failed: errno ${koffi.errno()}`);
    try {
      for (let i = 0; i < queues; i++) {
        const fd = openFn('/dev/net/tun', O_RDWR | O_CLOEXEC) as number;
        if (fd < 0) throw new Error(`open /dev/net/tun failed: errno ${koffi.errno()}`);
        fds.push(fd);
      }
    } finally {
      if ((setnsFn(self, CLONE_NEWNET) as number) < 0) {
        process.stderr.write('FATAL: could not switch back to the original netns\n');
        process.abort();
      }
    }
    for (const fd of fds) {
      const ifr = Buffer.alloc(40);
      ifr.write(tapName, 0, 15, 'utf8');
      ifr.writeUInt16LE(IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (multiQueue ? IFF_MULTI_QUEUE : 0), 16);
      if ((ioctlFn(fd, TUNSETIFF, 'void *', ifr) as number) < 0) throw new Error(`TUNSETIFF ${tapName} failed: errno ${koffi.errno()}`);
    }
    return fds;
  } catch (e) {
    for (const fd of fds) closeFn(fd);
    throw e;
  } finally {
    closeFn(self);
    closeFn(target);
  }
}

/** Create a persistent tap with `ip tuntap` in `netns` and open its queue fds. */
export function makeTap(netns: string, queues: number): TestTap {
  const tapName = uniqueName('tq', 15);
  const mq = queues > 1;
  ip('-n', netns, 'tuntap', 'add', 'dev', tapName, 'mode', 'tap', 'vnet_hdr', ...(mq ? ['multi_queue'] : []));
  ip('-n', netns, 'link', 'set', tapName, 'up');
  const fds = openTapFds(netns, tapName, queues, mq);
  let open = true;
  return {
    tapName,
    fds,
    closeFds: () => {
      if (!open) return;
      open = false;
      for (const fd of fds) closeFn(fd);
    },
  };
}

/** `ip -d link show` of a tap in a netns. */
export function tapDetails(netns: string, tapName: string): string {
  return ip('-n', netns, '-d', 'link', 'show', 'dev', tapName);
}

/** Parse `numqueues N numdisabled M` (multiqueue taps). */
export function queueCounts(details: string): { numqueues: number; numdisabled: number } | undefined {
  const m = /numqueues (\d+) numdisabled (\d+)/.exec(details);
  return m ? { numqueues: Number(m[1]), numdisabled: Number(m[2]) } : undefined;
}

/** Number of open fds of this process. */
export function openFdCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}
