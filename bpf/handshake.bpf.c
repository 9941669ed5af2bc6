// SPDX-License-Identifier: GPL-2.0-only
/*
 * Handshakes: only judged connects reach a protected listener (sockops and
 * cgroup_skb/ingress), and the wildcard listeners that make an endpoint
 * wider than its address are counted (sockops). See "Handshakes" and
 * "Listeners" in dockguard_abi.h.
 */
#include "tcp_endpoint.h"
#include "verdict.h"

#define AF_INET_FAMILY		2
#define AF_INET6_FAMILY		10
#define IPPROTO_TCP_NUM		6
#define TCP_FLAG_SYN		0x02
#define TCP_FLAG_ACK		0x10
#define SK_PASS			1
#define SK_DROP			0

static __always_inline void set_mapped4(__u8 *addr, __u32 ip4)
{
	((__u32 *)addr)[0] = 0;
	((__u32 *)addr)[1] = 0;
	((__u32 *)addr)[2] = bpf_htonl(0xffff);
	((__u32 *)addr)[3] = ip4;
}

/* The 4-tuple of the connect a sock_ops callback is about. */
static __always_inline void sockops_conn_key(struct bpf_sock_ops *skops, struct dg_conn_key *key)
{
	bool v4 = skops->family == AF_INET_FAMILY ||
		  (skops->remote_ip6[0] == 0 && skops->remote_ip6[1] == 0 &&
		   skops->remote_ip6[2] == bpf_htonl(0xffff));

	if (v4) {
		/* also an IPv6 socket connecting to ::ffff:a.b.c.d: its IPv6
		 * source may not be set yet, its IPv4 one is */
		set_mapped4(key->saddr, skops->local_ip4);
		set_mapped4(key->daddr, skops->remote_ip4);
	} else {
		/* constant offsets: the verifier refuses a ctx pointer moved by a loop */
		((__u32 *)key->saddr)[0] = skops->local_ip6[0];
		((__u32 *)key->saddr)[1] = skops->local_ip6[1];
		((__u32 *)key->saddr)[2] = skops->local_ip6[2];
		((__u32 *)key->saddr)[3] = skops->local_ip6[3];
		((__u32 *)key->daddr)[0] = skops->remote_ip6[0];
		((__u32 *)key->daddr)[1] = skops->remote_ip6[1];
		((__u32 *)key->daddr)[2] = skops->remote_ip6[2];
		((__u32 *)key->daddr)[3] = skops->remote_ip6[3];
	}
	key->sport = (__u16)skops->local_port;
	key->dport = (__u16)bpf_ntohl(skops->remote_port);
}

/* The TCP socket a sock_ops callback is about, NULL when it has none. */
static __always_inline struct tcp_sock *skops_tcp_sock(struct bpf_sock_ops *skops)
{
	struct bpf_sock *sk = skops->sk;

	return sk ? bpf_skc_to_tcp_sock(sk) : NULL;
}

/* Whether an IPv6 socket takes IPv6 only (IPV6_V6ONLY); false when unknown,
 * so that a [::] listener then counts for both families (judged more). */
static __always_inline bool sock_v6only(struct bpf_sock_ops *skops)
{
	struct tcp_sock *tp = skops_tcp_sock(skops);
	struct sock_common *skc;

	if (!tp)
		return false;
	skc = &tp->inet_conn.icsk_inet.sk.__sk_common;
	return BPF_CORE_READ_BITFIELD_PROBED(skc, skc_ipv6only);
}

/* The families whose every address a listening socket takes (DG_WILD_*):
 * bound to 0.0.0.0, [::] (both, unless IPV6_V6ONLY) or ::ffff:0.0.0.0. */
static __always_inline __u32 wildcard_families(struct bpf_sock_ops *skops)
{
	if (skops->family == AF_INET_FAMILY)
		return skops->local_ip4 == 0 ? DG_WILD_V4 : 0;
	if (skops->family != AF_INET6_FAMILY || skops->local_ip6[0] || skops->local_ip6[1] ||
	    skops->local_ip6[3])
		return 0;
	if (skops->local_ip6[2] == bpf_htonl(0xffff))
		return DG_WILD_V4;
	if (skops->local_ip6[2])
		return 0;
	return sock_v6only(skops) ? DG_WILD_V6 : DG_WILD_V4 | DG_WILD_V6;
}

