// SPDX-License-Identifier: GPL-2.0-only
/*
 * dg-rawsyn: opens a TCP handshake by hand, as a process with CAP_NET_RAW
 * can, without ever calling connect(): writes a SYN to ADDR:PORT (source =
 * the same loopback address) through a raw IP socket or, with --packet, as
 * an Ethernet frame on `lo` through a packet socket, then watches `lo` for
 * the listener's SYN-ACK.
 *
 *   dg-rawsyn [--packet] [--talk] [--cgroup DIR] [--uid U] [--sport N]
 *             [--seq N] [--ready FILE] [--wait MS] ADDR PORT
 *   dg-rawsyn --sniff [--cgroup DIR] [--uid U] [--ready FILE] [--wait MS] ADDR PORT
 *
 * Prints "synack" (exit 0) when the listener answered, i.e. the handshake
 * got through; "nothing" (exit 1) when no SYN-ACK came within --wait (the SYN
 * was dropped); "error ..." (exit 2) otherwise. The kernel of this host
 * answers the SYN-ACK with a reset (no socket owns the source port), so the
 * SYN-ACK is the proof: it is what a hand-made handshake needs to complete.
 * --sport and --seq pick the SYN's source port and sequence number (a
 * replay of a tuple seen on the wire).
 *
 * --talk goes on after the SYN-ACK: ACKs it and sends "ping\n", then prints
 * "talked" (exit 0) when the listener sent data back (an echo listener), or
 * "synack" (exit 1) when it did not. For that, something must keep the
 * kernel from resetting the connection: a socket on the source port that
 * drops everything (dg-probe blackhole), as an attacker would hold it.
 *
 * --sniff only watches: for the first SYN to PORT on lo, prints
 * "sport N seq S" (exit 0), the source port and initial sequence number
 * of someone else's connect(); "nothing" (exit 1) when none came.
 * --ready FILE is created once lo is being watched.
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
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TCP_SYN 0x02
#define TCP_ACK 0x10
#define TCP_PSH 0x08

/* A segment to write: ports, numbers, flags and payload. */
struct segment {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	const void *payload;
	size_t plen;
};

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

/* A TCP segment (20-byte header + payload), checksummed over the
 * pseudo-header of src/dst. */
static void build_tcp(uint8_t *tcp, const void *src, const void *dst, size_t alen,
		      const struct segment *s)
{
	memset(tcp, 0, 20);
	*(uint16_t *)&tcp[0] = htons(s->sport);
	*(uint16_t *)&tcp[2] = htons(s->dport);
	*(uint32_t *)&tcp[4] = htonl(s->seq);
	*(uint32_t *)&tcp[8] = htonl(s->ack);
	tcp[12] = 5 << 4;		/* data offset: 5 words */
	tcp[13] = s->flags;
	*(uint16_t *)&tcp[14] = htons(65535);
	memcpy(tcp + 20, s->payload, s->plen);

	size_t len = 20 + s->plen;
	uint8_t pseudo[4] = { 0, IPPROTO_TCP, (uint8_t)(len >> 8), (uint8_t)len };
	uint32_t sum = sum16(src, alen, 0);
	sum = sum16(dst, alen, sum);
	sum = sum16(pseudo, sizeof(pseudo), sum);
	sum = sum16(tcp, len, sum);
	*(uint16_t *)&tcp[16] = fold(sum);
}

/* The IP header + segment `s` from ADDR to ADDR; returns its length. */
static size_t build_packet(uint8_t *pkt, int family, const void *addr, const struct segment *s)
{
	size_t tcp_len = 20 + s->plen;

	if (family == AF_INET) {
		memset(pkt, 0, 20);
		pkt[0] = 0x45;
		*(uint16_t *)&pkt[2] = htons((uint16_t)(20 + tcp_len));
		pkt[8] = 64;
		pkt[9] = IPPROTO_TCP;
		memcpy(&pkt[12], addr, 4);
		memcpy(&pkt[16], addr, 4);
		*(uint16_t *)&pkt[10] = fold(sum16(pkt, 20, 0));
		build_tcp(pkt + 20, addr, addr, 4, s);
		return 20 + tcp_len;
	}
	memset(pkt, 0, 40);
	pkt[0] = 0x60;
	*(uint16_t *)&pkt[4] = htons((uint16_t)tcp_len);
	pkt[6] = IPPROTO_TCP;
	pkt[7] = 64;
	memcpy(&pkt[8], addr, 16);
	memcpy(&pkt[24], addr, 16);
	build_tcp(pkt + 40, addr, addr, 16, s);
	return 40 + tcp_len;
}

