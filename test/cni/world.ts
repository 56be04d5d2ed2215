/**
 * A world for the CNI tests: a "host" netns and a "container" netns of our own (unique names),
 * a temp dir holding CNI_PATH (Debian's ptp and host-local, and a tapstate-cni wrapper around
 * dist/src/cni/main.js), the plugin's stateDir and host-local's dataDir, and a conflist
 * `ptp + host-local → tapstate-cni` on a private /24 that only lives inside those namespaces.
 * `leftovers()` lists whatever is left anywhere; `cleanup()` removes it all, even after failures.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConfList, Runtime, RuntimeConf } from './driver.js';

export const DEBIAN_CNI = '/usr/lib/cni';

/** Fail loudly (never skip) without root or Debian's CNI plugins. */
export function requireCniEnvironment(): void {
  if (process.getuid?.() !== 0) throw new Error('test/cni needs root (network namespaces, taps, tc)');
  for (const p of ['ptp', 'host-local'])
    if (!fs.existsSync(path.join(DEBIAN_CNI, p)))
      throw new Error(`test/cni needs ${DEBIAN_CNI}/${p}: apt-get install containernetworking-plugins (.ci/install-system-deps)`);
  if (!fs.existsSync('/dev/net/tun')) throw new Error('test/cni needs /dev/net/tun');
}

/** The repository root (this file is test/cni/world.ts, or dist/test/cni/world.js in benches). */
const root = (): string => {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const up = path.resolve(here, '../..');
  return path.basename(up) === 'dist' ? path.dirname(up) : up;
};
/** The built plugin (npm test builds first). */
export const pluginMain = (): string => {
  const p = path.join(root(), 'dist/src/cni/main.js');
  if (!fs.existsSync(p)) throw new Error(`${p} is missing: run npm run build first`);
  return p;
};
/** The built frame helper. */
export const frameHelper = (): string => path.join(root(), 'dist/test/cni/frame-helper.js');

const sh = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

export interface CniWorld {
  id: string;
  hostNs: string;
  ctrNs: string;
  ctrNsPath: string;
  dir: string;
  stateDir: string;
  ipamDir: string;
  subnet: string;
  rt: Runtime;
  conflist(version?: string, tapstate?: Record<string, unknown>): ConfList;
  /** A runtime conf for a fresh container id (`n` distinguishes several). */
  rc(n?: number, ifName?: string): RuntimeConf;
  /** Children to kill (by pid) at cleanup if still running. */
  track(c: ChildProcess): void;
  leftovers(): { ctrLinks: string[]; hostLinks: string[]; ctrQdiscs: string[]; stores: string[]; ipam: string[] };
  /** The container netns is gone (DEL-after-netns-gone tests). */
  deleteCtrNs(): void;
  cleanup(): void;
}

