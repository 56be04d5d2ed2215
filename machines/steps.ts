/**
 * The effect steps of the endpoint machine as data: for each step, the effect it invokes, how its
 * input is computed and how its outcome changes the context. Pure functions only; the machine
 * (`endpoint.ts`) is generated from this table, and so the guards can evaluate the *resulting*
 * context before choosing where to go.
 */
import { produce } from 'immer';
import type { ResolvedEndpoint } from './endpoint-input.js';
import type { EffectFailure, EffectSrc, NicInput, Progress } from './effects.js';

export type Operation = 'attach' | 'hotAttach' | 'detach' | 'hotDetach' | 'cleanup';

export interface EndpointError {
  op: Operation;
  step: string;
  /** Upstream's message for this failure (e.g. `Could not set TAP MTU 9000: …`). */
  message: string;
  cause: EffectFailure;
}

export interface EndpointContext extends ResolvedEndpoint {
  netdevId: string;
  deviceId: string;
  /** The operation in progress, or the last one. */
  op: Operation | null;
  /** Where teardown leads when everything is gone: back to `created` or on to `detached`. */
  goal: 'rollback' | 'detach' | null;
  progress: Progress;
  /** The original link's MTU (cold attach). */
  origMtu: number | null;
  /** TAPIface.HardAddr: the original link's MAC, then the MAC the guest uses. */
  hardAddr: string;
  pciPath: string;
  coldplugArgs: string[];
  /** The failure that ended the last attach, or the first teardown failure. */
  error: EndpointError | null;
  /** Teardown failures that did not stop the teardown. */
  warnings: string[];
  /** Detach left the tap to the netns owner (upstream's "netns not ours" rule). */
  leftToNetnsOwner: boolean;
  /**
   * This teardown found a tun/tap in TAP mode under the tap's name (`lookupTap`): only then is
   * it set down and deleted. A link of another kind is not ours: it is left alone, the endpoint
   * ends `dirty` with upstream's `Could not get TAP interface: …`. Absent in logs written before
   * the step existed (read as false).
   */
  tapVerified: boolean;
}

export type ForwardStep =
  | 'createTap'
  | 'getOrigLink'
  | 'setMtu'
  | 'setUp'
  | 'hotplug'
  | 'qdiscTap'
  | 'qdiscOrig'
  | 'redirectIn'
  | 'redirectOut'
  | 'coldplug';
export type TeardownStep = 'unplug' | 'removeTc' | 'lookupTap' | 'setDown' | 'deleteTap';
export type Step = ForwardStep | TeardownStep;

/** The order of the forward steps of each attach. */
export const HOT_ATTACH_STEPS: readonly ForwardStep[] = ['createTap', 'setMtu', 'setUp', 'hotplug'];
export const ATTACH_STEPS: readonly ForwardStep[] = [
  'createTap',
  'getOrigLink',
  'setMtu',
  'setUp',
  'qdiscTap',
  'qdiscOrig',
  'redirectIn',
  'redirectOut',
  'coldplug',
];
/**
 * Teardown, in order: unplug before deleting the tap (upstream PR #11749); look the tap up as a
 * tuntap (upstream unTuntapNetwork's getLinkByName) before setting it down and deleting it.
 */
export const TEARDOWN_STEPS: readonly TeardownStep[] = ['unplug', 'removeTc', 'lookupTap', 'setDown', 'deleteTap'];

export interface StepSpec {
  src: EffectSrc;
  input(c: EndpointContext): unknown;
  /** The context after the effect succeeded with `output`. */
  done(c: EndpointContext, output: any): EndpointContext;
  /** Upstream's message for a failure of this step (forward steps). */
  message?(c: EndpointContext, cause: EffectFailure): string;
}

const nic = (c: EndpointContext, mac: string): NicInput => ({
  netdevId: c.netdevId,
  deviceId: c.deviceId,
  mac,
  queues: c.queues,
  tapName: c.tapName,
  vhost: c.vhost,
});

