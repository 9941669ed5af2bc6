// SPDX-License-Identifier: GPL-2.0-only
/*
 * The baseline of the hook-cost benchmark: cgroup sock_addr programs that
 * allow everything and do nothing else. What a dockguard program costs above
 * these is what dockguard itself costs; the rest (the hook call, bpf_stats'
 * own clock reads) every program pays.
 *
 * The unix one is in a connect4 section only because libbpf 1.1 (Debian 12)
 * has no section name for cgroup/connect_unix; dg-bench-bpf sets its attach
 * type, read from the kernel's BTF, before loading it. The program type,
 * cgroup sock_addr, is the same for all three.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("cgroup/connect4")
int empty_connect4(struct bpf_sock_addr *ctx)
{
	return 1;
}

SEC("cgroup/connect6")
int empty_connect6(struct bpf_sock_addr *ctx)
{
	return 1;
}

SEC("cgroup/connect4")
int empty_connect_unix(struct bpf_sock_addr *ctx)
{
	return 1;
}
