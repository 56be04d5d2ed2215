/**
 * Queue fds (and vhost fds) this process holds between `createTap` and the hypervisor taking
 * them, per endpoint: released after hand-over, rollback or settle, so none outlives an operation.
 */
import { SimulatedCrash } from '../adapters/faults.js';
import type { NetlinkAdapter } from '../adapters/netlink.js';

/** Queue fds (and vhost fds) held between createTap and the hypervisor taking them, per endpoint. */
export class FdTable {
  private readonly held = new Map<string, number[]>();
  /** The vhost fds among `held`, per endpoint. */
  private readonly vhost = new Map<string, number[]>();
  constructor(private readonly netlink: NetlinkAdapter) {}
  put(endpoint: string, fds: number[]): void {
    this.held.set(endpoint, [...(this.held.get(endpoint) ?? []), ...fds]);
  }
  /** vhost fds: held (and counted, and closed) like queue fds. */
  putVhost(endpoint: string, fds: number[]): void {
    this.put(endpoint, fds);
    this.vhost.set(endpoint, [...(this.vhost.get(endpoint) ?? []), ...fds]);
  }
  /** The queue fds held for the endpoint. */
  get(endpoint: string): number[] {
    const v = new Set(this.vhost.get(endpoint));
    return (this.held.get(endpoint) ?? []).filter((fd) => !v.has(fd));
  }
  /** The vhost fds held for the endpoint. */
  getVhost(endpoint: string): number[] {
    return this.vhost.get(endpoint) ?? [];
  }
  /**
   * Close every fd we still hold for the endpoint (after hand-over, rollback or settle). Never
   * fails the effect: on Linux close(2) releases the descriptor even when it reports an error.
   */
  async release(endpoint: string): Promise<void> {
    const fds = this.held.get(endpoint);
    if (!fds?.length) return;
    this.held.delete(endpoint);
    this.vhost.delete(endpoint);
    try {
      await this.netlink.closeFds(fds);
    } catch (e) {
      if (e instanceof SimulatedCrash) throw e;
    }
  }
  /** The endpoints we hold fds for. */
  holders(): string[] {
    return [...this.held.keys()];
  }
  /** The process died: the kernel closed them. */
  forgetAll(): void {
    this.held.clear();
    this.vhost.clear();
  }
  get count(): number {
    let n = 0;
    for (const f of this.held.values()) n += f.length;
    return n;
  }
}