/* Adds `sign` (1 or -1) times `families` to the port's wildcard listeners. */
static __always_inline void count_listener(__u32 port, __u32 families, int sign)
{
	struct dg_listen_count *n = bpf_map_lookup_elem(&wild_listeners, &port);

	if (!n)
		return;
	if (families & DG_WILD_V4)
		__sync_fetch_and_add(&n->v4, sign);
	if (families & DG_WILD_V6)
		__sync_fetch_and_add(&n->v6, sign);
}

/*
 * A socket starts listening (LISTEN_CB) or a counted listener changes state
 * (STATE_CB, armed for counted listeners only): keeps `wild_listeners`
 * exact for the wildcard listeners of the host's network namespace.
 */
static __always_inline void track_listener(struct bpf_sock_ops *skops, __u32 op)
{
	struct bpf_sock *sk = skops->sk;
	struct dg_listen_mark *mark;
	struct dg_config *cfg;
	__u32 families;

	if (!sk)
		return;
	if (op == BPF_SOCK_OPS_STATE_CB) {
		if (skops->args[0] != BPF_TCP_LISTEN)
			return;
		mark = bpf_sk_storage_get(&listener_marks, sk, 0, 0);
		if (!mark || !mark->families)
			return;
		count_listener(mark->port, mark->families, -1);
		mark->families = 0;
		return;
	}
	active_slot(&cfg);
	if (!cfg || bpf_get_netns_cookie(skops) != cfg->host_netns_cookie)
		return;
	families = wildcard_families(skops);
	if (!families)
		return;
	mark = bpf_sk_storage_get(&listener_marks, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!mark || mark->families)
		return;
	mark->port = (__u16)skops->local_port;
	mark->families = (__u8)families;
	count_listener(mark->port, families, 1);
	bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
}

/* The initial sequence number of a socket about to send its SYN
 * (TCP_CONNECT_CB runs before tcp_connect() takes it for the SYN). */
static __always_inline bool connect_isn(struct bpf_sock_ops *skops, __u32 *isn)
{
	struct tcp_sock *tp = skops_tcp_sock(skops);

	if (!tp)
		return false;
	*isn = BPF_CORE_READ(tp, write_seq);
	return true;
}

/*
 * A connect to a relay: the identity its connect hook left on the socket
 * goes under the tuple the relay will accept (see "Relay callers" in
 * dockguard_abi.h). Another socket's live record of the same tuple makes
 * both untrusted.
 */
static __noinline void record_relay_caller(struct bpf_sock_ops *skops, const struct dg_conn_key *key,
					   const struct dg_handshake *rec)
{
	struct dg_tcp_caller *m, *old;
	struct bpf_sock *sk;

	if (!skops || !key || !rec)
		return;
	sk = skops->sk;
	if (!sk)
		return;
	m = bpf_sk_storage_get(&caller_marks, sk, 0, 0);
	if (!m)
		return;
	m->sent_ns = rec->sent_ns;
	m->sock_cookie = rec->sock_cookie;
	m->netns_cookie = rec->netns_cookie;
	m->flags &= ~DG_CALLER_CONFLICT;
	old = bpf_map_lookup_elem(&relay_callers, key);
	if (old && old->sock_cookie != m->sock_cookie &&
	    m->sent_ns - old->sent_ns < DG_CALLER_TTL_NS)
		m->flags |= DG_CALLER_CONFLICT;
	bpf_map_update_elem(&relay_callers, key, m, BPF_ANY);
}

/*
 * Records a connect() the connect hooks let through to a protected
 * endpoint, when its SYN is about to be sent. Connects the connect hooks do
 * not judge (a loopback endpoint's port in another network namespace) are
 * not recorded, so that their tuples cannot be replayed by hand in the
 * host's namespace.
 */
