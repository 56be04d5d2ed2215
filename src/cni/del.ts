/**
 * DEL: remove everything tapstate-cni made for (container id, CNI_IFNAME), found from the store
 * — never from prevResult, which a runtime may not have (an ADD killed before printing). Opening
 * recovers first: an interrupted ADD is rolled back, an interrupted DEL finished. Succeeds when
 * the store, the tap or the netns is already gone. When the container has no attachment left,
 * its store directory is removed.
 */
import type { TapstateCniConfig } from './config.js';
import type { CniEnv } from './env.js';
import { openContainerStore } from './container-store.js';
import { stderrLine } from './stderr.js';
import { allDetached, liveEndpoints } from './attachment.js';

export async function cniDel(env: CniEnv, cfg: TapstateCniConfig, processEnv: NodeJS.ProcessEnv): Promise<void> {
  const cs = await openContainerStore(cfg.stateDir, env.containerId, { env: processEnv, onRecovered: stderrLine });
  if (!cs) return; // nothing of ours was ever made (the store comes before any effect)
  let remove = false;
  try {
    for (const v of liveEndpoints(cs.store, env.ifName)) await cs.store.detach(v.id);
    remove = allDetached(cs.store);
  } finally {
    if (remove) await cs.remove();
    else await cs.close();
  }
}
