/**
 * Issue #9.7, for real: the store lives on a tiny tmpfs the test mounts (in a unique temp dir,
 * unmounted after), the disk is filled, and a writer runs. Before the fix the CLI printed
 * `tapstate: Error: ENOSPC` and a later call on the same store `SimulatedCrash: simulated crash:
 * store used after a crash` (a test-only type). Now: StoreFailedError, one line, and `recover`
 * once space is available.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryHypervisor, MemoryKernel } from '../../src/adapters/memory/index.js';
import { FileLogStore } from '../../src/log/index.js';
import { StoreFailedError } from '../../src/runtime/errors.js';
import { Tapstore } from '../../src/runtime/tapstore.js';
import { requireRoot } from '../linux/fixture.js';
import { cli } from './cli-support.js';

requireRoot();
const mnt = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-full-${process.pid}-`));
let mounted = false;
beforeAll(() => {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', `tapstate-test-${process.pid}`, mnt]);
  mounted = true;
});
afterAll(() => {
  if (mounted) {
    try {
      execFileSync('umount', [mnt]);
    } catch {
      execFileSync('umount', ['-l', mnt]); // a failed test left a file open: detach it anyway
    }
  }
  fs.rmSync(mnt, { recursive: true, force: true });
});

/** Write zeros into `file` until the file system is full. */
function fill(file: string): void {
  const fd = fs.openSync(file, 'w');
  const chunk = Buffer.alloc(4096);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    fs.closeSync(fd);
  }
}

const STORE_FAILED = /^tapstate: StoreFailedError: log write failed \(ENOSPC\); run 'tapstate recover' once space is available\n$/;

describe('a full disk under the store', () => {
  it('CLI: a writer fails with StoreFailedError (one line), so does the next; recover works once space is back', () => {
    const store = path.join(mnt, 'cli');
    expect(cli(['init', '--store', store, '--netns', '/run/netns/x']).code).toBe(0);
    expect(cli(['add', '--store', store, '--idx', '0']).code).toBe(0);
    const filler = path.join(mnt, 'fill');
    fill(filler);
    // the log's last page may have room for a few records: add until the disk says no
    let r = cli(['add', '--store', store, '--idx', '1']);
    let idx = 2;
    while (r.code === 0 && idx < 40) r = cli(['add', '--store', store, '--idx', String(idx++)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(STORE_FAILED);
    const next = cli(['add', '--store', store, '--idx', '99']);
    expect(next.code).toBe(1);
    expect(next.stderr).toMatch(STORE_FAILED);
    expect(next.stderr).not.toMatch(/SimulatedCrash/);
    fs.rmSync(filler);
    const rec = cli(['recover', '--store', store]);
    expect(rec.code, rec.stderr).toBe(0);
    const ver = cli(['verify', '--store', store]);
    expect(ver.code, ver.stdout + ver.stderr).toBe(0);
    const ids = JSON.parse(cli(['status', '--store', store, '--json']).stdout).endpoints.map((e: { id: string }) => e.id);
    expect(ids).not.toContain('ep99');
  });

  it('library: the failed write is StoreFailedError, and so is every later call on that store (never SimulatedCrash)', async () => {
    const dir = path.join(mnt, 'lib');
    const kernel = new MemoryKernel();
    kernel.addNetns('/run/netns/x');
    const adapters = { netlink: kernel, hypervisor: new MemoryHypervisor({ kernel }) };
    FileLogStore.create(dir, { sandbox: { netnsPath: '/run/netns/x', netnsCreated: true, vcpus: 1, vhost: false } }).close();
    const log = FileLogStore.open(dir);
    const store = await Tapstore.open({ log, adapters });
    const filler = path.join(mnt, 'fill-lib');
    try {
      store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
      fill(filler);
      let failure: unknown = null;
      for (let i = 1; i < 200 && failure === null; i++) {
        try {
          store.createEndpoint({ idx: i, mac: `02:00:00:01:00:${i.toString(16).padStart(2, '0')}` });
        } catch (e) {
          failure = e;
        }
      }
      expect(failure).toBeInstanceOf(StoreFailedError);
      expect((failure as StoreFailedError).errno).toBe('ENOSPC');
      expect((failure as StoreFailedError).code).toBe('STORE_FAILED');
      expect(() => store.createEndpoint({ idx: 500, mac: '02:00:00:02:00:00' })).toThrow(StoreFailedError);
      await expect(store.hotAttach('ep0')).rejects.toThrow(/the store stopped after a failed log write \(ENOSPC\); run 'tapstate recover'/);
    } finally {
      await store.close();
      log.close();
      fs.rmSync(filler, { force: true });
    }
  });
});
