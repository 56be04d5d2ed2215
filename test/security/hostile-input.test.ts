/**
 * Issue #9, reproduced against the built CLI with the in-memory adapters: each case was
 * accepted (or crashed untyped) before the fix. Every refusal is one typed line, exit 1 (2 for
 * usage), and the store is unchanged byte for byte.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, networkDoc, refused, snapshot } from './cli-support.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-sec-${process.pid}-`));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = (name = 's') => path.join(tmp, `${name}${n++}`);

function initStore(netns = '/run/netns/sec-a'): string {
  const store = fresh();
  const r = cli(['init', '--store', store, '--netns', netns, '--netns-created']);
  expect(r.code, r.stderr).toBe(0);
  return store;
}
function writeDoc(doc: unknown): string {
  const f = fresh('doc') + '.json';
  fs.writeFileSync(f, JSON.stringify(doc));
  return f;
}

describe('#9.1 load acts only in the store netns', () => {
  it('refuses a document naming another netns, and one with an empty NetNsPath', () => {
    const store = initStore('/run/netns/sec-a');
    const other = writeDoc(networkDoc('/run/netns/sec-b', [{ idx: 7, mac: '02:00:00:00:07:01' }]));
    refused(['load', '--store', store, other], 1, /^tapstate: NetnsMismatchError: NetNsPath "\/run\/netns\/sec-b" is not this store's network namespace "\/run\/netns\/sec-a"/, store);
    const empty = writeDoc(networkDoc('', [{ idx: 8, mac: '02:00:00:00:08:01' }]));
    refused(['load', '--store', store, empty], 1, /^tapstate: NetnsMismatchError: NetNsPath "" is not this store's network namespace/, store);
    const v2 = writeDoc({ NetworkID: '/run/netns/sec-b', NetworkCreated: true, Endpoints: [] });
    refused(['load', '--store', store, v2], 1, /^tapstate: NetnsMismatchError: NetworkID "\/run\/netns\/sec-b"/, store);
    expect(JSON.parse(cli(['status', '--store', store, '--json']).stdout).sandbox.netnsPath).toBe('/run/netns/sec-a');
  });

  it('loads a document of the store netns; --netns-from-document adopts another netns only on a fresh store', () => {
    const store = initStore('/run/netns/sec-a');
    const doc = writeDoc(networkDoc('/run/netns/sec-b', [{ idx: 3, mac: '02:00:00:00:03:01' }]));
    const r = cli(['load', '--store', store, '--netns-from-document', doc]);
    expect(r.code, r.stderr).toBe(0);
    const st = JSON.parse(cli(['status', '--store', store, '--json']).stdout);
    expect(st.sandbox.netnsPath).toBe('/run/netns/sec-b');
    expect(st.endpoints.map((e: { netnsPath: string }) => e.netnsPath)).toEqual(['/run/netns/sec-b']);
    // not fresh any more: refused, unchanged
    const again = writeDoc(networkDoc('/run/netns/sec-c', [{ idx: 4, mac: '02:00:00:00:04:01' }]));
    refused(['load', '--store', store, '--netns-from-document', again], 1, /^tapstate: LogFormatError: .*the store has records already/, store);
    // never the host namespace from a document
    const store2 = initStore('/run/netns/sec-a');
    refused(['load', '--store', store2, '--netns-from-document', writeDoc(networkDoc('', []))], 1, /NetnsMismatchError: NetNsPath "" .*never taken from a document/, store2);
  });
});

describe('#9.4 init takes only a new or empty directory', () => {
  it('refuses a directory holding other files, deleting none of them', () => {
    const d = fresh('busy');
    fs.mkdirSync(d, { mode: 0o700 });
    for (const f of ['checkpoint.json', 'log.jsonl.tmp', 'data.txt']) fs.writeFileSync(path.join(d, f), `mine: ${f}`);
    refused(['init', '--store', d, '--netns', '/run/netns/x'], 1, /^tapstate: StoreDirError: --store .*: is not empty \(checkpoint\.json, data\.txt, log\.jsonl\.tmp\): init takes only a new or empty directory$/m, d);
  });

  it('initialises over what an init killed half-way left (its lock, policy, header temp file) — only those, only as tapstate writes them', () => {
    const header = fs.readFileSync(path.join(initStore(), 'log.jsonl'), 'latin1').split('\n')[0]!;
    const policy = '5d005f7f {"segmentBytes":1048576,"maxBytes":4194304,"maxAgeMs":null,"keepHistory":false}\n';
    const leftovers: Array<Record<string, string>> = [
      { lock: '4242\n' },
      { lock: '4242\n', 'retention.json.tmp': policy.slice(0, 30) },
      { lock: '4242\n', 'retention.json': policy, 'log.jsonl.tmp': header.slice(0, 50) },
      { lock: '', 'log.jsonl.tmp': header + '\n' },
    ];
    for (const files of leftovers) {
      const d = fresh('killed');
      fs.mkdirSync(d, { mode: 0o700 });
      for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(d, f), text, { mode: 0o600 });
      const r = cli(['init', '--store', d, '--netns', '/run/netns/x', '--retain-bytes', '64M']);
      // before: "StoreDirError: … is not empty (lock, log.jsonl.tmp)", and no command could use the directory
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`holds what an interrupted init left (${Object.keys(files).sort().join(', ')}): initialising over it`);
      expect(fs.readdirSync(d).sort()).toEqual(['lock', 'log.jsonl', 'retention.json']);
      expect(cli(['retention', '--store', d]).stdout).toContain('keep at most 64M');
    }
    // a file of someone else's under such a name, or anything else beside them: refused, untouched
    for (const files of [{ lock: 'mine\n' }, { 'log.jsonl.tmp': 'mine: notes\n' }, { lock: '4242\n', 'notes.txt': 'x' }]) {
      const d = fresh('notkilled');
      fs.mkdirSync(d, { mode: 0o700 });
      for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(d, f), text, { mode: 0o600 });
      refused(['init', '--store', d, '--netns', '/run/netns/x'], 1, /^tapstate: StoreDirError: --store .*: is not empty/, d);
    }
  });

  it('says a foreign log.jsonl is not a tapstate log (not "a store exists")', () => {
    const d = fresh('foreign');
    fs.mkdirSync(d, { mode: 0o700 });
    fs.writeFileSync(path.join(d, 'log.jsonl'), '{"some":"other tool"}\n');
    refused(['init', '--store', d, '--netns', '/run/netns/x'], 1, /^tapstate: StoreDirError: .*holds a log\.jsonl that is not a tapstate log/, d);
    const store = initStore();
    refused(['init', '--store', store, '--netns', '/run/netns/x'], 1, /^tapstate: StoreExistsError: a tapstate store exists already/, store);
  });

  it('tightens an empty directory wider than 0700, and says so', () => {
    const d = fresh('wide');
    fs.mkdirSync(d);
    fs.chmodSync(d, 0o755);
    const r = cli(['init', '--store', d, '--netns', '/run/netns/x']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^tapstate: tightened .* from mode 0755 to 0700/);
    expect(fs.statSync(d).mode & 0o777).toBe(0o700);
  });

  it('a 10,000-character --store is a one-line usage error, not ENAMETOOLONG', () => {
    const d = path.join(tmp, 'x'.repeat(10_000));
    const r = refused(['init', '--store', d, '--netns', '/run/netns/x'], 2, /^tapstate: UsageError: init: --store: path is \d+ bytes, longer than PATH_MAX/, tmp);
    expect(r.stderr.length).toBeLessThan(300);
  });
});

describe('#9.5/#9.6 init validates the netns kind and the QMP path', () => {
  it("refuses the caller's own namespace unless --host-netns, which is recorded explicitly", () => {
    const d = fresh();
    refused(['init', '--store', d, '--netns', '/proc/self/ns/net'], 1, /^tapstate: NetnsInvalidError: --netns \/proc\/self\/ns\/net: is this process's own network namespace/, tmp);
    refused(['init', '--store', d, '--netns', '/run/netns/x', '--host-netns'], 2, /--host-netns and --netns exclude each other/, tmp);
    const r = cli(['init', '--store', d, '--host-netns']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(cli(['status', '--store', d, '--json']).stdout).sandbox).toMatchObject({ netnsPath: '', hostNetns: true });
  });

  it('refuses a QMP socket path longer than sun_path', () => {
    const d = fresh();
    refused(['init', '--store', d, '--netns', '/run/netns/x', '--qmp', `/run/${'q'.repeat(110)}.sock`], 2, /--qmp: the socket path is \d+ bytes .*sun_path: 107 bytes \+ NUL/, tmp);
    expect(fs.existsSync(d)).toBe(false);
  });
});

describe('#9.6 duplicate MAC or original link', () => {
  it('add refuses a MAC or --ifname another endpoint has, naming it', () => {
    const store = initStore();
    expect(cli(['add', '--store', store, '--idx', '0', '--mac', '02:00:00:00:00:01', '--ifname', 'eth0']).code).toBe(0);
    refused(['add', '--store', store, '--idx', '1', '--mac', '02:00:00:00:00:01'], 1, /^tapstate: DuplicateEndpointError: an endpoint with mac 02:00:00:00:00:01 exists already: ep0$/m, store);
    refused(['add', '--store', store, '--idx', '1', '--mac', '02:00:00:00:00:01'.toUpperCase()], 1, /with mac 02:00:00:00:00:01 exists already: ep0$/m, store);
    refused(['add', '--store', store, '--idx', '1', '--ifname', 'eth0'], 1, /^tapstate: DuplicateEndpointError: an endpoint with ifName eth0 exists already: ep0$/m, store);
    expect(cli(['add', '--store', store, '--idx', '1', '--mac', '02:00:00:00:00:02']).code).toBe(0);
  });

  it('load refuses a MAC used twice in the document or already in the store', () => {
    const store = initStore('/run/netns/sec-a');
    const twice = writeDoc(networkDoc('/run/netns/sec-a', [{ idx: 0, mac: '02:00:00:00:00:09' }, { idx: 1, mac: '02:00:00:00:00:09' }]));
    refused(['load', '--store', store, twice], 1, /^tapstate: DuplicateEndpointError: an endpoint with mac 02:00:00:00:00:09 exists already: ep0$/m, store);
    const sameLink = writeDoc(networkDoc('/run/netns/sec-a', [{ idx: 0, name: 'eth5', mac: '02:00:00:00:00:01' }, { idx: 1, name: 'eth5', mac: '02:00:00:00:00:02' }]));
    refused(['load', '--store', store, sameLink], 1, /an endpoint with ifName eth5 exists already: ep0$/m, store);
    expect(cli(['add', '--store', store, '--idx', '5', '--mac', '02:00:00:00:00:05']).code).toBe(0);
    const clash = writeDoc(networkDoc('/run/netns/sec-a', [{ idx: 0, mac: '02:00:00:00:00:05' }]));
    refused(['load', '--store', store, clash], 1, /an endpoint with mac 02:00:00:00:00:05 exists already: ep5$/m, store);
  });

  it('caps the echo of a 10,000-character argument', () => {
    const store = initStore();
    const long = 'z'.repeat(10_000);
    for (const args of [
      ['add', '--store', store, '--idx', '1', '--mac', long],
      ['add', '--store', store, '--idx', '1', '--ifname', long],
      ['add', '--store', store, '--idx', long],
      ['add', '--store', store, `--${long}`],
      ['status', '--store', store, long],
    ]) {
      const r = refused(args, 2, /^tapstate: UsageError: /, store);
      expect(r.stderr.length, r.stderr.slice(0, 200)).toBeLessThan(400);
      expect(r.stderr).toMatch(/\(10000 chars\)|\(100\d\d chars\)/);
    }
  });
});

describe('#9.7 typed errors for file-system failures', () => {
  it('view --out into a missing directory or onto a directory: one typed line', () => {
    const store = initStore();
    refused(['view', '--store', store, '--out', '/nonexistent-dir-tapstate/x.html'], 1, /^tapstate: OutputFileError: --out \/nonexistent-dir-tapstate\/x\.html: directory \/nonexistent-dir-tapstate does not exist$/m, store);
    refused(['view', '--store', store, '--out', tmp], 1, /^tapstate: OutputFileError: --out .*: is a directory; give a file name$/m, store);
  });
});

describe('#9.8 a cut torn tail is said on stderr', () => {
  it('add after a torn last record says it cut it', () => {
    const store = initStore();
    expect(cli(['add', '--store', store, '--idx', '0']).code).toBe(0);
    fs.appendFileSync(path.join(store, 'log.jsonl'), '0badc0de {"seq":9999,"k":"ev');
    const r = cli(['add', '--store', store, '--idx', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^tapstate: cut a torn last record \(\d+ bytes at byte \d+\) left by an interrupted writer/m);
    // said once: the next writer finds nothing to cut
    const again = cli(['add', '--store', store, '--idx', '2']);
    expect(again.stderr).toBe('');
    expect(snapshot(store)['log.jsonl']).toBeDefined();
  });
});

describe('#9.6 load reads a capped amount', () => {
  it('/dev/zero is cut off with a typed error, not read until memory runs out', () => {
    const store = initStore();
    refused(['load', '--store', store, '/dev/zero'], 1, /^tapstate: LoadFileError: \/dev\/zero: more than the 16777216 bytes a persist\.json may have$/m, store);
  });
});
