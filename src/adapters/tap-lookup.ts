/**
 * upstream getLinkByName(name, &netlink.Tuntap{}): look a link up expecting a tuntap. Teardown
 * runs it before it sets down or deletes the link called `tap<idx>_kata`, so that a link tapstate
 * did not create (a `dummy`, a `veth`, a tun in TUN mode) is never set down or deleted by name.
 * Built on {@link NetlinkAdapter.getLink}, so the real adapter and the in-memory kernel share it
 * (checked by the netlink contract suite).
 */
import { NetlinkError, type LinkInfo, type NetlinkAdapter } from './netlink.js';

/**
 * The errno name a wrong link kind reports. No syscall failed (errnoNumber 0, like a validation
 * error); the name is the closest errno, "wrong medium type".
 */
export const WRONG_KIND_ERRNO = 'EMEDIUMTYPE';

/** upstream's `link.Type()` wording for a link's kind. */
export function linkType(l: Pick<LinkInfo, 'kind' | 'tun'>): string {
  if (l.kind === 'tun') return l.tun?.mode === 'tun' ? 'tuntap (TUN mode)' : 'tuntap';
  return l.kind === '' ? 'device' : l.kind;
}

/**
 * The link `name` if it is a tun/tap in TAP mode. Otherwise a {@link NetlinkError} of op
 * `getTap` with upstream's message: `LinkByName() failed for tuntap name <name>: <cause>` (the
 * lookup's errno, e.g. `ENODEV`, is kept) or `Incorrect link type <kind>, expecting tuntap`
 * (errno {@link WRONG_KIND_ERRNO}).
 */
export async function getTap(nl: NetlinkAdapter, netns: string, name: string): Promise<LinkInfo> {
  let l: LinkInfo;
  try {
    l = await nl.getLink(netns, name);
  } catch (e) {
    if (!(e instanceof NetlinkError)) throw e;
    throw new NetlinkError({
      op: 'getTap',
      link: name,
      netns,
      errno: e.errno,
      errnoNumber: e.errnoNumber,
      extack: e.extack,
      message: `LinkByName() failed for tuntap name ${name}: ${e.message}`,
    });
  }
  if (l.kind !== 'tun' || l.tun?.mode !== 'tap') {
    throw new NetlinkError({
      op: 'getTap',
      link: name,
      netns,
      errno: WRONG_KIND_ERRNO,
      errnoNumber: 0,
      message: `Incorrect link type ${linkType(l)}, expecting tuntap`,
    });
  }
  return l;
}
