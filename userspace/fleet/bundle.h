/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Fleet keys and policy bundles (docs/fleet.md): an Ed25519 key pair
 * (nettle), and a bundle that carries a policy to every node of a swarm,
 * signed over its content, the swarm's cluster id, a serial and a not-after
 * time. A node applies a bundle only when a key it pins signed it, for its
 * own cluster, before its expiry, with a serial strictly newer than the one
 * in force. Everything a bundle holds is untrusted until verified; the
 * reader is fuzzed (tests/fuzz/fuzz_bundle.c).
 */
#ifndef DOCKGUARD_FLEET_BUNDLE_H
#define DOCKGUARD_FLEET_BUNDLE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define DG_FLEET_KEY_SIZE	32
#define DG_FLEET_SIG_SIZE	64
#define DG_FLEET_KEY_ID_LEN	16		/* hex: the first 8 bytes of sha256(public key) */
#define DG_FLEET_MAX_BUNDLE	(480 * 1024)	/* a swarm config holds < 500 KB */
#define DG_FLEET_MAX_KEYS	8		/* pinned public keys */
#define DG_FLEET_MAX_FILES	64		/* policy files in a bundle */

struct dg_fleet_pub {
	uint8_t key[DG_FLEET_KEY_SIZE];
	char id[DG_FLEET_KEY_ID_LEN + 1];
};

/* A new key pair: the private key's text and the public key's (malloc'd). 0, or -errno. */
int dg_fleet_keygen(char **priv_text, char **pub_text);
/* A key file's text read back: 0, or -EINVAL with `why`. */
int dg_fleet_read_private(const char *text, uint8_t priv[DG_FLEET_KEY_SIZE], const char **why);
int dg_fleet_read_public(const char *text, struct dg_fleet_pub *out, const char **why);

/* One policy file of a bundle: its path on the pushing manager, its text. */
struct dg_fleet_file {
	char *path;
	char *text;
	size_t len;
};

/* What a bundle says, once verified. */
struct dg_fleet_bundle {
	char key_id[DG_FLEET_KEY_ID_LEN + 1];
	char cluster[128];		/* the swarm's cluster id */
	uint64_t serial;		/* strictly increasing per swarm */
	int64_t created, not_after;	/* Unix time */
	char sha256[65];		/* of the signed payload: names the bundle */
	struct dg_fleet_file *files;	/* files[0]: the policy's top file */
	size_t n_files;
};

/*
 * Signs a bundle: returns its text (JSON, malloc'd) or NULL with `why`.
 * `b` gives cluster, serial, created, not_after and the files.
 */
char *dg_fleet_bundle_sign(const struct dg_fleet_bundle *b, const uint8_t priv[DG_FLEET_KEY_SIZE],
			   const char **why);
/*
 * Reads and verifies bundle text `text` (`len` bytes) against the pinned
 * keys: 0 with *out filled, or -EINVAL / -EPERM (no pinned key, a bad
 * signature) with `why`. The cluster, serial and expiry are the caller's
 * to check (dg_fleet_bundle_acceptable).
 */
int dg_fleet_bundle_verify(const char *text, size_t len, const struct dg_fleet_pub *keys,
			   size_t n_keys, struct dg_fleet_bundle *out, const char **why);
/*
 * Whether a verified bundle may replace the one in force on this node:
 * this node's cluster, not expired at `now`, serial > `serial_in_force`.
 * NULL when it may, else the reason.
 */
const char *dg_fleet_bundle_acceptable(const struct dg_fleet_bundle *b, const char *cluster,
				       uint64_t serial_in_force, int64_t now);
void dg_fleet_bundle_free(struct dg_fleet_bundle *b);
#endif
