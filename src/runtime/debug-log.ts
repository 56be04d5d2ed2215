/**
 * `NODE_DEBUG=tapstate`: every adapter call (netlink and hypervisor), its arguments, how long it
 * took and how it ended — the errno of a failed kernel call, the kind of a failed VMM call — on
 * stderr, through `util.debuglog` (no dependency, nothing done when disabled).
 *
 * `TAPSTATE 4242: netlink.createTap {"netns":"/run/netns/sb1","name":"tap0_kata","queues":2} ok 1.84 ms`
 * `TAPSTATE 4242: hypervisor.hotplug {…} failed 3.02 ms: HypervisorError kind=no-slot: hotplug: …`
 */
import { debuglog } from 'node:util';
import type { Adapters } from './effects.js';

/** A debuglog-style logger: a function plus whether it is on. */
export interface DebugLogger {
  (msg: string): void;
  enabled: boolean;
}

const tapstateLog: DebugLogger = debuglog('tapstate');

/** At most this many characters of a call's arguments are logged. */
const MAX_ARGS = 300;

/** One line's description of an error: its name and errno (kernel) or kind (VMM), and message. */
export function describeError(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const f = e as Error & { errno?: unknown; errnoNumber?: unknown; kind?: unknown; code?: unknown };
  const tags: string[] = [];
  if (typeof f.errno === 'string' && f.errno !== '') tags.push(`errno=${f.errno}${typeof f.errnoNumber === 'number' ? `(${f.errnoNumber})` : ''}`);
  else if (typeof f.code === 'string' && /^E[A-Z0-9]+$/.test(f.code)) tags.push(`errno=${f.code}${typeof f.errno === 'number' ? `(${-f.errno})` : ''}`);
  if (typeof f.kind === 'string') tags.push(`kind=${f.kind}`);
  return `${e.name}${tags.length ? ` ${tags.join(' ')}` : ''}: ${e.message.replace(/\s*\n\s*/g, ' ')}`;
}

function describeArgs(args: readonly unknown[]): string {
  let s: string;
  try {
    s = args.map((a) => (a === undefined ? 'undefined' : JSON.stringify(a))).join(' ');
  } catch {
    s = '(unprintable arguments)';
  }
  return s.length > MAX_ARGS ? `${s.slice(0, MAX_ARGS)}…` : s;
}

/** `adapter` with every method call logged to `log` (the adapter itself when `log` is off). */
export function traced<T extends object>(adapter: T, label: string, log: DebugLogger = tapstateLog): T {
  if (!log.enabled) return adapter;
  return new Proxy(adapter, {
    get(target, prop) {
      const value = Reflect.get(target, prop) as unknown;
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      const fn = (value as (...a: unknown[]) => unknown).bind(target);
      return (...args: unknown[]) => {
        const head = `${label}.${prop}${args.length ? ` ${describeArgs(args)}` : ''}`;
        const t0 = performance.now();
        const ms = () => `${(performance.now() - t0).toFixed(2)} ms`;
        let r: unknown;
        try {
          r = fn(...args);
        } catch (e) {
          log(`${head} failed ${ms()}: ${describeError(e)}`);
          throw e;
        }
        if (r instanceof Promise) {
          return r.then(
            (v: unknown) => {
              log(`${head} ok ${ms()}`);
              return v;
            },
            (e: unknown) => {
              log(`${head} failed ${ms()}: ${describeError(e)}`);
              throw e;
            },
          );
        }
        log(`${head} ok ${ms()}`);
        return r;
      };
    },
  });
}

/** Both adapters traced (see the module comment); unchanged when `NODE_DEBUG` lacks `tapstate`. */
export function tracedAdapters(a: Adapters, log: DebugLogger = tapstateLog): Adapters {
  if (!log.enabled) return a;
  return { ...a, netlink: traced(a.netlink, 'netlink', log), hypervisor: traced(a.hypervisor, 'hypervisor', log) };
}
