# Reload swaps atomically; a bad policy changes nothing.
sed -e 's/^allow api from user 1001$/allow api from user 1002/' "$TMP/p1.conf" >"$TMP/p2.conf"
generation() { dg status --json | grep -o '"generation":[0-9]*' | cut -d: -f2; }
# rule_count FILE:LINE FIELD [generation]: a rule's count in `status --json`,
# since the first load, or of the generation alone
rule_count() {
	dg status --json | python3 -c '
import json, sys
loc, field, gen = sys.argv[1], sys.argv[2], len(sys.argv) > 3
for r in json.load(sys.stdin)["rules"]:
    if r["rule"] == loc:
        print(r["this_generation"][field] if gen else r[field])' "$@"
}
g_before=$(generation)
deny_before=$(rule_count "$TMP/p1.conf:12" denied)
out=$(dg load "$TMP/p2.conf" 2>&1)
check "reload exits 0" test $? -eq 0
check "reload keeps the hooks in place" grep -q "hooks in place" <<<"$out"
check "reload: the generation goes up by one" test "$(generation)" -eq $((g_before + 1))
expect "after reload uid 1002 allowed" ok --cgroup "$CG/c" --uid 1002 connect tcp 127.0.0.1 "$P"
expect "after reload uid 1001 denied" EPERM --cgroup "$CG/c" --uid 1001 connect tcp 127.0.0.1 "$P"
# Counters go on across generations, by what a rule says: the unchanged deny
# keeps its count, the changed allow is a new rule.
check "reload: the deny rule had counted before ($deny_before > 0)" test "${deny_before:-0}" -gt 0
check "reload: the unchanged deny rule keeps its count" \
	test "$(rule_count "$TMP/p2.conf:12" denied)" = "$deny_before"
check "reload: the unchanged deny rule's generation count starts at 0" \
	test "$(rule_count "$TMP/p2.conf:12" denied gen)" = 0
check "reload: the changed rule (now user 1002) counts only its own allow" \
	test "$(rule_count "$TMP/p2.conf:8" allowed)" = 1
# a comment and a rule inserted above move every line: the counts stay
{ printf '# moved down\nallow guarded from user 4321\n'; cat "$TMP/p2.conf"; } >"$TMP/p2moved.conf"
dg load "$TMP/p2moved.conf" >/dev/null 2>&1
check "reload: moved two lines down, the deny rule keeps its count" \
	test "$(rule_count "$TMP/p2moved.conf:14" denied)" = "$deny_before"
check "reload: moved, the allow rule keeps its count" \
	test "$(rule_count "$TMP/p2moved.conf:10" allowed)" = 1
check "reload: the inserted rule starts at 0" \
	test "$(rule_count "$TMP/p2moved.conf:2" allowed)" = 0
dg load "$TMP/p2.conf" >/dev/null 2>&1
check "reload: and back, the counts are still there" \
	test "$(rule_count "$TMP/p2.conf:8" allowed)" = 1

g_before=$(($(generation) - 1))
printf 'endpoint api tcp 127.0.0.1:%s\nallow api from user no-such-user-dg\nallow api frm user root\n' "$P" >"$TMP/bad.conf"
out=$(dg load "$TMP/bad.conf" 2>&1)
check "bad policy: load exits 1" test $? -eq 1
check "bad policy: FILE:LINE:COL error for the unknown user" grep -q "^$TMP/bad.conf:2:[0-9]*: error: .*no-such-user-dg" <<<"$out"
check "bad policy: every error reported (line 3 too)" grep -q "^$TMP/bad.conf:3:[0-9]*: error:" <<<"$out"
check "bad policy: generation unchanged" test "$(generation)" -eq $((g_before + 1))
expect "bad policy: old policy still allows 1002" ok --cgroup "$CG/c" --uid 1002 connect tcp 127.0.0.1 "$P"
expect "bad policy: old policy still denies 1001" EPERM --cgroup "$CG/c" --uid 1001 connect tcp 127.0.0.1 "$P"

# swap back and forth while a client connects in a loop: never a wrong verdict
cg_before=$(rule_count "$TMP/p2.conf:10" allowed)
out=$(
	for i in $(seq 1 20); do
		dg load "$TMP/p1.conf" >/dev/null 2>&1 || echo "load failed"
		dg load "$TMP/p2.conf" >/dev/null 2>&1 || echo "load failed"
	done &
	loader=$!
	# uid 1004 is denied by both policies, uid 1006 has no tcp rule in either
	while kill -0 "$loader" 2>/dev/null; do
		echo "c $("$PROBE" --cgroup "$CG/c" --uid 1004 connect tcp 127.0.0.1 "$P")"
		echo "a $("$PROBE" --cgroup "$CG/a" --uid 1004 connect tcp 127.0.0.1 "$P")"
	done | sort | uniq -c
	wait "$loader"
)
check "40 swaps under load: uid 1004 in c always denied, in a always allowed by cgroup rule" \
	bash -c "! grep -q 'load failed' <<<'$out' && test \$(grep -c . <<<'$out') -eq 2 &&
		grep -q ' c EPERM\$' <<<'$out' && grep -q ' a ok\$' <<<'$out'"
echo "$out" | sed 's/^/    /'
# the cgroup rule (line 10 of both) allowed every `a ok`, whichever
# generation judged it: its count since the first load has all of them
a_ok=$(awk '$2 == "a" && $3 == "ok" { print $1 }' <<<"$out")
check "40 swaps: the cgroup rule's count has every allow of every generation ($cg_before + ${a_ok:-0})" \
	test "$(rule_count "$TMP/p2.conf:10" allowed)" = $((cg_before + ${a_ok:-0}))

# a load aimed at another cgroup with the same pins is refused, nothing moves
gen_before=$(dg status --json | grep -o '"generation":[0-9]*')
out=$("$DG" --bpffs "$BPFFS" --cgroup "$CG/a" load "$TMP/p1.conf" 2>&1)
check "load at another cgroup with the same pins: exit 3" test $? -eq 3
check "load at another cgroup: says to unload first" grep -q "already attached at .* run .dockguard unload. first" <<<"$out"
check "load at another cgroup: names where, by path" grep -qF "already attached at $CGPATH with pins" <<<"$out"
check "load at another cgroup: generation unchanged" test "$(dg status --json | grep -o '"generation":[0-9]*')" = "$gen_before"

# concurrent loads are serialized: every load gets its own generation
g0=$(dg status --json | grep -o '"generation":[0-9]*' | cut -d: -f2)
loaders=()
for j in 1 2 3; do
	(for i in $(seq 1 10); do dg load "$TMP/p2.conf" >/dev/null 2>&1; done) &
	loaders+=($!)
done
wait "${loaders[@]}"	# not a bare wait: the listeners are our children too
g1=$(dg status --json | grep -o '"generation":[0-9]*' | cut -d: -f2)
check "30 concurrent loads: 30 generations ($g0 -> $g1)" test $((g1 - g0)) -eq 30
expect "after concurrent loads: policy p2 in force" ok --cgroup "$CG/c" --uid 1002 connect tcp 127.0.0.1 "$P"
