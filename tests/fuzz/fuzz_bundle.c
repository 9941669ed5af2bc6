// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: a node reading fleet bundles (fleet/bundle.h). Half the
 * inputs are taken as a whole bundle's text (an attacker's, unsigned); the
 * other half as the payload of a bundle that this harness signs with a
 * pinned key, so that the reader of signed content is fuzzed too. Every
 * input must be refused or give a bundle whose fields hold what the reader
 * promises (an absolute path and a text per file, a cluster, a serial > 0).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/base64.h>
#include <nettle/eddsa.h>

#include "fleet/bundle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t priv[DG_FLEET_KEY_SIZE] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };

static void check(const struct dg_fleet_bundle *b)
{
	if (!b->n_files || b->serial == 0 || strlen(b->sha256) != 64)
		abort();
	for (size_t i = 0; i < b->n_files; i++)
		if (!b->files[i].path || b->files[i].path[0] != '/' || !b->files[i].text)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dg_fleet_pub pub;
	struct dg_fleet_bundle b;
	const char *why;
	char *pub_text, *text;

	if (size < 1 || size > DG_FLEET_MAX_BUNDLE / 2)
		return 0;
	ed25519_sha512_public_key(pub.key, priv);
	/* the key's id as the reader computes it */
	char *b64 = malloc(BASE64_ENCODE_RAW_LENGTH(DG_FLEET_KEY_SIZE) + 1);
	base64_encode_raw(b64, DG_FLEET_KEY_SIZE, pub.key);
	b64[BASE64_ENCODE_RAW_LENGTH(DG_FLEET_KEY_SIZE)] = 0;
	size_t n = strlen("dockguard-fleet-public-key-v1 ") + strlen(b64) + 2;
	pub_text = malloc(n);
	snprintf(pub_text, n, "dockguard-fleet-public-key-v1 %s\n", b64);
	free(b64);
	if (dg_fleet_read_public(pub_text, &pub, &why))
		abort();
	free(pub_text);

	if (data[0] & 1) {
		if (dg_fleet_bundle_verify((const char *)data + 1, size - 1, &pub, 1, &b, &why) == 0) {
			check(&b);
			dg_fleet_bundle_free(&b);
		}
		return 0;
	}
	/* the input as signed content: wrapped and signed here */
	size_t mlen = strlen("dockguard-bundle-v1\n") + size - 1;
	uint8_t *m = malloc(mlen), sig[DG_FLEET_SIG_SIZE];
	memcpy(m, "dockguard-bundle-v1\n", strlen("dockguard-bundle-v1\n"));
	memcpy(m + strlen("dockguard-bundle-v1\n"), data + 1, size - 1);
	ed25519_sha512_sign(pub.key, priv, mlen, m, sig);
	free(m);
	char *pb = malloc(BASE64_ENCODE_RAW_LENGTH(size - 1) + 1);
	base64_encode_raw(pb, size - 1, data + 1);
	pb[BASE64_ENCODE_RAW_LENGTH(size - 1)] = 0;
	char sb[BASE64_ENCODE_RAW_LENGTH(DG_FLEET_SIG_SIZE) + 1];
	base64_encode_raw(sb, DG_FLEET_SIG_SIZE, sig);
	sb[sizeof(sb) - 1] = 0;
	n = strlen(pb) + strlen(sb) + 128;
	text = malloc(n);
	snprintf(text, n, "{\"dockguard_bundle\":1,\"key_id\":\"%s\",\"payload\":\"%s\",\"signature\":\"%s\"}",
		 pub.id, pb, sb);
	free(pb);
	if (dg_fleet_bundle_verify(text, strlen(text), &pub, 1, &b, &why) == 0) {
		check(&b);
		dg_fleet_bundle_free(&b);
	}
	free(text);
	return 0;
}
