/**
 * The CLI contract scripts rely on: `--json` on every command (one JSON document on stdout, or
 * JSON lines for log/inspect), errors as `{"error":{type,message,…typed fields}}` on stdout,
 * `-h`/`--version` everywhere, exit 75 for a locked store and `--lock-timeout`, and the shell
 * completion generated from the command specs. In-memory adapters (TAPSTATE_ADAPTERS=memory).
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { allOptions } from '../../src/cli/args.js';
import { allCommands } from '../../src/cli/commands/index.js';
import { runCli } from '../../src/cli/run.js';
import { StoreLock } from '../../src/store/store-lock.js';
import { CLI } from '../torture/world.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-contract-${process.pid}-`));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const VERSION = (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const ENV = { ...process.env, TAPSTATE_ADAPTERS: 'memory', NODE_DEBUG: '' };

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}
function cli(args: string[]): Run {
  const r = spawnSync(process.execPath, [CLI, ...args], { env: ENV, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
async function cliAsync(args: string[]): Promise<Run> {
  try {
    const r = await promisify(execFile)(process.execPath, [CLI, ...args], { env: ENV, encoding: 'utf8' });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}
/** Exit 0 and exactly one JSON document on stdout. */
function json(args: string[]): Record<string, unknown> {
  const r = cli([...args, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}
/** The error object on stdout, with the exit code. */
function jsonError(args: string[], code: number): { type: string; message: string; [k: string]: unknown } {
  const r = cli([...args, '--json']);
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr.trim().split('\n')).toHaveLength(1); // the one human line stays on stderr
  const doc = JSON.parse(r.stdout) as { error: { type: string; message: string } };
  expect(Object.keys(doc)).toEqual(['error']);
  expect(r.stderr).toContain(doc.error.message);
  return doc.error;
}

let n = 0;
const newStore = () => path.join(tmp, `s${n++}`);

describe('--json on every command', () => {
  it('init, add, the four operations, status, recover, save, load: one JSON document each', () => {
    const store = newStore();
    const init = json(['init', '--store', store, '--netns', '/run/netns/x', '--netns-created', '--vcpus', '2', '--no-vhost']);
    expect(init).toEqual({
      version: 1,
      store,
      sandbox: { netnsPath: '/run/netns/x', netnsCreated: true, vcpus: 2, vhost: false },
      retention: { segmentBytes: 1 << 20, maxBytes: 4 << 20, maxAgeMs: null, keepHistory: false },
    });
    const add = json(['add', '--store', store, '--idx', '0', '--mac', '02:00:00:00:00:07']);
    expect(add).toMatchObject({ version: 1, endpoint: { id: 'ep0', idx: 0, state: 'created', status: 'settled', tapName: 'tap0_kata', mac: '02:00:00:00:00:07', queues: 2 } });
    const ha = json(['hot-attach', '--store', store, '--endpoint', 'ep0']);
    expect(ha).toMatchObject({ version: 1, endpoint: { id: 'ep0', state: 'hotAttached', pciPath: expect.stringMatching(/^\d\d\/\d\d$/) }, ms: expect.any(Number) });
    expect(ha).not.toHaveProperty('qemuArgs');
    // each CLI process has its own in-memory world: the tap is gone, hot-detach still settles
    const hd = json(['hot-detach', '--store', store, '--endpoint', 'ep0']);
    expect(hd).toMatchObject({ version: 1, endpoint: { id: 'ep0' }, ms: expect.any(Number) });
    json(['add', '--store', store, '--idx', '1']);
    // cold attach needs the original link eth1, which this in-memory world lacks: a typed error
    expect(jsonError(['attach', '--store', store, '--endpoint', 'ep1'], 1)).toMatchObject({ type: 'EndpointOperationError', message: expect.stringContaining('eth1') });
    json(['hot-attach', '--store', store, '--endpoint', 'ep1']);
    // ep0 was hot-detached: retired from the live endpoints
    expect(json(['status', '--store', store])).toMatchObject({ version: 1, store, inDoubt: 0, endpoints: [{ id: 'ep1', state: 'hotAttached' }] });
    expect(json(['recover', '--store', store])).toMatchObject({ replayed: expect.any(Number), endpoints: [], inDoubt: [] });
    const saved = json(['save', '--store', store]);
    expect(saved).toHaveProperty('Endpoints');

    const doc = path.join(tmp, 'persist.json');
    fs.writeFileSync(doc, JSON.stringify(saved));
    const other = newStore();
    json(['init', '--store', other, '--netns', '/run/netns/x', '--netns-created']);
    // a fresh in-memory world has no tap1_kata: the endpoint loads as created (docs/cli.md, load)
    expect(json(['load', '--store', other, doc])).toMatchObject({ version: 1, endpoints: [{ id: 'ep1', state: 'created' }], skipped: [] });
  });

  it('log and inspect: JSON lines; diagram, view, help, completion, --version: one document', () => {
    const store = newStore();
    json(['init', '--store', store, '--netns', '/run/netns/x']);
    json(['add', '--store', store, '--idx', '0']);
    for (const cmd of ['log', 'inspect']) {
      const r = cli([cmd, '--store', store, '--json']);
      expect(r.code, r.stderr).toBe(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines.length).toBeGreaterThan(0);
      for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
    }
    expect(json(['verify', '--store', store])).toMatchObject({ version: 1, store, records: expect.any(Number), endpoints: 1 });
    expect(json(['diagram'])).toHaveProperty('states');
    const out = path.join(tmp, 'v.html');
    expect(json(['view', '--store', store, '--out', out])).toEqual({ version: 1, out, bytes: fs.statSync(out).size, mode: '0600' });
    const help = json(['help']) as { commands: Array<{ name: string; options: Record<string, unknown> }> };
    expect(help.commands.map((c) => c.name)).toEqual(allCommands.map((c) => c.name));
    expect(json(['help', 'init']).commands).toEqual([expect.objectContaining({ name: 'init', synopsis: expect.stringContaining('--hotplug-bus') })]);
    expect(json(['completion', 'bash'])).toMatchObject({ version: 1, shell: 'bash', script: expect.stringContaining('complete -o default -F _tapstate tapstate') });
    expect(json(['--version'])).toEqual({ name: 'tapstate', version: VERSION });
  });
});

describe('attach and detach --json (real kernel: a netns with the original link)', () => {
  it('attach: the endpoint and the QEMU arguments in one document, nothing on stderr', () => {
    if (process.getuid?.() !== 0) throw new Error('this test needs root');
    const ns = `tsjs-${process.pid}-${Math.random().toString(36).slice(2, 6)}`;
    execFileSync('ip', ['netns', 'add', ns]);
    try {
      execFileSync('ip', ['-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'p0']);
      const store = newStore();
      const real = (args: string[]) => spawnSync(process.execPath, [CLI, ...args, '--json'], { env: { ...process.env, NODE_DEBUG: '' }, encoding: 'utf8' });
      expect(real(['init', '--store', store, '--netns', `/run/netns/${ns}`, '--netns-created']).status).toBe(0);
      expect(real(['add', '--store', store, '--idx', '0']).status).toBe(0);
      const at = real(['attach', '--store', store, '--endpoint', 'ep0']);
      expect(at.status, at.stderr).toBe(0);
      expect(at.stderr).toBe('');
      const doc = JSON.parse(at.stdout) as { version: number; endpoint: { state: string }; qemuArgs: string[]; ms: number };
      expect(doc).toMatchObject({ version: 1, endpoint: { state: 'attached' }, ms: expect.any(Number) });
      expect(doc.qemuArgs).toEqual(['-netdev', expect.stringMatching(/^tap,id=net-ep0,ifname=tap0_kata,/), '-device', expect.stringMatching(/^driver=virtio-net-pci,/)]);
      const de = real(['detach', '--store', store, '--endpoint', 'ep0']);
      expect(de.status, de.stderr).toBe(0);
      expect(JSON.parse(de.stdout)).toMatchObject({ version: 1, endpoint: { state: 'detached' } });
    } finally {
      execFileSync('ip', ['netns', 'del', ns]);
    }
  });
});

describe('errors as JSON on stdout', () => {
  const store = newStore();
  it('operation errors carry their typed fields', () => {
    json(['init', '--store', store, '--netns', '/run/netns/x']);
    expect(jsonError(['hot-attach', '--store', store, '--endpoint', 'ep9'], 1)).toMatchObject({ type: 'UnknownEndpointError', message: expect.stringContaining('ep9') });
    expect(jsonError(['status', '--store', path.join(tmp, 'none')], 1)).toEqual({ type: 'StoreNotFoundError', code: 'STORE_NOT_FOUND', store: path.join(tmp, 'none'), reason: 'missing', message: expect.stringContaining('no tapstate store') });
    expect(jsonError(['init', '--store', store, '--netns', '/run/netns/x'], 1)).toEqual({ type: 'StoreExistsError', code: 'STORE_EXISTS', store, message: expect.any(String) });
  });

  it('usage errors name the command; an unknown command too', () => {
    expect(jsonError(['add', '--store', store, '--idx', 'x'], 2)).toEqual({ type: 'UsageError', code: 'USAGE', command: 'add', message: '--idx: must be an integer (got "x")' });
    expect(jsonError(['add', '--nope'], 2)).toMatchObject({ type: 'UsageError', command: 'add', message: 'unknown option --nope' });
    expect(jsonError(['save', '--store', store, '--shape', 'v3'], 2)).toMatchObject({ message: '--shape: must be one of v1, v2 (got "v3")' });
    expect(jsonError(['frobnicate'], 2)).toMatchObject({ type: 'UsageError', command: 'frobnicate' });
  });
});

describe('-h and --version everywhere', () => {
  async function inProcess(argv: string[]): Promise<Run> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(argv, { out: (t) => void out.push(t), err: (t) => void err.push(t), isTTY: false, env: {} });
    return { code, stdout: out.join(''), stderr: err.join('') };
  }
  it('every command accepts -h, --help and --version (also among other flags)', async () => {
    for (const c of allCommands) {
      for (const flag of ['-h', '--help']) {
        const r = await inProcess([c.name, '--store', '/nonexistent', flag]);
        expect(r.code, `${c.name} ${flag}: ${r.stderr}`).toBe(0);
        expect(r.stdout).toMatch(new RegExp(`^Usage: tapstate ${c.name}`));
      }
      const v = await inProcess([c.name, '--version']);
      expect(v.code, `${c.name} --version: ${v.stderr}`).toBe(0);
      expect(v.stdout).toBe(`tapstate ${VERSION}\n`);
      const vj = await inProcess([c.name, '--version', '--json']);
      expect(JSON.parse(vj.stdout)).toEqual({ name: 'tapstate', version: VERSION });
    }
    expect(cli(['-h']).stdout).toMatch(/^Usage: tapstate <command>/);
    expect(cli(['--version']).stdout).toBe(`tapstate ${VERSION}\n`);
    expect(cli(['init', '-h']).stdout).toContain('-h, --help');
  });
});

describe('a locked store', () => {
  it('exits 75 (EX_TEMPFAIL) with a typed error; --lock-timeout waits for the lock', async () => {
    const store = newStore();
    json(['init', '--store', store, '--netns', '/run/netns/x']);
    const lock = StoreLock.acquire(store);
    let released = false;
    try {
      const err = jsonError(['add', '--store', store, '--idx', '0'], 75);
      expect(err).toMatchObject({ type: 'StoreLockedError', store, pid: process.pid, waitedMs: 0 });
      const t0 = Date.now();
      const waited = cli(['add', '--store', store, '--idx', '0', '--lock-timeout', '300']);
      expect(waited.code).toBe(75);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
      expect(waited.stderr).toMatch(/^tapstate: StoreLockedError: store locked by pid \d+ .*still held after waiting 300 ms\n$/);
      // released while the writer waits: it goes ahead
      const pending = cliAsync(['add', '--store', store, '--idx', '0', '--lock-timeout', '20000']);
      await new Promise((r) => setTimeout(r, 500));
      lock.release();
      released = true;
      const r = await pending;
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe('ep0\n');
    } finally {
      if (!released) lock.release();
    }
    expect(cli(['add', '--store', store, '--idx', '1', '--lock-timeout', '-5']).code).toBe(2);
  });
});

describe('shell completion from the command specs', () => {
  const bash = cli(['completion', 'bash']).stdout;
  const script = path.join(tmp, 'completion.bash');
  fs.writeFileSync(script, bash);
  /** What bash completes for the words typed so far (the last is the current one). */
  function complete(...words: string[]): string[] {
    const quoted = words.map((w) => `'${w}'`).join(' ');
    const r = spawnSync('bash', ['-c', `source '${script}'; COMP_WORDS=(tapstate ${quoted}); COMP_CWORD=${words.length}; _tapstate; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8', cwd: tmp });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout.split('\n').filter(Boolean);
  }

  it('bash: commands, options, choices', () => {
    expect(complete('hot-')).toEqual(['hot-attach', 'hot-detach']);
    expect(complete('save', '--shape', '')).toEqual(['v1', 'v2']);
    expect(complete('diagram', '--format', 'j')).toEqual(['json']);
    expect(complete('completion', '')).toEqual(['bash', 'zsh']);
    expect(complete('help', 'hot-a')).toEqual(['hot-attach']);
    expect(complete('add', '--lock')).toEqual(['--lock-timeout']);
    expect(complete('init', '--hot')).toEqual(['--hotplug-bus']);
  });

  it('bash: every option of every command is offered', () => {
    for (const c of allCommands) {
      const offered = complete(c.name, '-');
      for (const name of Object.keys(allOptions(c))) expect(offered, c.name).toContain(`--${name}`);
    }
  });

  it('zsh: valid syntax, registers _tapstate, knows every command and option', () => {
    const zsh = cli(['completion', 'zsh']).stdout;
    const file = path.join(tmp, '_tapstate');
    fs.writeFileSync(file, zsh);
    const r = spawnSync('zsh', ['-f', '-c', `zsh -n '${file}' && autoload -U compinit && compinit -u -D && source '${file}' && print -r -- \${_comps[tapstate]}`], { encoding: 'utf8', cwd: tmp });
    expect(r.error, 'zsh is needed (apt-get install zsh; .ci/install-system-deps installs it)').toBeUndefined();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('_tapstate');
    for (const c of allCommands) {
      expect(zsh).toContain(`    '${c.name}:`);
      for (const name of Object.keys(allOptions(c))) expect(zsh).toMatch(new RegExp(`--${name}[\\[,}]`));
    }
  });

  it('a bad shell is a usage error', () => {
    expect(cli(['completion', 'fish']).code).toBe(2);
  });
});
