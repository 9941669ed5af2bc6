#!/bin/bash
# End-to-end smoke test: proves the harness works on this machine and prints
# what dockguard's tests may rely on. Starts a private dockerd (userns-remap
# default, own roots and bridge), imports the test image, connects from a
# container to a listener on the bridge gateway, looks at the container's
# process from the host, tries a one-node swarm with a service, then stops
# everything and checks that nothing of it is left.
#
#   tests/e2e/smoke.sh [BUILD_DIR]      ends with `e2e-smoke: N passed, N failed`
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build=$root/$build
source "$here/lib.sh"

PASS=0
FAIL=0
pass() { PASS=$((PASS + 1)); echo "ok   $*"; }
fail() { FAIL=$((FAIL + 1)); echo "FAIL $*"; }
fact() { printf '     %-26s %s\n' "$1:" "$2"; }
finish() {
	echo "e2e-smoke: $PASS passed, $FAIL failed ($(($(date +%s) - t_begin)) s)"
	((FAIL == 0))
	exit
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }

t_begin=$(date +%s)
if ! e2e_skip_unless_possible; then
	echo "e2e-smoke: 0 passed, 0 failed"
	exit 0
fi
trap e2e_cleanup EXIT
trap 'exit 130' INT TERM HUP

# host settings the engine must leave alone (iptables=false, ip-forward=false)
host_sysctls() {
	local f
	for f in /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv6/conf/all/forwarding \
		/proc/sys/net/bridge/bridge-nf-call-iptables /proc/sys/net/bridge/bridge-nf-call-ip6tables; do
		[[ -r $f ]] && echo "$f=$(cat "$f")"
	done
	command -v iptables-save >/dev/null && echo "iptables rules: $(iptables-save 2>/dev/null | grep -c '^-A')"
}
sysctls_before=$(host_sysctls)

# --- engine
t0=$(now_ms)
if ! e2e_start_dockerd; then
	fail "private dockerd starts"
	finish
fi
pass "private dockerd starts ($(($(now_ms) - t0)) ms, pid $E2E_DOCKERD_PID)"
fact "dockerd" "$("$E2E_DOCKERD" --version)"
fact "docker CLI" "$E2E_DOCKER ($(e2e_docker version -f '{{.Client.Version}}' 2>/dev/null))"
fact "dockerd command line" "$(tr '\0' ' ' <"/proc/$E2E_DOCKERD_PID/cmdline")"
fact "DOCKER_HOST" "$DOCKER_HOST"
info=$(e2e_docker info -f '{{.CgroupDriver}} {{.CgroupVersion}} {{.DockerRootDir}} {{json .SecurityOptions}}')
read -r cg_driver cg_version docker_root secopts <<<"$info"
fact "CgroupDriver" "$cg_driver (cgroup version $cg_version)"
fact "cgroup v2 mount" "$E2E_CGROOT"
fact "DockerRootDir" "$docker_root"
fact "SecurityOptions" "$secopts"
if [[ $secopts == *userns* ]]; then pass "userns-remap active"; else fail "userns-remap active: $secopts"; fi
fact "dockremap range" "$(grep '^dockremap:' /etc/subuid) (E2E_REMAP_UID=$E2E_REMAP_UID)"
fact "bridge" "$E2E_BRIDGE, gateway $E2E_GW ($(ip -4 -o addr show dev "$E2E_BRIDGE" | awk '{ print $4 }'))"

# --- image
t0=$(now_ms)
if e2e_image "$build"; then
	pass "image $E2E_IMAGE imported ($(($(now_ms) - t0)) ms, $(e2e_docker image inspect -f '{{.Size}}' "$E2E_IMAGE") bytes)"
else
	fail "image $E2E_IMAGE imported"
	finish
fi

# --- a container connects to a listener on the bridge gateway
probe=$build/dg-probe
[[ -x $probe ]] || probe=$build/dg-probe-static
port=23750
if e2e_listen "$probe" "$E2E_GW" "$port"; then
	pass "host listener on $E2E_GW:$port"
else
	fail "host listener on $E2E_GW:$port"
