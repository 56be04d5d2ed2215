/**
 * The API's routes: method, path template and handler. The OpenAPI spec
 * (docs/api/openapi.yaml) describes exactly these; a test checks both lists agree.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Sandboxes } from './sandboxes.js';
import type { StreamSlots } from './limits.js';
import { MethodNotAllowedError, RequestFieldError, RouteNotFoundError } from './errors.js';

/** What a handler gets. */
export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  sandboxes: Sandboxes;
  /** The parsed JSON body (size-limited). */
  body(): Promise<Record<string, unknown>>;
  /** When the daemon started (ms since the epoch). */
  startedAt: number;
  /** Which adapters the daemon uses. */
  adapters: 'real' | 'memory';
  /** How far (bytes) an event stream's reader may fall behind the live records before it is dropped. */
  eventsBehindBytes: number;
  /** The event streams open at once, all sandboxes together (at most --max-event-streams). */
  streamSlots: StreamSlots;
}

/** A JSON reply, or `undefined` when the handler wrote the response itself (streams, fd hand-over). */
export type Reply = { status: number; body: unknown; headers?: Record<string, string> } | undefined;

export interface Route {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  /** OpenAPI-style template: `/v1/sandboxes/{sandbox}`. */
  path: string;
  operationId: string;
  handler(ctx: RequestContext): Promise<Reply>;
}

interface Compiled {
  route: Route;
  re: RegExp;
  names: string[];
}

export class Router {
  private readonly compiled: Compiled[];
  constructor(readonly routes: readonly Route[]) {
    this.compiled = routes.map((r) => {
      const names: string[] = [];
      const src = r.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, (_m, n: string) => {
        names.push(n);
        return '([^/]+)';
      });
      return { route: r, re: new RegExp(`^${src}$`), names };
    });
  }

  /** The route and its decoded path parameters; RouteNotFoundError / MethodNotAllowedError otherwise. */
  match(method: string, pathname: string): { route: Route; params: Record<string, string> } {
    const allowed: string[] = [];
    for (const { route, re, names } of this.compiled) {
      const m = re.exec(pathname);
      if (!m) continue;
      if (route.method !== method) {
        allowed.push(route.method);
        continue;
      }
      const params: Record<string, string> = {};
      names.forEach((n, i) => {
        try {
          params[n] = decodeURIComponent(m[i + 1]!);
        } catch {
          throw new RequestFieldError(n, 'encoding', `path segment ${JSON.stringify(m[i + 1])} is not valid percent-encoded UTF-8`);
        }
      });
      return { route, params };
    }
    if (allowed.length) throw new MethodNotAllowedError(method, pathname, allowed);
    throw new RouteNotFoundError(method, pathname);
  }
}
