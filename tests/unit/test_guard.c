// SPDX-License-Identifier: GPL-2.0-only
/*
 * The body judge of `guard create` (relay/guard.c): every escape of spec §9
 * as dockerd would decode it, the decoding differences that must be refused
 * (case variants, duplicates, escapes, trailing text), and what ordinary
 * clients send.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "relay/guard.h"
#include "testing.h"

static char *const ci_binds[] = { "/srv/ci/**" };
static const struct dg_guard ci = { ci_binds, 1 };
static const struct dg_guard none = { NULL, 0 };

static enum dg_guard_result judge(enum dg_guard_route r, const char *body, const struct dg_guard *g,
				  char *why)
{
	return dg_guard_judge_body(r, body, strlen(body), g, false, why, 512);
}

static void passes(enum dg_guard_route r, const char *body)
{
	char why[512];
	enum dg_guard_result res = judge(r, body, &ci, why);
	if (res != DG_GUARD_PASS)
		fprintf(stderr, "refused (%s): %s\n", why, body);
	CHECK(res == DG_GUARD_PASS);
}

/* refused, with `field` in the reason */
static void refused(enum dg_guard_route r, const char *body, enum dg_guard_result want,
		    const char *field)
{
	char why[512];
	enum dg_guard_result res = judge(r, body, &ci, why);
	if (res != want || !strstr(why, field))
		fprintf(stderr, "want %d naming %s, got %d (%s): %s\n", want, field, res, why, body);
	CHECK(res == want);
	CHECK(strstr(why, field) != NULL);
}

#define C DG_GUARD_CONTAINER_CREATE
#define REFUSE DG_GUARD_REFUSE
#define UNDECIDABLE DG_GUARD_UNDECIDABLE

TEST(guard_routes)
{
	CHECK(dg_guard_route("POST", "/containers/create") == C);
	CHECK(dg_guard_route("POST", "/containers/abc/update") == DG_GUARD_CONTAINER_UPDATE);
	CHECK(dg_guard_route("POST", "/containers/abc/exec") == DG_GUARD_EXEC_CREATE);
	CHECK(dg_guard_route("POST", "/containers/abc/start") == DG_GUARD_CONTAINER_START);
	CHECK(dg_guard_route("POST", "/services/create") == DG_GUARD_SERVICE_CREATE);
	CHECK(dg_guard_route("POST", "/services/x/update") == DG_GUARD_SERVICE_UPDATE);
	CHECK(dg_guard_route("POST", "/volumes/create") == DG_GUARD_VOLUME_CREATE);
	CHECK(dg_guard_route("POST", "/build") == DG_GUARD_BUILD);
	CHECK(dg_guard_route("GET", "/containers/create") == DG_GUARD_NONE);
	CHECK(dg_guard_route("POST", "/containers/abc/kill") == DG_GUARD_NONE);
}

TEST(guard_ordinary_bodies_pass)
{
	/* what `docker run --rm -v /srv/ci/job:/w -e A=1 alpine true` sends, abridged */
	passes(C, "{\"Hostname\":\"\",\"User\":\"\",\"Env\":[\"A=1\"],\"Cmd\":[\"true\"],"
		  "\"Image\":\"alpine\",\"Labels\":{\"job\":\"1\"},\"HostConfig\":{\"Binds\":"
		  "[\"/srv/ci/job:/w\",\"cache:/cache:ro\"],\"NetworkMode\":\"default\","
		  "\"AutoRemove\":true,\"Privileged\":false,\"CapAdd\":null,\"CapDrop\":[\"ALL\"],"
		  "\"SecurityOpt\":[\"no-new-privileges\"],\"Mounts\":[{\"Type\":\"volume\","
		  "\"Source\":\"data\",\"Target\":\"/data\"},{\"Type\":\"tmpfs\",\"Target\":\"/t\"}],"
		  "\"MaskedPaths\":null,\"Devices\":[],\"Sysctls\":{}},\"NetworkingConfig\":"
		  "{\"EndpointsConfig\":{\"ci_net\":{\"Aliases\":[\"a\"]}}}}");
	passes(DG_GUARD_EXEC_CREATE, "{\"AttachStdout\":true,\"Cmd\":[\"ls\"],\"Privileged\":false}");
	passes(DG_GUARD_CONTAINER_UPDATE, "{\"Memory\":1048576,\"RestartPolicy\":{\"Name\":\"no\"}}");
	passes(DG_GUARD_CONTAINER_START, "");
	passes(DG_GUARD_VOLUME_CREATE, "{\"Name\":\"v\",\"Driver\":\"local\",\"DriverOpts\":{}}");
	passes(DG_GUARD_VOLUME_CREATE, "{\"Name\":\"v\",\"DriverOpts\":{\"type\":\"none\","
		  "\"o\":\"bind\",\"device\":\"/srv/ci/data\"}}");
	passes(DG_GUARD_SERVICE_CREATE, "{\"Name\":\"web\",\"TaskTemplate\":{\"ContainerSpec\":"
		  "{\"Image\":\"nginx\",\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"/srv/ci/www\","
		  "\"Target\":\"/usr/share/nginx/html\"}]},\"Networks\":[{\"Target\":\"front\"}]},"
		  "\"Mode\":{\"Replicated\":{\"Replicas\":1}}}");
}

