#!/usr/bin/env node
/**
 * The `tapstate` command: `tapstate <command> [options]`. Parses argv against the command's
 * spec, runs it, and maps errors to exit codes: 0 success, 1 operation error (one line
 * `tapstate: <ErrorName>: <message>` on stderr; details with `--verbose`), 2 usage error.
 */
import { renderCommandList, renderHelp, parseCommandArgs } from './args.js';
import { UsageError, type CliIO } from './command.js';
import { allCommands, findCommand } from './commands/index.js';
import { capEcho, ERROR_LINE_MAX } from './quote.js';
import { typedSystemError } from './system-error.js';

/** Run the CLI with `argv` (without node and the script). Returns the exit code. */
export async function runCli(argv: readonly string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    io.out(renderCommandList(allCommands));
    return name === undefined ? 2 : 0;
  }
  const cmd = findCommand(name);
  if (!cmd) {
    io.err(`tapstate: UsageError: unknown command ${JSON.stringify(capEcho(name, 40))} (tapstate --help lists them)\n`);
    return 2;
  }
  const verbose = rest.includes('--verbose');
  try {
    const parsed = parseCommandArgs(cmd, rest);
    if (parsed.help) {
      io.out(renderHelp(cmd));
      return 0;
    }
    return await cmd.run(parsed.opts, parsed.positionals, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`tapstate: UsageError: ${cmd.name}: ${capEcho(e.message, 600)} (tapstate ${cmd.name} --help)\n`);
      return 2;
    }
    const typed = typedSystemError(e);
    io.err(errorLine(typed) + '\n');
    if (verbose) io.err(errorDetails(typed) + '\n');
    return 1;
  }
}

/** `tapstate: <ErrorName>: <message>` on one line, at most ERROR_LINE_MAX characters. */
export function errorLine(e: unknown): string {
  const name = e instanceof Error ? e.name : 'Error';
  const msg = (e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, ' ');
  const line = `tapstate: ${name}: ${msg}`;
  return line.length <= ERROR_LINE_MAX ? line : `${line.slice(0, ERROR_LINE_MAX)}… (cut; --verbose shows all)`;
}

/** The error's own fields, its cause and its stack. */
export function errorDetails(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) if (k !== 'stack' && k !== 'message') fields[k] = v;
  if (e.cause !== undefined) fields.cause = e.cause;
  const lines = [];
  if (Object.keys(fields).length) lines.push(`details: ${JSON.stringify(fields, null, 2)}`);
  if (e.stack) lines.push(e.stack);
  return lines.join('\n');
}

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
    process.stderr.write(errorLine(typedSystemError(e)) + '\n');
    process.exit(1);
  },
);
