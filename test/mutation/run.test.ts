import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const RUN = path.resolve('dist/test/mutation/run.js');

describe('npm run mutate (test/mutation/run.ts)', () => {
  let dir = '';
  afterEach(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    dir = '';
  });

  it('runs Stryker with a private TMPDIR and removes it with what a killed test worker left in it', () => {
    expect(fs.existsSync(RUN), `${RUN} is missing: npm run build`).toBe(true);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tapstate-mutate-test-'));
    const bin = path.join(dir, 'bin');
    const cwd = path.join(dir, 'cwd');
    const outer = path.join(dir, 'tmp');
    for (const d of [bin, cwd, outer]) fs.mkdirSync(d);
    // a stand-in for `npx stryker run …`: leaves a temp dir behind in its TMPDIR, as a test
    // worker Stryker kills on a timeout does, and writes an empty report
    fs.writeFileSync(
      path.join(bin, 'npx'),
      '#!/bin/sh\nset -e\nprintf %s "$TMPDIR" > tmpdir.txt\nmkdir "$TMPDIR/tapstate-leftover"\nmkdir -p .tmp\necho \'{"files":{}}\' > .tmp/mutation.json\n',
      { mode: 0o755 },
    );
    const r = spawnSync(process.execPath, [RUN], { cwd, env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, TMPDIR: outer }, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const used = fs.readFileSync(path.join(cwd, 'tmpdir.txt'), 'utf8');
    expect(path.dirname(used)).toBe(outer);
    expect(path.basename(used)).toMatch(/^tapstate-mutate-/);
    expect(fs.existsSync(used)).toBe(false);
    expect(fs.readdirSync(outer)).toEqual([]);
  });
});