TEST(guard_escapes_refused)
{
	refused(C, "{\"HostConfig\":{\"Privileged\":true}}", REFUSE, "HostConfig.Privileged");
	refused(C, "{\"HostConfig\":{\"PidMode\":\"host\"}}", REFUSE, "HostConfig.PidMode");
	refused(C, "{\"HostConfig\":{\"IpcMode\":\"host\"}}", REFUSE, "HostConfig.IpcMode");
	refused(C, "{\"HostConfig\":{\"UTSMode\":\"host\"}}", REFUSE, "HostConfig.UTSMode");
	refused(C, "{\"HostConfig\":{\"UsernsMode\":\"host\"}}", REFUSE, "HostConfig.UsernsMode");
	refused(C, "{\"HostConfig\":{\"NetworkMode\":\"host\"}}", REFUSE, "HostConfig.NetworkMode");
	refused(C, "{\"HostConfig\":{\"NetworkMode\":\"HOST\"}}", REFUSE, "HostConfig.NetworkMode");
	refused(C, "{\"HostConfig\":{\"PidMode\":\"container:abc\"}}", REFUSE, "HostConfig.PidMode");
	refused(C, "{\"HostConfig\":{\"CgroupnsMode\":\"host\"}}", REFUSE, "HostConfig.CgroupnsMode");
	refused(C, "{\"HostConfig\":{\"CapAdd\":[\"SYS_ADMIN\"]}}", REFUSE, "HostConfig.CapAdd");
	refused(C, "{\"HostConfig\":{\"Devices\":[{\"PathOnHost\":\"/dev/sda\"}]}}", REFUSE,
		"HostConfig.Devices");
	refused(C, "{\"HostConfig\":{\"DeviceRequests\":[{\"Count\":-1}]}}", REFUSE,
		"HostConfig.DeviceRequests");
	refused(C, "{\"HostConfig\":{\"DeviceCgroupRules\":[\"a *:* rwm\"]}}", REFUSE,
		"HostConfig.DeviceCgroupRules");
	refused(C, "{\"HostConfig\":{\"SecurityOpt\":[\"seccomp=unconfined\"]}}", REFUSE,
		"HostConfig.SecurityOpt");
	refused(C, "{\"HostConfig\":{\"SecurityOpt\":[\"apparmor:unconfined\"]}}", REFUSE,
		"HostConfig.SecurityOpt");
	refused(C, "{\"HostConfig\":{\"SecurityOpt\":[\"label=disable\"]}}", REFUSE,
		"HostConfig.SecurityOpt");
	refused(C, "{\"HostConfig\":{\"CgroupParent\":\"/\"}}", REFUSE, "HostConfig.CgroupParent");
	refused(C, "{\"HostConfig\":{\"Runtime\":\"evil\"}}", REFUSE, "HostConfig.Runtime");
	refused(C, "{\"HostConfig\":{\"Sysctls\":{\"kernel.x\":\"1\"}}}", REFUSE, "HostConfig.Sysctls");
	refused(C, "{\"HostConfig\":{\"MaskedPaths\":[]}}", REFUSE, "HostConfig.MaskedPaths");
	refused(C, "{\"HostConfig\":{\"ReadonlyPaths\":[]}}", REFUSE, "HostConfig.ReadonlyPaths");
	refused(C, "{\"HostConfig\":{\"VolumesFrom\":[\"other\"]}}", REFUSE, "HostConfig.VolumesFrom");
	refused(C, "{\"HostConfig\":{\"VolumeDriver\":\"plugin\"}}", REFUSE, "HostConfig.VolumeDriver");
	refused(C, "{\"HostConfig\":{\"Cgroup\":\"container:x\"}}", REFUSE, "HostConfig.Cgroup");
	refused(C, "{\"HostConfig\":{\"Binds\":[\"/:/host\"]}}", REFUSE, "HostConfig.Binds[0]");
	refused(C, "{\"HostConfig\":{\"Binds\":[\"/srv/ci/../../etc:/e\"]}}", REFUSE, "'..'");
	refused(C, "{\"HostConfig\":{\"Binds\":[\"/srv/ci:/e\"]}}", REFUSE, "outside");
	refused(C, "{\"HostConfig\":{\"Binds\":[\"/srv/cix/a:/e\"]}}", REFUSE, "outside");
	refused(C, "{\"HostConfig\":{\"Binds\":[\"./x:/e\"]}}", REFUSE, "neither");
	refused(C, "{\"HostConfig\":{\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"/etc\","
		"\"Target\":\"/e\"}]}}", REFUSE, "HostConfig.Mounts[0].Source");
	refused(C, "{\"HostConfig\":{\"Mounts\":[{\"Type\":\"volume\",\"Source\":\"v\",\"Target\":"
		"\"/e\",\"VolumeOptions\":{\"DriverConfig\":{\"Name\":\"local\",\"Options\":"
		"{\"o\":\"bind\",\"device\":\"/\"}}}}]}}", REFUSE, "DriverConfig.Options");
	refused(C, "{\"HostConfig\":{\"Mounts\":[{\"Type\":\"npipe\",\"Source\":\"x\",\"Target\":"
		"\"/e\"}]}}", REFUSE, "Type");
	refused(C, "{\"NetworkingConfig\":{\"EndpointsConfig\":{\"host\":{}}}}", REFUSE, "host");
	refused(C, "{\"Labels\":{\"io.dockguard.owner\":\"me\"}}", REFUSE, "io.dockguard.");
	refused(C, "{\"HostConfig\":{\"Unknown\":1}}", REFUSE, "HostConfig.Unknown");
	refused(C, "{\"Privileged\":true}", REFUSE, "Privileged");	/* not a Config field */
	refused(DG_GUARD_EXEC_CREATE, "{\"Cmd\":[\"sh\"],\"Privileged\":true}", REFUSE, "Privileged");
	refused(DG_GUARD_CONTAINER_UPDATE, "{\"Devices\":[{\"PathOnHost\":\"/dev/mem\"}]}", REFUSE,
		"Devices");
	refused(DG_GUARD_CONTAINER_START, "{\"HostConfig\":{\"Privileged\":true}}", REFUSE,
		"HostConfig.Privileged");
	refused(DG_GUARD_VOLUME_CREATE, "{\"Name\":\"v\",\"DriverOpts\":{\"type\":\"none\","
		"\"o\":\"bind\",\"device\":\"/\"}}", REFUSE, "device");
	refused(DG_GUARD_VOLUME_CREATE, "{\"Name\":\"v\",\"DriverOpts\":{\"type\":\"nfs\","
		"\"o\":\"addr=1.2.3.4\",\"device\":\":/x\"}}", REFUSE, "DriverOpts");
	refused(DG_GUARD_VOLUME_CREATE, "{\"Name\":\"v\",\"Driver\":\"rexray\"}", REFUSE, "Driver");
	refused(DG_GUARD_SERVICE_CREATE, "{\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"a\","
		"\"CapabilityAdd\":[\"CAP_SYS_ADMIN\"]}}}", REFUSE, "CapabilityAdd");
	refused(DG_GUARD_SERVICE_CREATE, "{\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"a\","
		"\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"/\",\"Target\":\"/h\"}]}}}", REFUSE,
		"Mounts[0].Source");
	refused(DG_GUARD_SERVICE_CREATE, "{\"TaskTemplate\":{\"Runtime\":\"plugin\","
		"\"PluginSpec\":{\"Name\":\"x\"}}}", REFUSE, "TaskTemplate");
	refused(DG_GUARD_SERVICE_CREATE, "{\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"a\"},"
		"\"Networks\":[{\"Target\":\"host\"}]}}", REFUSE, "Target");
	refused(DG_GUARD_SERVICE_UPDATE, "{\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"a\","
		"\"Privileges\":{\"SELinuxContext\":{\"Disable\":true}}}}}", REFUSE, "SELinuxContext");
}

