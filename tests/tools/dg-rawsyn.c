// SPDX-License-Identifier: GPL-2.0-only
/*
 * dg-rawsyn: opens a TCP handshake by hand, as a process with CAP_NET_RAW
 * can, without ever calling connect(): writes a SYN to ADDR:PORT (source =
 * the same loopback address) through a raw IP socket or, with --packet, as
 * an Ethernet frame on `lo` through a packet socket, then watches `lo` for
 * the listener's SYN-ACK.
 *
 *   dg-rawsyn [--packet] [--cgroup DIR] [--uid U] [--sport N] [--wait MS] ADDR PORT
 *
 * Prints "synack" (exit 0) when the listener answered, i.e. the handshake
 * got through; "nothing" (exit 1) when no SYN-ACK came within --wait (the SYN
 * was dropped); "error ..." (exit 2) otherwise. The kernel of this host
 * answers the SYN-ACK with a reset (no socket owns the source port), so the
 * SYN-ACK is the proof: it is what a hand-made handshake needs to complete.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TCP_SYN 0x02
#define TCP_ACK 0x10

static int fail(const char *what)
{
	printf("error %s: %s\n", what, strerror(errno));
	return 2;
}

static uint32_t sum16(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/* A 20-byte TCP SYN, checksummed over the pseudo-header of src/dst. */
static void build_syn(uint8_t *tcp, const void *src, const void *dst, size_t alen, uint16_t sport,
		      uint16_t dport, uint32_t seq)
{
	memset(tcp, 0, 20);
	*(uint16_t *)&tcp[0] = htons(sport);
	*(uint16_t *)&tcp[2] = htons(dport);
	*(uint32_t *)&tcp[4] = htonl(seq);
	tcp[12] = 5 << 4;		/* data offset: 5 words */
	tcp[13] = TCP_SYN;
	*(uint16_t *)&tcp[14] = htons(65535);

	uint8_t pseudo[4] = { 0, IPPROTO_TCP, 0, 20 };
	uint32_t sum = sum16(src, alen, 0);
	sum = sum16(dst, alen, sum);
	sum = sum16(pseudo, sizeof(pseudo), sum);
	sum = sum16(tcp, 20, sum);
	*(uint16_t *)&tcp[16] = fold(sum);
}

/* The IP header + SYN for ADDR:PORT from ADDR:sport; returns its length. */
static size_t build_packet(uint8_t *pkt, int family, const void *addr, uint16_t sport,
			   uint16_t dport)
{
	uint32_t seq = (uint32_t)rand();

	if (family == AF_INET) {
		memset(pkt, 0, 20);
		pkt[0] = 0x45;
		*(uint16_t *)&pkt[2] = htons(40);
		pkt[8] = 64;
		pkt[9] = IPPROTO_TCP;
		memcpy(&pkt[12], addr, 4);
		memcpy(&pkt[16], addr, 4);
		*(uint16_t *)&pkt[10] = fold(sum16(pkt, 20, 0));
		build_syn(pkt + 20, addr, addr, 4, sport, dport, seq);
		return 40;
	}
	memset(pkt, 0, 40);
	pkt[0] = 0x60;
	*(uint16_t *)&pkt[4] = htons(20);
	pkt[6] = IPPROTO_TCP;
	pkt[7] = 64;
	memcpy(&pkt[8], addr, 16);
	memcpy(&pkt[24], addr, 16);
	build_syn(pkt + 40, addr, addr, 16, sport, dport, seq);
	return 60;
}

