# The event pipeline under a flood of denied connects, with the daemon
# (`dockguard run`) running and logging to a file. Four subjects (uids
# 2001-2004, each in its own cgroup; tcp4, tcp6, unix, tcp4) connect in
# parallel:
#   paced     at BENCH_FLOOD_RATE connects/s in all (default 100000), for
#             BENCH_FLOOD_SECONDS (5), at the default log-rate 20/s
#   max       as fast as they can, 3 s, log-rate 20/s
#   log_all   paced, 3 s, log-rate 1000000/s: every denial is an event
# Measured: denials made (the clients' EPERMs) against denials counted (the
# rules' counters) and events reported + suppressed + dropped (they must add
# up to the denials), events the daemon logged, its CPU (utime + stime from
# /proc/PID/stat over the flood and the drain after it) and VmRSS (peak).
#
# Sourced by run.sh inside the private network namespace, after b_00.

FLOOD_RATE=${BENCH_FLOOD_RATE:-100000}
FLOOD_SECONDS=${BENCH_FLOOD_SECONDS:-5}
RUN=$TMP/run
DLOG=$TMP/daemon.log
HZ=$(getconf CLK_TCK)

flood_policy() {	# flood_policy LOG-RATE
	cat >"$TMP/flood.conf" <<CONF
$ENDPOINTS
set log-rate $1
set docker-host unix://$TMP/no-docker.sock
allow { api, sock } from user 1001
deny { api, sock } from user 2001-2004
CONF
}

# counters: "DENIED REPORTED SUPPRESSED DROPPED" from the pinned maps
counters() {
	dg status --json | jq -r '"\([.rules[].denied] | add) \(.events.reported) \(.events.suppressed) \(.events.dropped)"'
}
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }	# utime + stime
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
log_events() { grep -c ' connect pid ' "$DLOG" 2>/dev/null || true; }

flood_policy 20/s
: >"$DLOG"
"$DG" --bpffs "$BPFFS" --cgroup "$BCG/dg" --run-dir "$RUN" run "$TMP/flood.conf" 2>>"$DLOG" &
DPID=$!
PIDS+=("$DPID")
for _ in $(seq 1 100); do [[ -S $RUN/control.sock ]] && break; sleep 0.05; done
if [[ ! -S $RUN/control.sock ]]; then
	blog "the daemon did not start: $(tail -n 3 "$DLOG")"
	return 1
fi

FPROTO=(tcp4 tcp6 unix tcp4)

