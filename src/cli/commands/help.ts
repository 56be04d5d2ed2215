/** `tapstate help [COMMAND]`. */
import { helpJson, renderCommandList, renderHelp } from '../args.js';
import { UsageError, type CommandSpec } from '../command.js';

/** The help command needs the full list: built by the index to avoid an import cycle. */
export function helpCommand(all: () => readonly CommandSpec[]): CommandSpec {
  return {
    name: 'help',
    summary: 'Show the commands, or the help of one command.',
    positionals: [{ name: 'COMMAND', description: 'A command name.', required: false }],
    options: {},
    examples: ['tapstate help', 'tapstate help hot-attach'],
    async run(opts, pos, io) {
      const name = pos[0];
      if (opts.json) {
        const specs = name === undefined ? all() : all().filter((x) => x.name === name);
        if (!specs.length) throw new UsageError(`unknown command ${JSON.stringify(name)}`);
        io.out(JSON.stringify({ version: 1, commands: specs.map(helpJson) }, null, 2) + '\n');
        return 0;
      }
      if (name === undefined) {
        io.out(renderCommandList(all()));
        return 0;
      }
      const c = all().find((x) => x.name === name);
      if (!c) throw new UsageError(`unknown command ${JSON.stringify(name)}`);
      io.out(renderHelp(c));
      return 0;
    },
  };
}
