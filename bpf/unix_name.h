// SPDX-License-Identifier: GPL-2.0-only
/*
 * A unix socket's file name as `unix_names` keys it (dg_unix_key in
 * dockguard_abi.h): shared by the path hooks (unix.bpf.c), which see the
 * caller's path, and the LSM (lsm.bpf.c), which sees the name the listener
 * bound.
 */
#ifndef DOCKGUARD_BPF_UNIX_NAME_H
#define DOCKGUARD_BPF_UNIX_NAME_H

#include "maps.h"

/* The path as the caller gave it, NUL-terminated; room for 108 bytes + NUL. */
struct path_buf {
	char buf[DG_UNIX_NAME_LEN + 4];
};

/*
 * `unix_names`' key for the file name of the path in pb->buf[0..end): the
 * bytes after the last '/', hashed walking back from the end (dg_unix_key).
 * False when the path ends in '/' (no file name).
 */
static __always_inline bool file_name_key(const struct path_buf *pb, __u32 end,
					  struct dg_unix_key *key)
{
	__u32 start = 0;

	key->hash = DG_NAME_HASH_BASIS;
	for (__u32 i = DG_UNIX_NAME_LEN; i > 0; i--) {
		char c;

		if (i > end)
			continue;
		c = pb->buf[i - 1];
		if (c == '/') {
			start = i;
			break;
		}
		key->hash = dg_name_hash_step(key->hash, (unsigned char)c);
	}
	return start < end;
}

#endif
