/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel events made readable: names for the numbers in a struct dg_event
 * (endpoint, rule FILE:LINE, cgroup path, wall-clock time) and its two
 * output forms, the JSON object of spec §5 and one human line.
 */
#ifndef DOCKGUARD_EVENTS_H
#define DOCKGUARD_EVENTS_H

#include <jansson.h>
#include <stdbool.h>

#include "dockguard_abi.h"

/* Names things for events: reads the policy description pinned with each
 * slot (cached by generation) and resolves cgroup ids to paths. */
struct dg_namer;

struct dg_namer *dg_namer_new(const char *bpffs);
void dg_namer_free(struct dg_namer *n);

/* The containers events are attributed to (by cgroup); NULL for none. The
 * set must stay valid until the next call. */
struct dg_container_set;
void dg_namer_set_containers(struct dg_namer *n, const struct dg_container_set *set);

/* Forget cached policy descriptions (after a load). */
void dg_namer_reset(struct dg_namer *n);

/* The fields of spec §5; absent when unknown. Caller owns the result. */
json_t *dg_event_json(struct dg_namer *n, const struct dg_event *ev);

/* One line, no newline: time verdict endpoint dest op pid comm uid gid cgroup rule. */
char *dg_event_text(struct dg_namer *n, const struct dg_event *ev);

/* Writes the event to the systemd journal with DOCKGUARD_* fields. */
int dg_event_journal(struct dg_namer *n, const struct dg_event *ev);

#endif
