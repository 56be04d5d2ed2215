/**
 * Child process of test/qemu/getfd-crash.test.ts (run from dist/ after the build): create a store,
 * hot-attach one multi-queue endpoint against a real QEMU, and die by SIGKILL right after the
 * first `getfd` of the hot plug answered — before netdev_add took the fd.
 *
 * argv: <store dir> <netns path> <qmp socket> <queues>
 */
import { SimulatedCrash } from '../../src/adapters/faults.js';
import { LinuxNetlinkAdapter } from '../../src/linux/adapter.js';
import { FileLogStore } from '../../src/log/index.js';
import { QemuHypervisorAdapter } from '../../src/qemu/adapter.js';
import { Tapstore, type SandboxConfig } from '../../src/runtime/tapstore.js';

const [dir, netnsPath, qmpPath, queues] = process.argv.slice(2) as [string, string, string, string];
const sandbox: SandboxConfig = { netnsPath, netnsCreated: true, vcpus: Number(queues), vhost: false, qmp: qmpPath };
const log = FileLogStore.create(dir, { sandbox });
let getfds = 0;
const hypervisor = new QemuHypervisorAdapter({
  qmpPath,
  qmpFaults: (c) => (c.method === 'getfd' && getfds++ === 0 ? 'crash-after' : 'ok'),
});
const store = await Tapstore.open({ log, adapters: { netlink: new LinuxNetlinkAdapter(), hypervisor } });
store.createEndpoint({ idx: 0, mac: '02:00:00:0f:d0:01' });
try {
  await store.hotAttach('ep0');
  process.stdout.write('no crash\n');
  process.exit(3);
} catch (e) {
  if (!(e instanceof SimulatedCrash)) throw e;
  process.stdout.write(`${e.message}\n`);
  process.kill(process.pid, 'SIGKILL'); // a real death: nothing else runs, the kernel closes our fds
}
