# Atomic reload under load: while clients connect as fast as they can, the
# policy is swapped R50_SWAPS times (default 1000) between two policies that
# differ in everything a swap rewrites (endpoint ids, rule order and index,
# which dimension decides, default, flags) but agree on the verdicts of A
# (allowed) and B (denied). Not one wrong verdict is allowed. Then the same
# while the daemon is SIGKILLed and restarted, with SIGHUP reloads between:
# enforcement is pinned and must not notice.
#
#   R50_SWAPS=N     swaps with `dockguard load` (default 1000)
#   R50_RESTARTS=N  daemon kill -9 / restart cycles (default 20)
#   R50_BUILDS=N    loads that take the hooks over from "another build"
#                   (default 10): the pins are made to look like an older
#                   dockguard's (dg-forget-build), so each load moves every
#                   link to fresh programs and policy maps, as a package
#                   upgrade does (tests/package/upgrade.sh: a real older build)
#
# Subjects: A = uid 1001 in $CG/r50/a, B = uid 1002 in $CG/r50/b, each over
# tcp4, tcp6 and (when the kernel enforces it) unix. C = uid 1003 in
# $CG/r50/c is denied by one policy and allowed by the other: its counts
# prove that the swaps really happened while the load ran.

source "$root/tests/tools/bypass-lib.sh"
R50_SWAPS=${R50_SWAPS:-1000}
R50_RESTARTS=${R50_RESTARTS:-20}
R50_BUILDS=${R50_BUILDS:-10}
R50_MIN=${R50_MIN:-10000}	# connects of A and of B that each phase must have judged (qemu guests: fewer)
R50_HAMMER=$BUILD/dg-hammer
R50=$TMP/r50
R50P=$(catalog_port 50)
R50P2=$((R50P + 1))
mkdir -p "$R50" "$CG/r50/a" "$CG/r50/b" "$CG/r50/c"
chmod 755 "$R50"

# Policy 1: A by its uid, B by the default, the API is endpoint 1, rules 0..2.
cat >"$R50/p1.conf" <<CONF
endpoint api {
    tcp 127.0.0.1:$R50P
    tcp [::1]:$R50P
}
endpoint sock unix $R50/api.sock
set default deny
set log-rate 5/s
allow { api, sock } from user 1001
deny quiet { api, sock } from user 1003
allow log sock from user 1004
CONF

# Policy 2: other endpoints first (the API is endpoint 4, its addresses listed
# the other way round), 70 filler rules so that A's rule is in the second
# 64-bit word, A by cgroup AND uid, B by an explicit deny on its cgroup, and
# an audit default (C is allowed).
{
	echo "endpoint other tcp 127.0.0.1:$R50P2"
	echo "endpoint other6 tcp [::1]:$R50P2"
	echo "endpoint othersock unix $R50/other.sock"
	echo "endpoint api {"
	echo "    tcp [::1]:$R50P"
	echo "    tcp 127.0.0.1:$R50P"
	echo "}"
	echo "endpoint sock unix $R50/api.sock"
	echo "set default audit"
	echo "set log-rate 1000/s"
	echo "deny log { sock, api } from cgroup $CGPATH/r50/b"
	for i in $(seq 1 70); do
		echo "allow { other, other6, othersock } from user $((2000 + i))"
	done
	echo "allow quiet { sock, api } from cgroup $CGPATH/r50/a user 1001"
	echo "deny { api, sock } from user 1001"
	echo "listen other from cgroup $CGPATH/r50/a"
} >"$R50/p2.conf"

r50_gen() { dg status --json | grep -o '"generation":[0-9]*' | cut -d: -f2; }

# r50_hammer NAME IDENTITY... -- TARGET...: a dg-hammer in the background
# until $R50/stop exists; its counts go to $R50/NAME.out
r50_hammer() {
	local name=$1
	shift
	# niced: the loader gets a core when it needs one, the hammers the rest
	nice -n 10 "$R50_HAMMER" --stop "$R50/stop" "$@" >"$R50/$name.out" 2>&1 &
	PIDS+=($!)
	R50_HPIDS+=($!)
}

