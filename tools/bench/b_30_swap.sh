# Policy compile and swap time. For each size:
#   check_ms   `dockguard check` wall time: process start, parse, compile
#   load_ms    `dockguard load` wall time: the same, plus the kernel work
#   swap_ms    what `load` itself reports ("swapped in X ms"): filling the
#              inactive slot and flipping to it, after the deferred grace
#              period of the slot's previous contents (userspace/kernel/kernel.c)
#   grace_ms   that grace period alone: the membarrier() call of a load,
#              timed by strace (a separate traced load per run, only when
#              strace is installed; --seccomp-bpf leaves the other syscalls
#              untraced)
# Each figure is the median of REPS loads of the same policy, after one load
# that sizes both slots' maps for it; that first load (maps replaced: a
# synchronize_rcu per inner map in the kernel) is recorded as first_swap_ms.
#
# Sourced by run.sh inside the private network namespace, after b_00.

REPS=${BENCH_REPS:-5}

{
	echo "$ENDPOINTS"
	awk 'BEGIN { for (r = 0; r < 999; r++) printf "allow { api, sock } from user %d\n", 300000 + r }'
	echo "allow { api, sock } from user 1001"
} >"$TMP/r1000.conf"

ms_since() { awk -v a="$1" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e6 }'; }

# swap_case NAME LABEL POLICY
swap_case() {
	local name=$1 label=$2 policy=$3 out t0 first rep checks=() loads=() swaps=() graces=()
	t0=$(date +%s%N)
	dg load "$TMP/p1.conf" >/dev/null	# start from a 1-rule policy in both slots
	dg load "$TMP/p1.conf" >/dev/null
	if ! out=$(dg load "$policy" 2>&1); then
		blog "swap $name: load failed: $out"
		return 1
	fi
	first=$(sed -n 's/.*swapped in \([0-9.]*\) ms.*/\1/p' <<<"$out")
	for ((rep = 0; rep < REPS; rep++)); do
		t0=$(date +%s%N)
		"$DG" check "$policy" >/dev/null || return 1
		checks+=("$(ms_since "$t0")")
		t0=$(date +%s%N)
		out=$(dg load "$policy" 2>&1) || { blog "swap $name: $out"; return 1; }
		loads+=("$(ms_since "$t0")")
		swaps+=("$(sed -n 's/.*swapped in \([0-9.]*\) ms.*/\1/p' <<<"$out")")
		if command -v strace >/dev/null; then
			out=$(strace -f --seccomp-bpf -T -e trace=membarrier -o /dev/stdout \
				"$DG" --bpffs "$BPFFS" --cgroup "$BCG/dg" load "$policy" 2>/dev/null |
				sed -n 's/.*membarrier(.*<\([0-9.]*\)>$/\1/p' | head -n 1)
			[[ -n $out ]] && graces+=("$(awk -v s="$out" 'BEGIN { printf "%.1f", s * 1000 }')")
		fi
	done
	local c l s g=null
	c=$(printf '%s\n' "${checks[@]}" | median)
	((${#graces[@]})) && g=$(printf '%s\n' "${graces[@]}" | median)
	l=$(printf '%s\n' "${loads[@]}" | median)
	s=$(printf '%s\n' "${swaps[@]}" | median)
	printf '  %-8s check %6.1f ms  load %6.1f ms  swap %6.1f ms  of which grace period %s ms  (first swap %s ms; swaps: %s)\n' \
		"$name" "$c" "$l" "$s" "$g" "${first:-?}" "${swaps[*]}" >&2
	record "$(jq -cn --arg n "$name" --arg l "$label" --argjson c "$c" --argjson lo "$l" \
		--argjson s "$s" --argjson f "${first:-null}" --arg sw "${swaps[*]}" --argjson reps "$REPS" \
		--argjson g "$g" \
		'{section:"swap", case:$n, label:$l, check_ms:$c, load_ms:$lo, swap_ms:$s, grace_ms:$g,
		  first_swap_ms:$f, reps:$reps, swaps:($sw | split(" ") | map(tonumber))}')"
}

# compile_case NAME LABEL POLICY: `check` alone, for policies the kernel
# tables are not sized for
compile_case() {
	local name=$1 label=$2 policy=$3 t0 rep checks=()
	for ((rep = 0; rep < REPS; rep++)); do
		t0=$(date +%s%N)
		"$DG" check "$policy" >/dev/null 2>&1 || { blog "compile $name: check failed"; return 1; }
		checks+=("$(ms_since "$t0")")
	done
	local c
	c=$(printf '%s\n' "${checks[@]}" | median)
	printf '  %-8s check %6.1f ms (compile only)\n' "$name" "$c" >&2
	record "$(jq -cn --arg n "$name" --arg l "$label" --argjson c "$c" --argjson reps "$REPS" \
		'{section:"swap", case:$n, label:$l, check_ms:$c, load_ms:null, swap_ms:null,
		  grace_ms:null, first_swap_ms:null, reps:$reps}')"
}

blog "policy swap: $REPS loads per size (median)"
swap_case r1 "1 rule" "$TMP/p1.conf" &&
	swap_case r1000 "1000 rules" "$TMP/r1000.conf" &&
	swap_case r4096 "4096 rules" "$TMP/r4096.conf" &&
	swap_case s65536 "4096 rules, 65536 subjects" "$TMP/s65536.conf" &&
	swap_case c4096 "4096 cgroup rules" "$TMP/c4096.conf" &&
	compile_case cg65536 "4096 rules x 16 cgroups (compile)" "$TMP/cg65536.conf" &&
	compile_case g65536 "65536 distinct gids (compile)" "$TMP/g65536.conf"
