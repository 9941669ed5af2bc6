// SPDX-License-Identifier: GPL-2.0-only
/* Fleet keys and policy bundles (bundle.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <nettle/base64.h>
#include <nettle/eddsa.h>
#include <nettle/sha2.h>

#include "fleet/bundle.h"
#include "util/util.h"

#define PRIVATE_TAG	"dockguard-fleet-private-key-v1 "
#define PUBLIC_TAG	"dockguard-fleet-public-key-v1 "
/* What is signed: this, then the payload's bytes, so that a signature over
 * a bundle never stands for anything else signed with the key. */
#define SIGNED_PREFIX	"dockguard-bundle-v1\n"
#define BUNDLE_FORMAT	1

static char *b64(const uint8_t *data, size_t len)
{
	char *out = xmalloc(BASE64_ENCODE_RAW_LENGTH(len) + 1);

	base64_encode_raw(out, len, data);
	out[BASE64_ENCODE_RAW_LENGTH(len)] = 0;
	return out;
}

/* Decodes `text` (exactly, no blanks) into a malloc'd buffer of at most
 * `max` bytes: its length, or -1. */
static long unb64(const char *text, size_t max, uint8_t **out)
{
	struct base64_decode_ctx ctx;
	size_t n = strlen(text), got;
	uint8_t *buf;

	if (BASE64_DECODE_LENGTH(n) > max + 3)
		return -1;
	buf = xmalloc(BASE64_DECODE_LENGTH(n) + 1);
	got = BASE64_DECODE_LENGTH(n);
	base64_decode_init(&ctx);
	if (!base64_decode_update(&ctx, &got, buf, n, text) || !base64_decode_final(&ctx) ||
	    got > max) {
		free(buf);
		return -1;
	}
	*out = buf;
	return (long)got;
}

static void key_id(const uint8_t pub[DG_FLEET_KEY_SIZE], char id[DG_FLEET_KEY_ID_LEN + 1])
{
	struct sha256_ctx c;
	uint8_t md[SHA256_DIGEST_SIZE];

	sha256_init(&c);
	sha256_update(&c, DG_FLEET_KEY_SIZE, pub);
	sha256_digest(&c, sizeof(md), md);
	for (int i = 0; i < DG_FLEET_KEY_ID_LEN / 2; i++)
		snprintf(id + 2 * i, 3, "%02x", md[i]);
}

int dg_fleet_keygen(char **priv_text, char **pub_text)
{
	uint8_t priv[DG_FLEET_KEY_SIZE], pub[DG_FLEET_KEY_SIZE];
	char *a, *b;

	if (getrandom(priv, sizeof(priv), 0) != (ssize_t)sizeof(priv))
		return -errno;
	ed25519_sha512_public_key(pub, priv);
	a = b64(priv, sizeof(priv));
	b = b64(pub, sizeof(pub));
	*priv_text = xasprintf(PRIVATE_TAG "%s\n", a);
	*pub_text = xasprintf(PUBLIC_TAG "%s\n", b);
	explicit_bzero(priv, sizeof(priv));
	explicit_bzero(a, strlen(a));
	free(a);
	free(b);
	return 0;
}

/* `text` is TAG, then a key in base64, then an optional newline. */
static int read_key(const char *text, const char *tag, uint8_t key[DG_FLEET_KEY_SIZE])
{
	size_t tl = strlen(tag), n;
	uint8_t *raw = NULL;
	char *body;
	long got;

	if (strncmp(text, tag, tl))
		return -EINVAL;
	body = xstrdup(text + tl);
	n = strcspn(body, "\n");
	if (body[n] && strcmp(body + n, "\n")) {
		free(body);
		return -EINVAL;
	}
	body[n] = 0;
	got = unb64(body, DG_FLEET_KEY_SIZE, &raw);
	free(body);
	if (got != DG_FLEET_KEY_SIZE) {
		free(raw);
		return -EINVAL;
	}
	memcpy(key, raw, DG_FLEET_KEY_SIZE);
	explicit_bzero(raw, DG_FLEET_KEY_SIZE);
	free(raw);
	return 0;
}

