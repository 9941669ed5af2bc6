#!/bin/bash
# The host audit: every listening socket of a real dockerd (and of its
# containerd), found from the kernel, each protected by an endpoint or NOT
# PROTECTED, in `status`, `load`, `check --host` and the daemon, which checks
# again when dockerd comes back with other -H flags.
#
# A private dockerd in a private network namespace (its 0.0.0.0 listener is
# reachable from nothing but this namespace): own data-root, exec-root,
# socket, pidfile, no bridge, no iptables. Hooks on a private test cgroup.
#
#   tests/e2e/audit.sh [BUILD_DIR]      ends with `engine: N passed, N failed`
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build=$root/$build

source "$root/tests/kernel/lib.sh"
enter_private_netns engine "$0" "$@"

DG=$build/dockguard
PROBE=$build/dg-probe
DOCKERD=$(command -v dockerd)
DOCKER=/usr/bin/docker
[[ -x $DOCKER ]] || DOCKER=$(command -v docker)
if [[ -z $DOCKERD || -z $DOCKER ]] || ! command -v containerd >/dev/null; then
	echo "skip engine: dockerd, containerd or the docker CLI not installed (apt-get install docker.io)"
	echo "engine: 0 passed, 0 failed"
	exit 0
fi
setup || { echo "engine: 0 passed, 1 failed"; exit 1; }
ip link set lo up

DPID=
E=$(mktemp -d /tmp/dgeng.XXXXXX)	# short: containerd's socket lives below it
chmod 0711 "$E"
stop_dockerd() {
	[[ -n $DPID ]] || return 0
	kill -TERM "$DPID" 2>/dev/null
	for _ in $(seq 1 100); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$DPID" 2>/dev/null
	wait "$DPID" 2>/dev/null
	DPID=
}
engine_cleanup() {
	stop_dockerd
	cleanup
	umount "$E/data" 2>/dev/null
	rm -rf "$E"
}
trap engine_cleanup EXIT

P=$((23000 + RANDOM % 6000))	# tcp://127.0.0.1:P, named by the policy
Q=$((P + 1))			# tcp://0.0.0.0:Q, not named at first
R=$((P + 2))			# tcp://127.0.0.1:R, after the restart
SOCK=$E/docker.sock

# start_dockerd HOST...: the private engine with these -H addresses
start_dockerd() {
	local hosts="" h
	for h in "$@"; do hosts+="${hosts:+, }\"$h\""; done
	cat >"$E/daemon.json" <<JSON
{
	"userns-remap": "default",
	"data-root": "$E/data",
	"exec-root": "$E/exec",
	"pidfile": "$E/dockerd.pid",
	"hosts": [$hosts],
	"bridge": "none",
	"iptables": false,
	"ip-forward": false,
	"ip-masq": false,
	"exec-opts": ["native.cgroupdriver=cgroupfs"],
	"log-level": "info"
}
JSON
	"$DOCKERD" --config-file "$E/daemon.json" >>"$E/dockerd.log" 2>&1 &
	DPID=$!
	for _ in $(seq 1 240); do
		kill -0 "$DPID" 2>/dev/null || break
		"$DOCKER" -H "unix://$SOCK" version >/dev/null 2>&1 && return 0
		sleep 0.25
	done
	echo "dockerd did not start; its log:" >&2
	tail -n 20 "$E/dockerd.log" >&2
	return 1
}

if ! start_dockerd "unix://$SOCK" "tcp://127.0.0.1:$P" "tcp://0.0.0.0:$Q"; then
	fail "engine: a private dockerd starts"
	echo "engine: $PASS passed, $FAIL failed"
	exit 1
fi
pass "engine: a private dockerd starts with a unix socket, tcp://127.0.0.1:$P and tcp://0.0.0.0:$Q"

cat >"$TMP/v1.conf" <<CONF
set docker-host unix://$SOCK
endpoint sock unix $SOCK
endpoint api tcp 127.0.0.1:$P
allow { sock, api } from user 0
CONF
{
	cat "$TMP/v1.conf"
	echo "endpoint api2 tcp *:$Q"
	echo "allow api2 from user 0"
} >"$TMP/v2.conf"

# ---- check --host: the audit without loading anything ---------------------
out=$("$DG" check --host "$TMP/v1.conf" 2>&1)
check "check --host: exit 1 while tcp://0.0.0.0:$Q is not protected" test $? -eq 1
check "check --host: names dockerd and how it was found" \
	grep -qE "^engine: +dockerd pid $DPID \(holds the Docker host socket of the policy\)" <<<"$out"
# dockerd (Go) binds tcp://0.0.0.0:Q as a dual-stack [::]:Q
WILDQ="tcp:(0\.0\.0\.0|\[::\]):$Q"
check "check --host: $WILDQ NOT PROTECTED" \
	grep -qE "dockerd +$WILDQ +NOT PROTECTED: no endpoint names it" <<<"$out"
check "check --host: tcp:127.0.0.1:$P protected by api" \
	grep -qE "dockerd +tcp:127.0.0.1:$P +protected by api" <<<"$out"
