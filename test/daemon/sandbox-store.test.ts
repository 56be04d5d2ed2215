/**
 * Creating a sandbox's store: its fsyncs run off the event loop, in the order that keeps the
 * create atomic and durable — the log and the `.new-*` directory before the rename, the parent
 * directory after it, the create done only then.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createSandboxStore, fsyncPath, isStoreDir } from '../../src/daemon/sandbox-store.js';
import { memoryDaemon } from './client.js';

const CFG = { netnsPath: '/run/netns/sbs', netnsCreated: true, vcpus: 1, vhost: false };
let tmp = '';
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  tmp = '';
});

describe('createSandboxStore', () => {
  it('syncs the log and its directory before the store gets its name, and the parent after; the event loop never waits', async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-sbs-${process.pid}-`));
    const dir = path.join(tmp, 'sb');
    const calls: Array<{ p: string; isDir: boolean; named: boolean; release: () => void }> = [];
    const sync = (p: string, isDir: boolean) => new Promise<void>((release) => calls.push({ p, isDir, named: fs.existsSync(dir), release }));
    let done = false;
    const creating = createSandboxStore(dir, CFG, sync).then(() => (done = true));
    const step = async (n: number) => {
      for (let i = 0; i < 50 && calls.length < n; i++) await new Promise((r) => setImmediate(r));
      expect(calls).toHaveLength(n);
      expect(done).toBe(false);
      calls[n - 1]!.release();
    };
    await step(1); // the log, while only the .new- directory exists
    expect(calls[0]).toMatchObject({ p: expect.stringMatching(/\/\.new-sb-[^/]+\/log\.jsonl$/), isDir: false, named: false });
    await step(2); // that directory
    expect(calls[1]).toMatchObject({ p: path.dirname(calls[0]!.p), isDir: true, named: false });
    await step(3); // the parent, after the rename
    expect(calls[2]).toMatchObject({ p: tmp, isDir: true, named: true });
    await creating;
    expect(done).toBe(true);
    expect(isStoreDir(dir)).toBe(true);
    expect(fs.readdirSync(tmp)).toEqual(['sb']);
  });

  it('a failed sync leaves nothing under the name and no .new- directory, and throws it', async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-sbs-${process.pid}-`));
    const eio = Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
    await expect(createSandboxStore(path.join(tmp, 'sb'), CFG, async () => Promise.reject(eio))).rejects.toBe(eio);
    expect(fs.readdirSync(tmp)).toEqual([]);
  });

  it('fsyncPath refuses a symlink', async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-sbs-${process.pid}-`));
    fs.writeFileSync(path.join(tmp, 'f'), 'x');
    fs.symlinkSync(path.join(tmp, 'f'), path.join(tmp, 'link'));
    await expect(fsyncPath(path.join(tmp, 'link'), false)).rejects.toMatchObject({ code: 'ELOOP' });
    await fsyncPath(path.join(tmp, 'f'), false);
    await fsyncPath(tmp, true);
  });
});

describe('PUT /v1/sandboxes/{id} while the same sandbox is being created', () => {
  it('the second PUT waits for the first: one 201, one 200, one store', async () => {
    const d = await memoryDaemon();
    cleanup.push(() => d.stop());
    const cfg = { ...CFG, qmp: '/run/sbs/qmp.sock' };
    const replies = await Promise.all([d.call('PUT', '/v1/sandboxes/twice', cfg), d.call('PUT', '/v1/sandboxes/twice', cfg)]);
    expect(replies.map((r) => r.status).sort()).toEqual([200, 201]);
    expect(fs.readdirSync(d.stateDir).filter((n) => !n.startsWith('.idem'))).toEqual(['twice']);
    expect((await d.call('GET', '/v1/sandboxes')).body.sandboxes.map((s: { id: string }) => s.id)).toEqual(['twice']);
  });
});