static __always_inline void record_handshake(struct bpf_sock_ops *skops)
{
	struct dg_handshake rec = {};
	struct dg_conn_key key = {};
	struct dg_tcp_key dest = {};
	struct dg_config *cfg;
	struct dg_port *pi;
	bool host_only = false;
	__u32 slot, ep;

	pi = protected_port(bpf_ntohl(skops->remote_port) & 0xffff);
	if (!pi)
		return;
	slot = active_slot(&cfg);
	if (!cfg)
		return;
	sockops_conn_key(skops, &key);
	__builtin_memcpy(dest.addr, key.daddr, sizeof(dest.addr));
	dest.port = key.dport;
	ep = tcp_endpoint(&dest, pi, DG_OP_CONNECT, slot, &host_only);
	if (!ep)
		return;
	rec.netns_cookie = bpf_get_netns_cookie(skops);
	if (host_only && rec.netns_cookie != cfg->host_netns_cookie)
		return;
	if (!connect_isn(skops, &rec.isn))
		return;		/* unrecorded: its SYN is dropped */
	rec.sock_cookie = bpf_get_socket_cookie(skops);
	rec.sent_ns = bpf_ktime_get_boot_ns();
	bpf_map_update_elem(&handshakes, &key, &rec, BPF_ANY);
	if (relay_endpoint(slot, ep))
		record_relay_caller(skops, &key, &rec);
	/* to hear when the socket leaves SYN_SENT */
	bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
}

/* A recorded socket left SYN_SENT (established, refused, timed out or
 * closed): no SYN of it is due any more. */
static __always_inline void forget_handshake(struct bpf_sock_ops *skops)
{
	struct dg_conn_key key = {};
	struct dg_handshake *rec;

	if (!protected_port(bpf_ntohl(skops->remote_port) & 0xffff))
		return;
	sockops_conn_key(skops, &key);
	rec = bpf_map_lookup_elem(&handshakes, &key);
	if (rec && rec->sock_cookie == bpf_get_socket_cookie(skops))
		bpf_map_delete_elem(&handshakes, &key);
}

/*
 * The TCP events dockguard follows: connects to protected endpoints (see
 * "Handshakes" in dockguard_abi.h) and wildcard listeners ("Listeners").
 */
SEC("sockops")
int dg_sockops(struct bpf_sock_ops *skops)
{
	switch (skops->op) {
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
		record_handshake(skops);
		break;
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		forget_handshake(skops);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		if (skops->args[0] == BPF_TCP_SYN_SENT)
			forget_handshake(skops);
		else
			track_listener(skops, BPF_SOCK_OPS_STATE_CB);
		break;
	case BPF_SOCK_OPS_TCP_LISTEN_CB:
		track_listener(skops, BPF_SOCK_OPS_TCP_LISTEN_CB);
		break;
	}
	return 1;
}

/* A SYN's 4-tuple and sequence number, from its IPv4 or IPv6 and TCP
 * headers; false when the packet cannot be parsed (it is then dropped: it
 * goes to a protected listener). *syn: SYN set, ACK clear. */
