/** The shared netlink contract suite against the real kernel (root required). */
import { beforeAll } from 'vitest';
import { LinuxNetlinkAdapter } from '../../src/linux/index.js';
import { netlinkContract } from '../adapters/netlink.contract.js';
import { addPlainLink, makeNetns, makeNotNetns, requireRoot, tunFdCount } from './fixture.js';

beforeAll(() => requireRoot());

netlinkContract('LinuxNetlinkAdapter (real kernel)', async () => {
  requireRoot();
  const ns = makeNetns();
  const notNetns = makeNotNetns();
  const adapter = new LinuxNetlinkAdapter();
  return {
    adapter,
    netns: ns.path,
    missingNetns: `/run/netns/tst-${process.pid}-missing-${Math.random().toString(36).slice(2)}`,
    notNetns: notNetns.path,
    addDummyLink: async (name, opts) => addPlainLink(ns, name, opts),
    openTapFdCount: async () => tunFdCount(),
    cleanup: async () => {
      try {
        await adapter.close();
      } finally {
        try {
          ns.remove();
        } finally {
          notNetns.remove();
        }
      }
    },
  };
});
