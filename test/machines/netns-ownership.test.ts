/**
 * Regression (issue #10, bug 1): upstream's "netns not ours" rule (`!netNsCreated && netNsPath
 * != ""` → nothing inside the netns is touched by Detach) must survive a teardown that ended
 * `dirty`: the CLEANUP and DETACH that follow must not set down, strip or delete the tap either.
 */
import { describe, expect, it } from 'vitest';
import { memoryWorld, NETNS } from '../support/memory-world.js';

async function dirtyAfterDetach() {
  const w = memoryWorld({ netnsCreated: false });
  const store = await w.open();
  store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
  await store.hotAttach('ep0');
  w.hypervisor.stickNextUnplug();
  await expect(store.detach('ep0')).rejects.toThrow(/DEVICE_DELETED never arrived/);
  expect(store.get('ep0').state).toBe('dirty');
  expect(w.taps()).toEqual([`${NETNS}:tap0_kata`]);
  w.hypervisor.reset(); // the stuck unplug completes (QEMU: system_reset)
  return { w, store };
}

describe('netns not ours: the rule outlives a dirty teardown', () => {
  for (const cmd of ['CLEANUP', 'DETACH'] as const) {
    it(`hot-attached, DETACH with a failing unplug → dirty → ${cmd}: the tap is left to the netns owner, untouched`, async () => {
      const { w, store } = await dirtyAfterDetach();
      const tapBefore = w.kernel.snapshot().netns.find((n) => n.path === NETNS)!.links.find((l) => l.name === 'tap0_kata')!;
      const v = await store.send('ep0', { type: cmd });
      expect(v.state).toBe('detached');
      const tapAfter = w.kernel.snapshot().netns.find((n) => n.path === NETNS)!.links.find((l) => l.name === 'tap0_kata');
      // neither deleted nor set down
      expect(tapAfter).toMatchObject({ name: 'tap0_kata', index: tapBefore.index, flags: { up: true } });
      expect(w.hypervisor.devices()).toEqual([]);
      expect(w.hypervisor.netdevs()).toEqual([]);
      await store.close();
    });
  }

  it('HOT_DETACH from dirty still removes the tap (upstream HotDetach ignores netNsCreated)', async () => {
    const { w, store } = await dirtyAfterDetach();
    expect((await store.hotDetach('ep0')).state).toBe('detached');
    expect(w.taps()).toEqual([]);
    await store.close();
  });
});
