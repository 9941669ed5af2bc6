/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A minimal unit-test harness. Each test is a function registered with TEST();
 * CHECK* record a failure with its location and go on. The runner prints one
 * line per failed check and ends with `N passed, N failed`.
 */
#ifndef DOCKGUARD_TESTING_H
#define DOCKGUARD_TESTING_H

#include <stdio.h>
#include <string.h>

struct dg_test {
	const char *name;
	void (*fn)(void);
	struct dg_test *next;
};

extern struct dg_test *dg_tests;
extern int dg_test_failed_checks;

void dg_test_register(struct dg_test *t);

#define TEST(name_)                                                          \
	static void test_##name_(void);                                      \
	static struct dg_test test_entry_##name_ = { #name_, test_##name_, 0 }; \
	__attribute__((constructor)) static void test_register_##name_(void) \
	{                                                                    \
		dg_test_register(&test_entry_##name_);                       \
	}                                                                    \
	static void test_##name_(void)

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                            \
			dg_test_failed_checks++;                             \
		}                                                            \
	} while (0)

#define CHECK_INT(a, b)                                                      \
	do {                                                                 \
		long long a_ = (long long)(a), b_ = (long long)(b);          \
		if (a_ != b_) {                                              \
			fprintf(stderr, "%s:%d: check failed: %s == %s (%lld != %lld)\n", \
				__FILE__, __LINE__, #a, #b, a_, b_);         \
			dg_test_failed_checks++;                             \
		}                                                            \
	} while (0)

#define CHECK_STR(a, b)                                                      \
	do {                                                                 \
		const char *a_ = (a), *b_ = (b);                             \
		if (!a_ || !b_ || strcmp(a_, b_) != 0) {                     \
			fprintf(stderr, "%s:%d: check failed: %s == %s (\"%s\" != \"%s\")\n", \
				__FILE__, __LINE__, #a, #b, a_ ? a_ : "(null)", \
				b_ ? b_ : "(null)");                         \
			dg_test_failed_checks++;                             \
		}                                                            \
	} while (0)

/* Temp files for tests: a fresh directory under /tmp (NULL on failure),
 * mkdir -p ROOT/REL, DIR/NAME written with TEXT (the _path variant returns
 * the malloc'd path), rm -rf DIR. Failures are recorded as failed checks. */
char *dg_test_tmpdir(void);
void dg_test_mkdirs(const char *root, const char *rel);
/* A directory as systemd makes a unit's cgroup: with trusted.invocation_id. */
void dg_test_systemd_unit(const char *root, const char *rel);
void dg_test_write(const char *dir, const char *name, const char *text);
char *dg_test_write_path(const char *dir, const char *name, const char *text);
void dg_test_rmtree(const char *dir);

#endif
