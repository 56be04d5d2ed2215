/**
 * A request's target (`req.url`) → the path the router matches, and the query. The path is taken
 * as sent, never normalised: `/v1/sandboxes/sb1/endpoints/..` (or `%2e%2e`) is endpoint `..` of
 * sb1 — unknown — never `GET /v1/sandboxes/sb1`, as WHATWG URL resolution would make it. A target
 * that is not a path (`*`, an absolute URL that does not parse) is a {@link RequestFieldError}.
 */
import { RequestFieldError } from './errors.js';

/** `http://host` (absolute-form, RFC 9112 §3.2.2): the scheme and authority before the path. */
const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/;

export function requestTarget(raw: string): { pathname: string; query: URLSearchParams } {
  let target = raw;
  if (!target.startsWith('/')) {
    const m = ABSOLUTE_FORM.exec(target);
    if (!m) throw new RequestFieldError('url', 'origin-form', `the request target must be a path starting with "/" (got ${JSON.stringify(raw.slice(0, 200))})`);
    try {
      new URL(target); // an authority that does not parse (http://[) is bad input too
    } catch {
      throw new RequestFieldError('url', 'syntax', `the request target is not a valid URL (got ${JSON.stringify(raw.slice(0, 200))})`);
    }
    target = target.slice(m[0].length) || '/';
  }
  const hash = target.indexOf('#');
  if (hash >= 0) target = target.slice(0, hash);
  const q = target.indexOf('?');
  return q < 0 ? { pathname: target, query: new URLSearchParams() } : { pathname: target.slice(0, q), query: new URLSearchParams(target.slice(q + 1)) };
}
