/** NODE_DEBUG=tapstate: every adapter call with its duration and errno / kind. */
import { describe, expect, it, vi } from 'vitest';
import { MemoryHypervisor, MemoryKernel } from '../../src/adapters/memory/index.js';
import { describeError, traced, tracedAdapters, type DebugLogger } from '../../src/runtime/debug-log.js';

function logger(enabled = true): DebugLogger & { lines: string[] } {
  const lines: string[] = [];
  return Object.assign((m: string) => void lines.push(m), { enabled, lines });
}

describe('traced adapters', () => {
  it('logs each call with its arguments, duration, and the errno of a kernel failure', async () => {
    const log = logger();
    const kernel = new MemoryKernel();
    kernel.addNetns('/run/netns/dbg');
    const k = traced(kernel, 'netlink', log);
    const tap = await k.createTap({ netns: '/run/netns/dbg', name: 'tap0_kata', queues: 1 });
    await k.closeFds(tap.fds);
    await expect(k.createTap({ netns: '/run/netns/dbg', name: 'tap0_kata', queues: 1 })).rejects.toMatchObject({ errno: 'EEXIST' });
    expect(log.lines[0]).toMatch(/^netlink\.createTap \{"netns":"\/run\/netns\/dbg","name":"tap0_kata","queues":1\} ok \d+\.\d\d ms$/);
    expect(log.lines[1]).toMatch(/^netlink\.closeFds \[\d+\] ok \d+\.\d\d ms$/);
    expect(log.lines[2]).toMatch(/^netlink\.createTap .* failed \d+\.\d\d ms: NetlinkError errno=EEXIST\(17\): /);
  });

  it('logs the kind of a hypervisor failure', async () => {
    const log = logger();
    const kernel = new MemoryKernel();
    const h = traced(new MemoryHypervisor({ kernel, slots: 1 }), 'hypervisor', log);
    const nic = { netdevId: 'n0', deviceId: 'd0', mac: '02:00:00:00:00:01', queues: 2, tapName: 't0', vhost: false };
    await expect(h.hotplug(nic, [])).rejects.toMatchObject({ kind: 'invalid' });
    expect(log.lines).toEqual([expect.stringMatching(/^hypervisor\.hotplug \{"netdevId":"n0",.*\} \[\] failed \d+\.\d\d ms: HypervisorError kind=invalid: /)]);
  });

  it('is the adapter itself when NODE_DEBUG lacks tapstate', () => {
    const kernel = new MemoryKernel();
    const hypervisor = new MemoryHypervisor({ kernel });
    const a = { netlink: kernel, hypervisor };
    expect(tracedAdapters(a, logger(false))).toBe(a);
    expect(traced(kernel, 'netlink', logger(false))).toBe(kernel);
  });

  it('describes system errors by code', () => {
    const e = Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT', errno: -2 });
    expect(describeError(e)).toBe('Error errno=ENOENT(2): ENOENT: no such file');
  });
});

