/**
 * Retirement: a detached endpoint (the machine's final state) leaves the live set — and so the
 * checkpoint — once its settled `snapshot` record is written; its history stays readable in the
 * log until retention removes it, and its id is free again. The store counts retirements over
 * its life (kept in the checkpoint as `retired`).
 */
import type { EndpointSlot } from './endpoint-slot.js';

export class Retirements {
  #count: number;

  constructor(
    private readonly slots: Map<string, EndpointSlot>,
    /** Retirements before this process opened the store. */
    count: number,
  ) {
    this.#count = count;
  }

  /** Endpoints retired over the store's life. */
  get count(): number {
    return this.#count;
  }

  /** Retire the endpoint if it reached its final state (after its snapshot record). */
  settled(slot: EndpointSlot): void {
    if (slot.isDone()) this.retire(slot.id);
  }

  retire(id: string): void {
    if (this.slots.delete(id)) this.#count++;
  }
}

/**
 * Remove from `slots` every endpoint in its final state (detached, but its snapshot record never
 * written: a crash right before it). Returns how many were removed.
 */
export function sweepDone(slots: Map<string, EndpointSlot>): number {
  let n = 0;
  for (const s of [...slots.values()])
    if (s.isDone()) {
      slots.delete(s.id);
      n++;
    }
  return n;
}
