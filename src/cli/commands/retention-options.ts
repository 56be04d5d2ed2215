/** The retention flags shared by `tapstate init` and `tapstate retention`. */
import { DEFAULT_RETENTION, MIN_SEGMENT_BYTES, parseAge, parseSize, type RetentionPolicy } from '../../log/index.js';
import { UsageError, type OptionSpec } from '../command.js';

export const RETENTION_OPTIONS: Record<string, OptionSpec> = {
  'retain-bytes': {
    type: 'string',
    placeholder: 'SIZE|none',
    description: `Keep at most this much log (e.g. 64M; default ${DEFAULT_RETENTION.maxBytes! >> 20}M); older settled segments are removed. "none": no size limit.`,
  },
  'retain-age': { type: 'string', placeholder: 'AGE|none', description: 'Remove settled segments whose newest record is older than this (e.g. 30d, 12h; default none).' },
  'keep-history': { type: 'boolean', description: 'Move removed segments to <store>/archive/ instead of deleting them.' },
  'segment-bytes': { type: 'string', placeholder: 'SIZE', description: `Seal the active segment once it holds this much (default ${DEFAULT_RETENTION.segmentBytes >> 20}M).` },
};

/** Did the command line give any retention flag? */
export function hasRetentionFlags(opts: Record<string, unknown>): boolean {
  return Object.keys(RETENTION_OPTIONS).some((k) => opts[k] !== undefined) || opts['no-keep-history'] !== undefined;
}

/** `base` changed by the flags given; a malformed value is a UsageError naming the flag. */
export function policyFromFlags(opts: Record<string, unknown>, base: RetentionPolicy): RetentionPolicy {
  const p = { ...base };
  const rb = opts['retain-bytes'];
  if (typeof rb === 'string') {
    if (rb === 'none') p.maxBytes = null;
    else {
      const n = parseSize(rb);
      if (n === null) throw new UsageError(`--retain-bytes: must be a size like 64M, 512k or a byte count, or "none" (got ${JSON.stringify(rb)})`);
      p.maxBytes = n;
    }
  }
  const ra = opts['retain-age'];
  if (typeof ra === 'string') {
    if (ra === 'none') p.maxAgeMs = null;
    else {
      const n = parseAge(ra);
      if (n === null) throw new UsageError(`--retain-age: must be an age like 30d, 12h, 90m, 45s, or "none" (got ${JSON.stringify(ra)})`);
      p.maxAgeMs = n;
    }
  }
  const sb = opts['segment-bytes'];
  if (typeof sb === 'string') {
    const n = parseSize(sb);
    if (n === null || n < MIN_SEGMENT_BYTES) throw new UsageError(`--segment-bytes: must be a size of at least ${MIN_SEGMENT_BYTES} bytes (got ${JSON.stringify(sb)})`);
    p.segmentBytes = n;
  }
  if (opts['keep-history'] === true) p.keepHistory = true;
  if (opts['no-keep-history'] === true) p.keepHistory = false;
  return p;
}

/** `64M`, `512k` or a byte count; arithmetic, not `>>`: a size of 2 GiB or more overflows 32-bit shifts (4G read "0M"). */
function size(n: number): string {
  const M = 1 << 20;
  return n % M === 0 ? `${n / M}M` : n % 1024 === 0 ? `${n / 1024}k` : `${n}`;
}

function age(ms: number): string {
  for (const [u, f] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) if (ms % f === 0) return `${ms / f}${u}`;
  return `${ms}ms`;
}

/** One line describing a policy. */
export function describePolicy(p: RetentionPolicy): string {
  return (
    `segments of ${size(p.segmentBytes)}; keep ${p.maxBytes === null ? 'any size' : `at most ${size(p.maxBytes)}`}` +
    `${p.maxAgeMs === null ? '' : `, nothing older than ${age(p.maxAgeMs)}`}; removed segments ${p.keepHistory ? 'archived' : 'deleted'}`
  );
}
