#!/bin/bash
# End-to-end: dockguard against a real Docker engine running with
# userns-remap (a private dockerd: own roots, socket, bridge), containers
# allowed by name, label, image and swarm service, the docker CLI as a
# client, a bind-mounted socket, the first-connect race, and the API going
# away and coming back. Hooks attach at the engine's /docker cgroup (the
# parent of its containers), never at the root.
#
#   tests/e2e/run.sh [BUILD_DIR]        ends with `e2e: N passed, N failed`
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build=$root/$build
DG=$build/dockguard
PROBE=$build/dg-probe
source "$here/lib.sh"

PASS=0
FAIL=0
pass() { PASS=$((PASS + 1)); echo "ok   $*"; }
fail() { FAIL=$((FAIL + 1)); echo "FAIL $*"; }
check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }

if ! e2e_skip_unless_possible; then
	echo "e2e: 0 passed, 0 failed"
	exit 0
fi

P=$((22000 + RANDOM % 8000))	# the protected listener on the bridge gateway
DP=$((P + 1))			# the private dockerd's own TCP listener
export E2E_TCP_HOST=127.0.0.1:$DP
T=$(mktemp -d /tmp/dge2e-dg.XXXXXX)
chmod 755 "$T"
BPFFS=$T/bpffs/dg
RUN=$T/run
# containers start through dockguard-runc, which waits for their identity
export E2E_DAEMON_EXTRA="\"runtimes\": {\"dockguard\": {\"path\": \"$build/dockguard-runc\", \"runtimeArgs\": [\"--dockguard-control=$RUN/control.sock\"]}}, \"default-runtime\": \"dockguard\","

DGPIDS=()
made_docker_cg=0

