/**
 * The network namespaces and temp dirs a CNI plugin test makes, each uniquely named
 * (`tsc-<tag>-…`, `tapstate-cni-<tag>-<pid>-…`) and removed by `cleanup()`, which the test calls
 * from its `afterEach`/`afterAll` (it removes whatever is still there, even after a failure).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

export interface CniScratch {
  /** A fresh temp dir. */
  dir(): string;
  /** A fresh netns (`/run/netns/<name>`), with a `veth` `eth0` up in it if `eth0`. */
  netns(opts?: { eth0?: boolean }): { name: string; path: string };
  /** Delete a netns made here before `cleanup()`. */
  deleteNetns(name: string): void;
  /** Remove every netns and dir made here and still there. */
  cleanup(): void;
}

export function cniScratch(tag: string): CniScratch {
  const dirs = new Set<string>();
  const alive = new Set<string>();
  const unique = `${process.pid.toString(36)}${Date.now().toString(36)}`;
  let n = 0;
  return {
    dir() {
      const d = fs.mkdtempSync(path.join(tmpdir(), `tapstate-cni-${tag}-${process.pid}-`));
      dirs.add(d);
      return d;
    },
    netns({ eth0 = false } = {}) {
      const name = `tsc-${tag}-${unique}-${n++}`;
      execFileSync('ip', ['netns', 'add', name]);
      alive.add(name);
      if (eth0) {
        execFileSync('ip', ['-n', name, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'peer0']); // no dummy module here
        execFileSync('ip', ['-n', name, 'link', 'set', 'eth0', 'up']);
      }
      return { name, path: `/run/netns/${name}` };
    },
    deleteNetns(name) {
      execFileSync('ip', ['netns', 'del', name]);
      alive.delete(name);
    },
    cleanup() {
      for (const name of alive) execFileSync('ip', ['netns', 'del', name]);
      for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
      alive.clear();
      dirs.clear();
    },
  };
}

/** The link names in netns `name`. */
export const linksIn = (name: string): string[] =>
  (JSON.parse(execFileSync('ip', ['-n', name, '-j', 'link', 'show']).toString()) as Array<{ ifname: string }>).map((l) => l.ifname);
