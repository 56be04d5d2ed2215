/**
 * The `tapstate` command, as a function (`src/cli/main.ts` is the executable): `tapstate <command> [options]`. Parses argv against the command's
 * spec, runs it, and maps errors to exit codes: 0 success, 1 operation error (one line
 * `tapstate: <ErrorName>: <message>` on stderr; details with `--verbose`), 2 usage error, 75 the
 * store is locked by another writer. With `--json` an error is also `{"error":{…}}` on stdout.
 */
import { helpJson, renderCommandList, renderHelp, parseCommandArgs } from './args.js';
import { EXIT, UsageError, type CliIO } from './command.js';
import { allCommands, findCommand } from './commands/index.js';
import { errorJson } from './error-json.js';
import { capEcho, ERROR_LINE_MAX, escapeControls } from './quote.js';
import { StoreLockedError } from '../store/store-lock.js';
import { typedSystemError } from './system-error.js';
import { packageVersion } from './version.js';

/** `tapstate --version` (with `--json`: `{"name":"tapstate","version":…}`). */
function printVersion(io: CliIO, json: boolean): number {
  io.out(json ? JSON.stringify({ name: 'tapstate', version: packageVersion() }) + '\n' : `tapstate ${packageVersion()}\n`);
  return EXIT.ok;
}

/** Run the CLI with `argv` (without node and the script). Returns the exit code. */
export async function runCli(argv: readonly string[], raw: CliIO): Promise<number> {
  // what a command prints may come from a sandbox's netns (scan's link names) or a store (ids,
  // ifNames): never a terminal escape sequence (docs/security.md)
  const io: CliIO = { ...raw, out: (t) => raw.out(escapeControls(t, true)), err: (t) => raw.err(escapeControls(t, true)) };
  const [name, ...rest] = argv;
  const json = argv.includes('--json');
  const verbose = rest.includes('--verbose');
  const fail = (e: unknown, code: number, line: string, extra: Record<string, unknown> = {}): number => {
    io.err(escapeControls(line) + '\n'); // one line: a \r or \n in it is escaped too
    if (verbose && code !== EXIT.usage) io.err(errorDetails(e) + '\n');
    if (json) io.out(JSON.stringify(errorJson(e, extra)) + '\n');
    return code;
  };
  if (name === '--version' || (name === '--json' && rest[0] === '--version')) return printVersion(io, json);
  if (name === undefined || name === '--help' || name === '-h') {
    io.out(renderCommandList(allCommands));
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const cmd = findCommand(name);
  if (!cmd) {
    const e = new UsageError(`unknown command ${JSON.stringify(capEcho(name, 40))} (tapstate --help lists them)`);
    return fail(e, EXIT.usage, `tapstate: UsageError: ${e.message}`, { command: name });
  }
  try {
    const parsed = parseCommandArgs(cmd, rest);
    if (parsed.help) {
      io.out(parsed.opts.json ? JSON.stringify(helpJson(cmd)) + '\n' : renderHelp(cmd));
      return EXIT.ok;
    }
    if (parsed.version) return printVersion(io, json);
    return await cmd.run(parsed.opts, parsed.positionals, io);
  } catch (e) {
    if (e instanceof UsageError) return fail(e, EXIT.usage, `tapstate: UsageError: ${cmd.name}: ${capEcho(e.message, 600)} (tapstate ${cmd.name} --help)`, { command: cmd.name });
    const typed = typedSystemError(e);
    return fail(typed, typed instanceof StoreLockedError ? EXIT.locked : EXIT.error, errorLine(typed));
  }
}

/** `tapstate: <ErrorName>: <message>`, at most ERROR_LINE_MAX characters; one line once {@link escapeControls} has run. */
export function errorLine(e: unknown): string {
  const name = e instanceof Error ? e.name : 'Error';
  // a newline is not collapsed to a space: in a path ("--store 'dir\n'") that would name another,
  // existing directory. escapeControls (run by every caller) writes it \u000a: still one line
  const msg = e instanceof Error ? e.message : String(e);
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

