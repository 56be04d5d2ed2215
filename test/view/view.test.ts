import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderViewPage, storeViewPage, timelines } from '../../src/view/index.js';
import { readStoreDir } from '../../src/inspect/index.js';
import { command as viewCommand } from '../../src/cli/commands/view.js';
import { sampleStore, tempDir, type SampleStore } from '../inspect/sample-store.js';
import { dumpDom, screenshot } from './chromium.js';

let sample: SampleStore;
let out: string;
beforeAll(async () => {
  sample = await sampleStore({ crash: true });
  out = tempDir('view');
});
afterAll(() => {
  sample?.remove();
  if (out) fs.rmSync(out, { recursive: true, force: true });
});

const io = () => {
  const text: string[] = [];
  return { text, io: { out: (t: string) => void text.push(t), err: (t: string) => void text.push(t), isTTY: false, env: {} } };
};

describe('the timeline of a log', () => {
  it('lists commands, effects with durations, faults and recoveries per endpoint', () => {
    const tl = timelines(readStoreDir(sample.dir).records);
    const by = Object.fromEntries(tl.map((t) => [t.id, t]));
    expect(Object.fromEntries(tl.map((t) => [t.id, t.state]))).toEqual(sample.states);
    expect(by.ep0!.entries.map((e) => `${e.kind}:${e.title}`)).toEqual([
      'create:create',
      'command:HOT_ATTACH',
      'effect:netlink.createTap',
      'effect:netlink.setMtu',
      'effect:netlink.setUp',
      'effect:hypervisor.hotplug',
    ]);
    expect(by.ep0!.entries.filter((e) => e.kind === 'effect').every((e) => typeof e.ms === 'number' && e.outcome === 'ok')).toBe(true);
    const fault = by.ep2!.entries.find((e) => e.kind === 'fault');
    expect(fault).toMatchObject({ title: 'netlink.setMtu', outcome: 'failed' });
    expect(fault!.detail).toMatch(/EINVAL/);
    const ep4 = by.ep4!.entries.map((e) => `${e.kind}:${e.outcome ?? ''}`);
    expect(ep4).toContain('recovery:');
    expect(ep4.some((e) => e.endsWith(':reconciled'))).toBe(true);
    expect(by.ep4!.state).toBe('created'); // the interrupted hot-plug was rolled back
  });
});

describe('tapstate view', () => {
  it('writes one self-contained page that a headless Chromium renders with every endpoint and its state', async () => {
    const file = path.join(out, 'view.html');
    const cap = io();
    expect(await viewCommand.run({ store: sample.dir, out: file }, [], cap.io)).toBe(0);
    expect(cap.text.join('')).toMatch(/^wrote .*view\.html/);
    const html = fs.readFileSync(file, 'utf8');
    // self-contained: nothing to fetch
    expect(html).not.toMatch(/<(script|img|link|iframe)[^>]*\s(src|href)=/i);
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    expect(html).not.toMatch(/@import|url\((?!#)/);

    const dom = dumpDom(file);
    expect(dom).toContain(`data-rendered="${Object.keys(sample.states).length}"`);
    for (const [id, state] of Object.entries(sample.states)) {
      expect(dom).toContain(`data-endpoint="${id}" data-current-state="${state}"`);
      expect(dom).toContain(`data-state-badge="${state}"`);
    }
    // exactly one highlighted state per endpoint, and it is the endpoint's state
    const current = [...dom.matchAll(/class="state [a-z]+(?: visited)? current" data-state="([^"]+)"/g)].map((m) => m[1]);
    expect(current.sort()).toEqual(Object.values(sample.states).sort());
    expect(dom).toContain('hypervisor.hotplug');
    expect(dom).toMatch(/fault \(failed\)/);
    expect(dom).toMatch(/recovery/);

    const png = path.join(out, 'view.png');
    screenshot(file, png);
    const bytes = fs.readFileSync(png);
    expect(bytes.length).toBeGreaterThan(10_000);
    expect(bytes.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    if (process.env.TAPSTATE_KEEP_SCREENSHOT) fs.copyFileSync(png, process.env.TAPSTATE_KEEP_SCREENSHOT);
  });

  it('escapes log data: markup in a record is shown as text, never run', () => {
    const html = renderViewPage({
      title: '<img src=x onerror=alert(1)>',
      generatedAt: 'now',
      tornBytes: 3,
      endpoints: [{ id: 'ep</script><script>alert(1)</script>', state: 'created', visited: ['created'], inDoubt: null, tapName: 't', entries: [] }],
    });
    expect(html).not.toContain('<img src=x');
    expect(html).not.toContain('</script><script>alert(1)');
    expect(html).toContain('torn last record (3 bytes)');
  });

  it('refuses a directory that is not a store, writing nothing', async () => {
    const file = path.join(out, 'nothing.html');
    await expect(viewCommand.run({ store: out, out: file }, [], io().io)).rejects.toMatchObject({ name: 'LogFormatError' });
    expect(fs.existsSync(file)).toBe(false);
    await expect(storeViewPage(path.join(out, 'missing'))).rejects.toThrow();
  });
});
