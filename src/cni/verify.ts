/**
 * What CHECK (and an ADD repeated after a finished ADD) verifies of an attached endpoint against
 * the kernel: the tap (a tap with the store's queue mode, the CNI interface's MTU, up), both
 * ingress qdiscs and both redirect filters, the CNI interface's MAC the guest was given.
 * Read-only: only probes.
 */
import type { NetlinkAdapter } from '../adapters/netlink.js';
import type { EndpointView } from '../runtime/tapstore.js';

/** The differences found, as short sentences (empty: all as the store says). */
export async function verifyAttached(nl: NetlinkAdapter, v: EndpointView): Promise<string[]> {
  const problems: string[] = [];
  if (v.state !== 'attached') return [`endpoint ${v.id} is ${v.state} (${v.status}), not attached`];
  const ns = v.netnsPath;
  if (ns !== '' && !(await nl.netnsExists(ns))) return [`the network namespace ${ns} is gone`];
  const [tap, orig] = await Promise.all([nl.probeLink(ns, v.tapName), nl.probeLink(ns, v.name)]);
  if (!orig) problems.push(`the CNI interface ${v.name} is missing in ${ns}`);
  if (!tap) problems.push(`the tap ${v.tapName} is missing in ${ns}`);
  if (tap) {
    if (tap.kind !== 'tun' || tap.tun?.mode !== 'tap') problems.push(`${v.tapName} is not a tap (kind ${tap.kind || '?'}${tap.tun ? `, mode ${tap.tun.mode}` : ''})`);
    else if (tap.tun.multiQueue !== v.queues > 0)
      problems.push(`${v.tapName} is ${tap.tun.multiQueue ? '' : 'not '}multi-queue, the store says ${v.queues > 0 ? `${v.queues} queue(s)` : 'single-queue'}`);
    if (!tap.flags.up) problems.push(`${v.tapName} is down`);
    if (orig && tap.mtu !== orig.mtu) problems.push(`${v.tapName} has MTU ${tap.mtu}, ${v.name} has ${orig.mtu}`);
    if (!(await nl.hasIngressQdisc(ns, v.tapName))) problems.push(`${v.tapName} has no ingress qdisc`);
    else if (!(await nl.listRedirects(ns, v.tapName)).includes(v.name)) problems.push(`${v.tapName}'s ingress does not redirect to ${v.name}`);
  }
  if (orig) {
    if (v.hardAddr && orig.mac !== v.hardAddr) problems.push(`${v.name} has MAC ${orig.mac}, the guest was given ${v.hardAddr}`);
    if (!(await nl.hasIngressQdisc(ns, v.name))) problems.push(`${v.name} has no ingress qdisc`);
    else if (!(await nl.listRedirects(ns, v.name)).includes(v.tapName)) problems.push(`${v.name}'s ingress does not redirect to ${v.tapName}`);
  }
  return problems;
}
