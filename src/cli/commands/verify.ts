/**
 * `tapstate verify`: check a whole store, read-only — every record's CRC and sequence number, the
 * checkpoint's CRC and position, a full replay of every record through the machine with each
 * recorded state stamp checked (no checkpoint, no snapshot record trusted), and that the
 * checkpoint-based fast open ends in exactly the same endpoints. Exits 1 on any damage,
 * including a torn tail (which the next writer would cut). Changes nothing, takes no lock.
 * With `--json`: `{"version":1, "store", "records", "checkpoint", "endpoints"}` on success; damage is
 * the `StoreDamagedError` JSON error (its `problems` list every finding).
 */
import { TapstateError } from '../../../machines/tapstate-error.js';
import { FileLogStore } from '../../log/index.js';
import type { EndpointView } from '../../runtime/tapstore.js';
import { openStore } from '../../store/open-store.js';
import type { CommandSpec } from '../command.js';
import { checkStore } from '../open-store.js';
import { STORE, printJson } from './common.js';

/** verify found damage; `problems` says what. */
export class StoreDamagedError extends TapstateError {
  override readonly name = 'StoreDamagedError';
  readonly code = 'STORE_DAMAGED';
  constructor(
    readonly store: string,
    readonly problems: string[],
  ) {
    super(`${store}: ${problems.length} problem(s) found: ${problems[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more, listed above)` : ''}`);
  }
}

const describe = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

async function openWith(dir: string, verify: boolean): Promise<EndpointView[]> {
  const store = await openStore(dir, { lock: false, verify });
  try {
    return store.list();
  } finally {
    await store.close();
  }
}

export const command: CommandSpec = {
  name: 'verify',
  summary: 'Check the whole store read-only: every record CRC, the checkpoint, a full replay with state stamps. Exit 1 on any damage.',
  options: { store: STORE },
  // --json: a global option (runCli)
  examples: ['tapstate verify --store /run/tapstate/sb1'],
  async run(opts, _pos, io) {
    const dir = checkStore(String(opts.store));
    const json = opts.json === true;
    const say = (t: string) => void (json ? undefined : io.out(t));
    const problems: string[] = [];
    let records = 0;
    let checkpoint: { seq: number; offset: number; endpoints: number } | null = null;
    const log = FileLogStore.open(dir, { readOnly: true });
    try {
      try {
        const r = log.read();
        records = r.records.length;
        if (r.torn) problems.push(`torn last record: ${r.torn.bytes} bytes at byte ${r.torn.offset} (the next writer or tapstate recover cuts it)`);
      } catch (e) {
        problems.push(`records: ${describe(e)}`);
      }
      try {
        const cp = log.readCheckpoint();
        if (cp) checkpoint = { seq: cp.seq, offset: cp.offset, endpoints: Object.keys(cp.endpoints).length };
        say(cp ? `checkpoint: ok (seq ${cp.seq}, byte ${cp.offset}, ${Object.keys(cp.endpoints).length} endpoint(s))\n` : 'checkpoint: none\n');
      } catch (e) {
        problems.push(`checkpoint: ${describe(e)}`);
      }
    } finally {
      log.close();
    }
    if (problems.length === 0) say(`records: ok (${records}, every CRC and sequence number)\n`);
    let full: EndpointView[] | null = null;
    try {
      full = await openWith(dir, true);
      say(`replay: ok (every record through the machine, every state stamp checked; ${full.length} endpoint(s))\n`);
    } catch (e) {
      problems.push(`full replay: ${describe(e)}`);
    }
    if (full) {
      try {
        const fast = await openWith(dir, false);
        const key = (v: EndpointView) => JSON.stringify({ ...v, lastSeq: 0 });
        const a = new Map(full.map((v) => [v.id, key(v)]));
        const b = new Map(fast.map((v) => [v.id, key(v)]));
        const ids = new Set([...a.keys(), ...b.keys()]);
        const differ = [...ids].filter((id) => a.get(id) !== b.get(id));
        if (differ.length) problems.push(`the checkpoint/snapshot records disagree with the full replay for ${differ.join(', ')}`);
        else say('checkpoint open: ok (same endpoints as the full replay)\n');
      } catch (e) {
        problems.push(`checkpoint open: ${describe(e)}`);
      }
    }
    if (problems.length) {
      for (const p of problems) say(`PROBLEM: ${p}\n`);
      throw new StoreDamagedError(dir, problems);
    }
    if (json) printJson(io, { version: 1, store: dir, records, checkpoint, endpoints: full?.length ?? 0 });
    else io.out(`${dir}: no damage found\n`);
    return 0;
  },
};
