// SPDX-License-Identifier: GPL-2.0-only
/* Fleet keys and bundles: what signs, what verifies, what is refused. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fleet/bundle.h"
#include "testing.h"

struct pair {
	uint8_t priv[DG_FLEET_KEY_SIZE];
	struct dg_fleet_pub pub;
};

static void make_pair(struct pair *k)
{
	char *a, *b;
	const char *why;

	CHECK_INT(dg_fleet_keygen(&a, &b), 0);
	CHECK_INT(dg_fleet_read_private(a, k->priv, &why), 0);
	CHECK_INT(dg_fleet_read_public(b, &k->pub, &why), 0);
	free(a);
	free(b);
}

static char *sign_one(const struct pair *k, const char *cluster, uint64_t serial, const char *text)
{
	struct dg_fleet_file f = { (char *)"/etc/dockguard/dockguard.conf", (char *)text, strlen(text) };
	struct dg_fleet_bundle b = { .serial = serial, .created = 1000, .not_after = 2000,
				     .files = &f, .n_files = 1 };
	const char *why;

	snprintf(b.cluster, sizeof(b.cluster), "%s", cluster);
	return dg_fleet_bundle_sign(&b, k->priv, &why);
}

TEST(fleet_bundle_round_trip)
{
	struct pair k;
	struct dg_fleet_bundle b;
	const char *why = NULL;

	make_pair(&k);
	char *text = sign_one(&k, "c1", 7, "set default deny\n");
	CHECK(text != NULL);
	CHECK_INT(dg_fleet_bundle_verify(text, strlen(text), &k.pub, 1, &b, &why), 0);
	CHECK_STR(b.cluster, "c1");
	CHECK_INT(b.serial, 7);
	CHECK_INT(b.n_files, 1);
	CHECK_STR(b.files[0].text, "set default deny\n");
	CHECK_STR(b.key_id, k.pub.id);
	CHECK_INT(strlen(b.sha256), 64);
	CHECK(dg_fleet_bundle_acceptable(&b, "c1", 6, 1500) == NULL);
	CHECK(dg_fleet_bundle_acceptable(&b, "c2", 6, 1500) != NULL);	/* another swarm */
	CHECK(dg_fleet_bundle_acceptable(&b, "c1", 7, 1500) != NULL);	/* not newer */
	CHECK(dg_fleet_bundle_acceptable(&b, "c1", 6, 2000) != NULL);	/* expired */
	dg_fleet_bundle_free(&b);
	free(text);
}

TEST(fleet_bundle_refuses_other_keys_and_tampering)
{
	struct pair k, other;
	struct dg_fleet_bundle b;
	const char *why = NULL;

	make_pair(&k);
	make_pair(&other);
	char *text = sign_one(&k, "c1", 3, "set default deny\n");
	/* a key the node does not pin */
	CHECK_INT(dg_fleet_bundle_verify(text, strlen(text), &other.pub, 1, &b, &why), -EPERM);
	/* the same key id, but another key: the signature decides */
	struct dg_fleet_pub forged = other.pub;
	memcpy(forged.id, k.pub.id, sizeof(forged.id));
	CHECK_INT(dg_fleet_bundle_verify(text, strlen(text), &forged, 1, &b, &why), -EPERM);
	/* one byte of the payload changed */
	char *p = strstr(text, "\"payload\":\"");
	CHECK(p != NULL);
	if (p) {
		p += strlen("\"payload\":\"") + 10;
		*p = *p == 'A' ? 'B' : 'A';
		CHECK(dg_fleet_bundle_verify(text, strlen(text), &k.pub, 1, &b, &why) < 0);
	}
	free(text);
	/* not a bundle at all, a duplicate key, extra fields */
	CHECK_INT(dg_fleet_bundle_verify("{}", 2, &k.pub, 1, &b, &why), -EINVAL);
	const char *dup = "{\"dockguard_bundle\":1,\"dockguard_bundle\":1,\"key_id\":\"x\","
			  "\"payload\":\"\",\"signature\":\"\"}";
	CHECK_INT(dg_fleet_bundle_verify(dup, strlen(dup), &k.pub, 1, &b, &why), -EINVAL);
}

TEST(fleet_keys_read_strictly)
{
	uint8_t priv[DG_FLEET_KEY_SIZE];
	struct dg_fleet_pub pub;
	const char *why;

	CHECK_INT(dg_fleet_read_private("", priv, &why), -EINVAL);
	CHECK_INT(dg_fleet_read_public("dockguard-fleet-public-key-v1 AAAA\n", &pub, &why), -EINVAL);
	CHECK_INT(dg_fleet_read_public("dockguard-fleet-private-key-v1 "
				       "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", &pub, &why),
		  -EINVAL);
}
