import { describe, expect, it } from 'vitest';
import { initialTransition, transition } from 'xstate';
import { endpointMachine } from '../../machines/index.js';

describe('smoke', () => {
  it('walks hot attach', () => {
    let [s, a] = initialTransition(endpointMachine, { id: 'ep0', idx: 0, mac: '02:00:00:00:00:01', netnsPath: '/run/netns/x', netnsCreated: true, vcpus: 2 });
    [s, a] = transition(endpointMachine, s, { type: 'HOT_ATTACH' });
    console.log(JSON.stringify(s.value), a.map((x: any) => [x.type, x.params?.src, x.params?.id, JSON.stringify(x.params?.input)]));
    [s, a] = transition(endpointMachine, s, { type: 'xstate.done.actor.hotAttach.createTap', output: { index: 5, queues: 2 } } as any);
    console.log(JSON.stringify(s.value), a.map((x: any) => [x.type, x.params?.src, x.params?.id]));
    [s, a] = transition(endpointMachine, s, { type: 'xstate.error.actor.hotAttach.setMtu', error: { name: 'NetlinkError', message: 'boom' } } as any);
    console.log(JSON.stringify(s.value), s.context.error, a.map((x: any) => [x.type, x.params?.src, x.params?.id]));
    [s, a] = transition(endpointMachine, s, { type: 'xstate.done.actor.teardown.deleteTap', output: {} } as any);
    console.log(JSON.stringify(s.value), s.context.progress);
    expect(s.value).toBe('created');
  });
});
