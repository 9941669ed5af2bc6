// SPDX-License-Identifier: GPL-2.0-only
/* The courier's image (image.h). */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nettle/sha2.h>

#include "fleet/image.h"
#include "util/util.h"

/* A tar archive in memory: ustar headers, every owner root, every time 0. */
struct tar {
	char *buf;
	size_t len;
};

static void tar_add(struct tar *t, const char *name, char type, unsigned mode, const void *data,
		    size_t size)
{
	unsigned char h[512] = { 0 };
	unsigned sum = 0;

	snprintf((char *)h, 100, "%s", name);
	snprintf((char *)h + 100, 8, "%07o", mode);
	snprintf((char *)h + 108, 8, "%07o", 0);
	snprintf((char *)h + 116, 8, "%07o", 0);
	snprintf((char *)h + 124, 12, "%011zo", size);
	snprintf((char *)h + 136, 12, "%011o", 0);
	h[156] = (unsigned char)type;
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memcpy(h + 148, "        ", 8);
	for (int i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	size_t padded = (size + 511) / 512 * 512;
	t->buf = xreallocarray(t->buf, t->len + 512 + padded, 1);
	memcpy(t->buf + t->len, h, 512);
	memset(t->buf + t->len + 512, 0, padded);
	if (size)
		memcpy(t->buf + t->len + 512, data, size);
	t->len += 512 + padded;
}

static void tar_end(struct tar *t)
{
	t->buf = xreallocarray(t->buf, t->len + 1024, 1);
	memset(t->buf + t->len, 0, 1024);
	t->len += 1024;
}

char *dg_courier_binary_path(void)
{
	static const char *const dirs[] = { "/usr/local/libexec", "/usr/libexec",
					    "/usr/lib/dockguard" };
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		self[n] = 0;
		char *p = xasprintf("%s/" DG_COURIER_BINARY, dirname(self));
		if (!access(p, X_OK))
			return p;
		free(p);
	}
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		char *p = xasprintf("%s/" DG_COURIER_BINARY, dirs[i]);
		if (!access(p, X_OK))
			return p;
		free(p);
	}
	return NULL;
}

char *dg_courier_image_archive(const char *binary, size_t len, const char *tag, size_t *out_len,
			       char id[72])
{
	struct tar layer = { 0 }, image = { 0 };
	char layer_sha[65], config_sha[65];

	/* the layer: the binary, and the mount point of the daemon's status */
	tar_add(&layer, "state/", '5', 01777, NULL, 0);	/* the courier makes its status file here */
	tar_add(&layer, DG_COURIER_BINARY, '0', 0755, binary, len);
	tar_end(&layer);
	dg_sha256_hex(layer.buf, layer.len, layer_sha);

	char *config = xasprintf(
		"{\"architecture\":\"amd64\",\"config\":{\"Cmd\":[\"/" DG_COURIER_BINARY "\"],"
		"\"User\":\"65534:65534\"},\"created\":\"1970-01-01T00:00:00Z\","
		"\"history\":[{\"created\":\"1970-01-01T00:00:00Z\",\"created_by\":\"dockguard "
		"fleet image\"}],\"os\":\"linux\",\"rootfs\":{\"diff_ids\":[\"sha256:%s\"],"
		"\"type\":\"layers\"}}", layer_sha);
	dg_sha256_hex(config, strlen(config), config_sha);
	char *config_name = xasprintf("%s.json", config_sha);
	char *layer_name = xasprintf("%s/layer.tar", layer_sha);
	char *layer_dir = xasprintf("%s/", layer_sha);
	char *manifest = xasprintf("[{\"Config\":\"%s\",\"RepoTags\":[\"" DG_COURIER_REPO ":%s\"],"
				   "\"Layers\":[\"%s\"]}]", config_name, tag, layer_name);

	tar_add(&image, "manifest.json", '0', 0644, manifest, strlen(manifest));
	tar_add(&image, config_name, '0', 0644, config, strlen(config));
	tar_add(&image, layer_dir, '5', 0755, NULL, 0);
	tar_add(&image, layer_name, '0', 0644, layer.buf, layer.len);
	tar_end(&image);
	snprintf(id, 72, "sha256:%s", config_sha);
	*out_len = image.len;
	free(config);
	free(config_name);
	free(layer_name);
	free(layer_dir);
	free(manifest);
	free(layer.buf);
	return image.buf;
}
