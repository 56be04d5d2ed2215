/** `tapstate log`: the store's records, human or JSON Lines, optionally followed. */
import { FileLogStore, type LogRecord } from '../../log/index.js';
import type { CommandSpec, CliIO } from '../command.js';
import { checkStore } from '../../store/open-store.js';
import { formatDuration, formatTime } from '../output.js';
import { STORE } from './common.js';

/** What a record did, in a few words. */
export function describeRecord(r: LogRecord): { kind: string; what: string; state: string; ms: string } {
  switch (r.k) {
    case 'create': {
      const i = r.input as { idx?: number; mac?: string; mtu?: number };
      return { kind: 'create', what: `idx ${i.idx ?? '?'} mac ${i.mac || '-'}${i.mtu ? ` mtu ${i.mtu}` : ''}`, state: r.state.v, ms: '' };
    }
    case 'event': {
      const t = r.event.type;
      let what: string;
      let kind = 'outcome';
      if (t.startsWith('xstate.done.actor.')) what = `done ${t.slice('xstate.done.actor.'.length)}`;
      else if (t.startsWith('xstate.error.actor.')) {
        const err = r.event.error as { name?: string; message?: string } | undefined;
        what = `failed ${t.slice('xstate.error.actor.'.length)}: ${err?.name ?? 'Error'}: ${err?.message ?? ''}`;
      } else {
        kind = 'command';
        what = t;
      }
      if (r.reconciled) what += ' (found by recovery)';
      return { kind, what, state: r.state.v, ms: r.ms !== undefined ? formatDuration(r.ms) : '' };
    }
    case 'intent':
      return { kind: 'intent', what: `${r.id} → ${r.src}${r.attempt > 1 ? ` (attempt ${r.attempt})` : ''}`, state: '', ms: '' };
    case 'note': {
      const d = r.data ?? {};
      const what =
        r.note === 'recovery'
          ? `recovery of ${String(d.effect)}: ${String(d.decision)}${d.ran ? ' (intent logged)' : ''}`
          : `${r.note}${Object.keys(d).length ? ' ' + JSON.stringify(d) : ''}`;
      return { kind: 'note', what, state: '', ms: '' };
    }
    case 'snapshot':
      return { kind: 'snapshot', what: 'settled (endpoint checkpoint)', state: r.state.v, ms: '' };
  }
}

const W = { seq: 6, time: 12, ep: 10, kind: 7, state: 22 };

export function recordLine(r: LogRecord): string {
  const d = describeRecord(r);
  return [
    String(r.seq).padStart(W.seq),
    formatTime(r.ts).padEnd(W.time),
    r.ep.padEnd(W.ep),
    d.kind.padEnd(W.kind),
    (d.state || '').padEnd(W.state),
    d.ms.padStart(8),
    d.what,
  ].join('  ');
}

export function headerLine(): string {
  return ['SEQ'.padStart(W.seq), 'TIME'.padEnd(W.time), 'ENDPOINT'.padEnd(W.ep), 'KIND'.padEnd(W.kind), 'STATE'.padEnd(W.state), 'TOOK'.padStart(8), 'EVENT / EFFECT'].join('  ');
}

/**
 * Stream the retained records from logical offset `from` (0: the oldest) to `print`, in bounded
 * chunks (memory does not grow with the history); returns the offset just after the last one.
 */
function streamFrom(dir: string, from: number, archive: boolean, print: (r: LogRecord) => void): number {
  const log = FileLogStore.open(dir, { readOnly: true });
  try {
    let end = from;
    for (const p of log.history({ from, archive }).records) {
      print(p.record);
      end = p.offset + p.length;
    }
    return Math.max(end, from);
  } finally {
    log.close();
  }
}

export const command: CommandSpec = {
  name: 'log',
  summary: 'Show the log: every command, effect intent, outcome and recovery note, with the resulting state.',
  options: {
    store: STORE,
    json: { type: 'boolean', description: 'Print the records themselves, one JSON object per line (docs/log-format.md).' },
    follow: { type: 'boolean', description: 'Keep printing new records as they are written (poll every 100 ms; stop with Ctrl-C).' },
    endpoint: { type: 'string', placeholder: 'ID', description: 'Only the records of this endpoint.' },
    archive: { type: 'boolean', description: 'Archived segments (--keep-history) too, before the retained ones.' },
  },
  examples: ['tapstate log --store /run/tapstate/sb1', 'tapstate log --store /run/tapstate/sb1 --endpoint ep0 --follow', 'tapstate log --store /run/tapstate/sb1 --json'],
  async run(opts, _pos, io: CliIO) {
    const dir = checkStore(String(opts.store));
    const only = typeof opts.endpoint === 'string' ? opts.endpoint : undefined;
    const print = (r: LogRecord) => {
      if (only !== undefined && r.ep !== only) return;
      io.out((opts.json ? JSON.stringify(r) : recordLine(r)) + '\n');
    };
    if (!opts.json) io.out(headerLine() + '\n');
    let end = streamFrom(dir, 0, opts.archive === true, print);
    if (!opts.follow) return 0;
    let stop = false;
    const onSig = () => {
      stop = true;
    };
    process.once('SIGINT', onSig);
    process.once('SIGTERM', onSig);
    try {
      while (!stop) {
        await new Promise((r) => setTimeout(r, 100));
        if (stop) break;
        end = streamFrom(dir, end, false, print);
      }
    } finally {
      process.off('SIGINT', onSig);
      process.off('SIGTERM', onSig);
    }
    return 0;
  },
};
