/** Reading a size-limited JSON request body and writing JSON replies. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BadJsonError, BodyTooLargeError } from './errors.js';
import { toApiError } from './api-error.js';
import { findDuplicateKey, keyColons } from './duplicate-keys.js';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Read the whole body (at most `limit` bytes: beyond, {@link BodyTooLargeError}) and parse it as a JSON object. Empty → `{}`. */
export async function readJson(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new BodyTooLargeError(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new BodyTooLargeError(limit);
    chunks.push(chunk);
  }
  if (size === 0) return {};
  const type = String(req.headers['content-type'] ?? 'application/json');
  if (!/^application\/(json|[a-z.+-]*\+json)\b/i.test(type)) throw new BadJsonError(`content-type must be application/json (got ${type})`);
  let text: string;
  try {
    // fatal: invalid UTF-8 is refused, never silently turned into U+FFFD and stored
    text = utf8.decode(Buffer.concat(chunks));
  } catch {
    throw new BadJsonError('body is not valid UTF-8');
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new BadJsonError(`body is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new BadJsonError('body must be a JSON object');
  const keys = walk(v);
  if (keys < 0) throw new BadJsonError('body has a string with an unpaired UTF-16 surrogate (a lone \\uD800-\\uDFFF escape): not Unicode text');
  // fewer keys parsed than written: an object repeats one (JSON.parse kept the last)
  if (keys !== keyColons(text)) findDuplicateKey(text);
  return v as Record<string, unknown>;
}

/**
 * The number of keys of every object in `v`, or -1 if any string (key or value) holds an unpaired
 * UTF-16 surrogate. Iterative: any depth JSON.parse took.
 */
function walk(v: unknown): number {
  const lone = /\p{Surrogate}/u;
  const todo: unknown[] = [v];
  let keys = 0;
  while (todo.length) {
    const x = todo.pop();
    if (typeof x === 'string') {
      if (lone.test(x)) return -1;
    } else if (Array.isArray(x)) {
      for (const y of x) todo.push(y);
    } else if (typeof x === 'object' && x !== null) {
      for (const [k, y] of Object.entries(x)) {
        if (lone.test(k)) return -1;
        keys++;
        todo.push(y);
      }
    }
  }
  return keys;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, e: unknown, headers: Record<string, string> = {}): void {
  const { status, body } = toApiError(e);
  sendJson(res, status, body, status === 413 ? { connection: 'close', ...headers } : headers);
}
