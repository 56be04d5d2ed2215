/** `tapstate add`: create an endpoint (upstream createTuntapNetworkEndpoint). */
import { randomBytes } from 'node:crypto';
import { ifNameProblem, macProblem, mtuProblem, normaliseMac, tapNameOf } from '../../../machines/index.js';
import { UsageError, type CommandSpec } from '../command.js';
import { openWriter } from '../open-store.js';
import { quoteArg } from '../quote.js';
import { LOCK_TIMEOUT, STORE, lockTimeout, printJson } from './common.js';
import { endpointJson } from '../output.js';

/** A random locally-administered unicast MAC (crypto random). */
export function randomMac(): string {
  const b = randomBytes(6);
  b[0] = (b[0]! & 0xfc) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

export const command: CommandSpec = {
  name: 'add',
  summary: 'Create an endpoint; prints its id.',
  options: {
    store: STORE,
    idx: { type: 'string', placeholder: 'N', integer: true, required: true, description: 'Endpoint index: the tap is tap<N>_kata, the original link eth<N>.' },
    ifname: { type: 'string', placeholder: 'NAME', description: 'Name of the original link (default eth<N>); used by cold attach.' },
    mac: { type: 'string', placeholder: 'MAC', description: 'Guest MAC, unicast (default: a random locally-administered one).' },
    mtu: { type: 'string', placeholder: 'N', integer: true, description: 'MTU for hot-attach (68..65521, default 1500).' },
    'lock-timeout': LOCK_TIMEOUT,
  },
  examples: ['tapstate add --store /run/tapstate/sb1 --idx 0', 'tapstate add --store /run/tapstate/sb1 --idx 1 --mac 02:00:00:00:00:01 --mtu 9000'],
  async run(opts, _pos, io) {
    const idx = opts.idx as number;
    if (idx < 0) throw new UsageError(`--idx: must be a non-negative integer (got ${idx})`);
    const tapP = ifNameProblem(tapNameOf(idx));
    if (tapP) throw new UsageError(`--idx: ${idx} gives tap name "${tapNameOf(idx)}", which ${tapP}`);
    if (typeof opts.ifname === 'string') {
      const p = ifNameProblem(opts.ifname);
      if (p) throw new UsageError(`--ifname: ${quoteArg(opts.ifname)} ${p}`);
    }
    let mac: string;
    if (typeof opts.mac === 'string') {
      mac = normaliseMac(opts.mac);
      const p = macProblem(mac);
      if (p) throw new UsageError(`--mac: ${quoteArg(opts.mac)} ${p}`);
    } else mac = randomMac();
    if (opts.mtu !== undefined) {
      const p = mtuProblem(opts.mtu as number);
      if (p) throw new UsageError(`--mtu: ${String(opts.mtu)} ${p}`);
    }
    const s = await openWriter(String(opts.store), { io, lockTimeoutMs: lockTimeout(opts) });
    try {
      const v = s.store.createEndpoint({
        idx,
        mac,
        ...(typeof opts.ifname === 'string' ? { ifName: opts.ifname } : {}),
        ...(opts.mtu !== undefined ? { mtu: opts.mtu as number } : {}),
      });
      if (opts.json) printJson(io, { version: 1, endpoint: endpointJson(v) });
      else io.out(`${v.id}\n`);
      return 0;
    } finally {
      await s.close();
    }
  },
};
