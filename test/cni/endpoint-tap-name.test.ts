/** The endpoint input's optional `tapName` (what a CNI config's tap_name becomes). */
import { describe, expect, it } from 'vitest';
import { EndpointInputError, resolveEndpointInput, type EndpointInput } from '../../machines/index.js';

const base: EndpointInput = { id: 'e', idx: 3, mac: '02:00:00:00:00:01', netnsPath: '/run/netns/x', netnsCreated: true, vcpus: 1 };
const fails = (input: EndpointInput, field: string, rule: string, message: string): void => {
  let err: unknown;
  try {
    resolveEndpointInput(input);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(EndpointInputError);
  expect(err).toMatchObject({ field, rule, message });
};

describe('tapName', () => {
  it('defaults to tap<idx>_kata, or is the given name', () => {
    expect(resolveEndpointInput(base).tapName).toBe('tap3_kata');
    expect(resolveEndpointInput({ ...base, tapName: 'vmtap' }).tapName).toBe('vmtap');
  });
  it('follows the kernel name rules, names the field', () => {
    fails({ ...base, tapName: 'a-name-far-too-long' }, 'tapName', 'ifname', 'tapName "a-name-far-too-long" must be at most 15 bytes (got 19); the kernel would truncate it');
    fails({ ...base, tapName: '' }, 'tapName', 'ifname', 'tapName "" must not be empty');
  });
  it('must differ from the original link', () => {
    fails({ ...base, tapName: 'eth3' }, 'tapName', 'distinct', 'tapName "eth3" must differ from the original link\'s name');
  });
});
