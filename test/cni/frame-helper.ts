/**
 * Test helper, run as its own process (it switches its thread's netns): proves that traffic
 * flows through a tapstate-cni attachment, both ways, the way a VMM would see it.
 *
 *   node frame-helper.js HOST_NETNS CONTAINER_NETNS HOST_VETH TAP QUEUES   (the config's queues; 0: single-queue)
 *
 * In HOST_NETNS it opens an AF_PACKET raw socket on the host end of the veth; in CONTAINER_NETNS
 * it opens a queue of the tap on /dev/net/tun (as a VMM does). Then
 * - veth → tap: a frame sent into the host veth arrives on the container's CNI interface, whose
 *   ingress redirects it to the tap: it is read from the tap's queue;
 * - tap → veth: a frame written to the tap's queue (the guest sending) enters the tap, whose
 *   ingress redirects it out of the CNI interface: it is captured on the host veth.
 * The veth → tap frame is also captured with a raw socket on the tap (`onTapSocket`).
 * Prints `{"vethToTap":bool,"tapToVeth":bool,"onTapSocket":bool}`.
 */
import { randomBytes } from 'node:crypto';
import koffi from 'koffi';

const libc = koffi.load('libc.so.6');
const openFn = libc.func('int open(const char *path, int flags)');
const closeFn = libc.func('int close(int fd)');
const setnsFn = libc.func('int setns(int fd, int nstype)');
const socketFn = libc.func('int socket(int domain, int type, int protocol)');
const bindFn = libc.func('int bind(int fd, void *addr, uint32_t len)');
const sendFn = libc.func('intptr_t send(int fd, void *buf, size_t len, int flags)');
const recvFn = libc.func('intptr_t recv(int fd, _Out_ void *buf, size_t len, int flags)');
const readFn = libc.func('intptr_t read(int fd, _Out_ void *buf, size_t len)');
const writeFn = libc.func('intptr_t write(int fd, void *buf, size_t len)');
const ioctlFn = libc.func('int ioctl(int fd, unsigned long request, void *arg)');
const nameToIndex = libc.func('unsigned int if_nametoindex(const char *name)');

const O_RDWR = 2;
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const CLONE_NEWNET = 0x40000000;
const AF_PACKET = 17;
const SOCK_RAW = 3;
const ETH_P_ALL_BE = 0x0300; // htons(ETH_P_ALL)
const MSG_DONTWAIT = 0x40;
const TUNSETIFF = 0x400454ca;
const TUNGETVNETHDRSZ = 0x800454d7;
const IFF_TAP = 0x0002;
const IFF_NO_PI = 0x1000;
const IFF_VNET_HDR = 0x4000;
const IFF_MULTI_QUEUE = 0x0100;
const ETHERTYPE = 0x88b5; // IEEE local experimental

const [hostNs, ctrNs, hostVeth, tap, queuesArg] = process.argv.slice(2);
if (!hostNs || !ctrNs || !hostVeth || !tap) throw new Error('usage: frame-helper HOST_NETNS CONTAINER_NETNS HOST_VETH TAP QUEUES');

const fail = (what: string): never => {
  throw new Error(`${what}: errno ${koffi.errno()}`);
};
const enter = (ns: string): void => {
  const fd = openFn(ns, O_CLOEXEC) as number;
  if (fd < 0) fail(`open ${ns}`);
  if ((setnsFn(fd, CLONE_NEWNET) as number) < 0) fail(`setns ${ns}`);
  closeFn(fd);
};

function frame(marker: string): Buffer {
  const f = Buffer.alloc(64);
  Buffer.from('ffffffffffff0200aabbccdd', 'hex').copy(f, 0);
  f.writeUInt16BE(ETHERTYPE, 12);
  f.write(marker, 14, 'latin1');
  return f;
}

const sleep = (ms: number): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** An AF_PACKET raw socket bound to `ifname` (in the current netns): sees every frame in and out. */
function rawSocket(ifname: string): number {
  const fd = socketFn(AF_PACKET, SOCK_RAW, ETH_P_ALL_BE) as number;
  if (fd < 0) fail('socket(AF_PACKET)');
  const ifindex = nameToIndex(ifname) as number;
  if (!ifindex) fail(`if_nametoindex ${ifname}`);
  const sll = Buffer.alloc(20);
  sll.writeUInt16LE(AF_PACKET, 0);
  sll.writeUInt16BE(0x0003, 2); // ETH_P_ALL
  sll.writeInt32LE(ifindex, 4);
  if ((bindFn(fd, sll, sll.length) as number) < 0) fail(`bind ${ifname}`);
  return fd;
}

// the host end: a raw socket bound to the veth
enter(hostNs);
const raw = rawSocket(hostVeth);

// the container end: a queue of the tap, as a VMM opens it
enter(ctrNs);
const q = openFn('/dev/net/tun', O_RDWR | O_NONBLOCK | O_CLOEXEC) as number;
if (q < 0) fail('open /dev/net/tun');
const ifr = Buffer.alloc(40);
ifr.write(tap, 0, 15, 'utf8');
// the flags must match the tap's: IFF_MULTI_QUEUE for a multi-queue tap (config queues ≥ 1)
ifr.writeUInt16LE(IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (Number(queuesArg ?? 0) > 0 ? IFF_MULTI_QUEUE : 0), 16);
if ((ioctlFn(q, TUNSETIFF, ifr) as number) < 0) fail(`TUNSETIFF ${tap}`);
const hdrSz = Buffer.alloc(4);
if ((ioctlFn(q, TUNGETVNETHDRSZ, hdrSz) as number) < 0) fail('TUNGETVNETHDRSZ');
const vnetHdr = Buffer.alloc(hdrSz.readInt32LE(0));
// and a raw socket on the tap itself: the redirected frame leaves through it
const tapRaw = rawSocket(tap);

const tag = randomBytes(4).toString('hex');
const inMarker = `TAPSTATE-IN-${tag}`;
const outMarker = `TAPSTATE-OUT-${tag}`;
const buf = Buffer.alloc(65536);
let vethToTap = false;
let tapToVeth = false;
let onTapSocket = false;
// the tap's carrier comes up when its first queue is attached; the kernel activates its qdisc
// shortly after (linkwatch): send again until seen, for up to 5 s
for (let i = 0; i < 50 && !(vethToTap && tapToVeth && onTapSocket); i++) {
  if (!vethToTap) sendFn(raw, frame(inMarker), 64, 0);
  if (!tapToVeth) writeFn(q, Buffer.concat([vnetHdr, frame(outMarker)]), vnetHdr.length + 64);
  sleep(100);
  for (;;) {
    const n = readFn(q, buf, buf.length) as number;
    if (n <= 0) break;
    if (buf.subarray(0, n).includes(inMarker)) vethToTap = true;
  }
  for (;;) {
    const n = recvFn(raw, buf, buf.length, MSG_DONTWAIT) as number;
    if (n <= 0) break;
    if (buf.subarray(0, n).includes(outMarker)) tapToVeth = true;
  }
  for (;;) {
    const n = recvFn(tapRaw, buf, buf.length, MSG_DONTWAIT) as number;
    if (n <= 0) break;
    if (buf.subarray(0, n).includes(inMarker)) onTapSocket = true;
  }
}
closeFn(q);
closeFn(raw);
closeFn(tapRaw);
process.stdout.write(JSON.stringify({ vethToTap, tapToVeth, onTapSocket }) + '\n');
