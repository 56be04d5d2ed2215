/**
 * What each command does to the endpoint before its first effect, and where it leads: the
 * operation and goal it records, what it forgets of the previous one, which effect it starts,
 * and the end state of the teardown it starts (given/when/then on the pure machine).
 */
import { describe, expect, it } from 'vitest';
import { NOTHING, initialContext, pendingEffect, type EndpointInput } from '../../machines/index.js';
import { doneEvent, errorEvent } from '../../src/testing/actor-events.js';
import { given } from '../support/machine-spec.js';

const input: EndpointInput = { id: 'ep3', idx: 3, mac: '02:00:00:00:00:03', hwAddr: '02:aa:00:00:00:03', mtu: 1400, netnsPath: '/run/netns/x', netnsCreated: true, vcpus: 2 };
const notOurs: EndpointInput = { ...input, netnsCreated: false };
const boom = { name: 'NetlinkError', message: 'EIO' };

const HOT_ATTACHED = [
  { type: 'HOT_ATTACH' },
  doneEvent('hotAttach.createTap', { index: 7, queues: 2 }),
  doneEvent('hotAttach.setMtu', {}),
  doneEvent('hotAttach.setUp', {}),
  doneEvent('hotAttach.hotplug', { pciPath: '03/00' }),
];
const ATTACHED = [
  { type: 'ATTACH' },
  doneEvent('attach.createTap', { index: 7, queues: 2 }),
  doneEvent('attach.getOrigLink', { index: 2, mtu: 1450, mac: '5a:94:ef:e4:0c:ee' }),
  doneEvent('attach.setMtu', {}),
  doneEvent('attach.setUp', {}),
  doneEvent('attach.qdiscTap', {}),
  doneEvent('attach.qdiscOrig', {}),
  doneEvent('attach.redirectIn', {}),
  doneEvent('attach.redirectOut', {}),
  doneEvent('attach.coldplug', { args: ['-netdev', 'tap,id=net-ep3', '-device', 'virtio-net-pci'] }),
];
/** A hot attach whose hotplug failed and whose rollback could not unplug: dirty, goal rollback. */
const DIRTY_ROLLBACK = [...HOT_ATTACHED.slice(0, 4), errorEvent('hotAttach.hotplug', boom), errorEvent('teardown.unplug', boom), doneEvent('teardown.lookupTap', { index: 7 }), doneEvent('teardown.setDown', {}), doneEvent('teardown.deleteTap', {})];

describe('the initial context', () => {
  it("names the netdev and device after the id; the tap record starts with the original link's MAC", () => {
    expect(initialContext(input)).toMatchObject({
      netdevId: 'net-ep3',
      deviceId: 'virtio-net-ep3',
      op: null,
      goal: null,
      progress: NOTHING,
      origMtu: null,
      hardAddr: '02:aa:00:00:00:03',
      pciPath: '',
      coldplugArgs: [],
      error: null,
      warnings: [],
      leftToNetnsOwner: false,
      tapVerified: false,
    });
    // a copy of NOTHING, not NOTHING itself
    expect(initialContext(input).progress).not.toBe(NOTHING);
  });
});

