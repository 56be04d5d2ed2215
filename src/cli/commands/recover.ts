/** `tapstate recover`: replay, reconcile against the world, finish or undo interrupted effects. */
import type { CommandSpec } from '../command.js';
import { openWriter } from '../open-store.js';
import { recoveryText } from '../output.js';
import { JSON_OUT, LOCK_TIMEOUT, STORE, lockTimeout } from './common.js';
import { TapstateError } from '../../../machines/tapstate-error.js';

/** Recovery could not settle every endpoint. */
export class RecoveryIncompleteError extends TapstateError {
  override readonly name = 'RecoveryIncompleteError';
  readonly code = 'RECOVERY_INCOMPLETE';
  constructor(
    readonly endpoints: string[],
    /** The recovery report (`recover --json` prints it inside the error object). */
    readonly report?: unknown,
  ) {
    super(`recovery failed for ${endpoints.join(', ')}: fix the cause and run tapstate recover again`);
  }
}

export const command: CommandSpec = {
  name: 'recover',
  summary: 'Replay the log, probe the kernel and QEMU, roll back interrupted attaches and finish interrupted detaches.',
  options: { store: STORE, json: JSON_OUT, 'lock-timeout': LOCK_TIMEOUT },
  examples: ['tapstate recover --store /run/tapstate/sb1', 'tapstate recover --store /run/tapstate/sb1 --json'],
  async run(opts, _pos, io) {
    const t0 = performance.now();
    const progress = io.isTTY
      ? (done: number, total: number) => {
          io.err(`\rrecovering ${done}/${total}${done === total ? '\n' : ''}`);
        }
      : undefined;
    const s = await openWriter(String(opts.store), { io, onRecoveryProgress: progress, announceRecovery: false, lockTimeoutMs: lockTimeout(opts) });
    try {
      const r = s.store.recovery;
      const views = s.store.list();
      const inDoubt = views.filter((v) => v.status === 'in-doubt').map((v) => v.id);
      const report = { ...r, ms: Number((performance.now() - t0).toFixed(3)), inDoubt };
      const failed = r.endpoints.filter((e) => e.action === 'failed').map((e) => e.id);
      const incomplete = failed.length > 0 || inDoubt.length > 0;
      // --json: one document, the report, or the error object holding it
      if (opts.json && !incomplete) io.out(JSON.stringify(report, null, 2) + '\n');
      if (!opts.json) io.out(recoveryText(r));
      if (incomplete) throw new RecoveryIncompleteError([...new Set([...failed, ...inDoubt])], opts.json ? report : undefined);
      return 0;
    } finally {
      await s.close();
    }
  },
};
