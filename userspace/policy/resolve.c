// SPDX-License-Identifier: GPL-2.0-only
#include "policy/resolve.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <sys/xattr.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/util.h"

int dg_cgroup2_root(char *buf, size_t len)
{
	FILE *f = fopen("/proc/self/mounts", "re");
	char line[4096];
	int err = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char dev[256], dir[2048], type[64];
		if (sscanf(line, "%255s %2047s %63s", dev, dir, type) != 3)
			continue;
		if (strcmp(type, "cgroup2"))
			continue;
		if (strlen(dir) >= len) {
			err = -ENAMETOOLONG;
			break;
		}
		strcpy(buf, dir);
		err = 0;
		break;
	}
	fclose(f);
	return err;
}

/*
 * systemd marks every cgroup it creates for a unit with the extended
 * attribute trusted.invocation_id. Only a process with CAP_SYS_ADMIN can set
 * trusted.* attributes, and neither dockerd (`--cgroup-parent /nginx.service`)
 * nor a user in a delegated subtree sets this one: a directory named like a
 * unit without it is not that unit's.
 */
static bool made_by_systemd(const char *root, const char *rel)
{
	char *path = xasprintf("%s%s", root, rel);
	ssize_t n = getxattr(path, "trusted.invocation_id", NULL, 0);

	free(path);
	return n > 0;
}

/*
 * Breadth-first search for a directory called `name`, at most `depth` levels
 * down, so that the shallowest match wins. /system.slice is searched first
 * at each level. Delegated subtrees (not owned by root) are never searched:
 * a user could otherwise create /user.slice/.../user@UID.service/NAME while
 * the unit is not running, and be taken for it.
 */
static char *find_cgroup_dir(const char *root, const char *name, int depth)
{
	char **level = xcalloc(1, sizeof(*level)), **next = NULL;
	size_t n = 1, n_next = 0;
	char *found = NULL;

	level[0] = xstrdup("");
	for (int d = 0; d < depth && n && !found; d++) {
		for (size_t i = 0; i < n && !found; i++) {
			char *dir = xasprintf("%s%s", root, level[i]);
			DIR *dh = opendir(dir);
			free(dir);
			if (!dh)
				continue;
			for (struct dirent *de; (de = readdir(dh));) {
				struct stat st;
				if (de->d_type != DT_DIR || de->d_name[0] == '.')
					continue;
				/* A cgroup owned by someone else than root was
				 * delegated (user@UID.service, Delegate=): its
				 * owner can create any name in it, so a unit is
				 * never looked for there. */
				if (fstatat(dirfd(dh), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
				    st.st_uid != 0)
					continue;
				char *path = xasprintf("%s/%s", level[i], de->d_name);
				if (!strcmp(de->d_name, name) && made_by_systemd(root, path)) {
					found = path;
					break;
				}
				next = xreallocarray(next, n_next + 1, sizeof(*next));
				/* system.slice goes to the front of the next level */
				if (!strcmp(path, "/system.slice")) {
					memmove(next + 1, next, n_next * sizeof(*next));
					next[0] = path;
				} else {
					next[n_next] = path;
				}
				n_next++;
			}
			closedir(dh);
		}
		for (size_t i = 0; i < n; i++)
			free(level[i]);
		free(level);
		level = next;
		n = n_next;
		next = NULL;
		n_next = 0;
	}
	for (size_t i = 0; i < n; i++)
		free(level[i]);
	free(level);
	return found;
}

/* systemd's default place for a unit with no cgroup yet. */
static char *default_unit_path(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (dot && !strcmp(dot, ".slice")) {
		if (!strcmp(name, "-.slice"))
			return xstrdup("/");
		/* a-b-c.slice lives in /a.slice/a-b.slice/a-b-c.slice */
		size_t cap = 2 * strlen(name) * strlen(name) + 16;
		char *path = xcalloc(1, cap);
		for (const char *p = name; p < dot; p++) {
			if (*p != '-' && p + 1 != dot)
				continue;
			size_t len = (size_t)(*p == '-' ? p - name : dot - name);
			strcat(path, "/");
			strncat(path, name, len);
			strcat(path, ".slice");
		}
		return path;
	}
	return xasprintf("/system.slice/%s", name);
}

/* The D-Bus interface that carries a unit type's ControlGroup property. */
static const char *unit_interface(const char *name)
{
	static const struct { const char *suffix, *iface; } types[] = {
		{ ".service", "org.freedesktop.systemd1.Service" },
		{ ".scope", "org.freedesktop.systemd1.Scope" },
		{ ".slice", "org.freedesktop.systemd1.Slice" },
		{ ".socket", "org.freedesktop.systemd1.Socket" },
		{ ".mount", "org.freedesktop.systemd1.Mount" },
		{ ".swap", "org.freedesktop.systemd1.Swap" },
	};
	const char *dot = strrchr(name, '.');

	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(dot, types[i].suffix))
			return types[i].iface;
	return NULL;
}

