/**
 * Issue #9.8: damage in records before the last checkpoint went unnoticed by `status` and the
 * writers (they start at the checkpoint); only `tapstate log` saw it. `tapstate verify` checks
 * every record's CRC, the checkpoint, a full replay with the stamp check, and that the
 * checkpoint-based open agrees — exit 1 on any damage.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryHypervisor, MemoryKernel } from '../../src/adapters/memory/index.js';
import { FileLogStore } from '../../src/log/index.js';
import { Tapstore } from '../../src/runtime/tapstore.js';
import { cli } from './cli-support.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-verify-${process.pid}-`));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;

function storeWithCheckpoint(): string {
  const store = path.join(tmp, `s${n++}`);
  expect(cli(['init', '--store', store, '--netns', '/run/netns/x']).code).toBe(0);
  for (const i of [0, 1, 2]) expect(cli(['add', '--store', store, '--idx', String(i), '--mac', `02:00:00:00:00:0${i + 1}`]).code).toBe(0);
  return store;
}

async function checkpoint(store: string): Promise<void> {
  const kernel = new MemoryKernel();
  const log = FileLogStore.open(store);
  const t = await Tapstore.open({ log, adapters: { netlink: kernel, hypervisor: new MemoryHypervisor({ kernel }) } });
  t.checkpoint();
  await t.close();
}

describe('tapstate verify', () => {
  it('a clean store: exit 0, every check said', () => {
    const store = storeWithCheckpoint();
    const r = cli(['verify', '--store', store]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/records: ok \(3, every CRC and sequence number\)/);
    expect(r.stdout).toMatch(/replay: ok/);
    expect(r.stdout).toMatch(/no damage found/);
  });

  it('a damaged record before the checkpoint: status goes on, verify exits 1 naming it', async () => {
    const store = storeWithCheckpoint();
    await checkpoint(store);
    const file = path.join(store, 'log.jsonl');
    const text = fs.readFileSync(file, 'utf8');
    const damaged = text.replace('02:00:00:00:00:01', '02:00:00:00:00:0f'); // same length, CRC now wrong
    expect(damaged).not.toBe(text);
    fs.writeFileSync(file, damaged);
    expect(cli(['status', '--store', store]).code).toBe(0); // starts at the checkpoint: does not see it
    const r = cli(['verify', '--store', store]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^PROBLEM: records: LogCorruptError: corrupt log .* checksum/m);
    expect(r.stderr).toMatch(/^tapstate: StoreDamagedError: .*problem\(s\) found: records: LogCorruptError/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a torn tail is damage too (the next writer cuts it); verify changes nothing', () => {
    const store = storeWithCheckpoint();
    fs.appendFileSync(path.join(store, 'log.jsonl'), '0badc0de {"seq":4,"k"');
    const before = fs.readFileSync(path.join(store, 'log.jsonl'));
    const r = cli(['verify', '--store', store]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^PROBLEM: torn last record: \d+ bytes at byte \d+/m);
    expect(fs.readFileSync(path.join(store, 'log.jsonl')).equals(before)).toBe(true);
  });

  it('--json: one document when clean, the StoreDamagedError object with every problem when not', () => {
    const store = storeWithCheckpoint();
    const ok = cli(['verify', '--store', store, '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ version: 1, store, records: 3, endpoints: expect.any(Number) });
    fs.appendFileSync(path.join(store, 'log.jsonl'), '0badc0de {"seq":4,"k"');
    const bad = cli(['verify', '--store', store, '--json']);
    expect(bad.code).toBe(1);
    expect(bad.stdout.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ error: { type: 'StoreDamagedError', store, problems: [expect.stringMatching(/^torn last record/)] } });
  });
});