cleanup() {
	local p
	for p in "${DGPIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${DGPIDS[@]}"; do wait "$p" 2>/dev/null; done
	[[ -d $T/bpffs ]] && "$DG" --bpffs "$BPFFS" unload >/dev/null 2>&1
	umount "$T/bpffs" 2>/dev/null
	cp "$T/daemon.log" /tmp/dockguard-e2e-daemon.log 2>/dev/null	# for a look after a failure
	e2e_cleanup
	rmdir "$CGD/dg-cli-allowed" "$CGD/dg-cli-denied" 2>/dev/null
	find "$CGD/${TRUSTED:-none}" "$CGD/${UNIT:-none}" "$CGD/system.slice" -depth -type d \
		-exec rmdir {} \; 2>/dev/null
	((made_docker_cg)) && rmdir "$CGD" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

t_begin=$(now_ms)
e2e_start_dockerd || { fail "private dockerd starts"; echo "e2e: $PASS passed, $FAIL failed"; exit 1; }
e2e_image "$build" || { fail "test image"; echo "e2e: $PASS passed, $FAIL failed"; exit 1; }
e2e_docker tag "$E2E_IMAGE" dgtest-allowed:v1
pass "private dockerd with userns-remap and the test image"

# the attach point: the engine's container parent, below the cgroup v2 root
CGD=$E2E_CGROOT/docker
[[ -d $CGD ]] || { mkdir "$CGD" && made_docker_cg=1; }
mkdir -p "$CGD/dg-cli-allowed" "$CGD/dg-cli-denied" "$T/sock" "$T/bpffs"
mount -t bpf bpf "$T/bpffs"
e2e_listen "$PROBE" "$E2E_GW" "$P" || fail "listener on $E2E_GW:$P"
"$PROBE" listen unix "$T/sock/e2e.sock" >/dev/null 2>&1 &
DGPIDS+=($!)
sleep 0.3
chmod 777 "$T/sock/e2e.sock"

# forged identities (the held-out review): a cgroup parent and a directory
# named like a unit that the API user chooses, next to a unit systemd made
TRUSTED=trusted-$$
UNIT=dgnginx-$$.service
mkdir -p "$CGD/$TRUSTED" "$CGD/system.slice"
python3 -c 'import os, sys; os.makedirs(sys.argv[1], exist_ok=True); os.setxattr(sys.argv[1], "trusted.invocation_id", os.urandom(16))' \
	"$CGD/system.slice/$UNIT"
mkdir -p "$T/other"
"$PROBE" listen unix "$T/other/innocent-$$.sock" >/dev/null 2>&1 &
DGPIDS+=($!)
for _ in $(seq 50); do [[ -S $T/other/innocent-$$.sock ]] && break; sleep 0.1; done
chmod 777 "$T/other/innocent-$$.sock"

cat >"$T/e2e.conf" <<CONF
endpoint api tcp $E2E_GW:$P
endpoint dapi tcp 127.0.0.1:$DP
endpoint sock unix $T/sock/e2e.sock
set docker-host unix://$E2E_SOCK
set log-rate 1000/s
allow api from container name allowed-*
allow api from container label dgtest.role=api
allow api from container image dgtest-allowed*
audit api from container service web
allow sock from container name sockuser
allow dapi from cgroup /docker/dg-cli-allowed
allow api from cgroup /docker/$TRUSTED
allow api from unit $UNIT
deny { api, dapi, sock } from remapped
deny { api, dapi, sock } from container name *
CONF

export DOCKGUARD_DOCKER_DAEMON_JSON=$E2E_DAEMON_JSON	# the private engine's remap
dgc() { "$DG" --bpffs "$BPFFS" --cgroup "$CGD" --run-dir "$RUN" "$@"; }
# not through dgc: $! must be dockguard's own pid, to stop it
"$DG" --bpffs "$BPFFS" --cgroup "$CGD" --run-dir "$RUN" run "$T/e2e.conf" 2>"$T/daemon.log" &
DGPIDS+=($!)
for _ in $(seq 100); do [[ -S $RUN/control.sock ]] && break; sleep 0.1; done
# the control socket comes first, the engine's event stream a moment later
for _ in $(seq 100); do
	"$DG" --bpffs "$BPFFS" --run-dir "$RUN" status 2>/dev/null | grep -q '^docker: *following' && break
	sleep 0.1
done
check "dockguard daemon runs and follows the engine" bash -c "'$DG' --bpffs '$BPFFS' --run-dir '$RUN' status | grep -q '^docker: *following'"
"$DG" --bpffs "$BPFFS" --run-dir "$RUN" tail --json >"$T/tail.json" 2>/dev/null &
DGPIDS+=($!)

# run NAME [docker run options...] IMAGE -- PROBE-ARGS: a container's
# dg-probe verdict. The probe waits half a second: identity tests should not
# depend on the first-connect race, which is measured on its own below.
run() {
	local name=$1 opts=()
	shift
	while [[ $1 != -- ]]; do
		opts+=("$1")
		shift
	done
	shift
	e2e_docker run --rm --name "$name" "${opts[@]}" /bin/sh -c "sleep 0.5; exec /bin/dg-probe $*" 2>&1 | tail -n 1
}
expect_run() {
	local what=$1 want=$2
	shift 2
	local out
	out=$(run "$@")
	if [[ $out == "$want" ]]; then pass "$what"; else fail "$what: want $want, got '$out'"; fi
}

GW=$E2E_GW
expect_run "container allowed by name (allowed-*)" ok allowed-1 "$E2E_IMAGE" -- connect tcp "$GW" "$P"
expect_run "container allowed by label" ok lab-1 --label dgtest.role=api "$E2E_IMAGE" -- connect tcp "$GW" "$P"
expect_run "container allowed by image" ok img-1 dgtest-allowed:v1 -- connect tcp "$GW" "$P"
expect_run "other container denied" EPERM other-1 "$E2E_IMAGE" -- connect tcp "$GW" "$P"
sleep 0.5
ev=$(grep '"name":"other-1"' "$T/tail.json" | head -n 1)
check "the denial's event names the container" grep -q '"verdict":"deny"' <<<"$ev"
check "... with its host uid 100000-range and remap.uid 0" \
	grep -qE "\"uid\":$E2E_REMAP_UID,.*\"remap\":\{\"user\":\"dockremap\",\"uid\":0\}" <<<"$ev"
check "... its image and cgroup" grep -qE '"cgroup":"/docker/[0-9a-f]{64}",.*"image":"dgtest:latest"' <<<"$ev"
check "the daemon's log line names the container" grep -q "container other-1 (" "$T/daemon.log"

# the real docker CLI as a client of the TCP API
cli_in() {	# cli_in CGROUP: docker version over TCP from that cgroup
	bash -c "echo \$\$ >'$1/cgroup.procs' && exec '$E2E_DOCKER' -H tcp://127.0.0.1:$DP version -f '{{.Server.Version}}'" 2>&1
}
out=$(cli_in "$CGD/dg-cli-allowed")
check "docker CLI over tcp://127.0.0.1:$DP from an allowed cgroup" grep -qE '^[0-9]+\.[0-9]+' <<<"$out"
out=$(cli_in "$CGD/dg-cli-denied")
check "docker CLI from a denied cgroup is refused" grep -qi "permission denied\|operation not permitted" <<<"$out"

# a socket bind-mounted into --userns=host containers
expect_run "bind-mounted socket: the allowed container connects" ok sockuser --userns=host \
	-v "$T/sock/e2e.sock:/var/run/other.sock" "$E2E_IMAGE" -- connect unix /var/run/other.sock
expect_run "bind-mounted socket: another container is refused" EPERM sockother --userns=host \
	-v "$T/sock/e2e.sock:/var/run/other.sock" "$E2E_IMAGE" -- connect unix /var/run/other.sock

# ---- identities an image author or an API user can forge -----------------
# 1, 2: labels from the image are not labels given at create
e2e_docker create --name dg-lbl-src "$E2E_IMAGE" >/dev/null 2>&1
e2e_docker commit --change 'LABEL dgtest.role=api' dg-lbl-src dgtest-lbl:v1 >/dev/null 2>&1
e2e_docker commit --change 'LABEL com.docker.swarm.service.name=web' \
	--change 'LABEL com.docker.swarm.task.id=forged' dg-lbl-src dgtest-svc:v1 >/dev/null 2>&1
e2e_docker rm dg-lbl-src >/dev/null 2>&1
expect_run "forged: an image's LABEL dgtest.role=api does not satisfy 'container label dgtest.role=api'" \
	EPERM lbl-forged dgtest-lbl:v1 -- connect tcp "$GW" "$P"
expect_run "legitimate: a label given at create (--label) is allowed" \
	ok lbl-legit --label dgtest.role=api "$E2E_IMAGE" -- connect tcp "$GW" "$P"
expect_run "forged: an image's swarm labels do not make a plain container a task of service web" \
	EPERM svc-forged dgtest-svc:v1 -- connect tcp "$GW" "$P"
# 3: --cgroup-parent under a trusted cgroup
expect_run "forged: --cgroup-parent /docker/$TRUSTED does not satisfy 'cgroup /docker/$TRUSTED'" \
	EPERM cgp-forged --cgroup-parent "/docker/$TRUSTED" "$E2E_IMAGE" -- connect tcp "$GW" "$P"
check "legitimate: a host process in /docker/$TRUSTED is allowed" \
	test "$("$PROBE" --cgroup "$CGD/$TRUSTED" --uid 1002 connect tcp "$GW" "$P" 2>&1 | head -n 1)" = ok
# 4: a directory named like a unit that dockerd made
expect_run "forged: --cgroup-parent /docker/$UNIT does not satisfy 'unit $UNIT'" \
	EPERM unit-forged --cgroup-parent "/docker/$UNIT" "$E2E_IMAGE" -- connect tcp "$GW" "$P"
check "legitimate: a process in the unit systemd made (/docker/system.slice/$UNIT) is allowed" \
	test "$("$PROBE" --cgroup "$CGD/system.slice/$UNIT" --uid 1002 connect tcp "$GW" "$P" 2>&1 | head -n 1)" = ok
# 5: a bind-mount name is the mounting container's, not the host's (while
# the container runs: its mounts are in the policy only as long as it exists)
if e2e_docker run -d --name "mounter-$$" --userns=host -v "$T/sock/e2e.sock:/x/innocent-$$.sock" \
	"$E2E_IMAGE" sleep 60 >/dev/null 2>&1; then
	out=$(e2e_docker exec "mounter-$$" /bin/dg-probe connect unix "/x/innocent-$$.sock" 2>&1 | tail -n 1)
	check "mounted: the container that mounts the socket as innocent-$$.sock is judged there (refused: $out)" \
		test "$out" = EPERM
	out=$("$PROBE" --cgroup "$CGD/dg-cli-denied" --uid 1002 connect unix "$T/other/innocent-$$.sock" 2>&1 | head -n 1)
	check "not forged: meanwhile an unrelated host socket named innocent-$$.sock is not judged ($out)" \
		test "$out" = ok
	e2e_docker rm -f "mounter-$$" >/dev/null 2>&1
else
	fail "mounted: a container with the socket bind-mounted starts"
fi

# the first-connect race: 100 containers started back to back, each
# connecting the instant it starts. Through dockguard-runc (the engine's
# default runtime here) no container may lose; with plain runc the create
# event can arrive after the first connect, which is only measured.
race() {	# race RUNTIME: prints "allowed refused errors ms"
	local ok=0 bad=0 other=0 out t0 i
	t0=$(now_ms)
	for i in $(seq 1 100); do
		out=$(e2e_docker run --rm --runtime "$1" --name "allowed-race-$1-$i" "$E2E_IMAGE" \
			/bin/dg-probe connect tcp "$GW" "$P" 2>&1 | tail -n 1)
		case $out in
		ok) ok=$((ok + 1)) ;;
		EPERM) bad=$((bad + 1)) ;;
		*)	# docker itself failed: not a verdict
			other=$((other + 1))
			echo "     allowed-race-$1-$i: $out" >&2 ;;
		esac
	done
	echo "$ok $bad $other $(($(now_ms) - t0))"
}
read -r ok bad other ms < <(race dockguard)
echo "     first-connect race through dockguard-runc: $ok allowed, $bad refused, $other docker errors ($ms ms)"
check "first-connect race (dockguard-runc): 100 starts, 0 false denials" test "$bad" -eq 0
check "first-connect race (dockguard-runc): at least 95 containers ran" test "$ok" -ge 95
check "the engine's default runtime is dockguard-runc" \
	test "$(e2e_docker info -f '{{.DefaultRuntime}}')" = dockguard
