/**
 * `tapstate serve`: one daemon per host. HTTP/1.1 + JSON on a unix socket only (never TCP):
 * the socket is created 0600 (0660 with a group), every connection's peer is checked with
 * SO_PEERCRED, bodies are size-limited, slow or idle connections time out. Stores are opened
 * (and recovered) at start; a request for a sandbox waits until its store is recovered.
 * Operations are never tied to a connection: a client that goes away does not cancel them.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { makeDirs, removeMadeDirs } from '../fs/make-dirs.js';
import { HeadersTooLargeError, MalformedRequestError, MethodNotAllowedError, PeerRejectedError, RequestTimeoutError, SocketPathError, TooManyConnectionsError } from './errors.js';
import { checkLimits, StreamSlots, type Limits } from './limits.js';
import { toApiError } from './api-error.js';
import { sendError, sendJson, readJson } from './http-io.js';
import { peerAllowed, peerCred, socketFd, type PeerPolicy } from './peer-cred.js';
import { routes } from './handlers.js';
import { Router } from './routes.js';
import { requestTarget } from './request-target.js';
import { Sandboxes } from './sandboxes.js';
import { adapterKind } from '../cli/open-store.js';
import { SUN_PATH_MAX } from '../cli/commands/init.js';

export interface DaemonOptions {
  socketPath: string;
  stateDir: string;
  /** Group allowed to connect (socket 0660, owned by it). Default: none (socket 0600). */
  gid?: number;
  /** Max request body, bytes (default 1 MiB). */
  maxBodyBytes?: number;
  /** A request's headers must arrive within this (default 10 s). */
  headersTimeoutMs?: number;
  /** A whole request (headers + body) must arrive within this (default 30 s). */
  requestTimeoutMs?: number;
  /** An idle keep-alive connection is closed after this (default 5 s). */
  idleTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /**
   * How far (bytes not yet taken by the reader) an event stream may fall behind the live records
   * before it is disconnected (default 8 MiB). The backlog a `?since=` asks for is sent as fast as
   * the reader takes it, whatever its size.
   */
  eventsBehindBytes?: number;
  /**
   * Connections served at once (default 256): one more gets `503 too_many_connections` and is
   * closed, the others untouched. A connection refused by the peer check does not count.
   */
  maxConnections?: number;
  /** Event streams open at once, all sandboxes together (default 64): one more is `503 too_many_event_streams`. */
  maxEventStreams?: number;
  /** Run the Linux netlink adapter on a thread of its own (default: on the event loop, as the library does; docs/serve.md). */
  netlinkThread?: boolean;
  /** Called with one line per notable event (start, peer rejected, errors). */
  log?: (line: string) => void;
}

export class Daemon {
  readonly sandboxes: Sandboxes;
  private readonly server: http.Server;
  /** The listener: admits a connection to the HTTP server only after its peer check. */
  private readonly listener: net.Server;
  private readonly router = new Router(routes);
  private readonly policy: PeerPolicy;
  private readonly startedAt = Date.now();
  private readonly sockets = new Set<net.Socket>();
  /** The socket's missing parent directories that listen() made. */
  private socketDirsMade: string[] = [];
  private readonly limits: Limits;
  private readonly streamSlots: StreamSlots;
  /** When a refused connection was last logged (at most one line a second in a flood). */
  private refusedLoggedAt = 0;
  private refusedSinceLog = 0;

