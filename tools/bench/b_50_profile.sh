# Where the hook time goes: perf samples (cpu-clock: this machine has no
# hardware counters) of a loop of connects, keeping the samples whose stack
# passes through a cgroup BPF hook (__cgroup_bpf_run_filter_*: sock_addr for
# connect, sock_ops, skb), attributed to the function that was running (a
# BPF subprogram, a map's lookup, a helper).
# Only when perf is installed; BENCH_PROFILE=0 skips it.
#
# Sourced by run.sh inside the private network namespace, after b_00.
# shellcheck disable=SC2086 # FREE and DEST hold PROTO ADDR [PORT], split on purpose

if [[ ${BENCH_PROFILE:-1} == 0 ]]; then
	blog "profile: skipped (BENCH_PROFILE=0)"
	return 0
fi
if ! command -v perf >/dev/null; then
	blog "profile: skipped (perf is not installed: apt-get install linux-perf)"
	return 0
fi
PROFILE_N=${BENCH_PROFILE_COUNT:-200000}

# profile CASE POLICY LOADGEN-ARGS...
profile() {
	local case=$1 policy=$2 data=$TMP/perf.$1.data
	shift 2
	dg load "$policy" >/dev/null || return 1
	perf record -q -e cpu-clock -F 10000 -g -o "$data" -- \
		"$LOADGEN" --count "$PROFILE_N" "$@" >/dev/null 2>&1 || { blog "perf record failed"; return 1; }
	perf script -i "$data" 2>/dev/null | awk -v c="$case" '
		function flush() { if (inhook) { n[leaf]++; hook++ } total++ }
		/ cpu-clock:/ { if (started) flush(); started = 1; leaf = ""; inhook = 0; first = 1; next }
		/^\t/ {
			sym = $2
			sub(/\+0x[0-9a-f]+$/, "", sym)
			if (first) { leaf = sym; first = 0 }
			if (sym ~ /^__cgroup_bpf_run_filter_/) inhook = 1
			next
		}
		END {
			if (started) flush()
			if (!hook) { printf "{\"section\":\"profile\",\"case\":\"%s\",\"samples\":%d,\"hook_samples\":0,\"top\":[]}\n", c, total; exit }
			m = 0
			for (s in n) { k[++m] = s }
			# the 10 busiest, by selection (m is small)
			printf "{\"section\":\"profile\",\"case\":\"%s\",\"samples\":%d,\"hook_samples\":%d,\"top\":[", c, total, hook
			for (i = 1; i <= 10 && i <= m; i++) {
				b = i
				for (j = i + 1; j <= m; j++) if (n[k[j]] > n[k[b]]) b = j
				t = k[i]; k[i] = k[b]; k[b] = t
				name = k[i]
				sub(/^bpf_prog_[0-9a-f]+_/, "bpf:", name)
				printf "%s{\"fn\":\"%s\",\"pct\":%.1f}", (i > 1 ? "," : ""), name, 100 * n[k[i]] / hook
			}
			printf "]}\n"
		}' | jq -c --arg s "$(stats_state)" '. + {bpf_stats: $s}' >>"$RESULTS"
	rm -f "$data"
	tail -n 1 "$RESULTS" | jq -r '"  \(.case): \(.hook_samples) of \(.samples) samples in the hook; " +
		([.top[] | "\(.fn) \(.pct)%"] | join(", "))' >&2
}

blog "profile: perf cpu-clock samples in the hook, $PROFILE_N connects per case"
profile fast_tcp4 "$TMP/p1.conf" --cgroup "$BCG/dg/c" --uid 1002 connect ${FREE[tcp4]}
profile fast_unix "$TMP/p1.conf" --cgroup "$BCG/dg/c" --uid 1002 connect ${FREE[unix]}
profile p1_tcp4_allow "$TMP/p1.conf" --cgroup "$BCG/dg/c" --uid 1001 connect ${DEST[tcp4]}
profile p1_tcp4_deny "$TMP/p1.conf" --cgroup "$BCG/dg/c" --uid 1002 connect ${DEST[tcp4]}
profile mixed_tcp4_deny "$TMP/mixed.conf" --cgroup "$BCG/dg/c" --groups 100 --uid 1002 connect ${DEST[tcp4]}
profile r4096_tcp4_deny "$TMP/r4096.conf" --cgroup "$BCG/dg/c" --uid 1002 connect ${DEST[tcp4]}
profile c4096_tcp4_deny "$TMP/c4096.conf" --cgroup "$BCG/dg/c" --uid 1002 connect ${DEST[tcp4]}
return 0
