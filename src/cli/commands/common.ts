/** Option specs and helpers shared by the subcommands. */
import type { OptionSpec } from '../command.js';
import { formatDuration } from '../output.js';
import type { EndpointView } from '../../runtime/endpoint-view.js';

export const STORE: OptionSpec = { type: 'string', placeholder: 'DIR', required: true, description: 'The store directory (one per sandbox).' };
export const ENDPOINT: OptionSpec = { type: 'string', placeholder: 'ID', required: true, description: 'The endpoint id (as printed by tapstate add).' };
export const JSON_OUT: OptionSpec = { type: 'boolean', description: 'Machine-readable JSON output (see docs/cli.md for the schema).' };

/** One line describing where an operation left the endpoint. */
export function outcomeLine(v: EndpointView, ms: number): string {
  const bits = [`${v.id}: ${v.state}`, `tap ${v.tapName}`];
  if (v.pciPath) bits.push(`pci ${v.pciPath}`);
  bits.push(`in ${formatDuration(ms)}`);
  return bits.join(', ');
}
