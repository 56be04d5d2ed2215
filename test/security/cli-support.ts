/** Spawning the built CLI for the security tests, and store snapshots (bytes of every file). */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'vitest';
import { CLI } from '../torture/world.js';

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export const MEMORY = { TAPSTATE_ADAPTERS: 'memory' };

/** Run the CLI (`prefix`: e.g. `['ip', 'netns', 'exec', NS]` to run it inside a namespace). */
export function cli(args: string[], env: Record<string, string> = MEMORY, prefix: string[] = []): Run {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} missing: npm run build first`);
  const argv = [...prefix, process.execPath, CLI, ...args];
  const base: NodeJS.ProcessEnv = { ...process.env };
  delete base.TAPSTATE_ADAPTERS;
  const r = spawnSync(argv[0]!, argv.slice(1), { env: { ...base, ...env }, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Every file of a directory with its bytes and mode (the lock file's content is the last writer's pid). */
export function snapshot(dir: string): Record<string, string> {
  if (!fs.existsSync(dir)) return {};
  const out: Record<string, string> = {};
  for (const f of fs.readdirSync(dir).sort()) {
    const p = path.join(dir, f);
    const st = fs.lstatSync(p);
    out[f] = `${(st.mode & 0o7777).toString(8)} ` + (f === 'lock' ? '(lock)' : st.isFile() ? fs.readFileSync(p).toString('base64') : st.isSymbolicLink() ? `-> ${fs.readlinkSync(p)}` : '(dir)');
  }
  return out;
}

/** Refused: exit `code`, exactly one stderr line matching `msg`, nothing on stdout, `dir` unchanged. */
export function refused(args: string[], code: number, msg: RegExp, dir: string, env: Record<string, string> = MEMORY, prefix: string[] = []): Run {
  const before = snapshot(dir);
  const r = cli(args, env, prefix);
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(msg);
  expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  expect(r.stdout).toBe('');
  expect(snapshot(dir)).toEqual(before);
  return r;
}

/** A network document (persist.json v1 Network section) for tuntap endpoints. */
export function networkDoc(netns: string, eps: Array<{ idx: number; name?: string; mac: string }>, created = true): object {
  return {
    NetNsPath: netns,
    NetmonPID: 0,
    NetNsCreated: created,
    Endpoints: eps.map((e) => ({
      Type: 'tuntap',
      Tuntap: { TuntapInterface: { Name: e.name ?? `eth${e.idx}`, TAPIface: { Name: `tap${e.idx}_kata`, HardAddr: e.mac, Addrs: null } } },
    })),
  };
}
