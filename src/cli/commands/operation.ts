/** The four endpoint operations share one shape: open as writer, run, print the outcome. */
import type { CommandSpec } from '../command.js';
import { openWriter } from '../open-store.js';
import { endpointJson, shellQuote } from '../output.js';
import type { EndpointView } from '../../runtime/endpoint-view.js';
import type { Tapstore } from '../../runtime/tapstore.js';
import { ENDPOINT, LOCK_TIMEOUT, STORE, lockTimeout, outcomeLine, printJson } from './common.js';

type Op = (store: Tapstore, id: string) => Promise<EndpointView>;

/** Build an operation subcommand. `printArgs`: print the cold-plug QEMU arguments on stdout. */
export function operationCommand(name: string, summary: string, op: Op, opts: { printArgs?: boolean; examples?: string[] } = {}): CommandSpec {
  return {
    name,
    summary,
    options: { store: STORE, endpoint: ENDPOINT, 'lock-timeout': LOCK_TIMEOUT },
    examples: opts.examples ?? [`tapstate ${name} --store /run/tapstate/sb1 --endpoint ep0`],
    async run(o, _pos, io) {
      const s = await openWriter(String(o.store), { io, lockTimeoutMs: lockTimeout(o) });
      try {
        const t0 = performance.now();
        const v = await op(s.store, String(o.endpoint));
        const ms = performance.now() - t0;
        if (o.json) {
          printJson(io, { version: 1, endpoint: endpointJson(v), ms: Number(ms.toFixed(3)), ...(opts.printArgs ? { qemuArgs: v.coldplugArgs } : {}) });
        } else if (opts.printArgs) {
          io.out(v.coldplugArgs.map(shellQuote).join(' ') + '\n');
          io.err(outcomeLine(v, ms) + '\n');
        } else io.out(outcomeLine(v, ms) + (v.warnings.length ? ` (warnings: ${v.warnings.join('; ')})` : '') + '\n');
        return 0;
      } finally {
        await s.close();
      }
    },
  };
}
