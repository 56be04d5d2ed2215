/**
 * Upstream's `persist.json` `Network` section: produce it (save) and read it (load), in both
 * shapes upstream has used — v1 `{NetNsPath, NetmonPID, NetNsCreated, Endpoints}` and 2.x
 * `{NetworkID, Endpoints, NetworkCreated}` — with Go's field names and order. Pure functions.
 *
 * Loading is strict and lossless: every endpoint of the document is kept verbatim (the tuntap
 * ones tapstate manages and every other type, in their order), with every field, so that a
 * `save` after a `load` gives the document back (see `persisted-network.ts`). A malformed
 * document is refused with a {@link PersistFormatError} naming the JSON path of the field.
 */
import { TapstateError } from '../../machines/tapstate-error.js';
import { ifNameProblem, macProblem, normaliseMac } from '../../machines/endpoint-input.js';

/** persistapi.NetworkInterface */
export interface PersistNetworkInterface {
  Name: string;
  HardAddr: string;
  /** Always null when tapstate writes it; a loaded document's value is kept verbatim. */
  Addrs: unknown;
}
/** persistapi.NetworkEndpoint for a tuntap endpoint. */
export interface PersistTuntapEndpoint {
  Type: 'tuntap';
  Tuntap: { TuntapInterface: { Name: string; TAPIface: PersistNetworkInterface } };
}
/** Any persistapi.NetworkEndpoint (other types are kept verbatim). */
export type PersistEndpoint = PersistTuntapEndpoint | ({ Type: string } & Record<string, unknown>);
export interface PersistNetworkV1 {
  NetNsPath: string;
  NetmonPID: number;
  NetNsCreated: boolean;
  /** `null` (Go's nil slice) only when empty and the loaded document had `null` or no Endpoints. */
  Endpoints: PersistEndpoint[] | null;
}
export interface PersistNetworkV2 {
  NetworkID: string;
  Endpoints: PersistEndpoint[] | null;
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

/** One tuntap endpoint in upstream's shape; `raw` (a loaded one) keeps its other fields and order. */
export function tuntapEntry(e: SavedEndpoint, raw?: unknown): PersistEndpoint {
  if (raw === undefined) {
    return { Type: 'tuntap', Tuntap: { TuntapInterface: { Name: e.name, TAPIface: { Name: e.tapName, HardAddr: e.hardAddr, Addrs: null } } } };
  }
  // a loaded endpoint: its own bytes, with the values tapstate manages brought up to date
  const out = clone(raw) as { Tuntap: { TuntapInterface: { Name: string; TAPIface: Record<string, unknown> } } };
  const ti = out.Tuntap.TuntapInterface;
  // the names are set (an existing key keeps its place); the MAC only when it changed, so that
  // a MAC written in upper case stays as the document has it
  ti.Name = e.name;
  ti.TAPIface.Name = e.tapName;
  // (a document without HardAddr gets one only once tapstate knows the MAC: '' !== e.hardAddr)
  if (normaliseMac(String(ti.TAPIface.HardAddr ?? '')) !== e.hardAddr) ti.TAPIface.HardAddr = e.hardAddr;
  return out as unknown as PersistEndpoint;
}

/**
 * The top-level fields of a shape in Go's declaration order, `Endpoints` as a placeholder in its
 * place (v1 NetNsPath, NetmonPID, NetNsCreated, Endpoints; 2.x NetworkID, Endpoints, NetworkCreated).
 * The placeholder says how an empty list is written: `[]` here (a network tapstate made).
 */
export function networkHeader(net: { netnsPath: string; netnsCreated: boolean }, shape: PersistShape): Record<string, unknown> {
  return shape === 'v1'
    ? { NetNsPath: net.netnsPath, NetmonPID: 0, NetNsCreated: net.netnsCreated, Endpoints: [] }
    : { NetworkID: net.netnsPath, Endpoints: [], NetworkCreated: net.netnsCreated };
}

/**
 * Assemble a Network section: the header's fields in the header's order, `Endpoints` where the
 * header has its placeholder (after the other fields when it has none). No endpoints and a `null`
 * placeholder or none (a loaded document that said `"Endpoints":null`, as Go writes an empty
 * network, or had no Endpoints): `null`, as Go would write it.
 */
export function assembleNetwork(header: Record<string, unknown>, Endpoints: PersistEndpoint[]): PersistNetworkV1 | PersistNetworkV2 {
  const out: Record<string, unknown> = {};
  const list = Endpoints.length === 0 && (header.Endpoints ?? null) === null ? null : Endpoints;
  for (const k of Object.keys(header)) setOwn(out, k, header[k]);
  // in the placeholder's place (an existing key keeps it), else after the other fields
  out.Endpoints = list;
  return out as unknown as PersistNetworkV1 | PersistNetworkV2;
}

/** Build the Network section (Go field order) for the endpoints still attached. */
export function toPersistNetwork(
  net: { netnsPath: string; netnsCreated: boolean },
  endpoints: readonly SavedEndpoint[],
  shape: PersistShape = 'v1',
): PersistNetworkV1 | PersistNetworkV2 {
  return assembleNetwork(networkHeader(net, shape), endpoints.map((e) => tuntapEntry(e)));
}

/** A tuntap endpoint of a loaded document. */
export interface LoadedTuntap {
  /** Position in `Endpoints`. */
  index: number;
  idx: number;
  /** TuntapInterface.Name */
  ifName: string;
  /** TAPIface.HardAddr, normalised to lower case; `""` when empty (upstream accepts it). */
  hwAddr: string;
  /** The endpoint exactly as the document has it. */
  raw: unknown;
}
/** An endpoint of another type: tapstate does not manage it, and keeps it verbatim. */
export interface LoadedOther {
  index: number;
  type: string;
  raw: unknown;
}

export interface LoadedNetwork {
  shape: PersistShape;
  netnsPath: string;
  netnsCreated: boolean;
  /**
   * The top-level fields, verbatim, in document order; `Endpoints` (when present) as a placeholder:
   * `null` when the document had `null`, `[]` when it had an array (the endpoints are kept once, as entries).
   */
  header: Record<string, unknown>;
  /** Tuntap endpoints to adopt. */
  endpoints: LoadedTuntap[];
  /** Endpoints of other types, which tapstate does not manage (by index in `Endpoints`). */
  skipped: LoadedOther[];
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const has = (o: Record<string, unknown>, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);
/** A deep copy through JSON: own keys only (a `__proto__` key stays a plain key). */
const clone = (v: unknown): unknown => JSON.parse(JSON.stringify(v) ?? 'null');
/** Set an own, enumerable, writable key (`__proto__` included, as a plain key). */
export const setOwn = (o: Record<string, unknown>, k: string, v: unknown): void => {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
};

/** Read a Network section (v1 or 2.x). Throws PersistFormatError naming the field's JSON path. */
export function parsePersistNetwork(doc: unknown): LoadedNetwork {
  const bad = (field: string, rule: string, msg: string): never => {
    throw new PersistFormatError(field, rule, msg);
  };
  if (!isObj(doc)) return bad('Network', 'object', 'must be a JSON object');
  const v1 = has(doc, 'NetNsPath');
  const v2 = has(doc, 'NetworkID');
  if (v1 && v2) bad('Network', 'shape', 'has both NetNsPath (v1) and NetworkID (2.x)');
  if (!v1 && !v2) bad('Network', 'shape', 'has neither NetNsPath (v1) nor NetworkID (2.x)');
  const shape: PersistShape = v1 ? 'v1' : 'v2';
  const pathKey = v1 ? 'NetNsPath' : 'NetworkID';
  const createdKey = v1 ? 'NetNsCreated' : 'NetworkCreated';
  const netnsPath = doc[pathKey];
  if (typeof netnsPath !== 'string') bad(pathKey, 'string', 'must be a string');
  const netnsCreated = has(doc, createdKey) ? doc[createdKey] : false;
  if (typeof netnsCreated !== 'boolean') bad(createdKey, 'boolean', 'must be a boolean');
  if (v1 && has(doc, 'NetmonPID') && !Number.isSafeInteger(doc.NetmonPID)) bad('NetmonPID', 'integer', 'must be an integer');
  const eps = has(doc, 'Endpoints') ? doc.Endpoints : null;
  if (eps !== null && !Array.isArray(eps)) return bad('Endpoints', 'array', 'must be an array or null');
  const header: Record<string, unknown> = {};
  for (const k of Object.keys(doc)) setOwn(header, k, k === 'Endpoints' ? (eps === null ? null : []) : clone(doc[k]));
  const out: LoadedNetwork = { shape, netnsPath: netnsPath as string, netnsCreated: netnsCreated as boolean, header, endpoints: [], skipped: [] };
  const seen = new Map<number, string>();
  (eps ?? []).forEach((ep: unknown, i: number) => {
    const at = `Endpoints[${i}]`;
    if (!isObj(ep)) bad(at, 'object', 'must be an object');
    const e = ep as Record<string, unknown>;
    if (typeof e.Type !== 'string') bad(`${at}.Type`, 'string', 'must be a string');
    if (e.Type !== 'tuntap') {
      out.skipped.push({ index: i, type: e.Type as string, raw: clone(e) });
      return;
    }
    // upstream load() silently restores nothing from a tuntap endpoint without its section; a
    // document that says "tuntap" and carries no tuntap data is malformed, and refused
    const tt = e.Tuntap;
    if (!isObj(tt)) bad(`${at}.Tuntap`, 'object', `must be an object (got ${tt === null ? 'null' : typeof tt}): a tuntap endpoint needs its Tuntap section`);
    const ti = (tt as Record<string, unknown>).TuntapInterface;
    if (!isObj(ti)) bad(`${at}.Tuntap.TuntapInterface`, 'object', 'must be an object');
    const t = ti as Record<string, unknown>;
    if (typeof t.Name !== 'string') bad(`${at}.Tuntap.TuntapInterface.Name`, 'string', 'must be a string');
    const nameProblem = ifNameProblem(t.Name as string);
    if (nameProblem) bad(`${at}.Tuntap.TuntapInterface.Name`, 'ifname', `"${String(t.Name)}" ${nameProblem}`);
    if (!isObj(t.TAPIface)) bad(`${at}.Tuntap.TuntapInterface.TAPIface`, 'object', 'must be an object');
    const tap = t.TAPIface as Record<string, unknown>;
    const tapAt = `${at}.Tuntap.TuntapInterface.TAPIface`;
    if (typeof tap.Name !== 'string') bad(`${tapAt}.Name`, 'string', 'must be a string');
    const m = /^tap(0|[1-9]\d{0,6})_kata$/.exec(tap.Name as string);
    if (!m || ifNameProblem(tap.Name as string)) bad(`${tapAt}.Name`, 'tap<idx>_kata', `"${String(tap.Name)}" is not a tap<idx>_kata name of at most 15 bytes`);
    const idx = Number(m![1]);
    if (seen.has(idx)) bad(`${tapAt}.Name`, 'unique', `tap${idx}_kata appears twice (also at ${seen.get(idx)})`);
    seen.set(idx, at);
    if (has(tap, 'HardAddr') && typeof tap.HardAddr !== 'string') bad(`${tapAt}.HardAddr`, 'string', 'must be a string');
    const hwAddr = normaliseMac((tap.HardAddr as string | undefined) ?? '');
    if (hwAddr !== '') {
      const p = macProblem(hwAddr);
      if (p) bad(`${tapAt}.HardAddr`, 'unicast-mac', `"${String(tap.HardAddr)}" ${p}`);
    }
    if (has(tap, 'Addrs') && tap.Addrs !== null && !Array.isArray(tap.Addrs)) bad(`${tapAt}.Addrs`, 'array-or-null', 'must be null or an array');
    out.endpoints.push({ index: i, idx, ifName: t.Name as string, hwAddr, raw: clone(e) });
  });
  return out;
}
