// SPDX-License-Identifier: GPL-2.0-only
/* Runs every registered test, or those whose name contains argv[1]. */
#include "testing.h"

#include <stdlib.h>

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
