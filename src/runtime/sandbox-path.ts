/**
 * One spelling per path of a sandbox config (`netnsPath`, `qmp`), so that the same namespace or
 * socket written twice is the same config: `/run/netns/a/`, `/run//netns/a` and `/run/./netns/a`
 * are `/run/netns/a`. These rewrites never change which file the kernel opens (a trailing `/` on
 * a namespace file or a socket only makes the open fail, ENOTDIR: the file is the one meaning).
 * A `..` segment is not rewritten: the kernel resolves it after following symlinks
 * (`/var/run/../x` is `/x` when /var/run → /run), so a lexical rewrite could name another file.
 * Where a path enters, {@link dotDotProblem} refuses it instead; a stored one is kept as written.
 */
import { quoteArg } from '../../machines/echo.js';

/** `p` with `//`, `/./` and a trailing `/` collapsed (`''` stays `''`, `/` stays `/`; `..` kept). */
export function normalPath(p: string): string {
  if (!p.startsWith('/')) return p;
  const parts = p.split('/').filter((s) => s !== '' && s !== '.');
  return '/' + parts.join('/');
}

/** Why `p` cannot be a sandbox path as written (a `..` segment), or `undefined`. */
export function dotDotProblem(p: string): string | undefined {
  if (!p.split('/').includes('..')) return undefined;
  return `must not contain a ".." segment (got ${quoteArg(p)}): the kernel resolves it after following symlinks, so give the path without it`;
}
