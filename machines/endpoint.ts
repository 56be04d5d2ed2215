/**
 * The TuntapEndpoint lifecycle as an XState v5 machine: pure and deterministic. Every effect is an
 * invoked promise actor with a string `src` (see `effects.ts`); the machine never runs one itself —
 * the tapstate runtime interprets the `xstate.spawnChild` actions that `transition()` returns,
 * journals them and feeds the outcome back as `xstate.done.actor.<id>` / `xstate.error.actor.<id>`.
 *
 * States: `created` → `hotAttach.*` → `hotAttached` | `attach.*` → `attached`;
 * `teardown.*` (unplug → removeTc → lookupTap → setDown → deleteTap, each only when needed) leads to
 * `detached` (final), back to `created` (a rolled-back attach) or to `dirty` (something is left
 * that a later `CLEANUP`/`DETACH` must remove).
 */
import { assign, fromPromise, setup, type AnyEventObject } from 'xstate';
import { produce } from 'immer';
import { resolveEndpointInput, type EndpointInput } from './endpoint-input.js';
import { NOTHING, type EffectFailure, type EffectSrc, type EffectTypes } from './effects.js';
import {
  ATTACH_STEPS,
  HOT_ATTACH_STEPS,
  STEPS,
  TEARDOWN_STEPS,
  forwardFailed,
  nextTeardown,
  teardownFailed,
  type EndpointContext,
  type ForwardStep,
  type Operation,
  type TeardownStep,
} from './steps.js';

/** Commands a caller can send. */
export type EndpointCommand =
  | { type: 'HOT_ATTACH' }
  | { type: 'ATTACH' }
  | { type: 'HOT_DETACH' }
  | { type: 'DETACH' }
  /** Retry the teardown of whatever a failed operation left behind. */
  | { type: 'CLEANUP' }
  /**
   * A loaded (persist.json) endpoint whose tap and device are assumed to exist. `takeover`: the
   * NIC was plugged by someone else (upstream's runtime), whose device id is not persisted: the
   * netdev is `br<idx>_kata` (upstream's NetPair.TapInterface.Name) and the device is found by
   * its MAC (TAPIface.HardAddr) when it is unplugged.
   */
  | { type: 'ADOPT'; takeover?: boolean };

export const COMMAND_TYPES: ReadonlySet<string> = new Set(['HOT_ATTACH', 'ATTACH', 'HOT_DETACH', 'DETACH', 'CLEANUP', 'ADOPT']);

/** The effects declared to XState. They only run inside the tapstate runtime, never here. */
const notHere = (src: EffectSrc) =>
  fromPromise<never, unknown>(async () => {
    throw new Error(`effect ${src} runs in the tapstate runtime, not inside the machine`);
  });
const actors = Object.fromEntries(
  (Object.keys({
    'netlink.createTap': 0,
    'netlink.getLink': 0,
    'netlink.getTap': 0,
    'netlink.setMtu': 0,
    'netlink.setUp': 0,
    'netlink.deleteLink': 0,
    'netlink.addIngressQdisc': 0,
    'netlink.deleteIngressQdisc': 0,
    'netlink.addRedirect': 0,
    'hypervisor.hotplug': 0,
    'hypervisor.hotunplug': 0,
    'hypervisor.coldplug': 0,
  } satisfies Record<keyof EffectTypes, 0>) as EffectSrc[]).map((s) => [s, notHere(s)]),
) as Record<EffectSrc, ReturnType<typeof notHere>>;

/** The context a fresh endpoint starts with. */
export function initialContext(input: EndpointInput): EndpointContext {
  const r = resolveEndpointInput(input);
  return {
    ...r,
    netdevId: `net-${r.id}`,
    deviceId: `virtio-net-${r.id}`,
    op: null,
    goal: null,
    progress: { ...NOTHING },
    origMtu: null,
    hardAddr: r.hwAddr,
    pciPath: '',
    coldplugArgs: [],
    error: null,
    warnings: [],
    leftToNetnsOwner: false,
    tapVerified: false,
  };
}

type Reduce = (c: EndpointContext, e: AnyEventObject) => EndpointContext;
type End = 'created' | 'detached' | 'dirty';
const ENDS: readonly End[] = ['created', 'detached', 'dirty'];
const targetOf = (t: TeardownStep | End): string => (ENDS.includes(t as End) ? `#endpoint.${t}` : `#endpoint.teardown.${t}`);

/** Transitions into teardown: the guard evaluates the context the actions will produce. */
// The generated configs are typed by the step table; XState's per-event config types cannot
// follow a generated array, so they cross this boundary untyped.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Generated = any;

function route(reduceOnce: Reduce, after: TeardownStep | null): Generated {
  // XState evaluates the guards in order and then the chosen actions with the same context and
  // event objects: compute the resulting context once per (context, event). Pure memoisation.
  let lastC: EndpointContext | undefined;
  let lastE: AnyEventObject | undefined;
  let lastR: EndpointContext | undefined;
  const reduce: Reduce = (c, e) => {
    if (c !== lastC || e !== lastE) {
      lastR = reduceOnce(c, e);
      lastC = c;
      lastE = e;
    }
    return lastR!;
  };
  return [...TEARDOWN_STEPS, ...ENDS].map((t) => ({
    guard: ({ context, event }: { context: EndpointContext; event: AnyEventObject }) => nextTeardown(reduce(context, event), after) === t,
    target: targetOf(t),
    actions: assign(({ context, event }: { context: EndpointContext; event: AnyEventObject }) => reduce(context, event)),
  }));
}

