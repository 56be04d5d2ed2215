import { describe, expect, it } from 'vitest';
import { EndpointInputError, resolveEndpointInput, tapNameOf, type EndpointInput } from '../../machines/index.js';

const base: EndpointInput = { id: 'ep0', idx: 0, mac: '02:00:00:00:00:01', netnsPath: '/run/netns/x', netnsCreated: true, vcpus: 2 };
const fails = (patch: Partial<EndpointInput> | Record<string, unknown>, field: string, rule: string, message?: RegExp | string) => {
  let err: unknown;
  try {
    resolveEndpointInput({ ...base, ...patch } as EndpointInput);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(EndpointInputError);
  expect(err).toMatchObject({ field, rule });
  if (message) expect((err as Error).message).toMatch(message);
};

describe('createTuntapNetworkEndpoint rules', () => {
  it("derives upstream's names and defaults", () => {
    expect(resolveEndpointInput(base)).toMatchObject({ name: 'eth0', tapName: 'tap0_kata', mtu: 1500, queues: 2, model: 'tcfilter', vhost: false, hwAddr: '' });
    expect(resolveEndpointInput({ ...base, idx: 7, ifName: 'tap0' })).toMatchObject({ name: 'tap0', tapName: 'tap7_kata' });
    expect(resolveEndpointInput({ ...base, ifName: '' }).name).toBe('eth0');
    expect(resolveEndpointInput({ ...base, mac: '', hwAddr: '5A:94:EF:E4:0C:EE' })).toMatchObject({ mac: '5a:94:ef:e4:0c:ee', hwAddr: '5a:94:ef:e4:0c:ee' });
    expect(resolveEndpointInput({ ...base, model: 'default' }).model).toBe('tcfilter');
    expect(resolveEndpointInput({ ...base, model: 'none' }).model).toBe('none');
  });
  it("rejects a negative idx with upstream's exact message", () => {
    fails({ idx: -1 }, 'idx', 'non-negative', /^invalid network endpoint index: -1$/);
    fails({ idx: 1.5 }, 'idx', 'integer');
  });
  it('rejects names the kernel would truncate (15 bytes)', () => {
    expect(tapNameOf(9999999)).toHaveLength(15);
    expect(resolveEndpointInput({ ...base, idx: 9999999 }).tapName).toBe('tap9999999_kata');
    fails({ idx: 10000000 }, 'idx', 'tap-name-length', /at most 15 bytes/);
    fails({ ifName: 'a-very-long-name0' }, 'ifName', 'ifname', /at most 15 bytes \(got 17\)/);
    fails({ ifName: 'ééééééééé' }, 'ifName', 'ifname', /got 18/);
    fails({ ifName: 'a/b' }, 'ifName', 'ifname');
    fails({ ifName: 'a b' }, 'ifName', 'ifname');
    fails({ ifName: '..' }, 'ifName', 'ifname');
  });
  it('validates MACs: six octets, unicast, not zero', () => {
    fails({ mac: '02:00:00:00:00' }, 'mac', 'unicast-mac', /six colon-separated hex octets/);
    fails({ mac: '01:00:5e:00:00:01' }, 'mac', 'unicast-mac', /must be unicast/);
    fails({ mac: '00:00:00:00:00:00' }, 'mac', 'unicast-mac', /all zeros/);
    fails({ mac: '', hwAddr: '' }, 'mac', 'required');
    fails({ hwAddr: 'zz:00:00:00:00:00' }, 'hwAddr', 'unicast-mac');
  });
  it('validates MTUs against the tap range 68..65521', () => {
    expect(resolveEndpointInput({ ...base, mtu: 68 }).mtu).toBe(68);
    expect(resolveEndpointInput({ ...base, mtu: 65521 }).mtu).toBe(65521);
    fails({ mtu: 67 }, 'mtu', 'range', /between 68 and 65521/);
    fails({ mtu: 65522 }, 'mtu', 'range');
    fails({ mtu: 0 }, 'mtu', 'range');
    fails({ mtu: 1500.5 }, 'mtu', 'range', /integer/);
  });
  it('validates the rest of the input', () => {
    fails({ id: 'a b' }, 'id', 'pattern');
    fails({ vcpus: 0 }, 'vcpus', 'range');
    fails({ vcpus: 257 }, 'vcpus', 'range');
    fails({ netnsPath: 'relative' }, 'netnsPath', 'absolute');
    fails({ netnsCreated: 'yes' }, 'netnsCreated', 'boolean');
    fails({ model: 'bridge' }, 'model', 'known', /^Unknown type bridge$/);
    fails({ model: 'macvtap' }, 'model', 'supported');
  });
});
