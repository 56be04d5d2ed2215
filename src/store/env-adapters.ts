/**
 * The adapters a process's environment asks for — the real ones, or two test/benchmark hooks
 * (docs/cli.md): `TAPSTATE_ADAPTERS=memory` uses the in-memory kernel and hypervisor, and
 * `TAPSTATE_TEST_EFFECT_DELAY_MS=N` stretches every adapter call by N ms (half before, half after)
 * so that kill -9 tests can land in every effect state. Shared by the CLI, the daemon and the
 * CNI plugin as an {@link openStore} adapter factory.
 */
import type { Adapters } from '../runtime/effects.js';
import type { SandboxConfig } from '../runtime/sandbox-config.js';
import { defaultAdapters, defaultHypervisor } from './default-adapters.js';

/** Which adapters the environment asks for. */
export type AdapterKind = 'real' | 'memory';

export function adapterKind(env: NodeJS.ProcessEnv): AdapterKind {
  const v = env.TAPSTATE_ADAPTERS ?? 'real';
  if (v !== 'real' && v !== 'memory') throw new Error(`TAPSTATE_ADAPTERS must be "real" or "memory" (got ${JSON.stringify(v)})`);
  return v;
}

/** Stretch every call of an adapter by `ms` (test hook; see the module comment). */
function stretched<T extends object>(adapter: T, ms: number): T {
  const sleep = (t: number) => new Promise((r) => setTimeout(r, t));
  return new Proxy(adapter, {
    get(target, prop) {
      const value = Reflect.get(target, prop) as unknown;
      if (typeof value !== 'function') return value;
      const fn = (value as (...a: unknown[]) => unknown).bind(target);
      if (prop === 'close' || prop === 'closeFds') return fn;
      return async (...args: unknown[]) => {
        await sleep(ms / 2);
        const r = await fn(...args);
        await sleep(ms / 2);
        return r;
      };
    },
  });
}

/** The adapters the environment asks for (see the module comment). */
export async function envAdapters(sandbox: SandboxConfig, env: NodeJS.ProcessEnv, sharedNetlink?: Adapters['netlink']): Promise<Adapters> {
  let netlink: Adapters['netlink'];
  let hypervisor: Adapters['hypervisor'];
  if (adapterKind(env) === 'memory') {
    const { MemoryKernel, MemoryHypervisor } = await import('../adapters/memory/index.js');
    const kernel = new MemoryKernel();
    if (sandbox.netnsPath !== '') kernel.addNetns(sandbox.netnsPath);
    netlink = kernel;
    hypervisor = new MemoryHypervisor({ kernel });
  } else if (sharedNetlink) {
    // the owner's adapter (one per daemon): closing this store must not close it
    netlink = new Proxy(sharedNetlink, { get: (t, p) => (p === 'close' ? async () => {} : (Reflect.get(t, p) as unknown)) });
    hypervisor = await defaultHypervisor(sandbox);
  } else ({ netlink, hypervisor } = await defaultAdapters(sandbox));
  const delay = Number(env.TAPSTATE_TEST_EFFECT_DELAY_MS ?? 0);
  if (Number.isFinite(delay) && delay > 0) {
    netlink = stretched(netlink, delay);
    hypervisor = stretched(hypervisor, delay);
  }
  return { netlink, hypervisor };
}