const failureOf = (e: AnyEventObject): EffectFailure => {
  const err = (e as { error?: unknown }).error;
  if (err && typeof err === 'object' && 'message' in err) return err as EffectFailure;
  return { name: 'Error', message: String(err) };
};

const begin =
  (op: Operation, goal: 'rollback' | 'detach' | null): Reduce =>
  (c) =>
    produce(c, (d) => {
      d.op = op;
      if (goal) d.goal = goal;
      d.error = null;
      d.warnings = [];
      d.tapVerified = false;
      // upstream's "netns not ours" rule belongs to Detach: a DETACH (also from `dirty`) decides
      // it afresh, a CLEANUP keeps what the interrupted operation decided, anything else drops it
      if (op === 'detach') d.leftToNetnsOwner = !c.netnsCreated && c.netnsPath !== '';
      else if (op !== 'cleanup') d.leftToNetnsOwner = false;
      if (goal === 'detach') {
        // a cold-plugged NIC lives in the VMM's command line and goes with the VM
        d.progress.coldplugged = false;
        d.coldplugArgs = [];
      }
    });

/** The forward steps of one attach operation as nested effect states. */
function attachStates(op: 'hotAttach' | 'attach', steps: readonly ForwardStep[], done: string): Generated {
  return Object.fromEntries(
    steps.map((step, i) => {
      const spec = STEPS[step];
      const next = i + 1 < steps.length ? `#endpoint.${op}.${steps[i + 1]}` : done;
      return [
        step,
        {
          invoke: {
            id: `${op}.${step}`,
            src: spec.src,
            input: ({ context }: { context: EndpointContext }) => spec.input(context),
            onDone: {
              target: next,
              actions: assign(({ context, event }: { context: EndpointContext; event: AnyEventObject }) =>
                spec.done(context, (event as { output?: unknown }).output),
              ),
            },
            onError: route((c, e) => forwardFailed(c, step, failureOf(e)), null),
          },
        },
      ];
    }),
  );
}

const teardownStates: Generated = Object.fromEntries(
  TEARDOWN_STEPS.map((step) => {
    const spec = STEPS[step];
    return [
      step,
      {
        invoke: {
          id: `teardown.${step}`,
          src: spec.src,
          input: ({ context }: { context: EndpointContext }) => spec.input(context),
          onDone: route((c, e) => spec.done(c, (e as { output?: unknown }).output), step),
          onError: route((c, e) => teardownFailed(c, step, failureOf(e)), step),
        },
      },
    ];
  }),
);

/** upstream Detach: `!netNsCreated && netNsPath != ""` → the netns owner's deletion removes the tap (see `begin`). */
const detachCommand: Generated = route(begin('detach', 'detach'), null);
const hotDetachCommand = route(begin('hotDetach', 'detach'), null);

export const endpointMachine = setup({
  types: {
    context: {} as EndpointContext,
    events: {} as EndpointCommand,
    input: {} as EndpointInput,
  },
  actors,
}).createMachine({
  id: 'endpoint',
  // The context factory runs on every transition() call: pure, and tolerant of a missing input.
  context: ({ input }) => (input ? initialContext(input) : (undefined as unknown as EndpointContext)),
  initial: 'created',
  states: {
    created: {
      on: {
        HOT_ATTACH: { target: 'hotAttach', actions: assign(({ context, event }) => begin('hotAttach', null)(context, event)) },
        ATTACH: [
          {
            guard: ({ context }) => context.model === 'none',
            actions: assign(({ context, event }) =>
              produce(begin('attach', null)(context, event), (d) => {
                d.error = {
                  op: 'attach',
                  step: 'model',
                  message: 'Invalid internetworking model',
                  cause: { name: 'EndpointError', message: 'Invalid internetworking model' },
                };
              }),
            ),
          },
          { target: 'attach', actions: assign(({ context, event }) => begin('attach', null)(context, event)) },
        ],
        HOT_DETACH: hotDetachCommand,
        DETACH: detachCommand,
        ADOPT: {
          target: 'hotAttached',
          actions: assign(({ context, event }) =>
            produce(context, (d) => {
              d.op = 'hotAttach';
              d.hardAddr = d.hardAddr || d.mac;
              d.progress = { ...NOTHING, tap: true, up: true, plugged: true };
              if ((event as { takeover?: unknown }).takeover === true) {
                d.netdevId = `br${d.idx}_kata`;
                d.deviceId = '';
              }
            }),
          ),
        },
      },
    },
    hotAttach: { initial: 'createTap', states: attachStates('hotAttach', HOT_ATTACH_STEPS, '#endpoint.hotAttached') },
    hotAttached: { on: { HOT_DETACH: hotDetachCommand, DETACH: detachCommand } },
    attach: { initial: 'createTap', states: attachStates('attach', ATTACH_STEPS, '#endpoint.attached') },
    attached: { on: { DETACH: detachCommand, HOT_DETACH: hotDetachCommand } },
    teardown: { initial: 'unplug', states: teardownStates },
    dirty: {
      on: {
        CLEANUP: route(begin('cleanup', null), null),
        DETACH: detachCommand,
        HOT_DETACH: hotDetachCommand,
      },
    },
    detached: { type: 'final' },
  },
});

export type EndpointMachine = typeof endpointMachine;
