/**
 * Upstream's `persist.json` `Network` section: produce it (save) and read it (load), in both
 * shapes upstream has used — v1 `{NetNsPath, NetmonPID, NetNsCreated, Endpoints}` and 2.x
 * `{NetworkID, Endpoints, NetworkCreated}` — with Go's field names and order. Pure functions.
 */
import { TapstateError } from '../../machines/tapstate-error.js';

/** persistapi.NetworkInterface */
export interface PersistNetworkInterface {
  Name: string;
  HardAddr: string;
  Addrs: null;
}
/** persistapi.NetworkEndpoint for a tuntap endpoint. */
export interface PersistTuntapEndpoint {
  Type: 'tuntap';
  Tuntap: { TuntapInterface: { Name: string; TAPIface: PersistNetworkInterface } };
}
export interface PersistNetworkV1 {
  NetNsPath: string;
  NetmonPID: number;
  NetNsCreated: boolean;
  Endpoints: PersistTuntapEndpoint[];
}
export interface PersistNetworkV2 {
  NetworkID: string;
  Endpoints: PersistTuntapEndpoint[];
  NetworkCreated: boolean;
}
export type PersistShape = 'v1' | 'v2';

/** A field of a persist.json document breaks a rule. Nothing was loaded. */
export class PersistFormatError extends TapstateError {
  override readonly name = 'PersistFormatError';
  readonly code = 'PERSIST_FORMAT';
  constructor(
    /** JSON path of the field, e.g. `Endpoints[1].Tuntap.TuntapInterface.TAPIface.Name`. */
    readonly field: string,
    readonly rule: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

export interface SavedEndpoint {
  /** TuntapInterface.Name */
  name: string;
  tapName: string;
  /** TAPIface.HardAddr */
  hardAddr: string;
}

/** Build the Network section (Go field order) for the endpoints still attached. */
export function toPersistNetwork(
  net: { netnsPath: string; netnsCreated: boolean },
  endpoints: readonly SavedEndpoint[],
  shape: PersistShape = 'v1',
): PersistNetworkV1 | PersistNetworkV2 {
  const Endpoints: PersistTuntapEndpoint[] = endpoints.map((e) => ({
    Type: 'tuntap',
    Tuntap: { TuntapInterface: { Name: e.name, TAPIface: { Name: e.tapName, HardAddr: e.hardAddr, Addrs: null } } },
  }));
  return shape === 'v1'
    ? { NetNsPath: net.netnsPath, NetmonPID: 0, NetNsCreated: net.netnsCreated, Endpoints }
    : { NetworkID: net.netnsPath, Endpoints, NetworkCreated: net.netnsCreated };
}

export interface LoadedNetwork {
  shape: PersistShape;
  netnsPath: string;
  netnsCreated: boolean;
  /** Tuntap endpoints to adopt. */
  endpoints: Array<{ idx: number; ifName: string; hwAddr: string }>;
  /** Endpoints of other types, which tapstate does not manage (by index in `Endpoints`). */
  skipped: Array<{ index: number; type: string }>;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Read a Network section (v1 or 2.x). Throws PersistFormatError naming the field. */
export function parsePersistNetwork(doc: unknown): LoadedNetwork {
  const bad = (field: string, rule: string, msg: string): never => {
    throw new PersistFormatError(field, rule, msg);
  };
  if (!isObj(doc)) return bad('Network', 'object', 'must be a JSON object');
  let shape: PersistShape;
  let netnsPath: unknown;
  let netnsCreated: unknown;
  if ('NetNsPath' in doc) {
    shape = 'v1';
    netnsPath = doc.NetNsPath;
    netnsCreated = doc.NetNsCreated ?? false;
    if (doc.NetmonPID !== undefined && typeof doc.NetmonPID !== 'number') bad('NetmonPID', 'number', 'must be a number');
    if (typeof netnsCreated !== 'boolean') bad('NetNsCreated', 'boolean', 'must be a boolean');
    if (typeof netnsPath !== 'string') bad('NetNsPath', 'string', 'must be a string');
  } else if ('NetworkID' in doc) {
    shape = 'v2';
    netnsPath = doc.NetworkID;
    netnsCreated = doc.NetworkCreated ?? false;
    if (typeof netnsCreated !== 'boolean') bad('NetworkCreated', 'boolean', 'must be a boolean');
    if (typeof netnsPath !== 'string') bad('NetworkID', 'string', 'must be a string');
  } else return bad('Network', 'shape', 'has neither NetNsPath (v1) nor NetworkID (2.x)');
  const eps = doc.Endpoints ?? [];
  if (!Array.isArray(eps)) return bad('Endpoints', 'array', 'must be an array or null');
  const out: LoadedNetwork = { shape, netnsPath: netnsPath as string, netnsCreated: netnsCreated as boolean, endpoints: [], skipped: [] };
  const seen = new Set<number>();
  eps.forEach((ep, i) => {
    const at = `Endpoints[${i}]`;
    if (!isObj(ep)) bad(at, 'object', 'must be an object');
    const e = ep as Record<string, unknown>;
    if (typeof e.Type !== 'string') bad(`${at}.Type`, 'string', 'must be a string');
    if (e.Type !== 'tuntap') {
      out.skipped.push({ index: i, type: e.Type as string });
      return;
    }
    const tt = e.Tuntap;
    // upstream load() tolerates a missing Tuntap (it restores nothing); so do we, by skipping
    if (tt === undefined || tt === null) {
      out.skipped.push({ index: i, type: 'tuntap (no Tuntap section)' });
      return;
    }
    if (!isObj(tt) || !isObj(tt.TuntapInterface)) bad(`${at}.Tuntap.TuntapInterface`, 'object', 'must be an object');
    const ti = (tt as { TuntapInterface: Record<string, unknown> }).TuntapInterface;
    if (typeof ti.Name !== 'string') bad(`${at}.Tuntap.TuntapInterface.Name`, 'string', 'must be a string');
    if (!isObj(ti.TAPIface)) bad(`${at}.Tuntap.TuntapInterface.TAPIface`, 'object', 'must be an object');
    const tap = ti.TAPIface as Record<string, unknown>;
    if (typeof tap.Name !== 'string') bad(`${at}.Tuntap.TuntapInterface.TAPIface.Name`, 'string', 'must be a string');
    const m = /^tap(\d{1,7})_kata$/.exec(tap.Name as string);
    if (!m) bad(`${at}.Tuntap.TuntapInterface.TAPIface.Name`, 'tap<idx>_kata', `"${String(tap.Name)}" is not a tap<idx>_kata name`);
    const idx = Number(m![1]);
    if (seen.has(idx)) bad(`${at}.Tuntap.TuntapInterface.TAPIface.Name`, 'unique', `tap${idx}_kata appears twice`);
    seen.add(idx);
    if (tap.HardAddr !== undefined && typeof tap.HardAddr !== 'string') bad(`${at}.Tuntap.TuntapInterface.TAPIface.HardAddr`, 'string', 'must be a string');
    if (tap.Addrs !== undefined && tap.Addrs !== null && !Array.isArray(tap.Addrs))
      bad(`${at}.Tuntap.TuntapInterface.TAPIface.Addrs`, 'array-or-null', 'must be null or an array');
    out.endpoints.push({ idx, ifName: ti.Name as string, hwAddr: (tap.HardAddr as string | undefined) ?? '' });
  });
  return out;
}
