/**
 * Find a virtio-net NIC by its guest MAC over QMP: walk `/machine/peripheral` and
 * `/machine/peripheral-anon` (qom-list) and `qom-get` each virtio-net device's `mac` and `netdev`.
 * This is how a NIC plugged by upstream's runtime — which never persists the device id — is found
 * again: by `TAPIface.HardAddr`. A NIC created without an id (`-device virtio-net-pci,netdev=…,mac=…`
 * on a foreign command line, a `device_add` without `id` by another tool) lives under
 * `/machine/peripheral-anon/device[N]`: it is found too, and named by that QOM path, which
 * QEMU's `device_del` takes in place of an id (checked on QEMU 7.2).
 */
import type { FoundNic } from '../adapters/hypervisor.js';
import { isNotFound } from './hotplug.js';
import type { QmpClient } from './qmp-client.js';

/** QOM containers of `-device`s: with an id (the child is named by it) and without (`device[N]`). */
const CONTAINERS = [
  { path: '/machine/peripheral', named: true },
  { path: '/machine/peripheral-anon', named: false },
] as const;

/**
 * Every virtio-net device whose `mac` is `mac` (case-insensitive). `deviceId` is the device's id,
 * or its QOM path (`/machine/peripheral-anon/device[3]`) when it has none.
 */
export async function findNicsByMac(client: QmpClient, mac: string): Promise<FoundNic[]> {
  const lists = await Promise.all(
    CONTAINERS.map(async (c) => {
      const list = (await client.execute('qom-list', { path: c.path })) as { name: string; type: string }[];
      return list.filter((p) => /^child<virtio-net-/.test(p.type)).map((p) => ({ path: `${c.path}/${p.name}`, deviceId: c.named ? p.name : `${c.path}/${p.name}` }));
    }),
  );
  const want = mac.toLowerCase();
  const found: FoundNic[] = [];
  for (const { path, deviceId } of lists.flat()) {
    try {
      const m = await client.execute('qom-get', { path, property: 'mac' });
      if (typeof m !== 'string' || m.toLowerCase() !== want) continue;
      const netdev = await client.execute('qom-get', { path, property: 'netdev' });
      found.push({ deviceId, netdevId: typeof netdev === 'string' ? netdev : '' });
    } catch (e) {
      if (isNotFound(e)) continue; // removed meanwhile
      throw e;
    }
  }
  return found;
}
