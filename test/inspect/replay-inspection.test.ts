import { afterEach, describe, expect, it } from 'vitest';
import { captureInspection, readStoreDir, replayIntoInspector } from '../../src/inspect/index.js';
import { NonDeterminismError } from '../../src/runtime/errors.js';
import type { LogRecord } from '../../src/log/records.js';
import { sampleStore, type SampleStore } from './sample-store.js';

let sample: SampleStore | null = null;
afterEach(() => {
  sample?.remove();
  sample = null;
});

describe('replaying a saved log into an inspector', () => {
  it('shows the same states in the same order as the live run, running no effect', async () => {
    const live = captureInspection();
    sample = await sampleStore({ inspect: live.inspect });
    const saved = readStoreDir(sample.dir);
    const replay = captureInspection();
    const final = replayIntoInspector(saved.records, replay.inspect);

    // the live run really was observed, step by step
    const values = live.steps.filter((s) => s.actor === 'ep0' && s.type === '@xstate.snapshot').map((s) => `${JSON.stringify(s.value)} ${s.status}`);
    expect(values).toEqual([
      '"created" active',
      '{"hotAttach":"createTap"} active',
      '{"hotAttach":"setMtu"} active',
      '{"hotAttach":"setUp"} active',
      '{"hotAttach":"hotplug"} active',
      '"hotAttached" active',
      '"hotAttached" stopped', // the store closed
    ]);
    expect(live.steps.some((s) => s.actor === 'ep2' && s.event === 'xstate.error.actor.hotAttach.setMtu')).toBe(true);
    // the same stream from the log
    expect(replay.steps).toEqual(live.steps);
    expect(Object.fromEntries(final.map((f) => [f.id, f.state]))).toEqual(sample.states);
    expect(sample.states).toEqual({ ep0: 'hotAttached', ep1: 'attached', ep2: 'created', ep3: 'detached' });
    expect(final.every((f) => f.inDoubt === null)).toBe(true);
  });

  it('reports an effect in doubt where a crashed run stopped', async () => {
    sample = await sampleStore({ crash: true });
    const saved = readStoreDir(sample.dir);
    // the records up to the crash: ep4's hot-plug intent has no outcome
    const crashAt = saved.records.findIndex((r) => r.k === 'note' && r.note === 'recovery');
    expect(crashAt).toBeGreaterThan(0);
    const before = replayIntoInspector(saved.records.slice(0, crashAt), captureInspection().inspect);
    expect(before.find((f) => f.id === 'ep4')).toMatchObject({ state: 'hotAttach.hotplug', inDoubt: 'hotAttach.hotplug' });
    const after = replayIntoInspector(saved.records, captureInspection().inspect);
    expect(after.find((f) => f.id === 'ep4')).toMatchObject({ state: sample.states.ep4, inDoubt: null });
  });

  it('refuses a log whose recorded states the machine does not reproduce', async () => {
    sample = await sampleStore();
    const records = readStoreDir(sample.dir).records.map((r) => structuredClone(r)) as LogRecord[];
    const ev = records.find((r) => r.k === 'event' && r.event.type === 'HOT_ATTACH');
    if (!ev || ev.k !== 'event') throw new Error('sample has no HOT_ATTACH');
    ev.state = { ...ev.state, v: 'attached' };
    expect(() => replayIntoInspector(records, captureInspection().inspect)).toThrow(NonDeterminismError);
  });
});
