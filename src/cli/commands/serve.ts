/** `tapstate serve`: the per-host daemon (HTTP/1.1 + JSON on a unix socket; docs/serve.md, docs/api/openapi.yaml). */
import * as fs from 'node:fs';
import { UsageError, type CommandSpec } from '../command.js';
import { capEcho } from '../quote.js';
import { Daemon } from '../../daemon/server.js';
import { LIMIT_DEFAULTS } from '../../daemon/limits.js';

/** A group name (from /etc/group) or a numeric gid. */
export function resolveGroup(g: string): number {
  if (/^\d+$/.test(g)) {
    // gid_t is 32 bits and (gid_t)-1 means "unchanged" to chown: beyond, the socket was already bound when chown threw a RangeError
    const gid = Number(g);
    if (gid > 0xfffffffe) throw new UsageError(`--group: gid ${capEcho(g, 40)} is out of range (0..${0xfffffffe})`);
    return gid;
  }
  let text = '';
  try {
    text = fs.readFileSync('/etc/group', 'utf8');
  } catch {
    /* no /etc/group */
  }
  for (const line of text.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === g && gid !== undefined) return Number(gid);
  }
  throw new UsageError(`--group: no group ${JSON.stringify(g)} in /etc/group`);
}

const ms = (description: string, def: string) => ({ type: 'string' as const, placeholder: 'MS', integer: true, default: def, description });

export const command: CommandSpec = {
  name: 'serve',
  summary: 'Run the per-host daemon: the HTTP/JSON API on a unix socket, one store per sandbox under --state-dir.',
  options: {
    socket: { type: 'string', placeholder: 'PATH', required: true, description: 'The unix socket to listen on (created 0600, or 0660 with --group). Never TCP.' },
    'state-dir': { type: 'string', placeholder: 'DIR', required: true, description: 'One store per sandbox: DIR/<sandbox-id>.' },
    group: { type: 'string', placeholder: 'GROUP', description: 'Also allow this group (name or gid): the socket is made 0660 and owned by it.' },
    'max-body': { type: 'string', placeholder: 'BYTES', integer: true, default: String(LIMIT_DEFAULTS.maxBodyBytes), description: 'Largest request body accepted (413 beyond).' },
    'max-connections': {
      type: 'string',
      placeholder: 'N',
      integer: true,
      default: String(LIMIT_DEFAULTS.maxConnections),
      description: 'Connections served at once; one more gets 503 too_many_connections and is closed (each is a file descriptor).',
    },
    'max-event-streams': {
      type: 'string',
      placeholder: 'N',
      integer: true,
      default: String(LIMIT_DEFAULTS.maxEventStreams),
      description: 'Event streams open at once, all sandboxes together; one more is 503 too_many_event_streams.',
    },
    'events-behind-bytes': {
      type: 'string',
      placeholder: 'BYTES',
      integer: true,
      default: String(LIMIT_DEFAULTS.eventsBehindBytes),
      description: 'An event stream whose reader falls this far behind the live records is closed (the most one stream buffers).',
    },
    'headers-timeout-ms': ms('A request must send its headers within this.', '10000'),
    'request-timeout-ms': ms('A whole request (headers and body) must arrive within this.', '30000'),
    'idle-timeout-ms': ms('An idle keep-alive connection is closed after this.', '5000'),
    'netlink-thread': { type: 'boolean', description: 'Run the kernel (netlink) calls on a thread of their own instead of the event loop (a thread hop per call; see docs/serve.md).' },
  },
  examples: ['tapstate serve --socket /run/tapstate/api.sock --state-dir /var/lib/tapstate', 'tapstate serve --socket /run/tapstate/api.sock --state-dir /var/lib/tapstate --group kata'],
  async run(opts, _pos, io) {
    for (const k of ['max-body', 'headers-timeout-ms', 'request-timeout-ms', 'idle-timeout-ms', 'max-connections', 'max-event-streams', 'events-behind-bytes'])
      if (!Number.isSafeInteger(opts[k]) || (opts[k] as number) < 1) throw new UsageError(`--${k}: must be a positive integer (got ${String(opts[k])})`);
    const gid = typeof opts.group === 'string' ? resolveGroup(opts.group) : undefined;
    const t0 = performance.now();
    const daemon = await Daemon.start({
      socketPath: String(opts.socket),
      stateDir: String(opts['state-dir']),
      ...(gid !== undefined ? { gid } : {}),
      maxBodyBytes: opts['max-body'] as number,
      headersTimeoutMs: opts['headers-timeout-ms'] as number,
      requestTimeoutMs: opts['request-timeout-ms'] as number,
      idleTimeoutMs: opts['idle-timeout-ms'] as number,
      maxConnections: opts['max-connections'] as number,
      maxEventStreams: opts['max-event-streams'] as number,
      eventsBehindBytes: opts['events-behind-bytes'] as number,
      netlinkThread: opts['netlink-thread'] === true,
      env: io.env,
      log: (line) => io.err(`tapstate serve: ${line}\n`),
    });
    const sbs = daemon.sandboxes.list();
    io.err(`tapstate serve: ready in ${(performance.now() - t0).toFixed(0)} ms, ${sbs.length} sandbox(es) (${sbs.filter((s) => s.state === 'open').length} open)\n`);
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
    io.err('tapstate serve: stopping (waiting for running operations)\n');
    await daemon.close();
    return 0;
  },
};