/* Whether an Ethernet frame seen on lo is the SYN-ACK from dport to sport. */
static int is_synack(const uint8_t *f, ssize_t n, uint16_t sport, uint16_t dport)
{
	if (n < 14)
		return 0;
	uint16_t type = (uint16_t)(f[12] << 8 | f[13]);
	const uint8_t *ip = f + 14, *tcp;
	n -= 14;
	if (type == ETH_P_IP && n >= 40 && ip[9] == IPPROTO_TCP)
		tcp = ip + (ip[0] & 0xf) * 4;
	else if (type == ETH_P_IPV6 && n >= 60 && ip[6] == IPPROTO_TCP)
		tcp = ip + 40;
	else
		return 0;
	if (tcp + 14 > f + 14 + n)
		return 0;
	return ntohs(*(const uint16_t *)&tcp[0]) == dport && ntohs(*(const uint16_t *)&tcp[2]) == sport &&
	       (tcp[13] & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK);
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	const char *cgroup = NULL;
	int packet = 0, i = 1;
	long uid = -1, sport = -1, wait_ms = 1000;

	for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
		if (!strcmp(argv[i], "--packet"))
			packet = 1;
		else if (i + 1 < argc && !strcmp(argv[i], "--cgroup"))
			cgroup = argv[++i];
		else if (i + 1 < argc && !strcmp(argv[i], "--uid"))
			uid = atol(argv[++i]);
		else if (i + 1 < argc && !strcmp(argv[i], "--sport"))
			sport = atol(argv[++i]);
		else if (i + 1 < argc && !strcmp(argv[i], "--wait"))
			wait_ms = atol(argv[++i]);
		else {
			fprintf(stderr, "dg-rawsyn: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (argc - i != 2) {
		fprintf(stderr, "usage: dg-rawsyn [--packet] [--cgroup DIR] [--uid U] [--sport N] "
				"[--wait MS] ADDR PORT\n");
		return 2;
	}
	const char *addr_s = argv[i];
	uint16_t dport = (uint16_t)atoi(argv[i + 1]);
	uint8_t addr[16];
	int family = strchr(addr_s, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(family, addr_s, addr) != 1)
		return fail("address");
	srand((unsigned)(getpid() ^ time(NULL)));
	if (sport < 0)
		sport = 40000 + rand() % 20000;

	if (cgroup) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/cgroup.procs", cgroup);
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "0", 1) != 1)
			return fail("join cgroup");
		close(fd);
	}

	int lo = (int)if_nametoindex("lo");
	int watch = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (watch < 0 || !lo)
		return fail("packet socket on lo");
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				  .sll_ifindex = lo };
	if (bind(watch, (struct sockaddr *)&ll, sizeof(ll)) < 0)
		return fail("bind packet socket");

	int out;
	if (packet) {
		out = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	} else {
		/* IPPROTO_RAW: the caller writes the IP header (IP_HDRINCL) */
		out = socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	}
	if (out < 0)
		return fail("raw socket");
	/* an unprivileged identity from here on: only CAP_NET_RAW's sockets remain */
	if (uid >= 0 && (setgroups(0, NULL) < 0 || setresgid((gid_t)uid, (gid_t)uid, (gid_t)uid) < 0 ||
			 setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) < 0))
		return fail("setuid");

	uint8_t frame[14 + 60];
	size_t len = build_packet(frame + 14, family, addr, (uint16_t)sport, dport);
	ssize_t sent;
	if (packet) {
		memset(frame, 0, 12);		/* lo: all-zero MAC addresses */
		*(uint16_t *)&frame[12] = htons(family == AF_INET ? ETH_P_IP : ETH_P_IPV6);
		struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_ifindex = lo, .sll_halen = 6,
					  .sll_protocol = *(uint16_t *)&frame[12] };
		sent = sendto(out, frame, 14 + len, 0, (struct sockaddr *)&to, sizeof(to));
	} else if (family == AF_INET) {
		struct sockaddr_in to = { .sin_family = AF_INET };
		memcpy(&to.sin_addr, addr, 4);
		sent = sendto(out, frame + 14, len, 0, (struct sockaddr *)&to, sizeof(to));
	} else {
		struct sockaddr_in6 to = { .sin6_family = AF_INET6 };
		memcpy(&to.sin6_addr, addr, 16);
		sent = sendto(out, frame + 14, len, 0, (struct sockaddr *)&to, sizeof(to));
	}
	if (sent < 0)
		return fail("send SYN");

	long deadline = now_ms() + wait_ms;
	for (long left = wait_ms; left > 0; left = deadline - now_ms()) {
		struct pollfd p = { .fd = watch, .events = POLLIN };
		if (poll(&p, 1, (int)left) <= 0)
			break;
		uint8_t buf[2048];
		ssize_t n = recv(watch, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0 && is_synack(buf, n, (uint16_t)sport, dport)) {
			printf("synack\n");
			return 0;
		}
	}
	printf("nothing\n");
	return 1;
}
