/**
 * Parse the HMP `info network` text (via QMP `human-monitor-command`) into netdev ids. Pure.
 *
 * Why HMP: in QEMU 7.2 netdevs are not QOM objects (`qom-list /objects` does not show them) and
 * no QMP query lists them (`query-rx-filter` lists NICs only), so the read-only `info network`
 * is the reliable way. Its lines look like
 * `virtio-x: index=0,type=nic,model=virtio-net-pci,macaddr=…` with the peer netdev indented as
 * ` \ tap0: index=0,type=tap,fd=…`; unattached netdevs appear unindented. Entries of type `nic`
 * are devices, everything else a netdev (a multiqueue tap shows one line per queue, same id).
 */

/** One net client line of `info network`. */
export interface NetClientLine {
  name: string;
  type: string;
  /** true for an indented ` \ peer` line. */
  peer: boolean;
}

const LINE = /^(\s*\\\s+)?([^\s:]+): index=\d+,type=([A-Za-z0-9_-]+)/;

/** Every net client line of an `info network` output. */
export function parseInfoNetwork(text: string): NetClientLine[] {
  const out: NetClientLine[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const m = LINE.exec(raw);
    if (m) out.push({ name: m[2]!, type: m[3]!, peer: m[1] !== undefined });
  }
  return out;
}

/** The netdev ids (non-NIC clients) of an `info network` output. */
export function netdevIds(text: string): Set<string> {
  return new Set(parseInfoNetwork(text).filter((l) => l.type !== 'nic').map((l) => l.name));
}
