// SPDX-License-Identifier: GPL-2.0-only
/* connect() and bind() to TCP endpoints: cgroup/connect4, connect6, bind4, bind6. */
#include "tcp_endpoint.h"
#include "verdict.h"

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
	return judge_with_cgroup(slot, ep, op, di);
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
