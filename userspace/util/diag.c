// SPDX-License-Identifier: GPL-2.0-only
#include "util/diag.h"

#include <stdlib.h>
#include <string.h>

#include "util/util.h"

#define DG_DIAG_MAX_RECORDS 1000

void dg_diag_init(struct dg_diag *diag)
{
	memset(diag, 0, sizeof(*diag));
	diag->max_records = DG_DIAG_MAX_RECORDS;
}

void dg_diag_fini(struct dg_diag *diag)
{
	for (size_t i = 0; i < diag->n; i++)
		free(diag->records[i].message);
	free(diag->records);
	dg_diag_files_free(&diag->kept);
	memset(diag, 0, sizeof(*diag));
}

void dg_diag_vadd(struct dg_diag *diag, enum dg_severity sev, const struct dg_loc *loc,
		  const char *fmt, va_list ap)
{
	if (sev == DG_ERROR)
		diag->n_errors++;
	else if (sev == DG_WARNING)
		diag->n_warnings++;
	if (diag->n >= diag->max_records) {
		diag->n_dropped++;
		return;
	}
	if (diag->n == diag->cap) {
		size_t cap = diag->cap ? diag->cap * 2 : 16;
		diag->records = xreallocarray(diag->records, cap, sizeof(*diag->records));
		diag->cap = cap;
	}
	struct dg_diag_record *r = &diag->records[diag->n++];
	r->severity = sev;
	if (loc)
		r->loc = *loc;
	else
		memset(&r->loc, 0, sizeof(r->loc));
	r->message = xvasprintf(fmt, ap);
}

#define DG_DIAG_ADD(sev)                                   \
	do {                                               \
		va_list ap;                                \
		va_start(ap, fmt);                         \
		dg_diag_vadd(diag, (sev), loc, fmt, ap);   \
		va_end(ap);                                \
	} while (0)

void dg_diag_error(struct dg_diag *diag, const struct dg_loc *loc, const char *fmt, ...)
{
	DG_DIAG_ADD(DG_ERROR);
}

void dg_diag_warning(struct dg_diag *diag, const struct dg_loc *loc, const char *fmt, ...)
{
	DG_DIAG_ADD(DG_WARNING);
}

void dg_diag_note(struct dg_diag *diag, const struct dg_loc *loc, const char *fmt, ...)
{
	DG_DIAG_ADD(DG_NOTE);
}

void dg_diag_error_in(struct dg_diag *diag, const char *name, const char *fmt, ...)
{
	/* line 0: the whole file; the diagnostics keep the name */
	struct dg_loc whole = { .file = dg_diag_files_add(&diag->kept, name, "", 0) };
	const struct dg_loc *loc = &whole;

	DG_DIAG_ADD(DG_ERROR);
}

static const char *severity_name(enum dg_severity sev)
{
	switch (sev) {
	case DG_ERROR:
		return "error";
	case DG_WARNING:
		return "warning";
	case DG_NOTE:
		return "note";
	}
	return "error";
}

/* Where the previous look-up ended: records mostly come in file order, so
 * printing them all stays linear in the file size. */
struct line_cursor {
	const struct dg_diag_file *file;
	unsigned int line;
	const char *p;
};

/* The text of line `line` (1-based) of `file`, and its length. */
static const char *source_line(const struct dg_diag_file *file, unsigned int line, size_t *len,
			       struct line_cursor *c)
{
	const char *p = file->text, *end = file->text + file->len;
	unsigned int l = 1;

	if (c->file == file && c->line <= line) {
		p = c->p;
		l = c->line;
	}
	for (; l < line && p < end; l++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return NULL;
		p = nl + 1;
	}
	if (p >= end)
		return NULL;
	c->file = file;
	c->line = line;
	c->p = p;
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	*len = (size_t)((nl ? nl : end) - p);
	return p;
}

static void print_source(FILE *out, const struct dg_loc *loc, struct line_cursor *c)
{
	size_t len;
	const char *text = source_line(loc->file, loc->line, &len, c);

	if (!text)
		return;
	/* Long lines are cut: the marker must stay readable. */
	if (len > 160)
		len = 160;
	fputc(' ', out);
	for (size_t i = 0; i < len; i++)
		fputc(text[i] == '\t' ? ' ' : (text[i] >= 0x20 && text[i] < 0x7f) ? text[i] : '?', out);
	fputc('\n', out);
	fputc(' ', out);
	for (unsigned int i = 1; i < loc->col && i <= len; i++)
		fputc(' ', out);
	fputc('^', out);
	for (unsigned int i = 1; i < loc->len && loc->col + i <= len; i++)
		fputc('~', out);
	fputc('\n', out);
}

static void print_records(const struct dg_diag *diag, FILE *out, int show_source, bool errors_only)
{
	struct line_cursor cursor = { 0 };

	for (size_t i = 0; i < diag->n; i++) {
		const struct dg_diag_record *r = &diag->records[i];

		if (errors_only && r->severity != DG_ERROR)
			continue;
		if (r->loc.file && !r->loc.line)
			fprintf(out, "%s: %s: %s\n", r->loc.file->name, severity_name(r->severity),
				r->message);
		else if (r->loc.file)
			fprintf(out, "%s:%u:%u: %s: %s\n", r->loc.file->name, r->loc.line,
				r->loc.col, severity_name(r->severity), r->message);
		else
			fprintf(out, "dockguard: %s: %s\n", severity_name(r->severity), r->message);
		if (show_source && r->loc.file && r->loc.line)
			print_source(out, &r->loc, &cursor);
	}
	if (diag->n_dropped)
		fprintf(out, "dockguard: note: %zu more messages not shown\n", diag->n_dropped);
}

void dg_diag_print(const struct dg_diag *diag, FILE *out, int show_source)
{
	print_records(diag, out, show_source, false);
}

void dg_diag_print_errors(const struct dg_diag *diag, FILE *out, int show_source)
{
	print_records(diag, out, show_source, true);
}

struct dg_diag_file *dg_diag_files_add(struct dg_diag_files *files, const char *name,
				       const char *text, size_t len)
{
	struct dg_diag_file *f = xcalloc(1, sizeof(*f));

	f->name = xstrdup(name);
	f->text = xmalloc(len + 1);
	memcpy(f->text, text, len);
	for (size_t i = 0; i < len; i++)
		if (f->text[i] == '\0')
			f->text[i] = ' ';
	f->text[len] = '\0';
	f->len = len;
	files->files = xreallocarray(files->files, files->n + 1, sizeof(*files->files));
	files->files[files->n++] = f;
	return f;
}

void dg_diag_files_free(struct dg_diag_files *files)
{
	if (!files)
		return;
	for (size_t i = 0; i < files->n; i++) {
		free(files->files[i]->name);
		free(files->files[i]->text);
		free(files->files[i]);
	}
	free(files->files);
	files->files = NULL;
	files->n = 0;
}

void dg_diag_adopt_files(struct dg_diag *diag, struct dg_diag_files *files)
{
	if (!files || !files->n)
		return;
	diag->kept.files = xreallocarray(diag->kept.files, diag->kept.n + files->n,
					 sizeof(*diag->kept.files));
	memcpy(diag->kept.files + diag->kept.n, files->files, files->n * sizeof(*files->files));
	diag->kept.n += files->n;
	free(files->files);
	files->files = NULL;
	files->n = 0;
}
