/**
 * The machine's exported helpers with any value a log, a CLI or a library caller may hand them,
 * the effects declared to XState when the machine runs outside the tapstate runtime, and
 * failures that are not the runtime's plain EffectFailure.
 */
import { describe, expect, it } from 'vitest';
import { createActor, initialTransition, transition, waitFor } from 'xstate';
import { NOTHING, STEPS, endpointMachine, isClean, isEffectState, pendingEffect, stateName, type EndpointInput } from '../../machines/index.js';
import { doneEvent, errorEvent } from '../../src/testing/actor-events.js';

const input: EndpointInput = { id: 'ep0', idx: 0, mac: '02:00:00:00:00:01', netnsPath: '/run/netns/x', netnsCreated: true, vcpus: 2 };
const ctx = initialTransition(endpointMachine, input)[0].context;

describe('isClean', () => {
  it('nothing of the endpoint left: no tap, no plugged device, no qdisc on the original link', () => {
    expect(isClean(NOTHING)).toBe(true);
    // up, coldplugged and tcTap go with the tap or the VM
    expect(isClean({ ...NOTHING, up: true, coldplugged: true, tcTap: true })).toBe(true);
    expect(isClean({ ...NOTHING, tap: true })).toBe(false);
    expect(isClean({ ...NOTHING, plugged: true })).toBe(false);
    expect(isClean({ ...NOTHING, tcOrig: true })).toBe(false);
  });
});

describe('stateName', () => {
  it('dots nested state values; strings as they are', () => {
    expect(stateName('created')).toBe('created');
    expect(stateName({ teardown: 'deleteTap' })).toBe('teardown.deleteTap');
    expect(stateName({ a: { b: 'c' } })).toBe('a.b.c');
  });
  it('any other value: its text; an empty object: ""', () => {
    expect(stateName({})).toBe('');
    expect(stateName(null)).toBe('null');
    expect(stateName(5)).toBe('5');
    expect(stateName(undefined)).toBe('undefined');
  });
});

describe('the exported step table (STEPS)', () => {
  it("every step's done gives the whole next context; the steps that record nothing give the context as it was", () => {
    for (const step of ['setMtu', 'redirectIn', 'redirectOut'] as const) expect(STEPS[step].done(ctx, {})).toBe(ctx);
    expect(STEPS.setUp.done(ctx, {})).toEqual({ ...ctx, progress: { ...ctx.progress, up: true } });
  });
});

describe('isEffectState and pendingEffect', () => {
  it('an effect state of any phase', () => {
    expect(isEffectState({ hotAttach: 'setMtu' })).toBe(true);
    expect(isEffectState({ attach: 'qdiscOrig' })).toBe(true);
    expect(isEffectState({ teardown: 'unplug' })).toBe(true);
    expect(pendingEffect({ teardown: 'unplug' }, ctx)).toEqual({
      id: 'teardown.unplug',
      src: 'hypervisor.hotunplug',
      input: { netdevId: 'net-ep0', deviceId: 'virtio-net-ep0', queues: 2 },
      step: 'unplug',
      phase: 'teardown',
    });
  });

  it.each([
    ['created'],
    [null],
    [undefined],
    [3],
    [{}],
    [{ created: 'setMtu' }],
    [{ dirty: 'unplug' }],
    [{ teardown: 'reboot' }],
    [{ teardown: 'toString' }],
    [{ attach: { setMtu: 'x' } }],
    [{ hotAttach: 7 }],
    // a corrupt log: an array whose text is a step's name names no step
    [{ teardown: ['unplug'] }],
    [{ attach: ['setMtu'] }],
  ])('not an effect state: %j', (value) => {
    expect(isEffectState(value)).toBe(false);
    expect(pendingEffect(value, ctx)).toBeNull();
  });
});

describe('inside XState, outside the tapstate runtime', () => {
  it('every effect fails with a message saying where effects run; the attach rolls back to created', async () => {
    const actor = createActor(endpointMachine, { input }).start();
    actor.send({ type: 'HOT_ATTACH' });
    const s = await waitFor(actor, (x) => stateName(x.value) === 'created' && x.context.error !== null);
    expect(s.context.error).toMatchObject({
      op: 'hotAttach',
      step: 'createTap',
      message: 'Could not create TAP interface: effect netlink.createTap runs in the tapstate runtime, not inside the machine',
      cause: { name: 'Error', message: 'effect netlink.createTap runs in the tapstate runtime, not inside the machine' },
    });
    actor.stop();
  });
});

describe('failures that are not an EffectFailure', () => {
  it('are recorded as an Error with their text', () => {
    const atCreate = transition(endpointMachine, initialTransition(endpointMachine, input)[0], { type: 'HOT_ATTACH' })[0];
    for (const [error, message] of [
      ['plain text', 'plain text'],
      [42, '42'],
      [null, 'null'],
      [{ code: 'EIO' }, '[object Object]'],
    ] as const) {
      const [s] = transition(endpointMachine, atCreate, errorEvent('hotAttach.createTap', error) as never);
      expect(s.context.error).toMatchObject({ step: 'createTap', message: `Could not create TAP interface: ${message}`, cause: { name: 'Error', message } });
    }
    // an object with a message is kept as it is
    const [s] = transition(endpointMachine, atCreate, errorEvent('hotAttach.createTap', { name: 'NetlinkError', message: 'EEXIST', errno: 'EEXIST' }) as never);
    expect(s.context.error?.cause).toEqual({ name: 'NetlinkError', message: 'EEXIST', errno: 'EEXIST' });
  });
});

describe('the same state, two outcomes', () => {
  it('each outcome gets its own next state (the guard and the action share one computation per event)', () => {
    let [s] = initialTransition(endpointMachine, input);
    for (const e of [{ type: 'ADOPT' }, { type: 'HOT_DETACH' }, doneEvent('teardown.unplug', {})]) [s] = transition(endpointMachine, s, e as never);
    expect(stateName(s.value)).toBe('teardown.lookupTap');
    const [found] = transition(endpointMachine, s, doneEvent('teardown.lookupTap', { index: 7 }) as never);
    const [absent] = transition(endpointMachine, s, doneEvent('teardown.lookupTap', { absent: true }) as never);
    const [foundAgain] = transition(endpointMachine, s, doneEvent('teardown.lookupTap', { index: 8 }) as never);
    expect(stateName(found.value)).toBe('teardown.setDown');
    expect(found.context.tapVerified).toBe(true);
    expect(stateName(absent.value)).toBe('detached');
    expect(absent.context).toMatchObject({ tapVerified: false, progress: { tap: false, up: false } });
    expect(stateName(foundAgain.value)).toBe('teardown.setDown');
  });
});