/* A TCP segment seen on lo: its ports, numbers, flags and payload length. */
struct seen {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	size_t plen;
};

/* Parses an Ethernet frame seen on lo; false when it is not TCP. */
static bool parse_frame(const uint8_t *f, ssize_t n, struct seen *out)
{
	if (n < 14)
		return false;
	uint16_t type = (uint16_t)(f[12] << 8 | f[13]);
	const uint8_t *ip = f + 14, *tcp;
	size_t ip_len;
	n -= 14;
	if (type == ETH_P_IP && n >= 40 && ip[9] == IPPROTO_TCP) {
		tcp = ip + (ip[0] & 0xf) * 4;
		ip_len = (size_t)(ip[2] << 8 | ip[3]);
	} else if (type == ETH_P_IPV6 && n >= 60 && ip[6] == IPPROTO_TCP) {
		tcp = ip + 40;
		ip_len = 40 + (size_t)(ip[4] << 8 | ip[5]);
	} else {
		return false;
	}
	if (tcp + 20 > f + 14 + n || ip_len > (size_t)n)
		return false;
	size_t hdr = (size_t)(tcp[12] >> 4) * 4;
	if ((size_t)(tcp - ip) + hdr > ip_len)
		return false;
	out->sport = ntohs(*(const uint16_t *)&tcp[0]);
	out->dport = ntohs(*(const uint16_t *)&tcp[2]);
	out->seq = ntohl(*(const uint32_t *)&tcp[4]);
	out->ack = ntohl(*(const uint32_t *)&tcp[8]);
	out->flags = tcp[13];
	out->plen = ip_len - (size_t)(tcp - ip) - hdr;
	return true;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Where segments go out (a raw IP or a packet socket) and are watched (lo). */
struct wire {
	int watch, out, lo, family;
	bool packet;
	uint8_t addr[16];
};

static int send_segment(const struct wire *w, const struct segment *s)
{
	uint8_t frame[14 + 40 + 20 + 64];
	size_t len = build_packet(frame + 14, w->family, w->addr, s);

	if (w->packet) {
		memset(frame, 0, 12);		/* lo: all-zero MAC addresses */
		*(uint16_t *)&frame[12] = htons(w->family == AF_INET ? ETH_P_IP : ETH_P_IPV6);
		struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_ifindex = w->lo, .sll_halen = 6,
					  .sll_protocol = *(uint16_t *)&frame[12] };
		return sendto(w->out, frame, 14 + len, 0, (struct sockaddr *)&to, sizeof(to)) < 0 ? -1 : 0;
	}
	if (w->family == AF_INET) {
		struct sockaddr_in to = { .sin_family = AF_INET };
		memcpy(&to.sin_addr, w->addr, 4);
		return sendto(w->out, frame + 14, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0 ? -1 : 0;
	}
	struct sockaddr_in6 to = { .sin6_family = AF_INET6 };
	memcpy(&to.sin6_addr, w->addr, 16);
	return sendto(w->out, frame + 14, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0 ? -1 : 0;
}

enum want { WANT_SYN, WANT_SYNACK, WANT_DATA };

/* Waits up to `ms` for a segment on lo: WANT_SYN, a SYN to `dport` from any
 * port; WANT_SYNACK / WANT_DATA, the listener's SYN-ACK / a segment with
 * data from `dport` to `sport`. */
static bool await_segment(const struct wire *w, long ms, enum want want, uint16_t sport,
			  uint16_t dport, struct seen *got)
{
	long deadline = now_ms() + ms;

	for (long left = ms; left > 0; left = deadline - now_ms()) {
		struct pollfd p = { .fd = w->watch, .events = POLLIN };
		if (poll(&p, 1, (int)left) <= 0)
			return false;
		uint8_t buf[2048];
		ssize_t n = recv(w->watch, buf, sizeof(buf), MSG_DONTWAIT);
		if (n <= 0 || !parse_frame(buf, n, got))
			continue;
		uint8_t syn_ack = got->flags & (TCP_SYN | TCP_ACK);
		if (want == WANT_SYN && got->dport == dport && syn_ack == TCP_SYN)
			return true;
		if (want != WANT_SYN && (got->sport != dport || got->dport != sport))
			continue;
		if (want == WANT_SYNACK && syn_ack == (TCP_SYN | TCP_ACK))
			return true;
		if (want == WANT_DATA && got->plen > 0)
			return true;
	}
	return false;
}

/* After a SYN-ACK: completes the handshake and sends a line; true when the
 * listener sent data back (an echo listener: the line). */
static bool talk(const struct wire *w, const struct segment *syn, const struct seen *synack,
		 long wait_ms)
{
	static const char line[] = "ping\n";
	struct segment s = *syn;
	struct seen got;

	s.seq = syn->seq + 1;
	s.ack = synack->seq + 1;
	s.flags = TCP_ACK;
	if (send_segment(w, &s) < 0)
		return false;
	s.flags = TCP_ACK | TCP_PSH;
	s.payload = line;
	s.plen = sizeof(line) - 1;
	if (send_segment(w, &s) < 0)
		return false;
	return await_segment(w, wait_ms, WANT_DATA, syn->sport, syn->dport, &got);
}

int main(int argc, char **argv)
{
	const char *cgroup = NULL, *ready = NULL;
	bool sniff = false, do_talk = false, packet = false;
	int i = 1;
	long uid = -1, sport = -1, wait_ms = 1000;
	long long seq = -1;

	for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
		if (!strcmp(argv[i], "--packet"))
			packet = true;
		else if (!strcmp(argv[i], "--sniff"))
			sniff = true;
		else if (!strcmp(argv[i], "--talk"))
			do_talk = true;
		else if (i + 1 < argc && !strcmp(argv[i], "--cgroup"))
			cgroup = argv[++i];
		else if (i + 1 < argc && !strcmp(argv[i], "--ready"))
			ready = argv[++i];
		else if (i + 1 < argc && !strcmp(argv[i], "--uid"))
			uid = atol(argv[++i]);
		else if (i + 1 < argc && !strcmp(argv[i], "--sport"))
			sport = atol(argv[++i]);
		else if (i + 1 < argc && !strcmp(argv[i], "--seq"))
			seq = atoll(argv[++i]);
		else if (i + 1 < argc && !strcmp(argv[i], "--wait"))
			wait_ms = atol(argv[++i]);
		else {
			fprintf(stderr, "dg-rawsyn: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (argc - i != 2) {
		fprintf(stderr, "usage: dg-rawsyn [--sniff] [--packet] [--talk] [--cgroup DIR] [--uid U] "
				"[--sport N] [--seq N] [--ready FILE] [--wait MS] ADDR PORT\n");
		return 2;
	}
	struct wire w = { .out = -1 };
	const char *addr_s = argv[i];
	uint16_t dport = (uint16_t)atoi(argv[i + 1]);
	w.family = strchr(addr_s, ':') ? AF_INET6 : AF_INET;
	w.packet = packet;
	if (inet_pton(w.family, addr_s, w.addr) != 1)
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

	w.lo = (int)if_nametoindex("lo");
	w.watch = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (w.watch < 0 || !w.lo)
		return fail("packet socket on lo");
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				  .sll_ifindex = w.lo };
	if (bind(w.watch, (struct sockaddr *)&ll, sizeof(ll)) < 0)
		return fail("bind packet socket");
	if (!sniff) {
		/* IPPROTO_RAW: the caller writes the IP header (IP_HDRINCL) */
		w.out = packet ? socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0)
			       : socket(w.family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
		if (w.out < 0)
			return fail("raw socket");
	}
	if (ready) {
		int fd = open(ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			return fail("ready file");
		close(fd);
	}
	/* an unprivileged identity from here on: only CAP_NET_RAW's sockets remain */
	if (uid >= 0 && (setgroups(0, NULL) < 0 || setresgid((gid_t)uid, (gid_t)uid, (gid_t)uid) < 0 ||
			 setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) < 0))
		return fail("setuid");

	struct seen got;
	if (sniff) {
		if (!await_segment(&w, wait_ms, WANT_SYN, 0, dport, &got)) {
			printf("nothing\n");
			return 1;
		}
		printf("sport %u seq %u\n", got.sport, got.seq);
		return 0;
	}

	struct segment syn = { .sport = (uint16_t)sport, .dport = dport, .flags = TCP_SYN,
			       .seq = seq >= 0 ? (uint32_t)seq : (uint32_t)rand() };
	if (send_segment(&w, &syn) < 0)
		return fail("send SYN");
	if (!await_segment(&w, wait_ms, WANT_SYNACK, syn.sport, dport, &got)) {
		printf("nothing\n");
		return 1;
	}
	if (!do_talk) {
		printf("synack\n");
		return 0;
	}
	if (!talk(&w, &syn, &got, wait_ms)) {
		printf("synack\n");
		return 1;
	}
	printf("talked\n");
	return 0;
}
