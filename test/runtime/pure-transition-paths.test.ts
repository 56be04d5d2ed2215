/**
 * The runtime's transition (src/runtime/pure-transition.ts: one inert scope, reused) gives what
 * XState's `transition()` gives, event by event along attach, detach, rollback and cleanup
 * paths; and a log the driver wrote through failures and rollbacks reopens with `verify: true`
 * (every recorded state stamp checked). pure-transition.test.ts compares the two on a real history.
 */
import { describe, expect, it } from 'vitest';
import { transition } from 'xstate';
import { endpointMachine, pendingEffect } from '../../machines/index.js';
import { NetlinkError } from '../../src/adapters/netlink.js';
import { nextSnapshot } from '../../src/runtime/pure-transition.js';
import { createFromInput, type EndpointSnapshot } from '../../src/runtime/replay.js';
import { memoryWorld, NETNS } from '../support/memory-world.js';

const same = (a: EndpointSnapshot, b: EndpointSnapshot) => {
  expect(a.value).toEqual(b.value);
  expect(a.context).toEqual(b.context);
  expect(a.status).toEqual(b.status);
};

describe('nextSnapshot', () => {
  it('equals xstate transition() event by event, through success, failure and rollback', () => {
    const input = { idx: 0, netnsPath: NETNS, netnsCreated: true, vcpus: 2, vhost: false, mac: '02:00:00:00:00:01', id: 'ep0' };
    let mine = createFromInput(input);
    let theirs = createFromInput(input);
    const step = (event: { type: string; [k: string]: unknown }) => {
      mine = nextSnapshot(mine, event as never);
      [theirs] = transition(endpointMachine, theirs, event as never);
      same(mine, theirs);
    };
    // outputs by effect src, as the adapters give them
    const output: Record<string, unknown> = {
      'netlink.createTap': { index: 7, queues: 2 },
      'netlink.getLink': { index: 2, mtu: 1500, mac: '02:aa:bb:cc:dd:01' },
      'netlink.getTap': { index: 7 },
      'hypervisor.hotplug': { pciPath: '01/00' },
      'hypervisor.coldplug': { args: ['-netdev', 'x'], inheritFds: [] },
    };
    const settle = (failAt?: string) => {
      for (let i = 0; i < 30; i++) {
        const eff = pendingEffect(mine.value, mine.context);
        if (!eff) return;
        if (eff.src === failAt) {
          step({ type: `xstate.error.actor.${eff.id}`, error: { name: 'NetlinkError', message: 'boom', errno: 'EIO' } });
          failAt = undefined;
        } else step({ type: `xstate.done.actor.${eff.id}`, output: output[eff.src] ?? {} });
      }
      throw new Error('did not settle');
    };
    step({ type: 'HOT_ATTACH' });
    settle();
    step({ type: 'HOT_DETACH' });
    settle('netlink.setUp'); // a teardown step fails: dirty
    if (mine.context.error) step({ type: 'CLEANUP' });
    settle();
    mine = theirs = createFromInput(input);
    step({ type: 'ATTACH' });
    settle('hypervisor.coldplug'); // the last attach step fails: rolled back
    step({ type: 'ATTACH' });
    settle();
    step({ type: 'DETACH' });
    settle();
    expect(mine.status).toBe('done');
  });

  it('a store driven through failures and rollbacks reopens with verify: every recorded stamp checked', async () => {
    const w = memoryWorld({ vcpus: 2 });
    let fail = 0;
    const store = await w.open({
      faults: ({ method }) => (['hotplug', 'setUp', 'addRedirect'].includes(method) && fail++ % 3 === 0 ? { fail: new NetlinkError({ op: method, netns: NETNS, errno: 'EIO', errnoNumber: 5 }) } : 'ok'),
    });
    for (let i = 0; i < 12; i++) {
      const id = store.createEndpoint({ idx: i, mac: `02:00:00:00:01:${(i + 16).toString(16)}`, ...(i % 2 ? { ifName: 'eth0' } : {}) }).id;
      for (const op of i % 2 ? (['attach', 'detach'] as const) : (['hotAttach', 'hotDetach'] as const)) await store[op](id).catch(() => undefined);
      if (store.list().some((v) => v.id === id && v.state === 'dirty')) await store.cleanup(id).catch(() => undefined);
    }
    const before = store.list();
    await store.close();
    const again = await w.open({ verify: true, recover: false });
    expect(again.list()).toEqual(before);
    await again.close();
  });
});