fi
out=$(e2e_docker run --rm "$E2E_IMAGE" /bin/dg-probe connect tcp "$E2E_GW" "$port" 2>/dev/null)
if [[ $out == ok ]]; then
	pass "container connects to $E2E_GW:$port"
else
	fail "container connects to $E2E_GW:$port: '$out'"
fi
out=$(e2e_docker run --rm "$E2E_IMAGE" /bin/dg-probe connect tcp "$E2E_GW" $((port + 1)) 2>/dev/null)
if [[ $out == "error: Connection refused" ]]; then
	pass "container to a closed port: connection refused (a real connect)"
else
	fail "container to a closed port: '$out'"
fi

# --- a detached container seen from the host. A watcher notes when the first
# new process appears in a /docker/<id> cgroup (v2 line of /proc/PID/cgroup).
baseline=" $(grep -l '^0::/docker/' /proc/[0-9]*/cgroup 2>/dev/null | cut -d/ -f3 | tr '\n' ' ') "
watch_out=$E2E_TMP/watch
(
	end=$((SECONDS + 10))	# bounded, even if this script is killed
	while ((SECONDS < end)); do
		for f in $(grep -l '^0::/docker/' /proc/[0-9]*/cgroup 2>/dev/null); do
			p=${f#/proc/}
			p=${p%/cgroup}
			if [[ $baseline != *" $p "* ]]; then
				echo "$(now_ms) $p $(cat "/proc/$p/comm" 2>/dev/null)" >"$watch_out"
				exit 0
			fi
		done
	done
) &
watcher=$!
E2E_PIDS+=("$watcher")
t0=$(now_ms)
id=$(e2e_docker run -d "$E2E_IMAGE" /bin/sleep 300 2>/dev/null)
t1=$(now_ms)
for ((i = 0; i < 100; i++)); do
	[[ -s $watch_out ]] && break
	sleep 0.05
done
kill "$watcher" 2>/dev/null
if [[ -n $id ]]; then
	pass "docker run -d ($((t1 - t0)) ms until it returned)"
else
	fail "docker run -d"
fi
if [[ -s $watch_out ]]; then
	read -r t2 first_pid first_comm <"$watch_out"
	fact "run -d to first process" "$((t2 - t0)) ms (pid $first_pid, comm '${first_comm:-gone by then: runc init}')"
else
	fail "a process appears in a /docker/ cgroup within 5 s"
fi
pid=$(e2e_container_pid "$id" 2>/dev/null)
if [[ -n $pid && $pid != 0 ]]; then
	huid=$(e2e_host_uid "$pid")
	fact "container pid" "$pid ($(tr '\0' ' ' <"/proc/$pid/cmdline"))"
	fact "uid inside / on host" "$(e2e_docker exec "$id" id -u) / $huid"
	if [[ $huid == "$E2E_REMAP_UID" && $huid == 100000 ]]; then
		pass "container root is host uid $huid"
	else
		fail "container root is host uid 100000: got $huid (range start $E2E_REMAP_UID)"
	fi
	cg=$(grep '^0::' "/proc/$pid/cgroup")
	fact "cgroup v2 line" "$cg"
	if [[ $cg == "0::/docker/$id" ]]; then
		pass "container cgroup v2 path is /docker/<id>"
	else
		fail "container cgroup v2 path: want 0::/docker/$id, got $cg"
	fi
	if [[ -d $E2E_CGROOT/docker/$id ]]; then
		pass "cgroup directory $E2E_CGROOT/docker/${id:0:12}... exists"
	else
		fail "cgroup directory $E2E_CGROOT/docker/$id exists"
	fi
else
	fail "container pid from docker inspect"
fi
e2e_docker rm -f "$id" >/dev/null 2>&1

# --- swarm on the private engine
t0=$(now_ms)
if err=$(e2e_swarm_init 2>&1); then
	pass "docker swarm init --advertise-addr $E2E_GW ($(($(now_ms) - t0)) ms)"
	fact "dockerd listeners" "$(ss -Hlntup 2>/dev/null | awk -v pid="pid=$E2E_DOCKERD_PID," 'index($0, pid) { print $1 " " $5 }' | sort -u | tr '\n' ' ')"
	t0=$(now_ms)
	if err=$(e2e_docker service create --detach --no-resolve-image --name web "$E2E_IMAGE" /bin/sleep 1000 2>&1); then
		sid=
		for ((i = 0; i < 240; i++)); do
			sid=$(e2e_docker ps -q --no-trunc --filter label=com.docker.swarm.service.name=web \
				--filter status=running 2>/dev/null | head -n 1)
			[[ -n $sid ]] && break
			sleep 0.25
		done
		if [[ -n $sid ]]; then
			pass "service web runs a task ($(($(now_ms) - t0)) ms)"
			labels=$(e2e_docker inspect -f '{{json .Config.Labels}}' "$sid")
			fact "task container" "${sid:0:12} $(e2e_docker inspect -f '{{.Name}}' "$sid")"
			fact "task labels" "$labels"
			if [[ $labels == *'"com.docker.swarm.service.name":"web"'* ]]; then
				pass "task label com.docker.swarm.service.name=web"
			else
				fail "task label com.docker.swarm.service.name=web"
			fi
			tpid=$(e2e_container_pid "$sid")
			fact "task host uid / cgroup" "$(e2e_host_uid "$tpid") / $(grep '^0::' "/proc/$tpid/cgroup")"
			fact "task network" "$(e2e_docker inspect -f '{{.HostConfig.NetworkMode}}' "$sid")"
			# the kernel's vxlan socket (ingress network) has no owning process
			fact "swarm data path (vxlan)" "$(ss -Hlnu "sport = :$E2E_VXLAN_PORT" 2>/dev/null | awk '{ print "udp " $4 }' | tr '\n' ' ')"
		else
			fail "service web runs a task within 60 s: $(e2e_docker service ps --no-trunc web 2>&1 | tail -n +2 | head -3)"
		fi
		e2e_docker service rm web >/dev/null 2>&1
	else
		fail "docker service create: $err"
	fi
	t0=$(now_ms)
	e2e_swarm_leave
	fact "swarm leave" "$(($(now_ms) - t0)) ms"
else
	fail "docker swarm init: $err"
	grep -iE 'level=(error|fatal)' "$E2E_TMP/dockerd.log" | tail -n 5
fi

# the engine never tried a registry (service create --no-resolve-image,
# DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 for the swarm agent)
if grep -qiE 'registry-1[.]docker[.]io|pulling image' "$E2E_TMP/dockerd.log"; then
	fail "no registry access: $(grep -iE 'registry-1[.]docker[.]io|pulling image' "$E2E_TMP/dockerd.log" | head -n 2)"
else
	pass "no registry access in the dockerd log"
fi

# --- stop and check that nothing is left
tmp=$E2E_TMP
t0=$(now_ms)
# verdict NAME COMMAND...: pass when COMMAND succeeds
verdict() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}
if e2e_stop_dockerd; then
	pass "dockerd stopped ($(($(now_ms) - t0)) ms)"
else
	fail "dockerd stopped cleanly"
fi
verdict "cleanup" e2e_cleanup
left=$(grep -la -- "${tmp//./[.]}/" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3 | tr '\n' ' ')
verdict "no process of the engine left${left:+ (left: $left)}" test -z "$left"
verdict "no mount left below $tmp" bash -c '! grep -q " $1" /proc/self/mounts' _ "$tmp"
verdict "temp dir removed" test ! -e "$tmp"
for dev in "$E2E_BRIDGE" "$E2E_GWBRIDGE" docker_gwbridge; do
	verdict "no device $dev" test ! -e "/sys/class/net/$dev"
done
sysctls_after=$(host_sysctls)
if [[ $sysctls_before == "$sysctls_after" ]]; then
	pass "host forwarding/bridge-netfilter sysctls and iptables rules unchanged"
else
	fail "host settings changed: $(diff <(echo "$sysctls_before") <(echo "$sysctls_after") | tr '\n' ' ')"
fi
finish
