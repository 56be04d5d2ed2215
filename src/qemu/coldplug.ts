/**
 * Cold plug: the `-netdev`/`-device` arguments that start QEMU with a tap-backed virtio-net NIC,
 * in upstream's shape. Pure (no QMP, no fds opened here).
 *
 * With fds: `-netdev tap,id=<netdevId>,fds=3:4[,vhost=on[,vhostfds=5:6]]` — the numbers are the positions the
 * launcher makes the child inherit them at. Without fds: the `ifname=<tap>,script=no,downscript=no`
 * form (QEMU must then run in the tap's netns).
 */
import type { NicSpec } from '../adapters/hypervisor.js';
import { multiQueue, vectorsFor } from './nic-spec.js';

/** Where the cold-plugged device goes. Omit to let QEMU choose (pcie.0, not hot-unpluggable). */
export interface ColdplugPlacement {
  bus: string;
  addr: number;
}

/** The argument pairs for one NIC. `fdNumbers` are the child-side fd numbers (empty: ifname form). */
export function coldplugArgs(nic: NicSpec, fdNumbers: readonly number[], placement?: ColdplugPlacement, vhostFdNumbers: readonly number[] = []): string[] {
  const netdev = [`tap`, `id=${nic.netdevId}`];
  if (fdNumbers.length > 0) {
    netdev.push(`fds=${fdNumbers.join(':')}`);
  } else {
    netdev.push(`ifname=${nic.tapName}`, 'script=no', 'downscript=no');
    if (nic.queues > 1) netdev.push(`queues=${nic.queues}`);
  }
  // With vhost: the /dev/vhost-net fds opened for it (upstream's `vhostfds=`), or, when none are
  // given, QEMU opens /dev/vhost-net itself
  if (nic.vhost) netdev.push('vhost=on');
  if (nic.vhost && vhostFdNumbers.length > 0) netdev.push(`vhostfds=${vhostFdNumbers.join(':')}`);
  const device = [`driver=virtio-net-pci`, `netdev=${nic.netdevId}`, `mac=${nic.mac}`, 'disable-modern=false'];
  // upstream (govmm): mq=on,vectors=2N+2 whenever fds are passed and queues > 0. The ifname= form
  // is tapstate's (QEMU opens the tap itself): mq only with more than one queue.
  if (fdNumbers.length > 0 ? multiQueue(nic.queues) : nic.queues > 1) device.push('mq=on', `vectors=${vectorsFor(nic.queues)}`);
  device.push('romfile=', `id=${nic.deviceId}`);
  if (placement) device.push(`bus=${placement.bus}`, `addr=${placement.addr.toString(16)}`);
  return ['-netdev', netdev.join(','), '-device', device.join(',')];
}

/** The child-side fd numbers for `count` fds starting at `base`. */
export function fdNumbers(base: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => base + i);
}
