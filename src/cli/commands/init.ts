/** `tapstate init`: create a store for one sandbox. */
import * as path from 'node:path';
import { DEFAULT_RETENTION } from '../../log/index.js';
import { RETENTION_OPTIONS, describePolicy, policyFromFlags } from './retention-options.js';
import { MAX_QUEUES } from '../../../machines/index.js';
import { createStore } from '../../store/open-store.js';
import { UsageError, type CommandSpec } from '../command.js';
import { checkSandboxNetns } from '../netns-check.js';
import { dotDotProblem, normalPath } from '../../runtime/sandbox-path.js';
import { adapterKind } from '../open-store.js';
import { quoteArg } from '../quote.js';
import { pathLengthProblem, prepareStoreDir } from '../store-dir.js';
import { LOCK_TIMEOUT, STORE, lockTimeout, printJson } from './common.js';
import { vhostNetPresent } from '../../runtime/vhost-default.js';

export { StoreExistsError, StoreDirError } from '../store-dir.js';
export { NetnsMissingError, NetnsInvalidError } from '../netns-check.js';

/** A QEMU id (as `device_add {bus}` takes it). */
const QEMU_ID_RE = /^[A-Za-z][A-Za-z0-9._-]{0,127}$/;

/** sun_path of struct sockaddr_un: 108 bytes including the terminating NUL. */
export const SUN_PATH_MAX = 107;

