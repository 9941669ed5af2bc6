# status and explain agree with what the kernel did.
json=$(dg status --json)
check "status exits 0 while enforcing" bash -c "'$DG' --bpffs '$BPFFS' status >/dev/null"
check "status --json: enforcing" grep -q '"enforcing":true' <<<"$json"
check "status --json: generation 1" grep -q '"generation":1' <<<"$json"
if ((UNIX_HOOK)); then
	check "status --json: connect_unix hook listed" grep -q '"hook":"connect_unix"' <<<"$json"
fi
if ((UNIX_LSM)); then
	check "status --json: unix endpoints enforced by the BPF LSM" \
		bash -c "grep -q '\"unix_enforcement\":\"lsm\"' <<<'$json' && grep -q '\"unix_enforced\":true' <<<'$json'"
elif ((!UNIX_HOOK)); then
	check "status --json: no connect_unix hook, unix not enforced" \
		bash -c "! grep -q '\"hook\":\"connect_unix\"' <<<'$json' && grep -q '\"unix_enforced\":false' <<<'$json'"
	check "status --json: the kernel has no connect_unix" grep -q '"kernel":{"connect_unix":false' <<<"$json"
	check "status marks the unix destination NOT ENFORCED" \
		bash -c "'$DG' --bpffs '$BPFFS' status | grep -qF 'unix:$SOCKDIR/api.sock (NOT ENFORCED: no connect_unix hook)'"
fi
check "status --json: policy file" grep -q "\"policy\":\"$TMP/p1.conf\"" <<<"$json"
# the `deny { api, sock } from user 1004` rule (line 12) denied exactly once
# (its only decision is t_10's unix connect, which nothing judges without
# the connect_unix hook)
if ((UNIX_HOOK || UNIX_LSM)); then
	check "status counts the 1004 deny exactly once" \
		grep -q "\"rule\":\"$TMP/p1.conf:12\",\"action\":\"deny\",\"allowed\":0,\"denied\":1" <<<"$json"
else
	check "status: the 1004 deny never decided (its unix connect was not judged)" \
		grep -q "\"rule\":\"$TMP/p1.conf:12\",\"action\":\"deny\",\"allowed\":0,\"denied\":0" <<<"$json"
fi
# the unit rule (line 11) allowed exactly once
check "status counts the unit rule's allow exactly once" \
	grep -q "\"rule\":\"$TMP/p1.conf:11\",\"action\":\"allow\",\"allowed\":1,\"denied\":0" <<<"$json"
check "status text names the hooks" bash -c "'$DG' --bpffs '$BPFFS' status | grep -q '$HOOKS'"
check "status: what the unit subject resolved to at the load" \
	bash -c "'$DG' --bpffs '$BPFFS' status | grep -q '^  $TMP/p1.conf:11  unit dgtest-$$.service is the cgroup /.*dgtest-$$.service\$'"
check "status --json: the resolution, at its place" \
	grep -q "\"resolved\":\[{\"at\":\"$TMP/p1.conf:11\",\"what\":\"unit dgtest-$$.service is the cgroup " <<<"$json"
check "status shows each rule's text" grep -q "\"rule\":\"$TMP/p1.conf:12\",.*\"text\":\"deny { api, sock } from user 1004\"" <<<"$json"
check "status text: the rule table has counts since the first load, this generation's, the text" \
	bash -c "'$DG' --bpffs '$BPFFS' status | grep -qE '^  $TMP/p1.conf:12 +deny +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+  deny \\{ api, sock \\} from user 1004\$'"
cp "$TMP/p1.conf" "$TMP/p1.conf.saved"
echo "# edited" >>"$TMP/p1.conf"
check "status: a policy file edited since the load shows no rule text, and says why" \
	bash -c "'$DG' --bpffs '$BPFFS' status | grep -q 'rule text unknown: the policy files changed since the load'"
mv "$TMP/p1.conf.saved" "$TMP/p1.conf"

