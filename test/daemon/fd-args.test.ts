/** The VMM arguments of the fd hand-over: queue fds from 3, then the vhost fds. */
import { describe, expect, it } from 'vitest';
import { handoverArgs } from '../../src/daemon/fd-handover.js';

const nic = { netdevId: 'net-ep0', deviceId: 'virtio-net-ep0', mac: '02:00:00:00:00:01', queues: 2, tapName: 'tap0_kata', vhost: false };

describe('handoverArgs', () => {
  it('queue fds at 3, 4', () => {
    expect(handoverArgs(nic, 2, 0)).toEqual([
      '-netdev',
      'tap,id=net-ep0,fds=3:4',
      '-device',
      'driver=virtio-net-pci,netdev=net-ep0,mac=02:00:00:00:00:01,disable-modern=false,mq=on,vectors=6,romfile=,id=virtio-net-ep0',
    ]);
  });
  it('with vhost: the vhost fds follow the queue fds', () => {
    expect(handoverArgs({ ...nic, vhost: true }, 2, 2)[1]).toBe('tap,id=net-ep0,fds=3:4,vhost=on,vhostfds=5:6');
  });
});
