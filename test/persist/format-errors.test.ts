/**
 * Every way parsePersistNetwork refuses a document, one row each: the JSON path (`field`), the
 * rule, and the whole one-line message the CLI prints (`tapstate: PersistFormatError: <message>`),
 * so a message that loses its field, its value or its reason is caught. Pure, in memory.
 */
import { describe, expect, it } from 'vitest';
import { parsePersistNetwork, PersistFormatError } from '../../src/persist/persist-json.js';
import { TapstateError } from '../../machines/tapstate-error.js';

const TAP = 'Endpoints[0].Tuntap.TuntapInterface.TAPIface';
const tuntap = (tapIface: Record<string, unknown> = {}) => ({
  Type: 'tuntap',
  Tuntap: { TuntapInterface: { Name: 'eth0', TAPIface: { Name: 'tap0_kata', HardAddr: '02:00:00:00:00:01', Addrs: null, ...tapIface } } },
});
const v1 = (...Endpoints: unknown[]) => ({ NetNsPath: '', NetmonPID: 0, NetNsCreated: false, Endpoints });

const refuse = (doc: unknown): PersistFormatError => {
  try {
    parsePersistNetwork(doc);
  } catch (e) {
    expect(e).toBeInstanceOf(PersistFormatError);
    return e as PersistFormatError;
  }
  throw new Error(`accepted ${JSON.stringify(doc)}`);
};

describe('PersistFormatError: field, rule and the whole message', () => {
  it.each<[string, unknown, string, string, string]>([
    ['not an object', [], 'Network', 'object', 'must be a JSON object'],
    ['both shapes', { NetNsPath: '', NetworkID: '' }, 'Network', 'shape', 'has both NetNsPath (v1) and NetworkID (2.x)'],
    ['neither shape', { Endpoints: [] }, 'Network', 'shape', 'has neither NetNsPath (v1) nor NetworkID (2.x)'],
    ['NetNsPath a number', { NetNsPath: 3 }, 'NetNsPath', 'string', 'must be a string'],
    ['NetworkID a number', { NetworkID: 3 }, 'NetworkID', 'string', 'must be a string'],
    ['NetNsCreated a string', { NetNsPath: '', NetNsCreated: 'yes' }, 'NetNsCreated', 'boolean', 'must be a boolean'],
    ['NetworkCreated a number', { NetworkID: '', NetworkCreated: 1 }, 'NetworkCreated', 'boolean', 'must be a boolean'],
    ['NetNsCreated null', { NetNsPath: '', NetNsCreated: null }, 'NetNsCreated', 'boolean', 'must be a boolean'],
    ['NetmonPID a fraction', { NetNsPath: '', NetmonPID: 1.5 }, 'NetmonPID', 'integer', 'must be an integer'],
    ['Endpoints an object', { NetNsPath: '', Endpoints: {} }, 'Endpoints', 'array', 'must be an array or null'],
    ['an endpoint a number', v1(3), 'Endpoints[0]', 'object', 'must be an object'],
    ['Type null', v1({ Type: null }), 'Endpoints[0].Type', 'string', 'must be a string'],
    ['Tuntap null', v1({ Type: 'tuntap', Tuntap: null }), 'Endpoints[0].Tuntap', 'object', 'must be an object (got null): a tuntap endpoint needs its Tuntap section'],
    ['Tuntap missing', v1({ Type: 'tuntap' }), 'Endpoints[0].Tuntap', 'object', 'must be an object (got undefined): a tuntap endpoint needs its Tuntap section'],
    ['Tuntap a string', v1({ Type: 'tuntap', Tuntap: 'x' }), 'Endpoints[0].Tuntap', 'object', 'must be an object (got string): a tuntap endpoint needs its Tuntap section'],
    ['TuntapInterface a string', v1({ Type: 'tuntap', Tuntap: { TuntapInterface: 'x' } }), 'Endpoints[0].Tuntap.TuntapInterface', 'object', 'must be an object'],
    ['Name a number', v1({ Type: 'tuntap', Tuntap: { TuntapInterface: { Name: 7 } } }), 'Endpoints[0].Tuntap.TuntapInterface.Name', 'string', 'must be a string'],
    ['Name with a slash', v1({ Type: 'tuntap', Tuntap: { TuntapInterface: { Name: '../x' } } }), 'Endpoints[0].Tuntap.TuntapInterface.Name', 'ifname', '"../x" must not contain whitespace, "/", ":" or NUL'],
    ['TAPIface missing', v1({ Type: 'tuntap', Tuntap: { TuntapInterface: { Name: 'eth0' } } }), TAP, 'object', 'must be an object'],
    ['TAPIface.Name a number', v1(tuntap({ Name: 5 })), `${TAP}.Name`, 'string', 'must be a string'],
    ['TAPIface.Name an array', v1(tuntap({ Name: ['tap0_kata'] })), `${TAP}.Name`, 'string', 'must be a string'],
    ['TAPIface.Name not tap<idx>_kata', v1(tuntap({ Name: 'eth0' })), `${TAP}.Name`, 'tap<idx>_kata', '"eth0" is not a tap<idx>_kata name of at most 15 bytes'],
    ['the same tap twice', v1(tuntap(), tuntap()), 'Endpoints[1].Tuntap.TuntapInterface.TAPIface.Name', 'unique', 'tap0_kata appears twice (also at Endpoints[0])'],
    ['HardAddr a number', v1(tuntap({ HardAddr: 1 })), `${TAP}.HardAddr`, 'string', 'must be a string'],
    // the message quotes the value as written, not normalised
    ['HardAddr multicast', v1(tuntap({ HardAddr: '01:00:5E:00:00:01' })), `${TAP}.HardAddr`, 'unicast-mac', '"01:00:5E:00:00:01" must be unicast (a multicast address has the low bit of the first octet set)'],
    ['Addrs an object', v1(tuntap({ Addrs: {} })), `${TAP}.Addrs`, 'array-or-null', 'must be null or an array'],
  ])('%s', (_what, doc, field, rule, message) => {
    const e = refuse(doc);
    expect({ field: e.field, rule: e.rule, message: e.message }).toEqual({ field, rule, message: `${field}: ${message}` });
    expect(e).toBeInstanceOf(TapstateError);
    expect(e.name).toBe('PersistFormatError');
    expect(e.code).toBe('PERSIST_FORMAT');
  });

  it.each([
    ['a prefix before tap', 'xtap0_kata'],
    ['a suffix after _kata', 'tap0_kata_x'],
    ['a letter in the index', 'tap1x_kata'],
    ['a leading zero', 'tap01_kata'],
    ['eight digits', 'tap12345678_kata'],
    ['no index', 'tap_kata'],
  ])('TAPIface.Name with %s (%s) is not tap<idx>_kata', (_what, name) => {
    const e = refuse(v1(tuntap({ Name: name })));
    expect([e.field, e.rule]).toEqual([`${TAP}.Name`, 'tap<idx>_kata']);
  });
});

