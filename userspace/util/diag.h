/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Diagnostics: errors and warnings queued with their source location and
 * printed together at the end, as `FILE:LINE:COL: error: MESSAGE`, followed by
 * the source line and a caret marker under the offending text.
 */
#ifndef DOCKGUARD_DIAG_H
#define DOCKGUARD_DIAG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Every file read while parsing; locations point into it, so it outlives them. */
struct dg_diag_file {
	char *name;		/* as it appears in messages */
	char *text;		/* whole contents, NUL-terminated (NULs inside replaced) */
	size_t len;
};

struct dg_diag_files {
	struct dg_diag_file **files;
	size_t n;
};

struct dg_loc {
	const struct dg_diag_file *file;	/* NULL: no location */
	unsigned int line;			/* 1-based */
	unsigned int col;			/* 1-based, in bytes */
	unsigned int len;			/* bytes to underline, >= 1 */
};

enum dg_severity { DG_ERROR, DG_WARNING, DG_NOTE };

struct dg_diag_record {
	enum dg_severity severity;
	struct dg_loc loc;
	char *message;
};

struct dg_diag {
	struct dg_diag_record *records;
	size_t n, cap;
	size_t n_errors, n_warnings;
	size_t max_records;		/* past this, records are counted, not kept */
	size_t n_dropped;
	/* Files handed over by an owner that went away (a policy that failed to
	 * parse) while records still point into them; freed by dg_diag_fini(). */
	struct dg_diag_files kept;
};

void dg_diag_init(struct dg_diag *diag);
void dg_diag_fini(struct dg_diag *diag);

__attribute__((format(printf, 3, 4)))
void dg_diag_error(struct dg_diag *diag, const struct dg_loc *loc, const char *fmt, ...);
__attribute__((format(printf, 3, 4)))
void dg_diag_warning(struct dg_diag *diag, const struct dg_loc *loc, const char *fmt, ...);
__attribute__((format(printf, 3, 4)))
void dg_diag_note(struct dg_diag *diag, const struct dg_loc *loc, const char *fmt, ...);
/* An error about a whole file, printed as `NAME: error: MESSAGE`. */
__attribute__((format(printf, 3, 4)))
void dg_diag_error_in(struct dg_diag *diag, const char *name, const char *fmt, ...);
void dg_diag_vadd(struct dg_diag *diag, enum dg_severity sev, const struct dg_loc *loc,
		  const char *fmt, va_list ap);

/* Prints every record in the order queued; with `show_source`, the source
 * line and a caret marker follow each located record. */
void dg_diag_print(const struct dg_diag *diag, FILE *out, int show_source);
/* The same for the errors alone. */
void dg_diag_print_errors(const struct dg_diag *diag, FILE *out, int show_source);

/* A file's name and text, registered so that locations may point into it. */
struct dg_diag_file *dg_diag_files_add(struct dg_diag_files *files, const char *name,
				       const char *text, size_t len);
void dg_diag_files_free(struct dg_diag_files *files);

/* Moves every file of `files` into `diag` (which frees them in dg_diag_fini),
 * leaving `files` empty: locations stay valid after their owner is freed. */
void dg_diag_adopt_files(struct dg_diag *diag, struct dg_diag_files *files);

#endif
