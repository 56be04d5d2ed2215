/**
 * Segments of the log (pure): their names, and which sealed segments compaction may remove.
 *
 * A sealed segment may be removed only if (1) the durable checkpoint covers every record of it,
 * (2) every endpoint with a record in it is retired (not in the checkpoint) or settled there,
 * and (3) the retention policy says the store holds too much or it is too old. Removal goes
 * oldest first and stops at the first segment that must stay, so the retained history is always
 * one contiguous run of records.
 */
import type { Checkpoint, CheckpointEndpoint } from './records.js';
import type { RetentionPolicy } from './retention.js';

/** Sub-directories of a store. */
export const SEGMENTS_DIR = 'segments';
export const ARCHIVE_DIR = 'archive';

const NAME = /^(\d{16})\.jsonl$/;

/** The file name of a sealed segment whose first record has seq `firstSeq` (sorts by seq). */
export function segmentName(firstSeq: number): string {
  return `${String(firstSeq).padStart(16, '0')}.jsonl`;
}

/** First seq of a segment file name, or null if the name is not one of ours. */
export function segmentFirstSeq(name: string): number | null {
  const m = NAME.exec(name);
  return m ? Number(m[1]) : null;
}

/** What compaction needs to know about a sealed segment. */
export interface SealedInfo {
  name: string;
  bytes: number;
  /** seq of its last record. */
  lastSeq: number;
  /** ts of its last record (wall-clock ms). */
  lastTs: number;
  /** Endpoints with a record in it. */
  endpoints: ReadonlySet<string>;
}

/** Is an endpoint, as the checkpoint has it, settled (no effect pending)? */
export type SettledTest = (e: CheckpointEndpoint) => boolean;

export const pendingIsNull: SettledTest = (e) => e.pending === null;

/** Why a segment must stay (null: it may go). */
export function mustStay(seg: SealedInfo, cp: Checkpoint, settled: SettledTest): string | null {
  if (seg.lastSeq > cp.seq) return `not covered by the checkpoint (seq ${cp.seq} < ${seg.lastSeq})`;
  for (const ep of seg.endpoints) {
    const e = cp.endpoints[ep];
    if (e && !settled(e)) return `endpoint ${ep} is not settled`;
  }
  return null;
}

/** Does the policy want the oldest remaining segment gone, given the bytes the store holds now? */
export function overRetention(seg: SealedInfo, totalBytes: number, policy: RetentionPolicy, now: number): boolean {
  if (policy.maxBytes !== null && totalBytes > policy.maxBytes) return true;
  return policy.maxAgeMs !== null && now - seg.lastTs > policy.maxAgeMs;
}
