#!/bin/bash
# The fleet (docs/fleet.md) on a one-node swarm of a private Docker engine
# with userns-remap: `fleet keygen`, `fleet image`, `fleet push` through the
# swarm's configs and the global courier service, the node's daemon
# verifying and enforcing the bundle (its connects judged by it), `fleet
# status`, and the refusals: a bundle signed by another key, an older
# serial replayed, the daemon restarted enforcing its last good bundle
# before anything else.
#
#   tests/e2e/fleet.sh [BUILD_DIR]      ends with `e2e-fleet: N passed, N failed`
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build=$root/$build
DG=$build/dockguard
PROBE=$build/dg-probe
source "$here/lib.sh"
source "$root/tests/kernel/lib.sh"	# pass, fail, check, expect

if ! e2e_skip_unless_possible; then
	echo "e2e-fleet: 0 passed, 0 failed"
	exit 0
fi

T=$(mktemp -d /tmp/dge2e-fleet.XXXXXX)
chmod 755 "$T"
BPFFS=$T/bpffs/dg
RUN=$T/run
STATE=$T/state
DGPID=
made_docker_cg=0
cleanup() {
	[[ -n $DGPID ]] && kill "$DGPID" 2>/dev/null && wait "$DGPID" 2>/dev/null
	[[ -d $T/bpffs ]] && "$DG" --bpffs "$BPFFS" unload >/dev/null 2>&1
	umount "$T/bpffs" 2>/dev/null
	e2e_cleanup
	rmdir "$CGD/dg-fleet" 2>/dev/null
	((made_docker_cg)) && rmdir "$CGD" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

e2e_start_dockerd || { fail "private dockerd starts"; echo "e2e-fleet: $PASS passed, $FAIL failed"; exit 1; }
CGD=$E2E_CGROOT/docker
[[ -d $CGD ]] || { mkdir "$CGD" && made_docker_cg=1; }
mkdir -p "$CGD/dg-fleet" "$T/bpffs" "$T/keys" "$T/other"
mount -t bpf bpf "$T/bpffs"
export DOCKER_HOST=unix://$E2E_SOCK	# what fleet push, image and status talk to
P=24613

dgd() {	# the node's daemon, on the local policy (settings only)
	"$DG" --bpffs "$BPFFS" --cgroup "$CGD" --run-dir "$RUN" --state-dir "$STATE" run \
		"$T/local.conf" >>"$T/daemon.log" 2>&1 &
	DGPID=$!
	for _ in $(seq 100); do [[ -S $RUN/control.sock ]] && break; sleep 0.1; done
}
fleet_json() { "$DG" --bpffs "$BPFFS" --run-dir "$RUN" status --json 2>/dev/null |
	python3 -c 'import json, sys; f = json.load(sys.stdin).get("fleet") or {}; print(f.get("serial", 0), f.get("state", "-"))'; }
wait_serial() {	# wait_serial N: until the daemon enforces serial N (60 s); the seconds it took
	local t0=$SECONDS
	for _ in $(seq 600); do
		[[ $(fleet_json) == "$1 enforcing" ]] && { echo $((SECONDS - t0)); return 0; }
		sleep 0.1
	done
	return 1
}

out=$("$DG" fleet keygen --out "$T/keys")
check "fleet keygen writes a key pair" test -s "$T/keys/fleet.key" -a -s "$T/keys/fleet.pub"
check "... the private key 0600" test "$(stat -c %a "$T/keys/fleet.key")" = 600
"$DG" fleet keygen --out "$T/other" >/dev/null
cat >"$T/local.conf" <<CONF
set fleet-key $T/keys/fleet.pub
set docker-host unix://$E2E_SOCK
CONF
# g1 refuses uid 1002 in dg-fleet; g2 lets it through
cat >"$T/g1.conf" <<CONF
endpoint fleet-api tcp 127.0.0.1:$P
allow fleet-api from user 1001
CONF
cat >"$T/g2.conf" <<CONF
endpoint fleet-api tcp 127.0.0.1:$P
allow fleet-api from user 1001
allow fleet-api from user 1002
CONF

out=$("$DG" fleet image 2>&1)
check "fleet image loads the courier image" grep -q "^loaded dockguard-courier:" <<<"$out"
id1=$(e2e_docker image inspect -f '{{.Id}}' dockguard-courier:"$("$DG" version | awk 'NR==1 { print $2 }')" 2>/dev/null)
e2e_docker rmi -f "$id1" >/dev/null 2>&1
"$DG" fleet image >/dev/null 2>&1
id2=$(e2e_docker image inspect -f '{{.Id}}' dockguard-courier:"$("$DG" version | awk 'NR==1 { print $2 }')" 2>/dev/null)
check "... the same image id each time (every node names it alike: $id1)" test -n "$id1" -a "$id1" = "$id2"

if ! e2e_swarm_init; then
	fail "docker swarm init on the private engine"
	echo "e2e-fleet: $PASS passed, $FAIL failed"
	exit 1
fi
dgd
check "the node's daemon runs in fleet mode (no bundle yet: $(fleet_json))" test "$(fleet_json)" = "0 none"

out=$("$DG" fleet push --key "$T/keys/fleet.key" --dry-run "$T/g1.conf" 2>&1)
check "fleet push --dry-run signs and says so, pushes nothing" \
	bash -c "grep -q '^would push dockguard-policy-s1' <<<'$out' && ! docker -H unix://$E2E_SOCK config ls -q | grep -q ."
t0=$(date +%s%N)
out=$("$DG" fleet push --key "$T/keys/fleet.key" "$T/g1.conf" 2>&1)
check "fleet push g1: serial 1 stored and rolled out" grep -q "^pushed serial 1 " <<<"$out"
secs=$(wait_serial 1)
check "the node enforces serial 1 (push to enforced: $(( ($(date +%s%N) - t0) / 1000000 )) ms)" test -n "$secs"
expect "g1 in force: uid 1002 is refused" EPERM --cgroup "$CGD/dg-fleet" --uid 1002 connect tcp 127.0.0.1 "$P"
expect "g1 in force: uid 1001 passes the hooks" '!EPERM' --cgroup "$CGD/dg-fleet" --uid 1001 connect tcp 127.0.0.1 "$P"
for _ in $(seq 150); do "$DG" fleet status >"$T/status.out" 2>&1 && break; sleep 0.2; done
if grep -qE "^[^ ]+ +manager +1 +[0-9]+ +enforcing$" "$T/status.out"; then
	pass "fleet status: exit 0, the node enforcing serial 1"
else
	fail "fleet status: exit 0, the node enforcing serial 1"
	sed 's/^/     /' "$T/status.out"
	docker -H "unix://$E2E_SOCK" service ps --no-trunc dockguard-courier 2>&1 | sed 's/^/     /'
	for c in $(docker -H "unix://$E2E_SOCK" ps -aq --filter label=com.docker.swarm.service.name=dockguard-courier); do
		docker -H "unix://$E2E_SOCK" inspect -f '{{json .State.Health}}' "$c" | cut -c1-600 | sed 's/^/     /'
		docker -H "unix://$E2E_SOCK" logs "$c" 2>&1 | tail -n 3 | sed 's/^/     /'
	done
	grep fleet "$T/daemon.log" | tail -n 5 | sed 's/^/     /'
fi
check "docker service ps: the courier task is running (healthy)" \
	bash -c "docker -H unix://$E2E_SOCK service ps dockguard-courier --format '{{.CurrentState}}' | grep -q '^Running'"

# a bundle signed by a key the node does not pin: refused, g1 stays
out=$("$DG" fleet push --key "$T/other/fleet.key" "$T/g2.conf" 2>&1)
check "fleet push with another key: serial 2 stored" grep -q "^pushed serial 2 " <<<"$out"
for _ in $(seq 300); do [[ $(fleet_json) == "1 rejected" ]] && break; sleep 0.1; done
check "the node rejects it, serial 1 stays in force" test "$(fleet_json)" = "1 rejected"
check "... the daemon says why" grep -q "rejected: signed by a key this node does not pin" "$T/daemon.log"
expect "g1 still in force: uid 1002 still refused" EPERM --cgroup "$CGD/dg-fleet" --uid 1002 connect tcp 127.0.0.1 "$P"
for _ in $(seq 150); do "$DG" fleet status >"$T/status.out" 2>&1; grep -q "rejected:" "$T/status.out" && break; sleep 0.2; done
"$DG" fleet status >"$T/status.out" 2>&1
st=$?
check "fleet status: exit 1, the node shows the rejection and its reason" \
	bash -c "test $st = 1 && grep -q 'rejected: signed by a key this node does not pin' '$T/status.out'" ||
	sed 's/^/     /' "$T/status.out"

# g2 signed by the pinned key: serial 3, enforced
out=$("$DG" fleet push --key "$T/keys/fleet.key" "$T/g2.conf" 2>&1)
check "fleet push g2: serial 3" grep -q "^pushed serial 3 " <<<"$out"
check "the node enforces serial 3" bash -c "$(declare -f fleet_json wait_serial); DG=$DG BPFFS=$BPFFS RUN=$RUN wait_serial 3 >/dev/null"
expect "g2 in force: uid 1002 passes the hooks now" '!EPERM' --cgroup "$CGD/dg-fleet" --uid 1002 connect tcp 127.0.0.1 "$P"

# an older serial replayed (serial 1's config put back on the service)
docker -H "unix://$E2E_SOCK" service update --detach --config-rm dockguard-policy-s3 \
	--config-add source=dockguard-policy-s1,target=/dockguard-bundle,mode=0444 dockguard-courier \
	>"$T/replay.out" 2>&1
for _ in $(seq 300); do grep -q "rejected: not newer" "$T/daemon.log" && break; sleep 0.1; done
check "an older bundle put back is rejected (not newer)" grep -q "rejected: not newer than the bundle in force" "$T/daemon.log"
check "... serial 3 stays in force" test "$(fleet_json)" = "3 rejected"
expect "g2 still in force" '!EPERM' --cgroup "$CGD/dg-fleet" --uid 1002 connect tcp 127.0.0.1 "$P"

# bundles signed by the pinned key, but for another swarm, or whose policy
# does not compile (tests/tools/dg-sign-bundle signs any text)
swap_bundle() {	# swap_bundle NAME FILE: the courier's bundle replaced by config NAME
	local cur
	cur=$(docker -H "unix://$E2E_SOCK" service inspect -f \
		'{{range .Spec.TaskTemplate.ContainerSpec.Configs}}{{.ConfigName}}{{end}}' dockguard-courier)
	docker -H "unix://$E2E_SOCK" config create "$1" "$2" >/dev/null &&
		docker -H "unix://$E2E_SOCK" service update --detach --config-rm "$cur" \
			--config-add "source=$1,target=/dockguard-bundle,mode=0444" dockguard-courier >/dev/null 2>&1
}
cluster=$(docker -H "unix://$E2E_SOCK" info -f '{{.Swarm.Cluster.ID}}')
"$build/dg-sign-bundle" "$T/keys/fleet.key" not-this-swarm 40 "$T/g1.conf" >"$T/other-swarm.bundle"
swap_bundle dockguard-policy-s40 "$T/other-swarm.bundle"
for _ in $(seq 300); do grep -q "rejected: made for another swarm" "$T/daemon.log" && break; sleep 0.1; done
check "a bundle for another swarm (its cluster id) is rejected" \
	grep -q "rejected: made for another swarm" "$T/daemon.log"
echo "this is not a policy" >"$T/bad.conf"
"$build/dg-sign-bundle" "$T/keys/fleet.key" "$cluster" 41 "$T/bad.conf" >"$T/bad.bundle"
swap_bundle dockguard-policy-s41 "$T/bad.bundle"
for _ in $(seq 300); do grep -q "rejected: its policy does not compile here" "$T/daemon.log" && break; sleep 0.1; done
check "a bundle whose policy does not compile is rejected, with the reason" \
	grep -q "rejected: its policy does not compile here" "$T/daemon.log"
check "... serial 3 stays in force" test "$(fleet_json)" = "3 rejected"
expect "... and enforced: uid 1002 still passes (g2)" '!EPERM' --cgroup "$CGD/dg-fleet" --uid 1002 connect tcp 127.0.0.1 "$P"

# a healthcheck replaced by whoever may update services: the reports mean nothing
docker -H "unix://$E2E_SOCK" service update --detach --health-cmd /bin/true dockguard-courier \
	>/dev/null 2>&1
"$DG" fleet status >"$T/status.out" 2>&1
st=$?
check "fleet status: a courier whose healthcheck was changed shows tampered (exit 1)" \
	bash -c "test $st = 1 && grep -q 'tampered: the courier.s healthcheck was changed' '$T/status.out'"

# the daemon restarts: it enforces its last good bundle from its start
kill "$DGPID"
wait "$DGPID" 2>/dev/null
DGPID=
: >"$T/daemon.log"
dgd
check "a restarted daemon enforces the last good bundle at once (serial 3)" \
	grep -q "fleet: enforcing the last good bundle" "$T/daemon.log"
check "... its policy is the bundle's" grep -q "policy-s3.conf" "$T/daemon.log"

docker -H "unix://$E2E_SOCK" service rm dockguard-courier >/dev/null 2>&1
e2e_swarm_leave
echo "e2e-fleet: $PASS passed, $FAIL failed"
((FAIL == 0))
