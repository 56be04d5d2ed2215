/** Every forward step's failure carries upstream's message; teardown failures likewise. */
import { describe, expect, it } from 'vitest';
import { initialTransition, transition } from 'xstate';
import { endpointMachine, stateName, type EndpointInput } from '../../machines/index.js';
import { doneEvent, errorEvent } from '../../src/testing/actor-events.js';
import { given } from '../support/machine-spec.js';

const input: EndpointInput = { id: 'ep0', idx: 4, ifName: 'tap0', mac: '02:00:00:00:00:01', mtu: 9000, netnsPath: '/run/netns/x', netnsCreated: true, vcpus: 2 };
const boom = { name: 'NetlinkError', message: 'EINVAL' };

/** Drive to `failAt` with successes, fail it, and return the settled snapshot. */
function failAt(command: 'HOT_ATTACH' | 'ATTACH', failAt: string) {
  let [s] = initialTransition(endpointMachine, input);
  [s] = transition(endpointMachine, s, { type: command });
  const outputs: Record<string, unknown> = { getOrigLink: { index: 2, mtu: 1450, mac: '5a:94:ef:e4:0c:ee' }, hotplug: { pciPath: '03/00' }, coldplug: { args: [] } };
  for (let i = 0; i < 20; i++) {
    const name = stateName(s.value);
    const [phase, step] = name.split('.');
    if (!step || phase === 'teardown') break;
    const id = `${phase}.${step}`;
    [s] = step === failAt
      ? transition(endpointMachine, s, errorEvent(id, boom) as never)
      : transition(endpointMachine, s, doneEvent(id, outputs[step] ?? {}) as never);
  }
  return s;
}

