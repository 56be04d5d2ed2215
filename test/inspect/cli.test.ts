import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createWebSocketReceiver } from '@statelyai/inspect';
import { command } from '../../src/cli/commands/inspect.js';
import { UsageError } from '../../src/cli/command.js';
import { captureInspection, InspectorMissingError, loadInspectorModules, readStoreDir, replayIntoInspector, startWebSocketInspection } from '../../src/inspect/index.js';
import { sampleStore, type SampleStore } from './sample-store.js';

let sample: SampleStore | null = null;
afterEach(() => {
  sample?.remove();
  sample = null;
});

const io = () => {
  const text: string[] = [];
  return { text, io: { out: (t: string) => void text.push(t), err: (t: string) => void text.push(t), isTTY: false, env: {} } };
};

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

describe('tapstate inspect', () => {
  it('--json prints the replayed inspection steps of a store, read-only', async () => {
    sample = await sampleStore();
    const before = readStoreDir(sample.dir);
    const cap = io();
    expect(await command.run({ store: sample.dir, json: true }, [], cap.io)).toBe(0);
    const steps = cap.text.join('').trim().split('\n').map((l) => JSON.parse(l) as { actor: string; type: string; value?: unknown });
    const expected = captureInspection();
    replayIntoInspector(before.records, expected.inspect);
    expect(steps).toEqual(JSON.parse(JSON.stringify(expected.steps)));
    expect(steps.filter((s) => s.actor === 'ep1' && s.type === '@xstate.snapshot').at(-2)?.value).toBe('attached');
    expect(readStoreDir(sample.dir)).toEqual(before); // nothing written
  });

  it('refuses a bad port or a missing store as usage errors', async () => {
    await expect(command.run({ store: '/nonexistent', port: 70000 }, [], io().io)).rejects.toThrow(UsageError);
    await expect(command.run({}, [], io().io)).rejects.toThrow(/--store DIR is required/);
  });

  it('streams a replay to a WebSocket client through the local relay', async () => {
    sample = await sampleStore();
    const port = await freePort();
    const ws = await startWebSocketInspection(port);
    try {
      await ws.connected;
      const received: Array<{ type: string; sessionId?: string; snapshot?: { value?: unknown } }> = [];
      const receiver = createWebSocketReceiver({ server: `ws://localhost:${port}` });
      receiver.subscribe((e) => void received.push(e as never));
      await new Promise((r) => setTimeout(r, 300)); // let the receiver connect
      replayIntoInspector(readStoreDir(sample.dir).records, ws.inspect);
      const deadline = Date.now() + 10_000;
      while (!received.some((e) => e.type === '@xstate.snapshot' && e.snapshot?.value === 'detached') && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      const values = received.filter((e) => e.type === '@xstate.snapshot').map((e) => e.snapshot?.value);
      expect(values).toContain('hotAttached');
      expect(values).toContain('attached');
      expect(values).toContain('detached');
      expect(received.some((e) => e.type === '@xstate.actor')).toBe(true);
    } finally {
      ws.stop();
    }
  });

  it('a client that never reads is cut off once its backlog passes MAX_CLIENT_BACKLOG (16 MiB), not queued every event for ever', async () => {
    const port = await freePort();
    const ws = await startWebSocketInspection(port);
    const stalled = net.connect(port, '127.0.0.1');
    const CAP = 16 << 20; // src/inspect/websocket.ts MAX_CLIENT_BACKLOG
    try {
      await ws.listening;
      await new Promise((r) => stalled.once('connect', r));
      stalled.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      await new Promise((r) => setTimeout(r, 300)); // upgraded
      stalled.pause(); // never reads again
      const big = 'x'.repeat(1000);
      // ~3x the cap (plus what the kernel's socket buffers take): before, every byte was queued for it
      const n = Math.ceil((3 * CAP) / 1000);
      for (let i = 0; i < n; i++) ws.inspect.next?.({ type: '@xstate.event', rootId: 'r', sourceRef: undefined, actorRef: { sessionId: `s${i}` } as never, event: { type: 'E', big } } as never);
      let got = 0;
      stalled.on('data', (b: Buffer) => (got += b.length));
      const closed = new Promise<void>((r) => stalled.once('close', () => r()));
      stalled.resume();
      await Promise.race([closed, new Promise((r) => setTimeout(r, 10_000))]);
      expect(stalled.destroyed).toBe(true); // the relay cut it off
      expect(got).toBeLessThan(2 * CAP); // it never held all ~48 MB for it
    } finally {
      stalled.destroy();
      ws.stop();
    }
  });

  it('without the optional peer @statelyai/inspect: a typed error saying how to get it', async () => {
    const missing = Object.assign(new Error("Cannot find package '@statelyai/inspect'"), { code: 'ERR_MODULE_NOT_FOUND' });
    const err = await startWebSocketInspection(1, { load: () => Promise.reject(missing) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InspectorMissingError);
    expect(err).toMatchObject({ dependency: '@statelyai/inspect', cause: missing, message: expect.stringContaining('npm install @statelyai/inspect') });
    // installed here (a devDependency): the real loader finds it
    await expect(loadInspectorModules()).resolves.toMatchObject({ createInspector: expect.any(Function) });
  });
});
