// SPDX-License-Identifier: GPL-2.0-only
/* Bytes from outside made safe to print: see escape.h. */
#include "util/escape.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "util/util.h"

/* The length of the UTF-8 sequence at `p` (at most `left` bytes) and its
 * code point; 0 when the bytes there are not UTF-8 (overlong forms,
 * surrogates and code points past U+10FFFF included). */
static size_t utf8_sequence(const unsigned char *p, size_t left, uint32_t *cp)
{
	size_t n;
	uint32_t c, min;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2, c = p[0] & 0x1f, min = 0x80;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3, c = p[0] & 0x0f, min = 0x800;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4, c = p[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n > left)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* Code points a terminal or a log reader acts on instead of showing. */
static bool unsafe_code_point(uint32_t c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f) ||	/* C0, DEL, C1 (CSI = U+009B) */
	       c == 0x2028 || c == 0x2029 ||		/* line, paragraph separator */
	       c == 0x200e || c == 0x200f ||		/* left-to-right, right-to-left mark */
	       (c >= 0x202a && c <= 0x202e) ||		/* embeddings and overrides */
	       (c >= 0x2066 && c <= 0x2069);		/* isolates */
}

char *dg_escape(const char *s, size_t len, const char *also)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strnlen(s, len);
	char *out = xmalloc(4 * n + 1), *o = out;

	for (size_t i = 0; i < n;) {
		uint32_t cp = 0;
		size_t seq = utf8_sequence(p + i, n - i, &cp);
		if (seq == 0) {
			seq = 1;	/* one byte that is not UTF-8 */
		} else if (!unsafe_code_point(cp) && !(cp && also && cp < 0x80 && strchr(also, (int)cp))) {
			memcpy(o, p + i, seq);
			o += seq;
			i += seq;
			continue;
		}
		for (size_t k = 0; k < seq; k++) {
			*o++ = '\\';
			*o++ = 'x';
			*o++ = hex[p[i + k] >> 4];
			*o++ = hex[p[i + k] & 0xf];
		}
		i += seq;
	}
	*o = '\0';
	return out;
}
