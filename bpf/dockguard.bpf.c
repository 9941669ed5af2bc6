// SPDX-License-Identifier: GPL-2.0-only
/*
 * dockguard: judge connect() and bind() to the protected Docker API endpoints.
 *
 * Entry points only find the endpoint; judge() applies the policy. The data
 * layout and the algorithm are described in dockguard_abi.h. Everything a
 * verdict depends on lives on the stack: these programs run with migration
 * disabled but may be preempted, so per-CPU scratch space could be clobbered
 * by another connect on the same CPU.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "dockguard_abi.h"

char LICENSE[] SEC("license") = "GPL";

#define SOCK_STREAM_TYPE 1
#define AF_UNIX_FAMILY 1

/* Verdicts as sock_addr programs return them: 0 = EPERM to the caller. */
#define VERDICT_DENY  0
#define VERDICT_ALLOW 1

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dg_config);
} config_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct dg_port);
} ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DG_MAX_TCP_DESTS);
	__type(key, struct dg_tcp_key);
	__type(value, struct dg_dest);
} tcp_dests SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DG_MAX_UNIX_NAMES);
	__type(key, struct dg_unix_key);
	__type(value, struct dg_dest);
} unix_names SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DG_SLOTS * DG_MAX_ENDPOINTS);
	__type(key, __u32);
	__type(value, struct dg_endpoint_info);
} endpoints SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DG_SLOTS);
	__type(key, __u32);
	__type(value, struct dg_policy_hdr);
} policy SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DG_SLOTS * DG_MAX_RULES);
	__type(key, __u32);
	__type(value, struct dg_rule_action);
} rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DG_SLOTS * (DG_MAX_RULES + 1));
	__type(key, __u32);
	__type(value, struct dg_rule_stats);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DG_SLOTS * DG_META_CHUNKS);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, DG_META_CHUNK);
} meta SEC(".maps");

/* Per-slot maps, sized to each policy by the loader. The inner definitions
 * are templates; the slots are filled by userspace. Sizes rather than types:
 * clang emits these structs only as forward declarations here, which libbpf
 * cannot size. */
struct bitmap_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_INNER_MAP);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct dg_bitmap));
};

struct uid_inner {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(key_size, sizeof(struct dg_uid_key));
	__uint(value_size, sizeof(__u32));
};

struct gid_inner {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
};

struct cgroup_inner {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(struct dg_cgroup_key));
	__uint(value_size, sizeof(struct dg_cgroup_node));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, DG_SLOTS);
	__type(key, __u32);
	__array(values, struct bitmap_inner);
} bitmaps SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, DG_SLOTS);
	__type(key, __u32);
	__array(values, struct uid_inner);
} uid_ranges SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, DG_SLOTS);
	__type(key, __u32);
	__array(values, struct gid_inner);
} gids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, DG_SLOTS);
	__type(key, __u32);
	__array(values, struct cgroup_inner);
} cgroup_nodes SEC(".maps");

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym __weak;

/* Index of the lowest set bit; m != 0. BPF has no count-trailing-zeros. */
static __always_inline __u32 lowest_bit(__u64 m)
{
	__u32 n = 0;

	m &= -m;
	if (m & 0xffffffff00000000ULL)
		n += 32;
	if (m & 0xffff0000ffff0000ULL)
		n += 16;
	if (m & 0xff00ff00ff00ff00ULL)
		n += 8;
	if (m & 0xf0f0f0f0f0f0f0f0ULL)
		n += 4;
	if (m & 0xccccccccccccccccULL)
		n += 2;
	if (m & 0xaaaaaaaaaaaaaaaaULL)
		n += 1;
	return n;
}

/*
 * The distinct group bitmaps a process hits, gathered by the bpf_loop below.
 * Fixed slots rather than a counter: each slot is either 0 (bitmap 0 is the
 * empty one) or some index, so the verifier's states converge quickly.
 */
struct group_hits {
	const struct group_info *gi;
	__u32 slot;
	__u32 overflow;
	__u32 hit[DG_MAX_GROUP_HITS];
};

static __always_inline void add_group_hit(struct group_hits *h, __u32 gid)
{
	__u32 slot = h->slot;
	void *gmap = bpf_map_lookup_elem(&gids, &slot);
	__u32 *bmp, bm;

	if (!gmap)
		return;
	bmp = bpf_map_lookup_elem(gmap, &gid);
	if (!bmp)
		return;
	bm = *bmp;
	if (!bm || bm == h->hit[0] || bm == h->hit[1] || bm == h->hit[2] || bm == h->hit[3])
		return;
	if (!h->hit[0])
		h->hit[0] = bm;
	else if (!h->hit[1])
		h->hit[1] = bm;
	else if (!h->hit[2])
		h->hit[2] = bm;
	else if (!h->hit[3])
		h->hit[3] = bm;
	else
		h->overflow = 1;
}

