/**
 * Test fixture: a real QEMU per test file (unique temp dir, killed by PID even on failure), a
 * unique netns for taps, and cleanup registries.
 */
import { launchQemu, type LaunchOptions, type QemuInstance } from '../../src/qemu/launcher.js';
import { createNetns, makeTap, requireRealEnvironment, type TestNetns, type TestTap } from './tap-helper.js';

/** Everything a real-QEMU test file creates, torn down by {@link RealEnv.teardown}. */
export class RealEnv {
  readonly qemus: QemuInstance[] = [];
  readonly taps: TestTap[] = [];
  netns: TestNetns | undefined;

  constructor() {
    requireRealEnvironment();
  }

  async qemu(opts: LaunchOptions = {}): Promise<QemuInstance> {
    const q = await launchQemu(opts);
    this.qemus.push(q);
    return q;
  }

  tap(queues: number): TestTap {
    this.netns ??= createNetns();
    const t = makeTap(this.netns.name, queues);
    this.taps.push(t);
    return t;
  }

  get netnsName(): string {
    this.netns ??= createNetns();
    return this.netns.name;
  }

  async teardown(): Promise<void> {
    for (const t of this.taps.splice(0)) t.closeFds();
    await Promise.all(this.qemus.splice(0).map((q) => q.stop(1000).catch(() => q.kill())));
    this.netns?.delete(); // deleting the netns removes its taps
    this.netns = undefined;
  }
}
