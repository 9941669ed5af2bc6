// SPDX-License-Identifier: GPL-2.0-only
/* Runs every registered test, or those whose name contains argv[1]. */
#include "testing.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "util/util.h"

struct dg_test *dg_tests;
int dg_test_failed_checks;

void dg_test_register(struct dg_test *t)
{
	/* Constructors run in link order; keep registration order stable. */
	struct dg_test **p = &dg_tests;
	while (*p)
		p = &(*p)->next;
	*p = t;
}

char *dg_test_tmpdir(void)
{
	char *dir = xstrdup("/tmp/dockguard-unit.XXXXXX");
	if (!mkdtemp(dir)) {
		free(dir);
		return NULL;
	}
	return dir;
}

void dg_test_mkdirs(const char *root, const char *rel)
{
	char *path = xasprintf("%s%s", root, rel);
	for (char *p = path + strlen(root) + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	CHECK(mkdir(path, 0755) == 0 || errno == EEXIST);
	free(path);
}

void dg_test_systemd_unit(const char *root, const char *rel)
{
	static const unsigned char id[16] = { 0x6d, 0x61, 0x64, 0x65, 0x2d, 0x62, 0x79, 0x2d,
					       0x73, 0x79, 0x73, 0x74, 0x65, 0x6d, 0x64, 0x21 };
	char *path = xasprintf("%s%s", root, rel);

	dg_test_mkdirs(root, rel);
	CHECK(setxattr(path, "trusted.invocation_id", id, sizeof(id), 0) == 0);
	free(path);
}

char *dg_test_write_path(const char *dir, const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	return path;
}

void dg_test_write(const char *dir, const char *name, const char *text)
{
	free(dg_test_write_path(dir, name, text));
}

void dg_test_rmtree(const char *dir)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	free(cmd);
}

int main(int argc, char **argv)
{
	int passed = 0, failed = 0;

	for (struct dg_test *t = dg_tests; t; t = t->next) {
		if (argc > 1 && !strstr(t->name, argv[1]))
			continue;
		int before = dg_test_failed_checks;
		t->fn();
		if (dg_test_failed_checks == before) {
			passed++;
			printf("ok   %s\n", t->name);
		} else {
			failed++;
			printf("FAIL %s\n", t->name);
		}
	}
	printf("unit: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
