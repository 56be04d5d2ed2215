/**
 * Duplicate keys in a request body: `{"action":"hot-detach","action":"hot-attach"}` is refused
 * (as serde and Firecracker refuse it), never read last-wins. RFC 8259 §4 leaves such an object's
 * meaning undefined; a proxy or a client library that reads it first-wins would see another request.
 *
 * Cheap on the hot path: {@link keyColons} counts the keys in the text — the `:` outside strings,
 * jumping from quote to quote with `indexOf` — and the caller compares that with the keys of the
 * parsed value, which it walks anyway. They differ only when some object repeats a key; then (and
 * only then) {@link findDuplicateKey} scans the text once more to name the first repeated key and
 * where it is.
 */
import { DuplicateKeyError } from './errors.js';

/** How many `:` the JSON text `text` has outside its strings: one per key (valid JSON only). */
export function keyColons(text: string): number {
  let n = 0;
  let i = 0;
  // the next ':' at or after i (-1: none left), kept across strings: each search starts past the
  // last one found, so the text is read about twice in all, never once per string
  let c = text.indexOf(':');
  for (;;) {
    const q = text.indexOf('"', i);
    const end = q < 0 ? text.length : q;
    if (c >= 0 && c < i) c = text.indexOf(':', i); // that one was inside a string
    while (c >= 0 && c < end) {
      n++;
      c = text.indexOf(':', c + 1);
    }
    if (q < 0) return n;
    i = stringEnd(text, q) + 1;
  }
}

/** Index of the quote closing the string that opens at `q`. */
function stringEnd(text: string, q: number): number {
  let e = q;
  for (;;) {
    e = text.indexOf('"', e + 1);
    if (e < 0) return text.length;
    let bs = 0;
    while (text.charCodeAt(e - 1 - bs) === 0x5c) bs++;
    if (bs % 2 === 0) return e; // an even run of backslashes escapes itself, not the quote
  }
}

/** `body.action`, `body.Endpoints[0]["odd key"]`. */
function step(key: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

interface Frame {
  path: string;
  /** An object's keys so far; an array: null. */
  keys: Set<string> | null;
  index: number;
  /** The key just read, waiting for its value. */
  pending?: string;
}

/**
 * Throw {@link DuplicateKeyError} for the first key `text` (valid JSON) repeats within one object,
 * comparing keys by value (`"a"` and `"\u0061"` are the same key).
 */
export function findDuplicateKey(text: string): void {
  const stack: Frame[] = [];
  const childPath = (): string => {
    const top = stack[stack.length - 1];
    if (!top) return 'body';
    return top.keys ? top.path + step(top.pending ?? '') : `${top.path}[${top.index}]`;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '{' || ch === '[') stack.push({ path: childPath(), keys: ch === '{' ? new Set() : null, index: 0 });
    else if (ch === '}' || ch === ']') stack.pop();
    else if (ch === ',') {
      const top = stack[stack.length - 1];
      if (top && !top.keys) top.index++;
    } else if (ch === '"') {
      const e = stringEnd(text, i);
      const top = stack[stack.length - 1];
      let j = e + 1;
      while (j < text.length && (text[j] === ' ' || text[j] === '\t' || text[j] === '\n' || text[j] === '\r')) j++;
      if (top?.keys && text[j] === ':') {
        const key = JSON.parse(text.slice(i, e + 1)) as string;
        if (top.keys.has(key)) throw new DuplicateKeyError(key, top.path + step(key));
        top.keys.add(key);
        top.pending = key;
      }
      i = e;
    }
  }
}
