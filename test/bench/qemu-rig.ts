/** Teardown shared by the qemu bench cases: what one case set up, released in order, even on failure. */
import fs from 'node:fs';
import type { LinuxNetlinkAdapter } from '../../src/linux/adapter.js';
import type { QemuHypervisorAdapter } from '../../src/qemu/adapter.js';
import type { QemuInstance } from '../../src/qemu/launcher.js';
import type { Tapstore } from '../../src/runtime/tapstore.js';
import type { TestNetns } from '../linux/fixture.js';

export async function tearDownRig(r: { store?: Tapstore; hv?: QemuHypervisorAdapter; q?: QemuInstance; netlink: LinuxNetlinkAdapter; netns: TestNetns; dir: string }): Promise<void> {
  await r.store?.close().catch(() => undefined);
  await r.hv?.close().catch(() => undefined);
  await r.q?.stop().catch(() => r.q?.kill());
  await r.netlink.close().catch(() => undefined);
  try {
    r.netns.remove();
  } finally {
    fs.rmSync(r.dir, { recursive: true, force: true });
  }
}
