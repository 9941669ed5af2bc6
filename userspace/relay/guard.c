// SPDX-License-Identifier: GPL-2.0-only
/*
 * `guard create`: the request structs of dockerd's API 1.41 (moby v20.10,
 * api/types) as allowlists, one table per struct, each field with the check
 * its value gets. A field not in its table is refused: Go would ignore a
 * key it does not know, but a newer engine behind the relay might not, and
 * a guard only passes what it has judged.
 */
#include "relay/guard.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "relay/judge.h"
#include "util/util.h"

enum check {
	C_ANY,		/* data dockerd keeps for the container: any JSON */
	C_FALSE,	/* absent, null or false */
	C_EMPTY,	/* absent, null, "", [] or {} */
	C_NULL,		/* absent or null: present at all is the escape (MaskedPaths: []) */
	C_NS,		/* a namespace mode: neither "host" nor "container:ID" */
	C_SECOPT,	/* security options: only no-new-privileges */
	C_BINDS,	/* "SRC:DST[:OPTS]": a host SRC within the guard's paths */
	C_MOUNTS,	/* [Mount]: bind sources within the paths, no volume driver options */
	C_LABELS,	/* {string: string}, none under io.dockguard. (ours, for `own`) */
	C_OBJ,		/* an object judged by its own table */
	C_NETCFG,	/* NetworkingConfig: no endpoint on "host" or "container:ID" */
	C_SVC_NETS,	/* [NetworkAttachmentConfig]: no Target "host" */
	C_SVC_RUNTIME,	/* TaskTemplate.Runtime: "" or "container" (not a plugin) */
	C_VOL_DRIVER,	/* a volume driver: "" or "local" */
	C_VOL_OPTS,	/* local driver options: none, or a bind of a listed path */
};

/* a field's place in messages: "HostConfig.Mounts[0].Source" */
#define WHERE_LEN 200

/* Writes a field's place (cut short when longer than WHERE_LEN). */
static void placef(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void placef(char *out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, WHERE_LEN, fmt, ap);
	va_end(ap);
}

struct field;
struct table {
	const char *name;		/* for messages: "HostConfig" */
	const struct field *fields;
	size_t n;
};

struct field {
	const char *name;		/* as dockerd's JSON tag spells it */
	enum check check;
	const struct table *sub;	/* C_OBJ */
};

