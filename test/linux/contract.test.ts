/** The shared netlink contract suite against the real kernel (root required). */
import { beforeAll } from 'vitest';
import { LinuxNetlinkAdapter } from '../../src/linux/index.js';
import { netlinkContract } from '../adapters/netlink.contract.js';
import { realKernelHarness, requireRoot } from './fixture.js';

beforeAll(() => requireRoot());

netlinkContract('LinuxNetlinkAdapter (real kernel)', async () => realKernelHarness(() => new LinuxNetlinkAdapter()));
