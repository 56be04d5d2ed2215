/** `tapstate view --store DIR --out FILE.html`: the offline, self-contained page of a store. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { storeViewPage } from '../../view/index.js';
import { UsageError, type CommandSpec } from '../command.js';

export const command: CommandSpec = {
  name: 'view',
  summary: 'Write one self-contained HTML page (no network) with each endpoint\'s state and log timeline',
  options: {
    store: { type: 'string', description: 'Store directory (opened read-only)', placeholder: 'DIR', required: true },
    out: { type: 'string', description: 'HTML file to write', placeholder: 'FILE.html', required: true },
  },
  examples: ['tapstate view --store /run/tapstate/sandbox1 --out sandbox1.html'],
  async run(opts, _positionals, io) {
    const store = opts.store;
    const out = opts.out;
    if (typeof store !== 'string' || store === '') throw new UsageError('--store DIR is required');
    if (typeof out !== 'string' || out === '') throw new UsageError('--out FILE.html is required');
    const html = storeViewPage(store);
    fs.writeFileSync(out, html, { mode: 0o644 });
    if (opts.json) io.out(JSON.stringify({ version: 1, out: path.resolve(out), bytes: Buffer.byteLength(html) }, null, 2) + '\n');
    else io.out(`wrote ${out} (${Buffer.byteLength(html)} bytes)\n`);
    return 0;
  },
};