int dg_fleet_read_private(const char *text, uint8_t priv[DG_FLEET_KEY_SIZE], const char **why)
{
	if (read_key(text, PRIVATE_TAG, priv)) {
		*why = "not a dockguard fleet private key (dockguard fleet keygen writes one)";
		return -EINVAL;
	}
	return 0;
}

int dg_fleet_read_public(const char *text, struct dg_fleet_pub *out, const char **why)
{
	if (read_key(text, PUBLIC_TAG, out->key)) {
		*why = "not a dockguard fleet public key (dockguard fleet keygen writes one)";
		return -EINVAL;
	}
	key_id(out->key, out->id);
	return 0;
}

/* SIGNED_PREFIX + payload, malloc'd, into *len. */
static uint8_t *signed_bytes(const uint8_t *payload, size_t plen, size_t *len)
{
	size_t pl = strlen(SIGNED_PREFIX);
	uint8_t *m = xmalloc(pl + plen);

	memcpy(m, SIGNED_PREFIX, pl);
	memcpy(m + pl, payload, plen);
	*len = pl + plen;
	return m;
}

char *dg_fleet_bundle_sign(const struct dg_fleet_bundle *b, const uint8_t priv[DG_FLEET_KEY_SIZE],
			   const char **why)
{
	uint8_t pub[DG_FLEET_KEY_SIZE], sig[DG_FLEET_SIG_SIZE];
	char id[DG_FLEET_KEY_ID_LEN + 1];
	json_t *files = json_array();
	size_t mlen;

	for (size_t i = 0; i < b->n_files; i++)
		json_array_append_new(files, json_pack("{s:s,s:s%}", "path", b->files[i].path, "text",
						       b->files[i].text, b->files[i].len));
	json_t *p = json_pack("{s:s,s:I,s:I,s:I,s:o}", "cluster", b->cluster, "serial",
			      (json_int_t)b->serial, "created", (json_int_t)b->created, "not_after",
			      (json_int_t)b->not_after, "files", files);
	char *payload = p ? json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(p);
	if (!payload) {
		*why = "the policy files cannot be put in a bundle (not UTF-8?)";
		return NULL;
	}
	if (strlen(payload) > DG_FLEET_MAX_BUNDLE * 3 / 4 - 1024) {
		*why = "the policy is too large for a swarm config (about 350 KB of policy at most)";
		free(payload);
		return NULL;
	}
	ed25519_sha512_public_key(pub, priv);
	key_id(pub, id);
	uint8_t *m = signed_bytes((const uint8_t *)payload, strlen(payload), &mlen);
	ed25519_sha512_sign(pub, priv, mlen, m, sig);
	free(m);
	char *pb = b64((const uint8_t *)payload, strlen(payload)), *sb = b64(sig, sizeof(sig));
	json_t *o = json_pack("{s:i,s:s,s:s,s:s}", "dockguard_bundle", BUNDLE_FORMAT, "key_id", id,
			      "payload", pb, "signature", sb);
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	free(pb);
	free(sb);
	free(payload);
	return text;
}

static int bad(const char **why, const char *what)
{
	*why = what;
	return -EINVAL;
}