# r50_start_load: A, B and C over every transport, until r50_stop_load
r50_start_load() {
	rm -f "$R50/stop"
	R50_HPIDS=()
	local t s
	for t in "${R50_TARGETS[@]}"; do
		s=${t%% *}
		r50_hammer "a-$s" --cgroup "$CG/r50/a" --uid 1001 connect $t
		r50_hammer "b-$s" --cgroup "$CG/r50/b" --uid 1002 connect $t
		r50_hammer "c-$s" --cgroup "$CG/r50/c" --uid 1003 connect $t
	done
	# every hammer has its identity and runs
	local f
	for _ in $(seq 100); do
		local n=0
		for f in "$R50"/[abc]-*.out; do grep -q '^running$' "$f" && n=$((n + 1)); done
		((n == 3 * ${#R50_TARGETS[@]})) && return 0
		sleep 0.05
	done
	echo "    hammers did not start: $(cat "$R50"/[abc]-*.out)"
	return 1
}

# r50_stop_load: stops the hammers, sums their counts into R50_{A,B,C}_{OK,EPERM,OTHER}
r50_stop_load() {
	touch "$R50/stop"
	wait "${R50_HPIDS[@]}"
	local who k
	for who in a b c; do
		for k in ok eperm other; do
			printf -v "R50_${who^^}_${k^^}" %s "$(cat "$R50/$who"-*.out |
				awk -v k="$k" '$1 == "ok" { for (i = 1; i < NF; i += 2) if ($i == k) s += $(i + 1) } END { print s + 0 }')"
		done
	done
	grep -h '^other:' "$R50"/[abc]-*.out | sed 's/^/    /'
	rm -f "$R50"/[abc]-*.out
}

# r50_assert PHASE: zero wrong verdicts, enough of them, and C saw both policies
r50_assert() {
	local phase=$1
	echo "    $phase: A ok $R50_A_OK eperm $R50_A_EPERM other $R50_A_OTHER;" \
		"B ok $R50_B_OK eperm $R50_B_EPERM other $R50_B_OTHER;" \
		"C ok $R50_C_OK eperm $R50_C_EPERM other $R50_C_OTHER"
	check "$phase: A (allowed) never refused: $R50_A_OK ok, $R50_A_EPERM EPERM, $R50_A_OTHER other" \
		test "$R50_A_EPERM" -eq 0 -a "$R50_A_OTHER" -eq 0
	check "$phase: B (denied) never let through: $R50_B_EPERM EPERM, $R50_B_OK ok, $R50_B_OTHER other" \
		test "$R50_B_OK" -eq 0 -a "$R50_B_OTHER" -eq 0
	check "$phase: a meaningful load (A $R50_A_OK and B $R50_B_EPERM connects judged, > $R50_MIN each)" \
		test "$R50_A_OK" -gt "$R50_MIN" -a "$R50_B_EPERM" -gt "$R50_MIN"
	check "$phase: both policies were in force under the load (C: $R50_C_OK allowed, $R50_C_EPERM denied)" \
		test "$R50_C_OK" -gt 0 -a "$R50_C_EPERM" -gt 0
}

"$R50_HAMMER" listen tcp 127.0.0.1 "$R50P" >"$R50/l4.out" 2>&1 &
PIDS+=($!)
"$R50_HAMMER" listen tcp6 ::1 "$R50P" >"$R50/l6.out" 2>&1 &
PIDS+=($!)
"$R50_HAMMER" listen unix "$R50/api.sock" >"$R50/lu.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do
	[[ -S $R50/api.sock ]] && grep -qs listening "$R50/l4.out" && grep -qs listening "$R50/l6.out" && break
	sleep 0.1
done
chmod 777 "$R50/api.sock"

out=$(dg load "$R50/p1.conf" 2>&1)
R50_S=$?
check "r50: policy 1 loads" test $R50_S -eq 0
((R50_S == 0)) || sed 's/^/    /' <<<"$out" | head -n 5
R50_TARGETS=("tcp 127.0.0.1 $R50P" "tcp6 ::1 $R50P")
if grep -q "unix endpoints are NOT enforced" <<<"$out"; then
	skip "r50: unix connects under load: this kernel has no cgroup/connect_unix hook"
else
	R50_TARGETS+=("unix $R50/api.sock")
fi
out=$(dg load "$R50/p2.conf" 2>&1)
R50_S=$?
check "r50: policy 2 loads" test $R50_S -eq 0
((R50_S == 0)) || sed 's/^/    /' <<<"$out" | head -n 5
# without two policies that load there is nothing to swap: stop here
for _ in 1; do
if ! dg load "$R50/p1.conf" >/dev/null 2>&1 || ! dg load "$R50/p2.conf" >/dev/null 2>&1; then
	fail "r50: the swaps under load cannot run: a policy does not load"
	break
fi
for R50_T in "${R50_TARGETS[@]}"; do
	for R50_F in p1 p2; do
		dg load "$R50/$R50_F.conf" >/dev/null 2>&1
		expect "r50 $R50_F ${R50_T%% *}: A allowed" ok --cgroup "$CG/r50/a" --uid 1001 connect $R50_T
		expect "r50 $R50_F ${R50_T%% *}: B denied" EPERM --cgroup "$CG/r50/b" --uid 1002 connect $R50_T
	done
done
dg load "$R50/p1.conf" >/dev/null 2>&1
expect "r50 p1: C denied" EPERM --cgroup "$CG/r50/c" --uid 1003 connect tcp 127.0.0.1 "$R50P"
dg load "$R50/p2.conf" >/dev/null 2>&1
expect "r50 p2: C allowed (audit default)" ok --cgroup "$CG/r50/c" --uid 1003 connect tcp 127.0.0.1 "$R50P"

# ---- R50_SWAPS swaps with `dockguard load` under load ---------------------
R50_G0=$(r50_gen)
if r50_start_load; then
	R50_FAILED=0
	R50_T0=$(date +%s%N)
	for R50_I in $(seq 1 "$R50_SWAPS"); do
		R50_F=$(((R50_I % 2) ? 1 : 2))
		if ! dg load "$R50/p$R50_F.conf" >"$R50/load.out" 2>&1; then
			R50_FAILED=$((R50_FAILED + 1))
			((R50_FAILED <= 3)) && sed 's/^/    load: /' "$R50/load.out" | head -n 5
		fi
		grep -o 'swapped in [0-9.]* ms' "$R50/load.out" | awk '{ print $3 }' >>"$R50/swap-ms"
	done
	R50_T1=$(date +%s%N)
	r50_stop_load
	R50_G1=$(r50_gen)
	R50_MS=$(((R50_T1 - R50_T0) / 1000000))
	echo "    $R50_SWAPS loads in $R50_MS ms: $((R50_MS * 1000 / R50_SWAPS)) us per \`dockguard load\`;" \
		"swap as the loader reports it (ms): $(sort -n "$R50/swap-ms" |
			awk '{ v[NR] = $1; s += $1 }
			     END { if (!NR) exit; p = int(NR * 0.99); if (p < 1) p = 1
				   printf "mean %.1f, median %.1f, p99 %.1f, max %.1f", s / NR, v[int((NR + 1) / 2)], v[p], v[NR] }')"
	check "swaps: all $R50_SWAPS loads exit 0 ($R50_FAILED failed)" test "$R50_FAILED" -eq 0
	check "swaps: $R50_SWAPS generations ($R50_G0 -> $R50_G1)" test $((R50_G1 - R50_G0)) -eq "$R50_SWAPS"
	r50_assert "$R50_SWAPS swaps"
else
	fail "swaps: the load generators did not start"
	r50_stop_load
fi

# ---- the daemon killed (SIGKILL) and restarted, SIGHUP reloads between ----
R50_RUN=$R50/run
R50_DLOG=$R50/daemon.log
cp "$R50/p1.conf" "$R50/d.conf"

# r50_wait_gen N: until generation >= N (10 s at most)
r50_wait_gen() {
	for _ in $(seq 200); do
		(($(r50_gen) >= $1)) && return 0
		sleep 0.05
	done
	return 1
}

R50_BAD=0
: >"$R50_DLOG"
if r50_start_load; then
	R50_T0=$(date +%s%N)
	for R50_I in $(seq 1 "$R50_RESTARTS"); do
		R50_G=$(r50_gen)
		# the daemon loads d.conf as it starts: one swap
		"$DG" --bpffs "$BPFFS" --cgroup "$CG" --run-dir "$R50_RUN" run "$R50/d.conf" 2>>"$R50_DLOG" &
		R50_DPID=$!
		PIDS+=("$R50_DPID")
		if ! r50_wait_gen $((R50_G + 1)); then
			R50_BAD=$((R50_BAD + 1))
			echo "    cycle $R50_I: the daemon did not load its policy"
		fi
		# until it handles signals: it says so once its event loop is set up
		# (the control socket of the killed one may still be there)
		for _ in $(seq 200); do
			(($(grep -c 'enforcing .*control socket' "$R50_DLOG") >= R50_I)) && break
			sleep 0.05
		done
		for R50_H in 1 2; do
			# the other policy, then SIGHUP: another swap
			if cmp -s "$R50/d.conf" "$R50/p1.conf"; then
				cp "$R50/p2.conf" "$R50/d.conf.tmp"
			else
				cp "$R50/p1.conf" "$R50/d.conf.tmp"
			fi
			mv "$R50/d.conf.tmp" "$R50/d.conf"
			R50_G=$(r50_gen)
			kill -HUP "$R50_DPID"
			if ! r50_wait_gen $((R50_G + 1)); then
				R50_BAD=$((R50_BAD + 1))
				echo "    cycle $R50_I: SIGHUP did not swap"
			fi
		done
		{ kill -9 "$R50_DPID"; wait "$R50_DPID"; } 2>/dev/null
		# the next policy on its own, without a daemon: one more swap
		dg load "$R50/p$(((R50_I % 2) + 1)).conf" >/dev/null 2>&1 || R50_BAD=$((R50_BAD + 1))
	done
	R50_T1=$(date +%s%N)
	r50_stop_load
	echo "    $R50_RESTARTS daemon kill -9/restart cycles (each: start, 2 SIGHUP reloads, kill -9, load)" \
		"in $(((R50_T1 - R50_T0) / 1000000)) ms"
	check "daemon cycles: every start and SIGHUP swapped ($R50_BAD failures)" test "$R50_BAD" -eq 0
	check "daemon cycles: no crash in the daemon log" \
		bash -c "! grep -qiE 'sanitizer|segmentation|abort|assert' '$R50_DLOG'"
	r50_assert "$R50_RESTARTS daemon kill -9 cycles"
else
	fail "daemon cycles: the load generators did not start"
	r50_stop_load
fi
# ---- another build's pins taken over, under load ---------------------------
# r50_programs: how many dg_connect4 programs the kernel holds
r50_programs() { bpftool prog show 2>/dev/null | grep -c 'name dg_connect4'; }
R50_BAD=0
R50_MOVED=0
R50_NPROG0=$(r50_programs)
if r50_start_load; then
	R50_G0=$(r50_gen)
	R50_T0=$(date +%s%N)
	for R50_I in $(seq 1 "$R50_BUILDS"); do
		if ! "$BUILD/dg-forget-build" "$BPFFS" >"$R50/load.out" 2>&1 ||
			! dg load "$R50/p$(((R50_I % 2) + 1)).conf" >>"$R50/load.out" 2>&1; then
			R50_BAD=$((R50_BAD + 1))
			((R50_BAD <= 3)) && sed 's/^/    load: /' "$R50/load.out" | head -n 5
		fi
		grep -q "^programs: moved from another dockguard build's" "$R50/load.out" &&
			R50_MOVED=$((R50_MOVED + 1))
	done
	R50_T1=$(date +%s%N)
	r50_stop_load
	R50_G1=$(r50_gen)
	echo "    $R50_BUILDS take-overs from another build in $(((R50_T1 - R50_T0) / 1000000)) ms"
	check "builds: every load took the hooks over ($R50_MOVED of $R50_BUILDS said so, $R50_BAD failed)" \
		test "$R50_MOVED" -eq "$R50_BUILDS" -a "$R50_BAD" -eq 0
	check "builds: generations go on counting ($R50_G0 -> $R50_G1)" \
		test $((R50_G1 - R50_G0)) -eq "$R50_BUILDS"
	R50_NPROG1=$(r50_programs)
	check "builds: the old programs are gone (dg_connect4 programs in the kernel: $R50_NPROG0 before, $R50_NPROG1 after)" \
		test "$R50_NPROG1" -eq "$R50_NPROG0"
	r50_assert "$R50_BUILDS take-overs from another build"
else
	fail "builds: the load generators did not start"
	r50_stop_load
fi
expect "r50 after the cycles: A allowed" ok --cgroup "$CG/r50/a" --uid 1001 connect tcp 127.0.0.1 "$R50P"
expect "r50 after the cycles: B denied" EPERM --cgroup "$CG/r50/b" --uid 1002 connect tcp 127.0.0.1 "$R50P"
done
