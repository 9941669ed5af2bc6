// SPDX-License-Identifier: GPL-2.0-only
/*
 * dg-bench-guard: what judging a create body costs (relay/guard.c), by body
 * size: a docker CLI create body padded with an environment variable to
 * 2 (about what the CLI sends), 4, 16, 64, 256 and 1000 KiB, judged N times each (the fastest of 5
 * rounds). Prints one line per size: `guard KIB ns_per_body ns_per_kib`.
 *
 *   dg-bench-guard [N]          (default 2000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "relay/guard.h"

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	static const char head[] =
		"{\"Hostname\":\"\",\"Domainname\":\"\",\"User\":\"\",\"AttachStdin\":false,"
		"\"AttachStdout\":true,\"AttachStderr\":true,\"Tty\":false,\"OpenStdin\":false,"
		"\"StdinOnce\":false,\"Cmd\":[\"true\"],\"Image\":\"alpine\",\"Volumes\":{},"
		"\"WorkingDir\":\"\",\"Entrypoint\":null,\"OnBuild\":null,\"Labels\":{},"
		"\"HostConfig\":{\"Binds\":[\"/srv/ci/w:/w\"],\"ContainerIDFile\":\"\","
		"\"LogConfig\":{\"Type\":\"\",\"Config\":{}},\"NetworkMode\":\"default\","
		"\"PortBindings\":{},\"RestartPolicy\":{\"Name\":\"no\",\"MaximumRetryCount\":0},"
		"\"AutoRemove\":true,\"VolumeDriver\":\"\",\"VolumesFrom\":null,\"CapAdd\":null,"
		"\"CapDrop\":null,\"CgroupnsMode\":\"\",\"Dns\":[],\"DnsOptions\":[],\"DnsSearch\":[],"
		"\"ExtraHosts\":null,\"GroupAdd\":null,\"IpcMode\":\"\",\"Cgroup\":\"\",\"Links\":null,"
		"\"OomScoreAdj\":0,\"PidMode\":\"\",\"Privileged\":false,\"PublishAllPorts\":false,"
		"\"ReadonlyRootfs\":false,\"SecurityOpt\":null,\"UTSMode\":\"\",\"UsernsMode\":\"\","
		"\"ShmSize\":0,\"ConsoleSize\":[0,0],\"Isolation\":\"\",\"CpuShares\":0,\"Memory\":0,"
		"\"NanoCpus\":0,\"CgroupParent\":\"\",\"BlkioWeight\":0,\"Devices\":[],"
		"\"DeviceCgroupRules\":null,\"DeviceRequests\":null,\"MaskedPaths\":null,"
		"\"ReadonlyPaths\":null},\"NetworkingConfig\":{\"EndpointsConfig\":{}},\"Env\":[\"PAD=";
	static const size_t kib[] = { 2, 4, 16, 64, 256, 1000 };
	static char *const binds[] = { "/srv/ci/**" };
	const struct dg_guard g = { binds, 1 };
	int n = argc > 1 ? atoi(argv[1]) : 2000;
	char why[512];

	for (size_t k = 0; k < sizeof(kib) / sizeof(kib[0]); k++) {
		size_t len = kib[k] * 1024, pad = len - strlen(head) - 3;
		char *body = malloc(len + 1);
		memcpy(body, head, strlen(head));
		memset(body + strlen(head), 'x', pad);
		memcpy(body + strlen(head) + pad, "\"]}", 4);
		int rounds = kib[k] >= 256 ? 20 : n;
		double best = 1e18;
		for (int r = 0; r < 5; r++) {
			double t0 = now_ns();
			for (int i = 0; i < rounds; i++)
				if (dg_guard_judge_body(DG_GUARD_CONTAINER_CREATE, body, len, &g, false, why,
							sizeof(why)) != DG_GUARD_PASS) {
					fprintf(stderr, "dg-bench-guard: the body is refused: %s\n", why);
					return 1;
				}
			double per = (now_ns() - t0) / rounds;
			if (per < best)
				best = per;
		}
		printf("guard %zu %.0f %.0f\n", kib[k], best, best / kib[k]);
		free(body);
	}
	return 0;
}