  private constructor(private readonly opts: DaemonOptions) {
    // every limit checked before anything is created
    this.limits = checkLimits(opts);
    this.streamSlots = new StreamSlots(this.limits.maxEventStreams);
    // bind() would take a longer path cut to sun_path's 107 bytes (a socket at another name): refused before anything is created
    const sock = path.resolve(opts.socketPath);
    const bytes = Buffer.byteLength(sock);
    if (bytes > SUN_PATH_MAX) throw new SocketPathError(sock, `is ${bytes} bytes (absolute), longer than a unix socket address allows (sun_path: ${SUN_PATH_MAX} bytes + NUL)`);
    const env = opts.env ?? process.env;
    this.sandboxes = new Sandboxes(path.resolve(opts.stateDir), env, { netlinkThread: opts.netlinkThread === true });
    this.policy = { uid: process.geteuid?.() ?? 0, ...(opts.gid !== undefined ? { gid: opts.gid } : {}) };
    const headersTimeout = this.limits.headersTimeoutMs;
    this.server = http.createServer(
      {
        headersTimeout,
        requestTimeout: Math.max(this.limits.requestTimeoutMs, headersTimeout),
        keepAliveTimeout: this.limits.idleTimeoutMs,
        connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeout / 4))),
      },
      (req, res) => void this.handle(req, res),
    );
    // no socket inactivity timeout: a long operation's reply must not be cut; slow requests and idle
    // keep-alive connections are bounded by headersTimeout / requestTimeout / keepAliveTimeout
    this.server.timeout = 0;
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => clientError(err, socket));
    // CONNECT is not a request node hands to the handler: without this, the connection just dropped
    this.server.on('connect', (req: http.IncomingMessage, socket: net.Socket) =>
      endWithError(socket, new MethodNotAllowedError(req.method ?? 'CONNECT', req.url ?? '', ['GET', 'PUT', 'POST', 'DELETE'])),
    );
    this.listener = net.createServer({ pauseOnConnect: true }, (socket) => this.admit(socket));
  }

  /**
   * Listen, then open (and recover) every store under the state dir. Health and version answer
   * at once; a request for a sandbox waits until its store is recovered.
   */
  static async start(opts: DaemonOptions): Promise<Daemon> {
    const d = new Daemon(opts);
    try {
      await d.listen();
    } catch (e) {
      // not started (a file at --socket, another daemon there): nothing left behind, not even the state dir it made
      removeMadeDirs([...d.sandboxes.made, ...d.socketDirsMade]);
      throw e;
    }
    await d.sandboxes.openAll();
    return d;
  }

  private log(line: string): void {
    this.opts.log?.(line);
  }

  private admit(socket: net.Socket): void {
    socket.on('error', () => {});
    let cred;
    try {
      cred = peerCred(socketFd(socket));
    } catch (e) {
      this.log(`rejecting a connection: ${(e as Error).message}`);
      socket.destroy();
      return;
    }
    if (!peerAllowed(cred, this.policy)) {
      this.log(`rejecting peer pid ${cred.pid} uid ${cred.uid} gid ${cred.gid}`);
      const err = new PeerRejectedError(cred.uid, cred.gid);
      const body = JSON.stringify({ error: { type: err.name, code: 'peer_rejected', message: err.message, uid: cred.uid, gid: cred.gid } });
      socket.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
      socket.resume();
      return;
    }
    if (this.sockets.size >= this.limits.maxConnections) {
      this.refuse(socket);
      return;
    }
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    this.server.emit('connection', socket);
    socket.resume();
  }

  /** Over `maxConnections`: one `503` in the envelope, then the connection is closed (at the latest after 1 s, read or not). */
  private refuse(socket: net.Socket): void {
    this.refusedSinceLog++;
    const now = Date.now();
    if (now - this.refusedLoggedAt >= 1000) {
      this.log(`refused ${this.refusedSinceLog} connection(s): ${this.sockets.size} open, --max-connections ${this.limits.maxConnections}`);
      this.refusedLoggedAt = now;
      this.refusedSinceLog = 0;
    }
    endWithError(socket, new TooManyConnectionsError(this.limits.maxConnections));
    socket.resume(); // read (and drop) what it sent, so that its close completes
    setTimeout(() => socket.destroy(), 1000).unref();
  }

  private async listen(): Promise<void> {
    const p = path.resolve(this.opts.socketPath);
    this.socketDirsMade = makeDirs(path.dirname(p), 0o755);
    // a stale socket of a dead daemon: remove it (a live one answers, and we refuse to start)
    if (fs.existsSync(p)) {
      if (!fs.lstatSync(p).isSocket()) throw new SocketPathError(p, 'exists and is not a socket');
      if (await answers(p)) throw new SocketPathError(p, 'another daemon is listening there');
      fs.rmSync(p);
    }
    const mode = this.opts.gid !== undefined ? 0o660 : 0o600;
    const old = process.umask(0o777 & ~mode); // created with the right mode: no window where it is wider
    try {
      await new Promise<void>((resolve, reject) => {
        this.listener.once('error', reject);
        this.listener.listen(p, () => {
          this.listener.off('error', reject);
          resolve();
        });
      });
    } finally {
      process.umask(old);
    }
    // node:http starts its slow-request checks (headersTimeout, requestTimeout) on 'listening'; the
    // net listener in front of it listens instead, so tell it
    this.server.emit('listening');
    if (this.opts.gid !== undefined) fs.chownSync(p, -1 as unknown as number, this.opts.gid);
    fs.chmodSync(p, mode);
    this.log(`listening on ${p} (mode ${mode.toString(8)}${this.opts.gid !== undefined ? `, group ${this.opts.gid}` : ''})`);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const limit = this.limits.maxBodyBytes;
    try {
      const { pathname, query } = requestTarget(req.url ?? '/');
      const { route, params } = this.router.match(req.method ?? 'GET', pathname);
      let parsed: Promise<Record<string, unknown>> | undefined;
      const reply = await route.handler({
        req,
        res,
        params,
        query,
        sandboxes: this.sandboxes,
        body: () => (parsed ??= readJson(req, limit)),
        startedAt: this.startedAt,
        adapters: adapterKind(this.opts.env ?? process.env),
        eventsBehindBytes: this.limits.eventsBehindBytes,
        streamSlots: this.streamSlots,
      });
      // a body nobody asked for is still bounded
      if (!parsed && !req.complete) await readJson(req, limit).catch(() => undefined);
      if (reply) {
        if (reply.status === 204) {
          res.writeHead(204, { ...reply.headers, ...unread(req) });
          res.end();
        } else sendJson(res, reply.status, reply.body, { ...reply.headers, ...unread(req) });
      }
    } catch (e) {
      if (!res.headersSent) sendError(res, e, unread(req));
      else res.destroy();
    }
  }

  /** Stop listening, let running requests finish (operations are never cut), close every store, then the connections. */
  async close(): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.listener.close(() => resolve()));
    this.server.closeIdleConnections();
    await this.sandboxes.close(); // waits for running operations, ends event streams
    await new Promise((r) => setTimeout(r, 20)); // their replies are written
    for (const s of this.sockets) s.destroy();
    this.server.close();
    await stopped;
  }
}

