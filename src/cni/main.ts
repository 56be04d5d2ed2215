#!/usr/bin/env node
/**
 * The `tapstate-cni` executable: a chained CNI plugin (docs/cni.md). A runtime runs it with the
 * CNI_* environment and the network configuration on stdin; it prints a result or a CNI error
 * object on stdout and exits 0 or 1.
 */
import * as fs from 'node:fs';
import { runPlugin } from './plugin.js';
import { CNI_CODE, CniError } from './errors.js';

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

/** stdin, or the error object to print when it cannot be read (spec: an I/O failure, code 5). */
function stdinOrError(): string | CniError {
  try {
    return readStdin();
  } catch (e) {
    // VERSION needs no config: an unreadable stdin is no reason to fail it
    if (process.env.CNI_COMMAND === 'VERSION') return '';
    return new CniError(CNI_CODE.io, `cannot read the network configuration from stdin: ${(e as Error).message}`);
  }
}

const stdin = stdinOrError();
(stdin instanceof CniError ? Promise.resolve({ stdout: JSON.stringify(stdin.toJSON('1.0.0')) + '\n', exitCode: 1 }) : runPlugin(process.env, stdin)).then(
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
