/**
 * `npm run demo`: the whole story on this machine. As root with QEMU: a real netns, a real
 * guest-less QEMU, the real `tapstate` CLI — two endpoints hot-attached, a third `tapstate
 * hot-attach` killed with SIGKILL in the middle, recovery, the log and the status, everything
 * detached and cleaned up. Without root or QEMU it says what is missing and runs the same story
 * in-process on the in-memory adapters. Exits 0 and leaves nothing behind.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js');
const say = (s: string) => process.stdout.write(s + '\n');
const step = (s: string) => say(`\n==> ${s}`);
const indent = (s: string) => s.replace(/\n$/, '').split('\n').map((l) => `    ${l}`).join('\n');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the real demo needs that this machine lacks (empty: run for real). */
export function missingParts(): string[] {
  const missing: string[] = [];
  if (process.platform !== 'linux') missing.push(`Linux (this is ${process.platform})`);
  if (process.getuid?.() !== 0) missing.push('root (CAP_NET_ADMIN/CAP_SYS_ADMIN to create a netns and taps): run it with sudo');
  if (!fs.existsSync('/dev/net/tun')) missing.push('/dev/net/tun');
  if (!onPath('qemu-system-x86_64')) missing.push('qemu-system-x86_64 on PATH (apt-get install qemu-system-x86)');
  if (!onPath('ip')) missing.push('the ip command (iproute2), used by the demo to create and show the netns');
  return missing;
}

function onPath(bin: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => d && fs.existsSync(path.join(d, bin)));
}

/** Run the CLI, showing the command and its output. */
function tapstate(args: string[], env: Record<string, string> = {}): { code: number | null; stdout: string } {
  say(`  $ tapstate ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, encoding: 'utf8' });
  if (r.stdout) say(indent(r.stdout));
  if (r.stderr) say(indent(r.stderr));
  return { code: r.status, stdout: r.stdout };
}

function must(r: { code: number | null; stdout: string }, what: string): string {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code})`);
  return r.stdout.trim();
}

function showLinks(ns: string): void {
  const links = JSON.parse(execFileSync('ip', ['-n', ns, '-j', '-d', 'link', 'show']).toString() || '[]') as Array<{ ifname: string; flags: string[]; linkinfo?: { info_kind?: string } }>;
  const taps = links.filter((l) => l.linkinfo?.info_kind === 'tun');
  say(`    taps in netns ${ns}: ${taps.length ? taps.map((t) => `${t.ifname}${t.flags.includes('UP') ? ' (up)' : ''}`).join(', ') : 'none'}`);
}

async function realDemo(): Promise<void> {
  const { launchQemu } = await import('../src/qemu/launcher.js');
  const tag = `${process.pid}${Math.random().toString(36).slice(2, 5)}`;
  const ns = `tapstate-demo-${tag}`;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-demo-${process.pid}-`));
  const store = path.join(tmp, 'store');
  let nsMade = false;
  let qemu: Awaited<ReturnType<typeof launchQemu>> | undefined;
  try {
    step(`Create a network namespace for the sandbox: ${ns}`);
    execFileSync('ip', ['netns', 'add', ns]);
    nsMade = true;
    step('Start a guest-less QEMU (q35, 4 PCIe root ports, QMP socket)');
    qemu = await launchQemu({ dir: path.join(tmp, 'qemu') });
    say(`    QEMU pid ${qemu.pid}, QMP ${qemu.qmpPath}, ready in ${qemu.readyMs.toFixed(0)} ms`);

    step('Create the store and three endpoints');
    must(tapstate(['init', '--store', store, '--netns', `/run/netns/${ns}`, '--netns-created', '--qmp', qemu.qmpPath, '--vcpus', '2', '--no-vhost']), 'init');
    const ids = [0, 1, 2].map((i) => must(tapstate(['add', '--store', store, '--idx', String(i)]), 'add'));

    step('Hot-attach two of them: tap created in the netns (2 queues), MTU, up, hot-plugged into QEMU');
    for (const id of ids.slice(0, 2)) must(tapstate(['hot-attach', '--store', store, '--endpoint', id]), 'hot-attach');
    showLinks(ns);

    step(`Hot-attach ${ids[2]} in another process, and kill -9 it in the middle`);
    say('    (TAPSTATE_TEST_EFFECT_DELAY_MS=150 stretches each kernel/QEMU call so the kill lands inside one)');
    const log = path.join(store, 'log.jsonl');
    const from = fs.statSync(log).size;
    const child = spawn(process.execPath, [CLI, 'hot-attach', '--store', store, '--endpoint', ids[2]!], {
      env: { ...process.env, TAPSTATE_TEST_EFFECT_DELAY_MS: '150' },
      stdio: 'ignore',
    });
    const exited = new Promise<NodeJS.Signals | null>((r) => child.on('close', (_c, sig) => r(sig)));
    say(`  $ tapstate hot-attach --store ${store} --endpoint ${ids[2]} &   # pid ${child.pid}`);
    for (let i = 0; i < 1000 && !fs.readFileSync(log).subarray(from).toString().includes('"id":"hotAttach.setUp"'); i++) await sleep(2);
    await sleep(100);
    child.kill('SIGKILL');
    say(`    killed pid ${child.pid} (${(await exited) === "SIGKILL" ? "died of SIGKILL" : "it had already exited"}) while it was setting the tap up`);
    showLinks(ns);
    tapstate(['status', '--store', store]);

    step('Recover: replay the log, probe the netns and QEMU, roll the interrupted attach back');
    must(tapstate(['recover', '--store', store]), 'recover');
    showLinks(ns);

    step(`The log of ${ids[2]}: every command, effect intent, outcome and the recovery`);
    tapstate(['log', '--store', store, '--endpoint', ids[2]!]);
    step('The status');
    tapstate(['status', '--store', store]);

    step('Detach everything');
    for (const id of ids.slice(0, 2)) must(tapstate(['hot-detach', '--store', store, '--endpoint', id]), 'hot-detach');
    must(tapstate(['detach', '--store', store, '--endpoint', ids[2]!]), 'detach');
    showLinks(ns);
    const periph = (await qemu.control.execute('qom-list', { path: '/machine/peripheral' })) as Array<{ name: string }>;
    say(`    QEMU devices: ${periph.map((p) => p.name).filter((n) => n.startsWith('virtio-net-')).join(', ') || 'none (only the root ports)'}`);
  } finally {
    step('Clean up: QEMU, netns, temp dir');
    if (qemu) await qemu.stop(1000).catch(() => qemu?.kill());
    if (nsMade) execFileSync('ip', ['netns', 'del', ns]);
    fs.rmSync(tmp, { recursive: true, force: true });
    say('    done: nothing left behind');
  }
}

