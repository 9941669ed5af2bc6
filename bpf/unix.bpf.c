// SPDX-License-Identifier: GPL-2.0-only
/* Unix connects and datagrams with an address: cgroup/connect_unix and
 * cgroup/sendmsg_unix, judged by the file name the caller gave. */
#include "unix_name.h"
#include "verdict.h"

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym __weak;

/* Whether the slot has an endpoint name ending in the path's last 8 bytes
 * (`unix_tails` in dockguard_abi.h); a path shorter than that goes on. */
static __always_inline bool tail_may_match(const struct path_buf *pb, __u32 end, __u32 slot)
{
	__u64 tail = 0;
	__u32 bit, k, *w;

	if (end < DG_UNIX_TAIL_LEN || end > DG_UNIX_NAME_LEN)
		return true;
	__builtin_memcpy(&tail, &pb->buf[end - DG_UNIX_TAIL_LEN], DG_UNIX_TAIL_LEN);
	bit = dg_unix_tail_bit(tail);
	k = (slot & 1) * DG_UNIX_TAIL_WORDS + bit / 32;
	w = bpf_map_lookup_elem(&unix_tails, &k);
	return !w || (*w & (1u << (bit % 32)));
}

/*
 * The endpoint id named by a unix connect's path, 0 for none. A subprogram of
 * its own so that its buffers are off the stack before judge() runs.
 */
static __noinline __u32 unix_endpoint(struct bpf_sock_addr *ctx, __u32 slot,
				      struct dest_info *di)
{
	struct bpf_sock_addr_kern *kctx;
	struct dg_unix_key key = {};
	struct path_buf pb;
	struct dg_unix_dest *d;
	__u32 ep;
	const char *sun_path;
	__u32 len, end;
	long ret;

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
	/* The caller's `len` bytes up to their first NUL, as the kernel will
	 * read them (it NUL-terminates after this hook): the helper copies and
	 * finds the end a word at a time, and writes the NUL. */
	len &= 0x7f;
	if (!len || len > DG_UNIX_NAME_LEN)
		return 0;
	ret = bpf_probe_read_kernel_str(pb.buf, len + 1, sun_path);
	if (ret <= 1 || ret > DG_UNIX_NAME_LEN + 1)
		return 0;		/* empty, abstract namespace or unreadable: no file */
	end = (__u32)ret - 1;
	if (!tail_may_match(&pb, end, slot))
		return 0;		/* no endpoint's name ends in these bytes */
	if (!file_name_key(&pb, end, &key))
		return 0;		/* ends in '/': not a socket file */

	d = bpf_map_lookup_elem(&unix_names, &key);
	if (!d)
		return 0;
	ep = slot ? d->ep[1] : d->ep[0];
	if (!ep && (slot ? d->scoped[1] : d->scoped[0])) {
		/* a container's bind-mount name: the endpoint only in that container */
		struct dg_alias_key ak = { .hash = key.hash,
					   .cgroup_id = bpf_get_current_cgroup_id() };
		struct dg_unix_dest *a = bpf_map_lookup_elem(&unix_aliases, &ak);

		if (!a) {
			/* a container that has no cgroup yet (see unix_aliases) */
			ak.cgroup_id = 0;
			a = bpf_map_lookup_elem(&unix_aliases, &ak);
		}
		if (a)
			ep = slot ? a->ep[1] : a->ep[0];
	}
	if (!ep)
		return 0;
	/* the path as given, up to its end, for the event */
	for (__u32 i = 0; i < DG_UNIX_NAME_LEN; i++)
		di->path[i] = i < end ? pb.buf[i] : 0;
	return ep;
}

/*
 * Unix stream and datagram connects, and datagrams sent with an address
 * (sendto/sendmsg without connect), judged by the socket's file name: the
 * hooks run before the path lookup and see only the string the caller gave.
 */
static __always_inline int check_unix(struct bpf_sock_addr *ctx)
{
	struct dest_info di = { .family = DG_FAMILY_UNIX };
	struct dg_config *cfg;
	__u32 slot, ep;

	slot = active_slot(&cfg);
	if (!cfg)
		return VERDICT_DENY;
	if (cfg->unix_by_lsm)
		return VERDICT_ALLOW;	/* the LSM hook judges this connect, later */
	ep = unix_endpoint(ctx, slot, &di);
	if (!ep || ep >= DG_MAX_ENDPOINTS)
		return VERDICT_ALLOW;
	return judge_with_cgroup(slot, ep, DG_OP_CONNECT, &di);
}

SEC("cgroup/connect_unix")
int dg_connect_unix(struct bpf_sock_addr *ctx)
{
	return check_unix(ctx);
}

SEC("cgroup/sendmsg_unix")
int dg_sendmsg_unix(struct bpf_sock_addr *ctx)
{
	return check_unix(ctx);
}