/**
 * A reply sent before the request's body was all read (an error before the handler read it, or a
 * body over the limit) closes the connection: node would otherwise read and discard the rest to
 * keep the connection alive — any length, for as long as --request-timeout-ms allows.
 */
function unread(req: http.IncomingMessage): Record<string, string> {
  return req.complete ? {} : { connection: 'close' };
}

/**
 * What node's HTTP parser refused (or a request that did not arrive in time): the API's error
 * envelope, as for any other bad input, instead of node's bare `400`/`431`/`408`; then the
 * connection is closed (node's parser cannot go on after an error).
 */
function clientError(err: NodeJS.ErrnoException, socket: net.Socket): void {
  // a reply still owed to an earlier (pipelined) request on this connection: an error written now
  // would be read as that request's reply (a running hot-attach "refused" with a 400). Hang up instead.
  // (A pending reply whose own request is still arriving — a bad chunk in its body — is this error's.)
  const pending = (socket as unknown as { _httpMessage?: http.ServerResponse })._httpMessage;
  const earlier = pending !== undefined && pending !== null && (pending.headersSent || pending.req?.complete !== false);
  if (err.code === 'ECONNRESET' || !socket.writable || earlier) {
    socket.destroy();
    return;
  }
  const e =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? new HeadersTooLargeError()
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new RequestTimeoutError()
        : new MalformedRequestError(err.code ?? 'unknown', err.message.replace(/^Parse Error: /, ''));
  endWithError(socket, e);
}

/** Write the error's reply on a raw socket (no ServerResponse there) and close it. */
function endWithError(socket: net.Socket, e: Error): void {
  const { status, body } = toApiError(e);
  const text = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Error'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
  );
}

/** Does something accept connections on the unix socket `p`? */
function answers(p: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.request({ socketPath: p, path: '/v1/health', timeout: 1000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(true);
    });
    req.end();
  });
}
