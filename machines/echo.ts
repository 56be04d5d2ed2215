/**
 * Echoing a caller's value back in an error message, capped: a 5,000-character endpoint id must
 * not become a 5,000-character message (the error's typed field keeps the exact value). Pure;
 * shared by the machines, the runtime, the CLI and the daemon.
 */

/** At most this many characters of a value are echoed in a message. */
export const ECHO_MAX = 80;

/** `s` JSON-quoted, cut to `max` characters with the full length said: `"aaaa…" (10000 chars)`. */
export function quoteArg(s: string, max = ECHO_MAX): string {
  if (s.length <= max) return JSON.stringify(s);
  return `${JSON.stringify(s.slice(0, max))}… (${s.length} chars)`;
}

/** Like {@link quoteArg} without the quotes, for paths and names in running text: `aaaa… (10000 chars)`. */
export function capEcho(s: string, max = ECHO_MAX * 2): string {
  return s.length <= max ? s : `${s.slice(0, max)}… (${s.length} chars)`;
}
