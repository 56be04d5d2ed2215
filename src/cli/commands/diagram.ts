/** `tapstate diagram [--format mermaid|json]`: the machine's state chart, from its definition. */
import { renderStateChart } from '../../diagram/index.js';
import { UsageError, type CommandSpec } from '../command.js';

export const command: CommandSpec = {
  name: 'diagram',
  summary: "Print the endpoint machine's state chart (Mermaid stateDiagram-v2 or JSON), offline",
  options: {
    format: { type: 'string', description: 'mermaid (default) or json (--json: json)', placeholder: 'FORMAT', default: 'mermaid', choices: ['mermaid', 'json'] },
  },
  examples: ['tapstate diagram > chart.mmd', 'tapstate diagram --format json'],
  async run(opts, _positionals, io) {
    const format = opts.json ? 'json' : (opts.format ?? 'mermaid');
    if (format !== 'mermaid' && format !== 'json') throw new UsageError(`--format must be mermaid or json, got ${String(format)}`);
    io.out(renderStateChart(format));
    return 0;
  },
};
