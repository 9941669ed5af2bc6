#!/bin/bash
# The fleet on a real three-node swarm on this machine
# (../shared/context/swarm-lab.md's recipe): three dockerd "nodes" with
# userns-remap, each in a network namespace of its own (own data-root,
# exec-root, socket, key, hostname, cgroup parent /dgswN), joined over a
# bridge in a namespace of its own; one dockguard daemon per node, attached
# to that node's container cgroup with its own bpffs, run and state
# directories. Scenarios: push g1, every node enforces it and `fleet
# status` says so; push g2 while one node's daemon is stopped: that node
# shows it, and catches up when its daemon returns; a bundle signed by
# another key and an older serial: rejected on every node, the reason
# visible; a node restarted (daemon first, then dockerd) enforces its last
# good bundle before its containers start; a node that joins later gets the
# newest policy. Prints the push-to-enforced times.
#
#   tests/e2e/fleet-swarm.sh [BUILD_DIR]   ends with `e2e-swarm: N passed, N failed`
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build=$root/$build
DG=$build/dockguard
source "$here/lib.sh"
source "$root/tests/kernel/lib.sh"	# pass, fail, check

if ! e2e_skip_unless_possible; then
	echo "e2e-swarm: 0 passed, 0 failed"
	exit 0
fi
DOCKERD=$(command -v dockerd)
DOCKER=$(_e2e_find_cli) || { echo "e2e-swarm: 0 passed, 1 failed"; exit 1; }
CGROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
T=$(mktemp -d /tmp/dgsw.XXXXXX)	# short: containerd's socket path lives below it
chmod 0711 "$T"
NS=dgsw$$
NET=10.215.0
declare -A DPID=() GPID=()

node_dir() { echo "$T/n$1"; }
dk() {	# dk N ARGS...: the docker CLI on node N
	local n=$1
	shift
	DOCKER_CONFIG=$T/cli timeout 60 "$DOCKER" -H "unix://$(node_dir "$n")/docker.sock" "$@"
}

start_dockerd() {	# start_dockerd N
	local n=$1 d
	d=$(node_dir "$n")
	mkdir -p "$d"
	cat >"$d/daemon.json" <<EOF
{
	"userns-remap": "default",
	"data-root": "$d/data",
	"exec-root": "$d/exec",
	"pidfile": "$d/dockerd.pid",
	"hosts": ["unix://$d/docker.sock"],
	"bip": "10.216.$n.1/24",
	"iptables": false,
	"ip-forward": false,
	"ip-masq": false,
	"userland-proxy": false,
	"cgroup-parent": "/dgsw$n",
	"exec-opts": ["native.cgroupdriver=cgroupfs"],
	"deprecated-key-path": "$d/key.json",
	"default-address-pools": [{"base": "10.217.$n.0/24", "size": 28}],
	"log-level": "info"
}
EOF
	nsenter --net="/run/netns/$NS-n$n" unshare --uts \
		sh -c "hostname dgsw-node$n && DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 exec $DOCKERD --config-file $d/daemon.json" \
		>>"$d/dockerd.log" 2>&1 &
	for _ in $(seq 240); do
		dk "$n" version >/dev/null 2>&1 && { DPID[$n]=$(cat "$d/dockerd.pid"); return 0; }
		sleep 0.25
	done
	echo "node $n: dockerd did not start:" >&2
	tail -n 5 "$d/dockerd.log" >&2
	return 1
}

stop_dockerd() {	# stop_dockerd N
	local pid=${DPID[$1]:-}
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	DPID[$1]=
}

start_guard() {	# start_guard N: the node's dockguard daemon
	local n=$1 d
	d=$(node_dir "$n")
	mkdir -p "$d/run" "$d/state" "$T/bpffs/n$n" "$CGROOT/dgsw$n"
	cat >"$d/local.conf" <<EOF
set fleet-key $T/keys/fleet.pub
set docker-host unix://$d/docker.sock
EOF
	"$DG" --bpffs "$T/bpffs/n$n" --cgroup "$CGROOT/dgsw$n" --run-dir "$d/run" \
		--state-dir "$d/state" run "$d/local.conf" >>"$d/guard.log" 2>&1 &
	GPID[$n]=$!
	for _ in $(seq 100); do [[ -S $d/run/control.sock ]] && return 0; sleep 0.1; done
	return 1
}

stop_guard() {
	local pid=${GPID[$1]:-}
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	GPID[$1]=
}

served() {	# served N: "SERIAL STATE" of node N's daemon
	"$DG" --bpffs "$T/bpffs/n$1" --run-dir "$(node_dir "$1")/run" status --json 2>/dev/null |
		python3 -c 'import json, sys
try:
    f = json.load(sys.stdin).get("fleet") or {}
except ValueError:
    f = {}
print(f.get("serial", 0), f.get("state", "-"))'
}

wait_all() {	# wait_all SERIAL NODES...: until each enforces SERIAL (90 s); ms taken
	local want=$1 t0 n all
	shift
	t0=$(date +%s%N)
	for _ in $(seq 900); do
		all=1
		for n in "$@"; do [[ $(served "$n") == "$want enforcing" ]] || all=0; done
		((all)) && { echo $((($(date +%s%N) - t0) / 1000000)); return 0; }
		sleep 0.1
	done
	return 1
}