# explain: the same subjects through the kernel and through explain
agree() {
	local name=$1 dest=$2 uid=$3 gid=$4 cg=$5
	shift 5
	local kernel verdict
	kernel=$("$PROBE" --cgroup "$CG$cg" --gid "$gid" --uid "$uid" connect "$@" 2>&1 | head -n 1)
	verdict=$(dg explain --to "$dest" --uid "$uid" --gid "$gid" --subject-cgroup "$CGPATH$cg" 2>/dev/null | head -n 1)
	local want=deny
	[[ $kernel == ok ]] && want=allow
	if [[ $verdict == "$want $dest"* ]]; then pass "explain agrees: $name ($want)"; else fail "explain agrees: $name: kernel '$kernel', explain '$verdict'"; fi
}
agree "uid 1001 tcp" "tcp:127.0.0.1:$P" 1001 1001 /c tcp 127.0.0.1 "$P"
agree "uid 1002 tcp" "tcp:127.0.0.1:$P" 1002 1002 /c tcp 127.0.0.1 "$P"
agree "gid 4242" "tcp:127.0.0.1:$P" 1002 4242 /c tcp 127.0.0.1 "$P"
agree "cgroup a/b" "tcp:127.0.0.1:$P" 1002 1002 /a/b tcp 127.0.0.1 "$P"
agree "unit + 1003" "tcp:127.0.0.1:$P" 1003 1003 "/svc/dgtest-$$.service" tcp 127.0.0.1 "$P"
agree "unit + 1002" "tcp:127.0.0.1:$P" 1002 1002 "/svc/dgtest-$$.service" tcp 127.0.0.1 "$P"
agree "ipv6 uid 1002" "tcp:[::1]:$P" 1002 1002 /c tcp6 ::1 "$P"
if ((UNIX_HOOK || UNIX_LSM)); then
	agree "unix 1004" "unix:$SOCKDIR/api.sock" 1004 1004 /c unix "$SOCKDIR/api.sock"
	agree "unix 1005" "unix:$SOCKDIR/api.sock" 1005 1005 /c unix "$SOCKDIR/api.sock"
else
	# explain judges by the policy; this kernel does not enforce it for unix
	out=$(dg explain --to "unix:$SOCKDIR/api.sock" --uid 1004 --gid 1004 --subject-cgroup "$CGPATH/c" 2>/dev/null | head -n 1)
	check "explain: unix 1004 denied by the policy (not enforced here)" test "$out" = "deny unix:$SOCKDIR/api.sock (endpoint sock)"
	out=$(dg explain --to "unix:$SOCKDIR/api.sock" --uid 1005 --gid 1005 --subject-cgroup "$CGPATH/c" 2>/dev/null | head -n 1)
	check "explain: unix 1005 allowed by the policy" test "$out" = "allow unix:$SOCKDIR/api.sock (endpoint sock)"
fi

out=$(dg explain --to "tcp:127.0.0.1:$P" --uid 1004 --gid 1004 --subject-cgroup "$CGPATH/c")
check "explain exit 1 on deny" test $? -eq 1
check "explain names the deciding rule as FILE:LINE" grep -q "^rule: $TMP/p1.conf:12$" <<<"$out"
out=$(dg explain --to "tcp:127.0.0.1:$P" --uid 1001 --gid 1001 --subject-cgroup "$CGPATH/c")
check "explain exit 0 on allow" test $? -eq 0
check "explain names rule line 8" grep -q "^rule: $TMP/p1.conf:8$" <<<"$out"
out=$(dg explain --to "tcp:127.0.0.1:$P" --uid 1009 --gid 1009 --subject-cgroup "$CGPATH/c")
check "explain names the default" grep -q "^rule: default" <<<"$out"
out=$(dg explain --to "tcp:127.0.0.1:$P3" --uid 1009)
st=$?
check "explain: unprotected destination: not a protected endpoint" grep -q "not a protected endpoint" <<<"$out"
check "explain: ... exit 5, not the 0 of an allow" test "$st" -eq 5
