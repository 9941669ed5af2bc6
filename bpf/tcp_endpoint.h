// SPDX-License-Identifier: GPL-2.0-only
/*
 * Which endpoint a TCP destination is: the port table, the exact address,
 * the port's `*` endpoint, or a wildcard listener's other local addresses
 * ("Listeners" in dockguard_abi.h). Shared by the connect and bind hooks and
 * by the handshake programs, so that both judge the same destinations.
 */
#ifndef DOCKGUARD_BPF_TCP_ENDPOINT_H
#define DOCKGUARD_BPF_TCP_ENDPOINT_H

#include "maps.h"

static __always_inline bool is_v4_mapped(const __u8 *addr)
{
	/* 32-bit reads: a key on the stack may be only 4-byte aligned */
	return ((__u32 *)addr)[0] == 0 && ((__u32 *)addr)[1] == 0 &&
	       ((__u32 *)addr)[2] == bpf_htonl(0xffff);
}

/*
 * `ep` when a connect to `key` (an address no endpoint names, on a port that
 * endpoint `ep` uses) reaches the endpoint's listener: the address is local
 * to the host and a wildcard listener takes its family on that port. 0
 * otherwise. See "Listeners" in dockguard_abi.h.
 */
static __always_inline __u32 wide_endpoint(const struct dg_tcp_key *key, __u32 ep,
					   bool *host_only)
{
	struct dg_local_key lk = { .prefixlen = 128 };
	struct dg_listen_count *n;
	struct dg_local *local;
	__u32 port = key->port, *seen, fam;
	bool wide;

	__builtin_memcpy(lk.addr, key->addr, sizeof(lk.addr));
	local = bpf_map_lookup_elem(&host_local, &lk);
	if (!local)
		return 0;
	fam = is_v4_mapped(key->addr) ? DG_WILD_V4 : DG_WILD_V6;
	n = bpf_map_lookup_elem(&wild_listeners, &port);
	seen = bpf_map_lookup_elem(&wild_seen, &port);
	wide = (n && (fam == DG_WILD_V4 ? n->v4 : n->v6)) || (seen && (*seen & fam));
	if (!wide)
		return 0;
	*host_only = local->host_only;
	return ep;
}

/*
 * The endpoint a TCP destination names in `slot`, 0 for none: an endpoint
 * address, the port's `*` endpoint, or (connects) another local address that
 * reaches the endpoint's wildcard listener. *host_only: the address is a
 * loopback one, judged only in the host's network namespace (127.0.0.1 in
 * another namespace is that namespace's own).
 */
static __always_inline __u32 tcp_endpoint(const struct dg_tcp_key *key, const struct dg_port *pi,
					  __u32 op, __u32 slot, bool *host_only)
{
	__u32 ep = 0;

	*host_only = false;
	if (op == DG_OP_BIND && ((__u64 *)key->addr)[0] == 0 &&
	    (((__u32 *)key->addr)[2] == 0 || ((__u32 *)key->addr)[2] == bpf_htonl(0xffff)) &&
	    ((__u32 *)key->addr)[3] == 0) {
		/* 0.0.0.0, :: or ::ffff:0.0.0.0 takes every address of the port */
		ep = pi->bind_ep[slot];
	} else {
		if (pi->exact[slot]) {
			struct dg_dest *d = bpf_map_lookup_elem(&tcp_dests, key);
			if (d) {
				ep = d->ep[slot];
				*host_only = ep && d->host_only[slot];
			}
		}
		if (!ep)
			ep = pi->any_ep[slot];
		if (!ep && op == DG_OP_CONNECT && pi->wide_ep[slot])
			ep = wide_endpoint(key, pi->wide_ep[slot], host_only);
	}
	if (!ep || ep >= DG_MAX_ENDPOINTS)
		return 0;
	return ep;
}

/* `ports[port]` when any slot protects the port, else NULL. */
static __always_inline struct dg_port *protected_port(__u32 port)
{
	struct dg_port *pi = bpf_map_lookup_elem(&ports, &port);

	return pi && *(__u64 *)pi ? pi : NULL;
}

/* Whether endpoint `ep` of `slot` is a relay's (DG_EP_RELAY). */
static __always_inline bool relay_endpoint(__u32 slot, __u32 ep)
{
	__u32 k = slot * DG_MAX_ENDPOINTS + ep;
	struct dg_endpoint_info *info = bpf_map_lookup_elem(&endpoints, &k);

	return info && (info->flags & DG_EP_RELAY);
}

#endif
