#!/bin/bash
# Benchmark harness: a private cgroup tree and bpffs per run, removed on any
# exit (the pattern of tests/kernel/lib.sh); helpers to measure and to record
# results as JSON lines.
#
# Safety: hooks attach only below $BCG (a fresh cgroup under the cgroup v2
# root), never to the root; the sections run in a private network namespace.
#
# Cgroups (all below $BCG):
#   dg/        dockguard's attach point; clients in dg/c, dg/nginx.service,
#              dg/f1..f4 (flood subjects)
#   empty/     the empty programs (tools/bench/empty.bpf.c), for the baseline
#   none/      no program at all: the end-to-end baseline and iptables runs
#   srv/       the listeners

PIDS=()

blog() { echo "bench: $*" >&2; }

# record JSON: one result object, appended to the run's results
record() { echo "$1" >>"$RESULTS"; }

# median of the numbers on stdin (one a line); empty input gives 0
median() { sort -g | awk '{ v[NR] = $1 } END { if (!NR) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# field NAME LINE: the value of NAME=VALUE in a dg-loadgen result line
field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }

# start_listener PROTO ADDR [PORT]: a dg-loadgen listener in srv/; its pid
# is left in LISTENER_PID
start_listener() {
	local fifo line
	fifo=$(mktemp -u "$TMP/fifo.XXXX")
	mkfifo "$fifo"
	(echo 0 >"$BCG/srv/cgroup.procs" && exec "$LOADGEN" listen "$@") >"$fifo" 2>&1 &
	LISTENER_PID=$!
	PIDS+=("$LISTENER_PID")
	read -r -t 5 line <"$fifo" || true
	rm -f "$fifo"
	if [[ $line != listening ]]; then
		blog "listener $* failed: $line"
		return 1
	fi
}

dg() { "$DG" --bpffs "$BPFFS" --cgroup "$BCG/dg" "$@"; }

# prog_stats ID: "RUN_TIME_NS RUN_CNT" of one program (bpf_stats must be on)
prog_stats() {
	bpftool prog show id "$1" --json | jq -r '"\(.run_time_ns // 0) \(.run_cnt // 0)"'
}

# dg_prog_id HOOK: the program id dockguard attached for HOOK (connect4, ...)
dg_prog_id() {
	dg status --json | jq -r --arg h "$1" '.hooks[] | select(.hook == $h) | .prog_id'
}

# stats_on: bpf_stats, for the hook-cost figures: the sysctl as asked
# (kernel.bpf_stats_enabled=1), plus a reference held through
# BPF_ENABLE_STATS, so that someone else switching the sysctl off meanwhile
# cannot silently stop the accounting. stats_off restores the sysctl to what
# it was before the run ($STATS_WAS, saved by run.sh) and drops the reference.
STATS_PID=
stats_on() {
	local line fifo
	sysctl -q -w kernel.bpf_stats_enabled=1 >/dev/null || return 1
	fifo=$(mktemp -u "$TMP/stats.XXXX")
	mkfifo "$fifo"
	"$BENCH_BPF" stats </dev/null >"$fifo" 2>&1 &
	STATS_PID=$!
	PIDS+=("$STATS_PID")
	read -r -t 5 line <"$fifo" || line=
	rm -f "$fifo"
	[[ $line == enabled ]] || blog "warning: BPF_ENABLE_STATS failed ($line); relying on the sysctl"
}
stats_off() {
	sysctl -q -w kernel.bpf_stats_enabled="${STATS_WAS:-0}" >/dev/null
	if [[ -n $STATS_PID ]]; then
		kill "$STATS_PID" 2>/dev/null	# its exit drops the reference
		wait "$STATS_PID" 2>/dev/null
		STATS_PID=
	fi
}
# stats_state: what every program pays right now ("on" inflates run costs)
stats_state() { [[ $(sysctl -n kernel.bpf_stats_enabled) == 1 ]] && echo on || echo off; }

bench_cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	PIDS=()
	[[ -n ${BPFFS:-} && -d ${BPFFS:-/nonexistent} ]] && "$DG" --bpffs "$BPFFS" unload >/dev/null 2>&1
	if [[ -n ${BPFMNT:-} ]]; then
		rm -f "$BPFMNT"/empty_* 2>/dev/null	# the empty programs' links: detaches them
		umount "$BPFMNT" 2>/dev/null
	fi
	if [[ -n ${BCG:-} && -d $BCG ]]; then
		# deepest first; a cgroup whose last process has just exited may
		# be busy for a moment
		for _ in 1 2 3 4 5; do
			find "$BCG" -depth -type d -exec rmdir {} \; 2>/dev/null
			[[ -d $BCG ]] || break
			sleep 0.2
		done
		[[ -d $BCG ]] && blog "could not remove $BCG"
	fi
	[[ -n ${TMP:-} ]] && rm -rf "$TMP"
	return 0
}

# bench_setup: $BCG (path $BCGPATH below the cgroup v2 root), bpffs, $TMP
bench_setup() {
	CGROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
	if [[ -z $CGROOT ]]; then
		blog "no cgroup v2 mount"
		return 1
	fi
	BCGPATH=/dockguard-bench.$$
	BCG=$CGROOT$BCGPATH
	TMP=$(mktemp -d /tmp/dockguard-bench.XXXXXX)
	chmod 755 "$TMP"
	BPFMNT=$TMP/bpffs
	BPFFS=$BPFMNT/dockguard
	SOCKDIR=$TMP/sock
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM HUP
	mkdir "$BCG" || return 1
	mkdir -p "$BCG"/{dg/c,dg/nginx.service,dg/f1,dg/f2,dg/f3,dg/f4,empty,none,srv} "$SOCKDIR" || return 1
	chmod 777 "$SOCKDIR"
	mkdir -p "$BPFMNT" && mount -t bpf bpf "$BPFMNT"
}
