/**
 * Echoing user input back in an error message, capped: a 10,000-character argument must not
 * become a 10,000-character error line. Pure.
 */

export { ECHO_MAX, capEcho, quoteArg } from '../../machines/echo.js';

/** The longest error line the CLI prints; a longer message is cut (the full one is in --verbose). */
export const ERROR_LINE_MAX = 1000;

/**
 * `s` with every control character (C0 but tab, DEL, C1) written `\u00NN`: a link name from a
 * sandbox's netns (`scan`), an endpoint's `ifName`, an id or a path echoed on a terminal cannot
 * carry escape sequences (`\x1b]0;…\x07` retitling the window, `\x1b[2J`, `\r` overwriting the
 * line). `\u00NN` is also a valid escape inside a JSON string, so JSON output stays JSON.
 * `keepNewlines`: for multi-line output.
 */
export function escapeControls(s: string, keepNewlines = false): string {
  // eslint-disable-next-line no-control-regex
  const re = keepNewlines ? /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g : /[\x00-\x08\x0a-\x1f\x7f-\x9f]/g;
  return s.replace(re, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
