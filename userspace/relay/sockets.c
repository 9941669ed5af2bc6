// SPDX-License-Identifier: GPL-2.0-only
/* The relay's sockets (sockets.h). */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "relay/sockets.h"
#include "util/util.h"

bool dg_relay_sockaddr(const struct dg_addr *a, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	switch (a->kind) {
	case DG_ADDR_UNIX: {
		struct sockaddr_un *sun = (struct sockaddr_un *)ss;
		if (!a->path || strlen(a->path) >= sizeof(sun->sun_path))
			return false;
		sun->sun_family = AF_UNIX;
		strcpy(sun->sun_path, a->path);
		*len = sizeof(*sun);
		return true;
	}
	case DG_ADDR_TCP4: {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		in->sin_family = AF_INET;
		memcpy(&in->sin_addr, a->addr + 12, 4);
		in->sin_port = htons(a->port);
		*len = sizeof(*in);
		return true;
	}
	case DG_ADDR_TCP6: {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, a->addr, 16);
		in6->sin6_port = htons(a->port);
		*len = sizeof(*in6);
		return true;
	}
	default:
		return false;
	}
}

char *dg_relay_addr_text(const struct dg_addr *a)
{
	char buf[512];

	return xstrdup(dg_addr_format_sep(a, ' ', buf, sizeof(buf)));
}

int dg_relay_bind_unix(const char *path, struct dg_err *err)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, e;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		dg_err_set(err, "the path %s is too long for a socket", path);
		return -ENAMETOOLONG;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		e = errno;
		dg_err_set(err, "cannot create a unix socket: %s", strerror(e));
		return -e;
	}
	unlink(path);	/* a socket file left by an earlier relay */
	/* its directory, when missing (root's, 0755: /run/dockguard/relay after a
	 * reboot); an existing one is the operator's and stays as it is */
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		if (mkdir(dir, 0755) == 0)
			chmod(dir, 0755);	/* whatever the umask */
	}
	free(dir);
	/* 0666: the hooks and the policy judge who may connect */
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || chmod(path, 0666) < 0 ||
	    listen(fd, 128) < 0) {
		e = errno;
		close(fd);
		dg_err_set(err, "cannot listen at %s: %s; check that its directory exists", path,
			   strerror(e));
		return -e;
	}
	return fd;
}

static int bind_tcp(const struct dg_addr *a, struct dg_err *err)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 any = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
	socklen_t len;
	char *text = dg_relay_addr_text(a);
	int fd, e, one = 1, v6only;

	if (a->kind == DG_ADDR_TCP_ANY) {
		any.sin6_port = htons(a->port);
		memcpy(&ss, &any, sizeof(any));
		len = sizeof(any);
		v6only = 0;	/* `*`: both families */
	} else {
		dg_relay_sockaddr(a, &ss, &len);
		v6only = 1;	/* an IPv6 address is that address only */
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		e = errno;
		dg_err_set(err, "cannot create a socket for %s: %s", text, strerror(e));
		free(text);
		return -e;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 512) < 0) {
		e = errno;
		close(fd);
		if (e == EADDRNOTAVAIL)
			dg_err_set(err, "%s: no interface has that address yet; it is bound when "
				   "one does", text);
		else
			dg_err_set(err, "cannot listen at %s: %s%s", text, strerror(e),
				   e == EADDRINUSE ? "; another program serves that port" : "");
		free(text);
		return -e;
	}
	free(text);
	return fd;
}

int dg_relay_bind(const struct dg_addr *a, struct dg_err *err)
{
	return a->kind == DG_ADDR_UNIX ? dg_relay_bind_unix(a->path, err) : bind_tcp(a, err);
}

bool dg_relay_policy_on_tcp(const struct dg_policy *pol)
{
	for (size_t e = 0; e < pol->n_endpoints; e++)
		for (size_t a = 0; pol->endpoints[e].relay && a < pol->endpoints[e].n_addrs; a++)
			if (pol->endpoints[e].addrs[a].kind != DG_ADDR_UNIX)
				return true;
	return false;
}
