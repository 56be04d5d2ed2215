/**
 * Run Debian's headless `chromium` on a local file: dump the DOM after scripts ran, or take a
 * screenshot. Missing chromium is an error (install it: `apt-get install -y
 * --no-install-recommends chromium`). Every run gets a fresh profile dir, removed afterwards.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { tempDir } from '../inspect/sample-store.js';

export function chromiumPath(): string {
  for (const c of ['chromium', 'chromium-browser']) {
    const r = spawnSync('sh', ['-c', `command -v ${c}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  throw new Error('chromium is not installed: apt-get install -y --no-install-recommends chromium (the view test needs a real browser)');
}

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

function run(args: string[]): string {
  const profile = tempDir('chromium-profile');
  try {
    return execFileSync(chromiumPath(), [...FLAGS, `--user-data-dir=${profile}`, ...args], {
      encoding: 'utf8',
      timeout: 60_000,
      maxBuffer: 64 * 1024 * 1024,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

/** The DOM of the page after its scripts ran. */
export function dumpDom(file: string): string {
  return run(['--virtual-time-budget=5000', '--dump-dom', pathToFileURL(path.resolve(file)).href]);
}

/** Take a 1280×900 screenshot of the page into `png`. */
export function screenshot(file: string, png: string): void {
  run(['--window-size=1280,900', '--hide-scrollbars', `--screenshot=${png}`, pathToFileURL(path.resolve(file)).href]);
}
