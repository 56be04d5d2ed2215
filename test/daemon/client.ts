/** A minimal client of the daemon's API for tests: one request per connection (no agent). */
import * as http from 'node:http';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Daemon, type DaemonOptions } from '../../src/daemon/server.js';

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: any;
}

export function request(socketPath: string, method: string, p: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = http.request(
      {
        socketPath,
        method,
        path: p,
        agent: false,
        headers: { ...(text !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) } : {}), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = raw;
          try {
            parsed = raw ? JSON.parse(raw) : null;
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (text !== undefined) req.write(text);
    req.end();
  });
}

/** An in-process daemon with the in-memory adapters in a fresh temp dir; `stop()` removes everything. */
export async function memoryDaemon(opts: Partial<DaemonOptions> = {}, env: Record<string, string> = {}, reuse?: string) {
  const tmp = reuse ?? fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-daemon-${process.pid}-`));
  const socketPath = path.join(tmp, 'api.sock');
  const stateDir = path.join(tmp, 'state');
  let daemon: Daemon;
  try {
    daemon = await Daemon.start({ socketPath, stateDir, env: { ...process.env, TAPSTATE_ADAPTERS: 'memory', ...env }, ...opts });
  } catch (e) {
    if (!reuse) fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const call = (method: string, p: string, body?: unknown, headers?: Record<string, string>) => request(socketPath, method, p, body, headers);
  return {
    tmp,
    socketPath,
    stateDir,
    daemon,
    call,
    /** Close the daemon; `keep`: leave the state dir (to start another daemon on it). */
    async stop(keep = false) {
      try {
        await daemon.close();
      } finally {
        if (!keep) fs.rmSync(tmp, { recursive: true, force: true });
      }
    },
  };
}

/** Read `n` NDJSON lines of a stream, then hang up. */
export function readEvents(socketPath: string, p: string, n: number): Promise<any[]> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath, path: p, agent: false }, (res) => {
      if (res.headers['content-type'] !== 'application/x-ndjson') reject(new Error(`content-type ${res.headers['content-type']}`));
      let buf = '';
      const out: any[] = [];
      res.on('data', (c: Buffer) => {
        buf += c.toString();
        let i;
        while ((i = buf.indexOf('\n')) >= 0 && out.length < n) {
          out.push(JSON.parse(buf.slice(0, i)));
          buf = buf.slice(i + 1);
        }
        if (out.length >= n) {
          req.destroy();
          resolve(out);
        }
      });
    });
    req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e)));
  });
}