export const command: CommandSpec = {
  name: 'init',
  summary: 'Create a store for one sandbox (its netns, vCPUs, vhost and QMP socket).',
  options: {
    store: STORE,
    netns: {
      type: 'string',
      placeholder: 'PATH',
      description: 'Absolute path of the sandbox network namespace (/run/netns/NAME, /proc/PID/ns/net); checked to be a network namespace, not this process\'s own. Required unless --host-netns.',
    },
    'host-netns': { type: 'boolean', description: 'Act in this process\'s own (the host\'s) network namespace, upstream\'s NetNsPath "" case. Explicit on purpose; excludes --netns.' },
    'netns-created': { type: 'boolean', description: 'The runtime created the netns (upstream NetNsCreated): detach then deletes the tap.' },
    qmp: { type: 'string', placeholder: 'SOCKET', description: `QMP unix socket of the QEMU to hot-plug into (at most ${SUN_PATH_MAX} bytes; without it, hot-attach is refused).` },
    vcpus: { type: 'string', placeholder: 'N', integer: true, default: '1', description: 'vCPUs: one tap queue per vCPU (1..256).' },
    'hotplug-bus': { type: 'string', placeholder: 'ID[,ID…]', description: 'Hot plug only onto these QEMU root ports / PCI bridges (ids; default: any QEMU has). Needs --qmp.' },
    'lock-timeout': LOCK_TIMEOUT,
    'no-vhost': { type: 'boolean', description: 'Never ask for vhost-net (default: use it when /dev/vhost-net exists).' },
    vhost: {
      type: 'boolean',
      description: "Always ask for vhost-net, as upstream does, even without /dev/vhost-net (attaches then fail with upstream's \"Could not setup vhost fds\").",
    },
    ...RETENTION_OPTIONS,
  },
  examples: [
    'tapstate init --store /run/tapstate/sb1 --netns /run/netns/sb1 --netns-created --qmp /run/sb1/qmp.sock --vcpus 2',
    'tapstate init --store /run/tapstate/host --host-netns',
  ],
  async run(opts, _pos, io) {
    const rawStore = String(opts.store);
    const storeLen = pathLengthProblem(rawStore);
    if (storeLen) throw new UsageError(`--store: ${storeLen}`);
    const store = path.resolve(rawStore);
    const host = opts['host-netns'] === true;
    if (host && typeof opts.netns === 'string') throw new UsageError('--host-netns and --netns exclude each other (one sandbox, one namespace)');
    if (!host && typeof opts.netns !== 'string') throw new UsageError('missing required option --netns PATH (or --host-netns, to act in this process\'s own namespace)');
    const rawNetns = host ? '' : String(opts.netns);
    if (!host) {
      if (rawNetns === '') throw new UsageError('--netns: must not be empty (use --host-netns for the own namespace)');
      if (!rawNetns.startsWith('/')) throw new UsageError(`--netns: must be an absolute path (got ${quoteArg(rawNetns)})`);
      const dots = dotDotProblem(rawNetns);
      if (dots) throw new UsageError(`--netns: ${dots}`);
    }
    // one spelling (src/runtime/sandbox-path.ts): checked, stored and shown as /run/netns/a, whether given as /run/netns/a/ or /run//netns/a
    const netns = normalPath(rawNetns);
    if (!host) {
      const lenP = pathLengthProblem(netns);
      if (lenP) throw new UsageError(`--netns: ${lenP}`);
    }
    const lockMs = lockTimeout(opts);
    const vcpus = opts.vcpus as number;
    if (vcpus < 1 || vcpus > MAX_QUEUES) throw new UsageError(`--vcpus: must be between 1 and ${MAX_QUEUES} (got ${vcpus})`);
    let qmp: string | undefined;
    if (typeof opts.qmp === 'string') {
      if (opts.qmp === '') throw new UsageError('--qmp: must not be empty');
      qmp = path.resolve(opts.qmp);
      const bytes = Buffer.byteLength(qmp);
      if (bytes > SUN_PATH_MAX)
        throw new UsageError(`--qmp: the socket path is ${bytes} bytes (absolute), longer than a unix socket address allows (sun_path: ${SUN_PATH_MAX} bytes + NUL)`);
    }
    const retention = policyFromFlags(opts, { ...DEFAULT_RETENTION });
    let hotplugBuses: string[] | undefined;
    if (typeof opts['hotplug-bus'] === 'string') {
      if (!qmp) throw new UsageError('--hotplug-bus: needs --qmp (hot plug needs a QEMU)');
      hotplugBuses = opts['hotplug-bus'].split(',');
      for (const id of hotplugBuses) {
        if (!QEMU_ID_RE.test(id)) throw new UsageError(`--hotplug-bus: each id must be a QEMU id (a letter, then letters/digits/./_/-, at most 128 chars), got ${quoteArg(id)}`);
      }
    }
    if (!host) await checkSandboxNetns(netns, { field: '--netns', kernel: adapterKind(io.env) === 'real' });
    // upstream's default is vhost on (DisableVhostNet false); here only when the device exists
    if (opts['no-vhost'] && opts.vhost) throw new UsageError('--vhost and --no-vhost: give at most one');
    const present = vhostNetPresent();
    const why = opts['no-vhost'] ? '--no-vhost' : opts.vhost ? `--vhost${present ? '' : '; /dev/vhost-net absent'}` : present ? '/dev/vhost-net present' : "/dev/vhost-net absent; upstream's default is on";
    const prepared = prepareStoreDir(store);
    if (prepared.leftovers)
      io.err(`tapstate: ${store} holds what an interrupted init left (${prepared.leftovers.join(', ')}): initialising over it\n`);
    if (prepared.tightenedFrom !== undefined)
      io.err(`tapstate: tightened ${store} from mode ${prepared.tightenedFrom.toString(8).padStart(4, '0')} to 0700 (a store is private to its owner)\n`);
    const sandbox = await createStore(
      store,
      {
        netnsPath: netns,
        netnsCreated: opts['netns-created'] === true,
        vcpus,
        vhost: opts.vhost === true ? true : opts['no-vhost'] ? false : 'auto',
        ...(qmp ? { qmp } : {}),
        ...(hotplugBuses ? { hotplugBuses } : {}),
        ...(host ? { hostNetns: true } : {}),
      },
      { lock: { timeoutMs: lockMs }, retention },
    );
    const vhost = sandbox.vhost;
    if (opts.json) {
      printJson(io, { version: 1, store, sandbox, retention, ...(prepared.tightenedFrom !== undefined ? { tightenedFrom: prepared.tightenedFrom.toString(8).padStart(4, '0') } : {}) });
      return 0;
    }
    const where = host ? 'the host\'s own netns (--host-netns)' : `netns ${netns}`;
    io.out(
      `initialised store ${store}: ${where}${sandbox.netnsCreated ? ' (ours)' : ' (not ours: detach leaves the tap to its owner)'}, ` +
        `${vcpus} vCPU(s), vhost ${vhost ? 'on' : 'off'} (${why}), ${qmp ? `QMP ${qmp}` : 'no VMM (cold attach only)'}${hotplugBuses ? `, hot plug onto ${hotplugBuses.join(',')}` : ''}; history: ${describePolicy(retention)}\n`,
    );
    return 0;
  },
};