describe('commands from created', () => {
  it('HOT_ATTACH: op hotAttach, no goal, creates the tap with one queue per vCPU', () => {
    given(input)
      .when({ type: 'HOT_ATTACH' })
      .then({ state: 'hotAttach.createTap', context: { op: 'hotAttach', goal: null }, spawns: ['netlink.createTap'] });
  });

  it('hot attach: the tap record takes the guest MAC, the MTU is the endpoint\'s, the hotplug gets the guest MAC', () => {
    const s = given(input, HOT_ATTACHED).when().then({ state: 'hotAttached', context: { hardAddr: '02:00:00:00:00:03', pciPath: '03/00', progress: { tap: true, up: true, plugged: true } } });
    expect(s.context.origMtu).toBeNull();
  });

  it("cold attach: the original link's MTU and MAC, the VMM arguments kept", () => {
    given(input, ATTACHED)
      .when()
      .then({
        state: 'attached',
        context: { origMtu: 1450, hardAddr: '5a:94:ef:e4:0c:ee', coldplugArgs: ['-netdev', 'tap,id=net-ep3', '-device', 'virtio-net-pci'], progress: { tap: true, up: true, tcTap: true, tcOrig: true, coldplugged: true, plugged: false } },
      });
    // an original link without a MAC keeps the endpoint's hwAddr
    given(input, ATTACHED.slice(0, 2))
      .when(doneEvent('attach.getOrigLink', { index: 2, mtu: 1450, mac: '' }))
      .then({ context: { hardAddr: '02:aa:00:00:00:03', origMtu: 1450 } });
  });

  it('a failed cold attach records op attach in its error (what `tapstate show` reports), a failed hot attach op hotAttach', () => {
    const cold = given(input, ATTACHED.slice(0, 4)).when(errorEvent('attach.setUp', boom)).then({ state: 'teardown.lookupTap' });
    expect(cold.context.error).toMatchObject({ op: 'attach', step: 'setUp', message: 'Could not enable TAP tap3_kata: EIO' });
    const hot = given(input, HOT_ATTACHED.slice(0, 3)).when(errorEvent('hotAttach.setUp', boom)).then({ state: 'teardown.lookupTap' });
    expect(hot.context.error).toMatchObject({ op: 'hotAttach', step: 'setUp', message: 'Could not enable TAP eth3: EIO' });
  });

  it('DETACH and HOT_DETACH of an endpoint never attached: detached at once, nothing run', () => {
    given(input).when({ type: 'DETACH' }).then({ state: 'detached', spawns: [], context: { op: 'detach', goal: 'detach' } });
    given(input).when({ type: 'HOT_DETACH' }).then({ state: 'detached', spawns: [], context: { op: 'hotDetach', goal: 'detach' } });
  });

  it('ADOPT: hot-attached at once (tap, up, plugged), nothing run, the tap record keeps its MAC or takes the guest\'s', () => {
    given(input)
      .when({ type: 'ADOPT' })
      .then({ state: 'hotAttached', spawns: [], context: { op: 'hotAttach', hardAddr: '02:aa:00:00:00:03', netdevId: 'net-ep3', deviceId: 'virtio-net-ep3', progress: { ...NOTHING, tap: true, up: true, plugged: true } } });
    given({ ...input, hwAddr: '' })
      .when({ type: 'ADOPT' })
      .then({ context: { hardAddr: '02:00:00:00:00:03' } });
  });

  it("ADOPT of a taken-over NIC: upstream's netdev br<idx>_kata, device unknown (found by MAC at unplug)", () => {
    const takeover = { type: 'ADOPT', takeover: true };
    given(input).when(takeover).then({ context: { netdevId: 'br3_kata', deviceId: '' } });
    given(input).when({ type: 'ADOPT', takeover: 'yes' } as never).then({ context: { netdevId: 'net-ep3', deviceId: 'virtio-net-ep3' } });
    const s = given(input, [takeover]).when({ type: 'HOT_DETACH' }).then({ state: 'teardown.unplug', spawns: ['hypervisor.hotunplug'] });
    expect(s.context).toMatchObject({ deviceId: '', hardAddr: '02:aa:00:00:00:03' });
  });
});

