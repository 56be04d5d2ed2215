/** `tapstate save`: the persist.json `Network` object (upstream save()). */
import { UsageError, type CommandSpec } from '../command.js';
import { openReader } from '../open-store.js';
import { STORE } from './common.js';

export const command: CommandSpec = {
  name: 'save',
  summary: 'Print the persist.json "Network" object of the endpoints that are not detached (JSON, with or without --json).',
  options: {
    store: STORE,
    shape: { type: 'string', placeholder: 'v1|v2', choices: ['v1', 'v2'], description: 'v1 (NetNsPath…) or v2 (Kata 2.x NetworkID…). Default: the loaded document\'s shape, else v1.' },
  },
  examples: ['tapstate save --store /run/tapstate/sb1 > network.json'],
  async run(opts, _pos, io) {
    const shape = opts.shape === undefined ? undefined : String(opts.shape);
    if (shape !== undefined && shape !== 'v1' && shape !== 'v2') throw new UsageError(`--shape: must be v1 or v2 (got ${JSON.stringify(shape)})`);
    const s = await openReader(String(opts.store));
    try {
      const doubt = s.store.list().filter((v) => v.status === 'in-doubt');
      if (doubt.length) io.err(`tapstate: note: ${doubt.length} endpoint(s) in doubt are saved as they are (tapstate recover settles them)\n`);
      io.out(JSON.stringify(s.store.save(shape), null, 2) + '\n');
      return 0;
    } finally {
      await s.close();
    }
  },
};
