/**
 * The runtime's typed errors as a caller (and the CLI's one-line output) sees them: class, name,
 * stable code, the fields a program reads, and the exact message.
 */
import { describe, expect, it } from 'vitest';
import { TapstateError } from '../../machines/index.js';
import {
  DuplicateEndpointError,
  EndpointBusyError,
  EndpointOperationError,
  InDoubtError,
  InvalidCommandError,
  NetnsMismatchError,
  NonDeterminismError,
  StoreClosedError,
  StoreFailedError,
  UnknownEndpointError,
} from '../../src/runtime/errors.js';

const typed = (e: Error, name: string, code: string, message: string) => {
  expect(e).toBeInstanceOf(TapstateError);
  expect(e).toBeInstanceOf(Error);
  expect(e.name).toBe(name);
  expect((e as unknown as { code: string }).code).toBe(code);
  expect(e.message).toBe(message);
};

describe('runtime errors', () => {
  it('EndpointOperationError carries upstream\'s message, the op, step, cause and the settled state', () => {
    const cause = { name: 'NetlinkError', message: 'EINVAL', errno: 'EINVAL' };
    const e = new EndpointOperationError('ep0', { op: 'hotAttach', step: 'setMtu', message: 'Could not set TAP MTU 9000: EINVAL', cause }, 'created');
    typed(e, 'EndpointOperationError', 'ENDPOINT_OPERATION_FAILED', 'Could not set TAP MTU 9000: EINVAL');
    expect(e).toMatchObject({ endpoint: 'ep0', op: 'hotAttach', step: 'setMtu', state: 'created' });
    expect(e.cause).toBe(cause);
  });

  it('InvalidCommandError, EndpointBusyError, UnknownEndpointError, InDoubtError, StoreClosedError', () => {
    const inv = new InvalidCommandError('ep0', 'CLEANUP', 'created');
    typed(inv, 'InvalidCommandError', 'INVALID_COMMAND', 'endpoint ep0: CLEANUP is not possible in state created');
    expect(inv).toMatchObject({ endpoint: 'ep0', command: 'CLEANUP', state: 'created' });
    const busy = new EndpointBusyError('ep1');
    typed(busy, 'EndpointBusyError', 'ENDPOINT_BUSY', 'endpoint ep1 is busy with another command');
    expect(busy.endpoint).toBe('ep1');
    const unknown = new UnknownEndpointError('ep9');
    typed(unknown, 'UnknownEndpointError', 'UNKNOWN_ENDPOINT', 'no endpoint ep9 in this store');
    expect(unknown.endpoint).toBe('ep9');
    const doubt = new InDoubtError('ep0', 'hotAttach.hotplug');
    typed(doubt, 'InDoubtError', 'IN_DOUBT', 'endpoint ep0 has an interrupted effect (hotAttach.hotplug): run recovery first (tapstate recover)');
    expect(doubt).toMatchObject({ endpoint: 'ep0', effect: 'hotAttach.hotplug' });
    typed(new StoreClosedError(), 'StoreClosedError', 'STORE_CLOSED', 'the store is closed');
  });

  it('DuplicateEndpointError names the holder, except for an id (the holder is the id itself)', () => {
    typed(new DuplicateEndpointError('mac', '02:00:00:00:00:01', 'ep0'), 'DuplicateEndpointError', 'DUPLICATE_ENDPOINT', 'an endpoint with mac 02:00:00:00:00:01 exists already: ep0');
    expect(new DuplicateEndpointError('id', 'ep0', 'ep0').message).toBe('an endpoint with id ep0 exists already');
    expect(new DuplicateEndpointError('idx', 3).message).toBe('an endpoint with idx 3 exists already');
    expect(new DuplicateEndpointError('ifName', 'eth0', 'ep2')).toMatchObject({ field: 'ifName', value: 'eth0', holder: 'ep2' });
  });

  it('NetnsMismatchError names the field, both namespaces, and the hint when there is one', () => {
    const e = new NetnsMismatchError('NetNsPath', '/run/netns/a', '/run/netns/b');
    typed(e, 'NetnsMismatchError', 'NETNS_MISMATCH', 'NetNsPath "/run/netns/a" is not this store\'s network namespace "/run/netns/b": tapstate acts only in its store\'s netns');
    expect(e).toMatchObject({ field: 'NetNsPath', given: '/run/netns/a', storeNetns: '/run/netns/b' });
    expect(new NetnsMismatchError('netnsPath', '', '/run/netns/b', 'init a store per netns').message).toBe(
      'netnsPath "" is not this store\'s network namespace "/run/netns/b": tapstate acts only in its store\'s netns (init a store per netns)',
    );
  });

  it('NonDeterminismError shows the record, the endpoint, and both states', () => {
    const e = new NonDeterminismError(12, 'ep0', { v: 'created' }, { v: 'dirty' });
    typed(e, 'NonDeterminismError', 'NON_DETERMINISM', 'non-deterministic replay at record 12 (endpoint ep0): the log recorded {"v":"created"}, replay gives {"v":"dirty"}');
    expect(e).toMatchObject({ seq: 12, endpoint: 'ep0', recorded: { v: 'created' }, replayed: { v: 'dirty' } });
  });

  describe('StoreFailedError', () => {
    it('says what to do: free space for ENOSPC/EDQUOT, fix the cause otherwise', () => {
      typed(new StoreFailedError('ENOSPC', 'write'), 'StoreFailedError', 'STORE_FAILED', "log write failed (ENOSPC); run 'tapstate recover' once space is available");
      expect(new StoreFailedError('EDQUOT', 'fsync').message).toBe("log fsync failed (EDQUOT); run 'tapstate recover' once space is available");
      expect(new StoreFailedError('EIO', 'fsync').message).toBe("log fsync failed (EIO); run 'tapstate recover' once the cause is fixed");
      const used = new StoreFailedError('EIO', 'used-after-failure');
      expect(used.message).toBe("the store stopped after a failed log write (EIO); run 'tapstate recover' once the cause is fixed");
      expect(used).toMatchObject({ errno: 'EIO', during: 'used-after-failure' });
    });

    it('wraps a medium failure with its errno (or unknown), keeps the cause, and does not wrap itself', () => {
      const io = Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
      const w = StoreFailedError.of(io, 'write');
      expect(w).toMatchObject({ errno: 'EIO', during: 'write' });
      expect(w.cause).toBe(io);
      expect(StoreFailedError.of(w, 'fsync')).toBe(w);
      expect(StoreFailedError.of(new Error('odd'), 'fsync')).toMatchObject({ errno: 'unknown', during: 'fsync' });
      expect(StoreFailedError.errnoOf({ code: 'ENOSPC' })).toBe('ENOSPC');
      expect(StoreFailedError.errnoOf({ code: 'ERR_INVALID_ARG' })).toBeNull();
      expect(StoreFailedError.errnoOf({ code: 'xENOSPC' })).toBeNull();
      expect(StoreFailedError.errnoOf({ code: 28 })).toBeNull();
      expect(StoreFailedError.errnoOf({ code: ['ENOSPC'] })).toBeNull(); // only a string is an errno name
      expect(StoreFailedError.errnoOf({ code: Symbol('ENOSPC') })).toBeNull();
      expect(StoreFailedError.errnoOf(null)).toBeNull();
    });
  });
});