cleanup() {
	local n
	for n in 1 2 3; do stop_guard "$n"; done
	for n in 1 2 3; do stop_dockerd "$n"; done
	for n in 1 2 3; do
		[[ -d $T/bpffs/n$n ]] && "$DG" --bpffs "$T/bpffs/n$n" unload >/dev/null 2>&1
		# the unified hierarchy and, on a hybrid host, the v1 ones dockerd used
		for c in "$CGROOT" /sys/fs/cgroup/*; do
			[[ -d $c/dgsw$n ]] && find "$c/dgsw$n" -depth -type d -exec rmdir {} \; 2>/dev/null
		done
		ip netns del "$NS-n$n" 2>/dev/null
	done
	umount "$T/bpffs" 2>/dev/null
	ip netns del "$NS-br" 2>/dev/null
	# the nodes' data roots hold read-only layers: unmount what is left
	grep -o " $T/[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---- the network: a bridge in a namespace of its own, a veth per node ----
ip netns add "$NS-br"
ip -n "$NS-br" link add br0 type bridge
ip -n "$NS-br" link set br0 up
for n in 1 2 3; do
	ip netns add "$NS-n$n"
	ip link add "dgsw$$n$n" type veth peer name eth0 netns "$NS-n$n"
	ip link set "dgsw$$n$n" netns "$NS-br"
	ip -n "$NS-br" link set "dgsw$$n$n" master br0 up
	ip -n "$NS-n$n" addr add "$NET.1$n/24" dev eth0
	ip -n "$NS-n$n" link set eth0 up
	ip -n "$NS-n$n" link set lo up
done
mkdir -p "$T/bpffs" "$T/keys" "$T/other" "$T/cli"
mount -t bpf bpf "$T/bpffs"

"$DG" fleet keygen --out "$T/keys" >/dev/null
"$DG" fleet keygen --out "$T/other" >/dev/null
P=24671
for g in 1 2 3; do
	{
		echo "endpoint swarm-api tcp 127.0.0.1:$P"
		for u in $(seq 1001 $((1000 + g))); do echo "allow swarm-api from user $u"; done
	} >"$T/g$g.conf"
done

ok=1
for n in 1 2; do start_dockerd "$n" || ok=0; done
if ((!ok)); then
	fail "two swarm nodes start"
	echo "e2e-swarm: $PASS passed, $FAIL failed"
	exit 1
fi
dk 1 swarm init --advertise-addr "$NET.11" --listen-addr "$NET.11:2377" \
	--data-path-port 47893 --default-addr-pool 10.218.0.0/16 >/dev/null
token=$(dk 1 swarm join-token -q worker)
dk 2 swarm join --token "$token" "$NET.11:2377" >/dev/null
check "a swarm of two nodes (node3 joins later)" test "$(dk 1 node ls -q | wc -l)" = 2
for n in 1 2 3; do start_guard "$n"; done
for n in 1 2; do DOCKER_HOST=unix://$(node_dir "$n")/docker.sock "$DG" fleet image >/dev/null; done
export DOCKER_HOST=unix://$(node_dir 1)/docker.sock	# the manager, for fleet push and status

# ---- g1 everywhere ----
"$DG" fleet push --key "$T/keys/fleet.key" "$T/g1.conf" >/dev/null
ms=$(wait_all 1 1 2)
check "push g1: both nodes enforce serial 1 (${ms:-never} ms)" test -n "$ms"
times=("$ms")
for _ in $(seq 100); do "$DG" fleet status >"$T/status.out" 2>&1 && break; sleep 0.3; done
"$DG" fleet status >"$T/status.out" 2>&1
st=$?
check "fleet status: exit 0, a row per node, each enforcing serial 1" \
	bash -c "test $st = 0 && test \$(grep -cE ' +1 +[0-9]+ +enforcing$' '$T/status.out') = 2"
sed 's/^/     /' "$T/status.out"

# ---- g2 while node2's daemon is down ----
stop_guard 2
"$DG" fleet push --key "$T/keys/fleet.key" "$T/g2.conf" >/dev/null
ms=$(wait_all 2 1)
check "push g2 with node2's daemon stopped: node1 enforces serial 2 (${ms:-never} ms)" test -n "$ms"
for _ in $(seq 100); do "$DG" fleet status >"$T/status.out" 2>&1; grep -q "daemon down" "$T/status.out" && break; sleep 0.3; done
"$DG" fleet status >"$T/status.out" 2>&1
st=$?
check "fleet status: exit 1, node2 shows its daemon down" \
	bash -c "test $st = 1 && grep -q 'dgsw-node2 .*daemon down' '$T/status.out'"
sed 's/^/     /' "$T/status.out"
start_guard 2
ms=$(wait_all 2 1 2)
check "node2's daemon back: it catches up to serial 2 (${ms:-never} ms after its start)" test -n "$ms"

# ---- refused everywhere: another key, an older serial ----
"$DG" fleet push --key "$T/other/fleet.key" "$T/g3.conf" >/dev/null
for _ in $(seq 300); do
	[[ $(served 1) == "2 rejected" && $(served 2) == "2 rejected" ]] && break
	sleep 0.1
done
check "a bundle signed by another key: rejected on both nodes, serial 2 stays" \
	test "$(served 1)/$(served 2)" = "2 rejected/2 rejected"
for _ in $(seq 100); do "$DG" fleet status >"$T/status.out" 2>&1; [[ $(grep -c "rejected: signed by a key" "$T/status.out") == 2 ]] && break; sleep 0.3; done
check "fleet status shows the reason on both nodes" \
	test "$(grep -c 'rejected: signed by a key this node does not pin' "$T/status.out")" = 2
dk 1 service update --detach --config-rm dockguard-policy-s3 \
	--config-add source=dockguard-policy-s1,target=/dockguard-bundle,mode=0444 dockguard-courier >/dev/null 2>&1
for n in 1 2; do
	for _ in $(seq 300); do grep -q "rejected: not newer" "$(node_dir "$n")/guard.log" && break; sleep 0.1; done
done
check "an older serial put back: rejected on both nodes (not newer)" \
	bash -c "grep -q 'rejected: not newer' '$(node_dir 1)/guard.log' && grep -q 'rejected: not newer' '$(node_dir 2)/guard.log'"
# a policy that does not compile (signed by the pinned key: dg-sign-bundle)
echo "this is not a policy" >"$T/bad.conf"
"$build/dg-sign-bundle" "$T/keys/fleet.key" "$(dk 1 info -f '{{.Swarm.Cluster.ID}}')" 40 \
	"$T/bad.conf" >"$T/bad.bundle"
dk 1 config create dockguard-policy-s40 "$T/bad.bundle" >/dev/null
dk 1 service update --detach --config-rm dockguard-policy-s1 \
	--config-add source=dockguard-policy-s40,target=/dockguard-bundle,mode=0444 dockguard-courier >/dev/null 2>&1
for n in 1 2; do
	for _ in $(seq 300); do grep -q "rejected: its policy does not compile" "$(node_dir "$n")/guard.log" && break; sleep 0.1; done
done
check "a policy that does not compile: rejected on both nodes, the reason in each log" \
	bash -c "grep -q 'rejected: its policy does not compile' '$(node_dir 1)/guard.log' && grep -q 'rejected: its policy does not compile' '$(node_dir 2)/guard.log'"
check "... serial 2 stays in force on both" test "$(served 1)/$(served 2)" = "2 rejected/2 rejected"
"$DG" fleet push --key "$T/keys/fleet.key" "$T/g3.conf" >/dev/null
ms=$(wait_all 41 1 2)
check "g3 signed by the pinned key (serial 41): both enforce it (${ms:-never} ms)" test -n "$ms"
times+=("$ms")

# ---- node2 restarts: its daemon first enforces the last good bundle ----
stop_guard 2
stop_dockerd 2
: >"$(node_dir 2)/guard.log"
start_guard 2
check "node2 restarted: its daemon enforces serial 41 before dockerd runs" \
	bash -c "test '$(served 2)' = '41 enforcing' && grep -q 'enforcing the last good bundle' '$(node_dir 2)/guard.log'"
start_dockerd 2
ms=$(wait_all 41 1 2)
check "... and with dockerd back, serial 41 in force on both (${ms:-never} ms)" test -n "$ms"

# ---- node3 joins later ----
start_dockerd 3 && DOCKER_HOST=unix://$(node_dir 3)/docker.sock "$DG" fleet image >/dev/null
dk 3 swarm join --token "$token" "$NET.11:2377" >/dev/null
ms=$(wait_all 41 3)
check "node3 joins later: it enforces the newest serial (41) (${ms:-never} ms after its join)" test -n "$ms"

# ---- median push-to-enforced over three more pushes, three nodes ----
for g in 1 2 3; do
	"$DG" fleet push --key "$T/keys/fleet.key" "$T/g$g.conf" >/dev/null
	s=$(dk 1 config ls --format '{{.Name}}' | sed -n 's/^dockguard-policy-s//p' | sort -n | tail -n 1)
	ms=$(wait_all "$s" 1 2 3)
	[[ -n $ms ]] && times+=("$ms")
done
for _ in $(seq 100); do "$DG" fleet status >"$T/status.out" 2>&1 && break; sleep 0.3; done
"$DG" fleet status >"$T/status.out" 2>&1
st=$?
check "fleet status at the end: exit 0, three nodes enforcing the newest serial" \
	bash -c "test $st = 0 && test \$(grep -cE ' enforcing$' '$T/status.out') = 3"
sed 's/^/     /' "$T/status.out"
echo "     push to enforced on every node (ms): ${times[*]}; median of the three-node pushes:" \
	"$(printf '%s\n' "${times[@]: -3}" | sort -n | sed -n 2p)"

dk 1 service rm dockguard-courier >/dev/null 2>&1
echo "e2e-swarm: $PASS passed, $FAIL failed"
((FAIL == 0))
