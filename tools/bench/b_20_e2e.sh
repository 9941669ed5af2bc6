# End-to-end loopback connect latency and rate: a loop of socket + connect +
# close (with a reset, see dg-loadgen) against a listener, as the same
# allowed subject (uid 1001) under each configuration:
#   nohook          a cgroup with no program, no firewall rule
#   dg_unprotected  dockguard (the realistic 4-rule policy), a port it does
#                   not protect
#   dg_protected    dockguard, the protected port, allowed (cgroup + user rule)
#   ipt_N           no hook; N iptables owner rules on the port in this
#                   namespace's OUTPUT chain, one per uid, the client's last
#
# Rounds run every configuration once, each round in a rotated order; a
# configuration's figure is the median over rounds, and its ratio to no hook
# the median of the per-round ratios (so drift in the machine's load between
# rounds cancels out). Latency is each run's median connect (p50). With two
# CPUs or more, the listener runs on CPU 0 and the client on CPU 1: unpinned,
# the pair lands on one CPU or on two from run to run, and loopback connect
# latency differs by ~50 % between the two.
#
# Sourced by run.sh inside the private network namespace, after b_00.

ROUNDS=${BENCH_E2E_ROUNDS:-15}
E2E_COUNT=${BENCH_E2E_COUNT:-5000}
E2E_SECONDS=${BENCH_E2E_SECONDS:-0.5}

# ipt_rules N: an iptables-restore file with N owner rules, the last one the
# client's (uid 1001), then a REJECT for everyone else, as the README's setup
ipt_rules() {
	echo "*filter"
	echo ":INPUT ACCEPT [0:0]"
	echo ":FORWARD ACCEPT [0:0]"
	echo ":OUTPUT ACCEPT [0:0]"
	if (($1 > 0)); then
		awk -v n="$1" -v p="$P" 'BEGIN {
			for (r = 1; r < n; r++)
				printf "-A OUTPUT -d 127.0.0.1/32 -p tcp -m tcp --dport %d -m owner --uid-owner %d -j ACCEPT\n", p, 50000 + r
		}'
		echo "-A OUTPUT -d 127.0.0.1/32 -p tcp -m tcp --dport $P -m owner --uid-owner 1001 -j ACCEPT"
		echo "-A OUTPUT -d 127.0.0.1/32 -p tcp -m tcp --dport $P -j REJECT"
	fi
	echo "COMMIT"
}
for n in 0 1 100 1000; do ipt_rules "$n" >"$TMP/ipt$n.rules"; done
# The (empty) filter table exists for every configuration, so that they all
# pass the same netfilter hooks; only the rules differ.
iptables-restore <"$TMP/ipt0.rules" || { blog "iptables-restore failed"; return 1; }
IPT_VERSION=$(iptables -V)

dg load "$TMP/mixed.conf" >/dev/null || { blog "dockguard load failed"; return 1; }

PIN=()
if (($(nproc) >= 2)); then
	taskset -p -c 0 "$LISTENER_P" >/dev/null && taskset -p -c 0 "$LISTENER_P3" >/dev/null &&
		PIN=(taskset -c 1)
fi

CONFIGS=(nohook dg_unprotected dg_protected ipt_1 ipt_100 ipt_1000)
declare -A E2E_ARGS=(
	[nohook]="--cgroup $BCG/none --uid 1001 connect tcp 127.0.0.1 $P"
	[dg_unprotected]="--cgroup $BCG/dg/c --uid 1001 connect tcp 127.0.0.1 $P3"
	[dg_protected]="--cgroup $BCG/dg/nginx.service --groups 4242,100 --uid 1001 connect tcp 127.0.0.1 $P"
	[ipt_1]="--cgroup $BCG/none --uid 1001 connect tcp 127.0.0.1 $P"
	[ipt_100]="--cgroup $BCG/none --uid 1001 connect tcp 127.0.0.1 $P"
	[ipt_1000]="--cgroup $BCG/none --uid 1001 connect tcp 127.0.0.1 $P"
)
declare -A E2E_LABEL=(
	[nohook]="no hook"
	[dg_unprotected]="dockguard, unprotected port"
	[dg_protected]="dockguard, protected port, allowed"
	[ipt_1]="iptables, 1 owner rule"
	[ipt_100]="iptables, 100 owner rules"
	[ipt_1000]="iptables, 1000 owner rules"
)

