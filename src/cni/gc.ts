/**
 * GC (spec 1.1): detach every attachment of this network (`name`) under `stateDir` that is not in
 * `cni.dev/valid-attachments`, and remove stores left without one. Attachments of other
 * networks sharing the stateDir are left alone (network-names.ts). A store another plugin holds
 * is skipped (it is in use). STATUS (spec 1.1): ready when `stateDir` is usable.
 */
import * as fs from 'node:fs';
import type { TapstateCniConfig } from './config.js';
import { CniConfigError, CniError } from './errors.js';
import { StoreLockedError, listContainerStores, openContainerStore } from './container-store.js';
import { allDetached, endpointBase } from './attachment.js';
import { readNetworks } from './network-names.js';

export async function cniGc(cfg: TapstateCniConfig, processEnv: NodeJS.ProcessEnv): Promise<void> {
  if (!cfg.validAttachments) throw new CniConfigError('cni.dev/valid-attachments', 'required', 'GC needs cni.dev/valid-attachments (the attachments to keep)');
  const keep = new Set(cfg.validAttachments.map((a) => `${a.containerID}\0${endpointBase(a.ifname)}`));
  const failures: string[] = [];
  for (const cid of listContainerStores(cfg.stateDir)) {
    let cs;
    try {
      cs = await openContainerStore(cfg.stateDir, cid, { env: processEnv });
    } catch (e) {
      if (e instanceof StoreLockedError) continue;
      failures.push(`${cid}: ${(e as Error).message}`);
      continue;
    }
    if (!cs) continue;
    let remove = false;
    try {
      const networks = readNetworks(cs.dir);
      for (const v of cs.store.list()) {
        if (v.state === 'detached') continue;
        const network = networks[v.id];
        if (network !== undefined && network !== cfg.name) continue; // another network's: its own GC decides
        const base = v.id.replace(/-\d+$/, '');
        if (keep.has(`${cid}\0${v.id}`) || keep.has(`${cid}\0${base}`)) continue;
        await cs.store.detach(v.id).catch((e: Error) => failures.push(`${cid}/${v.id}: ${e.message}`));
      }
      remove = allDetached(cs.store);
    } finally {
      if (remove) await cs.remove();
      else await cs.close();
    }
  }
  if (failures.length) throw new CniError(100, `GC could not remove ${failures.length} attachment(s): ${failures[0]}`, failures.join('; '));
}

/** STATUS: `stateDir` exists (or can be made) and is writable; else code 50 (plugin not available). */
export function cniStatus(cfg: TapstateCniConfig): void {
  try {
    fs.mkdirSync(cfg.stateDir, { recursive: true, mode: 0o700 });
    fs.accessSync(cfg.stateDir, fs.constants.W_OK);
  } catch (e) {
    throw new CniError(50, `stateDir ${cfg.stateDir} is not usable: ${(e as Error).message}`);
  }
}
