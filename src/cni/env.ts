/** The CNI_* environment of one plugin invocation, validated per command (spec 1.0.0 §"Parameters"). */
import { ifNameProblem } from '../../machines/index.js';
import { CniEnvError } from './errors.js';
import { dotDotProblem, normalPath } from '../runtime/sandbox-path.js';

export const COMMANDS = ['ADD', 'DEL', 'CHECK', 'VERSION', 'GC', 'STATUS'] as const;
export type CniCommand = (typeof COMMANDS)[number];

export interface CniEnv {
  command: CniCommand;
  /** CNI_CONTAINERID ('' for VERSION/GC/STATUS). */
  containerId: string;
  /** CNI_NETNS ('' when absent: allowed for DEL). */
  netns: string;
  /** CNI_IFNAME. */
  ifName: string;
  /** CNI_ARGS, parsed (`K=V;K=V`). */
  args: Record<string, string>;
  /** CNI_PATH, split. */
  path: string[];
}

/** The spec's container id rule (1.1: alphanumerics, then also `_`, `.`, `-`); it also keeps ids path-safe. */
const CONTAINER_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Parse `K=V;K=V`; `lenient` drops a malformed pair instead of throwing. */
export function parseCniArgs(raw: string, lenient = false): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw === '') return out;
  for (const pair of raw.split(';')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0 && lenient) continue;
    if (eq <= 0) throw new CniEnvError('CNI_ARGS', 'key=value', `CNI_ARGS: ${JSON.stringify(pair)} is not KEY=VALUE (pairs are separated by ";")`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/** Read and validate the environment for the command it names. */
export function parseEnv(env: NodeJS.ProcessEnv): CniEnv {
  const command = env.CNI_COMMAND ?? '';
  if (command === '') throw new CniEnvError('CNI_COMMAND', 'required', 'CNI_COMMAND is not set (this is a CNI plugin: a runtime runs it)');
  if (!(COMMANDS as readonly string[]).includes(command))
    throw new CniEnvError('CNI_COMMAND', 'known', `CNI_COMMAND ${JSON.stringify(command)} is not one of ${COMMANDS.join(', ')}`);
  const cmd = command as CniCommand;
  const perContainer = cmd === 'ADD' || cmd === 'DEL' || cmd === 'CHECK';
  const containerId = env.CNI_CONTAINERID ?? '';
  const netns = env.CNI_NETNS ?? '';
  const ifName = env.CNI_IFNAME ?? '';
  if (perContainer) {
    if (containerId === '') throw new CniEnvError('CNI_CONTAINERID', 'required', `CNI_CONTAINERID is required for ${cmd}`);
    if (!CONTAINER_ID_RE.test(containerId) || containerId.length > 255)
      throw new CniEnvError('CNI_CONTAINERID', 'pattern', `CNI_CONTAINERID ${JSON.stringify(containerId)} must match ${CONTAINER_ID_RE.source} (at most 255 characters)`);
    if (ifName === '') throw new CniEnvError('CNI_IFNAME', 'required', `CNI_IFNAME is required for ${cmd}`);
    const p = ifNameProblem(ifName);
    if (p) throw new CniEnvError('CNI_IFNAME', 'ifname', `CNI_IFNAME "${ifName}" ${p}`);
    if (cmd !== 'DEL' && netns === '') throw new CniEnvError('CNI_NETNS', 'required', `CNI_NETNS is required for ${cmd}`);
    if (netns !== '' && !netns.startsWith('/')) throw new CniEnvError('CNI_NETNS', 'absolute', `CNI_NETNS must be an absolute path (got ${JSON.stringify(netns)})`);
    const dots = dotDotProblem(netns);
    if (dots) throw new CniEnvError('CNI_NETNS', 'dot-dot', `CNI_NETNS ${dots}`);
  }
  return {
    command: cmd,
    containerId,
    // one spelling (src/runtime/sandbox-path.ts), as the store records it: an ADD repeated as /var/run/netns/x/ is the same netns
    netns: normalPath(netns),
    ifName,
    // CNI_ARGS only carries ADD's options: DEL (and GC, STATUS) never fail on it
    args: parseCniArgs(env.CNI_ARGS ?? '', cmd !== 'ADD' && cmd !== 'CHECK'),
    path: (env.CNI_PATH ?? '').split(':').filter((p) => p !== ''),
  };
}
