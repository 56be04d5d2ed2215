/**
 * Namespace-path revalidation by mount-table generation (root required; fails, never skips).
 * Pinned paths skip stat() while the mount table is unchanged, so these tests check both that
 * a change is always seen and that only `ip netns`-style paths are treated as pinned.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { libc } from '../../src/linux/libc.js';
import { MountEvents, isMountPinned } from '../../src/linux/mount-events.js';
import { makeNetns, makeNotNetns, requireRoot, type TestNetns } from './fixture.js';

beforeAll(() => requireRoot());

describe('isMountPinned', () => {
  let ns: TestNetns;
  let dir: string;
  beforeEach(() => {
    ns = makeNetns();
    dir = mkdtempSync(join(tmpdir(), `tst-${process.pid}-pin-`));
  });
  afterEach(() => {
    try {
      ns.remove();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an `ip netns add` path is pinned', () => {
    expect(isMountPinned(libc(), ns.path)).toBe(true);
  });

  it('proc links, symlinks, plain files, relative and missing paths are not', () => {
    const link = join(dir, 'ns-link');
    symlinkSync(ns.path, link);
    const plain = makeNotNetns();
    try {
      for (const p of ['/proc/self/ns/net', `/proc/${process.pid}/ns/net`, link, plain.path, `run/netns/${ns.name}`, `${ns.path}-missing`, '/run/netns', '/'])
        expect([p, isMountPinned(libc(), p)]).toEqual([p, false]);
    } finally {
      plain.remove();
    }
  });
});

describe('MountEvents', () => {
  it('the generation holds while the mount table is unchanged and moves on every netns add/del', () => {
    const m = new MountEvents(libc());
    try {
      const g0 = m.generation();
      expect(g0).toBeGreaterThanOrEqual(0);
      expect(m.generation()).toBe(g0);
      const name = `tst-${process.pid}-${randomBytes(4).toString('hex')}`;
      execFileSync('ip', ['netns', 'add', name]);
      let g1: number;
      try {
        g1 = m.generation();
        expect(g1).not.toBe(g0);
        expect(m.generation()).toBe(g1);
      } finally {
        execFileSync('ip', ['netns', 'del', name]);
      }
      const g2 = m.generation();
      expect(g2).not.toBe(g1);
    } finally {
      m.close();
    }
  });

  it('every change is seen by the very next query, once, however many happened in between (epoll ready list)', () => {
    const m = new MountEvents(libc());
    const names = [0, 1, 2].map((i) => `tst-${process.pid}-${randomBytes(4).toString('hex')}-${i}`);
    try {
      let g = m.generation();
      for (let round = 0; round < 5; round++) {
        const name = names[round % names.length] as string;
        execFileSync('ip', ['netns', 'add', name]);
        const g1 = m.generation();
        expect(g1).not.toBe(g);
        expect(m.generation()).toBe(g1);
        execFileSync('ip', ['netns', 'del', name]);
        g = m.generation();
        expect(g).not.toBe(g1);
      }
      // several changes between two queries: one new generation, then stable
      for (const n of names) execFileSync('ip', ['netns', 'add', n]);
      for (const n of names) execFileSync('ip', ['netns', 'del', n]);
      const g2 = m.generation();
      expect(g2).not.toBe(g);
      expect(m.generation()).toBe(g2);
    } finally {
      m.close();
      for (const n of names) {
        try {
          execFileSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
        } catch {
          /* already gone */
        }
      }
    }
  });
});
