/**
 * ADD for a container id whose store was made for another network namespace: a runtime that
 * reuses container ids (podman keeps them across restarts and reboots) after a DEL that never
 * came — a reboot empties /run/netns but not the stateDir. The store acts only in its own netns,
 * so it cannot take the new one's attachment.
 *
 * - The old netns is gone: what was attached died with it. The old attachments are detached
 *   (the journal records it; nothing left in the kernel) and the store removed, so ADD makes a
 *   fresh one for CNI_NETNS.
 * - The old netns still exists and has attachments of this container: two netns for one container
 *   is a runtime error; nothing is touched (code 4: DEL those first).
 */
import { CniEnvError } from './errors.js';
import type { ContainerStore } from './container-store.js';

/** Returns true when the store was removed (open it again to create a fresh one). */
export async function retireStoreOfOtherNetns(cs: ContainerStore, containerId: string, netns: string): Promise<boolean> {
  const old = cs.sandbox.netnsPath;
  if (old === netns) return false;
  const live = cs.store.list().filter((v) => v.state !== 'detached');
  if (live.length && (await cs.adapters.netlink.netnsExists(old))) {
    await cs.close();
    throw new CniEnvError(
      'CNI_NETNS',
      'same-netns',
      `CNI_NETNS ${netns}: container ${containerId} still has attachments in the network namespace ${old} (${live.map((v) => v.id).join(', ')}): DEL them first`,
    );
  }
  try {
    for (const v of live) await cs.store.detach(v.id);
  } catch (e) {
    await cs.close();
    throw e;
  }
  await cs.remove();
  return true;
}
