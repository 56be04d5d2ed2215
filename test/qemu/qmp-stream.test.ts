import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createQmpStream, feedQmpStream, QmpStreamError, type QmpMessage } from '../../src/qemu/qmp-stream.js';
import { netdevIds, parseInfoNetwork } from '../../src/qemu/info-network.js';
import { pciPathOf, rootPortTopology, shpcBridgeTopology, TopologyError } from '../../src/qemu/topology.js';

const enc = (s: string) => new TextEncoder().encode(s);

function feedAll(chunks: Uint8Array[], max?: number): { messages: QmpMessage[]; error?: QmpStreamError } {
  let st = createQmpStream(max);
  const messages: QmpMessage[] = [];
  for (const c of chunks) {
    const r = feedQmpStream(st, c);
    st = r.state;
    messages.push(...r.messages);
    if (r.error) return { messages, error: r.error };
  }
  return { messages };
}

const sample = [
  '{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}}, "capabilities": ["oob"]}}',
  '{"return": {}, "id": "c1"}',
  '{"error": {"class": "DeviceNotFound", "desc": "Device \'x\' not found"}, "id": "c2"}',
  '{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "DEVICE_DELETED", "data": {"device": "virtio-é", "path": "/machine/peripheral/virtio-é"}}',
  '{"return": [{"name": "type", "type": "string"}], "id": "c3"}',
];
const wire = sample.map((l) => l + '\r\n').join('');

describe('QMP stream parser', () => {
  it('classifies greeting, return, error, event', () => {
    const { messages, error } = feedAll([enc(wire)]);
    expect(error).toBeUndefined();
    expect(messages.map((m) => m.kind)).toEqual(['greeting', 'return', 'error', 'event', 'return']);
    expect(messages[2]).toEqual({ kind: 'error', id: 'c2', errorClass: 'DeviceNotFound', desc: "Device 'x' not found" });
    expect(messages[3]).toMatchObject({ kind: 'event', event: 'DEVICE_DELETED', data: { device: 'virtio-é' }, timestamp: { seconds: 1, microseconds: 2 } });
  });

  it('gives the same messages however the bytes are split (even inside UTF-8 characters)', () => {
    const bytes = enc(wire);
    const whole = feedAll([bytes]).messages;
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 40 }), (cuts) => {
        const points = [0, ...cuts.sort((a, b) => a - b), bytes.length];
        const chunks = points.slice(1).map((p, i) => bytes.subarray(points[i]!, p));
        const r = feedAll(chunks);
        expect(r.error).toBeUndefined();
        expect(r.messages).toEqual(whole);
      }),
    );
  });

  it('reads pretty-printed multi-line messages (-mon mode=control,pretty=on), however split (regression: "QMP line is not JSON: {")', () => {
    // QEMU's pretty printer: 4-space indent, \r\n line ends; braces and quotes inside strings
    const pretty = sample.map((l) => JSON.stringify(JSON.parse(l), null, 4).replace(/\n/g, '\r\n') + '\r\n');
    pretty.push('{\r\n    "return": "a } { \\" ] [ string",\r\n    "id": "c4"\r\n}\r\n');
    const bytes = enc(pretty.join(''));
    const compact = feedAll([enc(wire)]).messages;
    const whole = feedAll([bytes]);
    expect(whole.error).toBeUndefined();
    expect(whole.messages.slice(0, sample.length)).toEqual(compact);
    expect(whole.messages[sample.length]).toEqual({ kind: 'return', id: 'c4', value: 'a } { " ] [ string' });
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 40 }), (cuts) => {
        const points = [0, ...cuts.sort((a, b) => a - b), bytes.length];
        const r = feedAll(points.slice(1).map((p, i) => bytes.subarray(points[i]!, p)));
        expect(r.error).toBeUndefined();
        expect(r.messages).toEqual(whole.messages);
      }),
    );
  });

  it('is pure: feeding does not change the previous state', () => {
    const s0 = createQmpStream();
    const r1 = feedQmpStream(s0, enc('{"return": {}, "id"'));
    expect(s0.pending.length).toBe(0);
    const a = feedQmpStream(r1.state, enc(': "a"}\n'));
    const b = feedQmpStream(r1.state, enc(': "b"}\n'));
    expect(a.messages).toEqual([{ kind: 'return', id: 'a', value: {} }]);
    expect(b.messages).toEqual([{ kind: 'return', id: 'b', value: {} }]);
  });

  it.each([
    ['not JSON', 'hello world\n', 'garbled'],
    ['invalid UTF-8', '\xff\xfe\n', 'garbled'],
    ['JSON array', '[1,2]\n', 'not-a-message'],
    ['unknown object', '{"foo": 1}\n', 'not-a-message'],
  ])('a %s line is a typed error, and messages before it are kept', (_n, bad, reason) => {
    const bytes = bad === '\xff\xfe\n' ? Uint8Array.from([0xff, 0xfe, 0x0a]) : enc(bad);
    const r = feedAll([enc('{"return": {}, "id": "c1"}\r\n'), bytes]);
    expect(r.messages).toHaveLength(1);
    expect(r.error).toBeInstanceOf(QmpStreamError);
    expect(r.error?.reason).toBe(reason);
  });

  it('oversized frames (terminated or not) are a typed error', () => {
    expect(feedAll([enc('{"return": "' + 'x'.repeat(100) + '"}\n')], 64).error?.reason).toBe('oversized');
    expect(feedAll([enc('{"return": "'), enc('x'.repeat(100))], 64).error?.reason).toBe('oversized');
    expect(() => createQmpStream(1)).toThrow(/maxFrame/);
  });

  it('never throws on arbitrary bytes: messages or a typed error', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
        const r = feedAll(chunks, 128);
        if (r.error) expect(r.error).toBeInstanceOf(QmpStreamError);
      }),
    );
  });

  it('skips blank lines', () => {
    expect(feedAll([enc('\r\n\n{"return": 1}\r\n')]).messages).toEqual([{ kind: 'return', value: 1 }]);
  });
});