blog "end to end: $ROUNDS rounds of up to $E2E_COUNT connects or ${E2E_SECONDS}s per configuration${PIN[*]:+, pinned}; $IPT_VERSION"
e2e_failed=0
for ((round = 0; round < ROUNDS; round++)); do
	for ((k = 0; k < ${#CONFIGS[@]}; k++)); do
		cfg=${CONFIGS[(k + round) % ${#CONFIGS[@]}]}
		if [[ $cfg == ipt_* ]]; then
			iptables-restore <"$TMP/ipt${cfg#ipt_}.rules" || { e2e_failed=1; break 2; }
		fi
		# shellcheck disable=SC2086
		out=$("${PIN[@]}" "$LOADGEN" --latency --count "$E2E_COUNT" --seconds "$E2E_SECONDS" ${E2E_ARGS[$cfg]})
		[[ $cfg == ipt_* ]] && iptables-restore <"$TMP/ipt0.rules"
		n=$(field n "$out")
		if [[ -z $n || $(field ok "$out") != "$n" ]]; then
			blog "e2e $cfg: not every connect succeeded: $out"
			e2e_failed=1
			break 2
		fi
		record "$(jq -cn --arg c "$cfg" --argjson r "$round" --argjson n "$n" \
			--argjson p50 "$(field p50_ns "$out")" --argjson p99 "$(field p99_ns "$out")" \
			--argjson mean "$(field mean_ns "$out")" --argjson el "$(field elapsed_ns "$out")" \
			'{section:"e2e_run", config:$c, round:$r, n:$n, p50_ns:$p50, p99_ns:$p99,
			  mean_ns:$mean, rate:($n * 1e9 / $el | floor)}')"
	done
	((round % 5 == 4)) && printf '  round %d done\n' "$((round + 1))" >&2
done
((e2e_failed)) && return 1

# the summary per configuration, from this run's rounds
for cfg in "${CONFIGS[@]}"; do
	jq -cs --arg c "$cfg" --arg l "${E2E_LABEL[$cfg]}" --arg ipt "$IPT_VERSION" \
		--argjson pinned "$( ((${#PIN[@]})) && echo true || echo false)" --arg stats "$(stats_state)" '
		def median: sort | if length == 0 then null
			elif length % 2 == 1 then .[length / 2 | floor]
			else (.[length / 2 - 1] + .[length / 2]) / 2 end;
		[.[] | select(.section == "e2e_run")] as $runs
		| ($runs | map(select(.config == "nohook")) | map({key: (.round | tostring), value: .})
		   | from_entries) as $base
		| [$runs[] | select(.config == $c)] as $mine
		| {section: "e2e", config: $c, label: $l, rounds: ($mine | length),
		   connects_per_run: ($mine | map(.n) | median),
		   p50_us: ($mine | map(.p50_ns / 1000) | median),
		   p99_us: ($mine | map(.p99_ns / 1000) | median),
		   mean_us: ($mine | map(.mean_ns / 1000) | median),
		   rate: ($mine | map(.rate) | median),
		   added_us: ($mine | map((.p50_ns - $base[.round | tostring].p50_ns) / 1000) | median),
		   ratio_p50: ($mine | map(.p50_ns / $base[.round | tostring].p50_ns) | median),
		   ratio_rate: ($mine | map(.rate / $base[.round | tostring].rate) | median),
		   pinned: $pinned, bpf_stats: $stats, iptables: (if $c | startswith("ipt") then $ipt else null end)}' "$RESULTS" >>"$RESULTS.tmp"
done
cat "$RESULTS.tmp" >>"$RESULTS"
rm -f "$RESULTS.tmp"
jq -r 'select(.section == "e2e") | "  \(.config): p50 \(.p50_us * 10 | round / 10) us, \(.rate) connects/s, x\(.ratio_p50 * 1000 | round / 1000) of no hook"' "$RESULTS" >&2
return 0
