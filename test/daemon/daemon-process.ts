/** `tapstate serve` as a child process (the built CLI), for tests and benches that kill it or talk to it from another process. */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { request } from './client.js';

export const CLI = path.resolve('dist/src/cli/main.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface DaemonProcess {
  pid: number;
  socketPath: string;
  /** Resolves with the exit code and signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** What it wrote on stderr so far. */
  stderr(): string;
  /** Resolves when health answers and (unless `untilRecovered` is false) no sandbox is still opening (recovering). */
  ready(timeoutMs?: number, untilRecovered?: boolean): Promise<void>;
  kill9(): Promise<void>;
  /** SIGTERM and wait (SIGKILL after `timeoutMs`). */
  stop(timeoutMs?: number): Promise<void>;
}

/**
 * `launcher`: a command that execs its arguments (the daemon's node command line) in place, so the
 * daemon keeps its pid — e.g. `unshare --mount … bash -c '…; exec "$@"' x` for a private /dev.
 */
export function startDaemon(socketPath: string, stateDir: string, env: Record<string, string> = {}, args: string[] = [], launcher: string[] = []): DaemonProcess {
  const argv = [process.execPath, CLI, 'serve', '--socket', socketPath, '--state-dir', stateDir, ...args];
  const [cmd, ...rest] = [...launcher, ...argv] as [string, ...string[]];
  const child: ChildProcess = spawn(cmd, rest, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-8192)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    pid: child.pid!,
    socketPath,
    exited,
    stderr: () => err,
    async ready(timeoutMs = 30_000, untilRecovered = true) {
      const end = Date.now() + timeoutMs;
      while (Date.now() < end) {
        if (!alive()) throw new Error(`tapstate serve exited (${child.exitCode ?? child.signalCode}): ${err}`);
        const r = await request(socketPath, 'GET', '/v1/health').catch(() => undefined);
        if (r?.status === 200 && (!untilRecovered || r.body.sandboxes.opening === 0)) return;
        await sleep(20);
      }
      throw new Error(`tapstate serve not ready within ${timeoutMs} ms: ${err}`);
    },
    async kill9() {
      if (alive()) child.kill('SIGKILL');
      await exited;
    },
    async stop(timeoutMs = 10_000) {
      if (!alive()) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => alive() && child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(t);
    },
  };
}