static __always_inline bool packet_conn_key(struct __sk_buff *skb, struct dg_conn_key *key,
					    bool *syn, __u32 *seq, __u32 *family)
{
	__u8 tcp[14];
	__u32 off;

	if (skb->protocol == bpf_htons(0x0800)) {
		__u8 ip[20];

		if (bpf_skb_load_bytes(skb, 0, ip, sizeof(ip)))
			return false;
		if (ip[9] != IPPROTO_TCP_NUM)
			return false;
		off = (ip[0] & 0xf) * 4;
		set_mapped4(key->saddr, *(__u32 *)&ip[12]);
		set_mapped4(key->daddr, *(__u32 *)&ip[16]);
		*family = DG_FAMILY_INET;
	} else if (skb->protocol == bpf_htons(0x86dd)) {
		__u8 ip6[40];
		__u8 next;

		if (bpf_skb_load_bytes(skb, 0, ip6, sizeof(ip6)))
			return false;
		__builtin_memcpy(key->saddr, &ip6[8], 16);
		__builtin_memcpy(key->daddr, &ip6[24], 16);
		next = ip6[6];
		off = 40;
		/* extension headers before TCP: hop-by-hop, routing, dest opts */
		for (int i = 0; i < 4 && next != IPPROTO_TCP_NUM; i++) {
			__u8 ext[2];

			if (next != 0 && next != 43 && next != 60)
				return false;
			if (bpf_skb_load_bytes(skb, off, ext, sizeof(ext)))
				return false;
			next = ext[0];
			off += (ext[1] + 1) * 8;
		}
		if (next != IPPROTO_TCP_NUM)
			return false;
		*family = DG_FAMILY_INET6;
	} else {
		return false;
	}
	if (off > 1024 || bpf_skb_load_bytes(skb, off & 0x7ff, tcp, sizeof(tcp)))
		return false;
	key->sport = (__u16)((tcp[0] << 8) | tcp[1]);
	key->dport = (__u16)((tcp[2] << 8) | tcp[3]);
	*seq = ((__u32)tcp[4] << 24) | ((__u32)tcp[5] << 16) | ((__u32)tcp[6] << 8) | tcp[7];
	*syn = (tcp[13] & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == TCP_FLAG_SYN;
	return true;
}

/* The network namespace of a full TCP socket, as bpf_get_netns_cookie() sees it. */
static __always_inline __u64 sock_netns_cookie(struct bpf_sock *sk)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);

	if (!tp)
		return 0;
	return BPF_CORE_READ(tp, inet_conn.icsk_inet.sk.__sk_common.skc_net.net, net_cookie);
}

/* Reports a dropped handshake; its subject is "no process". */
static __noinline void report_handshake(const struct dg_conn_key *key, __u32 family, __u32 slot,
					__u32 ep)
{
	struct dg_subject_key skey = { .cgroup_id = 0, .uid = DG_NO_ID };
	struct dg_subject_budget *b;
	struct dg_policy_hdr *hdr;
	struct dg_counters *cnt;
	struct dg_event *e;
	__u32 zero = 0, k = slot;
	__u64 now = bpf_ktime_get_boot_ns();

	cnt = bpf_map_lookup_elem(&counters, &zero);
	if (cnt)
		cnt->handshakes++;
	hdr = bpf_map_lookup_elem(&policy, &k);
	if (!key || !hdr)
		return;
	b = take_budget(&skey, hdr->log_rate, now, cnt);
	if (!b)
		return;
	e = reserve_event(b, cnt);
	if (!e)
		return;
	e->time_ns = now;
	e->cgroup_id = 0;
	e->generation = hdr->generation;
	e->pid = 0;
	e->uid = DG_NO_ID;
	e->gid = DG_NO_ID;
	e->rule = DG_RULE_DEFAULT;
	e->port = key->dport;
	e->op = DG_OP_HANDSHAKE;
	e->verdict = DG_ACT_DENY;
	e->ep = (__u8)ep;
	e->family = (__u8)family;
	e->slot = (__u8)slot;
	e->pad = 0;
	__builtin_memset(e->comm, 0, sizeof(e->comm));
	__builtin_memcpy(e->addr, key->daddr, sizeof(e->addr));
	__builtin_memset(e->path, 0, sizeof(e->path));
	__builtin_memcpy(e->peer.addr, key->saddr, sizeof(e->peer.addr));
	e->peer.port = key->sport;
	bpf_ringbuf_submit(e, 0);
	if (cnt)
		cnt->events++;
}

/* Whether the socket holding the SYN's 4-tuple in this network namespace
 * is the judged one (`cookie`), still sending its SYN with sequence `seq`. */
