/**
 * The retention policy of a store (docs/log-format.md, "Segments and retention"): when the active
 * segment is rotated, and which sealed segments compaction removes (deletes, or archives with
 * `keepHistory`). Chosen at `tapstate init`, changed with `tapstate retention`; kept in
 * `retention.json` next to the log.
 */
import { LogRecordError } from './codec.js';

export interface RetentionPolicy {
  /** Rotate the active segment at the first checkpoint after it holds this many bytes. */
  segmentBytes: number;
  /** Keep at most this many bytes of log (sealed segments + the active one); null: no size limit. */
  maxBytes: number | null;
  /** Remove sealed segments whose newest record is older than this (ms); null: no age limit. */
  maxAgeMs: number | null;
  /** Move removed segments to `archive/` instead of deleting them. */
  keepHistory: boolean;
}

/** 1 MiB segments, 4 MiB of history, no age limit, removed segments deleted. */
export const DEFAULT_RETENTION: Readonly<RetentionPolicy> = Object.freeze({
  segmentBytes: 1 << 20,
  maxBytes: 4 << 20,
  maxAgeMs: null,
  keepHistory: false,
});

/** Smallest segment size accepted (a segment holds at least a checkpoint interval's records in practice). */
export const MIN_SEGMENT_BYTES = 4096;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Validate a policy (or a partial one merged over `base`). Throws {@link LogRecordError} naming
 * `retention.<field>` and the rule.
 */
export function checkRetention(v: unknown, base: RetentionPolicy = DEFAULT_RETENTION): RetentionPolicy {
  if (!isObj(v)) throw new LogRecordError('retention', 'must be an object');
  const out: RetentionPolicy = { ...base };
  if (v.segmentBytes !== undefined) {
    if (!Number.isSafeInteger(v.segmentBytes) || (v.segmentBytes as number) < MIN_SEGMENT_BYTES)
      throw new LogRecordError('retention.segmentBytes', `must be an integer >= ${MIN_SEGMENT_BYTES}`);
    out.segmentBytes = v.segmentBytes as number;
  }
  if (v.maxBytes !== undefined) {
    if (v.maxBytes !== null && (!Number.isSafeInteger(v.maxBytes) || (v.maxBytes as number) < 1))
      throw new LogRecordError('retention.maxBytes', 'must be a positive integer or null');
    out.maxBytes = v.maxBytes as number | null;
  }
  if (v.maxAgeMs !== undefined) {
    if (v.maxAgeMs !== null && (!Number.isSafeInteger(v.maxAgeMs) || (v.maxAgeMs as number) < 1))
      throw new LogRecordError('retention.maxAgeMs', 'must be a positive integer (ms) or null');
    out.maxAgeMs = v.maxAgeMs as number | null;
  }
  if (v.keepHistory !== undefined) {
    if (typeof v.keepHistory !== 'boolean') throw new LogRecordError('retention.keepHistory', 'must be a boolean');
    out.keepHistory = v.keepHistory;
  }
  return out;
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1 << 10, m: 1 << 20, g: 1 << 30 };
const AGE_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `64M`, `512k`, `1048576` → bytes; null if malformed. */
export function parseSize(s: string): number | null {
  const m = /^(\d+)([kmg]?)(i?b)?$/i.exec(s.trim());
  if (!m) return null;
  const n = Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]!;
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

/** `30d`, `12h`, `90m`, `45s` → ms; null if malformed. */
export function parseAge(s: string): number | null {
  const m = /^(\d+)([smhd])$/i.exec(s.trim());
  if (!m) return null;
  const n = Number(m[1]) * AGE_UNITS[m[2]!.toLowerCase()]!;
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}
