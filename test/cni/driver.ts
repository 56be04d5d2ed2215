/**
 * A small CNI runtime for tests, following the spec's invocation protocol (what libcni does):
 * each plugin of a conflist is run as an executable found in CNI_PATH, with CNI_COMMAND,
 * CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_ARGS, CNI_PATH in its environment and its own
 * config on stdin — the list's `name` and `cniVersion` injected, and `prevResult` threaded:
 * ADD passes each plugin's result to the next; CHECK and DEL pass the cached final ADD result
 * (or none) to every plugin, DEL in reverse order. Plugins run inside a "host" netns of the
 * test's (`ip netns exec`), so nothing touches the real host.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface ConfList {
  cniVersion: string;
  name: string;
  plugins: Array<Record<string, unknown> & { type: string }>;
}

export interface RuntimeConf {
  containerId: string;
  netns: string;
  ifName: string;
  args?: string;
}

export interface Invocation {
  /** Exit code (null when killed). */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON, when it is. */
  json: any;
  ms: number;
}

export interface Runtime {
  /** Netns name the plugins run in (the "host"). */
  hostNs: string;
  /** Directory of the plugin executables. */
  cniPath: string;
  /** Extra environment for every plugin (test hooks). */
  env?: Record<string, string>;
}

/** One plugin invocation. `onSpawn` receives the child (to kill it). */
export function invoke(
  rt: Runtime,
  command: string,
  conf: Record<string, unknown>,
  rc: RuntimeConf,
  opts: { env?: Record<string, string>; onSpawn?: (c: ChildProcess) => void } = {},
): Promise<Invocation> {
  const type = String(conf.type);
  const t0 = performance.now();
  const child = spawn('ip', ['netns', 'exec', rt.hostNs, `${rt.cniPath}/${type}`], {
    env: {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      CNI_COMMAND: command,
      CNI_CONTAINERID: rc.containerId,
      CNI_NETNS: rc.netns,
      CNI_IFNAME: rc.ifName,
      CNI_ARGS: rc.args ?? '',
      CNI_PATH: rt.cniPath,
      ...rt.env,
      ...opts.env,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  opts.onSpawn?.(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.on('error', () => {}); // killed before reading stdin
  child.stdin.end(JSON.stringify(conf));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      let json: unknown;
      try {
        json = stdout.trim() ? JSON.parse(stdout) : undefined;
      } catch {
        json = undefined;
      }
      resolve({ code, signal, stdout, stderr, json, ms: performance.now() - t0 });
    });
  });
}

/** The config a runtime passes to plugin `i` of a list. */
export function pluginConf(list: ConfList, i: number, prevResult: unknown): Record<string, unknown> {
  return { ...list.plugins[i]!, name: list.name, cniVersion: list.cniVersion, ...(prevResult !== undefined && prevResult !== null ? { prevResult } : {}) };
}

/** An invocation that failed, as an Error carrying what the plugin said. */
export class PluginFailed extends Error {
  constructor(
    readonly type: string,
    readonly command: string,
    readonly inv: Invocation,
  ) {
    super(`${type} ${command} failed (exit ${inv.code}${inv.signal ? `, ${inv.signal}` : ''}): ${inv.stdout.trim()} ${inv.stderr.trim()}`);
  }
}

/** ADD the list: returns the final result. Stops at the first failure (a runtime then DELs). */
export async function addList(rt: Runtime, list: ConfList, rc: RuntimeConf): Promise<any> {
  let prev: unknown;
  for (let i = 0; i < list.plugins.length; i++) {
    const inv = await invoke(rt, 'ADD', pluginConf(list, i, prev), rc);
    if (inv.code !== 0) throw new PluginFailed(list.plugins[i]!.type, 'ADD', inv);
    prev = inv.json;
  }
  return prev;
}

/** CHECK the list against the cached result. */
export async function checkList(rt: Runtime, list: ConfList, rc: RuntimeConf, cached: unknown): Promise<void> {
  for (let i = 0; i < list.plugins.length; i++) {
    const inv = await invoke(rt, 'CHECK', pluginConf(list, i, cached), rc);
    if (inv.code !== 0) throw new PluginFailed(list.plugins[i]!.type, 'CHECK', inv);
  }
}

/** DEL the list in reverse order, with the cached result when there is one. */
export async function delList(rt: Runtime, list: ConfList, rc: RuntimeConf, cached: unknown = null): Promise<void> {
  for (let i = list.plugins.length - 1; i >= 0; i--) {
    const inv = await invoke(rt, 'DEL', pluginConf(list, i, cached), rc);
    if (inv.code !== 0) throw new PluginFailed(list.plugins[i]!.type, 'DEL', inv);
  }
}