# flood NAME LABEL SECONDS RATE(0 = as fast as possible) LOG-RATE
flood() {
	local name=$1 label=$2 secs=$3 rate=$4 lograte=$5 i w wpids=() c0 c1 cpu0 cpu1 t0 t1 tf
	local rss0 peak r ev0 ev1 prev made=0 other=0 out rate_sum=0
	rss0=$(rss_kb "$DPID")
	read -r -a c0 < <(counters)
	cpu0=$(cpu_ticks "$DPID")
	ev0=$(log_events)
	t0=$(date +%s%N)
	local pace=()
	((rate > 0)) && pace=(--rate $((rate / 4)))
	for i in 1 2 3 4; do
		# shellcheck disable=SC2086 # DEST holds PROTO ADDR [PORT]
		"$LOADGEN" --cgroup "$BCG/dg/f$i" --uid $((2000 + i)) --seconds "$secs" "${pace[@]}" \
			connect ${DEST[${FPROTO[i - 1]}]} >"$TMP/flood.$i.out" 2>&1 &
		wpids+=($!)
	done
	PIDS+=("${wpids[@]}")
	peak=$rss0
	while :; do
		r=$(rss_kb "$DPID")
		((r > peak)) && peak=$r
		w=0
		for i in "${wpids[@]}"; do kill -0 "$i" 2>/dev/null && w=1; done
		((w)) || break
		sleep 0.2
	done
	for i in "${wpids[@]}"; do wait "$i"; done
	tf=$(date +%s%N)
	# until the daemon has logged what the kernel reported (10 s at most)
	prev=-1
	for _ in $(seq 1 50); do
		ev1=$(log_events)
		[[ $ev1 == "$prev" ]] && break
		prev=$ev1
		r=$(rss_kb "$DPID")
		((r > peak)) && peak=$r
		sleep 0.2
	done
	t1=$(date +%s%N)
	cpu1=$(cpu_ticks "$DPID")
	read -r -a c1 < <(counters)
	for i in 1 2 3 4; do
		out=$(cat "$TMP/flood.$i.out")
		made=$((made + $(field eperm "$out")))
		other=$((other + $(field n "$out") - $(field eperm "$out")))
		# each client's own rate, over its own loop (not its start-up)
		rate_sum=$((rate_sum + $(field eperm "$out") * 1000000000 / $(field elapsed_ns "$out")))
	done
	local counted=$((c1[0] - c0[0])) rep=$((c1[1] - c0[1])) sup=$((c1[2] - c0[2])) drop=$((c1[3] - c0[3]))
	local logged=$((ev1 - ev0))
	record "$(jq -cn --arg n "$name" --arg l "$label" --argjson secs "$secs" --argjson rate "$rate" \
		--arg lr "$lograte" --argjson made "$made" --argjson other "$other" \
		--argjson counted "$counted" --argjson rep "$rep" --argjson sup "$sup" --argjson drop "$drop" \
		--argjson logged "$logged" --argjson flood_ns $((tf - t0)) --argjson wall_ns $((t1 - t0)) \
		--argjson ticks $((cpu1 - cpu0)) --argjson hz "$HZ" --argjson rss0 "$rss0" --argjson peak "$peak" \
		--argjson rs "$rate_sum" --arg stats "$(stats_state)" \
		'{section:"flood", case:$n, label:$l, seconds:$secs, target_rate:$rate, log_rate:$lr,
		  subjects:4, denials:$made, not_denied:$other,
		  denials_per_s:$rs, flood_wall_s:($flood_ns / 1e9 * 100 | round / 100),
		  counted:$counted, all_counted:($counted == $made),
		  events_reported:$rep, events_suppressed:$sup, ring_drops:$drop,
		  accounted:($rep + $sup + $drop == $made), daemon_logged:$logged,
		  daemon_cpu_s:($ticks / $hz), daemon_cpu_pct:($ticks / $hz * 1e9 / $wall_ns * 100 * 10 | round / 10),
		  measured_over_s:($wall_ns / 1e9 * 100 | round / 100),
		  rss_kb_before:$rss0, rss_kb_peak:$peak, bpf_stats:$stats}')"
	jq -r 'select(.section == "flood") | "  \(.case): \(.denials) denials in \(.seconds) s (\(.denials_per_s)/s), counted \(.counted), events \(.events_reported) + suppressed \(.events_suppressed) + dropped \(.ring_drops), daemon logged \(.daemon_logged), CPU \(.daemon_cpu_pct) %, RSS peak \(.rss_kb_peak / 1024 * 10 | round / 10) MB"' \
		<(tail -n 1 "$RESULTS") >&2
}

blog "event flood: 4 subjects, daemon pid $DPID"
flood paced "paced, log-rate 20/s" "$FLOOD_SECONDS" "$FLOOD_RATE" 20/s
flood max "as fast as possible, log-rate 20/s" 3 0 20/s

flood_policy 1000000/s
n0=$(grep -c 'reloaded' "$DLOG")
kill -HUP "$DPID"
for _ in $(seq 1 50); do (($(grep -c 'reloaded' "$DLOG") > n0)) && break; sleep 0.1; done
flood log_all "paced, every denial an event (log-rate 1000000/s)" 3 "$FLOOD_RATE" 1000000/s

kill -TERM "$DPID" 2>/dev/null
wait "$DPID" 2>/dev/null
return 0
