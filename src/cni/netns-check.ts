/**
 * ADD's check of CNI_NETNS before anything is created: it must be a network namespace (a
 * regular file, a directory or a mount namespace is not: the same nsfs + NS_GET_NSTYPE test the
 * Linux adapter makes), and not the plugin's own one — the host's. A tap and a match-all ingress
 * redirect on the host's CNI_IFNAME would steal every frame the host receives on it.
 */
import * as fs from 'node:fs';
import { libc } from '../linux/libc.js';
import { openNetns } from '../linux/netns.js';
import { ENOENT, ENOTDIR, errnoName } from '../linux/errno.js';
import { CniEnvError } from './errors.js';

const HOST_NETNS = '/proc/self/ns/net';

export function checkAddNetns(netns: string): void {
  const l = libc();
  const fd = openNetns(l, netns);
  if (typeof fd !== 'number') {
    if (fd.errno === ENOENT || fd.errno === ENOTDIR) throw new CniEnvError('CNI_NETNS', 'exists', `CNI_NETNS ${netns}: no such network namespace`);
    throw new CniEnvError('CNI_NETNS', 'netns', `CNI_NETNS ${netns}: not a network namespace (${fd.check ?? `${fd.stage}: ${errnoName(fd.errno)}`})`);
  }
  try {
    const ns = fs.fstatSync(fd);
    const host = fs.statSync(HOST_NETNS);
    if (ns.dev === host.dev && ns.ino === host.ino)
      throw new CniEnvError('CNI_NETNS', 'not-host', `CNI_NETNS ${netns} is the plugin's own (the host's) network namespace: tapstate-cni attaches only in a container's`);
  } finally {
    l.close(fd);
  }
}
