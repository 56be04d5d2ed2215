/**
 * `tapstate inspect --store DIR [--port N] [--json]`: replay a store's saved log into an XState
 * inspector without running any effect. By default the inspection events go to a local
 * WebSocket relay on the port (`ws://localhost:N`; the Stately inspector or any WebSocket client
 * can connect) and the command runs until interrupted; `--json` prints them instead, one JSON
 * object a line, and exits.
 */
import { captureInspection, readStoreDir, replayIntoInspector, startWebSocketInspection } from '../../inspect/index.js';
import { UsageError, type CommandSpec } from '../command.js';

export const command: CommandSpec = {
  name: 'inspect',
  summary: 'Replay a saved log into an XState inspector (WebSocket) without running any effect',
  options: {
    store: { type: 'string', description: 'Store directory (opened read-only: no lock, no recovery)', placeholder: 'DIR', required: true },
    port: { type: 'string', integer: true, description: 'Port of the local inspection WebSocket relay', placeholder: 'N', default: '8080' },
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
    const ws = await startWebSocketInspection(port);
    try {
      await ws.connected;
      const final = replayIntoInspector(log.records, ws.inspect);
      for (const f of final) io.out(`${f.id}\t${f.state}${f.inDoubt ? `\t(in doubt: ${f.inDoubt})` : ''}\n`);
      io.out(`replayed ${log.records.length} records; inspection events on ${ws.url} (viewer: http://localhost:${port}); Ctrl-C to stop\n`);
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
