// SPDX-License-Identifier: GPL-2.0-only
/* Unix connects and datagrams with an address: cgroup/connect_unix and
 * cgroup/sendmsg_unix, judged by the file name the caller gave. */
#include "unix_name.h"
#include "verdict.h"

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym __weak;
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

/* A 0x80 bit in each byte of w that may be zero: the lowest one marks its
 * first zero byte exactly (a borrow only travels upwards); 0 if none. */
static __always_inline __u64 zero_bytes(__u64 w)
{
	return (w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL;
}

/* The index of the byte that zero_bytes()' lowest bit marks: that bit alone,
 * shifted to bit 8i, times a constant whose byte 7-i is i, puts i on top. */
static __always_inline __u32 first_zero_byte(__u64 zeros)
{
	__u64 lowest = zeros & -zeros;

	return (__u32)(((lowest >> 7) * 0x0001020304050607ULL) >> 56);
}

/*
 * The pre-filter (`unix_tails` in dockguard_abi.h): false when the caller's
 * path is unnamed or abstract, or when its last 8 bytes end no endpoint's
 * file name in either slot, so that the connect leaves at once; true
 * otherwise (short paths included). Every unix connect on the host comes
 * through here (journald, D-Bus, nscd...), so it touches no memory but the
 * address and one page of the filter: the kernel's copy of the address (a
 * sockaddr_storage, 8-byte aligned: connect(2), sendmsg(2), io_uring) is read
 * a word at a time by plain loads through its BTF type (faults are caught
 * as for any BTF pointer), and the path's end (its first NUL within the
 * length, as the kernel will take it) and its last 8 bytes are found in
 * registers. A global function, verified once on its own.
 */
__noinline bool dg_unix_may_name_endpoint(struct bpf_sock_addr *ctx)
{
	const struct __kernel_sockaddr_storage *ss;
	const struct dg_unix_tails *t;
	struct bpf_sock_addr_kern *kctx;
	__u64 prev = 0, tail = 0;
	__u32 len, end, bit, zero = 0;
	const __u64 *word;

	if (!bpf_cast_to_kern_ctx || !bpf_rdonly_cast)
		return true;
	kctx = bpf_cast_to_kern_ctx(ctx);
	/* storage coordinates: sun_family is bytes 0-1, the path from byte 2 */
	len = kctx->uaddrlen;
	if (len <= 2)
		return false;		/* unnamed */
	if (len > 2 + DG_UNIX_NAME_LEN)
		len = 2 + DG_UNIX_NAME_LEN;
	ss = bpf_rdonly_cast(kctx->uaddr, bpf_core_type_id_kernel(struct __kernel_sockaddr_storage));
	word = (const __u64 *)ss;
	end = len;
#pragma unroll
	for (__u32 k = 0; k < (2 + DG_UNIX_NAME_LEN + 7) / 8; k++) {
		__u32 at = k * 8, b;
		__u64 w, zeros;

		if (at >= len) {
			tail = prev;	/* the path ends with the length, on a word's end */
			break;
		}
		w = word[k];
		if (k == 0)
			w |= 0xffff;	/* sun_family: not part of the path */
		if (at + 8 > len)
			w &= ~0ULL >> (8 * (at + 8 - len));	/* past the length */
		zeros = zero_bytes(w);
		if (zeros) {
			b = first_zero_byte(zeros);
			end = at + b;
			/* the 8 bytes before the end: the top of the last word, the
			 * bottom of this one */
			tail = b ? (prev >> (8 * b)) | (w << (64 - 8 * b)) : prev;
			break;
		}
		prev = w;
	}
	if (end <= 2)
		return false;		/* abstract namespace or empty: no file */
	if (end - 2 < DG_UNIX_TAIL_LEN)
		return true;		/* too short for the filter */
	bit = dg_unix_tail_bit(tail);
	t = bpf_map_lookup_elem(&unix_tails, &zero);
	if (!t)
		return true;
	return ((t->word[bit / 64][0] | t->word[bit / 64][1]) >> (bit % 64)) & 1;
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
	 * finds the end, and writes the NUL. */
	len &= 0x7f;
	if (!len || len > DG_UNIX_NAME_LEN)
		return 0;
	ret = bpf_probe_read_kernel_str(pb.buf, len + 1, sun_path);
	if (ret <= 1 || ret > DG_UNIX_NAME_LEN + 1)
		return 0;		/* empty, abstract namespace or unreadable: no file */
	end = (__u32)ret - 1;
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

	if (!dg_unix_may_name_endpoint(ctx))
		return VERDICT_ALLOW;	/* most connects on a host: not an endpoint */
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
