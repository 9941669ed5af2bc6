/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The policy lexer: turns one file's bytes into tokens that carry their
 * location (file, line, column, length).
 *
 *   word     a maximal run of bytes other than blanks, `{`, `}`, `,`, `#`, `"`
 *            and control characters
 *   string   "..." on one line; `\"` and `\\` are its only escapes
 *   { } ,    punctuation; the lexer keeps the brace depth
 *   newline  ends a statement when no brace is open
 *   # ...    a comment, to the end of the line
 *
 * Bad input (NUL and other control bytes, an unterminated string, a line
 * longer than DG_POLICY_MAX_LINE, braces nested deeper than
 * DG_POLICY_MAX_NESTING) is reported to the diagnostics queue at its location
 * and comes out as one DG_TOK_ERROR token, which the parser treats as an error
 * already reported.
 */
#ifndef DOCKGUARD_LEXER_H
#define DOCKGUARD_LEXER_H

#include <stdbool.h>
#include <stddef.h>

#include "util/diag.h"
#include "policy/policy.h"

enum dg_tok_kind {
	DG_TOK_EOF,
	DG_TOK_NEWLINE,
	DG_TOK_WORD,
	DG_TOK_STRING,
	DG_TOK_LBRACE,
	DG_TOK_RBRACE,
	DG_TOK_COMMA,
	DG_TOK_ERROR,		/* bad input, already reported */
};

struct dg_token {
	enum dg_tok_kind kind;
	char *text;		/* WORD, STRING: NUL-terminated, unescaped; else NULL */
	size_t len;		/* of text */
	bool bol;		/* the first token on its line */
	struct dg_loc loc;
};

struct dg_lexer {
	const char *buf;
	size_t len, pos;
	size_t line_start;		/* offset of the current line */
	unsigned int line;
	bool line_checked;		/* the current line's length was checked */
	bool bol;			/* no token yet on the current line */
	const struct dg_diag_file *file;
	struct dg_diag *diag;
	unsigned int depth;		/* open braces, may exceed the limit */
	struct dg_loc open[DG_POLICY_MAX_NESTING];
	struct dg_token tok;		/* the current token */
};

/* `buf` (not file->text, in which NULs are already blanked) is what is read. */
void dg_lexer_init(struct dg_lexer *lx, const struct dg_diag_file *file, const char *buf,
		   size_t len, struct dg_diag *diag);
void dg_lexer_fini(struct dg_lexer *lx);

/* Replaces lx->tok with the next token. */
void dg_lexer_next(struct dg_lexer *lx);

/* The innermost open `{`, or NULL. */
const struct dg_loc *dg_lexer_open_brace(const struct dg_lexer *lx);

/* Forgets every open brace (error recovery after a missing `}`). */
void dg_lexer_close_braces(struct dg_lexer *lx);

/* The token for messages: 'word', "string", end of line, '{'... */
const char *dg_token_describe(const struct dg_token *tok, char *buf, size_t size);

#endif
