/** The API's handlers, in the order of the route table ({@link routes}). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { EndpointCommand } from '../../machines/index.js';
import { EndpointOperationError } from '../runtime/errors.js';
import type { EndpointView } from '../runtime/tapstore.js';
import { viewOfSnapshotRecord } from '../runtime/endpoint-view.js';
import type { LogRecord, SnapshotRecord } from '../log/records.js';
import { toApiError } from './api-error.js';
import { FdHandoverError, IdempotencyKeyReusedError, OperationInterruptedError, RequestFieldError } from './errors.js';
import { handoverArgs, openTapQueues, openVhostFds, sendResponseWithFds } from './fd-handover.js';
import { closeFd } from '../qemu/scm-rights.js';
import { validKey, type StoredReply } from './idempotency.js';
import type { Reply, RequestContext, Route } from './routes.js';
import * as v from './validate.js';
import { quoteArg } from '../../machines/echo.js';

/** This package's version: the nearest package.json above this module (src/ or dist/src/). */
const pkg = ((): { version: string } => {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const f = path.join(dir, 'package.json');
    if (fs.existsSync(f)) return JSON.parse(fs.readFileSync(f, 'utf8')) as { version: string };
  }
  return { version: 'unknown' };
})();

const ok = (body: unknown, status = 200): Reply => ({ status, body });

/**
 * The daemon's event-loop delay, reported by health (since start, or since the last `?reset=1`).
 * Sampled every 20 ms: a 1 ms timer woke the idle daemon ~700 times a second (~2.5 % of a core).
 */
const loopDelay = monitorEventLoopDelay({ resolution: 20 });
loopDelay.enable();
const ms = (ns: number): number => Number((ns / 1e6).toFixed(3));

/** A query parameter given at most once (`?since=1&since=9` is ambiguous: refused). */
function queryOne(ctx: RequestContext, name: string): string | null {
  const all = ctx.query.getAll(name);
  if (all.length > 1) throw new RequestFieldError(name, 'single', `must be given at most once (got ${all.length} values)`);
  return all[0] ?? null;
}

async function open(ctx: RequestContext) {
  const sb = ctx.sandboxes.get(v.sandboxId(ctx.params.sandbox!));
  return { sb, s: await sb.ready() };
}

function statusOf(views: readonly EndpointView[]) {
  return { inDoubt: views.filter((e) => e.status === 'in-doubt').length, endpoints: views };
}

const COMMAND: Record<v.Action, EndpointCommand['type']> = {
  'hot-attach': 'HOT_ATTACH',
  'hot-detach': 'HOT_DETACH',
  attach: 'ATTACH',
  detach: 'DETACH',
  cleanup: 'CLEANUP',
};
/** Where an action leaves the endpoint when it succeeds. */
const TARGET: Record<v.Action, readonly string[]> = {
  'hot-attach': ['hotAttached'],
  attach: ['attached'],
  'hot-detach': ['detached'],
  detach: ['detached'],
  cleanup: ['created', 'detached'],
};

/**
 * Where the action of a key that a dead daemon started left its endpoint. A detach that ended
 * (recovery may have finished it) retired the endpoint: its final view is read back from the
 * log — the `snapshot` record of its end, after `since` (the endpoint's last record when the key
 * started) — so the retry gets the whole Endpoint the first reply was, even once the id has been
 * reused by a new endpoint. Else the endpoint as it is now; a retired one whose records retention
 * has removed reads as `{id, state: 'detached'}`.
 */
function interruptedOutcome(s: Awaited<ReturnType<typeof open>>['s'], ep: string, since: number | undefined): EndpointView | { id: string; state: string } {
  const live = s.store.list().find((x) => x.id === ep);
  const ended = (r: LogRecord): r is SnapshotRecord => r.k === 'snapshot' && r.ep === ep && r.snapshot.status === 'done';
  if (since === undefined) {
    // a key written before `since` was kept: a live endpoint as it is, a retired one's newest end
    if (live) return live;
    const end = s.recordsAfter(0).filter(ended).pop();
    return end ? viewOfSnapshotRecord(end) : { id: ep, state: 'detached' };
  }
  // nothing journaled for the endpoint since the key started: the action never ran
  if (live && live.lastSeq <= since) return live;
  // the first end of `ep` after the key started is this action's endpoint's (ids are unique among live endpoints)
  const end = s.recordsAfter(since).find(ended);
  if (end) return viewOfSnapshotRecord(end);
  return live ?? { id: ep, state: 'detached' };
}

