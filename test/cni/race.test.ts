/**
 * Two plugins racing on the same container (a runtime bug, or two runtimes): the store's lock
 * lets one through; the other gets code 11 (try again later) or, arriving after, sees the
 * finished attachment. Whatever the interleaving, one DEL afterwards leaves nothing. The
 * plugins' adapter calls are stretched so they overlap.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { checkList, delList, invoke, pluginConf } from './driver.js';
import { makeCniWorld, requireCniEnvironment, type CniWorld } from './world.js';

const clean = { ctrLinks: [], hostLinks: [], ctrQdiscs: [], stores: [], ipam: [] };
const slow = { env: { TAPSTATE_TEST_EFFECT_DELAY_MS: '20' } };
let w: CniWorld;
beforeAll(() => {
  requireCniEnvironment();
  w = makeCniWorld();
});
afterAll(() => w?.cleanup());

it('two ADDs race: one attaches, the other is told to try again (11) or returns the same attachment', async () => {
  const list = w.conflist();
  const rc = w.rc();
  const ptp = await invoke(w.rt, 'ADD', pluginConf(list, 0, undefined), rc);
  expect(ptp.code).toBe(0);
  const both = await Promise.all([0, 1].map(() => invoke(w.rt, 'ADD', pluginConf(list, 1, ptp.json), rc, slow)));
  const ok = both.filter((i) => i.code === 0);
  expect(ok.length).toBeGreaterThanOrEqual(1);
  for (const i of both.filter((x) => x.code !== 0)) expect(i.json, i.stdout + i.stderr).toMatchObject({ code: 11, msg: expect.stringMatching(/try again later$/) });
  if (ok.length === 2) expect(ok[0]!.json.interfaces[2]).toEqual(ok[1]!.json.interfaces[2]);
  await checkList(w.rt, list, rc, ok[0]!.json);
  await delList(w.rt, list, rc, ok[0]!.json);
  expect(w.leftovers()).toEqual(clean);
});

it('ADD races DEL, and two DELs race: a final DEL always converges to nothing', async () => {
  const list = w.conflist();
  for (let round = 0; round < 3; round++) {
    const rc = w.rc();
    const ptp = await invoke(w.rt, 'ADD', pluginConf(list, 0, undefined), rc);
    expect(ptp.code).toBe(0);
    const [add, del] = await Promise.all([
      invoke(w.rt, 'ADD', pluginConf(list, 1, ptp.json), rc, slow),
      new Promise((r) => setTimeout(r, 150 * round)).then(() => invoke(w.rt, 'DEL', pluginConf(list, 1, null), rc, slow)),
    ]);
    for (const i of [add, del]) if (i.code !== 0) expect(i.json, i.stdout + i.stderr).toMatchObject({ code: 11 });
    const dels = await Promise.all([0, 1].map(() => invoke(w.rt, 'DEL', pluginConf(list, 1, null), rc, slow)));
    for (const i of dels) if (i.code !== 0) expect(i.json, i.stdout + i.stderr).toMatchObject({ code: 11 });
    await delList(w.rt, list, rc, null);
    expect(w.leftovers(), `round ${round}: ADD exit ${add.code}, DEL exit ${del.code}`).toEqual(clean);
  }
});