static long supplementary_group_cb(__u64 i, void *ctx)
{
	struct group_hits *h = ctx;
	const struct group_info *gi = h->gi;
	__u32 gid = 0;

	if (bpf_core_read(&gid, sizeof(gid), &gi->gid[i]))
		return 1;
	add_group_hit(h, gid);
	return h->overflow ? 1 : 0;
}

/*
 * Walks the task's cgroup v2 ancestry down the policy's cgroup trie and
 * returns the bitmap index of the deepest node reached.
 */
static __always_inline __u32 cgroup_bitmap(void *cgmap, struct task_struct *task,
					   __u32 root_bm)
{
	struct cgroup *cgrp = BPF_CORE_READ(task, cgroups, dfl_cgrp);
	struct dg_cgroup_key key;
	__u32 bm = root_bm, parent = 0;
	int level;

	if (!cgrp)
		return bm;
	level = BPF_CORE_READ(cgrp, level);
	for (int l = 1; l <= DG_CGROUP_MAX_DEPTH; l++) {
		struct cgroup *anc = NULL;
		const char *name;
		struct dg_cgroup_node *node;
		long n;

		if (l > level)
			break;
		if (bpf_core_read(&anc, sizeof(anc), &cgrp->ancestors[l]) || !anc)
			break;
		name = BPF_CORE_READ(anc, kn, name);
		__builtin_memset(&key, 0, sizeof(key));
		key.parent = parent;
		n = bpf_probe_read_kernel_str(key.name, sizeof(key.name), name);
		/* n counts the NUL: a full buffer means a longer name than any
		 * policy component, which matches nothing. */
		if (n <= 1 || n >= (long)sizeof(key.name))
			break;
		node = bpf_map_lookup_elem(cgmap, &key);
		if (!node)
			break;
		bm = node->bm;
		parent = node->id;
	}
	return bm;
}

static __always_inline void count(__u32 slot, __u32 rule, bool allowed)
{
	__u32 k = slot * (DG_MAX_RULES + 1) + (rule > DG_MAX_RULES ? DG_MAX_RULES : rule);
	struct dg_rule_stats *s = bpf_map_lookup_elem(&stats, &k);

	if (!s)
		return;
	if (allowed)
		__sync_fetch_and_add(&s->allowed, 1);
	else
		__sync_fetch_and_add(&s->denied, 1);
}

/*
 * The policy decision for endpoint `ep` of `slot`: the first rule whose bits
 * are set in every dimension decides; otherwise the default does.
 */
