/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The daemon's metrics (spec 11): `dockguard metrics` served over HTTP at
 * GET /metrics on `set metrics tcp://HOST:PORT` or `unix:///PATH`, and
 * written every 15 s to `set metrics-textfile PATH` for node-exporter's
 * textfile collector (to PATH.tmp, then renamed: never read half-written).
 */
#ifndef DOCKGUARD_DAEMON_METRICS_H
#define DOCKGUARD_DAEMON_METRICS_H
#include <event2/event.h>
#include <jansson.h>
#include "kernel/kernel.h"	/* struct dg_err */

/* The status object (dg_status_collect_with) to render, new reference. */
typedef json_t *(*dg_metrics_status_fn)(void *arg);
struct dg_metrics;
/* NULL with `err` when the address cannot be served; `url` or `textfile`
 * may be NULL. */
struct dg_metrics *dg_metrics_start(struct event_base *base, const char *url, const char *textfile,
				    dg_metrics_status_fn fn, void *arg, struct dg_err *err);
void dg_metrics_free(struct dg_metrics *m);
#endif
