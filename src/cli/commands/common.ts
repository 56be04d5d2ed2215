/** Option specs and helpers shared by the subcommands. */
import { UsageError, type CliIO, type OptionSpec } from '../command.js';
import { formatDuration } from '../output.js';
import type { EndpointView } from '../../runtime/endpoint-view.js';

export const STORE: OptionSpec = { type: 'string', placeholder: 'DIR', required: true, description: 'The store directory (one per sandbox).' };
export const ENDPOINT: OptionSpec = { type: 'string', placeholder: 'ID', required: true, description: 'The endpoint id (as printed by tapstate add).' };
export const JSON_OUT: OptionSpec = { type: 'boolean', description: 'Machine-readable JSON output (see docs/cli.md for the schema).' };
export const LOCK_TIMEOUT: OptionSpec = {
  type: 'string',
  placeholder: 'MS',
  integer: true,
  default: '0',
  description: 'Wait up to MS milliseconds for another writer to release the store (exit 75 if it does not).',
};

/** The longest `--lock-timeout` (1 hour). */
const MAX_LOCK_TIMEOUT_MS = 3_600_000;

/** `--lock-timeout`, checked. */
export function lockTimeout(opts: Record<string, unknown>): number {
  const v = opts['lock-timeout'];
  const ms = typeof v === 'number' ? v : 0;
  if (ms < 0 || ms > MAX_LOCK_TIMEOUT_MS) throw new UsageError(`--lock-timeout: must be between 0 and ${MAX_LOCK_TIMEOUT_MS} ms (got ${ms})`);
  return ms;
}

/** Print `doc` as the command's one JSON document. */
export function printJson(io: CliIO, doc: unknown): void {
  io.out(JSON.stringify(doc, null, 2) + '\n');
}

/** One line describing where an operation left the endpoint. */
export function outcomeLine(v: EndpointView, ms: number): string {
  const bits = [`${v.id}: ${v.state}`, `tap ${v.tapName}`];
  if (v.pciPath) bits.push(`pci ${v.pciPath}`);
  bits.push(`in ${formatDuration(ms)}`);
  return bits.join(', ');
}
