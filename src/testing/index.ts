/**
 * `tapstate/testing`: helpers for testing code built on tapstate — fault injection for any
 * adapter ({@link withFaults}, {@link SimulatedCrash}), crash injection into a log store
 * ({@link AppendHook}), the in-memory kernel, hypervisor and log (with their own failure knobs),
 * and builders of the actor events a machine spec feeds the machine. Not for production code.
 */
export { withFaults, SimulatedCrash, type FaultPlan, type FaultAction, type FaultCall } from '../adapters/faults.js';
export type { AppendHook } from '../log/store.js';
export { MemoryLogMedium, MemoryLogStore } from '../log/memory-store.js';
export { MemoryKernel, MemoryHypervisor } from '../adapters/memory/index.js';
export type { AddLinkOptions, FdHolder, FdSnapshot, KernelSnapshot, MemoryKernelOptions, MemoryLinkSnapshot, MemoryDevice, MemoryHypervisorOptions, MemoryNetdev } from '../adapters/memory/index.js';
export { doneEvent, errorEvent, type DoneActorEvent, type ErrorActorEvent } from './actor-events.js';
