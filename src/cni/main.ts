#!/usr/bin/env node
/**
 * The `tapstate-cni` executable: a chained CNI plugin (docs/cni.md). A runtime runs it with the
 * CNI_* environment and the network configuration on stdin; it prints a result or a CNI error
 * object on stdout and exits 0 or 1.
 */
import * as fs from 'node:fs';
import { runPlugin } from './plugin.js';

function readStdin(): string {
  if (process.stdin.isTTY) return ''; // a person at a terminal: never wait for a config
  try {
    return fs.readFileSync(0, 'utf8');
  } catch (e) {
    // no stdin at all (closed/EAGAIN): the config check reports it
    if ((e as NodeJS.ErrnoException).code === 'EAGAIN' || (e as NodeJS.ErrnoException).code === 'EOF') return '';
    throw e;
  }
}

runPlugin(process.env, readStdin()).then(
  // exit explicitly: a lingering handle (a worker) must never keep the plugin alive
  (o) => {
    if (o.stdout) fs.writeSync(1, o.stdout);
    process.exit(o.exitCode);
  },
  (e: unknown) => {
    fs.writeSync(1, JSON.stringify({ cniVersion: '1.0.0', code: 199, msg: e instanceof Error ? e.message : String(e) }) + '\n');
    process.exit(1);
  },
);
