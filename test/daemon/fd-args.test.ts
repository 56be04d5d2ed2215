/** The `fds=` form of an endpoint's cold-plug arguments, as the fd hand-over returns it. */
import { describe, expect, it } from 'vitest';
import { fdsArgs } from '../../src/daemon/fd-handover.js';
import { coldplugArgs } from '../../src/qemu/coldplug.js';

const nic = { netdevId: 'net-ep0', deviceId: 'virtio-net-ep0', mac: '02:00:00:00:00:01', queues: 2, tapName: 'tap0_kata', vhost: false };

describe('fdsArgs', () => {
  it('turns the ifname= form into exactly what coldplugArgs gives for fds 3, 4', () => {
    expect(fdsArgs(coldplugArgs(nic, []), 2)).toEqual(coldplugArgs(nic, [3, 4]));
  });
  it('keeps vhost=on and a single queue', () => {
    const one = { ...nic, queues: 1, vhost: true };
    expect(fdsArgs(coldplugArgs(one, []), 1)).toEqual(coldplugArgs(one, [3]));
  });
});
