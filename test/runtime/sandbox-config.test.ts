/**
 * The sandbox config rules, field by field: every bad value is a SandboxConfigError naming the
 * field and the rule (the CLI prints it as one line), every default is applied in
 * `resolveSandbox` only, and a header's `meta` round-trips (a newer version is refused).
 */
import { describe, expect, it } from 'vitest';
import { MAX_QUEUES, TapstateError } from '../../machines/index.js';
import {
  LEGACY_SANDBOX,
  SANDBOX_CONFIG_VERSION,
  SandboxConfigError,
  checkSandbox,
  resolveSandbox,
  sandboxFromMeta,
  sandboxMeta,
  type SandboxConfig,
} from '../../src/runtime/sandbox-config.js';
import { vhostNetPresent } from '../../src/runtime/vhost-default.js';

const ok: SandboxConfig = { netnsPath: '/run/netns/sb', netnsCreated: false, vcpus: 2, vhost: false };

const rejects = (patch: Record<string, unknown>, field: string, message: string) => {
  let err: unknown;
  try {
    checkSandbox({ ...ok, ...patch } as SandboxConfig);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(SandboxConfigError);
  expect(err).toBeInstanceOf(TapstateError);
  expect(err).toMatchObject({ name: 'SandboxConfigError', code: 'SANDBOX_CONFIG_INVALID', field, message: `sandbox config: ${field} ${message}` });
};

describe('checkSandbox', () => {
  it('accepts a full config as it is (the same object)', () => {
    expect(checkSandbox(ok)).toBe(ok);
    const full: SandboxConfig = { netnsPath: '', hostNetns: true, netnsCreated: true, vcpus: MAX_QUEUES, vhost: true, multiQueue: false, qmp: '/run/vm/qmp.sock', hotplugBuses: ['rp0'] };
    expect(checkSandbox(full)).toBe(full);
    expect(checkSandbox({ ...ok, vcpus: 1, hostNetns: false, multiQueue: true, hotplugBuses: [] }).vcpus).toBe(1);
  });

  it.each([
    [{ netnsPath: 'run/netns/sb' }, 'netnsPath', 'must be an absolute path or "" (got "run/netns/sb")'],
    [{ netnsPath: 7 }, 'netnsPath', 'must be an absolute path or "" (got 7)'],
    [{ hostNetns: 'yes' }, 'hostNetns', 'must be a boolean'],
    [{ hostNetns: true }, 'hostNetns', 'needs netnsPath "" (the own namespace)'],
    [{ netnsCreated: undefined }, 'netnsCreated', 'must be a boolean'],
    [{ vcpus: 0 }, 'vcpus', `must be an integer between 1 and ${MAX_QUEUES} (got 0)`],
    [{ vcpus: MAX_QUEUES + 1 }, 'vcpus', `must be an integer between 1 and ${MAX_QUEUES} (got ${MAX_QUEUES + 1})`],
    [{ vcpus: 1.5 }, 'vcpus', `must be an integer between 1 and ${MAX_QUEUES} (got 1.5)`],
    [{ vhost: 'auto' }, 'vhost', 'must be a boolean'],
    [{ multiQueue: 1 }, 'multiQueue', 'must be a boolean'],
    [{ qmp: 'qmp.sock' }, 'qmp', 'must be an absolute socket path (got "qmp.sock")'],
    [{ qmp: 5 }, 'qmp', 'must be an absolute socket path (got 5)'],
    // koffi passes a C string: "/run/netns/a\0/../b" would open "/run/netns/a", not the path checked
    [{ netnsPath: '/run/netns/a\0/../b' }, 'netnsPath', 'must not contain a NUL character'],
    [{ qmp: '/run/vm/qmp.sock\0x' }, 'qmp', 'must not contain a NUL character'],
    [{ hotplugBuses: 'rp0' }, 'hotplugBuses', 'must be a list of non-empty QEMU ids'],
    [{ hotplugBuses: ['rp0', ''] }, 'hotplugBuses', 'must be a list of non-empty QEMU ids'],
    [{ hotplugBuses: [3] }, 'hotplugBuses', 'must be a list of non-empty QEMU ids'],
  ])('%j → %s %s', (patch, field, message) => rejects(patch, field, message));

  it('a config that is not an object names "sandbox"', () => {
    for (const bad of [null, 'x', 3])
      expect(() => checkSandbox(bad as unknown as SandboxConfig)).toThrow(expect.objectContaining({ field: 'sandbox', message: 'sandbox config: sandbox must be an object' }));
  });
});

describe('resolveSandbox', () => {
  it('applies the defaults: not our netns, 1 vCPU, vhost as the host has it; optional fields only when given', () => {
    expect(resolveSandbox({ netnsPath: '/run/netns/sb' })).toStrictEqual({ netnsPath: '/run/netns/sb', netnsCreated: false, vcpus: 1, vhost: vhostNetPresent() });
    expect(resolveSandbox({ netnsPath: '/run/netns/sb', vhost: 'auto' }).vhost).toBe(vhostNetPresent());
  });

  it('keeps what was given', () => {
    const buses = ['rp0', 'rp1'];
    const s = resolveSandbox({ netnsPath: '', hostNetns: true, netnsCreated: true, vcpus: 4, vhost: true, multiQueue: false, qmp: '/run/vm/qmp', hotplugBuses: buses });
    expect(s).toStrictEqual({ netnsPath: '', hostNetns: true, netnsCreated: true, vcpus: 4, vhost: true, multiQueue: false, qmp: '/run/vm/qmp', hotplugBuses: ['rp0', 'rp1'] });
    // a copy: the caller's list changing later does not change the store's config
    expect(s.hotplugBuses).not.toBe(buses);
    // the defaults are not written out: hostNetns false and multiQueue true are the defaults
    expect(resolveSandbox({ netnsPath: '/run/netns/sb', hostNetns: false, multiQueue: true, vhost: false })).toStrictEqual({ netnsPath: '/run/netns/sb', netnsCreated: false, vcpus: 1, vhost: false });
  });

  it('checks the result: a bad field is a typed error naming it', () => {
    expect(() => resolveSandbox({ netnsPath: '/run/netns/sb', vcpus: 0 })).toThrow(expect.objectContaining({ field: 'vcpus' }));
    expect(() => resolveSandbox({ netnsPath: '/run/netns/sb', hostNetns: true })).toThrow(expect.objectContaining({ field: 'hostNetns' }));
  });
});

describe('resolveSandbox: what a caller may give', () => {
  it('an unknown field (a typo) is a SandboxConfigError naming it (was: ignored, the store made with the default)', () => {
    for (const [init, field] of [
      [{ netnsPath: '/run/netns/sb', vcpu: 4 }, 'vcpu'],
      [{ netnsPath: '/run/netns/sb', qmpSocket: '/run/vm/qmp' }, 'qmpSocket'],
      [{ netnsPath: '/run/netns/sb', vcpus: 2, sandbox: {} }, 'sandbox'],
    ] as const) {
      let err: unknown;
      try {
        resolveSandbox(init as never);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SandboxConfigError);
      expect(err).toMatchObject({ code: 'SANDBOX_CONFIG_INVALID', field });
      expect((err as Error).message).toBe(`sandbox config: ${field} is not a field of the sandbox config (known: netnsPath, hostNetns, netnsCreated, vcpus, vhost, multiQueue, qmp, hotplugBuses)`);
    }
  });

  it('hotplugBuses that is not a list is refused before it is copied (was: "rp0" became ["r", "p", "0"])', () => {
    for (const hotplugBuses of ['rp0', { 0: 'rp0', length: 1 }, 5])
      expect(() => resolveSandbox({ netnsPath: '/run/netns/sb', hotplugBuses } as never)).toThrow(expect.objectContaining({ name: 'SandboxConfigError', field: 'hotplugBuses' }));
  });

  it('a config that is not an object is a SandboxConfigError naming "sandbox", never a TypeError', () => {
    for (const bad of [null, undefined, 'x', 3]) expect(() => resolveSandbox(bad as never)).toThrow(expect.objectContaining({ name: 'SandboxConfigError', field: 'sandbox' }));
  });
});

describe('the sandbox in a log header', () => {
  it('round-trips, versioned', () => {
    expect(SANDBOX_CONFIG_VERSION).toBe(1);
    expect(sandboxMeta(ok)).toStrictEqual({ sandbox: ok, sandboxVersion: 1 });
    expect(sandboxFromMeta(sandboxMeta(ok))).toStrictEqual(ok);
  });

  it('reads a header without a version as version 1, one without a sandbox as the legacy one (a copy)', () => {
    expect(sandboxFromMeta({ sandbox: ok })).toStrictEqual(ok);
    const legacy = sandboxFromMeta({});
    expect(legacy).toStrictEqual({ netnsPath: '', netnsCreated: true, vcpus: 1, vhost: false });
    expect(legacy).not.toBe(LEGACY_SANDBOX);
    expect(Object.isFrozen(LEGACY_SANDBOX)).toBe(true);
  });

  it('gives a stored config without vhost the host default, and keeps a stored vhost', () => {
    const { vhost: _, ...noVhost } = ok;
    expect(sandboxFromMeta({ sandbox: noVhost, sandboxVersion: 1 })).toStrictEqual({ ...noVhost, vhost: vhostNetPresent() });
    expect(sandboxFromMeta({ sandbox: { ...ok, vhost: true } }).vhost).toBe(true);
  });

  it('refuses a config written by a newer tapstate, naming the version', () => {
    expect(() => sandboxFromMeta({ sandbox: ok, sandboxVersion: 2 })).toThrow(
      expect.objectContaining({ name: 'SandboxConfigError', field: 'sandboxVersion', message: 'sandbox config: sandboxVersion must be 1 (got 2): a newer tapstate wrote this store' }),
    );
    expect(() => sandboxFromMeta({ sandboxVersion: '1' })).toThrow(expect.objectContaining({ message: expect.stringContaining('(got "1")') }));
  });
});
