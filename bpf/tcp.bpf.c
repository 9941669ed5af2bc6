// SPDX-License-Identifier: GPL-2.0-only
/* connect() and bind() to TCP endpoints: cgroup/connect4, connect6, bind4, bind6. */
#include "tcp_endpoint.h"
#include "verdict.h"

/*
 * An allowed connect to a relay: the identity just judged goes with the
 * socket, for the relay to read (see "Relay callers" in dockguard_abi.h).
 * The same sources as judge(): the task's credentials and cgroup.
 */
static __noinline void mark_relay_caller(struct bpf_sock *sk)
{
	struct task_struct *task = bpf_get_current_task_btf();
	const struct cred *cred = task->cred;
	const struct group_info *gi;
	struct dg_tcp_caller *m;
	__u32 n;

	if (!sk)
		return;
	m = bpf_sk_storage_get(&caller_marks, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!m)
		return;		/* no record: the relay refuses the connection */
	m->cgroup_id = bpf_get_current_cgroup_id();
	m->uid = cred->euid.val;
	m->gid = cred->egid.val;
	m->tgid = bpf_get_current_pid_tgid() >> 32;
	m->flags = 0;
	bpf_get_current_comm(m->comm, sizeof(m->comm));
	gi = BPF_CORE_READ(cred, group_info);
	n = BPF_CORE_READ(gi, ngroups);
	if (n > DG_CALLER_MAX_GROUPS) {
		m->flags |= DG_CALLER_MANY_GROUPS;
		n = DG_CALLER_MAX_GROUPS;
	}
	m->n_groups = n;
	for (__u32 i = 0; i < DG_CALLER_MAX_GROUPS && i < n; i++)
		if (bpf_core_read(&m->groups[i], sizeof(m->groups[i]), &gi->gid[i]))
			m->n_groups = 0, m->flags |= DG_CALLER_MANY_GROUPS;
}

/*
 * A TCP destination (IPv4 as ::ffff:a.b.c.d). The port table answers for
 * every unprotected port with one array load.
 */
static __always_inline int check_tcp(struct bpf_sock_addr *ctx, struct dest_info *di, __u32 op)
{
	struct dg_port *pi = protected_port(di->tcp.port);
	struct dg_config *cfg;
	bool host_only = false;
	__u32 slot, ep;

	if (!pi)
		return VERDICT_ALLOW;
	slot = active_slot(&cfg);
	if (!cfg)
		return VERDICT_DENY;
	ep = tcp_endpoint(&di->tcp, pi, op, slot, &host_only);
	if (!ep)
		return VERDICT_ALLOW;
	if (host_only && bpf_get_netns_cookie(ctx) != cfg->host_netns_cookie)
		return VERDICT_ALLOW;
	if (judge_with_cgroup(slot, ep, op, di) != VERDICT_ALLOW)
		return VERDICT_DENY;
	if (op == DG_OP_CONNECT && relay_endpoint(slot, ep))
		mark_relay_caller(ctx->sk);
	return VERDICT_ALLOW;
}

static __always_inline int check_inet4(struct bpf_sock_addr *ctx, __u32 op)
{
	struct dest_info di = { .family = DG_FAMILY_INET };

	if (ctx->type != SOCK_STREAM_TYPE)
		return VERDICT_ALLOW;
	di.tcp.port = bpf_ntohs(ctx->user_port);
	((__u32 *)di.tcp.addr)[2] = bpf_htonl(0xffff);
	((__u32 *)di.tcp.addr)[3] = ctx->user_ip4;
	return check_tcp(ctx, &di, op);
}

static __always_inline int check_inet6(struct bpf_sock_addr *ctx, __u32 op)
{
	struct dest_info di = { .family = DG_FAMILY_INET6 };

	if (ctx->type != SOCK_STREAM_TYPE)
		return VERDICT_ALLOW;
	di.tcp.port = bpf_ntohs(ctx->user_port);
	((__u32 *)di.tcp.addr)[0] = ctx->user_ip6[0];
	((__u32 *)di.tcp.addr)[1] = ctx->user_ip6[1];
	((__u32 *)di.tcp.addr)[2] = ctx->user_ip6[2];
	((__u32 *)di.tcp.addr)[3] = ctx->user_ip6[3];
	return check_tcp(ctx, &di, op);
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
