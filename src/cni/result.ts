/**
 * CNI results: parsing the previous plugin's (`prevResult`), and building ours the way
 * tc-redirect-tap does (docs/cni.md): prevResult plus the tap (`sandbox` = the netns) and a
 * pseudo "VM interface" with the tap's name, `sandbox` = the container id and the MAC of the
 * CNI interface, with the CNI interface's IPs copied to point at it.
 */
import { CniConfigError } from './errors.js';
import { versionAtLeast } from './version.js';

export interface CniInterface {
  name: string;
  mac?: string;
  mtu?: number;
  sandbox?: string;
  [k: string]: unknown;
}

export interface CniIpConfig {
  /** Index into `interfaces`. */
  interface?: number;
  address: string;
  gateway?: string;
  /** 0.3.x / 0.4.0 only: "4" or "6". */
  version?: string;
  [k: string]: unknown;
}

export interface CniResult {
  cniVersion: string;
  interfaces?: CniInterface[];
  ips?: CniIpConfig[];
  routes?: unknown[];
  dns?: unknown;
  [k: string]: unknown;
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Check the shape of a prevResult (enough to thread it and find the CNI interface). */
export function parsePrevResult(raw: unknown): CniResult {
  const bad = (rule: string, msg: string): never => {
    throw new CniConfigError('prevResult', rule, `prevResult: ${msg}`);
  };
  if (!isObject(raw)) bad('object', 'must be an object (the previous plugin\'s result)');
  const r = raw as Record<string, unknown>;
  if (r.interfaces !== undefined) {
    if (!Array.isArray(r.interfaces)) bad('interfaces', 'interfaces must be an array');
    (r.interfaces as unknown[]).forEach((i, n) => {
      if (!isObject(i) || typeof i.name !== 'string') bad('interfaces', `interfaces[${n}] must be an object with a string "name"`);
    });
  }
  if (r.ips !== undefined) {
    if (!Array.isArray(r.ips)) bad('ips', 'ips must be an array');
    (r.ips as unknown[]).forEach((i, n) => {
      if (!isObject(i) || typeof i.address !== 'string') bad('ips', `ips[${n}] must be an object with a string "address"`);
      if (i && (i as Record<string, unknown>).interface !== undefined && !Number.isInteger((i as Record<string, unknown>).interface))
        bad('ips', `ips[${n}].interface must be an integer index`);
    });
  }
  return { cniVersion: typeof r.cniVersion === 'string' ? r.cniVersion : '', ...(r as object) } as CniResult;
}

/**
 * Is `i` the interface `name` of the container's netns? Its `sandbox` must be `netns`: the spec
 * gives every interface created in or moved into a sandbox its `sandbox`, and one without it (or
 * with `""`) is a host interface — a host link of the same name (a bridge's uplink, the host's own
 * `eth0`) is never the container's (tc-redirect-tap's `InterfaceIPs` compares the sandbox too).
 */
const isContainerInterface = (i: CniInterface | undefined, name: string, netns: string): boolean => i !== undefined && i.name === name && i.sandbox === netns;

/** The IPs of interface `name` in sandbox `netns` (tc-redirect-tap's InterfaceIPs). */
export function interfaceIps(r: CniResult, name: string, netns: string): CniIpConfig[] {
  const ifs = r.interfaces ?? [];
  return (r.ips ?? []).filter((ip) => ip.interface !== undefined && isContainerInterface(ifs[ip.interface], name, netns));
}

/** The MAC of interface `name` in sandbox `netns` in a result, or ''. */
export function interfaceMac(r: CniResult | null, name: string, netns: string): string {
  const i = (r?.interfaces ?? []).find((x) => isContainerInterface(x, name, netns));
  return typeof i?.mac === 'string' ? i.mac.toLowerCase() : '';
}

export interface TapFacts {
  tapName: string;
  tapMac: string;
  /** The CNI interface's MAC: the guest's. */
  guestMac: string;
  mtu: number;
  netns: string;
  containerId: string;
  ifName: string;
}

/** Our ADD result: prevResult + the tap + the VM interface, IPs of the CNI interface copied to the VM interface. */
export function addResult(cniVersion: string, prev: CniResult, f: TapFacts): CniResult {
  const interfaces = [...(prev.interfaces ?? []).map((i) => ({ ...i }))];
  const ips = [...(prev.ips ?? []).map((i) => ({ ...i }))];
  const redirectIps = interfaceIps(prev, f.ifName, f.netns);
  // `mtu` on an interface is a 1.1.0 field: older results keep the 1.0.0 shape
  const mtu = versionAtLeast(cniVersion, '1.1.0') ? { mtu: f.mtu } : {};
  interfaces.push({ name: f.tapName, mac: f.tapMac, ...mtu, sandbox: f.netns });
  interfaces.push({ name: f.tapName, mac: f.guestMac, ...mtu, sandbox: f.containerId });
  const vm = interfaces.length - 1;
  const legacy = !versionAtLeast(cniVersion, '1.0.0');
  for (const ip of redirectIps) {
    const copy: CniIpConfig = { interface: vm, address: ip.address, ...(ip.gateway ? { gateway: ip.gateway } : {}) };
    if (legacy) copy.version = ip.version ?? (ip.address.includes(':') ? '6' : '4');
    ips.push(copy);
  }
  return { ...prev, cniVersion, interfaces, ips };
}
