/**
 * The `--json` form of an error: `{"error":{"type","message",…}}` with the error's own typed
 * fields (`store`, `pid`, `kind`, `errno`, …), its cause as a nested `{type, message}`, and for a
 * usage error the command. Printed on stdout (the one-line form still goes to stderr).
 */

/** The JSON document of an error. */
export interface ErrorJson {
  error: { type: string; message: string; [field: string]: unknown };
}

function plain(v: unknown, depth: number): unknown {
  if (v instanceof Error) return depth > 3 ? { type: v.name, message: v.message } : errorFields(v, depth + 1);
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'function' || typeof v === 'symbol') return undefined;
  if (Array.isArray(v)) return v.map((x) => plain(x, depth + 1));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = plain(x, depth + 1);
    return out;
  }
  return v;
}

function errorFields(e: Error, depth: number): ErrorJson['error'] {
  const out: ErrorJson['error'] = { type: e.name, message: e.message.replace(/\s*\n\s*/g, ' ') };
  for (const [k, v] of Object.entries(e)) {
    if (k === 'stack' || k === 'message' || k === 'name' || k === 'type') continue;
    const p = plain(v, depth);
    if (p !== undefined) out[k] = p;
  }
  if (e.cause !== undefined) out['cause'] = e.cause instanceof Error ? { type: e.cause.name, message: e.cause.message } : plain(e.cause, depth);
  return out;
}

/** `{"error": {...}}` for any thrown value; `extra` fields (e.g. `command`) are added. */
export function errorJson(e: unknown, extra: Record<string, unknown> = {}): ErrorJson {
  const base = e instanceof Error ? errorFields(e, 0) : { type: 'Error', message: String(e) };
  return { error: { ...base, ...extra } };
}
