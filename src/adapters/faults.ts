/**
 * Fault injection for any adapter (real or in-memory): each call can be made to fail, or to
 * run and then "crash" the caller (the process dies between the effect and its journal entry).
 */
import { TapstateError } from '../../machines/tapstate-error.js';

/** Thrown to simulate the death of the process. The runtime never catches it as a failure. */
export class SimulatedCrash extends TapstateError {
  override readonly name = 'SimulatedCrash';
  readonly code = 'SIMULATED_CRASH';
  constructor(readonly where: string) {
    super(`simulated crash: ${where}`);
  }
}

export interface FaultCall {
  adapter: string;
  method: string;
  args: readonly unknown[];
  /** 0-based count of calls made through this wrapper so far. */
  n: number;
}

export type FaultAction =
  | 'ok'
  /** Throw this error instead of calling the adapter. */
  | { fail: Error }
  /** Die before the call: the world is unchanged. */
  | 'crash-before'
  /** Make the call, then die before the caller sees the result. */
  | 'crash-after';

export type FaultPlan = (call: FaultCall) => FaultAction;

/** Methods that are never faulted (resource release on shutdown). */
const NEVER = new Set(['close']);

/** Wrap an adapter so that every async method consults `plan` first. */
export function withFaults<T extends object>(adapter: T, name: string, plan: FaultPlan): T {
  let n = 0;
  return new Proxy(adapter, {
    get(target, prop) {
      // read with the target as receiver so getters and #private fields see the real object
      const value = Reflect.get(target, prop) as unknown;
      if (typeof value !== 'function') return value;
      if (typeof prop !== 'string' || NEVER.has(prop)) return (value as (...a: unknown[]) => unknown).bind(target);
      return async (...args: unknown[]) => {
        const action = plan({ adapter: name, method: prop, args, n: n++ });
        if (action === 'crash-before') throw new SimulatedCrash(`before ${name}.${prop}`);
        if (typeof action === 'object') throw action.fail;
        const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        if (action === 'crash-after') throw new SimulatedCrash(`after ${name}.${prop}`);
        return result;
      };
    },
  });
}
