// SPDX-License-Identifier: GPL-2.0-only
/* Who is at the other end of a relay connection (caller.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "relay/caller.h"
#include "util/util.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77		/* Linux 6.5 */
#endif

/* The pid a pidfd stands for now (-1: exited), from its fdinfo. */
static pid_t pidfd_pid(int pidfd)
{
	char path[64], line[128];
	pid_t pid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Pid:\t%d", &pid) == 1)
			break;
	fclose(f);
	return pid;
}

/* /proc/PID/cgroup's cgroup v2 line ("0::/path"). */
static int read_cgroup(pid_t pid, char *buf, size_t len)
{
	char path[64], *text = NULL, *line;
	size_t n;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if ((ret = read_file(path, 64 * 1024, &text, &n)))
		return ret;
	line = strstr(text, "0::");
	ret = -ENOENT;
	if (line && (line == text || line[-1] == '\n')) {
		size_t l = strcspn(line + 3, "\n");
		if (l < len) {
			memcpy(buf, line + 3, l);
			buf[l] = 0;
			ret = 0;
		}
	}
	free(text);
	return ret;
}

static void read_comm(pid_t pid, char *buf, size_t len)
{
	char path[64], *text = NULL;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	buf[0] = 0;
	if (read_file(path, 64, &text, &n) == 0) {
		snprintf(buf, len, "%.*s", (int)strcspn(text, "\n"), text);
		free(text);
	}
}

static char no_cgroup[1];

int dg_caller_of_unix(int fd, struct dg_caller *out, const char **why)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	gid_t groups[DG_CALLER_MAX_GROUPS];
	char cgroup[4096];
	int pidfd = -1, ret;

	memset(out, 0, sizeof(*out));
	out->cgroup = no_cgroup;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		*why = "the kernel gave no peer credentials";
		return -errno;
	}
	out->uid = cred.uid;
	out->gid = cred.gid;
	len = sizeof(groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0) {
		/* ERANGE: more groups than we keep; refused rather than judged
		 * on a part of them */
		*why = errno == ERANGE ? "the caller has more supplementary groups than the relay reads"
				       : "the kernel gave no peer groups";
		return -errno;
	}
	out->n_groups = len / sizeof(gid_t);
	for (size_t i = 0; i < out->n_groups; i++)
		out->groups[i] = groups[i];

	/* The connecting process, by a pidfd the kernel took at connect: no
	 * pid reused since can stand in for it. Older kernels (before 6.5):
	 * a pidfd opened now, on the pid recorded at connect. */
	len = sizeof(pidfd);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) < 0) {
		if (errno != ENOPROTOOPT) {
			*why = "the kernel gave no pidfd for the peer";
			return -errno;
		}
		pidfd = (int)syscall(SYS_pidfd_open, cred.pid, 0);
		if (pidfd < 0) {
			*why = "the connecting process is gone";
			return -ESRCH;
		}
	}
	out->pid = pidfd_pid(pidfd);
	if (out->pid <= 0) {
		close(pidfd);
		*why = "the connecting process is gone";
		return -ESRCH;
	}
	ret = read_cgroup(out->pid, cgroup, sizeof(cgroup));
	read_comm(out->pid, out->comm, sizeof(out->comm));
	/* still alive after the reads: they were of that process */
	if (!ret && syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0)
		ret = -ESRCH;
	close(pidfd);
	if (ret) {
		*why = ret == -ESRCH ? "the connecting process is gone"
				     : "the connecting process's cgroup could not be read";
		return ret;
	}
	out->cgroup = xstrdup(cgroup);
	return 0;
}

void dg_caller_fini(struct dg_caller *c)
{
	if (c->cgroup && c->cgroup != no_cgroup)
		free(c->cgroup);
	c->cgroup = no_cgroup;
}

void dg_caller_subject(const struct dg_caller *c, struct dg_subject_id *who)
{
	who->uid = c->uid;
	who->gid = c->gid;
	who->groups = c->groups;
	who->n_groups = c->n_groups;
	who->cgroup = c->cgroup;
}