describe('a command forgets the previous operation\'s outcome', () => {
  it('a new attach after a rollback clears the error, warnings and goal is set afresh by the failure', () => {
    const rolledBack = [...HOT_ATTACHED.slice(0, 4), errorEvent('hotAttach.hotplug', boom), errorEvent('teardown.unplug', boom), doneEvent('teardown.lookupTap', { index: 7 }), doneEvent('teardown.setDown', {}), doneEvent('teardown.deleteTap', {})];
    const dirty = given(input, rolledBack).when().then({ state: 'dirty', context: { goal: 'rollback', op: 'hotAttach', tapVerified: true } });
    expect(dirty.context.error).toMatchObject({ step: 'hotplug' });
    expect(dirty.context.warnings).toEqual(['EIO']);
    // CLEANUP: a fresh teardown — no error, no warnings, the tap looked up again
    given(input, rolledBack).when({ type: 'CLEANUP' }).then({ state: 'teardown.unplug', context: { op: 'cleanup', goal: 'rollback', error: null, warnings: [], tapVerified: false } });
  });

  it('CLEANUP after a rolled-back attach ends created (the attach can be retried), not detached', () => {
    given(input, DIRTY_ROLLBACK).when({ type: 'CLEANUP' }, doneEvent('teardown.unplug', {})).then({ state: 'created', context: { goal: 'rollback', error: null, progress: NOTHING } });
  });

  it('CLEANUP after a failed detach ends detached', () => {
    const failedDetach = [...HOT_ATTACHED, { type: 'DETACH' }, errorEvent('teardown.unplug', boom), doneEvent('teardown.lookupTap', { index: 7 }), doneEvent('teardown.setDown', {}), doneEvent('teardown.deleteTap', {})];
    given(input, failedDetach).when().then({ state: 'dirty', context: { goal: 'detach', error: { op: 'detach', step: 'unplug' } } });
    given(input, failedDetach).when({ type: 'CLEANUP' }, doneEvent('teardown.unplug', {})).then({ state: 'detached', context: { goal: 'detach', op: 'cleanup', error: null } });
  });

  it('DETACH from dirty after a rollback: the goal becomes detach', () => {
    given(input, DIRTY_ROLLBACK).when({ type: 'DETACH' }, doneEvent('teardown.unplug', {})).then({ state: 'detached', context: { goal: 'detach', op: 'detach' } });
  });

  it('a detach of a cold-attached endpoint forgets the cold plug: the NIC goes with the VM', () => {
    given(input, ATTACHED)
      .when({ type: 'DETACH' })
      .then({ state: 'teardown.removeTc', context: { op: 'detach', goal: 'detach', coldplugArgs: [], progress: { coldplugged: false, tap: true, tcOrig: true } }, spawns: ['netlink.deleteIngressQdisc'] });
    given(input, ATTACHED).when({ type: 'HOT_DETACH' }).then({ context: { coldplugArgs: [], progress: { coldplugged: false } } });
  });
});

describe("upstream's netns rule belongs to Detach", () => {
  it('DETACH in a netns not ours leaves everything in it (the tap too) to its owner; only the VMM side is ours', () => {
    given(notOurs, HOT_ATTACHED).when({ type: 'DETACH' }).then({ state: 'teardown.unplug', context: { leftToNetnsOwner: true } });
    given(notOurs, ATTACHED).when({ type: 'DETACH' }).then({ state: 'detached', spawns: [], context: { leftToNetnsOwner: true, progress: { tap: true, tcOrig: true } } });
  });

  it('DETACH in our netns, or in the own netns (""), removes everything', () => {
    given(input, ATTACHED).when({ type: 'DETACH' }).then({ state: 'teardown.removeTc', context: { leftToNetnsOwner: false } });
    given({ ...notOurs, netnsPath: '' }, ATTACHED).when({ type: 'DETACH' }).then({ state: 'teardown.removeTc', context: { leftToNetnsOwner: false } });
  });

  it('HOT_DETACH and a new attach in a netns not ours: the rule does not apply (upstream HotDetach ignores it)', () => {
    given(notOurs, HOT_ATTACHED).when({ type: 'HOT_DETACH' }).then({ state: 'teardown.unplug', context: { leftToNetnsOwner: false } });
    given(notOurs, ATTACHED).when({ type: 'HOT_DETACH' }).then({ state: 'teardown.removeTc', context: { leftToNetnsOwner: false } });
    // after a Detach that left the tap to the owner: a new HOT_ATTACH starts without the rule
    given(notOurs, [...HOT_ATTACHED, { type: 'DETACH' }, errorEvent('teardown.unplug', boom)])
      .when({ type: 'HOT_DETACH' })
      .then({ state: 'teardown.unplug', context: { leftToNetnsOwner: false } });
  });
});