async function memoryDemo(): Promise<void> {
  const { MemoryHypervisor, MemoryKernel } = await import('../src/adapters/memory/index.js');
  const { withFaults, SimulatedCrash } = await import('../src/adapters/faults.js');
  const { MemoryLogMedium, MemoryLogStore } = await import('../src/log/index.js');
  const { Tapstore } = await import('../src/runtime/tapstore.js');
  const { recoveryText, statusTable } = await import('../src/cli/output.js');
  const { headerLine, recordLine } = await import('../src/cli/commands/log.js');
  const NETNS = '/run/netns/demo';
  const kernel = new MemoryKernel();
  kernel.addNetns(NETNS);
  const hypervisor = new MemoryHypervisor({ kernel });
  const medium = new MemoryLogMedium();
  const taps = () => kernel.snapshot().netns.flatMap((n) => n.links.filter((l) => l.kind === 'tun').map((l) => l.name));
  const showTaps = () => say(`    taps in ${NETNS}: ${taps().join(', ') || 'none'}`);
  const sandbox = { netnsPath: NETNS, netnsCreated: true, vcpus: 2, vhost: false };

  step('Open a store (in memory) and create three endpoints');
  let store = await Tapstore.open({ log: MemoryLogStore.create(medium, { sandbox }), adapters: { netlink: kernel, hypervisor } });
  const ids = [0, 1, 2].map((idx) => store.createEndpoint({ idx, mac: `02:00:00:00:00:0${idx + 1}` }).id);
  say(`    ${ids.join(', ')}`);
  step('Hot-attach two of them');
  for (const id of ids.slice(0, 2)) {
    const v = await store.hotAttach(id);
    say(`    ${v.id}: ${v.state}, tap ${v.tapName}, pci ${v.pciPath}`);
  }
  showTaps();
  await store.close();

  step(`Hot-attach ${ids[2]} and "crash" right after the kernel set its tap up`);
  const faulty = withFaults(kernel, 'netlink', (c) => (c.method === 'setUp' ? 'crash-after' : 'ok'));
  store = await Tapstore.open({ log: MemoryLogStore.open(medium), adapters: { netlink: faulty, hypervisor } });
  try {
    await store.hotAttach(ids[2]!);
  } catch (e) {
    if (!(e instanceof SimulatedCrash)) throw e;
    say(`    ${e.message}`);
  }
  kernel.simulateProcessDeath();
  showTaps();

  step('Reopen: replay the log and recover');
  store = await Tapstore.open({ log: MemoryLogStore.open(medium), adapters: { netlink: kernel, hypervisor } });
  say(indent(recoveryText(store.recovery)));
  showTaps();
  step(`The log of ${ids[2]}`);
  say(indent(headerLine()));
  for (const { record } of MemoryLogStore.open(medium).read().records) if (record.ep === ids[2]) say(indent(recordLine(record)));
  step('The status');
  say(indent(statusTable(store.list())));
  step('Detach everything');
  for (const id of ids.slice(0, 2)) await store.hotDetach(id);
  await store.detach(ids[2]!);
  say(indent(statusTable(store.list())));
  showTaps();
  await store.close();
}

async function main(): Promise<void> {
  say('tapstate demo: the lifecycle of a VM\'s TAP endpoints, crash-safe (kill -9 anywhere, then recover)');
  const missing = missingParts();
  if (missing.length === 0) {
    say('Running with real parts: the Linux kernel (netlink via koffi) and a real QEMU (QMP).');
    await realDemo();
  } else {
    say('Cannot run with real parts; missing:');
    for (const m of missing) say(`  - ${m}`);
    say('Falling back to the in-memory kernel and hypervisor (src/adapters/memory/), in this process.');
    await memoryDemo();
  }
  say('\nDemo finished.');
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`demo failed: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  },
);
