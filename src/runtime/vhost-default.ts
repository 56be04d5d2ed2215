/**
 * The vhost-net default. Upstream always asks for vhost (`DisableVhostNet` false) unless rootless;
 * tapstate turns it on only when `/dev/vhost-net` exists, since QEMU aborts on a vhost netdev
 * without it (docs/divergences.md). `tapstate init` records the choice in the store; a library
 * SandboxConfig without `vhost` gets it when the store opens.
 */
import * as fs from 'node:fs';

/** Does /dev/vhost-net exist on this host? (`exists`: the check, replaceable in tests.) */
export function vhostNetPresent(exists: (path: string) => boolean = fs.existsSync): boolean {
  // the path lives in the function, not in a module constant: a mutant of it is then not "static"
  // (evaluated once at load), so StrykerJS runs the tests that call this function against it
  return exists('/dev/vhost-net');
}
