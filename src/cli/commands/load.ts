/** `tapstate load FILE`: import an upstream persist.json Network section (upstream load()). */
import * as fs from 'node:fs';
import type { CommandSpec } from '../command.js';
import { openWriter } from '../open-store.js';
import { LOCK_TIMEOUT, STORE, lockTimeout, printJson } from './common.js';
import { endpointJson } from '../output.js';
import { TapstateError } from '../../../machines/tapstate-error.js';

/** The file to load could not be read or is not JSON. */
export class LoadFileError extends TapstateError {
  override readonly name = 'LoadFileError';
  readonly code = 'LOAD_FILE';
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`${file}: ${reason}`);
  }
}

/** Read FILE: a Network section, or a whole persist.json with a `Network` key. */
export function readNetworkDoc(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new LoadFileError(file, `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new LoadFileError(file, `not JSON (${(e as Error).message})`);
  }
  if (doc && typeof doc === 'object' && !Array.isArray(doc) && 'Network' in doc) return (doc as { Network: unknown }).Network;
  return doc;
}

export const command: CommandSpec = {
  name: 'load',
  summary:
    'Import an upstream persist.json Network section: a tuntap endpoint whose tap exists is adopted as hot-attached (its NIC taken over), one never attached stays created; other endpoint types are kept verbatim for save.',
  positionals: [{ name: 'FILE', description: 'persist.json, or its "Network" object alone.', required: true }],
  options: { store: STORE, 'lock-timeout': LOCK_TIMEOUT },
  examples: ['tapstate load --store /run/tapstate/sb1 /run/vc/sbs/sb1/persist.json'],
  async run(opts, pos, io) {
    const doc = readNetworkDoc(pos[0]!);
    const s = await openWriter(String(opts.store), { io, lockTimeoutMs: lockTimeout(opts) });
    try {
      const r = await s.store.load(doc);
      if (opts.json) {
        printJson(io, { version: 1, endpoints: r.endpoints.map(endpointJson), skipped: r.skipped.map((k) => ({ index: k.index, type: k.type })) });
        return 0;
      }
      for (const v of r.endpoints) io.out(`${v.id}: ${v.state}, tap ${v.tapName}, mac ${v.mac}\n`);
      for (const k of r.skipped) io.err(`tapstate: kept Endpoints[${k.index}] of type ${k.type} verbatim (not a tuntap endpoint: not managed, written back by save)\n`);
      if (!r.endpoints.length) io.out('no tuntap endpoints in the document\n');
      return 0;
    } finally {
      await s.close();
    }
  },
};
