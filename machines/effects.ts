/**
 * The effects an endpoint machine invokes: each is a promise actor with a string `src`, whose
 * input the machine computes (purely) and whose output arrives as `xstate.done.actor.<id>`.
 * The runtime (`src/runtime/effects.ts`) maps each `src` to an adapter call.
 */

/** What the VMM needs to build a virtio-net NIC backed by a TAP (the hypervisor adapter's `NicSpec`). */
export interface NicInput {
  /** QEMU netdev id. */
  netdevId: string;
  /** QEMU device id (`virtio-…`). */
  deviceId: string;
  /** Guest MAC, lower-case colon-separated. */
  mac: string;
  /**
   * Queue count: one fd per queue (one when 0). mq=on, vectors=2N+2 when > 0 (upstream, so also
   * for one vCPU); 0 when the hypervisor has no multi-queue support.
   */
  queues: number;
  /** The tap's name (for the `ifname=` cold-plug form when no fds are given). */
  tapName: string;
  /** Ask for vhost-net. Refused with a typed error when `/dev/vhost-net` is unavailable. */
  vhost: boolean;
}

/** Effect `src` → [input, output]. */
export interface EffectTypes {
  'netlink.createTap': [{ netns: string; name: string; queues: number; vhost?: true }, { index: number; queues: number }];
  'netlink.getLink': [{ netns: string; name: string }, { index: number; mtu: number; mac: string }];
  /** upstream getLinkByName(name, Tuntap): the link, only if it is a tun/tap in TAP mode. */
  'netlink.getTap': [{ netns: string; name: string }, { index?: number; absent?: boolean }];
  'netlink.setMtu': [{ netns: string; name: string; mtu: number }, Record<string, never>];
  'netlink.setUp': [{ netns: string; name: string; up: boolean }, { absent?: boolean }];
  'netlink.deleteLink': [{ netns: string; name: string }, { absent?: boolean }];
  'netlink.addIngressQdisc': [{ netns: string; name: string }, Record<string, never>];
  'netlink.deleteIngressQdisc': [{ netns: string; name: string }, { absent?: boolean }];
  'netlink.addRedirect': [{ netns: string; from: string; to: string }, Record<string, never>];
  'hypervisor.hotplug': [NicInput, { pciPath: string }];
  'hypervisor.hotunplug': [{ netdevId: string; deviceId: string; mac?: string; queues?: number }, { vmmGone?: boolean }];
  'hypervisor.coldplug': [NicInput, { args: string[] }];
}

export type EffectSrc = keyof EffectTypes;
export type EffectInput<S extends EffectSrc> = EffectTypes[S][0];
export type EffectOutput<S extends EffectSrc> = EffectTypes[S][1];

/**
 * An effect failure as it travels in `xstate.error.actor.<id>` events and in the log: plain
 * JSON, never an Error object.
 */
export interface EffectFailure {
  /** `NetlinkError`, `HypervisorError`, `Interrupted`, … */
  name: string;
  message: string;
  errno?: string;
  kind?: string;
  /**
   * Set by recovery when the effect was interrupted by a crash: what the probes found of the
   * world the effect may have changed.
   */
  observed?: Partial<Progress>;
}

/** What of the endpoint exists in the world, as far as the machine knows. */
export interface Progress {
  /** The host tap exists. */
  tap: boolean;
  /** The tap is up. */
  up: boolean;
  /** A hot-plugged device/netdev exists in the hypervisor. */
  plugged: boolean;
  /** Cold-plug arguments were handed out. */
  coldplugged: boolean;
  /** Ingress qdisc (with its redirect filter) on the original link. */
  tcOrig: boolean;
  /** Ingress qdisc (with its redirect filter) on the tap. */
  tcTap: boolean;
}

export const NOTHING: Progress = { tap: false, up: false, plugged: false, coldplugged: false, tcOrig: false, tcTap: false };

/** True when nothing of the endpoint is left in the world. */
export const isClean = (p: Progress): boolean => !p.tap && !p.plugged && !p.tcOrig;
