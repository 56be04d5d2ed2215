/**
 * Start a guest-less `qemu-system-x86_64` with a hot-plug topology and QMP sockets, wait until
 * QMP answers, and stop it (`quit`, then SIGKILL by PID after a timeout).
 *
 * Two QMP sockets are created: `qmpPath` for the adapter (QEMU serves one client per socket at a
 * time) and `controlPath`, which the launcher itself keeps connected (readiness, `quit`; tests may
 * use {@link QemuInstance.control} to look at QEMU without disturbing the adapter's connection).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { QmpClient, QmpError } from './qmp-client.js';
import { rootPortTopology, type Topology } from './topology.js';
import { TapstateError } from '../../machines/tapstate-error.js';

/** Options of {@link launchQemu}. */
export interface LaunchOptions {
  /** The QEMU binary. Default `qemu-system-x86_64`. */
  binary?: string;
  /** The hot-plug topology. Default 4 root ports; `null`: none (give your own in `extraArgs`). */
  topology?: Topology | null;
  /**
   * Turn ACPI PCI hotplug off (`ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off`) so that
   * native PCIe/SHPC unplug completes without a guest. Default true.
   */
  acpiHotplugOff?: boolean;
  /** The machine type: `q35` (PCIe, default) or `pc` (i440fx, PCI). */
  machine?: MachineType;
  /**
   * The accelerator list. Default {@link defaultAccel}: `kvm:tcg` when `/dev/kvm` exists, else
   * `tcg`. KVM is never required: nothing here needs a guest.
   */
  accel?: string;
  /** Extra arguments (e.g. cold-plug `-netdev`/`-device` pairs). */
  extraArgs?: readonly string[];
  /** Fds the child inherits at 3, 4, … (cold-plug `fds=3:4`). Not closed by the launcher. */
  inheritFds?: readonly number[];
  /** Directory for the sockets (created if missing). Default: a fresh temp dir, removed by stop(). */
  dir?: string;
  /** How long to wait for QMP (ms). Default 10000. */
  readyTimeoutMs?: number;
}

/** A running QEMU. */
export interface QemuInstance {
  pid: number;
  /** The adapter's QMP socket. */
  qmpPath: string;
  /** The launcher's own QMP socket (kept connected as {@link control}). */
  controlPath: string;
  dir: string;
  /** The launcher's QMP connection. */
  control: QmpClient;
  /** The full command line. */
  argv: string[];
  /** Milliseconds from spawn to the first QMP answer. */
  readyMs: number;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last bytes QEMU wrote to stderr. */
  stderr(): string;
  /** `quit`, then SIGKILL by PID after `timeoutMs` (default 2000); removes a temp dir it created. Idempotent. */
  stop(timeoutMs?: number): Promise<void>;
  /** SIGKILL by PID now, and wait for the exit. */
  kill(): Promise<void>;
}

/** QEMU failed to start or to answer QMP. */
export class LaunchError extends TapstateError {
  override readonly name = 'LaunchError';
  readonly code = 'QEMU_LAUNCH_FAILED';
}

/** QEMU machine types the launcher knows. */
export type MachineType = 'q35' | 'pc';

/** `kvm:tcg` when `kvmPath` exists (QEMU still falls back to TCG if it cannot use it), else `tcg`. */
export function defaultAccel(kvmPath = '/dev/kvm'): string {
  return fs.existsSync(kvmPath) ? 'kvm:tcg' : 'tcg';
}

/** The base command line (no QMP, no topology). */
export function baseArgs(acpiHotplugOff: boolean, opts: { machine?: MachineType; accel?: string } = {}): string[] {
  const machine = opts.machine ?? 'q35';
  const a = ['-machine', `${machine},accel=${opts.accel ?? defaultAccel()}`, '-S', '-m', '128M', '-nodefaults', '-no-user-config', '-nographic', '-display', 'none', '-serial', 'none', '-monitor', 'none'];
  if (acpiHotplugOff) {
    if (machine === 'q35') a.push('-global', 'ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off');
    else a.push('-global', 'PIIX4_PM.acpi-pci-hotplug-with-bridge-support=off');
  }
  return a;
}

/** Start QEMU and wait until its QMP answers. On failure the process is killed. */
export async function launchQemu(opts: LaunchOptions = {}): Promise<QemuInstance> {
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-qemu-${process.pid}-`));
  fs.mkdirSync(dir, { recursive: true });
  const qmpPath = path.join(dir, 'qmp.sock');
  const controlPath = path.join(dir, 'control.sock');
  const topology = opts.topology === undefined ? rootPortTopology() : opts.topology;
  const argv = [
    ...baseArgs(opts.acpiHotplugOff ?? true, { machine: opts.machine ?? 'q35', accel: opts.accel ?? defaultAccel() }),
    '-qmp', `unix:${qmpPath},server=on,wait=off`,
    '-qmp', `unix:${controlPath},server=on,wait=off`,
    ...(topology?.args ?? []),
    ...(opts.extraArgs ?? []),
  ];
  const inherit = opts.inheritFds ?? [];
  const t0 = performance.now();
  const child: ChildProcess = spawn(opts.binary ?? 'qemu-system-x86_64', argv, {
    stdio: ['ignore', 'ignore', 'pipe', ...inherit],
    detached: false,
  });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-4096);
  });
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
    child.on('error', (err) => {
      stderr += `\nspawn error: ${err.message}`;
      exitInfo = { code: -1, signal: null };
      resolve(exitInfo);
    });
  });
  const pid = child.pid;
  const killNow = async (): Promise<void> => {
    if (exitInfo === undefined && pid !== undefined) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await exited;
  };
  const cleanupDir = (): void => {
    if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
    else for (const p of [qmpPath, controlPath]) fs.rmSync(p, { force: true });
  };

  let control: QmpClient | undefined;
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 10_000);
  try {
    if (pid === undefined) throw new LaunchError(`could not spawn ${opts.binary ?? 'qemu-system-x86_64'}`);
    while (!control) {
      if (exitInfo !== undefined) throw new LaunchError(`QEMU exited before QMP was ready (code ${exitInfo.code}, signal ${exitInfo.signal}): ${stderr.trim()}`);
      if (Date.now() > deadline) throw new LaunchError(`QEMU QMP not ready within ${opts.readyTimeoutMs ?? 10_000} ms: ${stderr.trim()}`);
      try {
        control = await QmpClient.connect(controlPath, { connectTimeoutMs: Math.max(100, deadline - Date.now()) });
      } catch (e) {
        if (!(e instanceof QmpError) || e.kind !== 'disconnected') throw e;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    // The adapter socket is created before the control one (argument order), so it exists now.
  } catch (e) {
    await killNow();
    cleanupDir();
    throw e instanceof LaunchError ? e : new LaunchError(`QEMU start failed: ${(e as Error).message}; stderr: ${stderr.trim()}`);
  }
  const readyMs = performance.now() - t0;
  const ctl = control;
  let stopping: Promise<void> | undefined;
  return {
    pid,
    qmpPath,
    controlPath,
    dir,
    control: ctl,
    argv,
    readyMs,
    exited,
    stderr: () => stderr,
    kill: async () => {
      await killNow();
      ctl.close();
    },
    stop: (timeoutMs = 2000) => {
      stopping ??= (async () => {
        if (exitInfo === undefined) {
          ctl.execute('quit', undefined, { timeoutMs }).catch(() => undefined);
          const timer = setTimeout(() => void killNow(), timeoutMs);
          await exited;
          clearTimeout(timer);
        }
        ctl.close();
        cleanupDir();
      })();
      return stopping;
    },
  };
}
