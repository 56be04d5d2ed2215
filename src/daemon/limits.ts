/**
 * The daemon's numeric limits: their defaults, their check at entry ({@link checkLimits}: a
 * {@link DaemonOptionError} naming the option, its `tapstate serve` flag and the rule, before
 * anything is created), and the event-stream slots ({@link StreamSlots}).
 */
import { DaemonOptionError, TooManyEventStreamsError } from './errors.js';

export const LIMIT_DEFAULTS = {
  maxBodyBytes: 1 << 20,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  idleTimeoutMs: 5_000,
  eventsBehindBytes: 8 << 20,
  /** Each is a file descriptor: with ~3 per open store, well under a service's usual 1024 (`LimitNOFILE`). */
  maxConnections: 256,
  /** Each may buffer up to `eventsBehindBytes` for a reader that does not read: 64 × 8 MiB = 512 MiB at worst. */
  maxEventStreams: 64,
} as const;

export type Limits = { -readonly [K in keyof typeof LIMIT_DEFAULTS]: number };

const FLAG: Record<keyof Limits, string> = {
  maxBodyBytes: '--max-body',
  headersTimeoutMs: '--headers-timeout-ms',
  requestTimeoutMs: '--request-timeout-ms',
  idleTimeoutMs: '--idle-timeout-ms',
  eventsBehindBytes: '--events-behind-bytes',
  maxConnections: '--max-connections',
  maxEventStreams: '--max-event-streams',
};

/** The limits `given` sets, the defaults for the others; each must be a positive safe integer. */
export function checkLimits(given: Partial<Record<keyof Limits, unknown>>): Limits {
  const out = { ...LIMIT_DEFAULTS } as Limits;
  for (const k of Object.keys(LIMIT_DEFAULTS) as (keyof Limits)[]) {
    const v = given[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1)
      throw new DaemonOptionError(k, FLAG[k], 'positive-integer', `must be a positive integer (got ${typeof v === 'number' ? String(v) : JSON.stringify(v) ?? typeof v})`);
    out[k] = v;
  }
  return out;
}

/** At most `max` event streams open at once, across every sandbox. */
export class StreamSlots {
  private open = 0;
  constructor(readonly max: number) {}

  /** Take a slot (else {@link TooManyEventStreamsError}); the returned function gives it back (once). */
  take(): () => void {
    if (this.open >= this.max) throw new TooManyEventStreamsError(this.max);
    this.open++;
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.open--;
    };
  }

  get inUse(): number {
    return this.open;
  }
}
