/**
 * Every rule of the endpoint input, with the exact one-line message the CLI prints and the
 * field/rule a program reads; the kernel's link-name rules (shared with the adapters) at their
 * boundaries; and every default the resolved endpoint gets.
 */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MTU,
  EndpointInputError,
  MAX_IFNAME_BYTES,
  MAX_MTU,
  MAX_QUEUES,
  MIN_MTU,
  TapstateError,
  defaultIfNameOf,
  ifNameProblem,
  macProblem,
  mtuProblem,
  normaliseMac,
  resolveEndpointInput,
  tapNameOf,
  type EndpointInput,
} from '../../machines/index.js';

const base: EndpointInput = { id: 'ep0', idx: 0, mac: '02:00:00:00:00:01', netnsPath: '/run/netns/x', netnsCreated: true, vcpus: 2 };

const refused = (patch: Record<string, unknown>, field: string, rule: string, message: string) => {
  let err: unknown;
  try {
    resolveEndpointInput({ ...base, ...patch } as EndpointInput);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(EndpointInputError);
  expect(err).toBeInstanceOf(TapstateError);
  expect(err).toMatchObject({ name: 'EndpointInputError', code: 'ENDPOINT_INPUT_INVALID', field, rule, message });
};

describe('the limits', () => {
  it("are the kernel's and upstream's", () => {
    expect([MAX_IFNAME_BYTES, MIN_MTU, MAX_MTU, MAX_QUEUES, DEFAULT_MTU]).toEqual([15, 68, 65521, 256, 1500]);
    expect(tapNameOf(4)).toBe('tap4_kata');
    expect(defaultIfNameOf(4)).toBe('eth4');
    expect(normaliseMac(' 5A:94:EF:E4:0C:EE ')).toBe('5a:94:ef:e4:0c:ee');
  });
});

describe('ifNameProblem (dev_valid_name)', () => {
  it.each(['a', 'eth0', 'tap0_kata', 'a'.repeat(15), '!', '~x', 'é', 'a-b.c_d', 'x\u007fy'.slice(0, 1)])('accepts %j', (name) => {
    expect(ifNameProblem(name)).toBeNull();
  });
  it.each([
    [3, 'must be a string'],
    [null, 'must be a string'],
    ['', 'must not be empty'],
    ['a'.repeat(16), 'must be at most 15 bytes (got 16); the kernel would truncate it'],
    ['ééééééééé', 'must be at most 15 bytes (got 18); the kernel would truncate it'],
    ['.', 'must not be "." or ".."'],
    ['..', 'must not be "." or ".."'],
    ['a b', 'must not contain whitespace, "/", ":" or NUL'],
    ['a/b', 'must not contain whitespace, "/", ":" or NUL'],
    ['a:b', 'must not contain whitespace, "/", ":" or NUL'],
    ['a\tb', 'must not contain whitespace, "/", ":" or NUL'],
    ['a\0b', 'must not contain whitespace, "/", ":" or NUL'],
    // one character: the fast path (short printable ASCII) must refuse these too
    ['/', 'must not contain whitespace, "/", ":" or NUL'],
    [':', 'must not contain whitespace, "/", ":" or NUL'],
    [' ', 'must not contain whitespace, "/", ":" or NUL'],
  ])('%j: %s', (name, problem) => {
    expect(ifNameProblem(name)).toBe(problem);
  });
  it('non-ASCII and control characters that are not whitespace pass the slow path', () => {
    expect(ifNameProblem('tapé')).toBeNull();
    expect(ifNameProblem('a\u007fb')).toBeNull();
    expect(ifNameProblem('a\u0001b')).toBeNull();
    // 15 bytes exactly with non-ASCII: accepted; 16: refused
    expect(ifNameProblem('éééééééa')).toBeNull();
    expect(ifNameProblem('éééééééab')).toBe('must be at most 15 bytes (got 16); the kernel would truncate it');
  });
});

describe('macProblem and mtuProblem', () => {
  it('a unicast, non-zero MAC in lower-case colon form', () => {
    expect(macProblem('02:00:00:00:00:01')).toBeNull();
    expect(macProblem('fe:ff:ff:ff:ff:ff')).toBeNull();
    expect(macProblem('02:00:00:00:00:0G')).toBe('must be six colon-separated hex octets, e.g. 02:00:00:00:00:01');
    expect(macProblem('02-00-00-00-00-01')).toBe('must be six colon-separated hex octets, e.g. 02:00:00:00:00:01');
    expect(macProblem('x02:00:00:00:00:01')).toBe('must be six colon-separated hex octets, e.g. 02:00:00:00:00:01');
    expect(macProblem('02:00:00:00:00:01x')).toBe('must be six colon-separated hex octets, e.g. 02:00:00:00:00:01');
    expect(macProblem('03:00:00:00:00:01')).toBe('must be unicast (a multicast address has the low bit of the first octet set)');
    expect(macProblem('ff:ff:ff:ff:ff:ff')).toBe('must be unicast (a multicast address has the low bit of the first octet set)');
    expect(macProblem('00:00:00:00:00:00')).toBe('must not be all zeros');
    expect(macProblem('00:00:00:00:00:01')).toBeNull();
  });
  it('an integer MTU in 68..65521', () => {
    expect(mtuProblem(68)).toBeNull();
    expect(mtuProblem(65521)).toBeNull();
    expect(mtuProblem(67)).toBe('must be between 68 and 65521');
    expect(mtuProblem(65522)).toBe('must be between 68 and 65521');
    expect(mtuProblem(1500.5)).toBe('must be an integer');
    expect(mtuProblem(Number.NaN)).toBe('must be an integer');
  });
});

describe('resolveEndpointInput', () => {
  it('resolves every default', () => {
    expect(resolveEndpointInput(base)).toStrictEqual({
      id: 'ep0',
      idx: 0,
      name: 'eth0',
      tapName: 'tap0_kata',
      hwAddr: '',
      mac: '02:00:00:00:00:01',
      mtu: 1500,
      netnsPath: '/run/netns/x',
      netnsCreated: true,
      queues: 2,
      vhost: false,
      model: 'tcfilter',
    });
  });

  it('keeps what is given: tap name, link name, MACs (lower-cased), MTU, the own netns, vhost, models', () => {
    expect(
      resolveEndpointInput({ ...base, tapName: 'mytap', ifName: 'veth1', hwAddr: '5A:94:EF:E4:0C:EE', mac: ' 02:AB:00:00:00:01', mtu: 9000, netnsPath: '', netnsCreated: false, vhost: true, model: 'tcfilter' }),
    ).toStrictEqual({ id: 'ep0', idx: 0, name: 'veth1', tapName: 'mytap', hwAddr: '5a:94:ef:e4:0c:ee', mac: '02:ab:00:00:00:01', mtu: 9000, netnsPath: '', netnsCreated: false, queues: 2, vhost: true, model: 'tcfilter' });
    expect(resolveEndpointInput({ ...base, model: 'none' }).model).toBe('none');
  });

  it('multi-queue: queues = vCPUs, or 0 when the hypervisor has none (upstream)', () => {
    expect(resolveEndpointInput({ ...base, vcpus: 4, multiQueue: true }).queues).toBe(4);
    expect(resolveEndpointInput({ ...base, vcpus: 4, multiQueue: false }).queues).toBe(0);
    expect(resolveEndpointInput({ ...base, vcpus: 256 }).queues).toBe(256);
    expect(resolveEndpointInput({ ...base, vcpus: 1 }).queues).toBe(1);
  });

  it('the guest MAC defaults to the original link\'s; a loaded endpoint may have none', () => {
    expect(resolveEndpointInput({ ...base, mac: undefined, hwAddr: '02:aa:00:00:00:01' }).mac).toBe('02:aa:00:00:00:01');
    expect(resolveEndpointInput({ ...base, mac: '', hwAddr: '', fromPersist: true })).toMatchObject({ mac: '', hwAddr: '' });
    refused({ mac: '', hwAddr: '', fromPersist: false }, 'mac', 'required', 'mac is required when hwAddr is empty: the guest NIC needs a MAC');
    refused({ mac: undefined, hwAddr: undefined }, 'mac', 'required', 'mac is required when hwAddr is empty: the guest NIC needs a MAC');
  });

  it.each([
    [{ idx: '1' }, 'idx', 'integer', 'idx must be an integer (got 1)'],
    [{ idx: 0.5 }, 'idx', 'integer', 'idx must be an integer (got 0.5)'],
    [{ idx: -2 }, 'idx', 'non-negative', 'invalid network endpoint index: -2'],
    [{ id: '' }, 'id', 'pattern', 'id must match ^[A-Za-z0-9_.-]{1,64}$ (got "")'],
    [{ id: 'x'.repeat(65) }, 'id', 'pattern', `id must match ^[A-Za-z0-9_.-]{1,64}$ (got "${'x'.repeat(65)}")`],
    [{ id: 7 }, 'id', 'pattern', 'id must match ^[A-Za-z0-9_.-]{1,64}$ (got 7)'],
    [{ id: 'a/b' }, 'id', 'pattern', 'id must match ^[A-Za-z0-9_.-]{1,64}$ (got "a/b")'],
    [{ tapName: 5 }, 'tapName', 'string', 'tapName must be a string'],
    [{ tapName: 'a:b' }, 'tapName', 'ifname', 'tapName "a:b" must not contain whitespace, "/", ":" or NUL'],
    [{ tapName: '' }, 'tapName', 'ifname', 'tapName "" must not be empty'],
    [{ idx: 123456789 }, 'idx', 'tap-name-length', 'idx 123456789 gives tap name "tap123456789_kata", which must be at most 15 bytes (got 17); the kernel would truncate it'],
    [{ ifName: 9 }, 'ifName', 'string', 'ifName must be a string'],
    [{ ifName: 'a b' }, 'ifName', 'ifname', 'ifName "a b" must not contain whitespace, "/", ":" or NUL'],
    [{ ifName: 'tap0_kata' }, 'tapName', 'distinct', `tapName "tap0_kata" must differ from the original link's name`],
    [{ hwAddr: '01:00:00:00:00:01' }, 'hwAddr', 'unicast-mac', 'hwAddr "01:00:00:00:00:01" must be unicast (a multicast address has the low bit of the first octet set)'],
    [{ mac: '02:00:00:00:00' }, 'mac', 'unicast-mac', 'mac "02:00:00:00:00" must be six colon-separated hex octets, e.g. 02:00:00:00:00:01'],
    [{ mtu: 60 }, 'mtu', 'range', 'mtu 60 must be between 68 and 65521'],
    [{ mtu: 'big' }, 'mtu', 'range', 'mtu big must be an integer'],
    [{ netnsPath: 3 }, 'netnsPath', 'string', 'netnsPath must be a string ("" = own namespace)'],
    [{ netnsPath: 'run/netns/x' }, 'netnsPath', 'absolute', 'netnsPath must be an absolute path (got "run/netns/x")'],
    [{ netnsCreated: 1 }, 'netnsCreated', 'boolean', 'netnsCreated must be a boolean'],
    [{ vcpus: '2' }, 'vcpus', 'range', 'vcpus must be an integer between 1 and 256 (got 2)'],
    [{ vcpus: 2.5 }, 'vcpus', 'range', 'vcpus must be an integer between 1 and 256 (got 2.5)'],
    [{ vcpus: 0 }, 'vcpus', 'range', 'vcpus must be an integer between 1 and 256 (got 0)'],
    [{ vcpus: 257 }, 'vcpus', 'range', 'vcpus must be an integer between 1 and 256 (got 257)'],
    [{ multiQueue: 'no' }, 'multiQueue', 'boolean', 'multiQueue must be a boolean'],
    [{ model: 'bridged' }, 'model', 'known', 'Unknown type bridged'],
    [{ model: 'macvtap' }, 'model', 'supported', 'interworking model macvtap is not supported by tapstate (use tcfilter)'],
  ])('%j → %s/%s', (patch, field, rule, message) => refused(patch, field, rule, message));

  it('an input that is not an object', () => {
    for (const bad of [null, 'ep0', 4]) {
      let err: unknown;
      try {
        resolveEndpointInput(bad as unknown as EndpointInput);
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ field: 'input', rule: 'object', message: 'endpoint input must be an object' });
    }
  });

  it('the longest idx whose tap name fits (15 bytes), and an explicit tap name for a larger idx', () => {
    expect(resolveEndpointInput({ ...base, idx: 9999999 }).tapName).toBe('tap9999999_kata');
    expect(resolveEndpointInput({ ...base, idx: 10000000, tapName: 'tapX' }).tapName).toBe('tapX');
  });
});
