/** `tapstate init`: create a store for one sandbox. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_RETENTION } from '../../log/index.js';
import { RETENTION_OPTIONS, describePolicy, policyFromFlags } from './retention-options.js';
import { MAX_QUEUES } from '../../../machines/index.js';
import { StoreExistsError } from '../../store/errors.js';
import { createStore, storeExists } from '../../store/open-store.js';
import { UsageError, type CommandSpec } from '../command.js';
import { LOCK_TIMEOUT, STORE, lockTimeout, printJson } from './common.js';
import { TapstateError } from '../../../machines/tapstate-error.js';
import { vhostNetPresent } from '../../runtime/vhost-default.js';

/** A QEMU id (as `device_add {bus}` takes it). */
const QEMU_ID_RE = /^[A-Za-z][A-Za-z0-9._-]{0,127}$/;

/** The sandbox's network namespace path does not exist. */
export class NetnsMissingError extends TapstateError {
  override readonly name = 'NetnsMissingError';
  readonly code = 'NETNS_MISSING';
  constructor(readonly netns: string) {
    super(`--netns ${netns}: no such network namespace (create it first, e.g. ip netns add NAME → /run/netns/NAME)`);
  }
}

export const command: CommandSpec = {
  name: 'init',
  summary: 'Create a store for one sandbox (its netns, vCPUs, vhost and QMP socket).',
  options: {
    store: STORE,
    netns: { type: 'string', placeholder: 'PATH', required: true, description: 'Absolute path of the sandbox network namespace (/run/netns/NAME, /proc/PID/ns/net).' },
    'netns-created': { type: 'boolean', description: 'The runtime created the netns (upstream NetNsCreated): detach then deletes the tap.' },
    qmp: { type: 'string', placeholder: 'SOCKET', description: 'QMP unix socket of the QEMU to hot-plug into (without it, hot-attach is refused).' },
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
  ],
  async run(opts, _pos, io) {
    const store = path.resolve(String(opts.store));
    const netns = String(opts.netns);
    if (!netns.startsWith('/')) throw new UsageError(`--netns: must be an absolute path (got ${JSON.stringify(netns)})`);
    const lockMs = lockTimeout(opts);
    const vcpus = opts.vcpus as number;
    if (vcpus < 1 || vcpus > MAX_QUEUES) throw new UsageError(`--vcpus: must be between 1 and ${MAX_QUEUES} (got ${vcpus})`);
    let qmp: string | undefined;
    if (typeof opts.qmp === 'string') {
      if (opts.qmp === '') throw new UsageError('--qmp: must not be empty');
      qmp = path.resolve(opts.qmp);
    }
    const retention = policyFromFlags(opts, { ...DEFAULT_RETENTION });
    let hotplugBuses: string[] | undefined;
    if (typeof opts['hotplug-bus'] === 'string') {
      if (!qmp) throw new UsageError('--hotplug-bus: needs --qmp (hot plug needs a QEMU)');
      hotplugBuses = opts['hotplug-bus'].split(',');
      for (const id of hotplugBuses) {
        if (!QEMU_ID_RE.test(id)) throw new UsageError(`--hotplug-bus: each id must be a QEMU id (a letter, then letters/digits/./_/-, at most 128 chars), got ${JSON.stringify(id)}`);
      }
    }
    if (storeExists(store)) throw new StoreExistsError(store);
    if (io.env.TAPSTATE_ADAPTERS !== 'memory' && !fs.existsSync(netns)) throw new NetnsMissingError(netns);
    // upstream's default is vhost on (DisableVhostNet false); here only when the device exists
    if (opts['no-vhost'] && opts.vhost) throw new UsageError('--vhost and --no-vhost: give at most one');
    const present = vhostNetPresent();
    const why = opts['no-vhost'] ? '--no-vhost' : opts.vhost ? `--vhost${present ? '' : '; /dev/vhost-net absent'}` : present ? '/dev/vhost-net present' : "/dev/vhost-net absent; upstream's default is on";
    const sandbox = await createStore(
      store,
      {
        netnsPath: netns,
        netnsCreated: opts['netns-created'] === true,
        vcpus,
        vhost: opts.vhost === true ? true : opts['no-vhost'] ? false : 'auto',
        ...(qmp ? { qmp } : {}),
        ...(hotplugBuses ? { hotplugBuses } : {}),
      },
      { lock: { timeoutMs: lockMs }, retention },
    );
    const vhost = sandbox.vhost;
    if (opts.json) {
      printJson(io, { version: 1, store, sandbox, retention });
      return 0;
    }
    io.out(
      `initialised store ${store}: netns ${netns}${sandbox.netnsCreated ? ' (ours)' : ' (not ours: detach leaves the tap to its owner)'}, ` +
        `${vcpus} vCPU(s), vhost ${vhost ? 'on' : 'off'} (${why}), ${qmp ? `QMP ${qmp}` : 'no VMM (cold attach only)'}${hotplugBuses ? `, hot plug onto ${hotplugBuses.join(',')}` : ''}; history: ${describePolicy(retention)}\n`,
    );
    return 0;
  },
};
