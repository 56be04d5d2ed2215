/**
 * The runtime's transition (one reused inert scope) gives exactly what XState's `transition()`
 * gives: every event of a real history (test/fixtures/store-v2, hot-attach and detach cycles,
 * with and without errors), applied both ways, yields equal snapshots; a scope is reused well
 * past its refresh bound.
 */
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { initialTransition, transition } from 'xstate';
import { endpointMachine, type EndpointInput } from '../../machines/index.js';
import { decodeRecords } from '../../src/log/codec.js';
import { nextSnapshot } from '../../src/runtime/pure-transition.js';
import type { LogRecord } from '../../src/log/records.js';

const SEG = fileURLToPath(new URL('../fixtures/store-v2/segments', import.meta.url));

function records(): LogRecord[] {
  const out: LogRecord[] = [];
  for (const name of fs.readdirSync(SEG).sort()) {
    const buf = fs.readFileSync(`${SEG}/${name}`);
    // skip the header line (and the v2 header's embedded base): records start after the first newline
    const start = buf.indexOf(10) + 1;
    out.push(...decodeRecords(buf.subarray(start), { file: name, base: start }).records.map((r) => r.record));
  }
  return out;
}

describe('nextSnapshot', () => {
  it('equals XState transition() on every event of a real history', () => {
    const recs = records();
    type S = ReturnType<typeof nextSnapshot>;
    const ours = new Map<string, S>();
    const theirs = new Map<string, S>();
    let events = 0;
    for (let round = 0; round < 12; round++)
      for (const r of recs) {
        if (r.k === 'create') {
          const s = initialTransition(endpointMachine, r.input as EndpointInput)[0];
          ours.set(r.ep, s);
          theirs.set(r.ep, s);
        } else if (r.k === 'event' && ours.has(r.ep)) {
          const a = nextSnapshot(ours.get(r.ep)!, r.event as never);
          const [b] = transition(endpointMachine, theirs.get(r.ep)!, r.event as never);
          expect({ value: a.value, status: a.status, context: a.context, children: Object.keys(a.children) }).toEqual({
            value: b.value,
            status: b.status,
            context: b.context,
            children: Object.keys(b.children),
          });
          ours.set(r.ep, a);
          theirs.set(r.ep, b);
          events++;
        }
      }
    expect(events).toBeGreaterThan(300); // past the scope's refresh bound (256)
  });
});
