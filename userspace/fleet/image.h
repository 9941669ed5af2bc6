/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The courier's image (docs/fleet.md): a `docker save` archive built here,
 * byte for byte the same on every node (fixed times, owners and order), so
 * that `docker load` gives every node the same image id and a service can
 * name it by id: no registry, and no node tries a pull.
 */
#ifndef DOCKGUARD_FLEET_IMAGE_H
#define DOCKGUARD_FLEET_IMAGE_H
#include <stddef.h>

#define DG_COURIER_REPO		"dockguard-courier"
#define DG_COURIER_BINARY	"dockguard-courier"

/* Where this installation keeps the courier binary (next to this program,
 * or in a libexec directory), malloc'd; NULL when none is found. */
char *dg_courier_binary_path(void);
/*
 * The archive for `docker load` holding the courier binary `binary`
 * (`len` bytes), tagged DG_COURIER_REPO:`tag`: malloc'd, its size in
 * *out_len, and the image id ("sha256:...") in `id`.
 */
char *dg_courier_image_archive(const char *binary, size_t len, const char *tag, size_t *out_len,
			       char id[72]);
#endif
