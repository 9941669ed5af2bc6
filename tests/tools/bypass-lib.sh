#!/bin/bash
# Helpers for the bypass catalog (tests/security/t_1x..t_3x), on top of
# tests/kernel/lib.sh (pass/fail/skip/check/expect/start_listener, $PROBE,
# $TMP, $CG). Sourced by each catalog file, so a file also runs alone.

# catalog_port N: a base port for security file t_N (10..63). Listeners stay
# up until the suite ends, so each file gets its own range of 200 ports; all
# lie below the ephemeral range (32768..), where a client socket of an earlier
# file, connected or in TIME_WAIT, would make a listener's bind() fail.
catalog_port() {
	echo $((20000 + ($1 - 10) * 200 + RANDOM % 150))
}

# verdict_matches WANT LINE: ok | EPERM | !EPERM (anything but EPERM) |
# !connect (neither ok nor EPERM: the path reaches no listener) | /REGEX/
verdict_matches() {
	local want=$1 line=$2
	case $want in
	ok | EPERM) [[ $line == "$want" ]] ;;
	'!EPERM') [[ -n $line && $line != EPERM ]] ;;
	'!connect') [[ -n $line && $line != EPERM && $line != ok ]] ;;
	/*/)
		local re=${want#/}
		re=${re%/}
		[[ $line =~ $re ]]
		;;
	*) return 1 ;;
	esac
}

# assert_verdict NAME WANT LINE: pass when LINE (a probe's first line) is WANT
assert_verdict() {
	if verdict_matches "$2" "$3"; then pass "$1"; else fail "$1: want $2, got '$3'"; fi
}

# expect_v NAME WANT PROBE-ARGS...: like expect, with every verdict_matches WANT
expect_v() {
	local name=$1 want=$2
	shift 2
	assert_verdict "$name" "$want" "$("$PROBE" "$@" 2>&1 | head -n 1)"
}

# in_cgroup DIR COMMAND...: runs COMMAND in cgroup DIR, joined as root
# before COMMAND drops privileges (setpriv, setuid programs, namespaces)
in_cgroup() {
	local dir=$1
	shift
	bash -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$dir" "$@"
}

# bg_probe NAME PROBE-ARGS...: a probe in the background; its stdout goes to
# $TMP/bg.NAME.out, stderr to $TMP/bg.NAME.err, its pid to BG_PID.
bg_probe() {
	local name=$1
	shift
	"$PROBE" "$@" >"$TMP/bg.$name.out" 2>"$TMP/bg.$name.err" &
	BG_PID=$!
	PIDS+=("$BG_PID")
}

# wait_paused NAME: until probe NAME has printed `paused` (5 s at most)
wait_paused() {
	local i
	for ((i = 0; i < 500; i++)); do
		grep -q '^paused' "$TMP/bg.$1.err" 2>/dev/null && return 0
		sleep 0.01
	done
	echo "probe $1 never paused: $(cat "$TMP/bg.$1.out" "$TMP/bg.$1.err" 2>/dev/null)" >&2
	return 1
}

# bg_verdict NAME PID: waits (10 s at most) for background probe PID to end
# and prints its first line of output
bg_verdict() {
	local name=$1 pid=$2 i
	for ((i = 0; i < 1000; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.01
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null
		echo "timeout"
	fi
	wait "$pid" 2>/dev/null
	head -n 1 "$TMP/bg.$name.out"
}

# unix_by_lsm: whether dockguard reports unix endpoints judged on the socket
# itself by its BPF LSM programs (kernels booted with lsm=...,bpf), which
# also catch the socket file's aliases under other names
unix_by_lsm() {
	"$DG" --bpffs "$BPFFS" status --json 2>/dev/null | grep -q '"unix_enforcement":"lsm"'
}

# unix_enforced: whether unix endpoints are judged: the loaded pins include
# the connect_unix hook, or the BPF LSM judges them
unix_enforced() {
	[[ -e $BPFFS/link_connect_unix ]] || unix_by_lsm
}

# container_netns N GATEWAY: a container's network namespace (held open by a
# sleeping process) behind a veth pair dgshN/dgscN, GATEWAY/24 on the
# suite's side and GATEWAY's .2 inside. Sets NS_PID, NS (the nsenter prefix)
# and veth_ok (0 when this kernel has no veth); `ip link del dgshN` ends it.
container_netns() {
	local n=$1 gw=$2
	unshare --net sleep 600 &
	NS_PID=$!
	PIDS+=("$NS_PID")
	sleep 0.1
	NS=(nsenter "--net=/proc/$NS_PID/ns/net")
	veth_ok=1
	{
		ip link add "dgsh$n" type veth peer name "dgsc$n" &&
			ip link set "dgsc$n" netns "$NS_PID" &&
			ip addr add "$gw/24" dev "dgsh$n" && ip link set "dgsh$n" up &&
			"${NS[@]}" ip addr add "${gw%.*}.2/24" dev "dgsc$n" &&
			"${NS[@]}" ip link set "dgsc$n" up && "${NS[@]}" ip link set lo up
	} || veth_ok=0
}

# in_ns NAME WANT PROBE-ARGS...: the probe in the container_netns namespace
in_ns() {
	local name=$1 want=$2
	shift 2
	assert_verdict "$name" "$want" "$("${NS[@]}" "$PROBE" "$@" 2>&1 | head -n 1)"
}
