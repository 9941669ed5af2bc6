// SPDX-License-Identifier: GPL-2.0-only
/*
 * Which policy files dockguard reads: those that root alone can change, as
 * sudo reads sudoers. A policy decides who reaches the Docker API, which is
 * root on the host; a file, or a directory above it, that someone else may
 * write would let them give themselves that access.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "policy/internal.h"
#include "util/util.h"

/* What is wrong with `st` for a trusted policy file or directory, or NULL. */
static const char *untrusted(const struct stat *st, bool dir, char *buf, size_t len)
{
	if (st->st_uid != 0) {
		snprintf(buf, len, "is owned by uid %u, not root", (unsigned)st->st_uid);
		return buf;
	}
	/* a sticky directory (/tmp) lets no one rename or remove root's entries */
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(dir && (st->st_mode & S_ISVTX))) {
		snprintf(buf, len, "is writable by %s (mode %04o)",
			 (st->st_mode & S_IWOTH) ? "others" : "its group",
			 (unsigned)(st->st_mode & 07777));
		return buf;
	}
	return NULL;
}

static void refuse(struct dg_diag *diag, const char *name, const char *what, const char *path,
		   const char *problem, bool owner)
{
	dg_diag_error_in(diag, name,
			 "%s %s %s; dockguard reads only policy files that root alone can change "
			 "(the file and every directory above it), as sudo reads sudoers: %s %s",
			 what, path, problem, owner ? "chown root" : "chmod go-w", path);
}

/* Whether `real_dir` (without symbolic links) and every directory above it
 * are root's alone. */
static bool directories_trusted(const char *name, const char *real_dir, struct dg_diag *diag)
{
	char *dir = xstrdup(real_dir), buf[96];
	const char *problem;
	struct stat st;
	bool ok = true;

	for (;;) {
		if (stat(dir, &st) == 0 && (problem = untrusted(&st, true, buf, sizeof(buf)))) {
			refuse(diag, name, "directory", dir, problem, st.st_uid != 0);
			ok = false;
			break;
		}
		char *slash = strrchr(dir, '/');
		if (!slash || !strcmp(dir, "/"))
			break;
		if (slash == dir)
			slash[1] = '\0';	/* then the root directory itself */
		else
			*slash = '\0';
	}
	free(dir);
	return ok;
}

bool dg_policy_dir_trusted(const char *name, const char *dir, struct dg_diag *diag)
{
	char *real = realpath(dir, NULL);
	bool ok = !real || directories_trusted(name, real, diag);	/* missing: nothing in it */

	free(real);
	return ok;
}

bool dg_policy_file_trusted(const char *name, const char *path, const char *real,
			    struct dg_diag *diag)
{
	struct stat st;
	char buf[96];
	const char *problem;

	if (stat(real, &st) < 0 || !S_ISREG(st.st_mode))
		return true;	/* reading it says why it cannot be read */
	/* where the name was found: whoever may write there picks the file */
	char *where = xstrdup(path), *slash = strrchr(where, '/');
	if (slash)
		slash[slash == where] = '\0';
	bool ok = dg_policy_dir_trusted(name, slash ? where : ".", diag);
	free(where);
	if (!ok)
		return false;
	if ((problem = untrusted(&st, false, buf, sizeof(buf)))) {
		refuse(diag, name, "policy file", real, problem, st.st_uid != 0);
		return false;
	}
	char *dir = xstrdup(real);
	slash = strrchr(dir, '/');
	if (slash)
		slash[slash == dir] = '\0';
	ok = directories_trusted(name, slash ? dir : ".", diag);
	free(dir);
	return ok;
}
