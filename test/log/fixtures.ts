/** Shared fixtures of the log tests: realistic records and the two store kits. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileLogStore, type FileLogStoreOptions } from '../../src/log/file-store.js';
import type { LogStoreOptions } from '../../src/log/log-engine.js';
import { MemoryLogMedium, MemoryLogStore } from '../../src/log/memory-store.js';
import type { LogRecord } from '../../src/log/records.js';
import { doneEvent } from '../../src/testing/actor-events.js';

const stamp = (v: string) => ({ v, h: 'a1b2c3d4' });

/** The records of a hot-attach of endpoint `ep`, numbered from `seq0`. */
export function hotAttach(seq0: number, ep = 'eth0', ts0 = 1_700_000_000_000): LogRecord[] {
  const recs: LogRecord[] = [
    { k: 'create', seq: 0, ts: 0, ep, input: { name: ep, tap: `tap0_${ep}`, mac: '02:00:00:00:00:01' }, state: stamp('idle') },
    { k: 'event', seq: 0, ts: 0, ep, event: { type: 'HOT_ATTACH' }, state: stamp('hotAttaching.createTap') },
    { k: 'intent', seq: 0, ts: 0, ep, id: `${ep}/1`, src: 'netlink.createTap', input: { name: `tap0_${ep}`, queues: 1 }, attempt: 1 },
    { k: 'event', seq: 0, ts: 0, ep, event: doneEvent(`${ep}/1`, { ifindex: 7 }), state: stamp('hotAttaching.plug'), ms: 1.2 },
    { k: 'intent', seq: 0, ts: 0, ep, id: `${ep}/2`, src: 'qemu.plugNic', input: { id: ep, ifname: `tap0_${ep}` }, attempt: 1 },
    { k: 'event', seq: 0, ts: 0, ep, event: doneEvent(`${ep}/2`, { devId: `virtio-${ep}` }), state: stamp('attached'), ms: 14.5 },
    { k: 'note', seq: 0, ts: 0, ep, note: 'attached', data: { ünïcode: 'ok ✓', nl: 'a\nb' } },
  ];
  return recs.map((r, i) => ({ ...r, seq: seq0 + i, ts: ts0 + i }));
}

/** A store implementation under test, with access to its raw bytes. */
export interface StoreKit {
  name: 'file' | 'memory';
  create(meta?: Record<string, unknown>, opts?: LogStoreOptions): FileLogStore | MemoryLogStore;
  open(opts?: LogStoreOptions): FileLogStore | MemoryLogStore;
  bytes(): Buffer;
  setBytes(b: Buffer): void;
  checkpointBytes(): Buffer | null;
  setCheckpointBytes(b: Buffer): void;
  /** fdatasyncs of the log so far. */
  datasyncs(): number;
  cleanup(): void;
}

export function tempDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-${tag}-${process.pid}-`));
}

export function fileKit(): StoreKit {
  const root = tempDir('log');
  const dir = path.join(root, 'store');
  let syncs = 0;
  const fdatasync: FileLogStoreOptions['fdatasync'] = (fd) => {
    syncs++;
    fs.fdatasyncSync(fd);
  };
  const logPath = path.join(dir, 'log.jsonl');
  const cpPath = path.join(dir, 'checkpoint.json');
  return {
    name: 'file',
    create: (meta = { sandbox: 'sb1' }, opts = {}) => FileLogStore.create(dir, meta, { ...opts, fdatasync }),
    open: (opts = {}) => FileLogStore.open(dir, { ...opts, fdatasync }),
    bytes: () => fs.readFileSync(logPath),
    setBytes: (b) => {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      fs.writeFileSync(logPath, b, { mode: 0o600 });
    },
    checkpointBytes: () => (fs.existsSync(cpPath) ? fs.readFileSync(cpPath) : null),
    setCheckpointBytes: (b) => fs.writeFileSync(cpPath, b, { mode: 0o600 }),
    datasyncs: () => syncs,
    cleanup: () => fs.rmSync(root, { recursive: true, force: true }),
  };
}

export function memoryKit(): StoreKit {
  const medium = new MemoryLogMedium();
  return {
    name: 'memory',
    create: (meta = { sandbox: 'sb1' }, opts = {}) => MemoryLogStore.create(medium, meta, opts),
    open: (opts = {}) => MemoryLogStore.open(medium, opts),
    bytes: () => medium.log,
    setBytes: (b) => {
      medium.log = b;
    },
    checkpointBytes: () => medium.checkpoint,
    setCheckpointBytes: (b) => {
      medium.checkpoint = b;
    },
    datasyncs: () => medium.datasyncs,
    cleanup: () => {},
  };
}

export const KITS = [
  ['file', fileKit],
  ['memory', memoryKit],
] as const;
