/**
 * The plugin executable when stdin cannot be read (a runtime that hands it a directory, a broken
 * fd): the spec's error object on stdout (code 5, I/O failure) and exit 1 — before the fix Node
 * crashed with a stack trace on stderr and nothing on stdout. VERSION needs no config and still
 * answers.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { pluginMain } from './world.js';

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  dirs = [];
});

function runWithDirStdin(env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const d = fs.mkdtempSync(path.join(tmpdir(), `tapstate-cni-stdin-${process.pid}-`));
  dirs.push(d);
  const fd = fs.openSync(d, 'r');
  try {
    const r = spawnSync(process.execPath, [pluginMain()], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: [fd, 'pipe', 'pipe'], encoding: 'utf8' });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  } finally {
    fs.closeSync(fd);
  }
}

it('an unreadable stdin is code 5 on stdout, exit 1', () => {
  const r = runWithDirStdin({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'c1', CNI_IFNAME: 'eth0' });
  expect(r.status).toBe(1);
  expect(JSON.parse(r.stdout)).toMatchObject({ cniVersion: '1.0.0', code: 5, msg: expect.stringMatching(/^cannot read the network configuration from stdin: EISDIR/) });
});

it('VERSION answers whatever stdin is', () => {
  const r = runWithDirStdin({ CNI_COMMAND: 'VERSION' });
  expect(r.status).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({ cniVersion: '1.1.0', supportedVersions: expect.arrayContaining(['1.0.0']) });
});