describe('the inputs of the effects (the adapter calls the runtime makes)', () => {
  it("cold attach sets the tap to the original link's MTU; a later hot attach to the endpoint's own", () => {
    const s = given(input, ATTACHED.slice(0, 3)).when().then({ state: 'attach.setMtu' });
    expect(pendingEffect(s.value, s.context)?.input).toEqual({ netns: '/run/netns/x', name: 'tap3_kata', mtu: 1450 });
    // the cold attach fails later and rolls back; a hot attach then uses the endpoint's MTU, not the stale original one
    const rolledBack = [...ATTACHED.slice(0, 4), errorEvent('attach.setUp', boom), doneEvent('teardown.lookupTap', { index: 7 }), doneEvent('teardown.deleteTap', {})];
    const h = given(input, rolledBack).when({ type: 'HOT_ATTACH' }, doneEvent('hotAttach.createTap', { index: 8, queues: 2 })).then({ state: 'hotAttach.setMtu', context: { origMtu: 1450 } });
    expect(pendingEffect(h.value, h.context)?.input).toEqual({ netns: '/run/netns/x', name: 'tap3_kata', mtu: 1400 });
    const failed = given(input, rolledBack).when({ type: 'HOT_ATTACH' }, doneEvent('hotAttach.createTap', { index: 8, queues: 2 }), errorEvent('hotAttach.setMtu', boom)).then({});
    expect(failed.context.error?.message).toBe('Could not set TAP MTU 1400: EIO');
  });

  it('the unplug names the device it plugged (no MAC lookup); the PCI path is cleared once unplugged', () => {
    const s = given(input, HOT_ATTACHED).when({ type: 'HOT_DETACH' }).then({ state: 'teardown.unplug' });
    expect(pendingEffect(s.value, s.context)?.input).toEqual({ netdevId: 'net-ep3', deviceId: 'virtio-net-ep3', queues: 2 });
    const t = given(input, [...HOT_ATTACHED, { type: 'HOT_DETACH' }]).when(doneEvent('teardown.unplug', {})).then({ state: 'teardown.lookupTap', context: { pciPath: '', progress: { plugged: false } } });
    expect(pendingEffect(t.value, t.context)?.input).toEqual({ netns: '/run/netns/x', name: 'tap3_kata' });
  });

  it('setDown sets the tap down (up: false)', () => {
    const s = given(input, [...HOT_ATTACHED, { type: 'HOT_DETACH' }, doneEvent('teardown.unplug', {})]).when(doneEvent('teardown.lookupTap', { index: 7 })).then({ state: 'teardown.setDown' });
    expect(pendingEffect(s.value, s.context)?.input).toEqual({ netns: '/run/netns/x', name: 'tap3_kata', up: false });
  });
});

describe('teardown outcomes', () => {
  const toLookup = [...HOT_ATTACHED, { type: 'HOT_DETACH' }, doneEvent('teardown.unplug', {})];

  it('the tap already gone at lookup: nothing more to do, detached', () => {
    given(input, toLookup).when(doneEvent('teardown.lookupTap', { absent: true })).then({ state: 'detached', spawns: [], context: { progress: NOTHING } });
  });

  it('the tap gone when setting it down: nothing to delete, detached', () => {
    given(input, toLookup)
      .when(doneEvent('teardown.lookupTap', { index: 7 }), doneEvent('teardown.setDown', { absent: true }))
      .then({ state: 'detached', spawns: [], context: { progress: NOTHING } });
  });

  it('set down but not deleted: dirty with the tap down; CLEANUP looks it up and deletes it without setting it down again', () => {
    const dirty = [...toLookup, doneEvent('teardown.lookupTap', { index: 7 }), doneEvent('teardown.setDown', {}), errorEvent('teardown.deleteTap', boom)];
    given(input, dirty).when().then({ state: 'dirty', context: { progress: { tap: true, up: false } } });
    given(input, dirty).when({ type: 'CLEANUP' }).then({ state: 'teardown.lookupTap' });
    given(input, dirty).when({ type: 'CLEANUP' }, doneEvent('teardown.lookupTap', { index: 7 })).then({ state: 'teardown.deleteTap', spawns: ['netlink.deleteLink'] });
  });

  it('a CLEANUP after a rollback reports its own first failure as the error (op cleanup)', () => {
    const s = given(input, DIRTY_ROLLBACK).when({ type: 'CLEANUP' }, errorEvent('teardown.unplug', { name: 'HypervisorError', message: 'stuck' })).then({ state: 'dirty' });
    expect(s.context.error).toMatchObject({ op: 'cleanup', step: 'unplug', message: 'stuck' });
    expect(s.context.goal).toBe('rollback');
  });

  it('model none: the attach records upstream\'s error and runs nothing', () => {
    const s = given({ ...input, model: 'none' }).when({ type: 'ATTACH' }).then({ state: 'created', spawns: [] });
    expect(s.context.op).toBe('attach');
    expect(s.context.error).toEqual({ op: 'attach', step: 'model', message: 'Invalid internetworking model', cause: { name: 'EndpointError', message: 'Invalid internetworking model' } });
  });
});
