/**
 * Regression (issue #10, bug 3): teardown removed whatever link was called `tap<idx>_kata`. For
 * an adopted endpoint (persist.json `load`) tapstate did not create that link, and whatever
 * carries the name at teardown time may not be the tap that was adopted: if it is not a tun/tap
 * in TAP mode it must be neither set down nor deleted; the endpoint ends `dirty` with upstream's
 * `Could not get TAP interface: Incorrect link type …, expecting tuntap`. (`load` itself no
 * longer adopts a non-tap link, #13.)
 */
import { describe, expect, it } from 'vitest';
import { memoryWorld, NETNS } from '../support/memory-world.js';
import { EndpointOperationError } from '../../src/runtime/errors.js';

const persist = { NetNsPath: NETNS, NetNsCreated: true, Endpoints: [{ Type: 'tuntap', Tuntap: { TuntapInterface: { Name: 'eth9', TAPIface: { Name: 'tap0_kata', HardAddr: '02:00:00:00:00:01' } } } }] };

describe('teardown never touches a link of the tap’s name that is not a tap', () => {
  for (const kind of ['dummy', 'veth'] as const) {
    for (const cmd of ['HOT_DETACH', 'DETACH'] as const) {
      it(`adopted endpoint, a ${kind} called tap0_kata, ${cmd}: left up and in place, endpoint dirty with the reason`, async () => {
        const w = memoryWorld();
        const made = await w.kernel.createTap({ netns: NETNS, name: 'tap0_kata', queues: 1 });
        await w.kernel.closeFds(made.fds);
        const store = await w.open();
        const { endpoints } = await store.load(persist);
        const id = endpoints[0]!.id;
        expect(store.get(id).state).toBe('hotAttached'); // adopted: its tap existed
        // then someone replaces the tap by a link of another kind, under the same name
        await w.kernel.deleteLink(NETNS, 'tap0_kata');
        w.kernel.addLink(NETNS, 'tap0_kata', { kind, up: true });
        const err = await store.send(id, { type: cmd }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(EndpointOperationError);
        expect((err as Error).message).toContain(`Could not get TAP interface: Incorrect link type ${kind}, expecting tuntap`);
        const v = store.get(id);
        expect(v.state).toBe('dirty');
        expect(v.error?.message).toBe(`Could not get TAP interface: Incorrect link type ${kind}, expecting tuntap`);
        const link = w.kernel.snapshot().netns.find((n) => n.path === NETNS)!.links.find((l) => l.name === 'tap0_kata');
        expect(link).toMatchObject({ kind, flags: { up: true } });
        // CLEANUP refuses again, with the same reason; once the link is gone, it completes
        await expect(store.cleanup(id)).rejects.toThrow(/Incorrect link type/);
        expect(w.kernel.snapshot().netns.find((n) => n.path === NETNS)!.links.some((l) => l.name === 'tap0_kata')).toBe(true);
        await w.kernel.deleteLink(NETNS, 'tap0_kata');
        expect((await store.cleanup(id)).state).toBe('detached');
        await store.close();
      });
    }
  }
});
