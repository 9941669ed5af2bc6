#!/bin/bash
# Container identity latency: how long after Docker creates a container its
# identity is in the policy in force, with the daemon following a private
# dockerd (tests/e2e/lib.sh: userns-remap, own data-root, exec-root, socket,
# pidfile; a bridge and address ranges of its own, so that it can run beside
# an end-to-end test run). Plain runc: the daemon races the container's start
# (dockguard-runc would make the start wait, hiding the latency).
#
# For each of BENCH_DOCKER_N containers (default 10), started one at a time
# with `docker run -d`, a watcher polls the generation in force (what the
# programs read: policy[config.active_slot], every 200 us) and notes when it
# changes; `docker events` gives the engine's create and start times (same
# clock). Recorded: create event -> in force, start event -> in force
# (negative: in force before the container started), `docker run` issued ->
# in force. Then a functional check: a container the policy names connects,
# one it does not is refused.
#
#   tools/bench/docker.sh BUILD_DIR     (run.sh calls it; $RESULTS is where
#                                        results go)
set -uo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH_DIR/../.." && pwd)
BUILD=${1:-build}
[[ $BUILD = /* ]] || BUILD=$ROOT/$BUILD
DG=$BUILD/dockguard
PROBE=$BUILD/dg-probe
BENCH_BPF=$BUILD/dg-bench-bpf
RESULTS=${RESULTS:-/dev/stdout}
N=${BENCH_DOCKER_N:-10}

# a network setup of its own (tests/e2e uses 10.213/10.214 and dgbr0)
export E2E_BRIDGE=dgbench0 E2E_GW_CIDR=10.215.0.1/24 E2E_POOL=10.215.128.0/17
export E2E_GWBRIDGE=dgbenchgw0 E2E_GWBRIDGE_CIDR=10.215.1.0/24 E2E_SWARM_POOL=10.216.0.0/16
export E2E_VXLAN_PORT=47895 E2E_IMAGE=dgbench:latest
SECTION=docker
source "$BENCH_DIR/engine_lib.sh"

P=$((22000 + RANDOM % 8000))
t0=$(date +%s)
# Hooks at the engine's container parent, as in tests/e2e. They judge only
# this run's endpoint (a port of its own on its own bridge), so containers of
# another engine below /docker are untouched.
engine_up
blog "docker: private dockerd up in $(($(date +%s) - t0)) s"
e2e_listen "$PROBE" "$E2E_GW" "$P" || skipped "no listener on $E2E_GW:$P"

cat >"$T/bench.conf" <<CONF
endpoint api tcp $E2E_GW:$P
set docker-host unix://$E2E_SOCK
allow api from container name bench-*
deny api from container name *
CONF
export DOCKGUARD_DOCKER_DAEMON_JSON=$E2E_DAEMON_JSON	# the private engine's remap
"$DG" --bpffs "$BPFFS" --cgroup "$CGD" --run-dir "$RUN" run "$T/bench.conf" 2>"$T/daemon.log" &
PIDS+=($!)
connected=false
for _ in $(seq 1 100); do
	connected=$("$DG" --bpffs "$BPFFS" --run-dir "$RUN" status --json 2>/dev/null | jq -r '.docker.connected // false')
	[[ $connected == true ]] && break
	sleep 0.1
done
[[ $connected == true ]] || skipped "the daemon does not follow the private dockerd: $(tail -n 2 "$T/daemon.log")"

e2e_docker events --filter type=container --format '{{.Status}} {{.ID}} {{.TimeNano}}' >"$T/events" 2>&1 &
PIDS+=($!)
sleep 0.5

gen() { "$DG" --bpffs "$BPFFS" status --json | jq -r .generation; }
event_time() { awk -v s="$1" -v id="$2" '$1 == s && $2 == id { print $3; exit }' "$T/events"; }

blog "docker: $N containers, one at a time (plain runc)"
for ((i = 1; i <= N; i++)); do
	sleep 0.3	# the daemon settles the previous swap
	g0=$(gen)
	# the watcher is ready before the container is asked for
	"$BENCH_BPF" watch-gen "$BPFFS" "$g0" 10000 >"$T/watch" 2>&1 &
	wpid=$!
	for _ in $(seq 1 500); do grep -q watching "$T/watch" && break; sleep 0.01; done
	t_cli=$(date +%s%N)
	id=$(e2e_docker run -d --runtime runc --name "bench-$i" "$E2E_IMAGE" sleep 600) || {
		blog "docker run failed"
		kill "$wpid"
		break
	}
	wait "$wpid"
	read -r t_force g1 < <(grep -v watching "$T/watch") || t_force=
	for _ in $(seq 1 20); do [[ -n $(event_time start "$id") ]] && break; sleep 0.1; done
	t_create=$(event_time create "$id")
	t_start=$(event_time start "$id")
	if [[ -z $t_force || -z $t_create || -z $t_start ]]; then
		blog "container $i: no time (in force '${t_force:-}', create '${t_create:-}', start '${t_start:-}')"
		continue
	fi
	jq -cn --argjson i "$i" --argjson cli "$t_cli" --argjson c "$t_create" --argjson s "$t_start" \
		--argjson f "$t_force" --argjson g0 "$g0" --argjson g1 "$g1" \
		'{section:"docker_run", container:$i, generation_before:$g0, generation_after:$g1,
		  create_to_force_ms:(($f - $c) / 1e6), start_to_force_ms:(($f - $s) / 1e6),
		  cli_to_force_ms:(($f - $cli) / 1e6), cli_to_start_ms:(($s - $cli) / 1e6)}' >>"$RESULTS"
	awk -v i="$i" -v c="$t_create" -v s="$t_start" -v f="$t_force" -v cli="$t_cli" 'BEGIN {
		printf "  bench-%d: create -> in force %6.1f ms, start -> in force %6.1f ms, docker run -> in force %6.1f ms\n",
			i, (f - c) / 1e6, (f - s) / 1e6, (f - cli) / 1e6 }' >&2
done

# functional: the identity in force is the container's
ok=$(e2e_docker exec "bench-1" /bin/dg-probe connect tcp "$E2E_GW" "$P" 2>&1 | head -n 1)
e2e_docker run -d --runtime runc --name "other-1" "$E2E_IMAGE" sleep 600 >/dev/null
sleep 1
refused=$(e2e_docker exec "other-1" /bin/dg-probe connect tcp "$E2E_GW" "$P" 2>&1 | head -n 1)
blog "docker: bench-1 connects: $ok; other-1 connects: $refused"

jq -cs --arg ok "$ok" --arg refused "$refused" --argjson n "$N" '
	def median: sort | if length == 0 then null
		elif length % 2 == 1 then .[length / 2 | floor]
		else (.[length / 2 - 1] + .[length / 2]) / 2 end;
	[.[] | select(.section == "docker_run")] as $r
	| {section:"docker", containers:$n, measured:($r | length),
	   create_to_force_ms:($r | map(.create_to_force_ms) | median),
	   create_to_force_max_ms:($r | map(.create_to_force_ms) | max),
	   start_to_force_ms:($r | map(.start_to_force_ms) | median),
	   cli_to_force_ms:($r | map(.cli_to_force_ms) | median),
	   cli_to_start_ms:($r | map(.cli_to_start_ms) | median),
	   in_force_before_start:($r | map(select(.start_to_force_ms <= 0)) | length),
	   named_container_allowed:($ok == "ok"), other_container_refused:($refused == "EPERM")}' \
	"$RESULTS" >"$T/summary"
cat "$T/summary" >>"$RESULTS"
jq -r '"  median: create -> in force \(.create_to_force_ms) ms (max \(.create_to_force_max_ms)), start -> in force \(.start_to_force_ms) ms; in force before start: \(.in_force_before_start) of \(.measured)"' "$T/summary" >&2
