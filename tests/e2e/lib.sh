#!/bin/bash
# End-to-end harness: a private Docker engine for one test run.
#
# e2e_start_dockerd starts dockerd (docker.io 20.10 here) with userns-remap
# "default" and everything of its own: data-root, exec-root, unix socket,
# pidfile, config file, containerd (a child of dockerd) and a bridge device
# with a private address that exists only inside this machine. No iptables
# rules, no ip_forward change, no masquerading, no published ports, no
# registry access (images are imported, swarm is told not to pull).
#
# Safety: only processes this harness started are stopped, by pid; the host
# engine's /var/run/docker.sock and /var/lib/docker are never used. Every
# docker call goes through e2e_docker, which names the private socket.
#
#   . tests/e2e/lib.sh
#   e2e_skip_unless_possible || exit 0
#   trap e2e_cleanup EXIT
#   e2e_start_dockerd && e2e_image build
#   e2e_docker run --rm dgtest:latest /bin/dg-probe connect tcp "$E2E_GW" 2375
#
# Exported after e2e_start_dockerd: DOCKER_HOST, DOCKER_CONFIG, E2E_TMP,
# E2E_SOCK, E2E_DATA_ROOT, E2E_EXEC_ROOT, E2E_DOCKERD_PID, E2E_GW (the bridge
# gateway address, reachable from containers), E2E_REMAP_UID (host uid of
# container root, from /etc/subuid), E2E_CGROOT (cgroup v2 mount).