static __noinline int judge(__u32 slot, __u32 ep, __u32 op)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	const struct cred *cred = BPF_CORE_READ(task, cred);
	struct dg_bitmap *e, *u, *g, *c;
	struct dg_endpoint_info *info;
	struct dg_policy_hdr *hdr;
	struct group_hits hits;
	void *bms, *m;
	__u32 k, idx, nwords, rule = DG_RULE_DEFAULT;
	bool allowed;

	k = slot;
	hdr = bpf_map_lookup_elem(&policy, &k);
	bms = bpf_map_lookup_elem(&bitmaps, &k);
	k = slot * DG_MAX_ENDPOINTS + ep;
	info = bpf_map_lookup_elem(&endpoints, &k);
	if (!hdr || !bms || !info)
		return VERDICT_DENY;	/* no policy in this slot: fail closed */

	if (op == DG_OP_BIND && !(info->flags & DG_EP_HAS_LISTEN))
		return VERDICT_ALLOW;
	idx = op == DG_OP_BIND ? info->listen_bm : info->connect_bm;
	e = bpf_map_lookup_elem(bms, &idx);

	/* effective uid, as the host sees it */
	idx = hdr->uid_default_bm;
	if (hdr->flags & DG_POL_UIDS) {
		struct dg_uid_key ukey = {
			.prefixlen = 32,
			.uid = bpf_htonl(BPF_CORE_READ(cred, euid.val)),
		};
		__u32 *v;

		m = bpf_map_lookup_elem(&uid_ranges, &slot);
		if (!m)
			return VERDICT_DENY;
		v = bpf_map_lookup_elem(m, &ukey);
		if (v)
			idx = *v;
	}
	u = bpf_map_lookup_elem(bms, &idx);

	/* effective gid and supplementary groups */
	__builtin_memset(&hits, 0, sizeof(hits));
	hits.slot = slot;
	if (hdr->flags & DG_POL_GIDS) {
		const struct group_info *gi = BPF_CORE_READ(cred, group_info);
		int ngroups = BPF_CORE_READ(gi, ngroups);

		hits.gi = gi;
		add_group_hit(&hits, BPF_CORE_READ(cred, egid.val));
		if (ngroups > DG_MAX_GROUPS_SCANNED)
			ngroups = DG_MAX_GROUPS_SCANNED;
		if (ngroups > 0)
			bpf_loop(ngroups, supplementary_group_cb, &hits, 0);
		if (hits.overflow)
			return VERDICT_DENY;
	}
	idx = hdr->gid_default_bm;
	g = bpf_map_lookup_elem(bms, &idx);

	/* cgroup path: units, containers, subtrees */
	idx = hdr->cgroup_root_bm;
	if (hdr->flags & DG_POL_CGROUPS) {
		m = bpf_map_lookup_elem(&cgroup_nodes, &slot);
		if (!m)
			return VERDICT_DENY;
		idx = cgroup_bitmap(m, task, idx);
	}
	c = bpf_map_lookup_elem(bms, &idx);

	if (!e || !u || !g || !c)
		return VERDICT_DENY;

	/* The group hits' bitmaps; slot 0 of `bitmaps` is the empty bitmap. */
	struct dg_bitmap *h0, *h1, *h2, *h3;
	h0 = bpf_map_lookup_elem(bms, &hits.hit[0]);
	h1 = bpf_map_lookup_elem(bms, &hits.hit[1]);
	h2 = bpf_map_lookup_elem(bms, &hits.hit[2]);
	h3 = bpf_map_lookup_elem(bms, &hits.hit[3]);
	if (!h0 || !h1 || !h2 || !h3)
		return VERDICT_DENY;

	nwords = hdr->nwords;
	for (__u32 w = 0; w < DG_BITMAP_WORDS; w++) {
		__u64 match;

		if (w >= nwords)
			break;
		match = e->w[w] & u->w[w] & c->w[w] &
			(g->w[w] | h0->w[w] | h1->w[w] | h2->w[w] | h3->w[w]);
		if (match) {
			rule = w * 64 + lowest_bit(match);
			break;
		}
	}

	if (rule < DG_MAX_RULES) {
		k = slot * DG_MAX_RULES + rule;
		struct dg_rule_action *r = bpf_map_lookup_elem(&rules, &k);
		if (!r)
			return VERDICT_DENY;
		allowed = r->action == DG_ACT_ALLOW;
	} else {
		allowed = hdr->default_action == DG_ACT_ALLOW;
	}
	count(slot, rule, allowed);
	return allowed ? VERDICT_ALLOW : VERDICT_DENY;
}

static __always_inline __u32 active_slot(struct dg_config **cfgp)
{
	__u32 zero = 0;
	struct dg_config *cfg = bpf_map_lookup_elem(&config_map, &zero);

	*cfgp = cfg;
	return cfg ? (cfg->active_slot & 1) : 0;
}

/*
 * A TCP destination (IPv4 as ::ffff:a.b.c.d). The port table answers for
 * every unprotected port with one array load.
 */
static __always_inline int check_tcp(struct bpf_sock_addr *ctx, struct dg_tcp_key *key,
				     __u32 op)
{
	__u32 port = key->port;
	struct dg_port *pi = bpf_map_lookup_elem(&ports, &port);
	struct dg_endpoint_info *info;
	struct dg_config *cfg;
	__u32 slot, ep = 0, k;

	if (!pi || !*(__u64 *)pi)
		return VERDICT_ALLOW;

	slot = active_slot(&cfg);
	if (!cfg)
		return VERDICT_DENY;

	if (op == DG_OP_BIND && ((__u64 *)key->addr)[0] == 0 &&
	    (((__u32 *)key->addr)[2] == 0 || ((__u32 *)key->addr)[2] == bpf_htonl(0xffff)) &&
	    ((__u32 *)key->addr)[3] == 0) {
		/* 0.0.0.0, :: or ::ffff:0.0.0.0 takes every address of the port */
		ep = pi->bind_ep[slot];
	} else {
		if (pi->exact[slot]) {
			struct dg_dest *d = bpf_map_lookup_elem(&tcp_dests, key);
			if (d)
				ep = d->ep[slot];
		}
		if (!ep)
			ep = pi->any_ep[slot];
	}
	if (!ep || ep >= DG_MAX_ENDPOINTS)
		return VERDICT_ALLOW;

	k = slot * DG_MAX_ENDPOINTS + ep;
	info = bpf_map_lookup_elem(&endpoints, &k);
	if (!info)
		return VERDICT_DENY;
	/* 127.0.0.1 in another network namespace is that namespace's own. */
	if ((info->flags & DG_EP_HOST_LOOPBACK) &&
	    bpf_get_netns_cookie(ctx) != cfg->host_netns_cookie)
		return VERDICT_ALLOW;
	return judge(slot, ep, op);
}

