/** `tapstate retention`: show or change how much history a store keeps. */
import { DEFAULT_RETENTION, readRetentionFile, writeRetentionFile } from '../../log/index.js';
import type { CommandSpec } from '../command.js';
import { checkStore } from '../open-store.js';
import { StoreLock } from '../store-lock.js';
import { STORE } from './common.js';
import { RETENTION_OPTIONS, describePolicy, hasRetentionFlags, policyFromFlags } from './retention-options.js';

export const command: CommandSpec = {
  name: 'retention',
  summary: 'Show or change how much log history the store keeps (applied at the next checkpoint).',
  options: {
    store: STORE,
    ...RETENTION_OPTIONS,
    'no-keep-history': { type: 'boolean', description: 'Delete removed segments (the default).' },
  },
  examples: ['tapstate retention --store /run/tapstate/sb1', 'tapstate retention --store /run/tapstate/sb1 --retain-bytes 64M --retain-age 30d --keep-history'],
  async run(opts, _pos, io) {
    const dir = checkStore(String(opts.store));
    const current = readRetentionFile(dir) ?? { ...DEFAULT_RETENTION };
    if (!hasRetentionFlags(opts)) {
      if (opts.json) io.out(JSON.stringify({ version: 1, store: dir, retention: current }, null, 2) + '\n');
      else io.out(`store ${dir}: ${describePolicy(current)}\n`);
      return 0;
    }
    const next = policyFromFlags(opts, current);
    const lock = StoreLock.acquire(dir);
    try {
      writeRetentionFile(dir, next);
    } finally {
      lock.release();
    }
    if (opts.json) io.out(JSON.stringify({ version: 1, store: dir, retention: next }, null, 2) + '\n');
    else io.out(`store ${dir}: ${describePolicy(next)}\n`);
    return 0;
  },
};