async function runAction(ctx: RequestContext): Promise<Reply> {
  const { sb, s } = await open(ctx);
  const ep = ctx.params.endpoint!;
  const action = v.action(await ctx.body());
  const run = async (): Promise<StoredReply & { ran: boolean }> => {
    try {
      return { status: 200, body: await s.store.send(ep, { type: COMMAND[action] } as EndpointCommand), ran: true };
    } catch (e) {
      return { ...toApiError(e), ran: e instanceof EndpointOperationError };
    }
  };
  const keyHeader = ctx.req.headers['idempotency-key'];
  if (keyHeader === undefined) {
    s.store.get(ep); // unknown → 404
    return await run();
  }
  const key = String(keyHeader);
  if (!validKey(key)) throw new RequestFieldError('Idempotency-Key', 'pattern', 'must be 1..128 printable ASCII characters');
  const keys = sb.keys!;
  const fp = `${ep} ${action}`;
  const seen = keys.lookup(key);
  // a key already seen is answered first: a detach's endpoint is retired afterwards (unknown), and
  // its retried request must still get its recorded reply
  const before = seen ? undefined : s.store.get(ep); // unknown → 404 before any key is recorded
  if (seen) {
    if (seen.fp !== fp) throw new IdempotencyKeyReusedError(key, seen.fp);
    const replay = { 'idempotent-replayed': 'true' };
    if (seen.running) return { ...(await seen.running), headers: replay };
    if (seen.done) return { ...seen.done, headers: replay };
    // started by a daemon that died: recovery has settled the endpoint since (a detached one retired)
    const view = interruptedOutcome(s, ep, seen.since);
    const reply: StoredReply = TARGET[action].includes(view.state)
      ? { status: 200, body: view }
      : toApiError(new OperationInterruptedError(ep, action, view.state));
    keys.finish(key, reply);
    return { ...reply, headers: replay };
  }
  let settle!: (r: StoredReply) => void;
  const running = new Promise<StoredReply>((r) => (settle = r));
  try {
    await keys.start(key, fp, running, before!.lastSeq); // durable before the action runs
  } catch (e) {
    settle(toApiError(e)); // a retry that waited gets the same failure; the key is free again
    throw e;
  }
  const reply = await run();
  try {
    if (reply.ran || reply.status === 200) keys.finish(key, { status: reply.status, body: reply.body });
    else keys.forget(key); // refused before anything ran: the key is free again
  } catch {
    // the key file could not be written (disk full…): the action's outcome is still the reply, to
    // this client and to the retries waiting for it (the key keeps its settled `running` reply);
    // after a restart, a retry gets what recovery settled on, as after a crash
  } finally {
    settle({ status: reply.status, body: reply.body });
  }
  return { status: reply.status, body: reply.body };
}

async function handOverFds(ctx: RequestContext): Promise<Reply> {
  const { s } = await open(ctx);
  const view = s.store.get(ctx.params.endpoint!);
  if (view.state !== 'attached') throw new FdHandoverError(view.id, `it is ${view.state}, not cold-attached (run the attach action first)`);
  if (ctx.adapters !== 'real') throw new FdHandoverError(view.id, 'the daemon runs with the in-memory adapters (no real tap)');
  const c = s.store.snapshotOf(view.id).context;
  // the NIC the cold-plug step described (its MAC: the original link's, as upstream)
  const nic = { netdevId: c.netdevId, deviceId: c.deviceId, mac: c.hardAddr || c.mac, queues: c.queues, tapName: c.tapName, vhost: c.vhost };
  // vhost first: a host without /dev/vhost-net refuses before any queue of the tap is opened
  const vhost = c.vhost ? openVhostFds(view.id, c.queues) : [];
  let queues: number[];
  try {
    queues = openTapQueues(view.id, view.netnsPath, view.tapName, c.queues);
  } catch (e) {
    for (const fd of vhost) closeFd(fd);
    throw e;
  }
  const body = { endpoint: view.id, tapName: view.tapName, fds: queues.length + vhost.length, queueFds: queues.length, vhostFds: vhost.length, args: handoverArgs(nic, queues.length, vhost.length) };
  await sendResponseWithFds(ctx.req.socket, body, [...queues, ...vhost]);
  return undefined;
}

