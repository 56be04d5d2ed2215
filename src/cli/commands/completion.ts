/** `tapstate completion bash|zsh`: the shell completion script, generated from the command specs (stdout only). */
import type { CommandSpec } from '../command.js';
import { completionScript, SHELLS, type Shell } from '../completion.js';

/** Built by the index with the full command list (like `help`). */
export function completionCommand(all: () => readonly CommandSpec[]): CommandSpec {
  return {
    name: 'completion',
    summary: 'Print the bash or zsh completion script (generated from the command specs).',
    positionals: [{ name: 'SHELL', description: 'bash or zsh.', required: true, choices: SHELLS }],
    options: {},
    examples: ['source <(tapstate completion bash)', 'tapstate completion zsh > "${fpath[1]}/_tapstate"'],
    async run(opts, pos, io) {
      const shell = pos[0] as Shell;
      const script = completionScript(shell, all());
      io.out(opts.json ? JSON.stringify({ version: 1, shell, script }, null, 2) + '\n' : script);
      return 0;
    },
  };
}
