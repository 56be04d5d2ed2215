/**
 * The built `tapstate` CLI, spawned: every subcommand, usage errors and bad input (clear message,
 * exit code, the store files unchanged byte for byte). Uses the in-memory adapters
 * (TAPSTATE_ADAPTERS=memory) except where the real kernel is needed; the real-world behaviour is
 * covered by test/torture/.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { CLI } from '../torture/world.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-cli-${process.pid}-`));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}
function cli(args: string[], env: Record<string, string> = { TAPSTATE_ADAPTERS: 'memory' }): Run {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} missing: npm run build first`);
  const r = spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Every file of a store with its bytes (the lock file's content is the last writer's pid). */
function snapshot(dir: string): Record<string, string> {
  if (!fs.existsSync(dir)) return {};
  const out: Record<string, string> = {};
  for (const f of fs.readdirSync(dir).sort()) out[f] = f === 'lock' ? '(lock)' : fs.readFileSync(path.join(dir, f)).toString('base64');
  return out;
}

let n = 0;
let store: string;
function init(extra: string[] = []): void {
  store = path.join(tmp, `s${n++}`);
  const r = cli(['init', '--store', store, '--netns', '/run/netns/sandbox-x', '--netns-created', '--vcpus', '2', ...extra]);
  expect(r.code, r.stderr).toBe(0);
}

/** Bad input: exit code, one-line message on stderr matching `msg`, and nothing changed. */
function rejects(args: string[], code: number, msg: RegExp, dir = store): void {
  const before = snapshot(dir);
  const r = cli(args);
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(msg);
  expect(r.stdout).toBe('');
  expect(snapshot(dir)).toEqual(before);
}

beforeEach(() => init());

describe('tapstate init', () => {
  it('creates a store whose header holds the sandbox config', () => {
    const line = fs.readFileSync(path.join(store, 'log.jsonl'), 'utf8').split('\n')[0]!;
    const header = JSON.parse(line.slice(line.indexOf(' ') + 1));
    expect(header.meta.sandbox).toEqual({ netnsPath: '/run/netns/sandbox-x', netnsCreated: true, vcpus: 2, vhost: false });
    expect(fs.statSync(store).mode & 0o777).toBe(0o700);
  });
  it('stores the QMP socket as an absolute path', () => {
    const d = path.join(tmp, `q${n++}`);
    expect(cli(['init', '--store', d, '--netns', '/run/netns/x', '--qmp', 'rel/qmp.sock']).code).toBe(0);
    expect(JSON.parse(cli(['status', '--store', d, '--json']).stdout).sandbox.qmp).toBe(path.resolve('rel/qmp.sock'));
  });
  it('stores --netns in one spelling (a trailing /, //, /./ collapsed) and refuses a .. segment, creating nothing', () => {
    const d = path.join(tmp, `sp${n++}`);
    expect(cli(['init', '--store', d, '--netns', '/run//netns/./sp/']).code).toBe(0);
    expect(JSON.parse(cli(['status', '--store', d, '--json']).stdout).sandbox.netnsPath).toBe('/run/netns/sp');
    const bad = path.join(tmp, `dd${n++}`);
    rejects(['init', '--store', bad, '--netns', '/run/netns/../netns/sp'], 2, /--netns: must not contain a "\.\." segment/, bad);
    expect(fs.existsSync(bad)).toBe(false);
  });
  it('refuses an existing store, a relative netns, bad vcpus, a missing netns — creating nothing', () => {
    rejects(['init', '--store', store, '--netns', '/run/netns/y'], 1, /^tapstate: StoreExistsError: a tapstate store exists already at /);
    const d = path.join(tmp, `bad${n++}`);
    rejects(['init', '--store', d, '--netns', 'relative'], 2, /--netns: must be an absolute path/, d);
    rejects(['init', '--store', d, '--netns', '/run/netns/x', '--vcpus', '0'], 2, /--vcpus: must be between 1 and 256 \(got 0\)/, d);
    rejects(['init', '--store', d, '--netns', '/run/netns/x', '--vcpus', 'two'], 2, /--vcpus: must be an integer/, d);
    rejects(['init', '--store', d], 2, /missing required option --netns PATH/, d);
    const real = cli(['init', '--store', d, '--netns', `/run/netns/none-${process.pid}`], {});
    expect(real.code).toBe(1);
    expect(real.stderr).toMatch(/^tapstate: NetnsMissingError: --netns \/run\/netns\/none-\d+: no such network namespace/);
    expect(fs.existsSync(d)).toBe(false);
  });
});