async function events(ctx: RequestContext): Promise<Reply> {
  const { sb, s } = await open(ctx);
  const sinceRaw = queryOne(ctx, 'since');
  const since = sinceRaw === null ? -1 : Number(sinceRaw);
  // digits only: Number() would also take '', ' 5', '1e3' and '0x10'
  if (sinceRaw !== null && (!/^\d{1,15}$/.test(sinceRaw) || !Number.isSafeInteger(since))) throw new RequestFieldError('since', 'type', 'must be a non-negative integer (a record seq)');
  const res = ctx.res;
  // the reader hung up while the store was opening: its 'close' has been and gone
  if (res.destroyed) return undefined;
  // a slot for as long as the response lives, whatever ends it (the reader, the sandbox, an error)
  res.once('close', ctx.streamSlots.take());
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  res.flushHeaders();
  const behind = ctx.eventsBehindBytes;
  let last = since;
  /** Write `r` unless already sent; false: the socket's buffer is full (wait for 'drain'). */
  const send = (r: { seq: number }): boolean => {
    if (r.seq <= last) return true;
    last = r.seq;
    return res.write(JSON.stringify(r) + '\n');
  };
  /** Live records appended while the backlog is still being sent (then sent after it). */
  let queued: { seq: number }[] | null = null;
  let queuedBytes = 0;
  const live = (recs: readonly { seq: number }[]): void => {
    if (queued) {
      for (const r of recs) (queued.push(r), (queuedBytes += JSON.stringify(r).length + 1));
      if (queuedBytes > behind) res.destroy(); // a reader that does not read: drop it
      return;
    }
    for (const r of recs) send(r);
    if (res.writableLength > behind) res.destroy(); // a reader that does not read: drop it
  };
  // subscribe and read what exists in the same turn: no record is missed or sent twice
  const off = s.onAppend(live);
  if (since >= 0) {
    // the backlog at the reader's pace (it may be larger than the live budget: a long history)
    const backlog = s.recordsAfter(since);
    queued = [];
    let i = 0;
    const pump = (): void => {
      while (i < backlog.length) {
        if (send(backlog[i++]!)) continue;
        if (!res.destroyed) res.once('drain', pump);
        return;
      }
      const q = queued ?? [];
      queued = null;
      live(q);
    };
    pump();
  }
  const stream = { end: () => res.end() };
  sb.streams.add(stream);
  res.on('close', () => {
    off();
    sb.streams.delete(stream);
  });
  return undefined;
}

