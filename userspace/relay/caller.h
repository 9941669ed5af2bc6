/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Who is at the other end of a relay connection, as the kernel attests it
 * (docs/relay.md, "Identity"): the uid, gid and groups that connect() ran
 * with (SO_PEERCRED, SO_PEERGROUPS: fixed at connect) and the cgroup of the
 * connecting process, read through a pidfd that the kernel handed out for
 * that process (SO_PEERPIDFD), so that a pid reused since cannot stand in.
 * Nothing the client sends changes it.
 */
#ifndef DOCKGUARD_RELAY_CALLER_H
#define DOCKGUARD_RELAY_CALLER_H

#include <stdint.h>
#include <sys/types.h>

#include "compile/compile.h"


struct dg_caller {
	pid_t pid;			/* at connect; for messages only */
	uint32_t uid, gid;
	uint32_t groups[DG_CALLER_MAX_GROUPS];
	size_t n_groups;
	char *cgroup;			/* cgroup v2 path of the connecting process: "" until
					 * read, then its own copy (dg_caller_fini) */
	char comm[17];
};

/*
 * Reads the identity of the peer of the connected unix socket `fd`.
 * Returns 0, or a negative errno with `why` set: the caller is then refused
 * (no identity, no request).
 */
int dg_caller_of_unix(int fd, struct dg_caller *out, const char **why);

/*
 * The identity of the peer of the accepted TCP connection `fd`, as the
 * connect hook judged it and left it in the hooks' `relay_callers` map
 * (`callers_fd`; see "Relay callers" in bpf/dockguard_abi.h): the record is
 * taken out of the map. 0, or a negative errno with `why`: refused.
 */
int dg_caller_of_tcp(int callers_fd, int fd, struct dg_caller *out, const char **why);
/* Frees what dg_caller_of_unix() kept (a relay holds a caller per
 * connection: a path's own length, not PATH_MAX, each). */
void dg_caller_fini(struct dg_caller *c);

/* The subject that the policy judges (dg_image_evaluate_endpoint). */
void dg_caller_subject(const struct dg_caller *c, struct dg_subject_id *who);

#endif