describe('tapstate add', () => {
  it('prints the endpoint id; a random locally-administered unicast MAC when --mac is absent', () => {
    const r = cli(['add', '--store', store, '--idx', '3']);
    expect(r).toMatchObject({ code: 0, stdout: 'ep3\n' });
    const mac = JSON.parse(cli(['status', '--store', store, '--json']).stdout).endpoints[0].mac as string;
    expect(mac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    const first = parseInt(mac.slice(0, 2), 16);
    expect(first & 1).toBe(0);
    expect(first & 2).toBe(2);
    cli(['add', '--store', store, '--idx', '4']);
    const macs = JSON.parse(cli(['status', '--store', store, '--json']).stdout).endpoints.map((e: { mac: string }) => e.mac);
    expect(new Set(macs).size).toBe(2);
  });
  it('takes --mac, --mtu, --ifname', () => {
    expect(cli(['add', '--store', store, '--idx', '1', '--mac', '02:AA:00:00:00:01', '--mtu', '9000', '--ifname', 'enp1']).code).toBe(0);
    const e = JSON.parse(cli(['status', '--store', store, '--json']).stdout).endpoints[0];
    expect(e).toMatchObject({ id: 'ep1', mac: '02:aa:00:00:00:01', mtu: 9000, name: 'enp1', tapName: 'tap1_kata', queues: 2, state: 'created' });
  });
  it('rejects bad MAC, MTU, idx, ifname with the flag and the rule, changing nothing', () => {
    cli(['add', '--store', store, '--idx', '0']);
    rejects(['add', '--store', store, '--idx', '1', '--mac', '01:00:5e:00:00:01'], 2, /--mac: "01:00:5e:00:00:01" must be unicast/);
    rejects(['add', '--store', store, '--idx', '1', '--mac', 'zz'], 2, /--mac: "zz" must be six colon-separated hex octets/);
    rejects(['add', '--store', store, '--idx', '1', '--mac', '00:00:00:00:00:00'], 2, /--mac: .* must not be all zeros/);
    rejects(['add', '--store', store, '--idx', '1', '--mtu', '67'], 2, /--mtu: 67 must be between 68 and 65521/);
    rejects(['add', '--store', store, '--idx', '1', '--mtu', '1e3'], 2, /--mtu: must be an integer \(got "1e3"\)/);
    rejects(['add', '--store', store, '--idx=-1'], 2, /--idx: must be a non-negative integer \(got -1\)/);
    rejects(['add', '--store', store, '--idx', '-1'], 2, /option --idx: a value starting with "-" must be written --idx=VALUE/);
    rejects(['add', '--store', store, '--idx', '1234567890'], 2, /--idx: 1234567890 gives tap name "tap1234567890_kata", which must be at most 15 bytes/);
    rejects(['add', '--store', store, '--idx', '1', '--ifname', 'a/b'], 2, /--ifname: "a\/b" must not contain/);
    rejects(['add', '--store', store, '--idx', '0'], 1, /^tapstate: DuplicateEndpointError: an endpoint with idx 0 exists already: ep0$/m);
  });
});

describe('operations', () => {
  it('hot-attach, hot-detach, attach (prints the QEMU args), detach — in memory', () => {
    cli(['add', '--store', store, '--idx', '0', '--mac', '02:00:00:00:00:01']);
    const ha = cli(['hot-attach', '--store', store, '--endpoint', 'ep0']);
    expect(ha.code, ha.stderr).toBe(0);
    expect(ha.stdout).toMatch(/^ep0: hotAttached, tap tap0_kata, pci \d\d\/00, in /);
    const hd = cli(['hot-detach', '--store', store, '--endpoint', 'ep0']);
    expect(hd.code, hd.stderr).toBe(0);
    expect(hd.stdout).toMatch(/^ep0: detached, tap tap0_kata, in /);
    // in memory every process starts with an empty world: no eth1 to cold-attach to
    cli(['add', '--store', store, '--idx', '1']);
    const at = cli(['attach', '--store', store, '--endpoint', 'ep1']);
    expect(at.code).toBe(1);
    expect(at.stderr).toMatch(/^tapstate: EndpointOperationError: LinkByName\(\) failed for tuntap name eth1: /);
    // ep0 is detached: retired, no longer among the live endpoints
    expect(JSON.parse(cli(['status', '--store', store, '--json']).stdout).endpoints).toMatchObject([{ id: 'ep1', state: 'created', status: 'settled' }]);
    const de = cli(['detach', '--store', store, '--endpoint', 'ep1']);
    expect(de.code).toBe(0);
    expect(de.stdout).toMatch(/^ep1: detached/);
  });
  it('unknown endpoint, wrong state, missing --endpoint', () => {
    cli(['add', '--store', store, '--idx', '0']);
    rejects(['hot-attach', '--store', store, '--endpoint', 'nope'], 1, /^tapstate: UnknownEndpointError: no endpoint nope in this store$/m);
    rejects(['hot-detach', '--store', store, '--endpoint', 'ep0', '--bogus'], 2, /unknown option --bogus/);
    rejects(['detach', '--store', store], 2, /missing required option --endpoint ID/);
    cli(['hot-attach', '--store', store, '--endpoint', 'ep0']);
    rejects(['attach', '--store', store, '--endpoint', 'ep0'], 1, /^tapstate: InvalidCommandError: endpoint ep0: ATTACH is not possible in state hotAttached$/m);
  });
  it('--verbose adds the details after the one-line message', () => {
    const r = cli(['hot-attach', '--store', store, '--endpoint', 'nope', '--verbose']);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toBe('tapstate: UnknownEndpointError: no endpoint nope in this store');
    expect(r.stderr).toMatch(/"endpoint": "nope"/);
    expect(r.stderr).toMatch(/at Tapstore\./);
  });
});

describe('vhost and scan', () => {
  it("init says why vhost is on or off; --vhost forces upstream's default; both flags are a usage error", () => {
    const dir = path.join(tmp, `v${n++}`);
    const r = cli(['init', '--store', dir, '--netns', '/run/netns/x', '--vhost']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/vhost on \(--vhost; \/dev\/vhost-net absent\)/);
    const off = cli(['init', '--store', path.join(tmp, `v${n++}`), '--netns', '/run/netns/x']);
    expect(off.stdout).toMatch(/vhost off \(\/dev\/vhost-net absent; upstream's default is on\)/);
    rejects(['init', '--store', path.join(tmp, `v${n++}`), '--netns', '/run/netns/x', '--vhost', '--no-vhost'], 2, /--vhost and --no-vhost: give at most one/, path.join(tmp, 'none'));
  });
  it('scan --json (memory: a netns holding only lo), --dry-run writes nothing', () => {
    const before = snapshot(store);
    const r = cli(['scan', '--store', store, '--dry-run', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ netns: '/run/netns/sandbox-x', dryRun: true, entries: [{ name: 'lo', action: 'loopback' }] });
    expect(snapshot(store)).toEqual(before);
  });
});

describe('status, log, save, load, recover', () => {
  it('status: aligned table and stable --json', () => {
    cli(['add', '--store', store, '--idx', '0', '--mac', '02:00:00:00:00:01']);
    cli(['add', '--store', store, '--idx', '12', '--mac', '02:00:00:00:00:02', '--mtu', '9000']);
    const t = cli(['status', '--store', store]).stdout.split('\n');
    expect(t[0]).toMatch(/^store .*: netns \/run\/netns\/sandbox-x, 2 vCPU\(s\), vhost off, no VMM$/);
    expect(t[1]).toMatch(/^ID +IDX +STATE +TAP +MAC +MTU +QUEUES +PCI +STATUS +ERROR$/);
    const col = (line: string, word: string) => line.indexOf(word);
    expect(col(t[2]!, 'created')).toBe(col(t[3]!, 'created'));
    expect(col(t[1]!, 'STATE')).toBe(col(t[2]!, 'created'));
    const j = JSON.parse(cli(['status', '--store', store, '--json']).stdout);
    expect(Object.keys(j)).toEqual(['version', 'store', 'sandbox', 'inDoubt', 'endpoints']);
    expect(j.version).toBe(1);
    expect(Object.keys(j.endpoints[0])).toEqual([
      'id', 'idx', 'state', 'status', 'name', 'tapName', 'mac', 'hardAddr', 'mtu', 'queues', 'netnsPath', 'pciPath', 'progress', 'pendingEffect', 'error', 'warnings', 'lastSeq',
    ]);
  });
  it('log: human lines with state and duration, --json records, --endpoint filter', () => {
    cli(['add', '--store', store, '--idx', '0']);
    cli(['add', '--store', store, '--idx', '1']);
    cli(['hot-attach', '--store', store, '--endpoint', 'ep0']);
    const h = cli(['log', '--store', store]).stdout.trimEnd().split('\n');
    expect(h[0]).toMatch(/^ +SEQ +TIME +ENDPOINT +KIND +STATE +TOOK +EVENT \/ EFFECT$/);
    expect(h.some((l) => /^ +3 +\d\d:\d\d:\d\d\.\d{3} +ep0 +command +hotAttach\.createTap +HOT_ATTACH$/.test(l))).toBe(true);
    expect(h.some((l) => /ep0 +outcome +hotAttached +[\d.]+ ms +done hotAttach\.hotplug$/.test(l))).toBe(true);
    const j = cli(['log', '--store', store, '--json', '--endpoint', 'ep1']).stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(j).toHaveLength(1);
    expect(j[0]).toMatchObject({ k: 'create', ep: 'ep1', seq: 2 });
  });
  it('log --follow prints new records until SIGINT', async () => {
    cli(['add', '--store', store, '--idx', '0']);
    const { spawn } = await import('node:child_process');
    const c = spawn(process.execPath, [CLI, 'log', '--store', store, '--follow', '--json'], { env: { ...process.env, TAPSTATE_ADAPTERS: 'memory' } });
    let out = '';
    c.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((r) => c.on('close', (code) => r(code)));
    await new Promise((r) => setTimeout(r, 600));
    cli(['hot-attach', '--store', store, '--endpoint', 'ep0']);
    // the hot-attach ends with its outcome and the settled endpoint's snapshot record
    for (let i = 0; i < 50 && !out.includes('"k":"snapshot"'); i++) await new Promise((r) => setTimeout(r, 50));
    c.kill('SIGINT');
    expect(await exited).toBe(0);
    const recs = out.trim().split('\n').map((l) => JSON.parse(l));
    expect(recs.map((r) => r.seq)).toEqual(recs.map((_, i) => i + 1));
    expect(recs.length).toBe(11);
    expect(recs[9]).toMatchObject({ k: 'event', event: { type: 'xstate.done.actor.hotAttach.hotplug' } });
    expect(recs[10]).toMatchObject({ k: 'snapshot', ep: 'ep0', state: { v: 'hotAttached' } });
  });
  it('save prints the persist.json Network object; load imports one', () => {
    cli(['add', '--store', store, '--idx', '0', '--mac', '02:00:00:00:00:01']);
    const s = cli(['save', '--store', store]);
    expect(s.code).toBe(0);
    const net = JSON.parse(s.stdout);
    expect(net).toMatchObject({ NetNsPath: '/run/netns/sandbox-x', NetNsCreated: true });
    expect(net.Endpoints[0].Tuntap.TuntapInterface.TAPIface.Name).toBe('tap0_kata');
    expect(JSON.parse(cli(['save', '--store', store, '--shape', 'v2']).stdout)).toHaveProperty('NetworkID');
    rejects(['save', '--store', store, '--shape', 'v3'], 2, /--shape: must be one of v1, v2/);

    init();
    const file = path.join(tmp, `persist-${n}.json`);
    net.Endpoints[0].Tuntap.TuntapInterface.Name = 'eth7';
    net.Endpoints[0].Tuntap.TuntapInterface.TAPIface.Name = 'tap7_kata';
    net.Endpoints[0].Tuntap.TuntapInterface.TAPIface.HardAddr = '02:00:00:00:00:07';
    fs.writeFileSync(file, JSON.stringify({ Network: net }));
    const l = cli(['load', '--store', store, file]);
    expect(l.code, l.stderr).toBe(0);
    // in memory every process starts with an empty world: no tap7_kata, so never attached → created
    expect(l.stdout).toMatch(/^ep7: created, tap tap7_kata, mac 02:00:00:00:00:07$/m);
    fs.writeFileSync(file, '{not json');
    rejects(['load', '--store', store, file], 1, /^tapstate: LoadFileError: .*persist-\d+\.json: not JSON/);
    fs.writeFileSync(file, JSON.stringify({ Endpoints: [] }));
    rejects(['load', '--store', store, file], 1, /^tapstate: PersistFormatError: /);
    rejects(['load', '--store', store, path.join(tmp, 'missing.json')], 1, /^tapstate: LoadFileError: .*missing\.json: cannot read \(ENOENT\)/);
    rejects(['load', '--store', store], 2, /missing argument FILE/);
  });
  it('recover on a settled store: nothing to do; --json report', () => {
    cli(['add', '--store', store, '--idx', '0']);
    const r = cli(['recover', '--store', store]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/nothing to recover: no interrupted effects/);
    const j = JSON.parse(cli(['recover', '--store', store, '--json']).stdout);
    expect(j).toMatchObject({ torn: null, endpoints: [], inDoubt: [] });
  });
});

describe('missing, foreign and corrupt stores', () => {
  it('a missing store: clear message, exit 1, nothing created', () => {
    const d = path.join(tmp, `none${n++}`);
    for (const c of [['status'], ['log'], ['save'], ['recover'], ['add', '--idx', '0'], ['hot-attach', '--endpoint', 'ep0']]) {
      const r = cli([c[0]!, '--store', d, ...c.slice(1)]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^tapstate: StoreNotFoundError: no tapstate store at ${d} \\(create one with: tapstate init`));
      expect(fs.existsSync(d)).toBe(false);
    }
  });
  it('a store path that is a file: says so, never "create one with tapstate init" there (init refuses a file); the file unchanged', () => {
    const f = path.join(tmp, `file${n++}`);
    fs.writeFileSync(f, 'not a store\n');
    for (const c of [['status'], ['log'], ['recover'], ['add', '--idx', '0']]) {
      const r = cli([c[0]!, '--store', f, ...c.slice(1)]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`tapstate: StoreNotFoundError: no tapstate store at ${f}: it is not a directory (a store is a directory made by tapstate init)\n`);
      expect(fs.readFileSync(f, 'utf8')).toBe('not a store\n');
    }
  });
  it('a foreign log: LogFormatError, nothing changed (no lock file made)', () => {
    const d = path.join(tmp, `foreign${n++}`);
    fs.mkdirSync(d, { mode: 0o700 });
    fs.writeFileSync(path.join(d, 'log.jsonl'), 'hello world\n', { mode: 0o600 });
    rejects(['add', '--store', d, '--idx', '0'], 1, /^tapstate: LogFormatError: /, d);
    rejects(['status', '--store', d], 1, /^tapstate: LogFormatError: /, d);
    expect(fs.readdirSync(d)).toEqual(['log.jsonl']);
  });
  it('a corrupt record in the middle: LogCorruptError naming the offset, nothing changed', () => {
    cli(['add', '--store', store, '--idx', '0']);
    cli(['add', '--store', store, '--idx', '1']);
    fs.rmSync(path.join(store, 'checkpoint.json'), { force: true }); // replay must read the damaged record
    const file = path.join(store, 'log.jsonl');
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    lines[1] = lines[1]!.replace('"idx":0', '"idx":9');
    fs.writeFileSync(file, lines.join('\n'));
    rejects(['status', '--store', store], 1, /^tapstate: LogCorruptError: corrupt log .*log\.jsonl at byte \d+: checksum/);
    rejects(['add', '--store', store, '--idx', '2'], 1, /^tapstate: LogCorruptError: corrupt log .* at byte \d+: checksum/);
    rejects(['recover', '--store', store], 1, /^tapstate: LogCorruptError: /);
  });
});

describe('usage', () => {
  it('no command → list on stdout, exit 2; unknown command → exit 2; --help of every command → exit 0', () => {
    const none = cli([]);
    expect(none.code).toBe(2);
    expect(none.stdout).toMatch(/^Usage: tapstate <command>/);
    const unk = cli(['frobnicate']);
    expect(unk.code).toBe(2);
    expect(unk.stderr).toMatch(/^tapstate: UsageError: unknown command "frobnicate"/);
    for (const c of ['init', 'add', 'hot-attach', 'hot-detach', 'attach', 'detach', 'status', 'log', 'recover', 'save', 'load', 'help']) {
      const h = cli([c, '--help']);
      expect(h.code, c).toBe(0);
      expect(h.stdout).toMatch(new RegExp(`^Usage: tapstate ${c}`));
      expect(h.stdout).toMatch(/Exit status: 0 success, 1 operation error, 2 usage error/);
    }
    expect(cli(['help', 'attach']).stdout).toMatch(/^Usage: tapstate attach --store DIR --endpoint ID/);
    expect(cli(['help', 'nope']).code).toBe(2);
    expect(cli(['status', '--store', store, 'extra']).stderr).toMatch(/unexpected argument "extra"/);
  });
});

describe('hostile arguments', () => {
  it('a value option given twice is a usage error naming it, not the last one silently', () => {
    rejects(['add', '--store', store, '--idx', '0', '--idx', '1'], 2, /^tapstate: UsageError: add: --idx: given more than once \("0", "1"\): give it once/);
    const other = path.join(tmp, `other${n++}`);
    rejects(['init', '--store', store, '--store', other, '--netns', '/run/netns/x'], 2, /--store: given more than once/);
    expect(fs.existsSync(other)).toBe(false);
    rejects(['status', `--store=${store}`, '--store', other], 2, /--store: given more than once/);
    // a repeated boolean flag is harmless
    expect(cli(['status', '--store', store, '--json', '--json']).code).toBe(0);
  });

  it('control characters in an argument never reach the terminal raw: one line, escaped', () => {
    const r = cli(['hot-attach', '--store', store, '--endpoint', 'ep\x1b]0;owned\x07\r\x1b[2J']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('tapstate: UnknownEndpointError: no endpoint ep\\u001b]0;owned\\u0007\\u000d\\u001b[2J in this store\n');
    const v = cli(['hot-attach', '--store', store, '--endpoint', 'ep\x1b[2J', '--verbose']);
    expect(v.stderr).not.toMatch(/\x1b/);
    // a newline in a path is shown, not turned into a space: "no store at DIR" must not name the existing store DIR
    const nl = cli(['status', '--store', `${store}\n`]);
    expect(nl.stderr).toBe(`tapstate: StoreNotFoundError: no tapstate store at ${store}\\u000a (create one with: tapstate init --store ${store}\\u000a --netns PATH)\n`);
  });
});

describe('real kernel, no VMM', () => {
  it("scan prints a link name from the sandbox's netns (which its owner controls) without its escape sequences", () => {
    if (process.getuid?.() !== 0) throw new Error('this test needs root');
    const ns = `tscli-${process.pid}-${Math.random().toString(36).slice(2, 6)}`;
    execFileSync('ip', ['netns', 'add', ns]);
    try {
      execFileSync('ip', ['-n', ns, 'tuntap', 'add', 'dev', 'ev\x1b[2Jil', 'mode', 'tap']);
      const d = path.join(tmp, `real${n++}`);
      expect(cli(['init', '--store', d, '--netns', `/run/netns/${ns}`], {}).code).toBe(0);
      const r = cli(['scan', '--store', d], {});
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('ev\\u001b[2Jil (tun): added ep0');
      expect(r.stdout).not.toMatch(/\x1b/);
      const j = cli(['status', '--store', d, '--json'], {});
      expect(JSON.parse(j.stdout).endpoints[0].name).toBe('ev\x1b[2Jil'); // JSON keeps the exact name
    } finally {
      execFileSync('ip', ['netns', 'del', ns]);
    }
  });

  it('hot-attach without a QMP socket is refused with a typed error and rolled back; attach prints ifname= args', () => {
    if (process.getuid?.() !== 0) throw new Error('this test needs root');
    const ns = `tscli-${process.pid}-${Math.random().toString(36).slice(2, 6)}`;
    execFileSync('ip', ['netns', 'add', ns]);
    try {
      execFileSync('ip', ['-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'p0']);
      const d = path.join(tmp, `real${n++}`);
      expect(cli(['init', '--store', d, '--netns', `/run/netns/${ns}`, '--netns-created', '--vcpus', '2'], {}).code).toBe(0);
      cli(['add', '--store', d, '--idx', '0', '--mac', '02:00:00:00:00:05'], {});
      const ha = cli(['hot-attach', '--store', d, '--endpoint', 'ep0'], {});
      expect(ha.code).toBe(1);
      expect(ha.stderr).toMatch(/^tapstate: EndpointOperationError: hotplug: this store has no VMM/);
      expect(execFileSync('ip', ['-n', ns, '-j', 'link']).toString()).not.toMatch(/tap0_kata/);
      const at = cli(['attach', '--store', d, '--endpoint', 'ep0'], {});
      expect(at.code, at.stderr).toBe(0);
      expect(at.stdout.trim()).toBe(
        '-netdev tap,id=net-ep0,ifname=tap0_kata,script=no,downscript=no,queues=2 -device driver=virtio-net-pci,netdev=net-ep0,mac=' +
          JSON.parse(execFileSync('ip', ['-n', ns, '-j', 'link', 'show', 'eth0']).toString())[0].address +
          ',disable-modern=false,mq=on,vectors=6,romfile=,id=virtio-net-ep0',
      );
      expect(execFileSync('ip', ['-n', ns, '-j', '-d', 'link', 'show', 'tap0_kata']).toString()).toMatch(/"persist":true/);
      expect(cli(['detach', '--store', d, '--endpoint', 'ep0'], {}).code).toBe(0);
      expect(execFileSync('ip', ['-n', ns, '-j', 'link']).toString()).not.toMatch(/tap0_kata/);
    } finally {
      execFileSync('ip', ['netns', 'del', ns]);
    }
  });
});
