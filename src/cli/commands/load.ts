/** `tapstate load FILE`: import an upstream persist.json Network section (upstream load()). */
import * as fs from 'node:fs';
import { FileLogStore } from '../../log/index.js';
import { dotDotProblem, normalPath } from '../../runtime/sandbox-path.js';
import { parsePersistNetwork } from '../../persist/persist-json.js';
import { NetnsMismatchError } from '../../runtime/errors.js';
import type { CommandSpec } from '../command.js';
import { checkSandboxNetns } from '../netns-check.js';
import { adapterKind, checkStore, openWriter, sandboxOf } from '../open-store.js';
import { capEcho } from '../quote.js';
import { StoreLock } from '../store-lock.js';
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
    super(`${capEcho(file)}: ${reason}`);
  }
}

/** Largest document `load` reads (a persist.json is a few KiB). */
export const MAX_LOAD_BYTES = 16 * 1024 * 1024;

/** Read FILE: a Network section, or a whole persist.json with a `Network` key. */
export function readNetworkDoc(file: string): unknown {
  let text: string;
  try {
    // read with a cap rather than trusting a size: FILE may be a pipe (/dev/stdin) or /dev/zero
    const fd = fs.openSync(file, fs.constants.O_RDONLY);
    try {
      const chunks: Buffer[] = [];
      let total = 0;
      for (;;) {
        const buf = Buffer.allocUnsafe(64 * 1024);
        const n = fs.readSync(fd, buf, 0, buf.length, null);
        if (n === 0) break;
        total += n;
        if (total > MAX_LOAD_BYTES) throw new LoadFileError(file, `more than the ${MAX_LOAD_BYTES} bytes a persist.json may have`);
        chunks.push(buf.subarray(0, n));
      }
      text = Buffer.concat(chunks).toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    if (e instanceof LoadFileError) throw e;
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

/**
 * `--netns-from-document`: make the document's netns the store's, on a store that has no record
 * yet. The netns is checked like `init --netns` checks it; `""` (the caller's own) is refused:
 * the host namespace is never taken from a document.
 */
async function adoptDocumentNetns(dir: string, doc: unknown, env: NodeJS.ProcessEnv, lockTimeoutMs: number): Promise<void> {
  const net = parsePersistNetwork(doc);
  const field = net.shape === 'v1' ? 'NetNsPath' : 'NetworkID';
  const lock = StoreLock.acquire(dir, lockTimeoutMs);
  try {
    const log = FileLogStore.open(dir, { readOnly: true });
    const sandbox = sandboxOf(log.header.meta);
    const meta = log.header.meta;
    log.close();
    if (normalPath(net.netnsPath) === sandbox.netnsPath) return;
    if (net.netnsPath === '')
      throw new NetnsMismatchError(field, '', sandbox.netnsPath, 'an empty NetNsPath would be the host namespace: never taken from a document (init --host-netns)');
    if (!net.netnsPath.startsWith('/')) throw new NetnsMismatchError(field, net.netnsPath, sandbox.netnsPath, 'not an absolute path');
    const dots = dotDotProblem(net.netnsPath);
    if (dots) throw new NetnsMismatchError(field, net.netnsPath, sandbox.netnsPath, dots);
    const netnsPath = normalPath(net.netnsPath);
    await checkSandboxNetns(netnsPath, { field, kernel: adapterKind(env) === 'real' });
    const { hostNetns: _host, ...rest } = sandbox;
    FileLogStore.replaceFreshMeta(dir, { ...meta, sandbox: { ...rest, netnsPath, netnsCreated: net.netnsCreated } });
  } finally {
    lock.release();
  }
}

export const command: CommandSpec = {
  name: 'load',
  summary:
    'Import an upstream persist.json Network section: a tuntap endpoint whose tap exists is adopted as hot-attached (its NIC taken over), one never attached stays created; other endpoint types are kept verbatim for save.',
  positionals: [{ name: 'FILE', description: 'persist.json, or its "Network" object alone.', required: true }],
  options: {
    store: STORE,
    'lock-timeout': LOCK_TIMEOUT,
    'netns-from-document': {
      type: 'boolean',
      description: "On a fresh store (no record yet): take the document's NetNsPath as the store's netns (checked like init --netns). Without it a document naming another netns is refused.",
    },
  },
  examples: ['tapstate load --store /run/tapstate/sb1 /run/vc/sbs/sb1/persist.json', 'tapstate load --store /run/tapstate/new --netns-from-document persist.json'],
  async run(opts, pos, io) {
    const doc = readNetworkDoc(pos[0]!);
    if (opts['netns-from-document'] === true) await adoptDocumentNetns(checkStore(String(opts.store)), doc, io.env, lockTimeout(opts));
    const s = await openWriter(String(opts.store), { io, lockTimeoutMs: lockTimeout(opts) });
    try {
      const r = await s.store.load(doc);
      if (opts.json) {
        printJson(io, { version: 1, endpoints: r.endpoints.map(endpointJson), skipped: r.skipped.map((k) => ({ index: k.index, type: k.type })) });
        return 0;
      }
      for (const v of r.endpoints) io.out(`${v.id}: ${v.state}, tap ${v.tapName}, mac ${v.mac}\n`);
      for (const k of r.skipped) io.err(`tapstate: kept Endpoints[${k.index}] of type ${capEcho(k.type, 40)} verbatim (not a tuntap endpoint: not managed, written back by save)\n`);
      if (!r.endpoints.length) io.out('no tuntap endpoints in the document\n');
      return 0;
    } finally {
      await s.close();
    }
  },
};