static __always_inline int check_inet4(struct bpf_sock_addr *ctx, __u32 op)
{
	struct dg_tcp_key key = {};

	if (ctx->type != SOCK_STREAM_TYPE)
		return VERDICT_ALLOW;
	key.port = bpf_ntohs(ctx->user_port);
	((__u32 *)key.addr)[2] = bpf_htonl(0xffff);
	((__u32 *)key.addr)[3] = ctx->user_ip4;
	return check_tcp(ctx, &key, op);
}

static __always_inline int check_inet6(struct bpf_sock_addr *ctx, __u32 op)
{
	struct dg_tcp_key key = {};

	if (ctx->type != SOCK_STREAM_TYPE)
		return VERDICT_ALLOW;
	key.port = bpf_ntohs(ctx->user_port);
	((__u32 *)key.addr)[0] = ctx->user_ip6[0];
	((__u32 *)key.addr)[1] = ctx->user_ip6[1];
	((__u32 *)key.addr)[2] = ctx->user_ip6[2];
	((__u32 *)key.addr)[3] = ctx->user_ip6[3];
	return check_tcp(ctx, &key, op);
}

SEC("cgroup/connect4")
int dg_connect4(struct bpf_sock_addr *ctx)
{
	return check_inet4(ctx, DG_OP_CONNECT);
}

SEC("cgroup/connect6")
int dg_connect6(struct bpf_sock_addr *ctx)
{
	return check_inet6(ctx, DG_OP_CONNECT);
}

SEC("cgroup/bind4")
int dg_bind4(struct bpf_sock_addr *ctx)
{
	return check_inet4(ctx, DG_OP_BIND);
}

SEC("cgroup/bind6")
int dg_bind6(struct bpf_sock_addr *ctx)
{
	return check_inet6(ctx, DG_OP_BIND);
}

/* Finds the end of the path (first NUL) and the start of its file name. */
struct path_scan {
	char buf[DG_UNIX_NAME_LEN];
	__u32 len;
	__u32 start;
};

static long path_scan_cb(__u64 i, void *ctx)
{
	struct path_scan *ps = ctx;
	char ch;

	if (i >= DG_UNIX_NAME_LEN)
		return 1;
	ch = ps->buf[i];
	if (ch == '\0') {
		ps->len = (__u32)i;
		return 1;
	}
	if (ch == '/')
		ps->start = (__u32)i + 1;
	return 0;
}

/*
 * The endpoint id named by a unix connect's path, 0 for none. A subprogram of
 * its own so that its buffers are off the stack before judge() runs.
 */
static __noinline __u32 unix_endpoint(struct bpf_sock_addr *ctx, __u32 slot)
{
	struct bpf_sock_addr_kern *kctx;
	struct dg_unix_key key = {};
	struct path_scan ps = {};
	struct dg_dest *d;
	const char *sun_path;
	__u32 len, n;

	if (!bpf_cast_to_kern_ctx)
		return 0;
	kctx = bpf_cast_to_kern_ctx(ctx);
	len = kctx->uaddrlen;
	if (len <= 2)
		return 0;		/* unnamed */
	len -= 2;			/* sun_family */
	if (len > DG_UNIX_NAME_LEN)
		len = DG_UNIX_NAME_LEN;
	sun_path = (const char *)kctx->uaddr + 2;
	/* The address sits in a struct sockaddr_storage: all of sun_path is
	 * readable; only the first `len` bytes are the caller's. */
	if (bpf_probe_read_kernel(ps.buf, sizeof(ps.buf), sun_path))
		return 0;
	if (ps.buf[0] == '\0')
		return 0;		/* abstract namespace: no file */

	/* Not NUL-terminated yet: the kernel does that after this hook. */
	ps.len = len;
	bpf_loop(len, path_scan_cb, &ps, 0);
	if (ps.start >= ps.len || ps.len > DG_UNIX_NAME_LEN)
		return 0;		/* ends in '/': not a socket file */
	n = (ps.len - ps.start) & 0x7f;	/* a bound the verifier can see */
	if (n == 0 || n > DG_UNIX_NAME_LEN)
		return 0;
	if (bpf_probe_read_kernel(key.name, n, sun_path + ps.start))
		return 0;

	d = bpf_map_lookup_elem(&unix_names, &key);
	if (!d)
		return 0;
	return slot ? d->ep[1] : d->ep[0];
}

/*
 * Unix stream and datagram connects, judged by the socket's file name: the
 * hook runs before the path lookup and sees only the string the caller gave.
 */
SEC("cgroup/connect_unix")
int dg_connect_unix(struct bpf_sock_addr *ctx)
{
	struct dg_config *cfg;
	__u32 slot, ep;

	slot = active_slot(&cfg);
	if (!cfg)
		return VERDICT_DENY;
	ep = unix_endpoint(ctx, slot);
	if (!ep || ep >= DG_MAX_ENDPOINTS)
		return VERDICT_ALLOW;
	return judge(slot, ep, DG_OP_CONNECT);
}
