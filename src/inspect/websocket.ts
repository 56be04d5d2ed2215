/**
 * The live hookup for `@statelyai/inspect`: a local WebSocket relay (`createInspectorServer`,
 * from `@statelyai/inspect/server`) on a port, and a `createWebSocketInspector` connected to it
 * whose `inspect` observer can be given to a Tapstore or to {@link replayIntoInspector}. Any
 * WebSocket client connected to `ws://localhost:<port>` receives the inspection events as JSON
 * (the Stately inspector page at `http://localhost:<port>` embeds stately.ai/inspect, which
 * needs internet; `tapstate view` is the offline alternative). The relay keeps the last 200
 * events for viewers that connect late.
 *
 * `@statelyai/inspect` is an optional peer dependency: it is imported here, dynamically, only
 * when a live inspection starts; without it {@link InspectorMissingError} says how to get it.
 */
import type { InspectionEvent, Observer } from 'xstate';
import { TapstateError } from '../../machines/tapstate-error.js';

/** The two modules of `@statelyai/inspect` this file uses. */
export interface InspectorModules {
  createWebSocketInspector: typeof import('@statelyai/inspect').createWebSocketInspector;
  createInspectorServer: typeof import('@statelyai/inspect/server').createInspectorServer;
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

/** Import `@statelyai/inspect` (and its server part). */
export async function loadInspectorModules(): Promise<InspectorModules> {
  const [client, server] = await Promise.all([import('@statelyai/inspect'), import('@statelyai/inspect/server')]);
  return { createWebSocketInspector: client.createWebSocketInspector, createInspectorServer: server.createInspectorServer };
}

/** A running relay plus an inspector connected to it. */
export interface WebSocketInspection {
  /** Give this to `Tapstore.open({ inspect })` or `replayIntoInspector`. */
  inspect: Observer<InspectionEvent>;
  url: string;
  /** Resolves once the inspector's socket is open (events sent before are queued); rejects after 10 s. */
  connected: Promise<void>;
  stop(): void;
}

/**
 * Start the relay on `port` and connect an inspector to it. Never opens a browser. Rejects with
 * {@link InspectorMissingError} when `@statelyai/inspect` is not installed (`load`: tests).
 */
export async function startWebSocketInspection(port: number, load: () => Promise<InspectorModules> = loadInspectorModules): Promise<WebSocketInspection> {
  let mods: InspectorModules;
  try {
    mods = await load();
  } catch (e) {
    if ((e as { code?: string })?.code === 'ERR_MODULE_NOT_FOUND') throw new InspectorMissingError(e);
    throw e;
  }
  const { createInspectorServer, createWebSocketInspector } = mods;
  const server = createInspectorServer({ port, autoOpen: false });
  const url = `ws://localhost:${port}`;
  const inspector = createWebSocketInspector({ url, maxDeferredEvents: 1_000_000 });
  const connected = new Promise<void>((resolve, reject) => {
    const t0 = Date.now();
    const poll = setInterval(() => {
      if ((inspector.adapter as unknown as { status: string }).status === 'open') {
        clearInterval(poll);
        resolve();
      } else if (Date.now() - t0 > 10_000) {
        clearInterval(poll);
        reject(new Error(`could not connect an inspector to ${url} within 10 s (is port ${port} free?)`));
      }
    }, 20);
    poll.unref();
  });
  return {
    inspect: inspector.inspect,
    url,
    connected,
    stop() {
      inspector.stop();
      server.stop();
    },
  };
}
