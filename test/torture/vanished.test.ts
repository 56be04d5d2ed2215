/**
 * Recovery when the world moved on, on the real kernel and a real QEMU: the sandbox netns was
 * deleted by its owner, or QEMU died, while a `tapstate` process was killed mid-operation. Also
 * the lock: two concurrent writers, and a stale lock after kill -9.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TortureWorld, disagreements, readRecords, requireRoot, runCli, startCli } from './world.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const worlds: TortureWorld[] = [];

afterEach(async () => {
  for (const w of worlds.splice(0)) await w.teardown();
});

async function setup(): Promise<TortureWorld> {
  requireRoot();
  const w = new TortureWorld();
  worlds.push(w);
  w.makeNetns(1);
  await w.startQemu();
  const r = await runCli(['init', '--store', w.store, '--netns', w.netnsPath, '--netns-created', '--qmp', w.qemu!.qmpPath, '--vcpus', '2', '--no-vhost']);
  expect(r.code, r.stderr).toBe(0);
  expect((await runCli(['add', '--store', w.store, '--idx', '0'])).stdout.trim()).toBe('ep0');
  return w;
}

/** Start `args` stretched and SIGKILL it once the log holds an intent for `effect`. */
async function killDuring(w: TortureWorld, args: string[], effect: string): Promise<void> {
  const log = path.join(w.store, 'log.jsonl');
  const from = fs.statSync(log).size;
  const c = startCli(args, { TAPSTATE_TEST_EFFECT_DELAY_MS: '200' });
  let exited = false;
  void c.done.then(() => (exited = true));
  while (!exited && !readRecords(log, from).some((r) => r.k === 'intent' && r.id === effect)) await sleep(2);
  await sleep(50);
  c.kill();
  expect((await c.done).signal).toBe('SIGKILL');
}

describe('recovery when the world moved on (real kernel, real QEMU)', () => {
  it('the netns vanished during an interrupted hot-attach: recovery records it and moves on', async () => {
    const w = await setup();
    await killDuring(w, ['hot-attach', '--store', w.store, '--endpoint', 'ep0'], 'hotAttach.setUp');
    w.deleteNetns(); // the owner deleted it: the tap went with it
    const r = await runCli(['recover', '--store', w.store, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout);
    expect(rep.endpoints).toHaveLength(1);
    expect(rep.endpoints[0]).toMatchObject({ id: 'ep0', effect: 'hotAttach.setUp', action: 'rolled-back', finalState: 'created' });
    expect(rep.endpoints[0].observed).toMatchObject({ netnsGone: true, tap: false });
    const st = await w.status();
    expect(st.endpoints[0]).toMatchObject({ state: 'created', status: 'settled' });
    expect(disagreements(st, await w.view())).toEqual([]);
  });

  it('QEMU died during an interrupted hot-detach: recovery finishes the detach and records vmmGone', async () => {
    const w = await setup();
    expect((await runCli(['hot-attach', '--store', w.store, '--endpoint', 'ep0'])).code).toBe(0);
    await killDuring(w, ['hot-detach', '--store', w.store, '--endpoint', 'ep0'], 'teardown.unplug');
    await w.qemu!.kill();
    const r = await runCli(['recover', '--store', w.store, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout);
    expect(rep.endpoints[0]).toMatchObject({ effect: 'teardown.unplug', action: 'rolled-forward', finalState: 'detached' });
    expect(rep.endpoints[0].observed).toMatchObject({ vmmGone: true, plugged: false });
    const view = await w.view();
    expect([...view.taps.keys()]).toEqual([]);
    expect(disagreements(await w.status(), view, false)).toEqual([]);
    // a hot-attach with QEMU gone fails cleanly and rolls back
    const add = await runCli(['add', '--store', w.store, '--idx', '0']);
    expect(add.code).toBe(0);
    expect(add.stdout.trim()).toBe('ep0'); // the detached ep0 retired: its id is free again
    const ha = await runCli(['hot-attach', '--store', w.store, '--endpoint', 'ep0']);
    expect(ha.code).toBe(1);
    expect(ha.stderr).toMatch(/^tapstate: EndpointOperationError: /);
    expect([...(await w.view()).taps.keys()]).toEqual([]);
  });

  it('two concurrent writers: the second gets "store locked by pid N"; readers still work', async () => {
    const w = await setup();
    const log = path.join(w.store, 'log.jsonl');
    const from = fs.statSync(log).size;
    // Each effect is stretched long enough that the two CLI runs below (each a fresh Node process,
    // slow on a loaded 2-core host) finish while the first writer still holds the lock mid-attach.
    const first = startCli(['hot-attach', '--store', w.store, '--endpoint', 'ep0'], { TAPSTATE_TEST_EFFECT_DELAY_MS: '2500' });
    while (!readRecords(log, from).some((r) => r.k === 'intent')) await sleep(2);
    const second = await runCli(['add', '--store', w.store, '--idx', '1']);
    expect(second.code).toBe(75); // EX_TEMPFAIL: a locked store
    expect(second.stderr.trim()).toMatch(new RegExp(`^tapstate: StoreLockedError: store locked by pid ${first.pid} `));
    const st = await runCli(['status', '--store', w.store]);
    expect(st.code).toBe(0);
    expect(st.stdout).toMatch(/hotAttach\./);
    const r1 = await first.done;
    expect(r1.code, r1.stderr).toBe(0);
  });

  it('a stale lock (holder killed with SIGKILL) never blocks: recovery takes the lock', async () => {
    const w = await setup();
    await killDuring(w, ['hot-attach', '--store', w.store, '--endpoint', 'ep0'], 'hotAttach.hotplug');
    expect(fs.readFileSync(path.join(w.store, 'lock'), 'utf8').trim()).not.toBe('');
    const r = await runCli(['recover', '--store', w.store]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/ep0 +hotAttach\.hotplug +maybe +rolled-back/);
    expect(disagreements(await w.status(), await w.view())).toEqual([]);
  });

  it('a write command that finds an in-doubt effect recovers first and says so', async () => {
    const w = await setup();
    await killDuring(w, ['hot-attach', '--store', w.store, '--endpoint', 'ep0'], 'hotAttach.createTap');
    const r = await runCli(['hot-attach', '--store', w.store, '--endpoint', 'ep0']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/found 1 interrupted effect\(s\) and recovered first: ep0 hotAttach\.createTap rolled-back → created/);
    expect(r.stdout).toMatch(/^ep0: hotAttached, tap tap0_kata, pci /);
    expect(disagreements(await w.status(), await w.view())).toEqual([]);
  });

  it('an interrupted forward setUp (hotAttach.setUp) is rolled back, not re-run as if it were a teardown step', async () => {
    // netlink.setUp is both a forward step (setUp) and a teardown step (setDown): recovery must go by the phase
    const w = await setup();
    await killDuring(w, ['hot-attach', '--store', w.store, '--endpoint', 'ep0'], 'hotAttach.setUp');
    const r = await runCli(['recover', '--store', w.store, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout);
    expect(rep.endpoints[0]).toMatchObject({ effect: 'hotAttach.setUp', action: 'rolled-back', finalState: 'created' });
    const note = readRecords(path.join(w.store, 'log.jsonl')).find((x) => x.k === 'note' && x.note === 'recovery');
    expect(note?.data).toMatchObject({ effect: 'hotAttach.setUp', decision: 'event' });
    expect(rep.endpoints[0].error ?? '').not.toMatch(/hotplug/);
    expect(disagreements(await w.status(), await w.view())).toEqual([]);
  });
});
