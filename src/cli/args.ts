/**
 * Command-line parsing for `tapstate`: a {@link CommandSpec} becomes a `node:util` parseArgs
 * configuration; values are checked (required, integers) and `--help` text is rendered from the
 * same spec. Pure: no I/O.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError, type CommandSpec, type OptionSpec, type PositionalSpec } from './command.js';
import { capEcho, quoteArg } from './quote.js';

/** Options every subcommand accepts. */
export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  json: { type: 'boolean', description: 'Machine-readable output: one JSON document on stdout (errors too: {"error":{…}}).' },
  help: { type: 'boolean', short: 'h', description: 'Show this help and exit.' },
  version: { type: 'boolean', description: 'Print the tapstate version and exit.' },
  verbose: { type: 'boolean', description: 'On error, print the details (fields, cause, stack).' },
};

/** The parsed command line of one subcommand. */
export interface ParsedArgs {
  /** The command's options, plus `json` (always a boolean). */
  opts: Record<string, string | boolean | number | undefined>;
  positionals: string[];
  help: boolean;
  version: boolean;
  verbose: boolean;
}

/** The options of `spec` followed by the global ones it does not redefine. */
export function allOptions(spec: CommandSpec): Record<string, OptionSpec> {
  const out: Record<string, OptionSpec> = { ...spec.options };
  for (const [k, v] of Object.entries(GLOBAL_OPTIONS)) if (!(k in out)) out[k] = v;
  return out;
}

const INTEGER_RE = /^-?\d+$/;

/** The exit codes, as help texts say them. */
export const EXIT_STATUS_LINE = 'Exit status: 0 success, 1 operation error, 2 usage error, 75 store locked (try again).';

/**
 * Parse `argv` (the arguments after the subcommand name) against `spec`. Unknown flags, missing
 * values, missing required flags/positionals, extra positionals and malformed integers are
 * {@link UsageError}s naming the flag. `--help` short-circuits every check.
 */
export function parseCommandArgs(spec: CommandSpec, argv: readonly string[]): ParsedArgs {
  const all = allOptions(spec);
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const [name, o] of Object.entries(all)) options[name] = o.short ? { type: o.type, short: o.short } : { type: o.type };
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[]; tokens: Array<{ kind: string; name?: string; value?: string }> };
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true, tokens: true }) as typeof parsed;
  } catch (e) {
    // -h / --help / --version win over any other problem of the command line
    const help = argv.includes('--help') || argv.includes('-h');
    const version = argv.includes('--version');
    if (help || version) return { opts: { json: argv.includes('--json') }, positionals: [], help, version, verbose: false };
    throw new UsageError(capEcho(cleanParseMessage((e as Error).message), 300));
  }
  const help = parsed.values.help === true;
  const version = parsed.values.version === true;
  const verbose = parsed.values.verbose === true;
  const opts: ParsedArgs['opts'] = { json: parsed.values.json === true };
  if (help || version) return { opts, positionals: parsed.positionals, help, version, verbose };
  // a value option given twice (`--store A … --store B`): parseArgs keeps the last; refuse instead of guessing
  const given = new Map<string, string[]>();
  for (const t of parsed.tokens) {
    if (t.kind !== 'option' || t.name === undefined || all[t.name]?.type !== 'string') continue;
    const vals = given.get(t.name) ?? [];
    vals.push(t.value ?? '');
    given.set(t.name, vals);
    if (vals.length > 1) throw new UsageError(`--${t.name}: given more than once (${vals.map((v) => quoteArg(v)).join(', ')}): give it once`);
  }
  for (const [name, o] of Object.entries(spec.options)) {
    let v: string | boolean | number | undefined = parsed.values[name];
    if (v === undefined) v = o.default;
    if (v === undefined) {
      if (o.required) throw new UsageError(`missing required option --${name}${o.placeholder ? ` ${o.placeholder}` : ''}`);
      opts[name] = undefined;
      continue;
    }
    if (o.type === 'string' && typeof v === 'string') {
      if (v === '' && o.required) throw new UsageError(`--${name}: must not be empty`);
      if (o.choices && !o.choices.includes(v)) throw new UsageError(`--${name}: must be one of ${o.choices.join(', ')} (got ${quoteArg(v)})`);
      if (o.integer) {
        if (!INTEGER_RE.test(v.trim())) throw new UsageError(`--${name}: must be an integer (got ${quoteArg(v)})`);
        const n = Number(v.trim());
        if (!Number.isSafeInteger(n)) throw new UsageError(`--${name}: integer out of range (got ${capEcho(v)})`);
        v = n;
      }
    }
    opts[name] = v;
  }
  const pos = spec.positionals ?? [];
  const required = pos.filter((p) => p.required).length;
  if (parsed.positionals.length < required) {
    const missing = pos[parsed.positionals.length]!;
    throw new UsageError(`missing argument ${missing.name}`);
  }
  if (parsed.positionals.length > pos.length) {
    throw new UsageError(`unexpected argument ${quoteArg(parsed.positionals[pos.length]!)}`);
  }
  parsed.positionals.forEach((v, i) => {
    const p = pos[i]!;
    if (p.choices && !p.choices.includes(v)) throw new UsageError(`${p.name}: must be one of ${p.choices.join(', ')} (got ${quoteArg(v)})`);
  });
  return { opts, positionals: parsed.positionals, help, version, verbose };
}