const edit = (c: EndpointContext, recipe: (d: EndpointContext) => void): EndpointContext => produce(c, recipe);

export const STEPS: Record<Step, StepSpec> = {
  createTap: {
    src: 'netlink.createTap',
    // vhost: the effect also opens one /dev/vhost-net fd per queue (only said when on, so the
    // intents of stores without vhost stay as they were)
    input: (c) => (c.vhost ? { netns: c.netnsPath, name: c.tapName, queues: c.queues, vhost: true } : { netns: c.netnsPath, name: c.tapName, queues: c.queues }),
    done: (c) =>
      edit(c, (d) => {
        d.progress.tap = true;
        // upstream tuntapNetwork: TAPIface.HardAddr := the endpoint properties' MAC (the guest's);
        // a cold attach takes the original link's MAC instead (getOrigLink)
        if (c.op === 'hotAttach') d.hardAddr = c.mac;
      }),
    // upstream setupTCFiltering: `Could not setup vhost fds %s : %s` with NetPair.VirtIface.Name
    message: (c, e) => (e.name === 'VhostSetupError' ? `Could not setup vhost fds ${c.name} : ${e.message}` : `Could not create TAP interface: ${e.message}`),
  },
  getOrigLink: {
    src: 'netlink.getLink',
    input: (c) => ({ netns: c.netnsPath, name: c.name }),
    done: (c, out: { mtu: number; mac: string }) =>
      edit(c, (d) => {
        d.origMtu = out.mtu;
        // upstream setupTCFiltering: the tap record takes the original link's MAC
        if (out.mac) d.hardAddr = out.mac;
      }),
    // upstream getLinkByName formats the expected link type into it: "tuntap name"
    message: (c, e) => `LinkByName() failed for tuntap name ${c.name}: ${e.message}`,
  },
  setMtu: {
    src: 'netlink.setMtu',
    input: (c) => ({ netns: c.netnsPath, name: c.tapName, mtu: c.op === 'attach' ? (c.origMtu ?? c.mtu) : c.mtu }),
    done: (c) => c,
    message: (c, e) => `Could not set TAP MTU ${c.op === 'attach' ? (c.origMtu ?? c.mtu) : c.mtu}: ${e.message}`,
  },
  setUp: {
    src: 'netlink.setUp',
    input: (c) => ({ netns: c.netnsPath, name: c.tapName, up: true }),
    done: (c) =>
      edit(c, (d) => {
        d.progress.up = true;
      }),
    // upstream: hot attach (tuntapNetwork) formats it with TuntapInterface.Name, cold attach
    // (setupTCFiltering) with the tap's own name, NetPair.TAPIface.Name = tap<idx>_kata
    message: (c, e) => `Could not enable TAP ${c.op === 'attach' ? c.tapName : c.name}: ${e.message}`,
  },
  hotplug: {
    src: 'hypervisor.hotplug',
    input: (c) => nic(c, c.mac),
    done: (c, out: { pciPath: string }) =>
      edit(c, (d) => {
        d.progress.plugged = true;
        d.pciPath = out.pciPath;
      }),
    message: (_c, e) => e.message,
  },
  qdiscTap: {
    src: 'netlink.addIngressQdisc',
    input: (c) => ({ netns: c.netnsPath, name: c.tapName }),
    done: (c) =>
      edit(c, (d) => {
        d.progress.tcTap = true;
      }),
    message: (c, e) => `Failed to add qdisc for network index ${c.idx} : ${e.message}`,
  },
  qdiscOrig: {
    src: 'netlink.addIngressQdisc',
    input: (c) => ({ netns: c.netnsPath, name: c.name }),
    done: (c) =>
      edit(c, (d) => {
        d.progress.tcOrig = true;
      }),
    message: (c, e) => `Failed to add qdisc for network index ${c.idx} : ${e.message}`,
  },
  redirectIn: {
    src: 'netlink.addRedirect',
    input: (c) => ({ netns: c.netnsPath, from: c.name, to: c.tapName }),
    done: (c) => c,
    message: (c, e) => `Failed to add filter for index ${c.idx} : ${e.message}`,
  },
  redirectOut: {
    src: 'netlink.addRedirect',
    input: (c) => ({ netns: c.netnsPath, from: c.tapName, to: c.name }),
    done: (c) => c,
    message: (c, e) => `Failed to add filter for index ${c.idx} : ${e.message}`,
  },
  coldplug: {
    src: 'hypervisor.coldplug',
    input: (c) => nic(c, c.hardAddr || c.mac),
    done: (c, out: { args: string[] }) =>
      edit(c, (d) => {
        d.progress.coldplugged = true;
        d.coldplugArgs = out.args;
      }),
    message: (_c, e) => e.message,
  },
  unplug: {
    src: 'hypervisor.hotunplug',
    // a taken-over NIC (deviceId unknown): found by its MAC, upstream's TAPIface.HardAddr; queues:
    // the fd names a hot plug passed for this netdev, closed by the unplug (derived names)
    input: (c) =>
      c.deviceId === ''
        ? { netdevId: c.netdevId, deviceId: '', mac: c.hardAddr, queues: c.queues }
        : { netdevId: c.netdevId, deviceId: c.deviceId, queues: c.queues },
    done: (c) =>
      edit(c, (d) => {
        d.progress.plugged = false;
        d.pciPath = '';
      }),
  },
  removeTc: {
    src: 'netlink.deleteIngressQdisc',
    input: (c) => ({ netns: c.netnsPath, name: c.name }),
    done: (c) =>
      edit(c, (d) => {
        d.progress.tcOrig = false;
      }),
  },
  lookupTap: {
    src: 'netlink.getTap',
    input: (c) => ({ netns: c.netnsPath, name: c.tapName }),
    done: (c, out: { absent?: boolean }) =>
      edit(c, (d) => {
        if (out?.absent) d.progress.tap = d.progress.up = d.progress.tcTap = false;
        else d.tapVerified = true;
      }),
  },
  setDown: {
    src: 'netlink.setUp',
    input: (c) => ({ netns: c.netnsPath, name: c.tapName, up: false }),
    done: (c, out: { absent?: boolean }) =>
      edit(c, (d) => {
        d.progress.up = false;
        if (out?.absent) d.progress.tap = d.progress.tcTap = false;
      }),
  },
  deleteTap: {
    src: 'netlink.deleteLink',
    input: (c) => ({ netns: c.netnsPath, name: c.tapName }),
    done: (c) =>
      edit(c, (d) => {
        d.progress.tap = d.progress.up = d.progress.tcTap = false;
      }),
  },
};

