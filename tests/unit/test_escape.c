// SPDX-License-Identifier: GPL-2.0-only
/* Escaping of bytes from outside, and the events that carry them. */
#include <stdlib.h>
#include <string.h>

#include "util/escape.h"
#include "daemon/events.h"
#include "testing.h"

static void check_escaped(const char *in, size_t len, const char *also, const char *want)
{
	char *got = dg_escape(in, len, also);
	CHECK_STR(got, want);
	free(got);
}

TEST(escape_keeps_printable_utf8)
{
	check_escaped("/run/docker.sock", 64, NULL, "/run/docker.sock");
	check_escaped("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb3", 64, NULL,
		      "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb3");
	/* stops at a NUL or at len, whichever comes first */
	check_escaped("abc\0def", 7, NULL, "abc");
	check_escaped("abcdef", 3, NULL, "abc");
}

TEST(escape_control_characters)
{
	/* a newline would start a forged line; ESC and OSC reach the terminal */
	check_escaped("x\n2026-01-01T00:00:00Z allow", 64, NULL, "x\\x0a2026-01-01T00:00:00Z allow");
	check_escaped("\x1b]0;pwned\x07", 64, NULL, "\\x1b]0;pwned\\x07");
	check_escaped("a\rb\tc\x7f", 64, NULL, "a\\x0db\\x09c\\x7f");
	/* C1 controls (CSI as U+009B), separators, bidirectional overrides */
	check_escaped("\xc2\x9b" "31m", 64, NULL, "\\xc2\\x9b31m");
	check_escaped("a\xe2\x80\xa8" "b", 64, NULL, "a\\xe2\\x80\\xa8b");
	check_escaped("\xe2\x80\xae" "cod.exe", 64, NULL, "\\xe2\\x80\\xaecod.exe");
}

TEST(escape_bytes_that_are_not_utf8)
{
	check_escaped("\xff\xfe", 64, NULL, "\\xff\\xfe");
	check_escaped("\xc0\xaf", 64, NULL, "\\xc0\\xaf");		/* overlong '/' */
	check_escaped("\xed\xa0\x80", 64, NULL, "\\xed\\xa0\\x80");	/* a surrogate */
	check_escaped("ab\xe2\x82", 64, NULL, "ab\\xe2\\x82");		/* cut short */
	check_escaped("\xf4\x90\x80\x80", 64, NULL, "\\xf4\\x90\\x80\\x80");	/* past U+10FFFF */
}

TEST(escape_field_separators_not_backslashes)
{
	/* systemd's own escapes read as systemd writes them */
	check_escaped("system.slice/foo\\x2dbar.service", 64, NULL, "system.slice/foo\\x2dbar.service");
	/* the field separators of the human line, on demand */
	check_escaped("a) uid 0", 64, ")", "a\\x29 uid 0");
	check_escaped("/run/my sock", 64, " ", "/run/my\\x20sock");
}

TEST(event_line_of_hostile_names)
{
	struct dg_namer *n = dg_namer_new("/nonexistent-dockguard-test");
	struct dg_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.family = DG_FAMILY_UNIX;
	ev.op = DG_OP_CONNECT;
	ev.verdict = DG_ACT_DENY;
	ev.pid = 42;
	ev.uid = 1002;
	ev.gid = 1002;
	memcpy(ev.comm, "a) uid 0 gid 0\n", 15);
	strcpy(ev.path, "/tmp/x\nallow api\xff/../api.sock");

	char *line = dg_event_text(n, &ev);
	CHECK(!strchr(line, '\n'));
	CHECK(strstr(line, " unix:/tmp/x\\x0aallow\\x20api\\xff/../api.sock connect pid 42 "
			   "(a\\x29 uid 0 gid 0\\x0a) uid 1002 gid 1002") != NULL);
	free(line);

	json_t *o = dg_event_json(n, &ev);
	CHECK_STR(json_string_value(json_object_get(o, "dest")),
		  "unix:/tmp/x\\x0aallow api\\xff/../api.sock");
	CHECK_STR(json_string_value(json_object_get(o, "comm")), "a) uid 0 gid 0\\x0a");
	json_decref(o);
	dg_namer_free(n);
}
