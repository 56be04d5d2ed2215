/**
 * kill -9 with vhost on (issue #13): the store asks for vhost-net as upstream does (`init
 * --vhost`), but this machine has no /dev/vhost-net, so every attach opens its tap, fails to open
 * the vhost fds with upstream's `Could not setup vhost fds %s : %s`, and rolls back. A tapstate
 * process killed inside that effect, or inside the rollback that follows, is recovered with
 * nothing leaked: no tap, no fd in QEMU, the store agreeing with the world. Real kernel and QEMU.
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
  expect(fs.existsSync('/dev/vhost-net')).toBe(false); // the refusal path is what this file tests
  const w = new TortureWorld();
  worlds.push(w);
  w.makeNetns(1);
  await w.startQemu();
  const r = await runCli(['init', '--store', w.store, '--netns', w.netnsPath, '--netns-created', '--qmp', w.qemu!.qmpPath, '--vcpus', '2', '--vhost']);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/vhost on \(--vhost; \/dev\/vhost-net absent\)/);
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

describe('kill -9 with vhost on and /dev/vhost-net absent (real kernel, real QEMU)', () => {
  it("without a kill: upstream's message, rolled back, nothing left", async () => {
    const w = await setup();
    const r = await runCli(['hot-attach', '--store', w.store, '--endpoint', 'ep0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^tapstate: EndpointOperationError: Could not setup vhost fds eth0 : openVhostFds: ENOENT/);
    const v = await w.view();
    expect([...v.taps.keys(), ...[...v.devices].filter((d) => !/^rp\d+$/.test(d)), ...v.netdevs]).toEqual([]); // root ports rp* are the VM's
    expect(v.qemuTunFds).toBe(0);
    expect(disagreements(await w.status(), v)).toEqual([]);
  });

  it.each([
    ['hot-attach', 'hotAttach.createTap'],
    ['hot-attach', 'teardown.deleteTap'],
    ['attach', 'attach.createTap'],
    ['attach', 'teardown.deleteTap'],
  ])('%s killed during %s: recovered, no tap, no fd, store == world', async (cmd, effect) => {
    const w = await setup();
    await killDuring(w, [cmd, '--store', w.store, '--endpoint', 'ep0'], effect);
    const r = await runCli(['recover', '--store', w.store, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const st = await w.status();
    expect(st.endpoints[0]).toMatchObject({ state: 'created', status: 'settled' });
    const v = await w.view();
    expect([...v.taps.keys(), ...[...v.devices].filter((d) => !/^rp\d+$/.test(d)), ...v.netdevs]).toEqual([]); // root ports rp* are the VM's
    expect(v.qemuTunFds).toBe(0);
    expect(disagreements(st, v)).toEqual([]);
  });
});