/** Teardown messages (upstream unTuntapNetwork / hotplugRemoveDevice). */
const teardownMessage = (c: EndpointContext, step: TeardownStep, e: EffectFailure): string => {
  switch (step) {
    case 'setDown':
      return `Could not disable TAP ${c.tapName}: ${e.message}`;
    case 'deleteTap':
      return `Could not remove TAP ${c.tapName}: ${e.message}`;
    case 'removeTc':
      return `Could not remove the ingress qdisc of ${c.name}: ${e.message}`;
    case 'lookupTap':
      return `Could not get TAP interface: ${e.message}`;
    default:
      return e.message;
  }
};

/** Merge what recovery observed of the world into the progress flags. */
const observe = (d: EndpointContext, e: EffectFailure): void => {
  Object.assign(d.progress, e.observed); // nothing when there is no observation
};

/** The context after a forward step failed: error recorded, teardown will roll back. */
export function forwardFailed(c: EndpointContext, step: ForwardStep, e: EffectFailure): EndpointContext {
  return edit(c, (d) => {
    // a failed hotplug may still have left a netdev or device (a lost reply): unplug anyway, it
    // is idempotent. A failed createTap is not pessimistic: EEXIST means the tap is not ours.
    if (step === 'hotplug') d.progress.plugged = true;
    observe(d, e);
    d.goal = 'rollback';
    d.error = { op: c.op ?? 'hotAttach', step, message: STEPS[step].message!(c, e), cause: e };
  });
}

