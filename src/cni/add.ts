/**
 * ADD: cold-attach a tap to CNI_IFNAME in CNI_NETNS through the journaled endpoint machine
 * (createTap → getOrigLink → setMtu → setUp → qdiscTap → qdiscOrig → redirectIn → redirectOut →
 * coldplug), then print prevResult with the tap and the VM interface added.
 *
 * Repeated ADD (a runtime retrying after a crash): opening recovers first, so an interrupted
 * attach is already rolled back; an attachment that finished and still checks out is returned as
 * it is; anything else of this CNI_IFNAME is detached and attached afresh.
 */
import { randomBytes } from 'node:crypto';
import { macProblem, resolveEndpointInput, type EndpointInput } from '../../machines/index.js';
import type { TapstateCniConfig } from './config.js';
import type { CniEnv } from './env.js';
import { CniConfigError } from './errors.js';
import { checkAddNetns } from './netns-check.js';
import { openContainerStore, type ContainerStore } from './container-store.js';
import { retireStoreOfOtherNetns } from './netns-moved.js';
import { stderrLine } from './stderr.js';
import { endpointBase, freshEndpointId, liveEndpoints } from './attachment.js';
import { verifyAttached } from './verify.js';
import { recordNetwork } from './network-names.js';
import { addResult, interfaceMac, type CniResult } from './result.js';

const randomMac = (): string => {
  const b = randomBytes(6);
  b[0] = (b[0]! & 0xfc) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
};

export async function cniAdd(env: CniEnv, cfg: TapstateCniConfig, processEnv: NodeJS.ProcessEnv): Promise<CniResult> {
  const prev = cfg.prevResult;
  if (!prev)
    throw new CniConfigError(
      'prevResult',
      'required',
      'prevResult: required: tapstate-cni is a chained plugin; list it after a plugin that creates CNI_IFNAME in CNI_NETNS (ptp, bridge, …)',
    );
  checkAddNetns(env.netns);
  const hw = interfaceMac(prev, env.ifName, env.netns);
  const guestMac = hw && !macProblem(hw) ? { hwAddr: hw } : { mac: randomMac() };
  const input = (id: string): EndpointInput => ({
    id,
    idx: cfg.idx,
    ...(cfg.tapName !== undefined ? { tapName: cfg.tapName } : {}),
    ifName: env.ifName,
    ...guestMac,
    netnsPath: env.netns,
    netnsCreated: true,
    // queues 0: upstream's "no multi-queue support" (one fd, no IFF_MULTI_QUEUE)
    vcpus: Math.max(1, cfg.queues),
    multiQueue: cfg.queues > 0,
    vhost: false,
  });
  // the endpoint's own rules (tap name ≠ CNI_IFNAME, …) before the store is created: bad input changes nothing
  resolveEndpointInput(input(endpointBase(env.ifName)));
  const open = async (): Promise<ContainerStore> => {
    const c = await openContainerStore(cfg.stateDir, env.containerId, {
      create: { netnsPath: env.netns, netnsCreated: true, vcpus: Math.max(1, cfg.queues), vhost: false },
      env: processEnv,
      onRecovered: stderrLine,
    });
    if (!c) throw new Error('unreachable: a created store is never null');
    return c;
  };
  let cs = await open();
  // a store left for another netns (a DEL that never came, e.g. across a reboot): retire it first
  if (await retireStoreOfOtherNetns(cs, env.containerId, env.netns)) cs = await open();
  try {
    const { store } = cs;
    const tapName = cfg.tapName;
    let view = null;
    for (const v of liveEndpoints(store, env.ifName)) {
      const same = v.state === 'attached' && v.netnsPath === env.netns && v.queues === cfg.queues && (tapName === undefined ? v.idx === cfg.idx : v.tapName === tapName);
      if (same && (await verifyAttached(cs.adapters.netlink, v)).length === 0) {
        view = v;
        continue;
      }
      // something of an earlier ADD of this interface (rolled back, failed, or no longer as configured)
      await store.detach(v.id);
    }
    if (!view) {
      const id = freshEndpointId(store, env.ifName);
      recordNetwork(cs.dir, id, cfg.name); // before any effect: GC knows whose it is even after a crash
      const ep = store.createEndpoint(input(id));
      view = await store.attach(ep.id);
    }
    const tap = await cs.adapters.netlink.getLink(env.netns, view.tapName);
    return addResult(cfg.cniVersion, prev, {
      tapName: view.tapName,
      tapMac: tap.mac,
      guestMac: view.hardAddr,
      mtu: tap.mtu,
      netns: env.netns,
      containerId: env.containerId,
      ifName: env.ifName,
    });
  } finally {
    await cs.close();
  }
}
