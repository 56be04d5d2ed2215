/**
 * Bench helpers of the log (assembled into test/bench/core.ts by the lead):
 * - `appendVsFdatasync`: durable single-record appends through `FileLogStore.append(records, true)`
 *   against a bare `fs.writeSync` + `fs.fdatasyncSync` loop writing the same bytes on the same
 *   file system, interleaved op by op. Throughput: ratio = ours / baseline, higher is better.
 * - `readVsParse`: `FileLogStore.read()` of 1,000 endpoints × 25 records against reading the file
 *   and `JSON.parse` of each line with no checksum, shape or sequence checks.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeRecord } from '../../src/log/codec.js';
import { FileLogStore } from '../../src/log/file-store.js';
import type { IntentRecord, LogRecord } from '../../src/log/records.js';
import { median, result, type BenchResult } from './harness.js';

function intent(seq: number, ep = `ep${seq % 1000}`): IntentRecord {
  return {
    k: 'intent',
    seq,
    ts: 1_700_000_000_000 + seq,
    ep,
    id: `${ep}/${seq}`,
    src: 'netlink.createTap',
    input: { name: `tap0_${ep}`, queues: 1, netns: '/run/netns/sb-1234', mac: '02:42:ac:11:00:02' },
    attempt: 1,
  };
}

function tmpRoot(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-bench-log-${process.pid}-`));
}

/** Durable appends per second, ours vs write+fdatasync, interleaved rounds, median of rounds. */
export async function* appendVsFdatasync(quick: boolean): AsyncGenerator<BenchResult> {
  const rounds = quick ? 3 : 9;
  const perRound = quick ? 100 : 400;
  const root = tmpRoot();
  try {
    const store = FileLogStore.create(path.join(root, 'store'), { bench: true });
    const basePath = path.join(root, 'baseline.jsonl');
    const fd = fs.openSync(basePath, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_APPEND, 0o600);
    try {
      let seq = 1;
      const ours: number[] = [];
      const base: number[] = [];
      let bytes = 0;
      for (let r = 0; r < rounds; r++) {
        // baseline: the same record bytes, pre-encoded, written and fdatasynced one by one
        const lines = Array.from({ length: perRound }, (_, i) => encodeRecord(intent(seq + i))); // same bytes as ours
        // interleave op by op (alternating which goes first) so both see the same device state
        let tOurs = 0n;
        let tBase = 0n;
        for (let i = 0; i < perRound; i++) {
          const l = lines[i]!;
          const rec = intent(seq++);
          const oursFirst = (i + r) % 2 === 0;
          for (const side of oursFirst ? [0, 1] : [1, 0]) {
            const t = process.hrtime.bigint();
            if (side === 0) store.append([rec], true);
            else {
              fs.writeSync(fd, l);
              fs.fdatasyncSync(fd);
            }
            const dt = process.hrtime.bigint() - t;
            if (side === 0) tOurs += dt;
            else tBase += dt;
          }
        }
        ours.push(perRound / (Number(tOurs) / 1e9));
        base.push(perRound / (Number(tBase) / 1e9));
        bytes = lines[0]!.length;
        await Promise.resolve();
      }
      store.close();
      yield result({
        suite: 'core',
        case: 'append-fsync-vs-fdatasync',
        ours: median(ours),
        baseline: median(base),
        baseline_name: 'write+fdatasync',
        unit: 'ops/s',
        target: '>= 0.8',
        extra: { record_bytes: bytes, rounds, per_round: perRound, fs: fsType(root) },
      });
    } finally {
      fs.closeSync(fd);
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/** Records per second read+verified by `FileLogStore.read()` vs a bare read + split + JSON.parse. */
export async function* readVsParse(quick: boolean): AsyncGenerator<BenchResult> {
  const endpoints = 1000;
  const perEp = 25;
  const rounds = quick ? 3 : 9;
  const root = tmpRoot();
  try {
    const dir = path.join(root, 'store');
    const w = FileLogStore.create(dir, {});
    const recs: LogRecord[] = [];
    for (let s = 1; s <= endpoints * perEp; s++) recs.push(intent(s));
    for (let i = 0; i < recs.length; i += 1000) w.append(recs.slice(i, i + 1000), false);
    w.close();
    const store = FileLogStore.open(dir, { readOnly: true });
    const logPath = path.join(dir, 'log.jsonl');
    const ours: number[] = [];
    const base: number[] = [];
    let n = 0;
    for (let r = 0; r < rounds; r++) {
      let t = process.hrtime.bigint();
      const text = fs.readFileSync(logPath, 'utf8');
      let p = text.indexOf('\n') + 1;
      const out: unknown[] = [];
      while (p < text.length) {
        const nl = text.indexOf('\n', p);
        out.push(JSON.parse(text.slice(p + 9, nl)));
        p = nl + 1;
      }
      base.push(out.length / (Number(process.hrtime.bigint() - t) / 1e9));
      t = process.hrtime.bigint();
      n = store.read().records.length;
      ours.push(n / (Number(process.hrtime.bigint() - t) / 1e9));
      await Promise.resolve();
    }
    store.close();
    yield result({
      suite: 'core',
      case: 'read-25k-records-vs-json-parse',
      ours: median(ours),
      baseline: median(base),
      baseline_name: 'readFile+JSON.parse',
      unit: 'records/s',
      extra: { records: n, ms_per_read: Number(((n / median(ours)) * 1000).toFixed(2)) },
    });
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

function fsType(p: string): string {
  try {
    const st = fs.statfsSync(p);
    const known: Record<number, string> = { 0x01021994: 'tmpfs', 0xef53: 'ext4', 0x794c7630: 'overlayfs', 0x58465342: 'xfs', 0x9123683e: 'btrfs' };
    return known[st.type] ?? `0x${st.type.toString(16)}`;
  } catch {
    return 'unknown';
  }
}