TEST(guard_decoding_differences)
{
	/* keys match case-insensitively, as Go's encoding/json does */
	refused(C, "{\"hostconfig\":{\"privileged\":true}}", REFUSE, "HostConfig.Privileged");
	refused(C, "{\"HOSTCONFIG\":{\"PRIVILEGED\":true}}", REFUSE, "HostConfig.Privileged");
	/* \u escapes in keys, and the letters that fold to ASCII: ſ (U+017F), K (U+212A) */
	refused(C, "{\"HostConfig\":{\"Privil\\u0065ged\":true}}", REFUSE, "HostConfig.Privileged");
	refused(C, "{\"HostConfig\":{\"\\u017fecurityOpt\":[\"seccomp=unconfined\"]}}", REFUSE,
		"HostConfig.SecurityOpt");
	refused(C, "{\"HostConfig\":{\"Ma\\u017fkedPaths\":[]}}", REFUSE, "HostConfig.MaskedPaths");
	refused(C, "{\"HostConfig\":{\"Mas\\u212aedPaths\":[]}}", REFUSE, "HostConfig.MaskedPaths");
	/* another non-ASCII letter names no field: refused as unknown */
	refused(C, "{\"HostConfig\":{\"Pr\\u0131vileged\":true}}", REFUSE, "a field the guard does not know");
	/* two keys for one field: Go takes the last, this reader refuses */
	refused(C, "{\"HostConfig\":{\"Privileged\":false,\"privileged\":true}}", UNDECIDABLE, "twice");
	refused(C, "{\"HostConfig\":{\"Privileged\":false,\"Privileged\":true}}", UNDECIDABLE, "duplicate");
	/* text after the value, NUL, invalid UTF-8, a non-boolean, big numbers */
	refused(C, "{\"Image\":\"a\"}{\"HostConfig\":{\"Privileged\":true}}", UNDECIDABLE, "not JSON");
	refused(C, "{\"Image\":\"a\\u0000\"}", UNDECIDABLE, "not JSON");
	refused(C, "{\"Image\":\"\xff\"}", UNDECIDABLE, "not JSON");
	refused(C, "{\"HostConfig\":{\"Privileged\":1}}", UNDECIDABLE, "boolean");
	refused(C, "{\"HostConfig\":{\"Privileged\":\"true\"}}", UNDECIDABLE, "boolean");
	refused(C, "{\"HostConfig\":{\"Memory\":99999999999999999999999}}", UNDECIDABLE, "not JSON");
	refused(C, "{\"HostConfig\":[]}", UNDECIDABLE, "HostConfig");
	refused(C, "[]", UNDECIDABLE, "not a JSON object");
	refused(C, "", UNDECIDABLE, "empty");
}

