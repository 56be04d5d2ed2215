/* Baseline for test/bench/netlink.ts: the adapter's syscalls in plain C, in the caller's netns
 * (the bench starts it with `ip netns exec`, so both sides work in the same netns).
 *
 * usage: netlink_cycle cycle N NAME   -> N lines: ms per cycle (see below)
 *        netlink_cycle light N NAME   -> N lines: us per (RTM_GETLINK + RTM_SETLINK mtu) on an existing link
 *        netlink_cycle serve          -> reads commands from stdin, one answer line each, so the bench
 *                                        can interleave C and adapter rounds under the same load:
 *                                          "cycle NAME"    -> ms of one cycle
 *                                          "light N NAME"  -> N space-separated us values
 *                                          "cpu N"         -> pin to CPU N (-1: every CPU), "ok"
 *                                          "lightb N NAME" -> "WALL_US CPU_US": totals of N light pairs
 *                                          "cycleb N NAME" -> "WALL_US CPU_US": totals of N cycles
 *                                        (CPU: getrusage(RUSAGE_SELF) user + system, the counter
 *                                        Node's process.cpuUsage() reads)
 *
 * One cycle is exactly what the bench's adapter cycle does: createTap (open /dev/net/tun,
 * TUNSETIFF with IFF_MULTI_QUEUE and IFF_TUN_EXCL as the adapter sets them for queues >= 1 — a
 * multi-queue device has 256 tx queues, each with a qdisc once up —, TUNSETPERSIST, SIOCGIFINDEX
 * for the index), getLink (RTM_GETLINK),
 * setMtu (RTM_SETLINK), up, down (RTM_SETLINK), closeFds (close), deleteLink (RTM_DELLINK). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int nl;
static unsigned seq = 1;
static char rbuf[65536];

static double now_ms(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }

static void addattr(struct nlmsghdr *n, int type, const void *d, int len) {
  struct rtattr *a = (struct rtattr *)((char *)n + NLMSG_ALIGN(n->nlmsg_len));
  a->rta_type = type; a->rta_len = RTA_LENGTH(len); memcpy(RTA_DATA(a), d, len);
  n->nlmsg_len = NLMSG_ALIGN(n->nlmsg_len) + RTA_ALIGN(a->rta_len);
}

/* send, then recv until a message with our seq (data for GET, NLMSG_ERROR otherwise) */
static int talk(int type, int flags, unsigned iflags, unsigned change, const char *name, int mtu) {
  char buf[512]; memset(buf, 0, sizeof buf);
  struct nlmsghdr *n = (struct nlmsghdr *)buf;
  n->nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)); n->nlmsg_type = type;
  n->nlmsg_flags = NLM_F_REQUEST | flags; n->nlmsg_seq = ++seq;
  struct ifinfomsg *ifi = NLMSG_DATA(n); ifi->ifi_flags = iflags; ifi->ifi_change = change;
  addattr(n, IFLA_IFNAME, name, strlen(name) + 1);
  if (mtu) addattr(n, IFLA_MTU, &mtu, 4);
  if (send(nl, buf, n->nlmsg_len, 0) < 0) return -1;
  for (;;) {
    int r = recv(nl, rbuf, sizeof rbuf, 0);
    if (r < 0) return -1;
    struct nlmsghdr *h = (struct nlmsghdr *)rbuf;
    if (h->nlmsg_seq != seq) continue;
    if (h->nlmsg_type == NLMSG_ERROR) return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
    return 0;
  }
}

/* one cycle; returns ms or -1 */
static double cycle(const char *name) {
  double t0 = now_ms();
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  struct ifreq ifr; memset(&ifr, 0, sizeof ifr); strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE | IFF_TUN_EXCL; /* as the adapter for queues >= 1 (tapFlags) */
  if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETPERSIST, 1) < 0) { perror("tun"); return -1; }
  struct ifreq ix; memset(&ix, 0, sizeof ix); strncpy(ix.ifr_name, name, IFNAMSIZ - 1);
  if (ioctl(nl, SIOCGIFINDEX, &ix) < 0 || ix.ifr_ifindex <= 0) { perror("SIOCGIFINDEX"); return -1; }
  if (talk(RTM_GETLINK, 0, 0, 0, name, 0) || talk(RTM_SETLINK, NLM_F_ACK, 0, 0, name, 1400) ||
      talk(RTM_SETLINK, NLM_F_ACK, IFF_UP, IFF_UP, name, 0) || talk(RTM_SETLINK, NLM_F_ACK, 0, IFF_UP, name, 0)) { fprintf(stderr, "nl\n"); return -1; }
  close(fd);
  if (talk(RTM_DELLINK, NLM_F_ACK, 0, 0, name, 0)) { fprintf(stderr, "del\n"); return -1; }
  return now_ms() - t0;
}

/* one get + set pair; returns us or -1 */
static double light(const char *name, int i) {
  double t0 = now_ms();
  if (talk(RTM_GETLINK, 0, 0, 0, name, 0) || talk(RTM_SETLINK, NLM_F_ACK, 0, 0, name, 1400 + (i & 1))) { fprintf(stderr, "nl\n"); return -1; }
  return (now_ms() - t0) * 1000;
}

static double cpu_us(void) {
  struct rusage u; getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 + u.ru_utime.tv_usec + u.ru_stime.tv_usec;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  int one = 1; setsockopt(nl, SOL_NETLINK, NETLINK_EXT_ACK, &one, 4); setsockopt(nl, SOL_NETLINK, NETLINK_CAP_ACK, &one, 4);
  if (!strcmp(argv[1], "serve")) {
    char line[256], name[64]; int n;
    while (fgets(line, sizeof line, stdin)) {
      if (sscanf(line, "lightb %d %63s", &n, name) == 2 || sscanf(line, "cycleb %d %63s", &n, name) == 2) {
        int isCycle = line[0] == 'c';
        double c0 = cpu_us(), t0 = now_ms();
        for (int i = 0; i < n; i++) if ((isCycle ? cycle(name) : light(name, i)) < 0) return 1;
        double wall = (now_ms() - t0) * 1000, cpu = cpu_us() - c0;
        printf("%.1f %.0f\n", wall, cpu);
      } else if (sscanf(line, "cycle %63s", name) == 1) {
        double ms = cycle(name); if (ms < 0) return 1;
        printf("%.4f\n", ms);
      } else if (sscanf(line, "light %d %63s", &n, name) == 2) {
        for (int i = 0; i < n; i++) { double us = light(name, i); if (us < 0) return 1; printf(i ? " %.4f" : "%.4f", us); }
        printf("\n");
      } else if (sscanf(line, "cpu %d", &n) == 1) {
        cpu_set_t set; CPU_ZERO(&set);
        if (n < 0) { for (int c = 0; c < CPU_SETSIZE; c++) CPU_SET(c, &set); } else CPU_SET(n, &set);
        if (sched_setaffinity(0, sizeof set, &set) < 0 && n >= 0) { perror("sched_setaffinity"); return 1; }
        printf("ok\n");
      } else { fprintf(stderr, "bad command: %s", line); return 2; }
      fflush(stdout);
    }
    return 0;
  }
  if (argc < 4) return 2;
  int n = atoi(argv[2]); const char *name = argv[3];
  for (int i = 0; i < n; i++) {
    double v = !strcmp(argv[1], "cycle") ? cycle(name) : light(name, i);
    if (v < 0) return 1;
    printf("%.4f\n", v);
  }
  return 0;
}
