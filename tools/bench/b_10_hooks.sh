# Hook cost per connect, from the kernel's own accounting (bpf_stats:
# run_time_ns / run_cnt of each attached program, read by program id before
# and after a run of connects, so only this run's connects count).
#
# Cases: the empty program (the floor every cgroup sock_addr program pays),
# dockguard's fast path (unprotected destination), and protected
# destinations under policies of growing size. Protected cases are measured
# for an allowed and a denied subject, each connecting for real (the allowed
# one completes the TCP or unix connect against a listener).
#
# Sourced by run.sh inside the private network namespace.

N_ALLOW=${BENCH_HOOK_ALLOW:-5000}
N_DENY=${BENCH_HOOK_DENY:-20000}
REPS=${BENCH_REPS:-5}

# ---- measuring ------------------------------------------------------------
# snapshot ID...: "ID RUN_TIME_NS RUN_CNT" for each program, from one bpftool
# call (bpf_stats must be on)
snapshot() {
	bpftool prog show --json | jq -r --arg ids " $* " \
		'.[] | .id as $i | select($ids | contains(" \($i) ")) | "\(.id) \(.run_time_ns // 0) \(.run_cnt // 0)"'
}

# hook_run CASE LABEL PROTO SUBJECT WANT PROG_ID N LOADGEN-ARGS...
# REPS runs of N connects. Records the median ns per run of PROG_ID (the
# connect hook) and, over every program in $SET_IDS (all the programs of the
# set under test: dockguard may attach more than the connect hooks), the
# median BPF time per connect and each program's runs per connect.
hook_run() {
	local case=$1 label=$2 proto=$3 subject=$4 want=$5 id=$6 n=$7
	shift 7
	local rep out vals=() totals=() bad="" a b hook_ns total_ns hook_runs runs=""
	for ((rep = 0; rep < REPS; rep++)); do
		a=$(snapshot "$SET_IDS")
		out=$("$LOADGEN" --count "$n" "$@")
		b=$(snapshot "$SET_IDS")
		if [[ $(field "$want" "$out") != "$n" ]]; then
			bad="want $n $want, got: $out"
			break
		fi
		# per program: runs and time in this rep
		read -r hook_ns total_ns hook_runs < <(LC_ALL=C join <(LC_ALL=C sort <<<"$a") <(LC_ALL=C sort <<<"$b") |
			awk -v id="$id" -v n="$n" '{ t = $4 - $2; c = $5 - $3; tot += t
				if ($1 == id) { ht = t; hc = c } }
				END { printf "%.1f %.1f %d\n", hc ? ht / hc : 0, tot / n, hc }')
		if ((hook_runs < n)); then
			bad="the program ran $hook_runs times for $n connects (bpf_stats off?)"
			break
		fi
		vals+=("$hook_ns")
		totals+=("$total_ns")
		# runs per connect of every program of the set (the last rep's)
		runs=$(LC_ALL=C join <(LC_ALL=C sort <<<"$a") <(LC_ALL=C sort <<<"$b") | awk -v n="$n" '$5 - $3 > 0 { printf "%s%s:%.2f", s, $1, ($5 - $3) / n; s = " " }')
	done
	if [[ -n $bad ]]; then
		blog "hook $case $proto $subject: $bad"
		record "$(jq -cn --arg c "$case" --arg l "$label" --arg p "$proto" --arg s "$subject" \
			--arg e "$bad" '{section:"hook", case:$c, label:$l, proto:$p, subject:$s, error:$e}')"
		return 1
	fi
	local med tot
	med=$(printf '%s\n' "${vals[@]}" | median)
	tot=$(printf '%s\n' "${totals[@]}" | median)
	printf '  %-9s %-5s %-6s %7.1f ns/run  %7.1f ns/connect, all programs  (runs: %s)\n' \
		"$case" "$proto" "$subject" "$med" "$tot" "${vals[*]}" >&2
	record "$(jq -cn --arg c "$case" --arg l "$label" --arg p "$proto" --arg s "$subject" \
		--argjson m "$med" --argjson t "$tot" --argjson n "$n" --arg v "${vals[*]}" --arg r "$runs" \
		--argjson names "$SET_NAMES" \
		'{section:"hook", case:$c, label:$l, proto:$p, subject:$s, ns_per_run:$m,
		  all_programs_ns_per_connect:$t, connects_per_rep:$n,
		  reps:($v | split(" ") | map(tonumber)),
		  runs_per_connect:($r | split(" ") | map(split(":") | {key: ($names[.[0]] // .[0]), value: (.[1] | tonumber)}) | from_entries)}')"
}

# prog_size HOOK ID WHOSE: the verifier's view of one program
prog_size() {
	bpftool prog show id "$2" --json |
		jq -c --arg h "$1" --arg w "$3" '{section:"prog", prog:$w, hook:$h, name, bytes_xlated,
			insns_xlated:(.bytes_xlated / 8), bytes_jited}' >>"$RESULTS"
}

blog "hook cost: $REPS runs of $N_ALLOW allowed / $N_DENY denied connects per figure (median)"
stats_on || { blog "cannot switch on bpf_stats (kernel.bpf_stats_enabled)"; return 1; }

# the empty programs, on their own cgroup
"$CC_BPF" -g -O2 -target bpf -Wall -Wextra -Werror -Wno-unused-parameter -I"$BUILD" \
	-c "$BENCH_DIR/empty.bpf.c" -o "$TMP/empty.bpf.o" || return 1
declare -A EMPTY_ID
while read -r h id; do EMPTY_ID[$h]=$id; done < <("$BENCH_BPF" attach "$TMP/empty.bpf.o" "$BCG/empty" "$BPFMNT")
for proto in "${PROTOS[@]}"; do
	id=${EMPTY_ID[${HOOK[$proto]}]:-}
	if [[ -z $id ]]; then
		blog "no empty ${HOOK[$proto]} program (kernel without the hook?): $proto skipped"
		continue
	fi
	prog_size "${HOOK[$proto]}" "$id" empty
	SET_IDS=$id
	SET_NAMES=$(jq -cn --arg id "$id" --arg h "${HOOK[$proto]}" '{($id): $h}')
	# shellcheck disable=SC2086
	hook_run empty "empty program" "$proto" any ok "$id" "$N_ALLOW" \
		--cgroup "$BCG/empty" --uid 1002 connect ${FREE[$proto]}
done

dg load "$TMP/p1.conf" >/dev/null || { blog "dockguard load failed"; return 1; }
declare -A DG_ID
for proto in "${PROTOS[@]}"; do
	DG_ID[$proto]=$(dg_prog_id "${HOOK[$proto]}")
done
# every program dockguard attached, whatever the hooks: the connect hooks
# and any other (sock_ops, cgroup_skb, ...) that a connect may run
SET_NAMES=$(dg status --json | jq -c '[.hooks[] | select(.prog_id > 0) | {key: (.prog_id | tostring), value: .hook}] | from_entries')
SET_IDS=$(jq -r 'keys | join(" ")' <<<"$SET_NAMES")
for id in $SET_IDS; do prog_size "$(jq -r --arg id "$id" '.[$id]' <<<"$SET_NAMES")" "$id" dockguard; done

# fast path: the destination is not protected
for proto in "${PROTOS[@]}"; do
	[[ -n ${DG_ID[$proto]} ]] || continue
	# shellcheck disable=SC2086
	hook_run fast "unprotected destination" "$proto" any ok "${DG_ID[$proto]}" "$N_ALLOW" \
		--cgroup "$BCG/dg/c" --uid 1002 connect ${FREE[$proto]}
done

# protected_case CASE LABEL POLICY ALLOWED-IDENTITY DENIED-IDENTITY
protected_case() {
	local case=$1 label=$2 policy=$3 allow_id=$4 deny_id=$5 proto out
	if ! out=$(dg load "$policy" 2>&1); then
		blog "load $policy failed: $out"
		return 1
	fi
	for proto in "${PROTOS[@]}"; do
		[[ -n ${DG_ID[$proto]} ]] || continue
		# shellcheck disable=SC2086
		hook_run "$case" "$label" "$proto" allow ok "${DG_ID[$proto]}" "$N_ALLOW" \
			$allow_id connect ${DEST[$proto]}
		# shellcheck disable=SC2086
		hook_run "$case" "$label" "$proto" deny eperm "${DG_ID[$proto]}" "$N_DENY" \
			$deny_id connect ${DEST[$proto]}
	done
}

protected_case p1 "protected, 1 rule" "$TMP/p1.conf" \
	"--cgroup $BCG/dg/c --uid 1001" "--cgroup $BCG/dg/c --uid 1002"
protected_case mixed "protected, 4 rules: cgroup+user, range, root, group" "$TMP/mixed.conf" \
	"--cgroup $BCG/dg/nginx.service --groups 4242,100 --uid 1001" \
	"--cgroup $BCG/dg/c --groups 100 --uid 1002"
protected_case r4096 "protected, 4096 rules (uid)" "$TMP/r4096.conf" \
	"--cgroup $BCG/dg/c --uid 1001" "--cgroup $BCG/dg/c --uid 1002"
protected_case s65536 "protected, 65536 subjects (4096 rules x 16 uids)" "$TMP/s65536.conf" \
	"--cgroup $BCG/dg/c --uid 1001" "--cgroup $BCG/dg/c --uid 1002"
protected_case c4096 "protected, 4096 cgroup rules" "$TMP/c4096.conf" \
	"--cgroup $BCG/dg/nginx.service --uid 1002" "--cgroup $BCG/dg/c --uid 1002"

# another local address of a listener wider than its endpoint (docs/security.md):
# the exact lookup misses, then host_local and the listener counts decide
if out=$(dg load "$TMP/wide.conf" 2>&1) && [[ -n ${DG_ID[tcp4]} ]]; then
	hook_run wide "another address of a 0.0.0.0 listener, 1 rule" tcp4 allow ok "${DG_ID[tcp4]}" \
		"$N_ALLOW" --cgroup "$BCG/dg/c" --uid 1001 connect tcp "$HOST4" "$PW"
	hook_run wide "another address of a 0.0.0.0 listener, 1 rule" tcp4 deny eperm "${DG_ID[tcp4]}" \
		"$N_DENY" --cgroup "$BCG/dg/c" --uid 1002 connect tcp "$HOST4" "$PW"
	hook_run wide_exact "the endpoint's own address, same policy" tcp4 deny eperm "${DG_ID[tcp4]}" \
		"$N_DENY" --cgroup "$BCG/dg/c" --uid 1002 connect tcp 127.0.0.1 "$PW"
else
	blog "load $TMP/wide.conf failed: $out"
fi
return 0
