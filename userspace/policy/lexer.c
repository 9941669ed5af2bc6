// SPDX-License-Identifier: GPL-2.0-only
#include "policy/lexer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

void dg_lexer_init(struct dg_lexer *lx, const struct dg_diag_file *file, const char *buf,
		   size_t len, struct dg_diag *diag)
{
	memset(lx, 0, sizeof(*lx));
	lx->buf = buf;
	lx->len = len;
	lx->line = 1;
	lx->bol = true;
	lx->file = file;
	lx->diag = diag;
}

void dg_lexer_fini(struct dg_lexer *lx)
{
	free(lx->tok.text);
	lx->tok.text = NULL;
}

/* Control bytes are errors; tab, CR and LF are blanks. */
static bool is_control(unsigned char c)
{
	return (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f;
}

static bool ends_word(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '{' || c == '}' ||
	       c == ',' || c == '#' || c == '"' || is_control(c);
}

static struct dg_loc loc_at(const struct dg_lexer *lx, size_t pos, size_t len)
{
	struct dg_loc loc = {
		.file = lx->file,
		.line = lx->line,
		.col = (unsigned int)(pos - lx->line_start + 1),
		.len = len ? (unsigned int)len : 1,
	};
	return loc;
}

static void report_control(struct dg_lexer *lx, size_t pos, size_t run)
{
	struct dg_loc loc = loc_at(lx, pos, run);
	unsigned char c = (unsigned char)lx->buf[pos];

	if (c == 0)
		dg_diag_error(lx->diag, &loc, "NUL byte in the policy; a policy is text, remove it");
	else
		dg_diag_error(lx->diag, &loc,
			      "control character 0x%02x in the policy; remove it", c);
}

static void set_token(struct dg_lexer *lx, enum dg_tok_kind kind, size_t start, size_t end)
{
	lx->tok.kind = kind;
	lx->tok.loc = loc_at(lx, start, end - start);
	lx->tok.bol = lx->bol;
	lx->bol = false;
}

/* A line longer than the limit is reported and skipped as one error token. */
static bool check_line(struct dg_lexer *lx)
{
	lx->line_checked = true;
	const char *p = lx->buf + lx->pos;
	const char *nl = memchr(p, '\n', lx->len - lx->pos);
	size_t n = (size_t)((nl ? nl : lx->buf + lx->len) - p);

	if (n <= DG_POLICY_MAX_LINE)
		return true;
	struct dg_loc loc = loc_at(lx, lx->pos, 1);
	dg_diag_error(lx->diag, &loc,
		      "line is %zu bytes long, more than the limit of %d bytes; "
		      "split it across lines", n, DG_POLICY_MAX_LINE);
	set_token(lx, DG_TOK_ERROR, lx->pos, lx->pos + 1);
	lx->pos += n;
	return false;
}

static void lex_comment(struct dg_lexer *lx)
{
	bool reported = false;

	while (lx->pos < lx->len && lx->buf[lx->pos] != '\n') {
		if (!reported && is_control((unsigned char)lx->buf[lx->pos])) {
			report_control(lx, lx->pos, 1);
			reported = true;
		}
		lx->pos++;
	}
}

static void lex_string(struct dg_lexer *lx)
{
	size_t start = lx->pos++;
	size_t cap = lx->len - start;

	if (cap > DG_POLICY_MAX_LINE)
		cap = DG_POLICY_MAX_LINE;	/* lines are no longer */
	char *out = xmalloc(cap + 1);
	size_t n = 0;
	bool bad = false;

	for (;;) {
		if (lx->pos >= lx->len || lx->buf[lx->pos] == '\n') {
			struct dg_loc loc = loc_at(lx, start, 1);
			if (!bad)
				dg_diag_error(lx->diag, &loc,
					      "unterminated string; add a closing '\"' on the same line");
			free(out);
			set_token(lx, DG_TOK_ERROR, start, lx->pos);
			return;
		}
		unsigned char c = (unsigned char)lx->buf[lx->pos];
		if (c == '"')
			break;
		if (is_control(c)) {
			if (!bad) {
				size_t run = 1;
				while (lx->pos + run < lx->len &&
				       is_control((unsigned char)lx->buf[lx->pos + run]))
					run++;
				report_control(lx, lx->pos, run);
			}
			bad = true;
			lx->pos++;
			continue;
		}
		if (c == '\\') {
			char e = lx->pos + 1 < lx->len ? lx->buf[lx->pos + 1] : '\0';
			if (e == '"' || e == '\\') {
				out[n++] = e;
				lx->pos += 2;
				continue;
			}
			if (!bad) {
				struct dg_loc loc = loc_at(lx, lx->pos, 2);
				dg_diag_error(lx->diag, &loc,
					      "unknown escape in string; only \\\" and \\\\ are allowed");
			}
			bad = true;
			lx->pos++;
			continue;
		}
		out[n++] = (char)c;
		lx->pos++;
	}
	lx->pos++;	/* the closing quote */
	if (bad) {
		free(out);
		set_token(lx, DG_TOK_ERROR, start, lx->pos);
		return;
	}
	out[n] = '\0';
	set_token(lx, DG_TOK_STRING, start, lx->pos);
	lx->tok.text = out;
	lx->tok.len = n;
}

static void lex_lbrace(struct dg_lexer *lx)
{
	size_t start = lx->pos++;

	if (lx->depth < DG_POLICY_MAX_NESTING) {
		set_token(lx, DG_TOK_LBRACE, start, lx->pos);
		lx->open[lx->depth++] = lx->tok.loc;
		return;
	}
	/* Keep counting, so that the matching `}` balance out. */
	set_token(lx, DG_TOK_ERROR, start, lx->pos);
	if (lx->depth++ == DG_POLICY_MAX_NESTING)
		dg_diag_error(lx->diag, &lx->tok.loc,
			      "braces nested deeper than %d levels; a policy needs one level",
			      DG_POLICY_MAX_NESTING);
}

void dg_lexer_next(struct dg_lexer *lx)
{
	free(lx->tok.text);
	memset(&lx->tok, 0, sizeof(lx->tok));

	for (;;) {
		if (lx->pos == lx->line_start && !lx->line_checked && !check_line(lx))
			return;
		if (lx->pos >= lx->len) {
			set_token(lx, DG_TOK_EOF, lx->pos, lx->pos);
			return;
		}
		unsigned char c = (unsigned char)lx->buf[lx->pos];
		size_t start = lx->pos;

		switch (c) {
		case ' ':
		case '\t':
		case '\r':
			lx->pos++;
			continue;
		case '#':
			lex_comment(lx);
			continue;
		case '\n':
			set_token(lx, DG_TOK_NEWLINE, start, start + 1);
			lx->pos++;
			lx->line++;
			lx->line_start = lx->pos;
			lx->line_checked = false;
			lx->bol = true;
			return;
		case '{':
			lex_lbrace(lx);
			return;
		case '}':
			lx->pos++;
			set_token(lx, DG_TOK_RBRACE, start, lx->pos);
			if (lx->depth)
				lx->depth--;
			return;
		case ',':
			lx->pos++;
			set_token(lx, DG_TOK_COMMA, start, lx->pos);
			return;
		case '"':
			lex_string(lx);
			return;
		default:
			break;
		}
		if (is_control(c)) {
			while (lx->pos < lx->len && is_control((unsigned char)lx->buf[lx->pos]))
				lx->pos++;
			report_control(lx, start, lx->pos - start);
			set_token(lx, DG_TOK_ERROR, start, lx->pos);
			return;
		}
		while (lx->pos < lx->len && !ends_word((unsigned char)lx->buf[lx->pos]))
			lx->pos++;
		set_token(lx, DG_TOK_WORD, start, lx->pos);
		lx->tok.len = lx->pos - start;
		lx->tok.text = xstrndup(lx->buf + start, lx->tok.len);
		return;
	}
}

const struct dg_loc *dg_lexer_open_brace(const struct dg_lexer *lx)
{
	if (!lx->depth)
		return NULL;
	unsigned int d = lx->depth < DG_POLICY_MAX_NESTING ? lx->depth : DG_POLICY_MAX_NESTING;
	return &lx->open[d - 1];
}

void dg_lexer_close_braces(struct dg_lexer *lx)
{
	lx->depth = 0;
}

const char *dg_token_describe(const struct dg_token *tok, char *buf, size_t size)
{
	switch (tok->kind) {
	case DG_TOK_EOF:
		return "end of file";
	case DG_TOK_NEWLINE:
		return "end of line";
	case DG_TOK_LBRACE:
		return "'{'";
	case DG_TOK_RBRACE:
		return "'}'";
	case DG_TOK_COMMA:
		return "','";
	case DG_TOK_ERROR:
		return "bad input";
	case DG_TOK_WORD:
	case DG_TOK_STRING:
		break;
	}
	const char *q = tok->kind == DG_TOK_WORD ? "'" : "\"";
	if (tok->len > 40)
		snprintf(buf, size, "%s%.37s...%s", q, tok->text, q);
	else
		snprintf(buf, size, "%s%s%s", q, tok->text, q);
	return buf;
}
