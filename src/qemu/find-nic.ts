/**
 * Find a virtio-net NIC by its guest MAC over QMP: walk `/machine/peripheral` (qom-list) and
 * `qom-get` each virtio-net device's `mac` and `netdev`. This is how a NIC plugged by upstream's
 * runtime — which never persists the device id — is found again: by `TAPIface.HardAddr`.
 */
import type { FoundNic } from '../adapters/hypervisor.js';
import { isNotFound } from './hotplug.js';
import type { QmpClient } from './qmp-client.js';

/** Every virtio-net device under /machine/peripheral whose `mac` is `mac` (case-insensitive). */
export async function findNicsByMac(client: QmpClient, mac: string): Promise<FoundNic[]> {
  const list = (await client.execute('qom-list', { path: '/machine/peripheral' })) as { name: string; type: string }[];
  const nics = list.filter((p) => /^child<virtio-net-/.test(p.type)).map((p) => p.name);
  const want = mac.toLowerCase();
  const found: FoundNic[] = [];
  for (const id of nics) {
    const path = `/machine/peripheral/${id}`;
    try {
      const m = await client.execute('qom-get', { path, property: 'mac' });
      if (typeof m !== 'string' || m.toLowerCase() !== want) continue;
      const netdev = await client.execute('qom-get', { path, property: 'netdev' });
      found.push({ deviceId: id, netdevId: typeof netdev === 'string' ? netdev : '' });
    } catch (e) {
      if (isNotFound(e)) continue; // removed meanwhile
      throw e;
    }
  }
  return found;
}