/*
 * Where systemd runs, it says where a unit's cgroup is. Returns 1 with
 * *path (malloc'd) when the unit has a cgroup, 0 when systemd knows no
 * cgroup for it (not loaded, not running), -1 when systemd cannot be asked.
 */
static int systemd_unit_cgroup(const char *name, char **path)
{
	const char *iface = unit_interface(name);
	sd_bus *bus = NULL;
	sd_bus_error error = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	const char *object;
	char *cg = NULL;
	int ret = -1;

	*path = NULL;
	if (!iface || sd_booted() <= 0 || sd_bus_open_system(&bus) < 0)
		goto out;
	if (sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
			       "org.freedesktop.systemd1.Manager", "GetUnit", &error, &reply, "s",
			       name) < 0) {
		/* NoSuchUnit: not loaded, so it has no cgroup */
		ret = sd_bus_error_has_name(&error, "org.freedesktop.systemd1.NoSuchUnit") ? 0 : -1;
		goto out;
	}
	if (sd_bus_message_read(reply, "o", &object) < 0 ||
	    sd_bus_get_property_string(bus, "org.freedesktop.systemd1", object, iface,
				       "ControlGroup", &error, &cg) < 0)
		goto out;
	if (cg && *cg) {
		*path = cg;
		cg = NULL;
		ret = 1;
	} else {
		ret = 0;
	}
out:
	free(cg);
	sd_bus_message_unref(reply);
	sd_bus_error_free(&error);
	sd_bus_unref(bus);
	return ret;
}

char *dg_resolve_unit(const char *cgroup_root, const char *name, struct dg_diag *diag,
		      const struct dg_loc *loc)
{
	char *path = NULL;
	int asked = systemd_unit_cgroup(name, &path);

	if (asked == 1)
		return path;
	/* systemd cannot be asked (not PID 1): the cgroup it marked */
	if (asked < 0 && cgroup_root)
		path = find_cgroup_dir(cgroup_root, name, 6);
	if (path)
		return path;
	path = default_unit_path(name);
	dg_diag_warning(diag, loc,
			"unit '%s' has no cgroup now; assuming %s, where systemd puts it by "
			"default (reload the policy if the unit runs in another slice)",
			name, path);
	return path;
}

static const char *env_or(const char *var, const char *dflt)
{
	const char *v = getenv(var);
	return v && *v ? v : dflt;
}