describe('what parsePersistNetwork accepts', () => {
  it('tap<idx>_kata with a multi-digit index, up to seven digits (15 bytes)', () => {
    const net = parsePersistNetwork(v1(tuntap({ Name: 'tap12_kata' }), { ...tuntap({ Name: 'tap1234567_kata', HardAddr: '02:00:00:00:00:02' }) }));
    expect(net.endpoints.map((e) => e.idx)).toEqual([12, 1234567]);
  });

  it('a TAPIface without HardAddr (or Addrs) loads with hwAddr "" (upstream accepts an empty MAC)', () => {
    const ep = { Type: 'tuntap', Tuntap: { TuntapInterface: { Name: 'eth0', TAPIface: { Name: 'tap0_kata' } } } };
    const net = parsePersistNetwork(v1(ep));
    expect(net.endpoints).toEqual([{ index: 0, idx: 0, ifName: 'eth0', hwAddr: '', raw: ep }]);
  });

  it('NetNsCreated / NetworkCreated missing: false (Go zero value)', () => {
    expect(parsePersistNetwork({ NetNsPath: '/run/netns/a' })).toMatchObject({ shape: 'v1', netnsPath: '/run/netns/a', netnsCreated: false });
    expect(parsePersistNetwork({ NetworkID: '/run/netns/b' })).toMatchObject({ shape: 'v2', netnsPath: '/run/netns/b', netnsCreated: false });
    expect(parsePersistNetwork({ NetworkID: '', NetworkCreated: true }).netnsCreated).toBe(true);
  });

  it('the header: every top-level field in document order, Endpoints an empty placeholder (the endpoints are kept once, as entries)', () => {
    const net = parsePersistNetwork({ NetNsPath: '', Future: { a: [1] }, NetmonPID: 9, Endpoints: [tuntap()], NetNsCreated: true });
    expect(Object.keys(net.header)).toEqual(['NetNsPath', 'Future', 'NetmonPID', 'Endpoints', 'NetNsCreated']);
    expect(net.header).toEqual({ NetNsPath: '', Future: { a: [1] }, NetmonPID: 9, Endpoints: [], NetNsCreated: true });
    // the placeholder keeps how the document wrote an empty list: null (Go's nil slice) or []
    expect(parsePersistNetwork({ NetNsPath: '', Endpoints: null }).header).toEqual({ NetNsPath: '', Endpoints: null });
  });

  it('a document built in JavaScript with an undefined field loads (kept as null, as JSON would)', () => {
    const net = parsePersistNetwork({ NetNsPath: '', Extra: undefined, Endpoints: [] });
    expect(net.header).toEqual({ NetNsPath: '', Extra: null, Endpoints: [] });
  });
});