export function makeCniWorld(): CniWorld {
  const id = `${process.pid.toString(36)}${randomBytes(3).toString('hex')}`;
  const hostNs = `tcni-h-${id}`;
  const ctrNs = `tcni-c-${id}`;
  const dir = fs.mkdtempSync(path.join(tmpdir(), `tapstate-cni-${id}-`));
  const cniPath = path.join(dir, 'bin');
  const stateDir = path.join(dir, 'state');
  const ipamDir = path.join(dir, 'ipam');
  const subnet = `10.231.${1 + (randomBytes(1)[0]! % 250)}.0/24`;
  const children = new Set<ChildProcess>();
  let ctrAlive = true;
  fs.mkdirSync(cniPath);
  for (const p of ['ptp', 'host-local']) fs.symlinkSync(path.join(DEBIAN_CNI, p), path.join(cniPath, p));
  fs.writeFileSync(path.join(cniPath, 'tapstate-cni'), `#!/bin/sh\nexec "${process.execPath}" "${pluginMain()}" "$@"\n`, { mode: 0o755 });
  sh('ip', ['netns', 'add', hostNs]);
  try {
    sh('ip', ['netns', 'add', ctrNs]);
  } catch (e) {
    sh('ip', ['netns', 'del', hostNs]);
    throw e;
  }
  sh('ip', ['-n', hostNs, 'link', 'set', 'lo', 'up']);
  const links = (ns: string): string[] =>
    (JSON.parse(sh('ip', ['-n', ns, '-j', 'link', 'show'])) as Array<{ ifname: string }>).map((l) => l.ifname).filter((n) => n !== 'lo');
  let containers = 0;
  const w: CniWorld = {
    id,
    hostNs,
    ctrNs,
    ctrNsPath: `/run/netns/${ctrNs}`,
    dir,
    stateDir,
    ipamDir,
    subnet,
    rt: { hostNs, cniPath },
    conflist: (version = '1.0.0', tapstate = {}) => ({
      cniVersion: version,
      name: `tcni-${id}`,
      plugins: [
        { type: 'ptp', ipMasq: false, ipam: { type: 'host-local', subnet, dataDir: ipamDir } },
        { type: 'tapstate-cni', stateDir, ...tapstate },
      ],
    }),
    rc: (n = ++containers, ifName = 'eth0') => ({ containerId: `ctr-${id}-${n}`, netns: w.ctrNsPath, ifName }),
    track: (c) => {
      children.add(c);
      c.on('exit', () => children.delete(c));
    },
    leftovers: () => {
      const ctrLinks = ctrAlive ? links(ctrNs) : [];
      const ctrQdiscs = ctrAlive
        ? (JSON.parse(sh('ip', ['-n', ctrNs, '-j', 'link', 'show'])) as Array<{ ifname: string }>)
            .flatMap((l) => sh('tc', ['-n', ctrNs, 'qdisc', 'show', 'dev', l.ifname, 'ingress']).trim().split('\n'))
            .filter((s) => s !== '')
        : [];
      const stores = fs.existsSync(stateDir) ? fs.readdirSync(stateDir) : [];
      const ipam = fs.existsSync(ipamDir)
        ? fs
            .readdirSync(ipamDir, { recursive: true, withFileTypes: true })
            .filter((d) => d.isFile() && d.name !== 'lock' && !d.name.startsWith('last_reserved_ip'))
            .map((d) => d.name)
        : [];
      return { ctrLinks, hostLinks: links(hostNs), ctrQdiscs, stores, ipam };
    },
    deleteCtrNs: () => {
      if (!ctrAlive) return;
      ctrAlive = false;
      sh('ip', ['netns', 'del', ctrNs]);
    },
    cleanup: () => {
      for (const c of children) if (c.pid && c.exitCode === null) process.kill(c.pid, 'SIGKILL');
      const errs: unknown[] = [];
      for (const ns of [ctrNs, hostNs]) {
        if (ns === ctrNs && !ctrAlive) continue;
        try {
          sh('ip', ['netns', 'del', ns]);
        } catch (e) {
          errs.push(e);
        }
      }
      ctrAlive = false;
      fs.rmSync(dir, { recursive: true, force: true });
      if (errs.length) throw errs[0];
    },
  };
  return w;
}

/** The host end of the veth in a ptp result (the interface without a sandbox). */
export const hostVethOf = (result: { interfaces?: Array<{ name: string; sandbox?: string }> }): string => {
  const i = (result.interfaces ?? []).find((x) => !x.sandbox);
  if (!i) throw new Error(`no host interface in ${JSON.stringify(result)}`);
  return i.name;
};

/** Run the frame helper: traffic both ways through the attachment. */
export function traffic(w: CniWorld, hostVeth: string, tap: string, queues = 0): { vethToTap: boolean; tapToVeth: boolean; onTapSocket: boolean } {
  const out = execFileSync(process.execPath, [frameHelper(), `/run/netns/${w.hostNs}`, w.ctrNsPath, hostVeth, tap, String(queues)], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  return JSON.parse(out) as { vethToTap: boolean; tapToVeth: boolean; onTapSocket: boolean };
}
