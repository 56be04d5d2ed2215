/** `tapstate view --store DIR --out FILE.html`: the offline, self-contained page of a store. */
import * as path from 'node:path';
import { parseFileMode, writeFileSafely, DEFAULT_FILE_MODE } from '../../fs/safe-write.js';
import { storeViewPage } from '../../view/index.js';
import { UsageError, type CommandSpec } from '../command.js';

export const command: CommandSpec = {
  name: 'view',
  summary: 'Write one self-contained HTML page (no network) with each endpoint\'s state and log timeline',
  options: {
    store: { type: 'string', description: 'Store directory (opened read-only)', placeholder: 'DIR', required: true },
    out: {
      type: 'string',
      description: 'HTML file to write: a new file renamed into place; a symbolic link there is refused',
      placeholder: 'FILE.html',
      required: true,
    },
    mode: { type: 'string', description: `Permission bits of the page (octal; default ${DEFAULT_FILE_MODE.toString(8).padStart(4, '0')}: it shows MACs and netns paths)`, placeholder: 'MODE' },
  },
  examples: ['tapstate view --store /run/tapstate/sandbox1 --out sandbox1.html', 'tapstate view --store DIR --out /srv/www/sb1.html --mode 0644'],
  async run(opts, _positionals, io) {
    const store = opts.store;
    const out = opts.out;
    if (typeof store !== 'string' || store === '') throw new UsageError('--store DIR is required');
    if (typeof out !== 'string' || out === '') throw new UsageError('--out FILE.html is required');
    const mode = typeof opts.mode === 'string' ? parseFileMode(opts.mode) : DEFAULT_FILE_MODE;
    const html = storeViewPage(store);
    writeFileSafely(out, html, { mode, field: '--out' });
    const modeText = mode.toString(8).padStart(4, '0');
    if (opts.json) io.out(JSON.stringify({ version: 1, out: path.resolve(out), bytes: Buffer.byteLength(html), mode: modeText }, null, 2) + '\n');
    else io.out(`wrote ${out} (${Buffer.byteLength(html)} bytes, mode ${modeText})\n`);
    return 0;
  },
};
