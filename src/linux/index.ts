/** The real Linux netlink adapter (koffi → libc). */
export { LinuxNetlinkAdapter, type LinuxNetlinkAdapterOptions } from './adapter.js';
export { NetlinkCodecError } from './rtnetlink-codec.js';