describe('what a traced call logs', () => {
  const obj = {
    n: 1,
    sync(a: number, b: string) {
      return `${a}${b}${this.n}`;
    },
    boom() {
      throw Object.assign(new Error('bad\n  multi-line'), { kind: 'invalid' });
    },
    async none() {
      return 7;
    },
  };

  it('a synchronous call: its value returned as is (bound to the adapter), logged ok', () => {
    const log = logger();
    const t = traced(obj, 'x', log);
    expect(t.sync(2, 'b')).toBe('2b1');
    expect(t.n).toBe(1);
    expect(log.lines).toEqual([expect.stringMatching(/^x\.sync 2 "b" ok \d+\.\d\d ms$/)]);
  });

  it('a call without arguments names only the method; a promise is returned resolved to its value', async () => {
    const log = logger();
    await expect(traced(obj, 'x', log).none()).resolves.toBe(7);
    expect(log.lines).toEqual([expect.stringMatching(/^x\.none ok \d+\.\d\d ms$/)]);
  });

  it('a synchronous throw is logged with the kind and a one-line message, then rethrown', () => {
    const log = logger();
    expect(() => traced(obj, 'x', log).boom()).toThrow('bad');
    expect(log.lines).toEqual([expect.stringMatching(/^x\.boom failed \d+\.\d\d ms: Error kind=invalid: bad multi-line$/)]);
  });

  it('arguments: undefined spelled out, long ones cut at 300 characters, unprintable ones said so', () => {
    const log = logger();
    const t = traced({ f: (..._a: unknown[]) => 0 }, 'x', log);
    t.f(undefined, 1);
    t.f('a'.repeat(400));
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    t.f(cyclic);
    t.f('a'.repeat(298));
    expect(log.lines[0]).toMatch(/^x\.f undefined 1 ok /);
    expect(log.lines[1]).toMatch(new RegExp(`^x\\.f "${'a'.repeat(299)}… ok `));
    expect(log.lines[2]).toMatch(/^x\.f \(unprintable arguments\) ok /);
    // exactly 300 characters: not cut
    expect(log.lines[3]).toMatch(new RegExp(`^x\\.f "${'a'.repeat(298)}" ok `));
  });

  it('describeError: errno with its number, a code only when errno-like, a kind, anything else as text', () => {
    expect(describeError(Object.assign(new Error('x'), { errno: 'EEXIST', errnoNumber: 17 }))).toBe('Error errno=EEXIST(17): x');
    expect(describeError(Object.assign(new Error('x'), { errno: 'EEXIST' }))).toBe('Error errno=EEXIST: x');
    expect(describeError(Object.assign(new Error('x'), { errno: '', code: 'ENOENT', errno2: 1 }))).toBe('Error errno=ENOENT: x');
    expect(describeError(Object.assign(new Error('x'), { code: 'ERR_BAD' }))).toBe('Error: x');
    expect(describeError(Object.assign(new Error('x'), { code: 'xENOENT' }))).toBe('Error: x');
    expect(describeError(Object.assign(new Error('x'), { code: 'ENOENT', errno: -2, kind: 'k' }))).toBe('Error errno=ENOENT(2) kind=k: x');
    expect(describeError(new TypeError('t'))).toBe('TypeError: t');
    expect(describeError('str')).toBe('str');
    expect(describeError(undefined)).toBe('undefined');
  });

  it('the duration is the time the call took (the clock read before and after it)', () => {
    const log = logger();
    const t = traced(obj, 'x', log);
    const clock = vi.spyOn(performance, 'now');
    try {
      clock.mockReturnValueOnce(5000).mockReturnValueOnce(5003.25);
      t.sync(1, 'a');
      clock.mockReturnValueOnce(9000).mockReturnValueOnce(9012.5);
      expect(() => t.boom()).toThrow('bad');
    } finally {
      clock.mockRestore();
    }
    expect(log.lines).toEqual(['x.sync 1 "a" ok 3.25 ms', 'x.boom failed 12.50 ms: Error kind=invalid: bad multi-line']);
  });

  it('a symbol-keyed method passes through untraced and works (a disposer, an inspector)', () => {
    const log = logger();
    const dispose = Symbol('dispose');
    const t = traced({ n: 2, [dispose]() { return this.n; } }, 'x', log);
    expect(t[dispose]()).toBe(2);
    expect(log.lines).toEqual([]);
  });

  it('describeError: a code that is not a string is no errno, whatever its text', () => {
    expect(describeError(Object.assign(new Error('x'), { code: ['EIO'] }))).toBe('Error: x');
    expect(describeError(Object.assign(new Error('x'), { code: { toString: () => 'ENOENT' } }))).toBe('Error: x');
    expect(describeError(Object.assign(new Error('x'), { code: 5 }))).toBe('Error: x');
  });

  it('tracedAdapters wraps both adapters when on, and keeps the rest', async () => {
    const log = logger();
    const kernel = new MemoryKernel();
    const hypervisor = new MemoryHypervisor({ kernel });
    const a = tracedAdapters({ netlink: kernel, hypervisor }, log);
    expect(a.netlink).not.toBe(kernel);
    await a.netlink.netnsExists('/x');
    await a.hypervisor.alive();
    expect(log.lines.map((l) => l.split(' ')[0])).toEqual(['netlink.netnsExists', 'hypervisor.alive']);
  });
});
