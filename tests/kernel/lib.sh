#!/bin/bash
# Kernel-test harness: a private test cgroup and bpffs per run, removed on any
# exit; counters; helpers that assert what the kernel really did.
#
# Safety: hooks attach only to $CG (a fresh sub-cgroup), never to the root.

# enter_private_netns SUITE SCRIPT [ARGS...]: re-runs the suite's script in
# a private network namespace, once; where the suite cannot run at all (not
# root, no BTF), reports it skipped and exits.
enter_private_netns() {
	local suite=$1
	shift
	[[ ${DG_IN_NETNS:-} == 1 ]] && return 0
	if ((EUID != 0)); then
		echo "$suite tests need root (BPF, cgroups, network namespaces): skipped"
		echo "$suite: 0 passed, 0 failed"
		exit 0
	fi
	if [[ ! -r /sys/kernel/btf/vmlinux ]]; then
		echo "kernel has no BTF: skipped"
		echo "$suite: 0 passed, 0 failed"
		exit 0
	fi
	DG_IN_NETNS=1 exec unshare --net "$@"
}

PASS=0
FAIL=0
SKIP=0
PIDS=()
NETNS_DEL=()	# named network namespaces (ip netns add) a test made

pass() { PASS=$((PASS + 1)); echo "ok   $*"; }
fail() { FAIL=$((FAIL + 1)); echo "FAIL $*"; }
skip() { SKIP=$((SKIP + 1)); echo "skip $*"; }

# check NAME COMMAND...: passes when COMMAND succeeds
check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}

# expect NAME WANT PROBE-ARGS...: runs dg-probe and compares its verdict.
# WANT: ok | EPERM | !EPERM (any outcome but EPERM, e.g. connection refused)
expect() {
	local name=$1 want=$2
	shift 2
	local out
	out=$("$PROBE" "$@" 2>&1 | head -n 1)
	local good=1
	case $want in
	ok) [[ $out == ok ]] || good=0 ;;
	EPERM) [[ $out == EPERM ]] || good=0 ;;
	'!EPERM') [[ -n $out && $out != EPERM ]] || good=0 ;;
	esac
	if ((good)); then pass "$name"; else fail "$name: want $want, got '$out'"; fi
}

# expect_unix NAME WANT PROBE-ARGS...: expect, for a connect to an existing
# unix socket. Without the cgroup/connect_unix hook (Linux < 6.7, UNIX_HOOK=0)
# and without the BPF LSM (UNIX_LSM=0) nothing judges unix connects:
# dockguard says so ("unix endpoints are NOT enforced"), and a connect the
# policy denies goes through. That is what is
# asserted there instead of EPERM.
expect_unix() {
	local name=$1 want=$2
	shift 2
	if ((UNIX_HOOK || UNIX_LSM)) || [[ $want != EPERM ]]; then
		expect "$name" "$want" "$@"
	else
		expect "$name: not enforced (no connect_unix hook), so it connects" ok "$@"
	fi
}

# start_listener PROBE-ARGS...: a dg-probe listener in the background
start_listener() {
	local fifo
	fifo=$(mktemp -u "$TMP/fifo.XXXX")
	mkfifo "$fifo"
	"$PROBE" "$@" >"$fifo" 2>&1 &
	PIDS+=($!)
	local line
	read -r -t 5 line <"$fifo" || true
	rm -f "$fifo"
	if [[ $line != listening ]]; then
		# a test's later verdicts would mislead without its listener
		fail "listener $* did not start: ${line:-no answer in 5 s}"
		return 1
	fi
}

dg() { "$DG" --bpffs "$BPFFS" --cgroup "$CG" "$@"; }

# systemd_unit DIR...: makes each DIR as systemd makes a unit's cgroup, with
# the trusted.invocation_id attribute (no systemd runs the tests: dockguard
# takes a directory for a unit only when systemd marked it)
systemd_unit() {
	local d
	for d in "$@"; do
		mkdir -p "$d" &&
			python3 -c 'import os, sys; os.setxattr(sys.argv[1], "trusted.invocation_id", os.urandom(16))' "$d" ||
			return 1
	done
}

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	for pid in "${NETNS_DEL[@]}"; do
		ip netns del "$pid" 2>/dev/null
	done
	[[ -n ${BPFFS:-} ]] && "$DG" --bpffs "$BPFFS" unload >/dev/null 2>&1
	[[ -n ${BPFMNT:-} ]] && umount "$BPFMNT" 2>/dev/null
	if [[ -n ${CG:-} && -d $CG ]]; then
		# deepest first; processes have exited by now
		find "$CG" -depth -type d -exec rmdir {} \; 2>/dev/null
	fi
	[[ -n ${TMP:-} ]] && rm -rf "$TMP"
}

# setup: test cgroup $CG (path $CGPATH below the cgroup v2 root), bpffs, tmp
setup() {
	CGROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
	if [[ -z $CGROOT ]]; then
		echo "no cgroup v2 mount" >&2
		return 1
	fi
	CGPATH=/dockguard-test.$$
	CG=$CGROOT$CGPATH
	TMP=$(mktemp -d /tmp/dockguard-test.XXXXXX)
	chmod 755 "$TMP"
	BPFMNT=$TMP/bpffs
	BPFFS=$BPFMNT/dockguard
	trap cleanup EXIT
	# killed by `timeout` or ^C: exit, so that the EXIT trap cleans up
	trap 'exit 143' TERM INT
	mkdir "$CG" || return 1
	mkdir -p "$BPFMNT" && mount -t bpf bpf "$BPFMNT" || return 1
	# whether this kernel has cgroup/connect_unix, as dockguard's probe sees
	# it; t_10 checks that against the kernel's BTF
	UNIX_HOOK=0
	if "$DG" version 2>/dev/null | grep -q 'connect_unix yes'; then UNIX_HOOK=1; fi
	# whether the BPF LSM is active: dockguard then judges unix endpoints on
	# the socket itself (by the name the listener bound), with or without
	# cgroup/connect_unix (tests/security/t_45)
	UNIX_LSM=0
	if "$DG" version 2>/dev/null | grep -q 'bpf lsm yes'; then UNIX_LSM=1; fi
}