check "check --host: the unix socket: protected by sock, or named but unenforced on this kernel" \
	grep -qE "dockerd +unix:$SOCK +(protected by sock|NOT PROTECTED: endpoint sock names it)" <<<"$out"
check "check --host: containerd's socket is listed" \
	grep -qE "containerd +unix:$E/exec/containerd/containerd.sock " <<<"$out"
check "check --host: the summary counts what is open" \
	grep -q "check --host: [0-9]* root-equivalent listeners\? \(is\|are\) NOT PROTECTED" <<<"$out"
echo "$out" | sed 's/^/    /'
out=$("$DG" check --host --json "$TMP/v2.conf" 2>"$TMP/check.err")
rc=$?
cat "$TMP/check.err" >&2
if grep -q 'this kernel judges no unix connect' <<<"$out"; then
	check "check --host, v2: exit 1 (unix endpoints are not enforced on this kernel)" test $rc -eq 1
else
	check "check --host, v2 (tcp *:$Q added): exit 0" test $rc -eq 0
fi
check "check --host --json: the listener on every address of $Q protected by api2" \
	jq -e --arg q ":$Q" \
	'[.listeners[] | select(.listener | endswith($q))][0] | .state == "protected" and .endpoint == "api2"' \
	<<<"$(tail -n 1 <<<"$out")" >/dev/null
check "check --host --json: containerd's socket not reachable from containers (mode, no mount)" \
	jq -e '[.listeners[] | select(.process == "containerd" and (.listener | endswith("containerd.sock")))][0].state == "not reachable from containers"' \
	<<<"$(tail -n 1 <<<"$out")" >/dev/null

# ---- load and status --------------------------------------------------------
out=$(dg load "$TMP/v1.conf" 2>&1)
check "load: applied" grep -q "loaded (" <<<"$out"
check "load: warns that the listener on every address of $Q is NOT PROTECTED" \
	grep -qE "WARNING: dockerd \(pid $DPID\) listens on $WILDQ, NOT PROTECTED" <<<"$out"
st=$(dg status 2>&1)
check "status: engine section with the unprotected listener" \
	grep -qE "dockerd +$WILDQ +NOT PROTECTED" <<<"$st"
check "status: the protected TCP listener and where it is judged" \
	grep -qE "dockerd +tcp:127.0.0.1:$P +protected by api \(judged on 127.0.0.1:$P\)" <<<"$st"
stj=$(dg status --json 2>&1)
check "status --json: engine.listeners carries the states" \
	jq -e --arg q ":$Q" '.engine.dockerd_pid > 0 and ([.engine.listeners[] | select(.listener | endswith($q))][0].state == "NOT PROTECTED")' \
	<<<"$stj" >/dev/null
# what the audit says is what the kernel does: the unprotected port connects
# for a uid no rule allows, the protected one does not
expect "kernel agrees: tcp:127.0.0.1:$P (protected) for uid 1002: EPERM" EPERM \
	--cgroup "$CG" --uid 1002 connect tcp 127.0.0.1 "$P"
expect "kernel agrees: tcp:127.0.0.1:$Q (NOT PROTECTED) for uid 1002: ok" ok \
	--cgroup "$CG" --uid 1002 connect tcp 127.0.0.1 "$Q"

# ---- the daemon checks again when dockerd comes back with other -H ----------
RUN=$TMP/run
DLOG=$TMP/daemon.log
"$DG" --bpffs "$BPFFS" --cgroup "$CG" --run-dir "$RUN" run "$TMP/v2.conf" 2>"$DLOG" &
RPID=$!
PIDS+=("$RPID")
for _ in $(seq 1 100); do grep -q "following Docker" "$DLOG" && break; sleep 0.1; done
check "daemon: follows the private engine" grep -q "following Docker at unix://$SOCK" "$DLOG"
stop_dockerd
for _ in $(seq 1 100); do grep -q "lost the Docker API" "$DLOG" && break; sleep 0.1; done
if start_dockerd "unix://$SOCK" "tcp://127.0.0.1:$P" "tcp://0.0.0.0:$Q" "tcp://127.0.0.1:$R"; then
	for _ in $(seq 1 300); do
		grep -q "listens on tcp:127.0.0.1:$R, NOT PROTECTED" "$DLOG" && break
		sleep 0.1
	done
	check "daemon: after dockerd's restart, warns about the new tcp://127.0.0.1:$R" \
		grep -q "WARNING: dockerd (pid $DPID) listens on tcp:127.0.0.1:$R, NOT PROTECTED" "$DLOG"
	check "daemon: and no longer about tcp://0.0.0.0:$Q (api2 protects it)" \
		test -z "$(grep -E "listens on $WILDQ, NOT PROTECTED" "$DLOG")"
else
	fail "engine: dockerd restarts with another -H"
fi
kill "$RPID" 2>/dev/null
wait "$RPID" 2>/dev/null

echo "engine: $PASS passed, $FAIL failed"
((FAIL == 0))
