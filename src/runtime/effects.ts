/**
 * The effect executor: maps each effect `src` of the machine to one adapter call, and turns the
 * adapters' typed errors into plain {@link EffectFailure}s for the machine and the log.
 * Teardown effects that find their object already gone succeed with `absent: true`.
 */
import type { EffectFailure, EffectSrc, NicInput } from '../../machines/index.js';
import { NetlinkError, type NetlinkAdapter } from '../adapters/netlink.js';
import { HypervisorError, type HypervisorAdapter } from '../adapters/hypervisor.js';
import { SimulatedCrash } from '../adapters/faults.js';
import { getTap } from '../adapters/tap-lookup.js';
import type { FdTable } from './fd-table.js';
import { TapstateError } from '../../machines/tapstate-error.js';

export interface Adapters {
  netlink: NetlinkAdapter;
  hypervisor: HypervisorAdapter;
}

/**
 * Opening `/dev/vhost-net` failed (upstream: `Could not setup vhost fds %s : %s`). The tap was
 * created: the failure carries `observed: {tap: true}` and the rollback deletes it.
 */
export class VhostSetupError extends TapstateError {
  override readonly name = 'VhostSetupError';
  readonly code = 'VHOST_SETUP_FAILED';
  constructor(readonly reason: unknown) {
    super(reason instanceof Error ? reason.message : String(reason));
  }
}

/** A gone object for a teardown effect: the link or the namespace vanished. */
const isAbsent = (e: unknown): boolean =>
  e instanceof NetlinkError && (e.errno === 'ENODEV' || e.errno === 'ENOENT' || (e.op === 'deleteIngressQdisc' && e.errno === 'EINVAL'));

/** Convert any thrown value into the JSON failure the machine and the log carry. */
export function toFailure(e: unknown): EffectFailure {
  // createTap made the tap before the vhost fds failed: the rollback must remove it
  // (with the errno of opening the device: ENOENT when it is absent)
  if (e instanceof VhostSetupError)
    return { name: e.name, message: e.message, ...(e.reason instanceof NetlinkError ? { errno: e.reason.errno } : {}), observed: { tap: true } };
  if (e instanceof NetlinkError) return { name: e.name, message: e.message, errno: e.errno };
  if (e instanceof HypervisorError) return { name: e.name, message: e.message, kind: e.kind };
  if (e instanceof Error) return { name: e.name, message: e.message };
  return { name: 'Error', message: String(e) };
}

/**
 * Run one effect. Resolves with its output; rejects with the adapter's error (or SimulatedCrash).
 * `teardown`: the effect removes something (its phase, not its src, decides: `netlink.setUp`
 * brings a tap up in an attach and down in a teardown); a teardown finding its object gone succeeds.
 */
export async function runEffect(endpoint: string, src: EffectSrc, input: any, a: Adapters, fds: FdTable, teardown: boolean): Promise<unknown> {
  const nl = a.netlink;
  try {
    switch (src) {
      case 'netlink.createTap': {
        const created = await nl.createTap(input);
        fds.put(endpoint, created.fds);
        if (input.vhost === true) {
          // upstream setupTCFiltering: unless vhost is disabled, one /dev/vhost-net fd per queue
          try {
            fds.putVhost(endpoint, await nl.openVhostFds(created.fds.length));
          } catch (e) {
            if (e instanceof SimulatedCrash) throw e;
            // the tap exists: the failure says so, and the machine's journaled rollback removes it
            await fds.release(endpoint);
            throw new VhostSetupError(e);
          }
        }
        return { index: created.index, queues: created.fds.length };
      }
      case 'netlink.getLink': {
        const l = await nl.getLink(input.netns, input.name);
        return { index: l.index, mtu: l.mtu, mac: l.mac };
      }
      case 'netlink.getTap': {
        const l = await getTap(nl, input.netns, input.name);
        return { index: l.index };
      }
      case 'netlink.setMtu':
        await nl.setMtu(input.netns, input.name, input.mtu);
        return {};
      case 'netlink.setUp':
        await nl.setUp(input.netns, input.name, input.up);
        return {};
      case 'netlink.deleteLink':
        // our queue fds must not outlive the tap
        await fds.release(endpoint);
        await nl.deleteLink(input.netns, input.name);
        return {};
      case 'netlink.addIngressQdisc':
        await nl.addIngressQdisc(input.netns, input.name);
        return {};
      case 'netlink.deleteIngressQdisc':
        await nl.deleteIngressQdisc(input.netns, input.name);
        return {};
      case 'netlink.addRedirect':
        await nl.addRedirect(input);
        return {};
      case 'hypervisor.hotplug': {
        try {
          return await a.hypervisor.hotplug(input as NicInput, fds.get(endpoint), fds.getVhost(endpoint));
        } finally {
          // QEMU holds its own copies now (or failed): ours are closed either way
          await fds.release(endpoint);
        }
      }
      case 'hypervisor.hotunplug': {
        try {
          await a.hypervisor.hotunplug(input);
          return {};
        } catch (e) {
          // a dead VMM took its devices with it
          if (e instanceof HypervisorError && e.kind === 'disconnected' && !(await a.hypervisor.alive())) return { vmmGone: true };
          throw e;
        }
      }
      case 'hypervisor.coldplug': {
        try {
          const r = await a.hypervisor.coldplug(input as NicInput, fds.get(endpoint), fds.getVhost(endpoint));
          return { args: r.args };
        } finally {
          await fds.release(endpoint);
        }
      }
    }
  } catch (e) {
    if (!(e instanceof SimulatedCrash) && teardown && isAbsent(e)) return { absent: true };
    throw e;
  }
}
