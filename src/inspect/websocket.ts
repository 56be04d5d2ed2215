/**
 * The live hookup for XState inspection (`tapstate inspect`): a small HTTP + WebSocket server
 * that *pushes* inspection events to its clients — the Stately inspector page it serves at
 * `http://HOST:PORT`, or any WebSocket client (e.g. `createWebSocketReceiver` from
 * `@statelyai/inspect`). Events are converted by `createInspector` from `@statelyai/inspect` and
 * sent as JSON text frames, the format of its `createWebSocketInspector`.
 *
 * What it exposes is the store's history (MACs, netns paths, errors), so (docs/security.md):
 * - it listens on loopback (`127.0.0.1`) unless the caller passes another host explicitly;
 * - a WebSocket upgrade carrying an `Origin` header is accepted only from the page it serves
 *   (`http://localhost:PORT`, `http://127.0.0.1:PORT`, `http://[::1]:PORT`, or `http://HOST:PORT`
 *   for an explicit host) or an origin the caller allows; other origins get 403. Clients without
 *   an `Origin` (non-browser tools) are accepted;
 * - on loopback the `Host` header must name a loopback host too (DNS rebinding);
 * - clients are read-only: what they send is dropped, never relayed to other clients;
 * - a port in use (or any listen failure) rejects `listening` with a typed
 *   {@link InspectorListenError}, never an unhandled `error` event.
 * The last {@link REPLAY_BUFFER} events are kept for clients that connect late.
 *
 * `@statelyai/inspect` is an optional peer dependency: it is imported here, dynamically, only
 * when a live inspection starts; without it {@link InspectorMissingError} says how to get it.
 * `ws` (the server side of the WebSocket protocol) is a dependency of tapstate, loaded on use.
 */
import * as http from 'node:http';
import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';
import type { InspectionEvent, Observer } from 'xstate';
import { TapstateError } from '../../machines/tapstate-error.js';

/**
 * The part of `@statelyai/inspect` this file uses, written out structurally: the published
 * declarations must type-check without the optional peer installed (no `import('@statelyai/inspect')` type).
 */
export interface InspectorModules {
  createInspector: (adapter: { send(event: never): void }) => { inspect: unknown };
}

/** The optional peer dependency `@statelyai/inspect` is not installed. */
export class InspectorMissingError extends TapstateError {
  override readonly name = 'InspectorMissingError';
  readonly code = 'INSPECTOR_MISSING';
  readonly dependency = '@statelyai/inspect';
  constructor(cause: unknown) {
    super('the live inspector needs the optional peer dependency @statelyai/inspect: npm install @statelyai/inspect (or use tapstate inspect --json, or tapstate view)', { cause });
  }
}

/** Import `@statelyai/inspect`. */
export async function loadInspectorModules(): Promise<InspectorModules> {
  const m = await import('@statelyai/inspect');
  return { createInspector: (adapter) => m.createInspector(adapter as Parameters<typeof m.createInspector>[0]) };
}

/** Events kept for clients that connect late. */
export const REPLAY_BUFFER = 10_000;
/**
 * A client with more than this queued and not read is cut off (it may reconnect and gets the
 * replay buffer again): a client that never reads made the relay hold every event for it, without
 * bound (100,000 events queued 115 MB for one such client).
 */
export const MAX_CLIENT_BACKLOG = 16 << 20;

/** The inspector could not listen (port in use, address not available, permission). */
export class InspectorListenError extends TapstateError {
  override readonly name = 'InspectorListenError';
  readonly code = 'INSPECTOR_LISTEN';
  constructor(
    readonly host: string,
    readonly port: number,
    /** The errno name (`EADDRINUSE`, …). */
    readonly errno: string,
  ) {
    const why =
      errno === 'EADDRINUSE'
        ? 'is in use by another process: choose another --port'
        : errno === 'EADDRNOTAVAIL'
          ? 'is not an address of this host: check --listen'
          : errno === 'EACCES'
            ? 'needs privileges to listen on: choose a port above 1023'
            : 'cannot be listened on';
      super(`${host.includes(':') ? `[${host}]` : host}:${port} ${why} (${errno})`);
  }
}

/** Options of {@link startWebSocketInspection}. */
export interface WebSocketInspectionOptions {
  /** Address to listen on (default `127.0.0.1`). Anything else exposes the history to that network. */
  host?: string;
  /** Extra `Origin` values allowed to connect (exact match, e.g. `https://stately.ai`). */
  allowOrigins?: readonly string[];
  /** How `@statelyai/inspect` is imported (default {@link loadInspectorModules}; tests inject a failing one). */
  load?: () => Promise<InspectorModules>;
}

/** A running server plus the inspector feeding it. */
export interface WebSocketInspection {
  /** Give this to `Tapstore.open({ inspect })` or `replayIntoInspector`. */
  inspect: Observer<InspectionEvent>;
  /** `ws://HOST:PORT` */
  url: string;
  /** Resolves once the server listens; rejects with {@link InspectorListenError}. */
  listening: Promise<void>;
  /** Same as `listening` (kept for callers of the earlier API). */
  connected: Promise<void>;
  /** Connections refused so far (bad Origin or Host). */
  readonly refused: number;
  stop(): void;
}