#define TABLE(var, label, ...)                                                           \
	static const struct field var##_fields[] = { __VA_ARGS__ };                     \
	static const struct table var = { label, var##_fields, ARRAY_SIZE(var##_fields) }

/* container.Resources: embedded in HostConfig and UpdateConfig */
#define RESOURCES                                                                          \
	{ "CpuShares", C_ANY, NULL }, { "Memory", C_ANY, NULL }, { "NanoCpus", C_ANY, NULL }, \
	{ "CgroupParent", C_EMPTY, NULL }, { "BlkioWeight", C_ANY, NULL },                    \
	{ "BlkioWeightDevice", C_ANY, NULL }, { "BlkioDeviceReadBps", C_ANY, NULL },          \
	{ "BlkioDeviceWriteBps", C_ANY, NULL }, { "BlkioDeviceReadIOps", C_ANY, NULL },       \
	{ "BlkioDeviceWriteIOps", C_ANY, NULL }, { "CpuPeriod", C_ANY, NULL },                \
	{ "CpuQuota", C_ANY, NULL }, { "CpuRealtimePeriod", C_ANY, NULL },                    \
	{ "CpuRealtimeRuntime", C_ANY, NULL }, { "CpusetCpus", C_ANY, NULL },                 \
	{ "CpusetMems", C_ANY, NULL }, { "Devices", C_EMPTY, NULL },                          \
	{ "DeviceCgroupRules", C_EMPTY, NULL }, { "DeviceRequests", C_EMPTY, NULL },          \
	{ "KernelMemory", C_ANY, NULL }, { "KernelMemoryTCP", C_ANY, NULL },                  \
	{ "MemoryReservation", C_ANY, NULL }, { "MemorySwap", C_ANY, NULL },                  \
	{ "MemorySwappiness", C_ANY, NULL }, { "OomKillDisable", C_ANY, NULL },               \
	{ "PidsLimit", C_ANY, NULL }, { "Ulimits", C_ANY, NULL }, { "CpuCount", C_ANY, NULL }, \
	{ "CpuPercent", C_ANY, NULL }, { "IOMaximumIOps", C_ANY, NULL },                      \
	{ "IOMaximumBandwidth", C_ANY, NULL }

TABLE(host_config, "HostConfig",
      { "Binds", C_BINDS, NULL }, { "ContainerIDFile", C_ANY, NULL }, { "LogConfig", C_ANY, NULL },
      { "NetworkMode", C_NS, NULL }, { "PortBindings", C_ANY, NULL },
      { "RestartPolicy", C_ANY, NULL }, { "AutoRemove", C_ANY, NULL },
      { "VolumeDriver", C_VOL_DRIVER, NULL }, { "VolumesFrom", C_EMPTY, NULL },
      { "CapAdd", C_EMPTY, NULL }, { "CapDrop", C_ANY, NULL }, { "CgroupnsMode", C_NS, NULL },
      { "Dns", C_ANY, NULL }, { "DnsOptions", C_ANY, NULL }, { "DnsSearch", C_ANY, NULL },
      { "ExtraHosts", C_ANY, NULL }, { "GroupAdd", C_ANY, NULL }, { "IpcMode", C_NS, NULL },
      { "Cgroup", C_NS, NULL }, { "Links", C_ANY, NULL }, { "OomScoreAdj", C_ANY, NULL },
      { "PidMode", C_NS, NULL }, { "Privileged", C_FALSE, NULL },
      { "PublishAllPorts", C_ANY, NULL }, { "ReadonlyRootfs", C_ANY, NULL },
      { "SecurityOpt", C_SECOPT, NULL }, { "StorageOpt", C_ANY, NULL }, { "Tmpfs", C_ANY, NULL },
      { "UTSMode", C_NS, NULL }, { "UsernsMode", C_NS, NULL }, { "ShmSize", C_ANY, NULL },
      { "Sysctls", C_EMPTY, NULL }, { "Runtime", C_EMPTY, NULL }, { "ConsoleSize", C_ANY, NULL },
      { "Isolation", C_ANY, NULL }, RESOURCES, { "Mounts", C_MOUNTS, NULL },
      { "MaskedPaths", C_NULL, NULL }, { "ReadonlyPaths", C_NULL, NULL },
      { "Init", C_ANY, NULL });

TABLE(networking_config, "NetworkingConfig", { "EndpointsConfig", C_NETCFG, NULL });

/* container.Config, embedded in the create body, with the wrapper's two */
TABLE(container_create, "",
      { "Hostname", C_ANY, NULL }, { "Domainname", C_ANY, NULL }, { "User", C_ANY, NULL },
      { "AttachStdin", C_ANY, NULL }, { "AttachStdout", C_ANY, NULL },
      { "AttachStderr", C_ANY, NULL }, { "ExposedPorts", C_ANY, NULL }, { "Tty", C_ANY, NULL },
      { "OpenStdin", C_ANY, NULL }, { "StdinOnce", C_ANY, NULL }, { "Env", C_ANY, NULL },
      { "Cmd", C_ANY, NULL }, { "Healthcheck", C_ANY, NULL }, { "ArgsEscaped", C_ANY, NULL },
      { "Image", C_ANY, NULL }, { "Volumes", C_ANY, NULL }, { "WorkingDir", C_ANY, NULL },
      { "Entrypoint", C_ANY, NULL }, { "NetworkDisabled", C_ANY, NULL },
      { "MacAddress", C_ANY, NULL }, { "OnBuild", C_ANY, NULL }, { "Labels", C_LABELS, NULL },
      { "StopSignal", C_ANY, NULL }, { "StopTimeout", C_ANY, NULL }, { "Shell", C_ANY, NULL },
      { "HostConfig", C_OBJ, &host_config }, { "NetworkingConfig", C_OBJ, &networking_config });

TABLE(container_update, "", RESOURCES, { "RestartPolicy", C_ANY, NULL });

/* before API 1.24 a start could carry a HostConfig: judged as one */
TABLE(container_start, "", { "HostConfig", C_OBJ, &host_config });

TABLE(exec_create, "",
      { "User", C_ANY, NULL }, { "Privileged", C_FALSE, NULL }, { "Tty", C_ANY, NULL },
      { "ConsoleSize", C_ANY, NULL }, { "AttachStdin", C_ANY, NULL },
      { "AttachStderr", C_ANY, NULL }, { "AttachStdout", C_ANY, NULL },
      { "Detach", C_ANY, NULL }, { "DetachKeys", C_ANY, NULL }, { "Env", C_ANY, NULL },
      { "WorkingDir", C_ANY, NULL }, { "Cmd", C_ANY, NULL });

/* swarm.Privileges: a credential spec or an SELinux context weakens it */
TABLE(svc_privileges, "Privileges", { "CredentialSpec", C_NULL, NULL },
      { "SELinuxContext", C_NULL, NULL });

TABLE(svc_container, "ContainerSpec",
      { "Image", C_ANY, NULL }, { "Labels", C_LABELS, NULL }, { "Command", C_ANY, NULL },
      { "Args", C_ANY, NULL }, { "Hostname", C_ANY, NULL }, { "Env", C_ANY, NULL },
      { "Dir", C_ANY, NULL }, { "User", C_ANY, NULL }, { "Groups", C_ANY, NULL },
      { "Privileges", C_OBJ, &svc_privileges }, { "Init", C_ANY, NULL },
      { "StopSignal", C_ANY, NULL }, { "TTY", C_ANY, NULL }, { "OpenStdin", C_ANY, NULL },
      { "ReadOnly", C_ANY, NULL }, { "Mounts", C_MOUNTS, NULL },
      { "StopGracePeriod", C_ANY, NULL }, { "Healthcheck", C_ANY, NULL },
      { "Hosts", C_ANY, NULL }, { "DNSConfig", C_ANY, NULL }, { "Secrets", C_ANY, NULL },
      { "Configs", C_ANY, NULL }, { "Isolation", C_ANY, NULL }, { "Sysctls", C_EMPTY, NULL },
      { "CapabilityAdd", C_EMPTY, NULL }, { "CapabilityDrop", C_ANY, NULL },
      { "Ulimits", C_ANY, NULL });

TABLE(svc_task, "TaskTemplate",
      { "ContainerSpec", C_OBJ, &svc_container }, { "PluginSpec", C_NULL, NULL },
      { "NetworkAttachmentSpec", C_NULL, NULL }, { "Resources", C_ANY, NULL },
      { "RestartPolicy", C_ANY, NULL }, { "Placement", C_ANY, NULL },
      { "Networks", C_SVC_NETS, NULL }, { "LogDriver", C_ANY, NULL },
      { "ForceUpdate", C_ANY, NULL }, { "Runtime", C_SVC_RUNTIME, NULL });

TABLE(service_spec, "",
      { "Name", C_ANY, NULL }, { "Labels", C_LABELS, NULL },
      { "TaskTemplate", C_OBJ, &svc_task }, { "Mode", C_ANY, NULL },
      { "UpdateConfig", C_ANY, NULL }, { "RollbackConfig", C_ANY, NULL },
      { "Networks", C_SVC_NETS, NULL }, { "EndpointSpec", C_ANY, NULL });

TABLE(volume_create, "",
      { "Name", C_ANY, NULL }, { "Driver", C_VOL_DRIVER, NULL },
      { "DriverOpts", C_VOL_OPTS, NULL }, { "Labels", C_LABELS, NULL });

/* mount.Mount and its options */
TABLE(mount_bind_options, "BindOptions", { "Propagation", C_ANY, NULL },
      { "NonRecursive", C_ANY, NULL });
TABLE(mount_driver, "DriverConfig", { "Name", C_VOL_DRIVER, NULL }, { "Options", C_EMPTY, NULL });
TABLE(mount_volume_options, "VolumeOptions", { "NoCopy", C_ANY, NULL },
      { "Labels", C_LABELS, NULL }, { "DriverConfig", C_OBJ, &mount_driver });
TABLE(mount_tmpfs_options, "TmpfsOptions", { "SizeBytes", C_ANY, NULL }, { "Mode", C_ANY, NULL });
TABLE(mount_table, "Mount",
      { "Type", C_ANY, NULL }, { "Source", C_ANY, NULL }, { "Target", C_ANY, NULL },
      { "ReadOnly", C_ANY, NULL }, { "Consistency", C_ANY, NULL },
      { "BindOptions", C_OBJ, &mount_bind_options },
      { "VolumeOptions", C_OBJ, &mount_volume_options },
      { "TmpfsOptions", C_OBJ, &mount_tmpfs_options });

/* network.EndpointSettings */
TABLE(endpoint_settings, "EndpointSettings",
      { "IPAMConfig", C_ANY, NULL }, { "Links", C_ANY, NULL }, { "Aliases", C_ANY, NULL },
      { "NetworkID", C_ANY, NULL }, { "EndpointID", C_ANY, NULL }, { "Gateway", C_ANY, NULL },
      { "IPAddress", C_ANY, NULL }, { "IPPrefixLen", C_ANY, NULL },
      { "IPv6Gateway", C_ANY, NULL }, { "GlobalIPv6Address", C_ANY, NULL },
      { "GlobalIPv6PrefixLen", C_ANY, NULL }, { "MacAddress", C_ANY, NULL },
      { "DriverOpts", C_ANY, NULL });

/* swarm.NetworkAttachmentConfig */
TABLE(svc_network, "Networks", { "Target", C_ANY, NULL }, { "Aliases", C_ANY, NULL },
      { "DriverOpts", C_ANY, NULL });

/* ---- routes ---------------------------------------------------------------- */

enum dg_guard_route dg_guard_route(const char *method, const char *path)
{
	if (strcmp(method, "POST"))
		return DG_GUARD_NONE;
	if (!strcmp(path, "/containers/create"))
		return DG_GUARD_CONTAINER_CREATE;
	if (dg_api_pattern_matches("/containers/*/update", path))
		return DG_GUARD_CONTAINER_UPDATE;
	if (dg_api_pattern_matches("/containers/*/start", path))
		return DG_GUARD_CONTAINER_START;
	if (dg_api_pattern_matches("/containers/*/exec", path))
		return DG_GUARD_EXEC_CREATE;
	if (!strcmp(path, "/services/create"))
		return DG_GUARD_SERVICE_CREATE;
	if (dg_api_pattern_matches("/services/*/update", path))
		return DG_GUARD_SERVICE_UPDATE;
	if (!strcmp(path, "/volumes/create"))
		return DG_GUARD_VOLUME_CREATE;
	if (!strcmp(path, "/build"))
		return DG_GUARD_BUILD;
	return DG_GUARD_NONE;
}

bool dg_guard_reads_body(enum dg_guard_route route)
{
	return route != DG_GUARD_NONE && route != DG_GUARD_BUILD;
}

/* ---- judging --------------------------------------------------------------- */

struct ctx {
	const struct dg_guard *g;
	bool resolve_links;
	char *why;
	size_t why_len;
	enum dg_guard_result result;
};

static bool refuse(struct ctx *c, enum dg_guard_result r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static bool refuse(struct ctx *c, enum dg_guard_result r, const char *fmt, ...)
{
	va_list ap;

	if (c->result == DG_GUARD_PASS) {
		c->result = r;
		va_start(ap, fmt);
		vsnprintf(c->why, c->why_len, fmt, ap);
		va_end(ap);
	}
	return false;
}

/*
 * `key` folded as Go's encoding/json compares names: ASCII letters by case,
 * and U+017F (long s) and U+212A (Kelvin sign), whose case folds are 's'
 * and 'k'. Any other non-ASCII character folds to no ASCII letter, so the
 * key can name no field: false.
 */
static bool fold_key(const char *key, char *out, size_t out_len)
{
	const unsigned char *k = (const unsigned char *)key;
	size_t n = 0;

	while (*k) {
		char ch;
		if (*k < 0x80) {
			ch = (char)(*k >= 'A' && *k <= 'Z' ? *k + 32 : *k);
			k++;
		} else if (k[0] == 0xc5 && k[1] == 0xbf) {
			ch = 's';
			k += 2;
		} else if (k[0] == 0xe2 && k[1] == 0x84 && k[2] == 0xaa) {
			ch = 'k';
			k += 3;
		} else {
			return false;
		}
		if (n + 1 >= out_len)
			return false;
		out[n++] = ch;
	}
	out[n] = '\0';
	return true;
}

static void join(char *out, size_t len, const char *where, const char *name)
{
	snprintf(out, len, "%s%s%s", where, *where ? "." : "", name);
}

static bool is_empty_value(const json_t *v)
{
	return !v || json_is_null(v) || (json_is_string(v) && !json_string_length(v)) ||
	       (json_is_array(v) && !json_array_size(v)) ||
	       (json_is_object(v) && !json_object_size(v));
}

/* A mode that joins a namespace of the host or of another container. */
static bool check_ns(struct ctx *c, const json_t *v, const char *where)
{
	if (!v || json_is_null(v))
		return true;
	if (!json_is_string(v))
		return refuse(c, DG_GUARD_UNDECIDABLE, "%s is not a string", where);
	const char *s = json_string_value(v);
	/* dockerd compares exactly; any case of them is refused here */
	if (!strcasecmp(s, "host") || !strncasecmp(s, "container:", 10))
		return refuse(c, DG_GUARD_REFUSE, "%s is \"%s\" (a namespace outside the container)",
			      where, s);
	return true;
}

/*
 * A host path within the guard's paths: absolute, no "." or ".." segment,
 * no empty one (one trailing '/' aside), matched by a `binds` pattern; and,
 * with resolve_links, where its symlinks lead too (the part that exists is
 * resolved, the rest appended).
 */
static bool check_host_path(struct ctx *c, const char *path, const char *where)
{
	char clean[PATH_MAX];
	size_t len = strlen(path);

	if (path[0] != '/' || len >= sizeof(clean))
		return refuse(c, DG_GUARD_REFUSE, "%s: host path \"%s\" is not an absolute path",
			      where, path);
	memcpy(clean, path, len + 1);
	if (len > 1 && clean[len - 1] == '/')
		clean[--len] = '\0';
	for (const char *s = clean; *s;) {
		const char *e = strchr(s + 1, '/');
		size_t sl = e ? (size_t)(e - s - 1) : strlen(s + 1);
		if ((sl == 0 && len > 1) || (sl == 1 && s[1] == '.') ||
		    (sl == 2 && s[1] == '.' && s[2] == '.'))
			return refuse(c, DG_GUARD_REFUSE, "%s: host path \"%s\" has an empty, '.' "
				      "or '..' segment", where, path);
		s += 1 + sl;
	}
	bool ok = false;
	for (size_t i = 0; i < c->g->n_binds && !ok; i++)
		ok = dg_api_pattern_matches(c->g->binds[i], clean);
	if (!ok)
		return refuse(c, DG_GUARD_REFUSE, "%s: host path \"%s\" is outside the paths the "
			      "guard allows%s", where, path,
			      c->g->n_binds ? "" : " (it lists none: `guard create binds PATTERN...`)");
	if (!c->resolve_links)
		return true;

	/* the longest part that exists, resolved; then the rest as written */
	char head[PATH_MAX], real[PATH_MAX], full[PATH_MAX * 2];
	memcpy(head, clean, len + 1);
	const char *rest = "";
	for (;;) {
		if (realpath(head, real))
			break;
		char *slash = strrchr(head, '/');
		if (!slash || slash == head) {
			snprintf(real, sizeof(real), "/");
			rest = clean + 1;
			break;
		}
		*slash = '\0';
		rest = clean + (slash - head) + 1;
	}
	snprintf(full, sizeof(full), "%s%s%s", real, (*rest && strcmp(real, "/")) ? "/" : "",
		 rest);
	ok = false;
	for (size_t i = 0; i < c->g->n_binds && !ok; i++)
		ok = dg_api_pattern_matches(c->g->binds[i], full);
	if (!ok)
		return refuse(c, DG_GUARD_REFUSE, "%s: host path \"%s\" leads to \"%s\" (symbolic "
			      "links), outside the paths the guard allows", where, path, full);
	return true;
}

/* A volume name as dockerd accepts one: [a-zA-Z0-9][a-zA-Z0-9_.-]+ */
static bool volume_name(const char *s)
{
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
	      (s[0] >= '0' && s[0] <= '9')) || !s[1])
		return false;
	for (const char *p = s + 1; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-'))
			return false;
	return true;
}

static bool check_object(struct ctx *c, const json_t *obj, const struct table *t,
			 const char *where);

/* One item of a list or a map, at `at` ("Binds[0]", "Labels[\"k\"]"). */
typedef bool (*item_fn)(struct ctx *c, const char *key, const json_t *item, const char *at);

/* Each item of the list `v` (absent or null: none). */
static bool each_in_list(struct ctx *c, const json_t *v, const char *where, item_fn fn)
{
	size_t i;
	json_t *item;

	if (!v || json_is_null(v))
		return true;
	if (!json_is_array(v))
		return refuse(c, DG_GUARD_UNDECIDABLE, "%s is not a list", where);
	json_array_foreach(v, i, item) {
		char at[WHERE_LEN];
		placef(at, "%s[%zu]", where, i);
		if (!fn(c, NULL, item, at))
			return false;
	}
	return true;
}

/* Each value of the map `v` (absent or null: none), with its key. */
static bool each_in_map(struct ctx *c, const json_t *v, const char *where, item_fn fn)
{
	const char *key;
	json_t *item;

	if (!v || json_is_null(v))
		return true;
	if (!json_is_object(v))
		return refuse(c, DG_GUARD_UNDECIDABLE, "%s is not an object", where);
	json_object_foreach((json_t *)v, key, item) {
		char at[WHERE_LEN];
		placef(at, "%s[\"%s\"]", where, key);
		if (!fn(c, key, item, at))
			return false;
	}
	return true;
}

/* The value of the field that `name` (lower case) folds to in the object
 * `obj`, which check_object judged (so there is one at most), or NULL. */
static const json_t *field_value(const json_t *obj, const char *name)
{
	const char *key;
	json_t *val;

	json_object_foreach((json_t *)obj, key, val) {
		char f[32];
		if (fold_key(key, f, sizeof(f)) && !strcmp(f, name))
			return val;
	}
	return NULL;
}

/* HostConfig.Binds[i]: "SRC:DST[:OPTIONS]", SRC a host path or a volume name. */
static bool check_bind(struct ctx *c, const char *key, const json_t *b, const char *at)
{
	(void)key;
	if (!json_is_string(b))
		return refuse(c, DG_GUARD_UNDECIDABLE, "%s is not a string", at);
	const char *s = json_string_value(b);
	const char *colon = strchr(s, ':');
	if (!colon || colon == s)
		return refuse(c, DG_GUARD_REFUSE, "%s \"%s\" is not SOURCE:TARGET", at, s);
	char *src = xstrndup(s, (size_t)(colon - s));
	bool ok = src[0] == '/' ? check_host_path(c, src, at)
		  : volume_name(src) ? true
		  : refuse(c, DG_GUARD_REFUSE, "%s: \"%s\" is neither a host path nor a volume "
			   "name", at, src);
	free(src);
	return ok;
}

/* Mounts[i]: a bind judged as binds; a volume without driver options; tmpfs. */
static bool check_mount(struct ctx *c, const char *key, const json_t *m, const char *at)
{
	(void)key;
	if (!json_is_object(m))
		return refuse(c, DG_GUARD_UNDECIDABLE, "%s is not an object", at);
	if (!check_object(c, m, &mount_table, at))
		return false;
	const json_t *type = field_value(m, "type"), *source = field_value(m, "source");
	if (!json_is_string(type))
		return refuse(c, DG_GUARD_UNDECIDABLE, "%s.Type is not a string", at);
	if (source && !json_is_null(source) && !json_is_string(source))
		return refuse(c, DG_GUARD_UNDECIDABLE, "%s.Source is not a string", at);
	const char *ty = json_string_value(type);
	const char *src = source ? json_string_value(source) : NULL;
	char src_at[WHERE_LEN];
	placef(src_at, "%s.Source", at);
	if (!strcmp(ty, "bind"))
		return check_host_path(c, src ? src : "", src_at);
	if (!strcmp(ty, "tmpfs") && src && *src)
		return refuse(c, DG_GUARD_REFUSE, "%s: a tmpfs mount with a source", src_at);
	if (strcmp(ty, "volume") && strcmp(ty, "tmpfs"))
		return refuse(c, DG_GUARD_REFUSE, "%s.Type \"%s\" (only bind, volume and tmpfs "
			      "are judged)", at, ty);
	return true;	/* a volume by name (its options judged above), or a tmpfs */
}

static bool check_label(struct ctx *c, const char *key, const json_t *val, const char *at)
{
	if (!json_is_string(val))
		return refuse(c, DG_GUARD_UNDECIDABLE, "%s is not a string", at);
	if (!strncasecmp(key, "io.dockguard.", 13))
		return refuse(c, DG_GUARD_REFUSE, "%s: labels under io.dockguard. are dockguard's "
			      "own", at);
	return true;
}

static bool check_secopt(struct ctx *c, const char *key, const json_t *o, const char *at)
{
	(void)key;
	if (!json_is_string(o))
		return refuse(c, DG_GUARD_UNDECIDABLE, "%s is not a string", at);
	const char *s = json_string_value(o);
	/* what only tightens: everything else (seccomp, apparmor, label,
	 * systempaths) can loosen the confinement */
	if (strcmp(s, "no-new-privileges") && strcmp(s, "no-new-privileges=true") &&
	    strcmp(s, "no-new-privileges:true"))
		return refuse(c, DG_GUARD_REFUSE, "%s is \"%s\" (only no-new-privileges passes a "
			      "guard)", at, s);
	return true;
}

/* NetworkingConfig.EndpointsConfig[network]: EndpointSettings */
static bool check_endpoint(struct ctx *c, const char *key, const json_t *val, const char *at)
{
	if (!strcasecmp(key, "host") || !strncasecmp(key, "container:", 10))
		return refuse(c, DG_GUARD_REFUSE, "%s: the network of the host or of another "
			      "container", at);
	return check_object(c, val, &endpoint_settings, at);
}

/* a service's Networks[i]: NetworkAttachmentConfig */
static bool check_svc_net(struct ctx *c, const char *key, const json_t *n, const char *at)
{
	(void)key;
	if (!json_is_object(n))
		return refuse(c, DG_GUARD_UNDECIDABLE, "%s is not an object", at);
	if (!check_object(c, n, &svc_network, at))
		return false;
	const json_t *target = field_value(n, "target");
	if (json_is_string(target) && !strcasecmp(json_string_value(target), "host"))
		return refuse(c, DG_GUARD_REFUSE, "%s.Target is the host's network", at);
	return true;
}

/* DriverOpts of the local driver: none, or a bind ("o" holding "bind") of a
 * listed path ("device"); any other option is refused. */
static bool check_vol_opts(struct ctx *c, const json_t *v, const char *where)
{
	const char *key, *device = NULL;
	json_t *val;
	bool bind = false;

	if (is_empty_value(v))
		return true;
	if (!json_is_object(v))
		return refuse(c, DG_GUARD_UNDECIDABLE, "%s is not an object", where);
	json_object_foreach((json_t *)v, key, val) {
		if (!json_is_string(val))
			return refuse(c, DG_GUARD_UNDECIDABLE, "%s[\"%s\"] is not a string", where, key);
		const char *s = json_string_value(val);
		if (!strcmp(key, "type") && (!strcmp(s, "none") || !*s))
			continue;
		if (!strcmp(key, "o")) {
			/* a comma list of mount options: bind, rbind, ro, ... */
			char *opts = xstrdup(s), *save = NULL;
			for (char *o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
				if (!strcmp(o, "bind") || !strcmp(o, "rbind"))
					bind = true;
				else if (strcmp(o, "ro") && strcmp(o, "rw")) {
					refuse(c, DG_GUARD_REFUSE, "%s[\"o\"] holds \"%s\" (only "
					       "bind, rbind, ro, rw pass a guard)", where, o);
					free(opts);
					return false;
				}
			}
			free(opts);
			continue;
		}
		if (!strcmp(key, "device")) {
			device = s;
			continue;
		}
		return refuse(c, DG_GUARD_REFUSE, "%s[\"%s\"] (only a bind of a listed host path "
			      "passes a guard)", where, key);
	}
	if (!device || !bind)
		return refuse(c, DG_GUARD_REFUSE, "%s: a device without \"o\": \"bind\" mounts a "
			      "filesystem on the host", where);
	char at[WHERE_LEN];
	placef(at, "%s[\"device\"]", where);
	return check_host_path(c, device, at);
}

static bool check_value(struct ctx *c, const struct field *f, const json_t *v, const char *where)
{
	switch (f->check) {
	case C_ANY:
		return true;
	case C_FALSE:
		if (json_is_null(v) || json_is_false(v))
			return true;
		if (json_is_true(v))
			return refuse(c, DG_GUARD_REFUSE, "%s is true", where);
		return refuse(c, DG_GUARD_UNDECIDABLE, "%s is not a boolean", where);
	case C_EMPTY:
		if (is_empty_value(v))
			return true;
		return refuse(c, DG_GUARD_REFUSE, "%s is set (a guard refuses it)", where);
	case C_NULL:
		if (json_is_null(v))
			return true;
		return refuse(c, DG_GUARD_REFUSE, "%s is given (it replaces the engine's "
			      "defaults: a guard refuses it)", where);
	case C_NS:
		return check_ns(c, v, where);
	case C_SECOPT:
		return each_in_list(c, v, where, check_secopt);
	case C_BINDS:
		return each_in_list(c, v, where, check_bind);
	case C_MOUNTS:
		return each_in_list(c, v, where, check_mount);
	case C_LABELS:
		return each_in_map(c, v, where, check_label);
	case C_OBJ:
		return check_object(c, v, f->sub, where);
	case C_NETCFG:
		return each_in_map(c, v, where, check_endpoint);
	case C_SVC_NETS:
		return each_in_list(c, v, where, check_svc_net);
	case C_SVC_RUNTIME:
		if (json_is_null(v) || (json_is_string(v) && (!json_string_length(v) ||
							      !strcmp(json_string_value(v), "container"))))
			return true;
		return refuse(c, DG_GUARD_REFUSE, "%s is not \"container\" (a plugin is root on "
			      "every node)", where);
	case C_VOL_DRIVER:
		if (json_is_null(v) || (json_is_string(v) && (!json_string_length(v) ||
							      !strcmp(json_string_value(v), "local"))))
			return true;
		return refuse(c, DG_GUARD_REFUSE, "%s is not the local driver (a plugin's driver "
			      "is not judged)", where);
	case C_VOL_OPTS:
		return check_vol_opts(c, v, where);
	}
	return refuse(c, DG_GUARD_UNDECIDABLE, "%s: no check", where);
}

/* An object of table `t` (or null): every key a field, no field twice. */
static bool check_object(struct ctx *c, const json_t *obj, const struct table *t,
			 const char *where)
{
	const char *key;
	json_t *val;
	unsigned char seen[128] = { 0 };

	if (!obj || json_is_null(obj))
		return true;
	if (!json_is_object(obj))
		return refuse(c, DG_GUARD_UNDECIDABLE, "%s is not an object", *where ? where : "the body");
	json_object_foreach((json_t *)obj, key, val) {
		char folded[64], at[WHERE_LEN];
		size_t i = t->n;
		/* field names are ASCII: a folded key matches one by its case */
		if (fold_key(key, folded, sizeof(folded)))
			for (i = 0; i < t->n; i++)
				if (!strcasecmp(folded, t->fields[i].name))
					break;
		join(at, sizeof(at), where, i < t->n ? t->fields[i].name : key);
		if (i == t->n)
			return refuse(c, DG_GUARD_REFUSE, "%s: a field the guard does not know "
				      "(for API 1.41)", at);
		if (seen[i])
			return refuse(c, DG_GUARD_UNDECIDABLE, "%s is given twice (keys match "
				      "case-insensitively; dockerd would take the last)", at);
		seen[i] = 1;
		if (!check_value(c, &t->fields[i], val, at))
			return false;
	}
	return true;
}

enum dg_guard_result dg_guard_judge_body(enum dg_guard_route route, const char *body, size_t len,
					 const struct dg_guard *g, bool resolve_links, char *why,
					 size_t why_len)
{
	struct ctx c = { .g = g, .resolve_links = resolve_links, .why = why, .why_len = why_len,
			 .result = DG_GUARD_PASS };
	const struct table *t;
	json_error_t jerr;

	switch (route) {
	case DG_GUARD_CONTAINER_CREATE: t = &container_create; break;
	case DG_GUARD_CONTAINER_UPDATE: t = &container_update; break;
	case DG_GUARD_CONTAINER_START: t = &container_start; break;
	case DG_GUARD_EXEC_CREATE: t = &exec_create; break;
	case DG_GUARD_SERVICE_CREATE:
	case DG_GUARD_SERVICE_UPDATE: t = &service_spec; break;
	case DG_GUARD_VOLUME_CREATE: t = &volume_create; break;
	default:
		return DG_GUARD_PASS;
	}
	if (why_len)
		why[0] = '\0';
	/* A start without a body is the usual start */
	if (route == DG_GUARD_CONTAINER_START && len == 0)
		return DG_GUARD_PASS;
	if (len == 0) {
		refuse(&c, DG_GUARD_UNDECIDABLE, "the body is empty");
		return c.result;
	}
	/* strict: duplicate keys, NUL in strings, text after the value,
	 * invalid UTF-8, numbers out of range are all errors here */
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!root) {
		refuse(&c, DG_GUARD_UNDECIDABLE, "the body is not JSON as dockerd would read it "
		       "(%s at byte %d)", jerr.text, jerr.position);
		return c.result;
	}
	if (!json_is_object(root) && !(route == DG_GUARD_CONTAINER_START && json_is_null(root)))
		refuse(&c, DG_GUARD_UNDECIDABLE, "the body is not a JSON object");
	else
		check_object(&c, root, t, "");
	json_decref(root);
	return c.result;
}

enum dg_guard_result dg_guard_judge_query(enum dg_guard_route route, const struct dg_target *t,
					  char *why, size_t why_len)
{
	const char *v;

	if (why_len)
		why[0] = '\0';
	if (route != DG_GUARD_BUILD)
		return DG_GUARD_PASS;
	/* dockerd reads these with r.FormValue: exact, case-sensitive keys */
	if ((v = dg_target_param(t, "networkmode")) &&
	    (!strcasecmp(v, "host") || !strncasecmp(v, "container:", 10))) {
		snprintf(why, why_len, "networkmode=%s (a build in a namespace outside its "
			 "container)", v);
		return DG_GUARD_REFUSE;
	}
	if ((v = dg_target_param(t, "cgroupparent")) && *v) {
		snprintf(why, why_len, "cgroupparent is set (a guard refuses it)");
		return DG_GUARD_REFUSE;
	}
	if ((v = dg_target_param(t, "remote")) && *v) {
		snprintf(why, why_len, "remote is set (dockerd would fetch the context itself: a "
			 "guard refuses it)");
		return DG_GUARD_REFUSE;
	}
	return DG_GUARD_PASS;
}
