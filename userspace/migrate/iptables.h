/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * From iptables to a policy (`dockguard import iptables`, spec 11): reads
 * `iptables-save` / `ip6tables-save` output and writes the policy that does
 * what the filter table's OUTPUT rules did for the TCP destinations they
 * guard with `-m owner` (`--uid-owner`, `--gid-owner`, `--suppl-groups`),
 * in their order, the chain's policy as what comes last. Every rule that
 * cannot be carried over is a comment in the output, with the reason.
 */
#ifndef DOCKGUARD_MIGRATE_IPTABLES_H
#define DOCKGUARD_MIGRATE_IPTABLES_H
#include <stddef.h>
#include <stdio.h>

/* Writes the policy for `text` (`len` bytes, named `source` in its header)
 * to `out`. Returns how many rules were carried over (0: nothing to do). */
size_t dg_import_iptables(const char *text, size_t len, const char *source, FILE *out);
#endif
