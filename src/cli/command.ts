/**
 * The shape of a `tapstate` subcommand. Each lives in `src/cli/commands/<name>.ts` and exports
 * `command: CommandSpec`; `src/cli/commands/index.ts` lists them; `src/cli/main.ts` parses argv
 * (with `node:util` parseArgs), prints `--help` from the spec, and maps errors to exit codes:
 * 0 success, 1 operation error (one typed line on stderr; details with `--verbose`), 2 usage error,
 * 75 store locked (EX_TEMPFAIL). With `--json`, errors are also a JSON object on stdout.
 */
import { TapstateError } from '../../machines/tapstate-error.js';

export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  /** stdout is a terminal (progress, colours). */
  isTTY: boolean;
  env: NodeJS.ProcessEnv;
}

export interface OptionSpec {
  type: 'string' | 'boolean';
  description: string;
  /** Shown in help: `--store DIR`. */
  placeholder?: string;
  required?: boolean;
  /** Parse as an integer (still declared as type 'string'). */
  integer?: boolean;
  default?: string | boolean;
  /** One-letter alias (`-h`). */
  short?: string;
  /** The accepted values (shell completion offers them). */
  choices?: readonly string[];
}

/** A positional argument. */
export interface PositionalSpec {
  name: string;
  description: string;
  required: boolean;
  /** The accepted values (shell completion offers them; otherwise it offers files). */
  choices?: readonly string[];
}

export interface CommandSpec {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Named positional arguments, in order. */
  positionals?: PositionalSpec[];
  options: Record<string, OptionSpec>;
  /** Example invocations for `--help` and docs/cli.md. */
  examples?: string[];
  /** Returns the exit code. Throw UsageError for bad usage (exit 2); any other error exits 1. */
  run(opts: Record<string, string | boolean | number | undefined>, positionals: string[], io: CliIO): Promise<number>;
}

/** Exit codes (docs/cli.md). 75 is sysexits' EX_TEMPFAIL: try again later. */
export const EXIT = { ok: 0, error: 1, usage: 2, locked: 75 } as const;

/** Bad command-line usage: exit code 2. */
export class UsageError extends TapstateError {
  override readonly name = 'UsageError';
  readonly code = 'USAGE';
}