E2E_BRIDGE=${E2E_BRIDGE:-dgbr0}			# default bridge of the private engine
E2E_GW_CIDR=${E2E_GW_CIDR:-10.213.0.1/24}	# its address (containers get .2 ...)
E2E_GW=${E2E_GW_CIDR%/*}
E2E_POOL=${E2E_POOL:-10.213.128.0/17}		# local networks created by the engine
E2E_GWBRIDGE=${E2E_GWBRIDGE:-dggw0}		# device behind swarm's docker_gwbridge
E2E_GWBRIDGE_CIDR=${E2E_GWBRIDGE_CIDR:-10.213.1.0/24}
E2E_SWARM_POOL=${E2E_SWARM_POOL:-10.214.0.0/16}	# overlay networks (ingress)
E2E_VXLAN_PORT=${E2E_VXLAN_PORT:-47891}		# swarm data path, not the usual 4789
E2E_IMAGE=${E2E_IMAGE:-dgtest:latest}
E2E_DOCKERD=${E2E_DOCKERD:-$(command -v dockerd)}
E2E_START_TIMEOUT=${E2E_START_TIMEOUT:-60}

_e2e_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
E2E_PIDS=()		# background helpers (listeners) to stop in e2e_cleanup
_e2e_made_bridge=0
_e2e_host_state=()	# host paths that did not exist before the engine started

e2e_log() { echo "e2e: $*" >&2; }

# The CLI that ships with the engine (/usr/bin/docker from docker.io) first:
# /usr/local/bin may hold a newer CLI, which also works (API negotiation).
_e2e_find_cli() {
	local c
	for c in "${E2E_DOCKER:-}" /usr/bin/docker "$(command -v docker)"; do
		if [[ -n $c && -x $c ]]; then
			echo "$c"
			return 0
		fi
	done
	return 1
}

# e2e_docker ARGS...: the docker CLI on the private engine only
e2e_docker() {
	if [[ -z ${E2E_SOCK:-} ]]; then
		e2e_log "e2e_docker: no private engine (call e2e_start_dockerd first)"
		return 1
	fi
	"$E2E_DOCKER" -H "unix://$E2E_SOCK" "$@"
}

# e2e_skip_unless_possible: prints `skip e2e: REASON` and returns 1 when a
# private dockerd cannot run here; the caller then skips (not fails).
e2e_skip_unless_possible() {
	local why=
	if ((EUID != 0)); then
		why="needs root (dockerd, bridges, cgroups)"
	elif [[ -z $E2E_DOCKERD || ! -x $E2E_DOCKERD ]]; then
		why="dockerd not installed (apt-get install docker.io)"
	elif ! E2E_DOCKER=$(_e2e_find_cli); then
		why="docker CLI not installed (apt-get install docker.io)"
	elif ! command -v containerd >/dev/null || ! command -v runc >/dev/null; then
		why="containerd or runc not installed (apt-get install docker.io)"
	elif ! command -v ip >/dev/null; then
		why="ip not installed (apt-get install iproute2)"
	elif ! awk '$3 == "cgroup2" { f = 1 } END { exit !f }' /proc/self/mounts; then
		why="no cgroup v2 mount"
	elif [[ $(cat /proc/sys/user/max_user_namespaces 2>/dev/null || echo 0) == 0 ]]; then
		why="user namespaces disabled (userns-remap needs them)"
	elif ! _e2e_busybox >/dev/null; then
		why="no static busybox for the test image (apt-get install busybox-static)"
	fi
	if [[ -n $why ]]; then
		echo "skip e2e: $why"
		return 1
	fi
	export E2E_DOCKER
	return 0
}

_e2e_busybox() {
	local b
	for b in "${E2E_BUSYBOX:-}" /bin/busybox /usr/bin/busybox; do
		[[ -n $b && -x $b ]] || continue
		# a dynamic busybox would need a libc in the image
		if [[ $(LC_ALL=C ldd "$b" 2>&1) =~ not\ a\ dynamic|statically\ linked ]]; then
			echo "$b"
			return 0
		fi
	done
	return 1
}

# _e2e_alive PID: running (a zombie whose parent is gone counts as dead)
_e2e_alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]]
}

# What dockerd creates outside its roots: its trust key (20.10 has no flag
# to move it), empty /run directories (containerd shims' socket dir, plugin
# discovery dir) and the /docker parent cgroup. Children before parents.
_e2e_host_paths() {
	echo /etc/docker/key.json /run/docker/plugins /run/docker /run/containerd/s /run/containerd \
		"$E2E_CGROOT/docker"
}

# The temp dir of the run that made the bridge E2E_BRIDGE, if that run's
# shell is gone (killed with SIGKILL: no trap ran). The bridge's alias names
# the run's shell pid and temp dir (see _e2e_bridge_up).
_e2e_bridge_stale() {
	local alias
	alias=$(cat "/sys/class/net/$E2E_BRIDGE/ifalias" 2>/dev/null)
	[[ $alias =~ ^dockguard-e2e\ pid=([0-9]+)\ tmp=(/tmp/dge2e\.[A-Za-z0-9]+)$ ]] || return 1
	_e2e_alive "${BASH_REMATCH[1]}" && return 1
	echo "${BASH_REMATCH[2]}"
}

# Cleans up after a run whose shell was killed: its dockerd (named by its
# pidfile and its config file), shims, listeners, mounts, bridge, temp dir and
# the host paths it recorded as made by its engine.
_e2e_reap_stale() (
	E2E_TMP=$1
	E2E_DATA_ROOT=$E2E_TMP/data
	E2E_EXEC_ROOT=$E2E_TMP/exec
	E2E_SOCK=$E2E_TMP/docker.sock
	E2E_DOCKERD_PID=
	E2E_PIDS=()
	_e2e_host_state=()
	local p
	if [[ -f $E2E_TMP/host-state ]]; then
		while read -r p; do
			# only the paths _e2e_host_paths names
			[[ " $(_e2e_host_paths) " == *" $p "* ]] && _e2e_host_state+=("$p")
		done <"$E2E_TMP/host-state"
	fi
	_e2e_made_bridge=1
	e2e_cleanup
)

# Before a start: if E2E_BRIDGE is left from a killed run, clean up after it.
_e2e_reap_if_stale() {
	local stale
	[[ -e /sys/class/net/$E2E_BRIDGE ]] || return 0
	stale=$(_e2e_bridge_stale) || return 0	# not stale: _e2e_bridge_up says so
	e2e_log "cleaning up after a killed run: $stale, bridge $E2E_BRIDGE"
	_e2e_reap_stale "$stale"
}

_e2e_bridge_up() {
	if [[ -e /sys/class/net/$E2E_BRIDGE ]]; then
		e2e_log "bridge $E2E_BRIDGE exists: another e2e run is in progress, or it is not ours;" \
			"a run beside it needs its own E2E_BRIDGE, E2E_GW_CIDR, E2E_GWBRIDGE," \
			"E2E_GWBRIDGE_CIDR and E2E_VXLAN_PORT"
		return 1
	fi
	if [[ -n $(ip -4 -o addr show to "$E2E_GW_CIDR") ]]; then
		e2e_log "$E2E_GW_CIDR is already in use on this host; set E2E_GW_CIDR"
		return 1
	fi
	ip link add "$E2E_BRIDGE" type bridge || return 1
	_e2e_made_bridge=1
	ip link set "$E2E_BRIDGE" alias "dockguard-e2e pid=$$ tmp=$E2E_TMP" &&
		ip addr add "$E2E_GW_CIDR" dev "$E2E_BRIDGE" &&
		ip link set "$E2E_BRIDGE" up
}

# e2e_start_dockerd: the private engine; returns 1 (with the log's tail) when
# it does not answer within E2E_START_TIMEOUT seconds
e2e_start_dockerd() {
	E2E_DOCKER=${E2E_DOCKER:-$(_e2e_find_cli)} || return 1
	export E2E_DOCKER
	E2E_CGROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
	export E2E_CGROOT

	_e2e_reap_if_stale

	# short: containerd's socket path lives below it (sun_path is 108 bytes)
	E2E_TMP=$(mktemp -d /tmp/dge2e.XXXXXX) || return 1
	# remapped root must be able to traverse to data-root/<uid>.<gid>
	chmod 0711 "$E2E_TMP"
	E2E_DATA_ROOT=$E2E_TMP/data
	E2E_EXEC_ROOT=$E2E_TMP/exec
	E2E_SOCK=$E2E_TMP/docker.sock
	export E2E_TMP E2E_DATA_ROOT E2E_EXEC_ROOT E2E_SOCK E2E_GW

	# what dockerd creates outside its roots is removed again if it was absent
	local p
	_e2e_host_state=()
	for p in $(_e2e_host_paths); do
		[[ -e $p ]] || _e2e_host_state+=("$p")
	done
	# for the clean-up after a killed run (_e2e_reap_stale)
	printf '%s\n' "${_e2e_host_state[@]}" >"$E2E_TMP/host-state"

	_e2e_bridge_up || return 1

	E2E_DAEMON_JSON=$E2E_TMP/daemon.json
	export E2E_DAEMON_JSON
	# E2E_TCP_HOST=127.0.0.1:PORT: the API on TCP too, as the hardening
	# guides expose it (loopback only)
	local tcp_host=""
	[[ -n ${E2E_TCP_HOST:-} ]] && tcp_host=", \"tcp://$E2E_TCP_HOST\""
	cat >"$E2E_DAEMON_JSON" <<EOF
{
	"userns-remap": "default",
	"data-root": "$E2E_DATA_ROOT",
	"exec-root": "$E2E_EXEC_ROOT",
	"pidfile": "$E2E_TMP/dockerd.pid",
	"hosts": ["unix://$E2E_SOCK"$tcp_host],
	"bridge": "$E2E_BRIDGE",
	"iptables": false,
	"ip-forward": false,
	"ip-masq": false,
	"userland-proxy": false,
	"default-address-pools": [{"base": "$E2E_POOL", "size": 24}],
	"exec-opts": ["native.cgroupdriver=cgroupfs"],
	"live-restore": false,
	"max-concurrent-downloads": 1,
	${E2E_DAEMON_EXTRA:-}
	"log-level": "${E2E_LOG_LEVEL:-info}"
}
EOF
	# DOCKER_SERVICE_PREFER_OFFLINE_IMAGE: swarm tasks use the local image
	# instead of trying the registry first (no traffic off the machine)
	DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 \
		"$E2E_DOCKERD" --config-file "$E2E_DAEMON_JSON" >"$E2E_TMP/dockerd.log" 2>&1 &
	local bgpid=$! deadline=$((SECONDS + E2E_START_TIMEOUT)) up=0
	E2E_DOCKERD_PID=$bgpid
	while ((SECONDS < deadline)); do
		if ! kill -0 "$bgpid" 2>/dev/null; then
			e2e_log "dockerd exited during start-up; its log:"
			tail -n 20 "$E2E_TMP/dockerd.log" >&2
			return 1
		fi
		if timeout 10 "$E2E_DOCKER" -H "unix://$E2E_SOCK" version >/dev/null 2>&1; then
			up=1
			break
		fi
		sleep 0.25
	done
	if ((!up)); then
		e2e_log "dockerd did not answer within ${E2E_START_TIMEOUT}s; its log:"
		tail -n 20 "$E2E_TMP/dockerd.log" >&2
		return 1
	fi
	if [[ $(cat "$E2E_TMP/dockerd.pid" 2>/dev/null) != "$bgpid" ]]; then
		e2e_log "dockerd pidfile says $(cat "$E2E_TMP/dockerd.pid" 2>/dev/null), started $bgpid"
		return 1
	fi
	export E2E_DOCKERD_PID
	export DOCKER_HOST=unix://$E2E_SOCK
	export DOCKER_CONFIG=$E2E_TMP/cli
	mkdir -p "$DOCKER_CONFIG"
	# dockerd has created the dockremap user and its range by now
	E2E_REMAP_UID=$(awk -F: '$1 == "dockremap" { print $2; exit }' /etc/subuid)
	export E2E_REMAP_UID
	return 0
}

# e2e_restart_dockerd: stops the private dockerd (by pid) and starts it
# again with the same configuration, socket and roots: "the Docker API went
# away and came back".
e2e_restart_dockerd() {
	local pid=$E2E_DOCKERD_PID
	kill -TERM "$pid" 2>/dev/null
	local deadline=$((SECONDS + 30))
	while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
	kill -0 "$pid" 2>/dev/null && return 1
	DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 \
		"$E2E_DOCKERD" --config-file "$E2E_DAEMON_JSON" >>"$E2E_TMP/dockerd.log" 2>&1 &
	E2E_DOCKERD_PID=$!
	export E2E_DOCKERD_PID
	deadline=$((SECONDS + E2E_START_TIMEOUT))
	while ((SECONDS < deadline)); do
		timeout 10 "$E2E_DOCKER" -H "unix://$E2E_SOCK" version >/dev/null 2>&1 && return 0
		kill -0 "$E2E_DOCKERD_PID" 2>/dev/null || return 1
		sleep 0.25
	done
	return 1
}

# e2e_image [BUILD_DIR]: imports E2E_IMAGE: a static busybox with its applets
# in /bin and the static test client as /bin/dg-probe
e2e_image() {
	local build=${1:-${BUILD:-build}}
	[[ $build = /* ]] || build=$_e2e_root/$build
	"$_e2e_root/tests/tools/static/build.sh" "$build" >/dev/null || return 1
	local bb rootfs=$E2E_TMP/rootfs a
	bb=$(_e2e_busybox) || {
		e2e_log "no static busybox (apt-get install busybox-static)"
		return 1
	}
	rm -rf "$rootfs"
	mkdir -p "$rootfs"/{bin,dev,etc,proc,sys,tmp,root,run,var}
	chmod 1777 "$rootfs/tmp"
	cp "$bb" "$rootfs/bin/busybox"
	for a in $("$bb" --list); do
		[[ $a == busybox || -e $rootfs/bin/$a ]] || ln -s busybox "$rootfs/bin/$a"
	done
	cp "$build/dg-probe-static" "$rootfs/bin/dg-probe"
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$rootfs/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
	tar -C "$rootfs" --numeric-owner --owner=0 --group=0 -c . |
		e2e_docker import --change 'CMD ["/bin/sh"]' - "$E2E_IMAGE" >/dev/null
}

# e2e_swarm_init: a one-node swarm on the bridge address. docker_gwbridge is
# created first, on a device named E2E_GWBRIDGE, so that the engine does not
# make a host-wide "docker_gwbridge" device.
e2e_swarm_init() {
	if ! e2e_docker network inspect docker_gwbridge >/dev/null 2>&1; then
		e2e_docker network create --driver bridge --subnet "$E2E_GWBRIDGE_CIDR" \
			-o com.docker.network.bridge.name="$E2E_GWBRIDGE" \
			-o com.docker.network.bridge.enable_icc=false \
			-o com.docker.network.bridge.enable_ip_masquerade=false \
			docker_gwbridge >/dev/null || return 1
	fi
	timeout 60 "$E2E_DOCKER" -H "unix://$E2E_SOCK" swarm init \
		--advertise-addr "$E2E_GW" --listen-addr "$E2E_GW:2377" \
		--data-path-addr "$E2E_GW" --data-path-port "$E2E_VXLAN_PORT" \
		--default-addr-pool "$E2E_SWARM_POOL" >/dev/null
}

e2e_swarm_leave() {
	[[ -n ${E2E_SOCK:-} && -S $E2E_SOCK ]] || return 0
	local state
	state=$(timeout 10 "$E2E_DOCKER" -H "unix://$E2E_SOCK" info -f '{{.Swarm.LocalNodeState}}' 2>/dev/null)
	if [[ $state == active || $state == pending ]]; then
		timeout 30 "$E2E_DOCKER" -H "unix://$E2E_SOCK" swarm leave --force >/dev/null 2>&1
	fi
	timeout 10 "$E2E_DOCKER" -H "unix://$E2E_SOCK" network rm docker_gwbridge >/dev/null 2>&1
	return 0
}

# e2e_listen PROBE ADDR PORT: a host-side TCP listener (dg-probe listen) in
# the background, stopped by e2e_cleanup. Its --chdir names our temp dir, so
# that the clean-up after a killed run finds it too.
e2e_listen() {
	local probe=$1 addr=$2 port=$3 fifo line
	fifo=$E2E_TMP/listen.$port.fifo
	rm -f "$fifo"
	mkfifo "$fifo" || return 1
	"$probe" --chdir "$E2E_TMP/" listen tcp "$addr" "$port" >"$fifo" 2>&1 &
	E2E_PIDS+=("$!")
	read -r -t 5 line <"$fifo" || line=
	rm -f "$fifo"
	if [[ $line != listening ]]; then
		e2e_log "listener on $addr:$port: ${line:-no answer}"
		return 1
	fi
}

# helpers for tests
e2e_container_pid() { e2e_docker inspect -f '{{.State.Pid}}' "$1"; }
e2e_host_uid() { ps -o uid= -p "$1" | tr -d ' '; }
e2e_cgroup2_of() { awk -F: '$1 == "0" { print $3 }' "/proc/$1/cgroup"; }

# Container ids this engine created (its containers directory), for the
# last-resort kill by cgroup when shims were lost.
_e2e_our_containers() {
	local d
	for d in "$E2E_DATA_ROOT"/containers/* "$E2E_DATA_ROOT"/*.*/containers/*; do
		[[ -d $d ]] && basename "$d"
	done
}

# Processes whose command line names our temp dir: dockerd, containerd,
# containerd-shim-runc-v2 (-address E2E_EXEC_ROOT/containerd/...), runc.
# The pattern is written as a bracket expression (mktemp's suffix is
# alphanumeric) so that grep's own command line does not match it.
# Helpers in E2E_PIDS are not counted: e2e_cleanup stops them.
_e2e_our_procs() {
	[[ -n ${E2E_TMP:-} ]] || return 0
	local pid
	for pid in $(grep -la -- "${E2E_TMP//./[.]}/" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3); do
		[[ " ${E2E_PIDS[*]} " == *" $pid "* ]] || echo "$pid"
	done
}

# Mount points below our temp dir, deepest first.
_e2e_our_mounts() {
	[[ -n ${E2E_TMP:-} ]] || return 0
	awk -v t="$E2E_TMP/" 'index($2, t) == 1 || $2 == substr(t, 1, length(t) - 1) { print length($2), $2 }' \
		/proc/self/mounts | sort -rn | cut -d' ' -f2- | while read -r m; do printf '%b\n' "$m"; done
}

# e2e_stop_dockerd: swarm leave, containers removed, dockerd stopped (TERM,
# then KILL after 30 s), then whatever of ours is left: processes, container
# cgroups, mounts. Returns 1 if something could not be removed.
e2e_stop_dockerd() {
	[[ -n ${E2E_TMP:-} ]] || return 0
	local pid i ids id mnt left=0
	# a dockerd known only by its pidfile (the run that started it was killed)
	# is ours if its command line names our config file
	if [[ -z ${E2E_DOCKERD_PID:-} && -s $E2E_TMP/dockerd.pid ]]; then
		pid=$(cat "$E2E_TMP/dockerd.pid")
		if [[ $pid =~ ^[0-9]+$ ]] && grep -qaF -- "$E2E_TMP/daemon.json" "/proc/$pid/cmdline" 2>/dev/null; then
			E2E_DOCKERD_PID=$pid
		fi
	fi
	if [[ -n ${E2E_DOCKERD_PID:-} ]] && _e2e_alive "$E2E_DOCKERD_PID"; then
		e2e_swarm_leave
		ids=$(timeout 10 "$E2E_DOCKER" -H "unix://$E2E_SOCK" ps -aq 2>/dev/null)
		if [[ -n $ids ]]; then
			# shellcheck disable=SC2086
			timeout 30 "$E2E_DOCKER" -H "unix://$E2E_SOCK" rm -f $ids >/dev/null 2>&1
		fi
		kill -TERM "$E2E_DOCKERD_PID" 2>/dev/null
		for ((i = 0; i < 300; i++)); do
			_e2e_alive "$E2E_DOCKERD_PID" || break
			sleep 0.1
		done
		if _e2e_alive "$E2E_DOCKERD_PID"; then
			e2e_log "dockerd $E2E_DOCKERD_PID ignored SIGTERM for 30 s: killing it"
			kill -KILL "$E2E_DOCKERD_PID" 2>/dev/null
		fi
		wait "$E2E_DOCKERD_PID" 2>/dev/null
	fi
	E2E_DOCKERD_PID=

	# containers whose shim is gone: their cgroup still names them
	for id in $(_e2e_our_containers); do
		[[ -e $E2E_CGROOT/docker/$id/cgroup.kill ]] && echo 1 >"$E2E_CGROOT/docker/$id/cgroup.kill" 2>/dev/null
	done
	# leftover containerd / shims / runc of this engine, by pid
	for pid in $(_e2e_our_procs); do
		e2e_log "left over: pid $pid $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-120)"
		kill -TERM "$pid" 2>/dev/null
	done
	for ((i = 0; i < 50; i++)); do
		[[ -z $(_e2e_our_procs) ]] && break
		sleep 0.1
	done
	for pid in $(_e2e_our_procs); do
		kill -KILL "$pid" 2>/dev/null
	done
	sleep 0.2
	if [[ -n $(_e2e_our_procs) ]]; then
		e2e_log "processes of this engine survived SIGKILL: $(_e2e_our_procs | tr '\n' ' ')"
		left=1
	fi
	# the containers' cgroups, in every hierarchy (runc removes them itself
	# when it can)
	for id in $(_e2e_our_containers); do
		awk '$3 == "cgroup" || $3 == "cgroup2" { print $2 }' /proc/self/mounts | while read -r mnt; do
			[[ -d $mnt/docker/$id ]] && rmdir "$mnt/docker/$id" 2>/dev/null
		done
	done
	# overlay, nsfs and bind mounts of dockerd and containerd
	for ((i = 0; i < 3; i++)); do
		while read -r mnt; do
			[[ -n $mnt ]] && { umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null; }
		done < <(_e2e_our_mounts)
	done
	if [[ -n $(_e2e_our_mounts) ]]; then
		e2e_log "mounts left below $E2E_TMP: $(_e2e_our_mounts | tr '\n' ' ')"
		left=1
	fi
	return $left
}

# e2e_cleanup: everything this harness made, whatever state the run is in;
# safe to call twice and from a trap. Returns 1 if something is left.
e2e_cleanup() {
	local pid p mnt left=0 addr
	for pid in "${E2E_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${E2E_PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	E2E_PIDS=()
	e2e_stop_dockerd || left=1
	if ((_e2e_made_bridge)) && [[ -e /sys/class/net/$E2E_BRIDGE ]]; then
		ip link del "$E2E_BRIDGE" || left=1
	fi
	_e2e_made_bridge=0
	if [[ -n ${E2E_TMP:-} && -e /sys/class/net/$E2E_GWBRIDGE ]]; then
		ip link del "$E2E_GWBRIDGE" 2>/dev/null
	fi
	# a docker_gwbridge device on our pool is ours (e2e_swarm_init avoids it)
	if [[ -n ${E2E_TMP:-} && -e /sys/class/net/docker_gwbridge ]]; then
		addr=$(ip -4 -o addr show dev docker_gwbridge | awk '{ print $4; exit }')
		if [[ $addr == "${E2E_POOL%.*.*}".* ]]; then
			ip link del docker_gwbridge 2>/dev/null
		fi
	fi
	# host paths dockerd made that were absent before (rmdir: only if empty)
	for p in "${_e2e_host_state[@]}"; do
		case $p in
		*/key.json)
			# not while another engine runs: it may have read this key
			pgrep -x dockerd >/dev/null || rm -f "$p"
			;;
		"$E2E_CGROOT/docker")
			awk '$3 == "cgroup" || $3 == "cgroup2" { print $2 }' /proc/self/mounts |
				while read -r mnt; do rmdir "$mnt/docker" 2>/dev/null; done
			;;
		*) rmdir "$p" 2>/dev/null ;;
		esac
	done
	_e2e_host_state=()
	if [[ -n ${E2E_TMP:-} && -d $E2E_TMP ]]; then
		# E2E_LOG_DIR: keep the engine's log (debugging a failed run)
		if [[ -n ${E2E_LOG_DIR:-} && -f $E2E_TMP/dockerd.log ]]; then
			mkdir -p "$E2E_LOG_DIR" && cp "$E2E_TMP/dockerd.log" "$E2E_LOG_DIR/dockerd.$(basename "$E2E_TMP").log"
		fi
		if [[ -z $(_e2e_our_mounts) ]]; then
			rm -rf --one-file-system "$E2E_TMP" || left=1
		else
			e2e_log "$E2E_TMP kept: mounts remain below it"
			left=1
		fi
	fi
	E2E_TMP=
	E2E_SOCK=
	return $left
}
