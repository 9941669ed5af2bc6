#!/bin/bash
# The API relay against a real Docker engine (userns-remap, a private
# dockerd logging every API call it serves): the docker CLI and Debian's
# python3-docker, from host cgroups that the policy gives the read-only
# profile, the full API, or nothing. Every refusal is asserted twice: what
# the client shows, and that dockerd never received the request.
#
#   tests/e2e/relay.sh [BUILD_DIR]      ends with `e2e-relay: N passed, N failed`
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build=$root/$build
DG=$build/dockguard
PROBE=$build/dg-probe
source "$here/lib.sh"
source "$root/tests/kernel/lib.sh"	# pass, fail, check

if ! e2e_skip_unless_possible; then
	echo "e2e-relay: 0 passed, 0 failed"
	exit 0
fi

T=$(mktemp -d /tmp/dge2e-relay.XXXXXX)
chmod 755 "$T"
BPFFS=$T/bpffs/dg
RUN=$T/run
RELAY=$T/relay/docker.sock
DGPIDS=()
made_docker_cg=0
cleanup() {
	local p
	for p in "${DGPIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${DGPIDS[@]}"; do wait "$p" 2>/dev/null; done
	[[ -d $T/bpffs ]] && "$DG" --bpffs "$BPFFS" unload >/dev/null 2>&1
	umount "$T/bpffs" 2>/dev/null
	e2e_cleanup
	for cg in ro full none ci own traefik tena tenb swv; do rmdir "$CGD/dg-relay-$cg" 2>/dev/null; done
	((made_docker_cg)) && rmdir "$CGD" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

export E2E_LOG_LEVEL=debug	# dockerd logs "Calling METHOD /path" for each call
e2e_start_dockerd || { fail "private dockerd starts"; echo "e2e-relay: $PASS passed, $FAIL failed"; exit 1; }
e2e_image "$build" || { fail "test image"; echo "e2e-relay: $PASS passed, $FAIL failed"; exit 1; }
DLOG=$E2E_TMP/dockerd.log
CGD=$E2E_CGROOT/docker
[[ -d $CGD ]] || { mkdir "$CGD" && made_docker_cg=1; }
mkdir -p "$CGD/dg-relay-ro" "$CGD/dg-relay-full" "$CGD/dg-relay-none" "$CGD/dg-relay-traefik" "$CGD/dg-relay-ci" "$CGD/dg-relay-own" "$CGD/dg-relay-tena" "$CGD/dg-relay-tenb" "$CGD/dg-relay-swv" "$T/bpffs" "$T/relay"
chmod 755 "$T/relay"
mount -t bpf bpf "$T/bpffs"

GW=${E2E_GW_CIDR%/*}	# the bridge's gateway: containers reach the relay there too
GWPORT=23750
cat >"$T/relay.conf" <<CONF
relay r {
    listen unix $RELAY
    listen tcp $GW:$GWPORT
    upstream unix $E2E_SOCK
}
set docker-host unix://$E2E_SOCK
allow r from cgroup /docker/dg-relay-ro api read-only
allow r from cgroup /docker/dg-relay-full api full
allow r from cgroup /docker/dg-relay-traefik api traefik
allow r from cgroup /docker/dg-relay-ci api ci
api ci-own extends ci {
    own
}
allow r from cgroup /docker/dg-relay-own api ci-own
api tenant extends ci {
    allow GET /system/df
    visible own
    visible name shared-*
    redact env
}
allow r from cgroup /docker/dg-relay-tena api tenant
allow r from cgroup /docker/dg-relay-tenb api tenant
api swarm-viewer extends read-only {
    allow GET /swarm
    visible name relay-shown-*
    redact env join-tokens
}
allow r from cgroup /docker/dg-relay-swv api swarm-viewer
allow r from container name relay-ro-* api read-only
allow r from container service relay-traefik api traefik
CONF
export DOCKGUARD_DOCKER_DAEMON_JSON=$E2E_DAEMON_JSON
"$DG" --bpffs "$BPFFS" --cgroup "$CGD" --run-dir "$RUN" run "$T/relay.conf" 2>"$T/daemon.log" &
DGPIDS+=($!)
for _ in $(seq 100); do [[ -S $RELAY ]] && break; sleep 0.1; done
check "the daemon serves the relay" test -S "$RELAY"

# in CG COMMAND...: runs COMMAND as uid 1001 in cgroup /docker/dg-relay-CG
in_cg() {
	local cg=$1
	shift
	bash -c 'echo $$ >"$0/cgroup.procs" && exec setpriv --reuid 1001 --regid 1001 --clear-groups "$@"' \
		"$CGD/dg-relay-$cg" "$@"
}
dk() { local cg=$1; shift; in_cg "$cg" env HOME="$T" "$E2E_DOCKER" -H "unix://$RELAY" "$@" 2>&1; }
calls() { grep -c "Calling $1" "$DLOG"; }

out=$(dk ro ps -a)
check "docker ps through the relay (read-only)" grep -q "CONTAINER ID" <<<"$out"
check "... dockerd served it" grep -q "Calling GET /v1.41/containers/json" "$DLOG"
out=$(dk ro image ls)
check "docker image ls (read-only)" grep -q "dgtest" <<<"$out"

creates=$(calls "POST /v1.41/containers/create")
out=$(dk ro run --rm "$E2E_IMAGE" /bin/true)
check "docker run (read-only): the client shows the relay's 403 message" \
	grep -qF "dockguard: POST /containers/create is not allowed for uid 1001" <<<"$out"
check "... dockerd never received the create" test "$(calls "POST /v1.41/containers/create")" = "$creates"

out=$(in_cg ro /usr/bin/python3 - "$RELAY" <<'PY'
import sys, docker
c = docker.DockerClient(base_url="unix://" + sys.argv[1])
print("listed", len(c.containers.list(all=True)))
try:
    c.volumes.create(name="dg-relay-vol")
    print("created")
except docker.errors.APIError as e:
    print("refused", e.response.status_code, e.explanation)
PY
)
check "python3-docker (read-only): lists" grep -q "^listed " <<<"$out"
check "python3-docker (read-only): a volume create is refused with 403 and the message" \
	grep -qF "refused 403 dockguard: POST /volumes/create is not allowed" <<<"$out"
check "... dockerd never received it" bash -c "! grep -q 'Calling POST /v1.41/volumes/create' '$DLOG'"

# the built-in traefik profile: the docker provider's calls, made by
# python3-docker; the swarm provider's reach dockerd (which is no manager)
e2e_docker create --name relay-traefik-sees-me "$E2E_IMAGE" /bin/true >/dev/null 2>&1
out=$(in_cg traefik /usr/bin/python3 - "$RELAY" <<'PY'
import sys, time, docker
c = docker.APIClient(base_url="unix://" + sys.argv[1], version="1.24")
print("version", c.version()["ApiVersion"])
listed = c.containers(all=True)
print("inspected", sum(1 for x in listed if c.inspect_container(x["Id"])["Id"] == x["Id"]), "of", len(listed))
now = int(time.time())
print("events", type(list(c.events(since=now - 1, until=now, filters={"type": "container"}, decode=True))).__name__)
for call in (c.services, c.tasks, lambda: c.create_container("dgtest", "/bin/true")):
    try:
        call()
        print("ok")
    except docker.errors.APIError as e:
        print("status", e.response.status_code, e.explanation)
PY
)
check "traefik profile: version, list, inspect every container, events" \
	bash -c "grep -q '^version 1\.' <<<'$out' && grep -qE '^inspected ([1-9][0-9]*) of \1$' <<<'$out' && grep -q '^events list' <<<'$out'"
check "... services and tasks reach dockerd (its 503: not a swarm manager)" \
	test "$(grep -c '^status 503 .*swarm' <<<"$out")" = 2
check "... a container create is refused by the relay (403, profile traefik)" \
	grep -qE "^status 403 dockguard: POST /containers/create is not allowed for uid 1001 .*cgroup /docker/dg-relay-traefik.* \(default, profile traefik\)" <<<"$out"
e2e_docker rm -f relay-traefik-sees-me >/dev/null 2>&1

# the full profile: run with attach (an upgraded connection through the relay)
out=$(dk full run --rm "$E2E_IMAGE" /bin/echo hello-through-the-relay)
grep -q "hello-through-the-relay" <<<"$out" || sed "s/^/     /" <<<"$out" | head -n 5
check "docker run (full): the container's output came back through the attach pipe" \
	grep -q "hello-through-the-relay" <<<"$out"
check "... dockerd served create, attach and start" bash -c \
	"grep -q 'Calling POST /v1.41/containers/create' '$DLOG' && grep -q 'Calling POST /v1.41/containers/.*/attach' '$DLOG' && grep -q 'Calling POST /v1.41/containers/.*/start' '$DLOG'"

# the full profile with the CLI's other streams: exec (plain and with a
# terminal), cp both ways, logs -f until the container ends
dk full run -d --name relay-full-bg "$E2E_IMAGE" /bin/sleep 120 >/dev/null
out=$(dk full exec relay-full-bg /bin/echo exec-through-the-relay)
check "docker exec (full): the output came back" grep -q "exec-through-the-relay" <<<"$out"
out=$(in_cg full env HOME="$T" script -qec \
	"$E2E_DOCKER -H unix://$RELAY exec -it relay-full-bg /bin/sh -c 'echo tty-\$((20+22))'" /dev/null 2>&1)
check "docker exec -it (full): a terminal session through the relay" grep -q "tty-42" <<<"$out"
echo copied-in >"$T/cp-in"
chmod 644 "$T/cp-in"
dk full cp "$T/cp-in" relay-full-bg:/tmp/cp-in >/dev/null
out=$(dk full exec relay-full-bg /bin/cat /tmp/cp-in)
check "docker cp into a container (PUT archive) through the relay" grep -q "copied-in" <<<"$out"
rm -f "$T/cp-out"
mkdir -p "$T/cpdir" && chown 1001:1001 "$T/cpdir"
dk full cp relay-full-bg:/tmp/cp-in "$T/cpdir/cp-out" >/dev/null
check "docker cp out of a container (GET archive) through the relay" grep -q "copied-in" "$T/cpdir/cp-out"
dk full run -d --name relay-full-logs "$E2E_IMAGE" \
	/bin/sh -c 'for i in 1 2 3; do echo line-$i; sleep 0.3; done' >/dev/null
out=$(timeout 20 bash -c "$(declare -f in_cg); CGD='$CGD' in_cg full env HOME='$T' '$E2E_DOCKER' -H 'unix://$RELAY' logs -f relay-full-logs" 2>&1)
check "docker logs -f (full): every line, and the stream ends with the container" \
	bash -c "grep -q line-1 <<<'$out' && grep -q line-3 <<<'$out'"
check "... dockerd served exec start, both archives and the followed logs" bash -c \
	"grep -q 'Calling POST /v1.41/exec/.*/start' '$DLOG' && grep -q 'Calling PUT /v1.41/containers/relay-full-bg/archive' '$DLOG' && grep -q 'Calling HEAD /v1.41/containers/relay-full-bg/archive\|Calling GET /v1.41/containers/relay-full-bg/archive' '$DLOG' && grep -qE 'Calling GET /v1.41/containers/[0-9a-f]{64}/logs\\?follow=1' '$DLOG'"
e2e_docker rm -f relay-full-bg relay-full-logs >/dev/null 2>&1

# a remapped container with the relay socket bind-mounted as its docker.sock
# (what Traefik or a Portainer agent would do): named in the relay's answer
in_ct() {	# in_ct NAME REQUEST: the container's one request through the relay
	e2e_docker run --rm --name "$1" -v "$RELAY:/var/run/docker.sock" "$E2E_IMAGE" \
		/bin/sh -c "sleep 1; exec /bin/dg-probe --request '$2' http unix /var/run/docker.sock" 2>&1 |
		tail -n 1
}
out=$(in_ct relay-ro-list "GET /v1.41/containers/json")
check "a remapped container lists containers through the bind-mounted relay socket" grep -q "^http 200 \[" <<<"$out"
out=$(in_ct relay-ro-create "POST /v1.41/containers/create?name=made-through-the-relay")
check "... a create from it gets 403 naming the container" \
	grep -qF 'http 403 {"message":"dockguard: POST /containers/create is not allowed for container relay-ro-create (uid 100000)' <<<"$out"
check "... and dockerd never received it" bash -c "! grep -q 'Calling POST /v1.41/containers/create?name=made-through-the-relay' '$DLOG'"
out=$(in_ct other-ct "GET /v1.41/containers/json")
check "another container (no rule) cannot connect to the relay socket" grep -q "^EPERM" <<<"$out"

# containers come and go without a new relay process (it learns them in
# place), and what a caller holds open is judged again when they change: a
# stream of a container renamed out of its rule ends
e2e_docker run -d --name relay-ro-stream -v "$RELAY:/var/run/docker.sock" "$E2E_IMAGE" \
	/bin/sh -c "exec /bin/dg-probe --request 'GET /v1.41/events' http unix /var/run/docker.sock" >/dev/null 2>&1
sleep 2
check "a container's /events stream through the relay runs" \
	test "$(e2e_docker inspect -f '{{.State.Running}}' relay-ro-stream 2>/dev/null)" = true
e2e_docker rename relay-ro-stream renamed-stream >/dev/null 2>&1
for _ in $(seq 100); do
	[[ $(e2e_docker inspect -f '{{.State.Running}}' renamed-stream 2>/dev/null) == false ]] && break
	sleep 0.1
done
check "... renamed out of its rule (relay-ro-*): its stream is ended" \
	test "$(e2e_docker inspect -f '{{.State.Running}}' renamed-stream 2>/dev/null)" = false
check "... the event says why" grep -qF "for the containers there are now" "$T/daemon.log"
e2e_docker rm -f renamed-stream >/dev/null 2>&1
check "containers came and went: one relay process served throughout" \
	test "$(grep -c "serves the policy's relays" "$T/daemon.log")" = 1

# the same over the bridge's gateway (DOCKER_HOST=tcp://GATEWAY:PORT): the
# caller is named by its connect's record, not by its address
in_ct_gw() {	# in_ct_gw NAME REQUEST
	e2e_docker run --rm --name "$1" "$E2E_IMAGE" \
		/bin/sh -c "exec /bin/dg-probe --request '$2' http tcp $GW $GWPORT" 2>&1 | tail -n 1
}
out=$(in_ct_gw relay-ro-gw-list "GET /v1.41/containers/json")
check "a remapped container lists containers through the relay at the gateway ($GW:$GWPORT)" \
	grep -q "^http 200 \[" <<<"$out"
out=$(in_ct_gw relay-ro-gw-create "POST /v1.41/containers/create?name=made-over-the-gateway")
check "... a create from it gets 403 naming the container" \
	grep -qF 'http 403 {"message":"dockguard: POST /containers/create is not allowed for container relay-ro-gw-create (uid 100000)' <<<"$out"
check "... and dockerd never received it" bash -c "! grep -q 'Calling POST /v1.41/containers/create?name=made-over-the-gateway' '$DLOG'"
out=$(in_ct_gw other-gw "GET /v1.41/containers/json")
check "another container (no rule) cannot connect to the relay at the gateway" grep -q "^EPERM" <<<"$out"

# a swarm service (as Traefik's swarm provider runs) with the relay socket
# bind-mounted: the provider's requests answered by a manager's dockerd, a
# create refused with the task's container named, never received
if e2e_swarm_init; then
	mkdir -p "$T/svc-out"
	chmod 777 "$T/svc-out"	# the task's root is the remapped uid
	node=$(e2e_docker node ls -q | head -n 1)	# the provider inspects a task's node
	reqs="GET /v1.41/version|GET /v1.41/services|GET /v1.41/tasks|GET /v1.41/networks|GET /v1.41/nodes/$node|POST /v1.41/containers/create?name=made-by-the-service"
	for _ in 1 2 3 4 5; do
		e2e_docker service create --detach --no-resolve-image --name relay-traefik \
			--restart-condition none \
			--mount "type=bind,source=$RELAY,target=/var/run/docker.sock" \
			--mount "type=bind,source=$T/svc-out,target=/out" "$E2E_IMAGE" \
			/bin/sh -c "IFS='|'; for r in \$0; do /bin/dg-probe --request \"\$r\" http unix /var/run/docker.sock; done >/out/r 2>&1; touch /out/done" \
			"$reqs" >>"$T/service.log" 2>&1 && break
		sleep 1
	done
	for _ in $(seq 300); do [[ -e $T/svc-out/done ]] && break; sleep 0.2; done
	check "swarm service through the relay: version, services, tasks, networks, its node answered (200)" \
		test "$(grep -c '^http 200 ' "$T/svc-out/r" 2>/dev/null)" = 5
	grep -q '^http 200 ' "$T/svc-out/r" 2>/dev/null || cut -c1-200 "$T/svc-out/r" 2>&1 | sed 's/^/     /'
	check "... its create refused with 403 naming the task's container" \
		grep -qE '^http 403 .*not allowed for container relay-traefik\.1\.' "$T/svc-out/r"
	check "... and dockerd never received it" \
		bash -c "! grep -q 'Calling POST /v1.41/containers/create?name=made-by-the-service' '$DLOG'"
	check "... dockerd served the provider's swarm reads" \
		bash -c "grep -q 'Calling GET /v1.41/services' '$DLOG' && grep -q 'Calling GET /v1.41/nodes' '$DLOG'"
	[[ -e $T/svc-out/done ]] || e2e_docker service ps relay-traefik --no-trunc 2>&1 | sed 's/^/     /'
	# visible and redact on swarm objects: services by name, tasks by service
	e2e_docker service create -d --name relay-shown-a -e SVC_SECRET=hunter2 "$E2E_IMAGE" /bin/sleep 300 >/dev/null 2>&1
	e2e_docker service create -d --name relay-hidden-b "$E2E_IMAGE" /bin/sleep 300 >/dev/null 2>&1
	for _ in $(seq 100); do
		[[ $(e2e_docker service ps -q relay-shown-a relay-hidden-b 2>/dev/null | wc -l) -ge 2 ]] && break
		sleep 0.2
	done
	out=$(dk swv service ls --format '{{.Name}}')
	check "visible (swarm): docker service ls: the shown service, not the hidden one" \
		bash -c "grep -qx relay-shown-a <<<'$out' && ! grep -q relay-hidden-b <<<'$out'"
	grep -qx relay-shown-a <<<"$out" || sed 's/^/     /' <<<"$out" | head -n 3
	out=$(dk swv service ps relay-hidden-b)
	check "visible (swarm): docker service ps of the hidden one: no such service" grep -qi "no such service" <<<"$out"
	out=$(dk swv service ps --format '{{.Name}}' relay-shown-a)
	check "visible (swarm): docker service ps of the shown one lists its task" grep -q "relay-shown-a\.1" <<<"$out"
	out=$(dk swv service inspect -f '{{json .Spec.TaskTemplate.ContainerSpec.Env}}' relay-shown-a)
	check "redact env: a service's Env is empty" test "$out" = "[]"
	out=$(in_cg swv /usr/bin/python3 - "$RELAY" <<'PY' 2>&1
import sys, docker
c = docker.APIClient(base_url="unix://" + sys.argv[1], version="1.41")
names = {s["ID"]: s["Spec"]["Name"] for s in docker.APIClient(base_url="unix:///" + sys.argv[1]).services()}
tasks = c.tasks()
print("tasks of", sorted(set(names.get(t["ServiceID"], "?" + t["ServiceID"]) for t in tasks)))
print("env", sorted(set(str(t["Spec"]["ContainerSpec"].get("Env")) for t in tasks)))
print("tokens", c.inspect_swarm()["JoinTokens"])
PY
)
	check "python3-docker: GET /tasks lists the shown service's tasks only" grep -qF "tasks of ['relay-shown-a']" <<<"$out"
	check "python3-docker: ... their Env redacted" grep -qF "env ['[]']" <<<"$out"
	check "redact join-tokens: GET /swarm answers them empty" grep -qF "tokens {'Worker': '', 'Manager': ''}" <<<"$out"
	grep -q "^tasks of \['relay-shown-a'\]" <<<"$out" || sed 's/^/     /' <<<"$out" | head -n 6
	check "... where dockerd's own answer holds them" \
		bash -c "$E2E_DOCKER -H unix://$E2E_SOCK swarm join-token -q worker | grep -q SWMTKN"
	e2e_docker service rm relay-shown-a relay-hidden-b >/dev/null 2>&1
	e2e_docker service rm relay-traefik >/dev/null 2>&1
	e2e_swarm_leave
else
	fail "docker swarm init on the private engine"
fi

# ---- the built-in ci profile: its guard judges what the CLI creates ------
creates=$(calls "POST /v1.41/containers/create")
out=$(dk ci run --rm "$E2E_IMAGE" /bin/echo hello-past-the-guard)
check "docker run (ci, guarded): what the CLI sends passes the guard" \
	grep -q "hello-past-the-guard" <<<"$out"
grep -q "hello-past-the-guard" <<<"$out" || sed 's/^/     /' <<<"$out" | head -n 3
check "... dockerd served the create" test "$(calls "POST /v1.41/containers/create")" -gt "$creates"
# guard_refused LABEL FIELD DOCKER-RUN-OPTIONS...: the create is refused
# with 403 naming FIELD, and dockerd never received it
guard_refused() {
	local label=$1 field=$2
	shift 2
	local before
	before=$(calls "POST /v1.41/containers/create")
	out=$(dk ci run --rm "$@" "$E2E_IMAGE" /bin/true)
	check "docker run $label (ci): refused naming $field" \
		grep -qF "by the guard of profile ci (built-in:" <<<"$out"
	grep -qF -- "$field" <<<"$out" || { fail "... the refusal names $field"; sed 's/^/     /' <<<"$out" | head -n 2; }
	check "... dockerd never received the create ($label)" \
		test "$(calls "POST /v1.41/containers/create")" = "$before"
}
guard_refused --privileged HostConfig.Privileged --privileged
guard_refused "-v /:/host" 'HostConfig.Binds[0]' -v /:/host
guard_refused "--mount type=bind,src=/etc" 'HostConfig.Mounts[0].Source' --mount type=bind,src=/etc,dst=/e
guard_refused "--pid host" HostConfig.PidMode --pid host
guard_refused "--ipc host" HostConfig.IpcMode --ipc host
guard_refused "--uts host" HostConfig.UTSMode --uts host
guard_refused "--userns host" HostConfig.UsernsMode --userns host
guard_refused "--network host" HostConfig.NetworkMode --network host
guard_refused "--cap-add SYS_ADMIN" HostConfig.CapAdd --cap-add SYS_ADMIN
guard_refused "--device /dev/mem" HostConfig.Devices --device /dev/mem
guard_refused "--security-opt seccomp=unconfined" HostConfig.SecurityOpt --security-opt seccomp=unconfined
guard_refused "--security-opt apparmor=unconfined" HostConfig.SecurityOpt --security-opt apparmor=unconfined
guard_refused "--cgroup-parent /" HostConfig.CgroupParent --cgroup-parent /
guard_refused "--sysctl net.ipv4.ip_forward=1" HostConfig.Sysctls --sysctl net.ipv4.ip_forward=1
guard_refused "--volumes-from" HostConfig.VolumesFrom --volumes-from relay-full-bg
guard_refused "--label io.dockguard.owner=x" 'io.dockguard.' --label io.dockguard.owner=x
dk ci run -d --name relay-ci-bg "$E2E_IMAGE" /bin/sleep 60 >/dev/null
before=$(calls "POST /v1.41/containers/relay-ci-bg/exec")
out=$(dk ci exec --privileged relay-ci-bg /bin/true)
check "docker exec --privileged (ci): refused naming Privileged" grep -qF "by the guard of profile ci" <<<"$out"
check "... dockerd never received the exec create" test "$(calls "POST /v1.41/containers/relay-ci-bg/exec")" = "$before"
out=$(dk ci exec relay-ci-bg /bin/echo plain-exec-passes)
check "docker exec (ci, not privileged): passes the guard" grep -q "plain-exec-passes" <<<"$out"
out=$(in_cg ci env HOME="$T" /usr/bin/python3 - "$RELAY" "$E2E_IMAGE" <<'PY' 2>&1
import sys, docker
c = docker.DockerClient(base_url="unix://" + sys.argv[1], version="1.41")
for kw in ({"privileged": True}, {"volumes": {"/": {"bind": "/host"}}}, {"pid_mode": "host"},
           {"cap_add": ["SYS_ADMIN"]}):
    try:
        c.containers.create(sys.argv[2], "/bin/true", **kw)
        print("created", kw)
    except docker.errors.APIError as e:
        print("refused", e.status_code, e.explanation)
PY
)
check "python3-docker (ci): privileged, bind of /, pid host, cap-add: each refused with 403" \
	test "$(grep -c '^refused 403 dockguard: POST /containers/create is refused for' <<<"$out")" = 4
grep -q '^created' <<<"$out" && sed 's/^/     /' <<<"$out"
e2e_docker rm -f relay-ci-bg >/dev/null 2>&1

# ---- own: a guarded ci that writes only to what it created --------------
e2e_docker run -d --name relay-foreign "$E2E_IMAGE" /bin/sleep 120 >/dev/null 2>&1
out=$(dk own run -d --name relay-own-mine "$E2E_IMAGE" /bin/sleep 120)
check "own: docker run -d through the relay" test "$(e2e_docker inspect -f '{{.State.Running}}' relay-own-mine 2>/dev/null)" = true
check "own: ... the container carries io.dockguard.owner" \
	test -n "$(e2e_docker inspect -f '{{index .Config.Labels "io.dockguard.owner"}}' relay-own-mine 2>/dev/null)"
out=$(dk own exec relay-own-mine /bin/echo exec-in-my-own)
check "own: docker exec in its own container" grep -q "exec-in-my-own" <<<"$out"
fid=$(e2e_docker inspect -f '{{.Id}}' relay-foreign 2>/dev/null)
out=$(dk own exec relay-foreign /bin/echo should-not-run)
check "own: docker exec in a container it did not create: No such container" \
	grep -q "No such container: relay-foreign" <<<"$out"
check "own: ... dockerd never received the exec create" \
	bash -c "! grep -q 'Calling POST /v1.41/containers/\(relay-foreign\|$fid\)/exec' '$DLOG'"
out=$(dk own rm -f relay-foreign)
check "own: docker rm -f of it: No such container, and it runs on" \
	bash -c "grep -q 'No such container' <<<'$out' && test \"\$($E2E_DOCKER -H unix://$E2E_SOCK inspect -f '{{.State.Running}}' relay-foreign)\" = true"
out=$(dk own cp "$T/cp-in" relay-foreign:/tmp/x)
check "own: docker cp into it: refused" grep -qi "no such container" <<<"$out"
check "own: ... dockerd never received the archive PUT" \
	bash -c "! grep -q 'Calling PUT /v1.41/containers/\(relay-foreign\|$fid\)/archive' '$DLOG'"
dk own network create relay-own-net >/dev/null
out=$(dk own network connect relay-own-net relay-foreign)
check "own: docker network connect of a container it did not create: No such container" \
	grep -q "No such container: relay-foreign" <<<"$out"
check "own: ... dockerd never received the connect" \
	bash -c "! grep -q 'Calling POST /v1.41/networks/.*/connect' '$DLOG'"
out=$(dk own network connect relay-own-net relay-own-mine)
check "own: docker network connect of its own container: connected" \
	test "$(e2e_docker inspect -f '{{if index .NetworkSettings.Networks "relay-own-net"}}yes{{end}}' relay-own-mine 2>/dev/null)" = yes
grep -q . <<<"$out" && sed 's/^/     /' <<<"$out" | head -n 3
out=$(dk own stop -t 1 relay-own-mine)
check "own: docker stop of its own container" grep -q "relay-own-mine" <<<"$out"
e2e_docker rm -f relay-foreign relay-own-mine >/dev/null 2>&1
e2e_docker network rm relay-own-net >/dev/null 2>&1

# ---- visible: two tenants of one profile see only their own objects -------
t0=$(date +%s)
dk tena run -d --name ten-a -e SECRET_A=hunter2 "$E2E_IMAGE" /bin/sleep 120 >/dev/null
dk tenb run -d --name ten-b -e SECRET_B=swordfish "$E2E_IMAGE" /bin/sleep 120 >/dev/null
e2e_docker run -d --name shared-x "$E2E_IMAGE" /bin/sleep 120 >/dev/null 2>&1
e2e_docker run -d --name foreign-y "$E2E_IMAGE" /bin/sleep 120 >/dev/null 2>&1
dk tenb volume create vol-b >/dev/null
dk tena volume create vol-a >/dev/null
bid=$(e2e_docker inspect -f '{{.Id}}' ten-b 2>/dev/null)
check "visible: both tenants' containers run" test -n "$bid" -a "$(e2e_docker inspect -f '{{.State.Running}}' ten-a 2>/dev/null)" = true
out=$(dk tena ps -a --format '{{.Names}}')
check "visible: docker ps (tenant a) lists its own container and the shared one" \
	bash -c "grep -qx ten-a <<<'$out' && grep -qx shared-x <<<'$out'"
check "visible: ... never tenant b's, nor one made by someone else" \
	bash -c "! grep -q 'ten-b\|foreign-y' <<<'$out'"
out=$(dk tena ps -a --format '{{.Names}}' --filter name=ten-b)
check "visible: a client filter naming tenant b's container lists nothing" test -z "$out"
out=$(dk tena container inspect ten-b)
check "visible: docker inspect of tenant b's container by name: No such container" \
	grep -q "No such container: ten-b" <<<"$out"
out=$(dk tena container inspect "${bid:0:12}")
check "visible: ... by a short id prefix: No such container" grep -q "No such container" <<<"$out"
out=$(dk tena logs ten-b)
check "visible: docker logs of it: No such container" grep -q "No such container" <<<"$out"
check "visible: ... dockerd never served those logs" \
	bash -c "! grep -q 'Calling GET /v1.41/containers/\(ten-b\|$bid\)/logs' '$DLOG'"
out=$(dk tena container inspect -f '{{json .Config.Env}}' ten-a)
check "visible: its own container's inspect: Env redacted (redact env)" test "$out" = "[]"
raw=$(e2e_docker inspect -f '{{json .Config.Env}}' ten-a 2>&1)
check "visible: ... where dockerd's own answer holds it" grep -q SECRET_A <<<"$raw"
out=$(dk tena volume ls --format '{{.Name}}')
check "visible: docker volume ls: its own volume, not tenant b's" \
	bash -c "grep -qx vol-a <<<'$out' && ! grep -q vol-b <<<'$out'"
out=$(dk tena volume inspect vol-b)
check "visible: docker volume inspect of tenant b's: no such volume" grep -qi "no such volume" <<<"$out"
out=$(dk tena system df -v)
check "visible: docker system df -v: its own container and volume, not tenant b's" \
	bash -c "grep -q ten-a <<<'$out' && grep -q vol-a <<<'$out' && ! grep -q 'ten-b\|vol-b\|foreign-y' <<<'$out'"
grep -q ten-a <<<"$out" || sed 's/^/     /' <<<"$out" | head -n 5
out=$(dk tena events --since "$t0" --until "$(date +%s)" --format '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}')
check "visible: docker events: its own container's" grep -q "container start ten-a" <<<"$out"
check "visible: ... never tenant b's or anyone else's" bash -c "! grep -q 'ten-b\|foreign-y\|shared-x\|vol-b' <<<'$out'"
out=$(in_cg tena env HOME="$T" /usr/bin/python3 - "$RELAY" "$bid" <<'PY' 2>&1
import sys, docker
c = docker.DockerClient(base_url="unix://" + sys.argv[1], version="1.41")
print("names", sorted(x.name for x in c.containers.list(all=True)))
for ref in ("ten-b", sys.argv[2], sys.argv[2][:10]):
    try:
        c.containers.get(ref)
        print("seen", ref)
    except docker.errors.NotFound:
        print("notfound")
print("env", c.containers.get("ten-a").attrs["Config"]["Env"])
PY
)
check "python3-docker (tenant a): lists its own and the shared container only" \
	grep -qF "names ['shared-x', 'ten-a']" <<<"$out"
check "python3-docker: tenant b's by name, id and prefix: NotFound, each" \
	test "$(grep -c '^notfound' <<<"$out")" = 3
check "python3-docker: Env of its own container redacted" grep -qF "env []" <<<"$out"
grep -q '^seen\|Traceback' <<<"$out" && sed 's/^/     /' <<<"$out" | head -n 8
out=$(dk tenb ps -a --format '{{.Names}}')
check "visible: tenant b sees its own and the shared container, not tenant a's" \
	bash -c "grep -qx ten-b <<<'$out' && grep -qx shared-x <<<'$out' && ! grep -q 'ten-a\|foreign-y' <<<'$out'"
e2e_docker rm -f ten-a ten-b shared-x foreign-y >/dev/null 2>&1
e2e_docker volume rm vol-a vol-b >/dev/null 2>&1

# nobody else: the hooks refuse the connect itself
out=$(dk none ps)
check "a cgroup no rule admits: the connect is refused (EPERM), not a request" \
	grep -qi "permission denied\|operation not permitted" <<<"$out"
check "the relay's refusals are in the daemon's log" \
	grep -qF "relay r: refused 403 POST /containers/create for uid 1001" "$T/daemon.log"

echo "e2e-relay: $PASS passed, $FAIL failed"
((FAIL == 0))