describe('info network parsing', () => {
  const text =
    'virtio-nd1: index=0,type=nic,model=virtio-net-pci,macaddr=02:00:00:00:00:01\r\n \\ nd1: index=0,type=tap,fd=16\r\n' +
    'virtio-nd1: index=1,type=nic,\r\n \\ nd1: index=1,type=tap,fd=17\r\nlonely: index=0,type=tap,fd=20\r\n';
  it('lists NICs and netdevs, netdev ids exclude NICs', () => {
    expect(parseInfoNetwork(text)).toHaveLength(5);
    expect([...netdevIds(text)].sort()).toEqual(['lonely', 'nd1']);
    expect(netdevIds('')).toEqual(new Set());
  });
});

describe('topology', () => {
  it('root ports: one slot each at addr 0, PCI path from the port slot', () => {
    const t = rootPortTopology({ count: 2 });
    expect(t.args).toEqual(['-device', 'pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=0x3', '-device', 'pcie-root-port,id=rp1,bus=pcie.0,chassis=2,addr=0x4']);
    expect(t.slots.map(pciPathOf)).toEqual(['03/00', '04/00']);
  });
  it('SHPC bridges: slots 1..30', () => {
    const t = shpcBridgeTopology({ firstAddr: 0x1e });
    expect(t.slots).toHaveLength(30);
    expect(pciPathOf(t.slots[29]!)).toBe('1e/1e');
    expect(t.args[1]).toContain('shpc=on');
  });
  it('bad parameters name the field', () => {
    expect(() => rootPortTopology({ count: 0 })).toThrow(TopologyError);
    expect(() => rootPortTopology({ count: 0 })).toThrow(/count/);
    expect(() => rootPortTopology({ firstAddr: 30, count: 4 })).toThrow(/firstAddr/);
    expect(() => rootPortTopology({ prefix: 'a,b' })).toThrow(/prefix/);
  });
});
