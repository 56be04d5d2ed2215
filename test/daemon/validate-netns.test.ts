/**
 * #9's own-netns rule holds for the daemon too: a sandbox whose netnsPath is the daemon's own
 * network namespace (the host's) is refused as a field error, with the real adapters or not.
 */
import { describe, expect, it } from 'vitest';
import { RequestFieldError } from '../../src/daemon/errors.js';
import { sandboxConfig } from '../../src/daemon/validate.js';

describe('daemon sandbox config: netnsPath', () => {
  for (const realWorld of [false, true]) {
    it(`refuses the daemon's own netns (realWorld ${realWorld})`, () => {
      for (const p of ['/proc/self/ns/net', `/proc/${process.pid}/ns/net`]) {
        let err: unknown;
        try {
          sandboxConfig({ netnsPath: p }, realWorld);
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(RequestFieldError);
        expect(err).toMatchObject({ message: expect.stringContaining("own network namespace") });
      }
    });
  }
  it('accepts another absolute path with the in-memory adapters', () => {
    expect(sandboxConfig({ netnsPath: '/run/netns/elsewhere' }, false)).toMatchObject({ netnsPath: '/run/netns/elsewhere' });
  });
});
