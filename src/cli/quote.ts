/**
 * Echoing user input back in an error message, capped: a 10,000-character argument must not
 * become a 10,000-character error line. Pure.
 */

/** At most this many characters of an argument are echoed. */
export const ECHO_MAX = 80;

/** `s` JSON-quoted, cut to {@link ECHO_MAX} characters with the full length said: `"aaaa…" (10000 chars)`. */
export function quoteArg(s: string, max = ECHO_MAX): string {
  if (s.length <= max) return JSON.stringify(s);
  return `${JSON.stringify(s.slice(0, max))}… (${s.length} chars)`;
}

/** Like {@link quoteArg} without the quotes, for paths and names in running text. */
export function capEcho(s: string, max = ECHO_MAX * 2): string {
  return s.length <= max ? s : `${s.slice(0, max)}… (${s.length} chars)`;
}

/** The longest error line the CLI prints; a longer message is cut (the full one is in --verbose). */
export const ERROR_LINE_MAX = 1000;