describe("upstream's error messages", () => {
  it.each([
    ['HOT_ATTACH', 'createTap', 'Could not create TAP interface: EINVAL'],
    ['HOT_ATTACH', 'setMtu', 'Could not set TAP MTU 9000: EINVAL'],
    ['HOT_ATTACH', 'setUp', 'Could not enable TAP tap0: EINVAL'],
    ['HOT_ATTACH', 'hotplug', 'EINVAL'],
    ['ATTACH', 'createTap', 'Could not create TAP interface: EINVAL'],
    // upstream getLinkByName: `LinkByName() failed for %s name %s: %s` with the expected type, tuntap
    ['ATTACH', 'getOrigLink', 'LinkByName() failed for tuntap name tap0: EINVAL'],
    ['ATTACH', 'setMtu', 'Could not set TAP MTU 1450: EINVAL'],
    // setupTCFiltering formats it with NetPair.TAPIface.Name (tap<idx>_kata); tuntapNetwork (hot) with TuntapInterface.Name
    ['ATTACH', 'setUp', 'Could not enable TAP tap4_kata: EINVAL'],
    ['ATTACH', 'qdiscTap', 'Failed to add qdisc for network index 4 : EINVAL'],
    ['ATTACH', 'qdiscOrig', 'Failed to add qdisc for network index 4 : EINVAL'],
    ['ATTACH', 'redirectIn', 'Failed to add filter for index 4 : EINVAL'],
    ['ATTACH', 'redirectOut', 'Failed to add filter for index 4 : EINVAL'],
    ['ATTACH', 'coldplug', 'EINVAL'],
  ] as const)('%s failing at %s: "%s", and the rollback starts', (cmd, step, message) => {
    const s = failAt(cmd, step);
    expect(s.context.error).toMatchObject({ step, message });
    expect(s.context.goal).toBe('rollback');
    // something was created before the failing step → teardown; else straight back to created
    expect(stateName(s.value)).toMatch(step === 'createTap' ? /^created$/ : /^teardown\./);
  });

  it('teardown failures: "Could not disable TAP" / "Could not remove TAP", and the teardown goes on', () => {
    const adopted = [{ type: 'ADOPT' }, { type: 'HOT_DETACH' }, doneEvent('teardown.unplug', {}), doneEvent('teardown.lookupTap', { index: 7 })];
    given(input, adopted)
      .when(errorEvent('teardown.setDown', boom))
      .then({ state: 'teardown.deleteTap', context: { warnings: ['Could not disable TAP tap4_kata: EINVAL'] }, spawns: ['netlink.deleteLink'] });
    const s = given(input, adopted)
      .when(errorEvent('teardown.setDown', boom), errorEvent('teardown.deleteTap', boom))
      .then({ state: 'dirty', spawns: [] });
    expect(s.context.warnings).toEqual(['Could not disable TAP tap4_kata: EINVAL', 'Could not remove TAP tap4_kata: EINVAL']);
    expect(s.context.error?.message).toBe('Could not disable TAP tap4_kata: EINVAL');
  });

  it('the same teardown after a full hot-attach', () => {
    let s = failAt('HOT_ATTACH', 'none');
    expect(stateName(s.value)).toBe('hotAttached');
    [s] = transition(endpointMachine, s, { type: 'HOT_DETACH' });
    [s] = transition(endpointMachine, s, doneEvent('teardown.unplug', {}) as never);
    expect(stateName(s.value)).toBe('teardown.lookupTap');
    [s] = transition(endpointMachine, s, doneEvent('teardown.lookupTap', { index: 7 }) as never);
    [s] = transition(endpointMachine, s, errorEvent('teardown.setDown', boom) as never);
    expect(stateName(s.value)).toBe('teardown.deleteTap');
    [s] = transition(endpointMachine, s, errorEvent('teardown.deleteTap', boom) as never);
    expect(stateName(s.value)).toBe('dirty');
    expect(s.context.warnings).toEqual(['Could not disable TAP tap4_kata: EINVAL', 'Could not remove TAP tap4_kata: EINVAL']);
  });

  it.each([
    ['Incorrect link type dummy, expecting tuntap'],
    ['LinkByName() failed for tuntap name tap4_kata: getLink tap4_kata: EIO'],
  ])('a tap lookup failing with "%s": "Could not get TAP interface: …", nothing set down or deleted, dirty', (cause) => {
    let s = failAt('HOT_ATTACH', 'none');
    [s] = transition(endpointMachine, s, { type: 'HOT_DETACH' });
    [s] = transition(endpointMachine, s, { type: 'xstate.done.actor.teardown.unplug', output: {} } as never);
    [s] = transition(endpointMachine, s, { type: 'xstate.error.actor.teardown.lookupTap', error: { name: 'NetlinkError', message: cause } } as never);
    expect(stateName(s.value)).toBe('dirty');
    expect(s.context.error?.message).toBe(`Could not get TAP interface: ${cause}`);
    expect(s.context.progress).toMatchObject({ tap: true, plugged: false });
    // CLEANUP looks again before touching anything
    [s] = transition(endpointMachine, s, { type: 'CLEANUP' });
    expect(stateName(s.value)).toBe('teardown.lookupTap');
    [s] = transition(endpointMachine, s, { type: 'xstate.error.actor.teardown.lookupTap', error: { name: 'NetlinkError', message: cause } } as never);
    expect(stateName(s.value)).toBe('dirty');
    expect(s.context.error?.message).toBe(`Could not get TAP interface: ${cause}`);
  });

  it('cold detach: "Could not remove the ingress qdisc of <orig>", recorded as the error and a warning; the tap still goes', () => {
    let s = failAt('ATTACH', 'none');
    expect(stateName(s.value)).toBe('attached');
    [s] = transition(endpointMachine, s, { type: 'DETACH' });
    expect(stateName(s.value)).toBe('teardown.removeTc');
    [s] = transition(endpointMachine, s, { type: 'xstate.error.actor.teardown.removeTc', error: boom } as never);
    expect(stateName(s.value)).toBe('teardown.lookupTap');
    expect(s.context.error).toMatchObject({ op: 'detach', step: 'removeTc', message: 'Could not remove the ingress qdisc of tap0: EINVAL' });
    [s] = transition(endpointMachine, s, { type: 'xstate.done.actor.teardown.lookupTap', output: { index: 7 } } as never);
    [s] = transition(endpointMachine, s, { type: 'xstate.done.actor.teardown.setDown', output: {} } as never);
    [s] = transition(endpointMachine, s, { type: 'xstate.done.actor.teardown.deleteTap', output: {} } as never);
    // the qdisc is still ours and still there: dirty, and CLEANUP starts with it
    expect(stateName(s.value)).toBe('dirty');
    expect(s.context.progress).toMatchObject({ tap: false, tcOrig: true });
    expect(s.context.warnings).toEqual(['Could not remove the ingress qdisc of tap0: EINVAL']);
    [s] = transition(endpointMachine, s, { type: 'CLEANUP' });
    expect(stateName(s.value)).toBe('teardown.removeTc');
    expect(s.context).toMatchObject({ op: 'cleanup', error: null, warnings: [] });
  });

  it('a rollback keeps the attach failure as its error; later teardown failures are warnings', () => {
    let s = failAt('HOT_ATTACH', 'hotplug');
    expect(stateName(s.value)).toBe('teardown.unplug');
    [s] = transition(endpointMachine, s, { type: 'xstate.error.actor.teardown.unplug', error: boom } as never);
    expect(s.context.error).toMatchObject({ op: 'hotAttach', step: 'hotplug' });
    expect(s.context.warnings).toEqual(['EINVAL']);
  });

  it('model none: "Invalid internetworking model", nothing run', () => {
    let [s] = initialTransition(endpointMachine, { ...input, model: 'none' });
    const [next, actions] = transition(endpointMachine, s, { type: 'ATTACH' });
    s = next;
    expect(stateName(s.value)).toBe('created');
    expect(s.context.error?.message).toBe('Invalid internetworking model');
    expect(actions.filter((a) => a.type === 'xstate.spawnChild')).toEqual([]);
  });

  it("Detach in a netns that is not ours does nothing in the netns (upstream's rule) but unplugs", () => {
    let [s] = initialTransition(endpointMachine, { ...input, netnsCreated: false });
    [s] = transition(endpointMachine, s, { type: 'ATTACH' });
    expect(stateName(s.value)).toBe('attach.createTap');
    let [c] = initialTransition(endpointMachine, { ...input, netnsCreated: false });
    [c] = transition(endpointMachine, c, { type: 'ADOPT' });
    [c] = transition(endpointMachine, c, { type: 'DETACH' });
    expect(stateName(c.value)).toBe('teardown.unplug');
    [c] = transition(endpointMachine, c, doneEvent('teardown.unplug', {}) as never);
    expect(stateName(c.value)).toBe('detached');
    expect(c.context).toMatchObject({ leftToNetnsOwner: true, progress: { tap: true, plugged: false } });
  });
});
