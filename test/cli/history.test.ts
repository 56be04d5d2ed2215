/**
 * The CLI over a long life, in-process (runCli with the in-memory adapters): retention chosen at
 * init and changed later; a detached endpoint retires from status; `log` streams the retained
 * history across segments (and the archive); `view` shows the live endpoints and the newest N
 * records; nothing is lost to compaction that status needs.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseCommandArgs } from '../../src/cli/args.js';
import { UsageError } from '../../src/cli/command.js';
import { findCommand } from '../../src/cli/commands/index.js';
import { readRetentionFile } from '../../src/log/index.js';

let root: string;
let store: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-clihist-${process.pid}-`));
  store = path.join(root, 'store');
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io = { out: (t: string) => void (out += t), err: (t: string) => void (err += t), isTTY: false, env: { TAPSTATE_ADAPTERS: 'memory' } };
  const cmd = findCommand(argv[0]!)!;
  let code: number;
  try {
    const p = parseCommandArgs(cmd, argv.slice(1));
    code = await cmd.run(p.opts, p.positionals, io);
  } catch (e) {
    code = e instanceof UsageError ? 2 : 1;
    err += `tapstate: ${e instanceof UsageError ? `UsageError: ${cmd.name}` : (e as Error).name}: ${(e as Error).message}\n`;
  }
  return { code, out, err };
}

async function ok(...argv: string[]): Promise<string> {
  const r = await cli(...argv);
  expect(r.code, `${argv.join(' ')}: ${r.err}`).toBe(0);
  return r.out;
}

describe('tapstate over a long life', () => {
  it('init chooses the retention, retention shows and changes it; bad values are usage errors naming the flag, changing nothing', async () => {
    expect(await ok('init', '--store', store, '--netns', '/run/netns/x', '--retain-bytes', '64M', '--retain-age', '30d', '--segment-bytes', '256k')).toContain(
      'history: segments of 256k; keep at most 64M, nothing older than 30d; removed segments deleted',
    );
    expect(readRetentionFile(store)).toEqual({ segmentBytes: 256 << 10, maxBytes: 64 << 20, maxAgeMs: 30 * 86_400_000, keepHistory: false });
    expect(await ok('retention', '--store', store)).toMatch(/keep at most 64M, nothing older than 30d/);
    expect(await ok('retention', '--store', store, '--retain-bytes', 'none', '--keep-history')).toMatch(/keep any size, nothing older than 30d; removed segments archived/);
    for (const [flag, value] of [['--retain-bytes', '12 parsecs'], ['--retain-age', '3 fortnights'], ['--segment-bytes', '100']]) {
      const r = await cli('retention', '--store', store, flag!, value!);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(new RegExp(`^tapstate: UsageError: retention: ${flag}: must be`));
    }
    expect(readRetentionFile(store)).toMatchObject({ maxBytes: null, keepHistory: true });
  });

  it('sizes of 2 GiB and more are said as given (32-bit shifts made 4G "0M" and 3G "-1024M")', async () => {
    await ok('init', '--store', store, '--netns', '/run/netns/x');
    expect(await ok('retention', '--store', store, '--retain-bytes', '4G', '--segment-bytes', '3G')).toContain('segments of 3072M; keep at most 4096M;');
    expect(readRetentionFile(store)).toMatchObject({ segmentBytes: 3 * 2 ** 30, maxBytes: 4 * 2 ** 30 });
    expect(await ok('retention', '--store', store, '--retain-bytes', '8589934593')).toContain('keep at most 8589934593;');
  });

  it('many cycles on one slot: rotated and compacted, status shows the live endpoint only, log streams the retained run, view the newest records', async () => {
    await ok('init', '--store', store, '--netns', '/run/netns/x', '--netns-created', '--segment-bytes', '4k', '--retain-bytes', '12k', '--keep-history');
    await ok('add', '--store', store, '--idx', '1', '--mac', '02:00:00:00:01:01');
    for (let i = 0; i < 8; i++) {
      expect((await ok('add', '--store', store, '--idx', '0', '--mac', '02:00:00:00:00:01')).trim()).toBe('ep0'); // the id is free again
      await ok('attach', '--store', store, '--endpoint', 'ep0').catch(() => undefined);
      expect(await ok('detach', '--store', store, '--endpoint', 'ep0')).toMatch(/^ep0: detached/);
    }
    expect(fs.readdirSync(path.join(store, 'archive')).length).toBeGreaterThan(0);
    const st = JSON.parse(await ok('status', '--store', store, '--json')) as { endpoints: Array<{ id: string }> };
    expect(st.endpoints.map((e) => e.id)).toEqual(['ep1']);
    expect(await ok('status', '--store', store)).toMatch(/8 endpoint\(s\) detached and retired/);
    const seqOf = (out: string) => out.trim().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq);
    const retained = seqOf(await ok('log', '--store', store, '--json'));
    const all = seqOf(await ok('log', '--store', store, '--json', '--archive'));
    expect(retained[0]).toBeGreaterThan(1);
    expect(all[0]).toBe(1);
    expect(all).toEqual(Array.from({ length: all.length }, (_, i) => i + 1));
    expect(all.slice(all.length - retained.length)).toEqual(retained);
    // view: live endpoints + the newest N records
    const html = path.join(root, 'v.html');
    await ok('view', '--store', store, '--out', html, '--last', '5');
    const page = fs.readFileSync(html, 'utf8');
    expect(page).toContain(`the newest 5 of ${retained.length} records (tapstate view --all for every one)`);
    const data = JSON.parse(/<script type="application\/json" id="tapstate-data">(.*?)<\/script>/s.exec(page)![1]!) as { endpoints: Array<{ id: string; entries: unknown[] }> };
    expect(data.endpoints[0]!.id).toBe('ep1');
    expect(data.endpoints.reduce((n, e) => n + e.entries.length, 0)).toBeLessThanOrEqual(6);
    await ok('view', '--store', store, '--out', html, '--all');
    expect(fs.readFileSync(html, 'utf8')).toContain(`the newest ${retained.length} of ${retained.length} records`);
    const bad = await cli('view', '--store', store, '--out', html, '--last', '0');
    expect(bad.code).toBe(2);
    // flags that were silently ignored: usage errors naming them, nothing written
    fs.rmSync(html);
    for (const [args, msg] of [[['--archive'], /UsageError: view: --archive: only with --all/], [['--all', '--last', '5'], /UsageError: view: --last and --all exclude each other/]] as const) {
      const r = await cli('view', '--store', store, '--out', html, ...args);
      expect(r.code, r.err).toBe(2);
      expect(r.err).toMatch(msg);
      expect(fs.existsSync(html)).toBe(false);
    }
  });
});
