#!/bin/bash
# The API relay against the Docker API direct and against the peers it
# replaces, in one run: a private dockerd (tests/e2e/lib.sh), dockguard run
# serving a relay in front of its socket, the seeds' chain (nginx with basic
# auth in front of the API: Debian's nginx, upstream keep-alive on, which is
# kinder to it than the seeds' configuration) and an HAProxy section filter
# in the style of the HAProxy-based socket proxies (method and path regexes,
# Debian's haproxy), each one process, one thread; dg-httpload (keep-alive
# clients) on each. A peer that is not installed is left out (apt-get
# install nginx-light haproxy; only the benchmark uses them).
#
# Rows: container create with `guard create` and `own` (the body judged
# and labelled) against direct, BENCH_RELAY_CREATES each (default 100: the
# median of fewer moves by several % between runs on 2 cores),
# interleaved, by curl: the median create and the relay's share of it
# (target, issue 15: <= 10 %), and what judging a body costs per KiB
# (dg-bench-guard). GET /_ping and GET /containers/json (after BENCH_RELAY_CONTAINERS
# containers are created, default 20), 1 and 10 clients, BENCH_RELAY_SECONDS
# each (default 3): requests/s, p50 and p99. A stream: `docker cp` out of a
# BENCH_RELAY_STREAM_MB file (default 1024: GET /containers/ID/archive, a
# tar of it) through each, MB/s. Then the relay process's memory
# with 1000 idle connections (4 callers of 250: the relay takes at most 256
# from one identity). Targets (issue 12): p50 <= 1.3x direct, requests/s >=
# 75 % of direct at 10 clients, stream >= 90 % of direct, RSS <= 10 MB.
#
#   tools/bench/relay.sh BUILD_DIR     (run.sh calls it; $RESULTS is where
#                                       results go)
set -uo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH_DIR/../.." && pwd)
BUILD=${1:-build}
[[ $BUILD = /* ]] || BUILD=$ROOT/$BUILD
DG=$BUILD/dockguard
LOAD=$BUILD/dg-httpload
RESULTS=${RESULTS:-/dev/stdout}
SECONDS_EACH=${BENCH_RELAY_SECONDS:-3}
NCONT=${BENCH_RELAY_CONTAINERS:-20}
STREAM_MB=${BENCH_RELAY_STREAM_MB:-1024}

# a network setup of its own (tests/e2e and docker.sh use others)
export E2E_BRIDGE=dgbenchr0 E2E_GW_CIDR=10.217.0.1/24 E2E_POOL=10.217.128.0/17
export E2E_GWBRIDGE=dgbenchrgw0 E2E_GWBRIDGE_CIDR=10.217.1.0/24 E2E_SWARM_POOL=10.218.0.0/16
export E2E_VXLAN_PORT=47896 E2E_IMAGE=dgbenchr:latest
SECTION=relay
source "$BENCH_DIR/engine_lib.sh"
[[ -x $LOAD ]] || skipped "$LOAD is not built (make bench builds it)"
RELAY=$T/relay/docker.sock

engine_up
mkdir -p "$T/relay"
chmod 755 "$T/relay"

cat >"$T/relay.conf" <<CONF
relay r {
    listen unix $RELAY
    upstream unix $E2E_SOCK
}
set docker-host unix://$E2E_SOCK
api bench extends read-only {
    allow GET /containers/*/archive
}
allow r from user { 0, 1001, 1002, 1003, 1004 } api bench
api bench-create {
    allow POST /containers/create
    allow DELETE /containers/*
    guard create binds /srv/bench/**
    own
}
allow r from user 1005 api bench-create
CONF
export DOCKGUARD_DOCKER_DAEMON_JSON=$E2E_DAEMON_JSON
"$DG" --bpffs "$BPFFS" --cgroup "$CGD" --run-dir "$RUN" run "$T/relay.conf" 2>"$T/daemon.log" &
DGPID=$!
PIDS+=("$DGPID")
for _ in $(seq 100); do [[ -S $RELAY ]] && break; sleep 0.1; done
[[ -S $RELAY ]] || skipped "the daemon does not serve the relay: $(tail -n 2 "$T/daemon.log")"

# the peers, on unix sockets of their own
HOWS=(direct relay)
declare -A SOCK=([direct]=$E2E_SOCK [relay]=$RELAY) HEADER=()
if command -v nginx >/dev/null; then
	mkdir -p "$T/nginx"
	echo 'bench:{PLAIN}secret' >"$T/nginx/htpasswd"
	cat >"$T/nginx/nginx.conf" <<NGINX
user root;
worker_processes 1;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 1h;
    client_body_temp_path $T/nginx/body;
    proxy_temp_path $T/nginx/proxy;
    upstream dockerd { server unix:$E2E_SOCK; keepalive 32; }
    server {
        listen unix:$T/nginx.sock;
        auth_basic "docker";
        auth_basic_user_file $T/nginx/htpasswd;
        location / {
            proxy_pass http://dockerd;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }
    }
}
NGINX
	nginx -c "$T/nginx/nginx.conf" -g 'daemon off;' 2>"$T/nginx/stderr" &
	PIDS+=($!)
	for _ in $(seq 50); do [[ -S $T/nginx.sock ]] && break; sleep 0.1; done
	if [[ -S $T/nginx.sock ]]; then
		HOWS+=(nginx)
		SOCK[nginx]=$T/nginx.sock
		HEADER[nginx]="Authorization: Basic $(printf bench:secret | base64)"
	else
		blog "relay: nginx did not start: $(tail -n 2 "$T/nginx/stderr" "$T/nginx/error.log" 2>/dev/null)"
	fi
else
	blog "relay: nginx is not installed: left out"
fi
if command -v haproxy >/dev/null; then
	cat >"$T/haproxy.cfg" <<HAPROXY
global
    maxconn 4096
    nbthread 1
defaults
    mode http
    timeout connect 5s
    timeout client 1h
    timeout server 1h
frontend api
    bind unix@$T/haproxy.sock mode 666
    http-request deny unless { method GET } || { method HEAD }
    http-request allow if { path,url_dec -m reg -i ^(/v[0-9.]+)?/(_ping|version|info|events|containers/json|containers/[a-zA-Z0-9_.-]+/(json|archive)) }
    http-request deny
    default_backend dockerd
backend dockerd
    server dockerd unix@$E2E_SOCK
HAPROXY
	haproxy -db -f "$T/haproxy.cfg" >"$T/haproxy.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 50); do [[ -S $T/haproxy.sock ]] && break; sleep 0.1; done
	if [[ -S $T/haproxy.sock ]]; then
		HOWS+=(haproxy)
		SOCK[haproxy]=$T/haproxy.sock
	else
		blog "relay: haproxy did not start: $(tail -n 2 "$T/haproxy.log")"
	fi
else
	blog "relay: haproxy is not installed: left out"
fi

for ((i = 1; i <= NCONT; i++)); do
	e2e_docker create --name "benchr-$i" "$E2E_IMAGE" /bin/true >/dev/null || skipped "docker create failed"
done

# field NAME LINE
field() { sed -n "s/.*\\<$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }

# row TARGET CLIENTS: direct, then through the relay and each peer
row() {
	local target=$1 clients=$2 how out args
	for how in "${HOWS[@]}"; do
		args=(--clients "$clients" --seconds "$SECONDS_EACH")
		[[ -n ${HEADER[$how]:-} ]] && args+=(--header "${HEADER[$how]}")
		out=$("$LOAD" "${args[@]}" unix "${SOCK[$how]}" "/v1.41$target")
		if [[ $(field status "$out") != 200 || $(field errors "$out") != 0 ]]; then
			blog "relay: $how $target x$clients: $out"
			jq -cn --arg h "$how" --arg t "$target" --argjson c "$clients" --arg e "$out" \
				'{section:"relay", how:$h, target:$t, clients:$c, error:$e}' >>"$RESULTS"
			continue
		fi
		printf '  %-7s %-18s %2d clients  %7s req/s  p50 %5s us  p99 %5s us\n' "$how" "$target" "$clients" \
			"$(field rps "$out")" "$(field p50_us "$out")" "$(field p99_us "$out")" >&2
		jq -cn --arg h "$how" --arg t "$target" --argjson c "$clients" \
			--argjson rps "$(field rps "$out")" --argjson p50 "$(field p50_us "$out")" \
			--argjson p99 "$(field p99_us "$out")" \
			'{section:"relay", how:$h, target:$t, clients:$c, rps:$rps, p50_us:$p50, p99_us:$p99}' >>"$RESULTS"
	done
}

blog "relay: $SECONDS_EACH s per figure, $NCONT containers"
for target in /_ping /containers/json; do
	for clients in 1 10; do
		row "$target" "$clients"
	done
done

# a stream: docker cp out of a big file
if e2e_docker run --name benchr-stream "$E2E_IMAGE" \
	/bin/dd if=/dev/zero of=/big bs=1M count="$STREAM_MB" >/dev/null 2>&1; then
	for how in "${HOWS[@]}"; do
		args=(--once)
		[[ -n ${HEADER[$how]:-} ]] && args+=(--header "${HEADER[$how]}")
		out=$("$LOAD" "${args[@]}" unix "${SOCK[$how]}" "/v1.41/containers/benchr-stream/archive?path=/big")
		bytes=$(field bytes "$out")
		if [[ $(field status "$out") != 200 ]] || ((${bytes:-0} < STREAM_MB * 1048576)); then
			blog "relay: stream through $how: $out"
			jq -cn --arg h "$how" --arg e "$out" '{section:"relay", how:$h, stream:true, error:$e}' >>"$RESULTS"
			continue
		fi
		printf '  %-7s docker cp of %d MiB: %s MB/s\n' "$how" "$STREAM_MB" "$(field MBps "$out")" >&2
		jq -cn --arg h "$how" --argjson mb "$STREAM_MB" --argjson r "$(field MBps "$out")" \
			--argjson s "$(field seconds "$out")" \
			'{section:"relay", how:$h, stream_mib:$mb, mb_per_s:$r, seconds:$s}' >>"$RESULTS"
	done
	e2e_docker rm -f benchr-stream >/dev/null 2>&1
else
	blog "relay: could not make the stream's file"
fi

# container create, direct and through the guard and `own`, interleaved
CREATES=${BENCH_RELAY_CREATES:-100}
create_body='{"Image":"'"$E2E_IMAGE"'","Cmd":["/bin/true"],"Labels":{"bench":"1"},"HostConfig":{"Binds":["/srv/bench/w:/w"],"NetworkMode":"none","Privileged":false,"CapDrop":["ALL"]}}'
: >"$T/create.direct"
: >"$T/create.relay"
for i in $(seq "$CREATES"); do
	for how in direct relay; do
		# direct: root, as the socket wants; through the relay: uid 1005
		who=()
		[[ $how == relay ]] && who=(setpriv --reuid 1005 --regid 1005 --clear-groups)
		out=$("${who[@]}" curl -s -w '\n%{http_code} %{time_total}' --unix-socket "${SOCK[$how]}" \
			-H 'Content-Type: application/json' -d "$create_body" \
			"http://docker/v1.41/containers/create?name=benchr-c-$how-$i")
		t=${out##*$'\n'}
		if [[ ${t%% *} == 201 ]]; then
			echo "${t#* }" >>"$T/create.$how"
		else
			blog "relay: create through $how: ${out:0:300}"
		fi
		e2e_docker rm -f "benchr-c-$how-$i" >/dev/null 2>&1
	done
done
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { if (NR) printf "%.2f", v[int((NR + 1) / 2)] * 1000 }'; }
cd_ms=$(median "$T/create.direct")
cr_ms=$(median "$T/create.relay")
if [[ -n $cd_ms && -n $cr_ms ]]; then
	share=$(awk -v d="$cd_ms" -v r="$cr_ms" 'BEGIN { printf "%.1f", (r - d) * 100 / d }')
	printf '  container create (%d each): direct %s ms, relay with guard + own %s ms (median): +%s %%\n' \
		"$CREATES" "$cd_ms" "$cr_ms" "$share" >&2
	jq -cn --argjson d "$cd_ms" --argjson r "$cr_ms" --argjson p "$share" --argjson n "$CREATES" \
		'{section:"relay", create:true, creates:$n, direct_ms:$d, relay_ms:$r, overhead_pct:$p}' >>"$RESULTS"
fi
if [[ -x $BUILD/dg-bench-guard ]]; then
	while read -r _ kib ns per; do
		printf '  guard: a %s KiB create body judged in %s us (%s ns per KiB)\n' "$kib" "$((ns / 1000))" "$per" >&2
		jq -cn --argjson k "$kib" --argjson n "$ns" --argjson p "$per" \
			'{section:"relay", guard_body_kib:$k, ns:$n, ns_per_kib:$p}' >>"$RESULTS"
	done < <("$BUILD/dg-bench-guard")
fi

# the relay process (the daemon's child) with 1000 idle connections
relay_pid=$(ps -o pid= --ppid "$DGPID" | head -n 1 | tr -d ' ')
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$relay_pid/status"; }
if [[ -n $relay_pid ]]; then
	before=$(rss)
	for uid in 1001 1002 1003 1004; do
		setpriv --reuid "$uid" --regid "$uid" --clear-groups "$LOAD" --idle 250 unix "$RELAY" >"$T/idle.$uid" 2>&1 &
		PIDS+=($!)
	done
	for _ in $(seq 100); do
		[[ $(cat "$T"/idle.* 2>/dev/null | grep -c '^idle 250') == 4 ]] && break
		sleep 0.1
	done
	sleep 0.5
	held=$(ls -l "/proc/$relay_pid/fd" 2>/dev/null | grep -c socket)
	after=$(rss)
	printf '  relay RSS: %s kB idle, %s kB with 1000 idle connections (%s sockets open)\n' "$before" "$after" "$held" >&2
	jq -cn --argjson b "$before" --argjson a "$after" --argjson s "$held" \
		'{section:"relay", idle_connections:1000, rss_kb_before:$b, rss_kb:$a, sockets:$s}' >>"$RESULTS"
else
	blog "relay: no relay process found"
fi
