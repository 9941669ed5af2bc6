// SPDX-License-Identifier: GPL-2.0-only
/* The one definition of every map (maps.h); the programs are elsewhere:
 * tcp.bpf.c, unix.bpf.c, lsm.bpf.c, handshake.bpf.c. */
#define DG_DEFINE_MAPS
#include "maps.h"

char LICENSE[] SEC("license") = "GPL";
