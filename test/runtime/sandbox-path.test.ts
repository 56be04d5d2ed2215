/**
 * One spelling per sandbox path (src/runtime/sandbox-path.ts): `/run/netns/a/`, `/run//netns/a`
 * and `/run/./netns/a` are one namespace, so one config — in the library's sandbox check, a store
 * reopened with another spelling, an endpoint input, a persist document, the CNI plugin's
 * CNI_NETNS — and a `..` segment is refused where a path enters, kept where it was stored.
 * Before: each spelling was another sandbox config (`openStore` threw SandboxMismatchError).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryHypervisor, MemoryKernel } from '../../src/adapters/memory/index.js';
import { FileLogStore } from '../../src/log/index.js';
import { SandboxConfigError, checkSandbox, resolveSandbox, sandboxFromMeta, type SandboxConfig } from '../../src/runtime/sandbox-config.js';
import { dotDotProblem, normalPath } from '../../src/runtime/sandbox-path.js';
import { openStore } from '../../src/store/open-store.js';
import { parseEnv } from '../../src/cni/index.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
function tmpStore(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-sandbox-path-${process.pid}-`));
  dirs.push(d);
  return path.join(d, 'store');
}
const memory = (sb: SandboxConfig) => {
  const kernel = new MemoryKernel();
  kernel.addNetns(sb.netnsPath);
  return { netlink: kernel, hypervisor: new MemoryHypervisor({ kernel }) };
};

describe('normalPath / dotDotProblem', () => {
  it('collapses //, /./ and a trailing /; keeps "" and "/"; never rewrites ..', () => {
    const cases: Array<[string, string]> = [
      ['/run/netns/a/', '/run/netns/a'],
      ['/run//netns///a', '/run/netns/a'],
      ['/run/./netns/./a/.', '/run/netns/a'],
      ['//run/netns/a', '/run/netns/a'],
      ['/run/netns/a', '/run/netns/a'],
      ['/', '/'],
      ['', ''],
      ['/run/netns/../x', '/run/netns/../x'],
      ['/run/netns/a..b/', '/run/netns/a..b'],
    ];
    for (const [p, n] of cases) expect([p, normalPath(p)]).toEqual([p, n]);
    expect(dotDotProblem('/run/netns/../x')).toMatch(/must not contain a "\.\." segment/);
    expect(dotDotProblem('/run/netns/x/..')).toBeDefined();
    expect(dotDotProblem('/run/netns/a..b')).toBeUndefined();
  });
});

const BASE: SandboxConfig = { netnsPath: '/run/netns/a', netnsCreated: false, vcpus: 1, vhost: false };

describe("the library's sandbox check", () => {
  it('stores netnsPath and qmp in their one spelling; a .. is a SandboxConfigError naming the field', () => {
    const s = resolveSandbox({ netnsPath: '/run//netns/a/', qmp: '/run/vm/./qmp.sock', vhost: false });
    expect([s.netnsPath, s.qmp]).toEqual(['/run/netns/a', '/run/vm/qmp.sock']);
    for (const [patch, field] of [
      [{ netnsPath: '/run/netns/../netns/a' }, 'netnsPath'],
      [{ qmp: '/run/vm/../vm/qmp.sock' }, 'qmp'],
    ] as const) {
      const e = (() => {
        try {
          checkSandbox({ ...BASE, ...patch });
        } catch (x) {
          return x;
        }
      })();
      expect(e).toBeInstanceOf(SandboxConfigError);
      expect((e as SandboxConfigError).field).toBe(field);
    }
  });

  it('a store written before reads in the one spelling (a .. kept as written: it still opens)', () => {
    expect(sandboxFromMeta({ sandbox: { netnsPath: '/run/netns/a/', netnsCreated: false, vcpus: 1, vhost: false, qmp: '/q//s' } })).toMatchObject({ netnsPath: '/run/netns/a', qmp: '/q/s' });
    expect(sandboxFromMeta({ sandbox: { netnsPath: '/run/../a', netnsCreated: false, vcpus: 1, vhost: false } }).netnsPath).toBe('/run/../a');
  });

  it('openStore with another spelling of the same netns opens the store (was SandboxMismatchError); endpoints and documents may use either', async () => {
    const dir = tmpStore();
    const first = await openStore(dir, { sandbox: { netnsPath: '/run/netns/sp', vhost: false }, adapters: memory });
    await first.close();
    const again = await openStore(dir, { sandbox: { netnsPath: '/run/netns/sp/', vhost: false }, adapters: memory });
    expect(again.sandbox.netnsPath).toBe('/run/netns/sp');
    const ep = again.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01', netnsPath: '/run//netns/sp' });
    expect(ep.netnsPath).toBe('/run/netns/sp');
    const loaded = await again.load({ NetNsPath: '/run/netns/./sp/', NetNsCreated: false, Endpoints: [] });
    expect(loaded.endpoints).toEqual([]);
    await again.close();
  });

  it('a store an older version wrote with a trailing slash reopens with the same spelling and the normal one', async () => {
    const dir = tmpStore();
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    FileLogStore.create(dir, { sandbox: { netnsPath: '/run/netns/old/', netnsCreated: false, vcpus: 1, vhost: false }, sandboxVersion: 1 }).close();
    for (const netnsPath of ['/run/netns/old/', '/run/netns/old']) {
      const s = await openStore(dir, { sandbox: { netnsPath, vhost: false }, adapters: memory });
      expect(s.sandbox.netnsPath).toBe('/run/netns/old');
      await s.close();
    }
  });
});

describe('tapstate-cni', () => {
  it('CNI_NETNS in its one spelling; a .. is a CniEnvError (rule dot-dot)', () => {
    const env = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni' };
    expect(parseEnv({ ...env, CNI_NETNS: '/var/run/netns//cni-1/' }).netns).toBe('/var/run/netns/cni-1');
    expect(() => parseEnv({ ...env, CNI_NETNS: '/var/run/netns/../cni-1' })).toThrow(expect.objectContaining({ name: 'CniEnvError', variable: 'CNI_NETNS', rule: 'dot-dot' }));
  });
});