TEST(guard_binds_follow_symlinks)
{
	char dir[] = "/tmp/dg-guard.XXXXXX", link[300], body[1024], why[512], pat[300];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(pat, sizeof(pat), "%s/ok/**", dir);
	char *const binds[] = { pat };
	const struct dg_guard g = { binds, 1 };
	snprintf(link, sizeof(link), "%s/ok", dir);
	CHECK(mkdir(link, 0700) == 0);
	snprintf(link, sizeof(link), "%s/ok/etc", dir);
	CHECK(symlink("/etc", link) == 0);
	snprintf(body, sizeof(body), "{\"HostConfig\":{\"Binds\":[\"%s/sub:/x\"]}}", link);
	/* by its words within the paths, by where it leads not */
	CHECK(dg_guard_judge_body(C, body, strlen(body), &g, false, why, sizeof(why)) == DG_GUARD_PASS);
	CHECK(dg_guard_judge_body(C, body, strlen(body), &g, true, why, sizeof(why)) == REFUSE);
	CHECK(strstr(why, "leads to \"/etc/sub\"") != NULL);
	/* a path that does not exist yet (dockerd makes it) is judged as written */
	snprintf(body, sizeof(body), "{\"HostConfig\":{\"Binds\":[\"%s/ok/new/dir:/x\"]}}", dir);
	CHECK(dg_guard_judge_body(C, body, strlen(body), &g, true, why, sizeof(why)) == DG_GUARD_PASS);
	unlink(link);
	snprintf(link, sizeof(link), "%s/ok", dir);
	rmdir(link);
	rmdir(dir);
	(void)none;
}

TEST(guard_build_query)
{
	struct dg_target t;
	const char *why;
	char w[512];

	CHECK(dg_target_parse("/v1.41/build?networkmode=host&t=x", &t, &why) == 0);
	CHECK(dg_guard_judge_query(DG_GUARD_BUILD, &t, w, sizeof(w)) == REFUSE);
	dg_target_free(&t);
	CHECK(dg_target_parse("/build?remote=https://example.org/x.git", &t, &why) == 0);
	CHECK(dg_guard_judge_query(DG_GUARD_BUILD, &t, w, sizeof(w)) == REFUSE);
	dg_target_free(&t);
	CHECK(dg_target_parse("/build?cgroupparent=/", &t, &why) == 0);
	CHECK(dg_guard_judge_query(DG_GUARD_BUILD, &t, w, sizeof(w)) == REFUSE);
	dg_target_free(&t);
	CHECK(dg_target_parse("/build?t=app&networkmode=default", &t, &why) == 0);
	CHECK(dg_guard_judge_query(DG_GUARD_BUILD, &t, w, sizeof(w)) == DG_GUARD_PASS);
	dg_target_free(&t);
}
