/**
 * What a {@link QemuHypervisorAdapter} knows of the occupied hot-plug slots on one QMP
 * connection.
 *
 * Asking QEMU ({@link occupiedSlots}: a look at its devices, {@link DeviceCensus}, and a `qom-get`
 * or two per device not on the root bus) before every hot plug made each one cost more than the one before it. Every QMP command is also
 * expensive in QEMU 7.2: its monitor reads a command one byte per main-loop iteration, ~5 µs of
 * QEMU CPU and wall time per byte (docs/benchmarks.md). So the adapter asks once per connection,
 * then keeps the answer up to date with its own plugs and unplugs. Two things can make it stale:
 * - another plugger (a runtime hot-plugging its disks on the same root ports) took a slot it
 *   believes free (since it last asked, or since it asked a moment ago for this very hot plug):
 *   QEMU refuses the `device_add` ({@link isSlotTaken}: function 0 or another function of the
 *   slot in use), and the adapter asks again and retries once; any other refusal
 *   of a `device_add` makes it ask again at the next hot plug;
 * - a device it did not plug on this connection went away: it forgets everything and asks again
 *   next time. A slot it believes taken is also asked about again before a hot plug gives up.
 */
import type { DeviceCensus } from './device-census.js';
import { occupiedSlots } from './hotplug.js';
import type { QmpClient } from './qmp-client.js';
import type { Slot } from './topology.js';

export class SlotOccupancy {
  private known: { client: QmpClient; used: Set<string>; plugged: Map<string, string> } | undefined;

  /**
   * The occupied positions (`bus:addr` keys) on the buses of `candidates`: known for `client`, or
   * asked from QEMU when `fresh`, on a new connection, or after {@link forget}, from `census`
   * (taken once per ask, shared with controller discovery). A copy.
   */
  async used(client: QmpClient, candidates: readonly Slot[], fresh: boolean, census: () => Promise<DeviceCensus>): Promise<{ used: Set<string>; cached: boolean }> {
    const k = this.known;
    if (!fresh && k?.client === client) return { used: new Set(k.used), cached: true };
    const used = await occupiedSlots(client, candidates, await census());
    // devices this adapter plugged on this connection are where they were
    this.known = { client, used: new Set(used), plugged: k?.client === client ? k.plugged : new Map() };
    return { used, cached: false };
  }

  /** `deviceId` now sits at `key` (a `device_add` on `client` succeeded). */
  plugged(client: QmpClient, deviceId: string, key: string): void {
    const k = this.known;
    if (k?.client !== client) return;
    k.used.add(key);
    // a device we knew there is gone (a stuck unplug completed later): one entry per slot at most
    for (const [id, at] of k.plugged) if (at === key) k.plugged.delete(id);
    k.plugged.set(deviceId, key);
  }

  /** `deviceId` is gone from `client`'s QEMU: deleted now (`wasThere`), or it was not there. */
  unplugged(client: QmpClient, deviceId: string, wasThere: boolean): void {
    const k = this.known;
    if (k?.client !== client) return;
    const key = k.plugged.get(deviceId);
    if (key === undefined) {
      if (wasThere) this.known = undefined; // not plugged by us here: where it sat is unknown, so ask again
    } else {
      k.used.delete(key);
      k.plugged.delete(deviceId);
    }
  }

  /** Ask QEMU again next time. */
  forget(): void {
    this.known = undefined;
  }
}
