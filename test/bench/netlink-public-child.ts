/**
 * The child process of the netlink suite's `*-public-*` / `*-cpu-*` cases: a fresh Node process
 * that uses the adapter exactly as a user does — `LinuxNetlinkAdapter` from the package's public
 * entry (`tapstate/linux`, resolved by Node's package self-reference to dist/src/linux/index.js),
 * no CPU pinning — and reports, per batch, wall time and CPU time over all of its threads
 * (`process.cpuUsage()`, i.e. getrusage(RUSAGE_SELF), the same counter the C baseline reads).
 *
 * usage: node netlink-public-child.js NETNS_PATH — then one command per stdin line, one answer line each:
 *   "light N NAME" -> "WALL_US CPU_US": N × (getLink + setMtu) on the existing link NAME, totals
 *   "cycle N NAME" -> "WALL_US CPU_US": N × (createTap 1 queue + getLink + setMtu + up + down + closeFds + deleteLink)
 *   "create NAME" / "delete NAME" -> "ok": make / remove the light case's tap
 */
import { createInterface } from 'node:readline';
import { LinuxNetlinkAdapter } from 'tapstate/linux';

const ns = process.argv[2];
if (!ns) throw new Error('usage: netlink-public-child NETNS_PATH');
const a = new LinuxNetlinkAdapter();
const held = new Map<string, number[]>();

const cpuUs = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

async function light(n: number, name: string): Promise<void> {
  for (let i = 0; i < n; i++) {
    await a.getLink(ns!, name);
    await a.setMtu(ns!, name, 1400 + (i & 1));
  }
}

async function cycle(n: number, name: string): Promise<void> {
  for (let i = 0; i < n; i++) {
    const { fds } = await a.createTap({ netns: ns!, name, queues: 1 });
    await a.getLink(ns!, name);
    await a.setMtu(ns!, name, 1400);
    await a.setUp(ns!, name, true);
    await a.setUp(ns!, name, false);
    await a.closeFds(fds);
    await a.deleteLink(ns!, name);
  }
}

async function main(): Promise<void> {
  for await (const line of createInterface({ input: process.stdin })) {
    const [cmd, arg1, arg2] = line.trim().split(' ');
    if (cmd === 'create' && arg1) {
      held.set(arg1, (await a.createTap({ netns: ns!, name: arg1, queues: 1 })).fds);
      process.stdout.write('ok\n');
    } else if (cmd === 'delete' && arg1) {
      await a.closeFds(held.get(arg1) ?? []);
      held.delete(arg1);
      await a.deleteLink(ns!, arg1);
      process.stdout.write('ok\n');
    } else if ((cmd === 'light' || cmd === 'cycle') && arg1 && arg2) {
      const n = Number(arg1);
      const c0 = cpuUs();
      const t0 = performance.now();
      await (cmd === 'light' ? light(n, arg2) : cycle(n, arg2));
      const wall = (performance.now() - t0) * 1000;
      const cpu = cpuUs() - c0;
      process.stdout.write(`${wall.toFixed(1)} ${cpu}\n`);
    } else throw new Error(`netlink-public-child: bad command "${line}"`);
  }
  await a.close();
}

main().catch((e: unknown) => {
  process.stderr.write(`netlink-public-child: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