/** The few parts of the `ws` package used here (it ships no types of its own). */
interface WsClient {
  readyState: number;
  /** Bytes queued for this client and not yet written to its socket. */
  bufferedAmount: number;
  send(data: string): void;
  on(ev: 'message' | 'error' | 'close', fn: (...a: unknown[]) => void): void;
  terminate(): void;
}
interface WsServer {
  clients: Set<WsClient>;
  handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, cb: (ws: WsClient) => void): void;
  on(ev: 'error', fn: (e: unknown) => void): void;
  close(): void;
}
const OPEN = 1;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** `host` without a port: `localhost:8080` → `localhost`, `[::1]:8080` → `[::1]`. */
function hostOnly(h: string): string {
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  return h.replace(/:\d+$/, '');
}

function bridgeHtml(wsUrl: string): string {
  return `<!DOCTYPE html>
<html><head><title>tapstate inspector</title>
<style>* { margin: 0; padding: 0; } html, body { height: 100%; } iframe { width: 100%; height: 100%; border: none; }</style>
</head><body>
<iframe id="inspector" src="https://stately.ai/inspect"></iframe>
<script>
  const iframe = document.getElementById('inspector');
  const buffer = [];
  let connected = false;
  window.addEventListener('message', (e) => {
    if (e.data && e.data.type === '@statelyai.connected') {
      connected = true;
      buffer.forEach((ev) => iframe.contentWindow.postMessage(ev, '*'));
      buffer.length = 0;
    }
  });
  const ws = new WebSocket(${JSON.stringify(wsUrl)}.replace('HOST', location.host));
  ws.onmessage = (event) => {
    const data = JSON.parse(event.data);
    if (connected) iframe.contentWindow.postMessage(data, '*');
    else buffer.push(data);
  };
</script>
</body></html>`;
}

/**
 * Start the server on `host:port` (default loopback) and return an inspector feeding it. Never
 * opens a browser. Rejects with {@link InspectorMissingError} when `@statelyai/inspect` is not
 * installed; a listen failure rejects `listening` (not this promise).
 */
export async function startWebSocketInspection(port: number, opts: WebSocketInspectionOptions = {}): Promise<WebSocketInspection> {
  let mods: InspectorModules;
  try {
    mods = await (opts.load ?? loadInspectorModules)();
  } catch (e) {
    if ((e as { code?: string })?.code === 'ERR_MODULE_NOT_FOUND') throw new InspectorMissingError(e);
    throw e;
  }
  const { createInspector } = mods;
  const host = opts.host ?? '127.0.0.1';
  const loopback = LOOPBACK.has(host);
  const hostInUrl = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const origins = new Set([
    `http://localhost:${port}`,
    `http://127.0.0.1:${port}`,
    `http://[::1]:${port}`,
    `http://${hostInUrl}:${port}`,
    ...(opts.allowOrigins ?? []),
  ]);
  const { WebSocketServer } = createRequire(import.meta.url)('ws') as { WebSocketServer: new (o: object) => WsServer };
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 });
  wss.on('error', () => {});
  const buffer: string[] = [];
  let refused = 0;

  const server = http.createServer((req, res) => {
    if (loopback && !LOOPBACK.has(hostOnly(req.headers.host ?? ''))) {
      refused++;
      res.writeHead(403, { 'Content-Type': 'text/plain' }).end('forbidden: Host\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', 'X-Frame-Options': 'DENY' });
    res.end(bridgeHtml('ws://HOST'));
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    const origin = req.headers.origin;
    const hostOk = !loopback || LOOPBACK.has(hostOnly(req.headers.host ?? ''));
    if (!hostOk || (origin !== undefined && !origins.has(origin))) {
      refused++;
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', () => {});
      ws.on('message', () => {}); // read-only: a client's messages go nowhere
      for (const m of buffer) ws.send(m);
      wss.clients.add(ws);
    });
  });
  const listening = new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new InspectorListenError(host, port, e.code ?? 'unknown')));
    server.listen(port, host, () => resolve());
  });
  listening.catch(() => {}); // the caller awaits it; never an unhandled rejection
  server.on('error', () => {}); // later errors (after listening) are per-connection and ignored

  const send = (event: unknown) => {
    let msg: string;
    try {
      msg = JSON.stringify(event);
    } catch {
      return; // not serialisable: the inspector shows nothing for it
    }
    buffer.push(msg);
    if (buffer.length > REPLAY_BUFFER) buffer.shift();
    for (const c of wss.clients) {
      if (c.readyState !== OPEN) continue;
      if (c.bufferedAmount > MAX_CLIENT_BACKLOG) c.terminate();
      else c.send(msg);
    }
  };
  const inspector = createInspector({ send });
  return {
    inspect: inspector.inspect as Observer<InspectionEvent>,
    url: `ws://${hostInUrl}:${port}`,
    listening,
    connected: listening,
    get refused() {
      return refused;
    },
    stop() {
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.close();
      server.closeAllConnections?.();
    },
  };
}