static int id_range_cmp(const void *a, const void *b)
{
	const struct dg_id_range *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Every "name:start:count" line of `user` (or of its numeric uid), sorted by
 * start as Docker maps them. The number of ranges; 0 for none. */
static size_t subordinate_ranges(const char *file, const char *user, uid_t uid,
				 struct dg_id_range *out, size_t max)
{
	FILE *f = fopen(file, "re");
	char line[512], uidstr[16];
	size_t n = 0;

	if (!f)
		return 0;
	/* an unknown user has no uid to match by */
	snprintf(uidstr, sizeof(uidstr), "%u", (unsigned int)uid);
	if (uid == (uid_t)-1)
		uidstr[0] = '\0';
	while (n < max && fgets(line, sizeof(line), f)) {
		char *save = NULL;
		char *who = strtok_r(line, ":\n", &save);
		char *start = strtok_r(NULL, ":\n", &save);
		char *count = strtok_r(NULL, ":\n", &save);
		uint64_t s, c;
		if (!who || !start || !count)
			continue;
		if (strcmp(who, user) && (!uidstr[0] || strcmp(who, uidstr)))
			continue;
		if (parse_u64(start, 0, UINT32_MAX, &s) || parse_u64(count, 1, UINT32_MAX, &c) ||
		    s + c - 1 > UINT32_MAX - 1)
			continue;
		out[n].lo = (uint32_t)s;
		out[n].hi = (uint32_t)(s + c - 1);
		n++;
	}
	fclose(f);
	qsort(out, n, sizeof(*out), id_range_cmp);
	return n;
}

int64_t dg_remap_container_uid(const struct dg_remap *r, uint32_t uid)
{
	int64_t base = 0;

	if (!r->have_range)
		return -1;
	for (size_t i = 0; i < r->n_uids; i++) {
		if (uid >= r->uids[i].lo && uid <= r->uids[i].hi)
			return base + (uid - r->uids[i].lo);
		base += (int64_t)r->uids[i].hi - r->uids[i].lo + 1;
	}
	return -1;
}

void dg_resolve_remap(struct dg_remap *out)
{
	const char *daemon_json = env_or("DOCKGUARD_DOCKER_DAEMON_JSON", "/etc/docker/daemon.json");
	json_error_t jerr;
	json_t *root;

	memset(out, 0, sizeof(*out));
	root = json_load_file(daemon_json, 0, &jerr);
	if (!root) {
		snprintf(out->why, sizeof(out->why), "cannot read %s: %s", daemon_json, jerr.text);
		return;
	}
	const char *remap = json_string_value(json_object_get(root, "userns-remap"));
	if (!remap || !*remap) {
		snprintf(out->why, sizeof(out->why), "%s has no \"userns-remap\"", daemon_json);
		json_decref(root);
		return;
	}
	out->enabled = true;
	/* "default" means dockremap; "user:group" names the user first. */
	if (!strcmp(remap, "default"))
		snprintf(out->user, sizeof(out->user), "dockremap");
	else
		snprintf(out->user, sizeof(out->user), "%.*s", (int)strcspn(remap, ":"), remap);
	json_decref(root);

	uid_t uid = (uid_t)-1;
	struct passwd *pw = getpwnam(out->user);
	if (pw)
		uid = pw->pw_uid;
	const char *subuid = env_or("DOCKGUARD_SUBUID", "/etc/subuid");
	const char *subgid = env_or("DOCKGUARD_SUBGID", "/etc/subgid");
	out->n_uids = subordinate_ranges(subuid, out->user, uid, out->uids, DG_REMAP_MAX_RANGES);
	if (!out->n_uids) {
		snprintf(out->why, sizeof(out->why), "%s has no range for user '%s'", subuid,
			 out->user);
		return;
	}
	out->n_gids = subordinate_ranges(subgid, out->user, uid, out->gids, DG_REMAP_MAX_RANGES);
	if (!out->n_gids) {
		memcpy(out->gids, out->uids, sizeof(out->gids));
		out->n_gids = out->n_uids;
	}
	out->uid_lo = out->uids[0].lo;
	out->uid_hi = out->uids[0].hi;
	out->gid_lo = out->gids[0].lo;
	out->gid_hi = out->gids[0].hi;
	out->have_range = true;
}

#ifndef FILEID_KERNFS
#define FILEID_KERNFS 0xfe	/* kernfs (cgroupfs) file handles carry the node id */
#endif

int dg_cgroup_path_at(int root_fd, const char *root, uint64_t id, char *buf, size_t len)
{
	struct {
		struct file_handle fh;
		uint64_t id;
	} h = { .fh = { .handle_bytes = sizeof(uint64_t), .handle_type = FILEID_KERNFS }, .id = id };
	int fd = open_by_handle_at(root_fd, &h.fh, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char link[64], target[4096];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	int e = errno;
	close(fd);
	if (n <= 0)
		return n < 0 ? -e : -ENOENT;
	target[n] = '\0';
	size_t root_len = strlen(root);
	const char *rel = strncmp(target, root, root_len) ? target : target + root_len;
	snprintf(buf, len, "%s", *rel ? rel : "/");
	return 0;
}