/** parseArgs' messages are multi-line and mention internals: one clear line instead. */
function cleanParseMessage(msg: string): string {
  const amb = /Option '(--[^' ]+)[^']*' argument is ambiguous/.exec(msg);
  if (amb) return `option ${amb[1]}: a value starting with "-" must be written ${amb[1]}=VALUE`;
  const first = (msg.split(/\.\s*To specify/)[0] ?? msg).replace(/\s*\n\s*/g, ' ');
  return first.replace(/^Unknown option '(.+)'$/, 'unknown option $1').replace(/^Option '(.+?)' argument missing$/, 'option $1 needs a value');
}

function optionLabel(name: string, o: OptionSpec): string {
  const long = o.type === 'boolean' ? `--${name}` : `--${name} ${o.placeholder ?? 'VALUE'}`;
  return o.short ? `-${o.short}, ${long}` : long;
}

/** The one-line synopsis: `tapstate add --store DIR --idx N [--mac MAC]`. */
export function synopsis(spec: CommandSpec): string {
  const parts = [`tapstate ${spec.name}`];
  for (const [name, o] of Object.entries(spec.options)) {
    const l = optionLabel(name, o);
    parts.push(o.required ? l : `[${l}]`);
  }
  for (const p of spec.positionals ?? []) parts.push(p.required ? p.name : `[${p.name}]`);
  return parts.join(' ');
}

/** The `--help` text of one subcommand. */
export function renderHelp(spec: CommandSpec): string {
  const lines = [`Usage: ${synopsis(spec)}`, '', spec.summary, ''];
  const rows: Array<[string, string]> = [];
  for (const p of spec.positionals ?? []) rows.push([p.name, p.description]);
  for (const [name, o] of Object.entries(allOptions(spec))) {
    const extra = o.required ? ' (required)' : o.default !== undefined ? ` (default: ${String(o.default)})` : '';
    rows.push([optionLabel(name, o), o.description + extra]);
  }
  const w = Math.max(...rows.map((r) => r[0].length));
  lines.push('Options:');
  for (const [l, d] of rows) lines.push(`  ${l.padEnd(w)}  ${d}`);
  if (spec.examples?.length) {
    lines.push('', 'Examples:');
    for (const e of spec.examples) lines.push(`  ${e}`);
  }
  lines.push('', EXIT_STATUS_LINE);
  return lines.join('\n') + '\n';
}

/** The top-level help: every subcommand with its summary. */
export function renderCommandList(commands: readonly CommandSpec[]): string {
  const w = Math.max(...commands.map((c) => c.name.length));
  const lines = [
    'Usage: tapstate <command> [options]   (tapstate <command> --help for its options)',
    '',
    'Run the lifecycle of a VM\'s TAP network endpoints, crash-safely, from a store directory.',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    '',
    'Global options: --json, -h/--help, --version, --verbose.',
    '',
    `${EXIT_STATUS_LINE} See docs/cli.md.`,
  ];
  return lines.join('\n') + '\n';
}

/** The `--json` form of a command's spec (`tapstate CMD --help --json`, `tapstate help --json`). */
export function helpJson(spec: CommandSpec): { name: string; summary: string; synopsis: string; options: Record<string, OptionSpec>; positionals: PositionalSpec[]; examples: string[] } {
  return { name: spec.name, summary: spec.summary, synopsis: synopsis(spec), options: allOptions(spec), positionals: spec.positionals ?? [], examples: spec.examples ?? [] };
}
