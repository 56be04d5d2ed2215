/**
 * StoreLock after a removal: a waiter that gets the flock of a lock file the remover unlinked
 * must not think it holds the store (it would run beside the next writer). It takes the lock on
 * the file now at the path instead, or fails with ENOENT when the directory is gone. And
 * removeStore deletes a store while still holding its lock.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryHypervisor, MemoryKernel } from '../../src/adapters/memory/index.js';
import type { SandboxConfig } from '../../src/runtime/sandbox-config.js';
import { StoreNotRemovableError } from '../../src/store/errors.js';
import { createStore, openStore, removeStore } from '../../src/store/open-store.js';
import { LOCK_FILE, StoreLock, StoreLockedError } from '../../src/store/store-lock.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LOCK_JS = path.join(ROOT, 'dist', 'src', 'store', 'store-lock.js');
const NETNS = '/run/netns/store-lock-test';

const dirs: string[] = [];
const children: ChildProcess[] = [];
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-store-lock-${process.pid}-`));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A child process that waits (blocking poll, fd kept open) for the lock of `dir`, then says how it ended. */
function waiter(dir: string): { child: ChildProcess; result: Promise<string> } {
  if (!fs.existsSync(LOCK_JS)) throw new Error(`${LOCK_JS} missing: run npm run build first`);
  const code = `import(${JSON.stringify(LOCK_JS)}).then((m) => {
    try { m.StoreLock.acquire(${JSON.stringify(dir)}, 20000); process.stdout.write('locked\\n'); }
    catch (e) { process.stdout.write('failed ' + (e.code ?? e.name) + '\\n'); process.exit(0); }
    setInterval(() => {}, 1000);
  });`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const result = new Promise<string>((resolve) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('\n')) resolve(out.trim());
    });
    child.on('exit', () => resolve(out.trim()));
  });
  return { child, result };
}

/** Wait until `pid` has the lock file open (it then blocks in its flock poll on that very file). */
async function waitOpened(pid: number, file: string): Promise<void> {
  const ino = fs.statSync(file).ino;
  for (let i = 0; i < 1500; i++) {
    try {
      for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
        try {
          if (fs.statSync(`/proc/${pid}/fd/${fd}`).ino === ino) return;
        } catch {
          /* closed meanwhile */
        }
      }
    } catch {
      /* not started yet */
    }
    await sleep(10);
  }
  throw new Error(`pid ${pid} never opened ${file}`);
}

function memory(sb: SandboxConfig) {
  const kernel = new MemoryKernel();
  kernel.addNetns(sb.netnsPath);
  return { netlink: kernel, hypervisor: new MemoryHypervisor({ kernel }) };
}

describe('StoreLock', () => {
  it('a waiter whose lock file was unlinked meanwhile locks the file now at the path, not the unlinked one', async () => {
    const dir = tmpDir();
    const held = StoreLock.acquire(dir);
    const w = waiter(dir);
    await waitOpened(w.child.pid!, path.join(dir, LOCK_FILE));
    fs.unlinkSync(path.join(dir, LOCK_FILE)); // removed while held, as a remover does
    held.release();
    expect(await w.result).toBe('locked');
    // the waiter holds the lock of the live file: nobody else gets it
    const e = (() => {
      try {
        StoreLock.acquire(dir).release();
        return undefined;
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(StoreLockedError);
    expect(e).toMatchObject({ pid: w.child.pid });
  }, 60_000);

  it('a waiter whose store directory was removed meanwhile fails with ENOENT', async () => {
    const dir = path.join(tmpDir(), 'store');
    fs.mkdirSync(dir);
    const held = StoreLock.acquire(dir);
    const w = waiter(dir);
    await waitOpened(w.child.pid!, path.join(dir, LOCK_FILE));
    fs.rmSync(dir, { recursive: true });
    held.release();
    expect(await w.result).toBe('failed ENOENT');
  }, 60_000);
});

describe('removeStore', () => {
  it('closes the store and its adapters, deletes the directory, then drops the lock', async () => {
    const dir = path.join(tmpDir(), 'store');
    let closed = 0;
    const store = await openStore(dir, {
      sandbox: { netnsPath: NETNS },
      adapters: (sb) => {
        const a = memory(sb);
        const close = a.netlink.close.bind(a.netlink);
        a.netlink.close = async () => {
          closed++;
          expect(fs.existsSync(dir)).toBe(true); // still there while adapters close
          await close();
        };
        return a;
      },
    });
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    await removeStore(store);
    expect(closed).toBe(1);
    expect(fs.existsSync(dir)).toBe(false);
    await expect(openStore(dir)).rejects.toMatchObject({ code: 'STORE_NOT_FOUND' });
    await createStore(dir, { netnsPath: NETNS }); // the lock is free again
    const again = await openStore(dir, { adapters: memory });
    expect(again.list()).toEqual([]);
    await again.close();
  });

  it('a store made in a directory that held other files: only the store\'s own files go, the rest and the directory stay', async () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    fs.mkdirSync(path.join(dir, 'photos'));
    fs.writeFileSync(path.join(dir, 'photos', 'a.jpg'), 'jpg');
    await createStore(dir, { netnsPath: NETNS }, { retention: { segmentBytes: 4096, maxBytes: null, maxAgeMs: null, keepHistory: true } });
    const store = await openStore(dir, { adapters: memory });
    for (let i = 0; i < 30; i++) {
      const { id } = store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
      await store.hotAttach(id);
      await store.hotDetach(id);
    }
    expect(fs.readdirSync(dir)).toEqual(expect.arrayContaining(['log.jsonl', 'lock', 'segments']));
    await removeStore(store);
    // before: rm -rf of the whole directory (openStore(os.homedir(), …) then removeStore emptied the home)
    expect(fs.readdirSync(dir).sort()).toEqual(['notes.txt', 'photos']);
    expect(fs.readFileSync(path.join(dir, 'photos', 'a.jpg'), 'utf8')).toBe('jpg');
  });

  it('refuses a read-only or closed store (StoreNotRemovableError), deleting nothing', async () => {
    const dir = path.join(tmpDir(), 'store');
    const writer = await openStore(dir, { sandbox: { netnsPath: NETNS }, adapters: memory });
    const reader = await openStore(dir, { lock: false });
    await expect(removeStore(reader)).rejects.toBeInstanceOf(StoreNotRemovableError);
    await reader.close();
    await writer.close();
    await expect(removeStore(writer)).rejects.toMatchObject({ code: 'STORE_NOT_REMOVABLE' });
    expect(fs.readdirSync(dir).length).toBeGreaterThan(0);
  });
});
