/**
 * `tapstate inspect --store DIR [--port N] [--listen ADDR] [--json]`: replay a store's saved log
 * into an XState inspector without running any effect. By default the inspection events are
 * served on loopback (`ws://127.0.0.1:N`; the Stately inspector page at `http://localhost:N` or
 * any WebSocket client can connect, read-only) and the command runs until interrupted;
 * `--listen ADDR` serves another address, with a warning; `--json` prints the events instead,
 * one JSON object a line, and exits. See docs/security.md.
 */
import { captureInspection, readStoreDir, replayIntoInspector, startWebSocketInspection } from '../../inspect/index.js';
import { isIP } from 'node:net';
import { UsageError, type CommandSpec } from '../command.js';
import { quoteArg } from '../quote.js';

export const command: CommandSpec = {
  name: 'inspect',
  summary: 'Replay a saved log into an XState inspector (WebSocket) without running any effect',
  options: {
    store: { type: 'string', description: 'Store directory (opened read-only: no lock, no recovery)', placeholder: 'DIR', required: true },
    port: { type: 'string', integer: true, description: 'Port of the local inspection WebSocket relay', placeholder: 'N', default: '8080' },
    listen: {
      type: 'string',
      description: 'Address to serve on instead of loopback (127.0.0.1). Exposes the store\'s MACs, netns paths and history to that network: prints a warning',
      placeholder: 'ADDR',
    },
    'allow-origin': { type: 'string', description: 'Also accept WebSocket connections from this browser Origin (exact, e.g. https://stately.ai)', placeholder: 'ORIGIN' },
    json: { type: 'boolean', description: 'Print the inspection steps as JSON lines and exit (no server)', default: false },
  },
  examples: ['tapstate inspect --store /run/tapstate/sandbox1 --port 8080', 'tapstate inspect --store DIR --json'],
  async run(opts, _positionals, io) {
    const store = opts.store;
    if (typeof store !== 'string' || store === '') throw new UsageError('--store DIR is required');
    const port = opts.port === undefined ? 8080 : Number(opts.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`--port must be an integer in 1..65535, got ${String(opts.port)}`);
    const log = readStoreDir(store);
    if (opts.json) {
      const cap = captureInspection();
      replayIntoInspector(log.records, cap.inspect);
      for (const s of cap.steps) io.out(JSON.stringify(s) + '\n');
      return 0;
    }
    const host = typeof opts.listen === 'string' ? opts.listen : '127.0.0.1';
    if (host === '') throw new UsageError('--listen: must not be empty');
    if (isIP(host.replace(/^\[|\]$/g, '')) === 0 && host !== 'localhost') throw new UsageError(`--listen: must be an IP address (got ${quoteArg(host)})`);
    const allowOrigins = typeof opts['allow-origin'] === 'string' ? [opts['allow-origin']] : [];
    const ws = await startWebSocketInspection(port, { host: host.replace(/^\[|\]$/g, ''), allowOrigins });
    try {
      await ws.listening;
      if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host))
        io.err(
          `tapstate: WARNING: serving this store's history (MACs, netns paths, errors) on ${host}:${port}: ` +
            'anyone who can reach it can read it (clients are read-only). Without --listen it stays on 127.0.0.1.\n',
        );
      const final = replayIntoInspector(log.records, ws.inspect);
      for (const f of final) io.out(`${f.id}\t${f.state}${f.inDoubt ? `\t(in doubt: ${f.inDoubt})` : ''}\n`);
      io.out(`replayed ${log.records.length} records; inspection events on ${ws.url} (viewer: http://${host === '127.0.0.1' ? 'localhost' : host}:${port}); Ctrl-C to stop\n`);
      await new Promise<void>((resolve) => {
        const done = () => {
          process.off('SIGINT', done);
          process.off('SIGTERM', done);
          resolve();
        };
        process.on('SIGINT', done);
        process.on('SIGTERM', done);
      });
    } finally {
      ws.stop();
    }
    return 0;
  },
};