static __noinline bool client_sends_syn(struct __sk_buff *skb, const struct dg_conn_key *key,
					__u32 family, __u32 seq, __u64 cookie)
{
	struct bpf_sock_tuple t = {};
	struct bpf_sock *client;
	struct tcp_sock *tp;
	bool ok = false;
	__u32 size;

	if (!skb || !key)
		return false;
	/* the tuple of a segment the client's socket would receive */
	if (family == DG_FAMILY_INET) {
		t.ipv4.saddr = ((const __u32 *)key->daddr)[3];
		t.ipv4.daddr = ((const __u32 *)key->saddr)[3];
		t.ipv4.sport = bpf_htons(key->dport);
		t.ipv4.dport = bpf_htons(key->sport);
		size = sizeof(t.ipv4);
	} else {
		__builtin_memcpy(t.ipv6.saddr, key->daddr, 16);
		__builtin_memcpy(t.ipv6.daddr, key->saddr, 16);
		t.ipv6.sport = bpf_htons(key->dport);
		t.ipv6.dport = bpf_htons(key->sport);
		size = sizeof(t.ipv6);
	}
	client = bpf_sk_lookup_tcp(skb, &t, size, BPF_F_CURRENT_NETNS, 0);
	if (!client)
		return false;
	if (client->state == BPF_TCP_SYN_SENT) {
		tp = bpf_skc_to_tcp_sock(client);
		ok = tp && BPF_CORE_READ(tp, snd_una) == seq &&
		     (__u64)BPF_CORE_READ(tp, inet_conn.icsk_inet.sk.__sk_common.skc_cookie.counter) ==
			     cookie;
	}
	bpf_sk_release(client);
	return ok;
}

/* Whether a SYN is the own SYN of a connect() that was judged: see
 * "Handshakes" in dockguard_abi.h. */
static __always_inline bool judged_syn(struct __sk_buff *skb, struct bpf_sock *listener,
				       const struct dg_conn_key *key, __u32 family, __u32 seq)
{
	struct dg_handshake *rec = bpf_map_lookup_elem(&handshakes, key);

	if (!rec || bpf_ktime_get_boot_ns() - rec->sent_ns >= DG_HANDSHAKE_TTL_NS ||
	    seq != rec->isn)
		return false;
	/* a client in another network namespace (a container reaching a
	 * wildcard listener through its bridge) is out of the lookup's reach */
	if (rec->netns_cookie != sock_netns_cookie(listener))
		return true;
	return client_sends_syn(skb, key, family, seq, rec->sock_cookie);
}

/* Whether a SYN to protected port `pi` at listener `sk` was judged. */
static __noinline int check_handshake(struct __sk_buff *skb, struct bpf_sock *sk,
				      struct dg_port *pi)
{
	struct dg_conn_key key = {};
	struct dg_tcp_key dest = {};
	struct dg_config *cfg;
	bool syn = false, host_only = false;
	__u32 family = 0, seq = 0, slot, ep;

	if (!skb || !sk || !pi)
		return SK_PASS;
	slot = active_slot(&cfg);
	if (!cfg)
		return SK_DROP;
	if (!packet_conn_key(skb, &key, &syn, &seq, &family))
		return SK_DROP;
	if (!syn)
		return SK_PASS;	/* only a SYN opens a connection here */
	__builtin_memcpy(dest.addr, key.daddr, sizeof(dest.addr));
	dest.port = key.dport;
	ep = tcp_endpoint(&dest, pi, DG_OP_CONNECT, slot, &host_only);
	if (!ep)
		return SK_PASS;
	if (host_only && sock_netns_cookie(sk) != cfg->host_netns_cookie)
		return SK_PASS;
	if (judged_syn(skb, sk, &key, family, seq))
		return SK_PASS;
	report_handshake(&key, family, slot, ep);
	return SK_DROP;
}

/*
 * Every packet delivered to a socket below the attach point passes here; all
 * but those to a listening socket on a protected port leave at once.
 */
SEC("cgroup_skb/ingress")
int dg_ingress(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;
	struct dg_port *pi;

	if (!sk)
		return SK_PASS;
	sk = bpf_sk_fullsock(sk);
	if (!sk || sk->protocol != IPPROTO_TCP_NUM || sk->state != BPF_TCP_LISTEN)
		return SK_PASS;
	pi = protected_port(sk->src_port);
	if (!pi)
		return SK_PASS;
	return check_handshake(skb, sk, pi) == SK_PASS ? SK_PASS : SK_DROP;
}
