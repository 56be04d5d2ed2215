/**
 * Recovery: decide what to do with an effect that was interrupted by a crash (its intent is in
 * the log, its outcome is not), by probing the real world.
 *
 * - An interrupted **attach** step is rolled back: the step becomes a failure carrying what the
 *   probes observed (does the tap exist? is it up? is the device or netdev plugged? is the tc
 *   qdisc on the original link?), and the machine's ordinary rollback removes whatever exists.
 * - An interrupted **teardown** step is rolled forward: if its postcondition already holds it is
 *   recorded as done; otherwise it is run again (teardown effects are idempotent).
 * - An attach interrupted between two steps (no intent pending) is rolled back the same way,
 *   without probing: the next step never ran.
 */
import { type EffectFailure, type EndpointContext, type PendingEffect, type Progress } from '../../machines/index.js';
import type { Adapters } from './effects.js';
import { SimulatedCrash } from '../adapters/faults.js';

export type Reconciliation =
  /** Feed this event to the machine (recorded with `reconciled`). */
  | { kind: 'event'; event: { type: string; output?: unknown; error?: EffectFailure }; observed: Record<string, unknown> }
  /** Run the effect again (a teardown step whose postcondition does not hold yet). */
  | { kind: 'rerun'; observed: Record<string, unknown> };

/** What the world held before an effect ran, recorded in its intent (`pre`) for recovery. */
export type BeforeEffect = {
  /** attach.qdiscOrig: the original link already had an ingress qdisc (someone else's). */
  origIngress?: boolean;
};

/**
 * Probe what recovery will need to know of the world as it was before `effect` runs; recorded in
 * the effect's intent. A failed probe counts as "it existed": recovery never removes what it is
 * not sure it added.
 */
export async function beforeEffect(c: EndpointContext, effect: PendingEffect, a: Adapters): Promise<BeforeEffect | undefined> {
  if (effect.phase !== 'attach' || effect.step !== 'qdiscOrig') return undefined;
  try {
    return { origIngress: await a.netlink.hasIngressQdisc(c.netnsPath, c.name) };
  } catch (e) {
    if (e instanceof SimulatedCrash) throw e;
    return { origIngress: true };
  }
}

/**
 * What of the endpoint the probes find in the world. `step`/`pre`: the interrupted attach step
 * and what its intent recorded. The original link's ingress qdisc is ours only once qdiscOrig
 * added it: recorded in the progress, or found after an interrupted qdiscOrig whose intent says
 * there was none before (an intent without `pre`, from an older log, is trusted to the probe).
 */
export async function observeWorld(
  c: EndpointContext,
  a: Adapters,
  step?: PendingEffect['step'],
  pre?: BeforeEffect,
): Promise<Partial<Progress> & { netnsGone?: boolean; vmmGone?: boolean }> {
  const out: Partial<Progress> & { netnsGone?: boolean; vmmGone?: boolean } = {};
  const netnsAlive = c.netnsPath === '' || (await a.netlink.netnsExists(c.netnsPath));
  if (!netnsAlive) {
    // the namespace's owner deleted it: the tap and any qdisc went with it
    Object.assign(out, { tap: false, up: false, tcTap: false, tcOrig: false, netnsGone: true });
  } else {
    const tap = await a.netlink.probeLink(c.netnsPath, c.tapName);
    out.tap = tap !== null;
    out.up = tap?.flags.up ?? false;
    if (!tap) out.tcTap = false;
    // only a cold attach's qdiscOrig adds the original link's qdisc: never probe (and so never remove) someone else's
    const mayBeOurs = c.progress.tcOrig || (c.model === 'tcfilter' && c.op === 'attach' && step === 'qdiscOrig' && pre?.origIngress !== true);
    const orig = mayBeOurs ? await a.netlink.probeLink(c.netnsPath, c.name) : null;
    out.tcOrig = orig ? await a.netlink.hasIngressQdisc(c.netnsPath, c.name) : false;
  }
  if (await a.hypervisor.alive()) {
    // a taken-over NIC has no known device id: its netdev (br<idx>_kata) tells, and the unplug
    // effect finds the device by its MAC when it runs again
    const dev = c.deviceId === '' ? { present: false } : await a.hypervisor.probeDevice(c.deviceId);
    const netdev = await a.hypervisor.probeNetdev(c.netdevId);
    out.plugged = dev.present || netdev;
  } else {
    out.plugged = false;
    out.vmmGone = true;
  }
  return out;
}

/**
 * Decide the fate of an interrupted effect. `ran`: its intent was logged (it may have run);
 * `pre`: what that intent recorded of the world before the effect.
 */
export async function reconcile(c: EndpointContext, effect: PendingEffect, ran: boolean, a: Adapters, pre?: BeforeEffect): Promise<Reconciliation> {
  if (effect.phase !== 'teardown') {
    const observed = ran ? await observeWorld(c, a, effect.step, pre) : {};
    const { netnsGone: _n, vmmGone: _v, ...progress } = observed;
    // an interrupted hot plug may have passed queue fds (getfd) that no netdev took: a live VMM
    // still holds them under the names derived from the netdev, and only the unplug closes them
    if (ran && effect.step === 'hotplug' && !observed.vmmGone) progress.plugged = true;
    return {
      kind: 'event',
      event: {
        type: `xstate.error.actor.${effect.id}`,
        error: {
          name: 'Interrupted',
          message: ran ? `interrupted by a crash during ${effect.src}` : `interrupted by a crash before ${effect.src}`,
          observed: progress,
        },
      },
      observed: { ...observed, ran },
    };
  }
  if (!ran) return { kind: 'rerun', observed: { ran } };
  const w = await observeWorld(c, a);
  const observed = { ...w, ran } as Record<string, unknown>;
  const done = (output: unknown): Reconciliation => ({ kind: 'event', event: { type: `xstate.done.actor.${effect.id}`, output }, observed });
  switch (effect.step) {
    case 'unplug':
      return w.plugged ? { kind: 'rerun', observed } : done(w.vmmGone ? { vmmGone: true } : {});
    case 'removeTc':
      return w.tcOrig ? { kind: 'rerun', observed } : done({ absent: true });
    case 'setDown':
      return !w.tap ? done({ absent: true }) : w.up ? { kind: 'rerun', observed } : done({});
    case 'deleteTap':
      return w.tap ? { kind: 'rerun', observed } : done({ absent: true });
    default:
      return { kind: 'rerun', observed };
  }
}
