/**
 * A small JSON Schema checker for the subset docs/api/openapi.yaml uses: $ref (local), type
 * (incl. "null", "integer"), required, properties, additionalProperties: false, items, enum,
 * oneOf, minimum/maximum, pattern. Returns the problems (empty: valid).
 */
export function check(spec: any, schema: any, value: unknown, at = '$'): string[] {
  if (schema.$ref) return check(spec, resolveRef(spec, schema.$ref), value, at);
  const out: string[] = [];
  if (schema.oneOf) {
    const ok = (schema.oneOf as any[]).filter((s) => check(spec, s, value, at).length === 0).length;
    if (ok !== 1) out.push(`${at}: matches ${ok} of oneOf`);
    return out;
  }
  if (schema.type) {
    const t = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
    const want = schema.type as string;
    const okType = want === t || (want === 'integer' && t === 'number' && Number.isInteger(value)) || (want === 'number' && t === 'number');
    if (!okType) return [`${at}: expected ${want}, got ${t}`];
  }
  if (schema.enum && !(schema.enum as unknown[]).includes(value)) out.push(`${at}: ${JSON.stringify(value)} not in ${JSON.stringify(schema.enum)}`);
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) out.push(`${at}: below ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) out.push(`${at}: above ${schema.maximum}`);
  }
  if (typeof value === 'string' && schema.pattern && !new RegExp(schema.pattern).test(value)) out.push(`${at}: does not match ${schema.pattern}`);
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    for (const r of schema.required ?? []) if (!(r in o)) out.push(`${at}: missing ${r}`);
    for (const [k, v] of Object.entries(o)) {
      const ps = schema.properties?.[k];
      if (ps) out.push(...check(spec, ps, v, `${at}.${k}`));
      else if (schema.additionalProperties === false) out.push(`${at}: unexpected property ${k}`);
    }
  }
  if (Array.isArray(value) && schema.items) value.forEach((v, i) => out.push(...check(spec, schema.items, v, `${at}[${i}]`)));
  return out;
}

export function resolveRef(spec: any, ref: string): any {
  if (!ref.startsWith('#/')) throw new Error(`non-local $ref ${ref}`);
  let node = spec;
  for (const part of ref.slice(2).split('/')) {
    node = node?.[part];
    if (node === undefined) throw new Error(`unresolved $ref ${ref}`);
  }
  return node;
}

/** Every $ref in the document. */
export function refs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const n of node) refs(n, out);
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refs(v, out);
    }
  }
  return out;
}
