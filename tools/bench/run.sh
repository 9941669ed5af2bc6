#!/bin/bash
# make bench: what dockguard costs, measured in one run on this machine.
#
#   tools/bench/run.sh [BUILD_DIR]      (make bench BUILD=...)
#
# Prints a table and writes it as JSON to $BENCH_JSON (default
# BUILD_DIR/bench.json). Sections (b_*.sh, in a private network namespace,
# hooks only on a private cgroup tree and bpffs):
#   b_10_hooks   hook cost per connect (bpf_stats), against an empty program
#   b_20_e2e     loopback connect latency and rate: no hook, dockguard,
#                iptables owner rules (in the namespace: the host's firewall
#                is untouched)
#   b_30_swap    policy compile and swap time
#   b_40_flood   a flood of denied connects with the daemon running
# then, in the host's namespace, docker.sh (container identity latency, a
# private dockerd) and relay.sh (the API relay against direct, nginx and
# HAProxy; a private dockerd); BENCH_DOCKER=0 skips both.
#
# Knobs: BENCH_REPS (runs per figure, default 5), BENCH_E2E_ROUNDS (7),
# BENCH_FLOOD_RATE (100000), BENCH_FLOOD_SECONDS (5), BENCH_DOCKER (1).
# The figures are medians of repeated runs; on a busy machine they are still
# noisy (the table says how many runs each figure is the median of).
set -uo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH_DIR/../.." && pwd)
BUILD=${1:-build}
[[ $BUILD = /* ]] || BUILD=$ROOT/$BUILD
DG=$BUILD/dockguard
LOADGEN=$BUILD/dg-loadgen
BENCH_BPF=$BUILD/dg-bench-bpf
CC_BPF=${CLANG:-clang}
export BENCH_DIR ROOT BUILD DG LOADGEN BENCH_BPF CC_BPF

if [[ ${DG_BENCH_IN_NETNS:-} == 1 ]]; then
	# ---- inside the private network namespace: the kernel sections -----
	source "$BENCH_DIR/lib.sh"
	bench_setup || { blog "setup failed"; exit 1; }
	ip link set lo up
	failed=0
	for s in "$BENCH_DIR"/b_*.sh; do
		# BENCH_ONLY=NAME: that section only (and the shared b_00)
		[[ -n ${BENCH_ONLY:-} && $s != */b_00_* && $(basename "$s") != *"$BENCH_ONLY"* ]] && continue
		blog "-- $(basename "$s" .sh)"
		# shellcheck disable=SC1090
		source "$s" || { blog "$(basename "$s") failed"; failed=1; }
		stats_off	# whatever the section did
		dg unload >/dev/null 2>&1
	done
	exit $failed
fi

# ---- the outer run: preflight, statistics switch, sections, report ------
skip() {
	echo "bench: skipped: $*"
	exit 0
}
((EUID == 0)) || skip "needs root (BPF programs, cgroups, network namespaces)"
[[ -r /sys/kernel/btf/vmlinux ]] || skip "the kernel has no BTF"
for t in bpftool jq iptables iptables-restore unshare "$CC_BPF"; do
	command -v "$t" >/dev/null || skip "$t is not installed (make deps)"
done
for f in "$DG" "$LOADGEN" "$BENCH_BPF"; do
	[[ -x $f ]] || skip "$f is missing (make bench BUILD=$(basename "$BUILD") builds it)"
done

BENCH_JSON=${BENCH_JSON:-$BUILD/bench.json}
RESULTS=$(mktemp /tmp/dockguard-bench-results.XXXXXX)
export RESULTS

# bpf_stats are switched on by the hook-cost section only (lib.sh
# stats_on/stats_off), since they add two clock reads to every program run
# and would inflate the end-to-end figures; this restores the sysctl should
# the sections be interrupted.
STATS_WAS=$(sysctl -n kernel.bpf_stats_enabled)
export STATS_WAS
outer_cleanup() {
	sysctl -q -w kernel.bpf_stats_enabled="$STATS_WAS" >/dev/null
	rm -f "$RESULTS"
}
trap outer_cleanup EXIT
trap 'exit 130' INT TERM HUP

t_start=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench: $(nproc) CPUs, load average $load_start; other work on this machine makes the figures noisy" >&2
DG_BENCH_IN_NETNS=1 timeout "${BENCH_TIMEOUT:-900}" unshare --net "$0" "$BUILD"
kernel_status=$?
((kernel_status == 0)) || echo "bench: a kernel section failed (status $kernel_status)" >&2

if [[ ${BENCH_DOCKER:-1} != 0 && -z ${BENCH_ONLY:-} ]]; then
	timeout "${BENCH_DOCKER_TIMEOUT:-600}" "$BENCH_DIR/docker.sh" "$BUILD" ||
		echo "bench: the docker section failed" >&2
	timeout "${BENCH_DOCKER_TIMEOUT:-600}" "$BENCH_DIR/relay.sh" "$BUILD" ||
		echo "bench: the relay section failed" >&2
else
	jq -cn --arg why "$([[ -n ${BENCH_ONLY:-} ]] && echo "BENCH_ONLY=$BENCH_ONLY" || echo BENCH_DOCKER=0)" \
		'{section:"docker", skipped:$why}' >>"$RESULTS"
	jq -cn --arg why "$([[ -n ${BENCH_ONLY:-} ]] && echo "BENCH_ONLY=$BENCH_ONLY" || echo BENCH_DOCKER=0)" \
		'{section:"relay", skipped:$why}' >>"$RESULTS"
fi

load_end=$(cut -d' ' -f1-3 /proc/loadavg)
jq -s --arg kernel "$(uname -r)" --arg host "$(hostname)" --argjson cpus "$(nproc)" \
	--arg build "$BUILD" --arg commit "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)" \
	--arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg l0 "$load_start" --arg l1 "$load_end" \
	--argjson secs $(($(date +%s) - t_start)) --argjson reps "${BENCH_REPS:-5}" \
	'import "targets" as t;
	 {meta: {date:$date, host:$host, kernel:$kernel, cpus:$cpus, build:$build, commit:$commit,
		 loadavg_start:$l0, loadavg_end:$l1, seconds:$secs, reps:$reps},
	  results: .} | .targets = t::targets' \
	-L "$BENCH_DIR" "$RESULTS" >"$BENCH_JSON.tmp" && mv "$BENCH_JSON.tmp" "$BENCH_JSON"
"$BENCH_DIR/report.sh" "$BENCH_JSON" || exit 1
echo "bench: written to $BENCH_JSON" >&2
exit $((kernel_status != 0))