prepared=$("$DG" --bpffs "$BPFFS" --run-dir "$RUN" status --json | grep -o '"prepared":[0-9]*' | cut -d: -f2)
check "dockguard-runc waited for the daemon's confirmation ($prepared containers)" test "${prepared:-0}" -ge 100
read -r ok bad other ms < <(race runc)
echo "     first-connect race with plain runc (measured only): $ok allowed, $bad refused, $other docker errors ($ms ms)"

# container start -> identity in force: docker create, then the policy swap
gen() { "$DG" --bpffs "$BPFFS" status --json | grep -o '"generation":[0-9]*' | cut -d: -f2; }
g0=$(gen)
t0=$(now_ms)
e2e_docker create --name allowed-timed "$E2E_IMAGE" /bin/true >/dev/null
for _ in $(seq 200); do [[ $(gen) != "$g0" ]] && break; sleep 0.01; done
t1=$(now_ms)
echo "     docker create -> new policy generation in force: $((t1 - t0)) ms (includes the CLI round trip)"
check "a created container's identity is in force before it starts" test "$(gen)" != "$g0"
e2e_docker rm allowed-timed >/dev/null 2>&1

# swarm: a real service, allowed (and audited) by its service name
if e2e_swarm_init; then
	service() {	# service NAME: created, retried while the new swarm settles
		local i
		for i in 1 2 3 4 5; do
			# the task connects at once: swarm starts it within
			# milliseconds of creating it, and dockguard-runc holds
			# it until its identity is in force
			e2e_docker service create --detach --no-resolve-image --name "$1" \
				--restart-condition none "$E2E_IMAGE" \
				/bin/dg-probe connect tcp "$GW" "$P" >>"$T/service.log" 2>&1 && return 0
			sleep 1
		done
		return 1
	}
	service web || fail "docker service create web: $(tail -n 1 "$T/service.log")"
	service web2 || fail "docker service create web2: $(tail -n 1 "$T/service.log")"
	seen=0
	for _ in $(seq 150); do
		grep -q '"service":"web"' "$T/tail.json" && grep -q '"service":"web2"' "$T/tail.json" && { seen=1; break; }
		sleep 0.2
	done
	if grep -qE '"verdict":"audit".*"service":"web"' "$T/tail.json"; then
		pass "swarm service web: allowed and audited by service name"
	else
		fail "swarm service web: allowed and audited by service name"
		e2e_docker service ps web --no-trunc --format '     {{.Name}} {{.CurrentState}} {{.Error}}' 2>&1
		grep '"service":"web' "$T/tail.json" | cut -c1-300
	fi
	check "swarm service web2: refused, the event names the service" \
		grep -qE '"verdict":"deny".*"service":"web2"' "$T/tail.json"
	e2e_docker service rm web web2 >/dev/null 2>&1
	e2e_swarm_leave
else
	fail "docker swarm init on the private engine"
fi

# the Docker API goes away and comes back
if e2e_restart_dockerd; then
	up=0
	for _ in $(seq 100); do
		if "$DG" --bpffs "$BPFFS" --run-dir "$RUN" status | grep -q '^docker: *following'; then up=1; break; fi
		sleep 0.2
	done
	check "after the engine restarts, the daemon follows it again" test $up -eq 1
	grep -q "lost the Docker API" "$T/daemon.log" && pass "the daemon logged the loss of the API" || fail "the daemon logged the loss of the API"
	expect_run "after the restart: a new allowed container connects" ok allowed-after "$E2E_IMAGE" -- connect tcp "$GW" "$P"
	expect_run "after the restart: other containers are still refused" EPERM other-after "$E2E_IMAGE" -- connect tcp "$GW" "$P"
else
	fail "the private dockerd restarts"
fi

echo "e2e: $PASS passed, $FAIL failed ($(( ($(now_ms) - t_begin) / 1000 )) s)"
((FAIL == 0))
