#!/usr/bin/env node
/** The `tapstate` executable: {@link runCli} on this process's argv and stdio (src/cli/run.ts). */
import type { CliIO } from './command.js';
import { errorLine, runCli } from './run.js';
import { escapeControls } from './quote.js';
import { typedSystemError } from './system-error.js';

const io: CliIO = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  isTTY: process.stderr.isTTY === true,
  env: process.env,
};

runCli(process.argv.slice(2), io).then(
  // exit explicitly: a lingering handle (a QMP socket, a worker) must never keep the CLI alive;
  // stdout/stderr writes to pipes and files are synchronous on Linux, so nothing is lost
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(escapeControls(errorLine(typedSystemError(e))) + '\n');
    process.exit(1);
  },
);
