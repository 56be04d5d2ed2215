/** `tapstate scan`: upstream's endpoint discovery over the store's netns. */
import type { CommandSpec } from '../command.js';
import { openWriter } from '../open-store.js';
import { scanNetns, type ScanEntry } from '../../scan/scan.js';
import { LOCK_TIMEOUT, STORE, lockTimeout } from './common.js';

function line(e: ScanEntry, dryRun: boolean): string {
  const what = `${e.name} (${e.kind || 'no kind'})`;
  switch (e.action) {
    case 'add':
      return `${what}: ${dryRun ? 'would add' : 'added'} ${e.id} (idx ${e.idx}, mac ${e.mac || '-'}, mtu ${e.mtu})`;
    case 'known':
      return `${what}: already ${e.id}`;
    case 'own-tap':
      return `${what}: the tap of ${e.id}`;
    case 'refused':
      return `${what}: refused: ${e.message}`;
    case 'other':
      return `${what}: not a tuntap endpoint, left alone`;
    case 'loopback':
      return `${what}: loopback, skipped`;
  }
}

export const command: CommandSpec = {
  name: 'scan',
  summary: "List the links of the store's netns as upstream's network scan does; add a TuntapEndpoint for each new TAP-mode tuntap link.",
  options: {
    store: STORE,
    'dry-run': { type: 'boolean', description: 'Only print what a scan would do.' },
    json: { type: 'boolean', description: 'The report as JSON.' },
    'lock-timeout': LOCK_TIMEOUT,
  },
  examples: ['tapstate scan --store /run/tapstate/sb1 --dry-run', 'tapstate scan --store /run/tapstate/sb1'],
  async run(opts, _pos, io) {
    const dryRun = opts['dry-run'] === true;
    const s = await openWriter(String(opts.store), { io, lockTimeoutMs: lockTimeout(opts) });
    try {
      const r = await scanNetns(s.store, s.adapters!.netlink, { dryRun });
      if (opts.json === true) io.out(JSON.stringify({ version: 1, netns: r.netns, dryRun, entries: r.entries }, null, 2) + '\n');
      else for (const e of r.entries) io.out(line(e, dryRun) + '\n');
      return 0;
    } finally {
      await s.close();
    }
  },
};