export const routes: readonly Route[] = [
  {
    method: 'GET',
    path: '/v1/health',
    operationId: 'health',
    handler: async (ctx) => {
      const count: Record<string, number> = { open: 0, opening: 0, closed: 0, error: 0 };
      for (const s of ctx.sandboxes.list()) count[s.state]!++;
      const eventLoop = { p50Ms: ms(loopDelay.percentile(50)), p99Ms: ms(loopDelay.percentile(99)), maxMs: ms(loopDelay.max) };
      if (queryOne(ctx, 'reset') === '1') loopDelay.reset();
      return ok({ status: 'ok', sandboxes: count, eventLoop });
    },
  },
  {
    method: 'GET',
    path: '/v1/version',
    operationId: 'version',
    handler: async (ctx) => ok({ name: 'tapstate', version: pkg.version, api: 'v1', node: process.version, adapters: ctx.adapters, pid: process.pid, startedAt: new Date(ctx.startedAt).toISOString() }),
  },
  {
    method: 'GET',
    path: '/v1/sandboxes',
    operationId: 'listSandboxes',
    handler: async (ctx) =>
      ok({ sandboxes: ctx.sandboxes.list().map((s) => ({ id: s.id, state: s.state, ...(s.lastError ? { error: toApiError(s.lastError).body.error } : {}) })) }),
  },
  {
    method: 'PUT',
    path: '/v1/sandboxes/{sandbox}',
    operationId: 'putSandbox',
    handler: async (ctx) => {
      const id = v.sandboxId(ctx.params.sandbox!);
      const config = v.sandboxConfig(await ctx.body(), ctx.adapters === 'real');
      await v.checkNetnsPath(config.netnsPath, ctx.adapters === 'real');
      const { sandbox, created } = await ctx.sandboxes.create(id, config);
      const s = await sandbox.ready();
      return ok({ id, config: s.sandbox, ...statusOf(s.store.list()) }, created ? 201 : 200);
    },
  },
  {
    method: 'GET',
    path: '/v1/sandboxes/{sandbox}',
    operationId: 'getSandbox',
    handler: async (ctx) => {
      const { sb, s } = await open(ctx);
      return ok({ id: sb.id, config: s.sandbox, recovery: s.store.recovery, ...statusOf(s.store.list()) });
    },
  },
  {
    method: 'DELETE',
    path: '/v1/sandboxes/{sandbox}',
    operationId: 'deleteSandbox',
    handler: async (ctx) => {
      const id = v.sandboxId(ctx.params.sandbox!);
      const q = queryOne(ctx, 'quarantine');
      if (q !== null && q !== 'true') throw new RequestFieldError('quarantine', 'boolean', `must be "true" when given (got ${JSON.stringify(q.slice(0, 40))})`);
      if (q === 'true') return ok({ id, quarantinedTo: await ctx.sandboxes.quarantine(id) });
      await ctx.sandboxes.delete(id);
      return { status: 204, body: null };
    },
  },
  {
    method: 'GET',
    path: '/v1/sandboxes/{sandbox}/endpoints',
    operationId: 'listEndpoints',
    handler: async (ctx) => ok(statusOf((await open(ctx)).s.store.list())),
  },
  {
    method: 'POST',
    path: '/v1/sandboxes/{sandbox}/endpoints',
    operationId: 'addEndpoint',
    handler: async (ctx) => {
      const { s } = await open(ctx);
      return ok(s.store.createEndpoint(v.endpointInput(await ctx.body())), 201);
    },
  },
  {
    method: 'GET',
    path: '/v1/sandboxes/{sandbox}/endpoints/{endpoint}',
    operationId: 'getEndpoint',
    handler: async (ctx) => ok((await open(ctx)).s.store.get(ctx.params.endpoint!)),
  },
  { method: 'POST', path: '/v1/sandboxes/{sandbox}/endpoints/{endpoint}/actions', operationId: 'runAction', handler: runAction },
  { method: 'POST', path: '/v1/sandboxes/{sandbox}/endpoints/{endpoint}/fds', operationId: 'handOverFds', handler: handOverFds },
  {
    method: 'POST',
    path: '/v1/sandboxes/{sandbox}/recover',
    operationId: 'recover',
    handler: async (ctx) => {
      const { s } = await open(ctx);
      const endpoints = await s.store.recover();
      const views = s.store.list();
      return ok({ endpoints, inDoubt: views.filter((e) => e.status === 'in-doubt').map((e) => e.id), atOpen: s.store.recovery });
    },
  },
  {
    method: 'GET',
    path: '/v1/sandboxes/{sandbox}/persist',
    operationId: 'savePersist',
    handler: async (ctx) => {
      const shape = queryOne(ctx, 'shape') ?? 'v1';
      if (shape !== 'v1' && shape !== 'v2') throw new RequestFieldError('shape', 'enum', `must be v1 or v2 (got ${quoteArg(shape)})`);
      return ok((await open(ctx)).s.store.save(shape));
    },
  },
  {
    method: 'PUT',
    path: '/v1/sandboxes/{sandbox}/persist',
    operationId: 'loadPersist',
    handler: async (ctx) => {
      const { s } = await open(ctx);
      return ok(await s.store.load(await ctx.body()));
    },
  },
  { method: 'GET', path: '/v1/sandboxes/{sandbox}/events', operationId: 'events', handler: events },
];

