// SPDX-License-Identifier: GPL-2.0-only
/*
 * BPF LSM: unix endpoints judged on the socket itself.
 * cgroup/connect_unix and sendmsg_unix (unix.bpf.c) see only the path string
 * the caller gave, so a symlink, a hard link or a bind mount of the socket
 * file under another name, or /proc/self/fd/N, reaches the socket unjudged. Where the BPF LSM is active,
 * the loader attaches these programs instead: they run once the kernel has
 * found the listening socket, and judge by the name the listener bound,
 * whatever path the caller used. LSM programs run for every task on the
 * host; they judge only below the attach cgroup (config.lsm_scope_cgroup).
 */
#include "unix_name.h"
#include "verdict.h"

#define EPERM_ERRNO		1
#define DG_SCOPE_MAX_DEPTH	32

/* Whether `cgrp` is the cgroup with id `scope` or below it. */
static __always_inline bool cgroup_under(struct cgroup *cgrp, __u64 scope)
{
	int level;

	if (!cgrp || !scope)
		return false;
	level = BPF_CORE_READ(cgrp, level);
	for (int l = 0; l < DG_SCOPE_MAX_DEPTH; l++) {
		struct cgroup *anc = NULL;

		if (l > level)
			break;
		if (bpf_core_read(&anc, sizeof(anc), &cgrp->ancestors[l]) || !anc)
			break;
		if (BPF_CORE_READ(anc, kn, id) == scope)
			return true;
	}
	return false;
}

/*
 * In the cgroup hooks' scope: the calling task is below the attach cgroup,
 * or the socket was created there (the cgroup hooks go by the socket's
 * cgroup, so a socket handed to a process outside stays judged).
 */
static __noinline bool in_scope(struct sock *sk, __u64 scope)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	if (cgroup_under(BPF_CORE_READ(task, cgroups, dfl_cgrp), scope))
		return true;
	if (sk && bpf_core_field_exists(sk->sk_cgrp_data.cgroup))
		return cgroup_under(BPF_CORE_READ(sk, sk_cgrp_data.cgroup), scope);
	return false;
}

/*
 * The endpoint named by the file name a listening (or receiving) unix socket
 * was bound to, 0 for none: unbound and abstract sockets have no file.
 */
static __noinline __u32 bound_unix_endpoint(struct sock *other, __u32 slot,
					    struct dest_info *di)
{
	struct dg_unix_key key = {};
	struct unix_address *addr;
	struct path_buf pb;
	struct dg_unix_dest *d;
	long copied;
	__u32 end;
	int len;

	if (!other || !di)
		return 0;
	addr = BPF_CORE_READ((struct unix_sock *)other, addr);
	if (!addr)
		return 0;		/* not bound */
	len = BPF_CORE_READ(addr, len) - 2;	/* sun_family */
	if (len <= 0)
		return 0;
	if (len > DG_UNIX_NAME_LEN)
		len = DG_UNIX_NAME_LEN;
	copied = bpf_probe_read_kernel_str(pb.buf, (__u32)len + 1, addr->name[0].sun_path);
	if (copied <= 1)
		return 0;		/* abstract namespace: no file */
	end = (__u32)(copied - 1) & 0x7f;
	if (end > DG_UNIX_NAME_LEN)
		return 0;
	if (!file_name_key(&pb, end, &key))
		return 0;
	d = bpf_map_lookup_elem(&unix_names, &key);
	if (!d)
		return 0;
	/* the listener's path, for the event */
	for (__u32 i = 0; i < DG_UNIX_NAME_LEN; i++)
		di->path[i] = i < end ? pb.buf[i] : 0;
	return slot ? d->ep[1] : d->ep[0];
}

/* 0 or -EPERM, as an LSM hook returns. */
static __always_inline int lsm_check_unix(struct sock *sk, struct sock *other)
{
	struct dest_info di = { .family = DG_FAMILY_UNIX };
	struct dg_config *cfg;
	__u64 scope;
	__u32 slot, ep;

	slot = active_slot(&cfg);
	if (!cfg || !cfg->unix_by_lsm)
		return 0;		/* not in charge: the cgroup hooks judge */
	scope = cfg->lsm_scope_cgroup;
	ep = bound_unix_endpoint(other, slot, &di);
	if (!ep || ep >= DG_MAX_ENDPOINTS)
		return 0;
	if (!in_scope(sk, scope))
		return 0;
	return judge_with_cgroup(slot, ep, DG_OP_CONNECT, &di) == VERDICT_ALLOW ? 0 : -EPERM_ERRNO;
}

SEC("lsm/unix_stream_connect")
int BPF_PROG(dg_lsm_unix_connect, struct socket *sock, struct sock *other, struct sock *newsk,
	     int ret)
{
	if (ret)
		return ret;		/* an earlier LSM refused already */
	return lsm_check_unix(BPF_CORE_READ(sock, sk), other);
}

/* Datagrams: connect() of a datagram socket, and every send. */
SEC("lsm/unix_may_send")
int BPF_PROG(dg_lsm_unix_may_send, struct socket *sock, struct socket *other, int ret)
{
	if (ret)
		return ret;
	return lsm_check_unix(BPF_CORE_READ(sock, sk), BPF_CORE_READ(other, sk));
}
