/**
 * Every module `npm run mutate` mutates loads, and the machine it builds at load time is whole.
 *
 * The imports are dynamic, with their errors caught, on purpose: a mutant that breaks a module's
 * top-level code (e.g. a step name in `HOT_ATTACH_STEPS` emptied, so the machine cannot be
 * built) makes every test file that imports the module statically fail to load, and StrykerJS's
 * vitest runner counts a file that fails to load as "no tests failed" — the mutant would survive
 * although nothing works. Here the file loads and a test fails. Runs first under `npm run mutate`
 * (FastFirst).
 */
import { describe, expect, it } from 'vitest';

const MODULES: Record<string, () => Promise<unknown>> = {
  '../../machines/index.js': () => import('../../machines/index.js'),
  '../../src/runtime/tapstore.js': () => import('../../src/runtime/tapstore.js'),
  '../../src/runtime/checkpointer.js': () => import('../../src/runtime/checkpointer.js'),
  '../../src/runtime/compact-context.js': () => import('../../src/runtime/compact-context.js'),
  '../../src/runtime/group-commit.js': () => import('../../src/runtime/group-commit.js'),
  '../../src/runtime/pure-transition.js': () => import('../../src/runtime/pure-transition.js'),
  '../../src/runtime/debug-log.js': () => import('../../src/runtime/debug-log.js'),
  '../../src/runtime/driver.js': () => import('../../src/runtime/driver.js'),
  '../../src/runtime/effects.js': () => import('../../src/runtime/effects.js'),
  '../../src/runtime/endpoint-slot.js': () => import('../../src/runtime/endpoint-slot.js'),
  '../../src/runtime/endpoint-view.js': () => import('../../src/runtime/endpoint-view.js'),
  '../../src/runtime/errors.js': () => import('../../src/runtime/errors.js'),
  '../../src/runtime/fd-table.js': () => import('../../src/runtime/fd-table.js'),
  '../../src/runtime/inspection.js': () => import('../../src/runtime/inspection.js'),
  '../../src/runtime/journal.js': () => import('../../src/runtime/journal.js'),
  '../../src/runtime/rebuild.js': () => import('../../src/runtime/rebuild.js'),
  '../../src/runtime/recovery-scheduler.js': () => import('../../src/runtime/recovery-scheduler.js'),
  '../../src/runtime/recovery.js': () => import('../../src/runtime/recovery.js'),
  '../../src/runtime/replay.js': () => import('../../src/runtime/replay.js'),
  '../../src/runtime/retirement.js': () => import('../../src/runtime/retirement.js'),
  '../../src/runtime/sandbox-config.js': () => import('../../src/runtime/sandbox-config.js'),
  '../../src/runtime/vhost-default.js': () => import('../../src/runtime/vhost-default.js'),
  '../../src/persist/persist-json.js': () => import('../../src/persist/persist-json.js'),
  '../../src/persist/persisted-network.js': () => import('../../src/persist/persisted-network.js'),
  '../../src/persist/store-persist.js': () => import('../../src/persist/store-persist.js'),
};

/**
 * Loaded at collection time (top-level await), not inside a test: what a module runs at load is
 * then "static" code for StrykerJS, and every test runs against a mutant of it (loaded inside a
 * test, it would count as covered by this file's tests only). A load that throws is kept and
 * fails the test below.
 */
const loaded = new Map<string, Record<string, unknown> | Error>();
// literal import() calls: vitest's module graph (and Stryker's `related` test selection) sees them
for (const [m, load] of Object.entries(MODULES)) {
  try {
    loaded.set(m, (await load()) as Record<string, unknown>);
  } catch (e) {
    loaded.set(m, e instanceof Error ? e : new Error(String(e)));
  }
}

describe('the mutated modules load', () => {
  it.each(Object.keys(MODULES))('%s', (m) => {
    const mod = loaded.get(m);
    expect(mod).not.toBeInstanceOf(Error);
    expect(Object.keys(mod as Record<string, unknown>).length).toBeGreaterThan(0);
  });

  it('the endpoint machine has every state of its step tables, each effect state invoking its step', () => {
    const m = loaded.get('../../machines/index.js');
    expect(m).not.toBeInstanceOf(Error);
    const { endpointMachine, HOT_ATTACH_STEPS, ATTACH_STEPS, TEARDOWN_STEPS, STEPS } = m as unknown as typeof import('../../machines/index.js');
    expect(HOT_ATTACH_STEPS).toEqual(['createTap', 'setMtu', 'setUp', 'hotplug']);
    expect(ATTACH_STEPS).toEqual(['createTap', 'getOrigLink', 'setMtu', 'setUp', 'qdiscTap', 'qdiscOrig', 'redirectIn', 'redirectOut', 'coldplug']);
    expect(TEARDOWN_STEPS).toEqual(['unplug', 'removeTc', 'lookupTap', 'setDown', 'deleteTap']);
    const states = endpointMachine.root.states;
    expect(Object.keys(states)).toEqual(['created', 'hotAttach', 'hotAttached', 'attach', 'attached', 'teardown', 'dirty', 'detached']);
    for (const [phase, steps] of [
      ['hotAttach', HOT_ATTACH_STEPS],
      ['attach', ATTACH_STEPS],
      ['teardown', TEARDOWN_STEPS],
    ] as const) {
      const node = states[phase]!;
      expect(Object.keys(node.states)).toEqual([...steps]);
      expect(node.config.initial).toBe(steps[0]);
      for (const step of steps) {
        const inv = node.states[step]!.invoke;
        expect(inv.map((i) => [i.id, i.src])).toEqual([[`${phase}.${step}`, STEPS[step].src]]);
      }
    }
  });
});
