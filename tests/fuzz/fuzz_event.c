// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the event formatter on arbitrary kernel events (a task's
 * name and a socket path are anyone's bytes) and the escaping under it. Every
 * input must give a human line that is one line of valid UTF-8 without
 * control characters, a JSON object that keeps its `dest` and `comm` fields,
 * and an escaping that loses nothing (undone here and compared, for inputs
 * without a backslash: escape.h).
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/escape.h"
#include "daemon/events.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether `s` is valid UTF-8 with no control character (C0, DEL, C1). */
static bool printable_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		if (*p < 0x20 || *p == 0x7f)
			return false;
		size_t n = *p < 0x80 ? 1 : *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : *p >= 0xc2 ? 2 : 0;
		if (n == 0)
			return false;
		for (size_t i = 1; i < n; i++)
			if ((p[i] & 0xc0) != 0x80)
				return false;
		if (p[0] == 0xc2 && p[1] < 0xa0)
			return false;	/* U+0080..U+009F */
		p += n;
	}
	return true;
}

static int hex_digit(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Undoes dg_escape() of an input without backslashes; the length of the
 * bytes written to out, or -1 when `s` holds a backslash that dg_escape()
 * cannot have written. */
static long unescape(const char *s, char *out)
{
	char *o = out;

	while (*s) {
		if (*s != '\\') {
			*o++ = *s++;
			continue;
		}
		int hi = s[1] == 'x' ? hex_digit(s[2]) : -1, lo = hi >= 0 ? hex_digit(s[3]) : -1;
		if (lo < 0)
			return -1;
		*o++ = (char)(hi << 4 | lo);
		s += 4;
	}
	return o - out;
}

static void check_escape(const uint8_t *data, size_t size)
{
	/* what the human line escapes besides (none of it in an escape) */
	static const char *const alsos[] = { NULL, " ", ")", " )" };
	const char *also = alsos[size ? data[0] % 4 : 0];
	char *esc = dg_escape((const char *)data, size, also);
	char *back = malloc(size + 1);
	size_t plain = strnlen((const char *)data, size);

	if (!printable_utf8(esc) || (also && strpbrk(esc, also)))
		abort();
	if (!memchr(data, '\\', plain) &&
	    (unescape(esc, back) != (long)plain || memcmp(back, data, plain) != 0))
		abort();
	free(back);
	free(esc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dg_namer *namer;
	struct dg_event ev;

	check_escape(data, size);

	if (!namer)
		namer = dg_namer_new("/nonexistent-dockguard-fuzz");
	memset(&ev, 0, sizeof(ev));
	memcpy(&ev, data, size < sizeof(ev) ? size : sizeof(ev));
	ev.cgroup_id = 0;	/* not this machine's cgroups: no file handles */

	char *line = dg_event_text(namer, &ev);
	if (!printable_utf8(line))
		abort();
	free(line);

	json_t *o = dg_event_json(namer, &ev);
	if (!json_is_string(json_object_get(o, "dest")))
		abort();
	if (ev.op != DG_OP_HANDSHAKE && !json_is_string(json_object_get(o, "comm")))
		abort();
	char *dump = json_dumps(o, JSON_COMPACT);
	if (!dump)
		abort();
	free(dump);
	json_decref(o);
	return 0;
}
