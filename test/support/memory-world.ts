/**
 * A whole in-memory world for runtime tests: a kernel with one sandbox netns, a hypervisor
 * holding fds through that kernel, a log medium that survives "crashes", and a way to open a
 * Tapstore on them (optionally with faults).
 */
import { MemoryHypervisor, MemoryKernel } from '../../src/adapters/memory/index.js';
import { withFaults, type FaultPlan } from '../../src/adapters/faults.js';
import { MemoryLogMedium, MemoryLogStore } from '../../src/log/index.js';
import type { AppendHook, CompactionHook } from '../../src/log/store.js';
import type { LogRecord } from '../../src/log/records.js';
import { sealedRecords } from '../../src/log/segment-reader.js';
import type { RetentionPolicy } from '../../src/log/retention.js';
import { Tapstore, type TapstoreOptions } from '../../src/runtime/tapstore.js';
import type { SandboxConfig } from '../../src/runtime/sandbox-config.js';

export const NETNS = '/run/netns/sandbox';

export interface MemoryWorld {
  kernel: MemoryKernel;
  hypervisor: MemoryHypervisor;
  medium: MemoryLogMedium;
  /**
   * The records of segments compaction deleted (retention without `keepHistory`), oldest first:
   * kept by the test, not the store, so that end-of-run invariants can still read the whole
   * history (the retained history follows them without a gap).
   */
  deleted: LogRecord[];
  sandbox: SandboxConfig;
  /** Open (or reopen) the store; the first call creates it. */
  open(opts?: { faults?: FaultPlan; hook?: AppendHook; retention?: RetentionPolicy; compactHook?: CompactionHook } & Partial<TapstoreOptions>): Promise<Tapstore>;
  /** The process died: the kernel closes every fd it held. */
  crash(): void;
  /** Taps (kind tun) left in any namespace. */
  taps(): string[];
  /** The records the log holds now, read without writing (the retained history). */
  records(): LogRecord[];
}

export function memoryWorld(sandbox: Partial<SandboxConfig> = {}, opts: { slots?: number; vhostNet?: boolean } = {}): MemoryWorld {
  const kernel = new MemoryKernel({ vhostNet: opts.vhostNet ?? false });
  kernel.addNetns(NETNS);
  kernel.addDummyLink(NETNS, 'eth0', { mtu: 1400, mac: '02:aa:bb:cc:dd:01' });
  const hypervisor = new MemoryHypervisor({ kernel, slots: opts.slots ?? 8 });
  const medium = new MemoryLogMedium();
  const deleted: LogRecord[] = [];
  const remove = medium._removeSealed.bind(medium);
  medium._removeSealed = (name, archive) => {
    if (!archive) {
      let f;
      try {
        f = medium._openSealed('segments', name);
      } catch {
        f = null; // already gone
      }
      if (f) for (const r of sealedRecords(f, 0, null).records) deleted.push(r.record);
    }
    remove(name, archive);
  };
  const sb: SandboxConfig = { netnsPath: NETNS, netnsCreated: true, vcpus: 2, vhost: false, ...sandbox };
  let created = false;
  return {
    kernel,
    hypervisor,
    medium,
    deleted,
    sandbox: sb,
    async open(o = {}) {
      const { faults, hook, retention, compactHook, ...rest } = o;
      const lo = { hook, retention, compactHook };
      const log = created ? MemoryLogStore.open(medium, lo) : MemoryLogStore.create(medium, { sandbox: sb }, lo);
      created = true;
      const netlink = faults ? withFaults(kernel, 'netlink', faults) : kernel;
      const hv = faults ? withFaults(hypervisor, 'hypervisor', faults) : hypervisor;
      return Tapstore.open({ log, adapters: { netlink, hypervisor: hv }, ...rest });
    },
    crash() {
      kernel.simulateProcessDeath();
    },
    taps() {
      return kernel.snapshot().netns.flatMap((n) => n.links.filter((l) => l.kind === 'tun').map((l) => `${n.path}:${l.name}`));
    },
    records() {
      return MemoryLogStore.open(medium, { readOnly: true })
        .read()
        .records.map((r) => r.record);
    },
  };
}