/** The context after a teardown step failed: recorded as a warning, teardown goes on. */
export function teardownFailed(c: EndpointContext, step: TeardownStep, e: EffectFailure): EndpointContext {
  return edit(c, (d) => {
    observe(d, e);
    const message = teardownMessage(c, step, e);
    d.warnings.push(message);
    // a detach, and a CLEANUP (whatever the goal), report the first failure; a rollback keeps the attach's
    if (!d.error && (d.goal === 'detach' || c.op === 'cleanup')) d.error = { op: c.op ?? 'detach', step, message, cause: e };
  });
}

/** Where teardown goes after `after` (null: from the start): the next needed step, or the end. */
export function nextTeardown(c: EndpointContext, after: TeardownStep | null): TeardownStep | 'created' | 'detached' | 'dirty' {
  const p = c.progress;
  // upstream's "netns not ours" rule: what lives in the netns is left to its owner, whose
  // deletion of the netns removes it; the hypervisor device is still ours to unplug
  const ours = !c.leftToNetnsOwner;
  const needed: Record<TeardownStep, boolean> = {
    unplug: p.plugged,
    removeTc: ours && p.tcOrig,
    lookupTap: ours && p.tap && !c.tapVerified,
    setDown: ours && p.tap && p.up && c.tapVerified,
    deleteTap: ours && p.tap && c.tapVerified,
  };
  const from = after === null ? 0 : TEARDOWN_STEPS.indexOf(after) + 1;
  for (const s of TEARDOWN_STEPS.slice(from)) if (needed[s]) return s;
  if (p.plugged || (ours && (p.tap || p.tcOrig))) return 'dirty';
  return c.goal === 'rollback' ? 'created' : 'detached';
}

/** The effect a snapshot is waiting on, derived from its state value. */
export interface PendingEffect {
  /** The invoke id: `<phase>.<step>`. */
  id: string;
  src: EffectSrc;
  input: unknown;
  step: Step;
  phase: 'hotAttach' | 'attach' | 'teardown';
}

/** Whether a state value is one of the effect states (without needing the context). */
export function isEffectState(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const [phase, step] = Object.entries(value as Record<string, unknown>)[0] ?? [];
  return (phase === 'hotAttach' || phase === 'attach' || phase === 'teardown') && typeof step === 'string' && Object.hasOwn(STEPS, step);
}

/** Which effect an endpoint in state `value` with context `c` is running, or null when settled. */
export function pendingEffect(value: unknown, c: EndpointContext): PendingEffect | null {
  if (typeof value !== 'object' || value === null) return null;
  const [phase, step] = Object.entries(value as Record<string, unknown>)[0] ?? [];
  if ((phase !== 'hotAttach' && phase !== 'attach' && phase !== 'teardown') || typeof step !== 'string') return null;
  // own keys only: a value like `{teardown: 'toString'}` (a corrupt log) names no step
  if (!Object.hasOwn(STEPS, step)) return null;
  const spec = STEPS[step as Step];
  return { id: `${phase}.${step}`, src: spec.src, input: spec.input(c), step: step as Step, phase };
}

/** Dotted state name: `created`, `hotAttach.setMtu`. */
export function stateName(value: unknown): string {
  if (typeof value === 'object' && value !== null) {
    const [k, v] = Object.entries(value as Record<string, unknown>)[0] ?? [];
    return k === undefined ? '' : `${k}.${stateName(v)}`;
  }
  return String(value);
}
