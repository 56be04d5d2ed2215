/**
 * Regression (issue #10, bug 4): recovery of an interrupted cold attach probed the original
 * link's ingress qdisc and took it for ours, so the rollback removed a qdisc someone else had
 * added before the attach. The intent of the qdiscOrig step now records whether the qdisc
 * existed before it; any other interrupted step has not added one.
 */
import { describe, expect, it } from 'vitest';
import { memoryWorld, NETNS } from '../support/memory-world.js';
import { SimulatedCrash, type FaultPlan } from '../../src/adapters/faults.js';
import { MemoryLogStore } from '../../src/log/index.js';

/** Crash before the adapter call `method` on link `link` (the world is unchanged, the intent is logged). */
const crashBefore =
  (method: string, link: string): FaultPlan =>
  (c) =>
    c.method === method && (c.args[1] === link || (c.args[0] as { name?: string })?.name === link) ? 'crash-before' : 'ok';

describe("recovery never adopts the original link's qdisc that existed before the attach", () => {
  for (const [step, method, link] of [
    ['qdiscOrig', 'addIngressQdisc', 'eth0'],
    ['setUp', 'setUp', 'tap0_kata'],
    ['redirectIn', 'addRedirect', 'eth0'],
  ] as const) {
    it(`someone else's ingress qdisc on eth0, crash in attach.${step}: recovery rolls back and the qdisc stays`, async () => {
      const w = memoryWorld();
      await w.kernel.addIngressQdisc(NETNS, 'eth0'); // not ours
      const s1 = await w.open({ faults: crashBefore(method, link) });
      s1.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
      const err = await s1.attach('ep0').catch((e: unknown) => e);
      if (step === 'redirectIn') {
        // the attach never gets that far: qdiscOrig fails with EEXIST and rolls back, leaving the qdisc
        expect(err).not.toBeInstanceOf(SimulatedCrash);
        expect(s1.get('ep0').state).toBe('created');
      } else {
        expect(err).toBeInstanceOf(SimulatedCrash);
        w.crash();
        const s2 = await w.open();
        expect(s2.recovery.endpoints).toMatchObject([{ effect: `attach.${step}`, action: 'rolled-back', finalState: 'created' }]);
        if (step === 'qdiscOrig') {
          // the intent says what was there before the step
          const intents = MemoryLogStore.open(w.medium, { readOnly: true }).read().records.map((r) => r.record).filter((r) => r.k === 'intent' && r.id === 'attach.qdiscOrig');
          expect(intents).toMatchObject([{ pre: { origIngress: true } }]);
        }
        await s2.close();
      }
      expect(await w.kernel.hasIngressQdisc(NETNS, 'eth0')).toBe(true);
      expect(w.taps()).toEqual([]);
    });
  }

  it('our own qdisc (none before the step) is still found and removed by the rollback', async () => {
    const w = memoryWorld();
    const s1 = await w.open({ faults: (c) => (c.method === 'addIngressQdisc' && c.args[1] === 'eth0' ? 'crash-after' : 'ok') });
    s1.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    await expect(s1.attach('ep0')).rejects.toBeInstanceOf(SimulatedCrash);
    w.crash();
    expect(await w.kernel.hasIngressQdisc(NETNS, 'eth0')).toBe(true);
    const s2 = await w.open();
    expect(s2.recovery.endpoints).toMatchObject([{ effect: 'attach.qdiscOrig', observed: { tcOrig: true }, finalState: 'created' }]);
    expect(await w.kernel.hasIngressQdisc(NETNS, 'eth0')).toBe(false);
    await s2.close();
  });
});
