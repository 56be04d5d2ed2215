/** `tapstate view --store DIR --out FILE.html`: the offline, self-contained page of a store. */
import * as path from 'node:path';
import { parseFileMode, writeFileSafely, DEFAULT_FILE_MODE } from '../../fs/safe-write.js';
import { DEFAULT_VIEW_RECORDS, storeViewPage } from '../../view/index.js';
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
    last: { type: 'string', integer: true, placeholder: 'N', description: `Timelines of the newest N records (default ${DEFAULT_VIEW_RECORDS}; memory bounded whatever the history). Not with --all.` },
    all: { type: 'boolean', description: 'Timelines of every retained record (memory grows with the history).' },
    archive: { type: 'boolean', description: 'With --all: archived segments (--keep-history) too.' },
    mode: { type: 'string', description: `Permission bits of the page (octal; default ${DEFAULT_FILE_MODE.toString(8).padStart(4, '0')}: it shows MACs and netns paths)`, placeholder: 'MODE' },
  },
  examples: ['tapstate view --store /run/tapstate/sandbox1 --out sandbox1.html', 'tapstate view --store DIR --out /srv/www/sb1.html --mode 0644', 'tapstate view --store /run/tapstate/sandbox1 --out all.html --all'],
  async run(opts, _positionals, io) {
    const store = opts.store;
    const out = opts.out;
    if (typeof store !== 'string' || store === '') throw new UsageError('--store DIR is required');
    if (typeof out !== 'string' || out === '') throw new UsageError('--out FILE.html is required');
    // each was silently ignored: --archive without --all (the newest N records are never archived ones), --last with --all
    if (opts.archive === true && opts.all !== true) throw new UsageError('--archive: only with --all (archived segments hold the oldest records, never the newest N)');
    if (opts.all === true && opts.last !== undefined) throw new UsageError('--last and --all exclude each other (--all shows every retained record)');
    const mode = typeof opts.mode === 'string' ? parseFileMode(opts.mode) : DEFAULT_FILE_MODE;
    const last = opts.last === undefined ? DEFAULT_VIEW_RECORDS : Number(opts.last);
    if (!Number.isSafeInteger(last) || last < 1) throw new UsageError(`--last: must be a positive integer (got ${String(opts.last)})`);
    const html = await storeViewPage(store, new Date(), { last, all: opts.all === true, archive: opts.archive === true });
    writeFileSafely(out, html, { mode, field: '--out' });
    const modeText = mode.toString(8).padStart(4, '0');
    if (opts.json) io.out(JSON.stringify({ version: 1, out: path.resolve(out), bytes: Buffer.byteLength(html), mode: modeText }, null, 2) + '\n');
    else io.out(`wrote ${out} (${Buffer.byteLength(html)} bytes, mode ${modeText})\n`);
    return 0;
  },
};
