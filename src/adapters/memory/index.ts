/**
 * In-memory adapters: a deterministic model of the kernel ({@link MemoryKernel}) and of the
 * hypervisor ({@link MemoryHypervisor}), passing the same contract suites as the real adapters.
 */
export { MemoryKernel } from './kernel.js';
export type { AddLinkOptions, FdHolder, FdSnapshot, KernelSnapshot, MemoryKernelOptions, MemoryLinkSnapshot } from './kernel.js';
export { MemoryHypervisor } from './hypervisor.js';
export type { MemoryDevice, MemoryHypervisorOptions, MemoryNetdev } from './hypervisor.js';