int dg_fleet_bundle_verify(const char *text, size_t len, const struct dg_fleet_pub *keys,
			   size_t n_keys, struct dg_fleet_bundle *out, const char **why)
{
	const struct dg_fleet_pub *key = NULL;
	json_t *o, *p = NULL;
	uint8_t *payload = NULL, *sig = NULL;
	long plen, slen;
	int ret = -EINVAL;

	memset(out, 0, sizeof(*out));
	if (len > DG_FLEET_MAX_BUNDLE)
		return bad(why, "larger than a bundle can be");
	o = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	const char *kid = json_string_value(json_object_get(o, "key_id"));
	const char *pb = json_string_value(json_object_get(o, "payload"));
	const char *sb = json_string_value(json_object_get(o, "signature"));
	if (!json_is_object(o) || json_object_size(o) != 4 ||
	    json_integer_value(json_object_get(o, "dockguard_bundle")) != BUNDLE_FORMAT || !kid ||
	    !pb || !sb) {
		ret = bad(why, "not a dockguard bundle of a format this version reads");
		goto out;
	}
	for (size_t i = 0; i < n_keys && !key; i++)
		if (!strcmp(keys[i].id, kid))
			key = &keys[i];
	if (!key) {
		*why = "signed by a key this node does not pin (set fleet-key)";
		ret = -EPERM;
		goto out;
	}
	plen = unb64(pb, DG_FLEET_MAX_BUNDLE, &payload);
	slen = unb64(sb, DG_FLEET_SIG_SIZE, &sig);
	if (plen < 0 || slen != DG_FLEET_SIG_SIZE) {
		ret = bad(why, "its payload or signature is not base64 of the right size");
		goto out;
	}
	size_t mlen;
	uint8_t *m = signed_bytes(payload, (size_t)plen, &mlen);
	int good = ed25519_sha512_verify(key->key, mlen, m, sig);
	free(m);
	if (!good) {
		*why = "its signature does not verify: not what the key's holder signed";
		ret = -EPERM;
		goto out;
	}
	/* signed: what follows was written by the key's holder */
	p = json_loadb((const char *)payload, (size_t)plen, JSON_REJECT_DUPLICATES, NULL);
	const char *cluster = json_string_value(json_object_get(p, "cluster"));
	json_t *serial = json_object_get(p, "serial"), *files = json_object_get(p, "files");
	if (!json_is_object(p) || !cluster || strlen(cluster) >= sizeof(out->cluster) ||
	    !json_is_integer(serial) || json_integer_value(serial) <= 0 ||
	    !json_is_integer(json_object_get(p, "not_after")) || !json_is_array(files) ||
	    !json_array_size(files) || json_array_size(files) > DG_FLEET_MAX_FILES) {
		ret = bad(why, "its signed content is not a bundle's");
		goto out;
	}
	snprintf(out->key_id, sizeof(out->key_id), "%s", kid);
	snprintf(out->cluster, sizeof(out->cluster), "%s", cluster);
	out->serial = (uint64_t)json_integer_value(serial);
	out->created = json_integer_value(json_object_get(p, "created"));
	out->not_after = json_integer_value(json_object_get(p, "not_after"));
	dg_sha256_hex(payload, (size_t)plen, out->sha256);
	out->files = xcalloc(json_array_size(files), sizeof(*out->files));
	json_t *f;
	size_t i;
	json_array_foreach(files, i, f) {
		const char *path = json_string_value(json_object_get(f, "path"));
		json_t *t = json_object_get(f, "text");
		if (!path || path[0] != '/' || !json_is_string(t)) {
			dg_fleet_bundle_free(out);
			ret = bad(why, "a file of its signed content has no absolute path or no text");
			goto out;
		}
		out->files[i].path = xstrdup(path);
		out->files[i].len = json_string_length(t);
		out->files[i].text = xmalloc(out->files[i].len + 1);
		memcpy(out->files[i].text, json_string_value(t), out->files[i].len + 1);
		out->n_files++;
	}
	ret = 0;
out:
	json_decref(o);
	json_decref(p);
	free(payload);
	free(sig);
	return ret;
}

const char *dg_fleet_bundle_acceptable(const struct dg_fleet_bundle *b, const char *cluster,
				       uint64_t serial_in_force, int64_t now)
{
	if (!cluster || strcmp(b->cluster, cluster))
		return "made for another swarm (its cluster id is not this node's)";
	if (now >= b->not_after)
		return "expired (past its not-after time)";
	if (b->serial <= serial_in_force)
		return "not newer than the bundle in force (its serial is not higher)";
	return NULL;
}

void dg_fleet_bundle_free(struct dg_fleet_bundle *b)
{
	for (size_t i = 0; i < b->n_files; i++) {
		free(b->files[i].path);
		free(b->files[i].text);
	}
	free(b->files);
	b->files = NULL;
	b->n_files = 0;
}
