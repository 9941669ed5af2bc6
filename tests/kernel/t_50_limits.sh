# 4096 rules and 65536 subjects: compiled, loaded, judged.
big=$TMP/big.conf
{
	echo "endpoint api { tcp 127.0.0.1:$P"
	echo "  tcp [::1]:$P }"
	echo "endpoint sock unix $SOCKDIR/api.sock"
	# 4095 rules of 16 uids each (65520 subjects) + 1 rule of 16 = 65536;
	# one awk, not a seq per rule: 4096 forks take minutes in an emulated guest
	awk 'BEGIN {
		for (r = 0; r < 4096; r++) {
			b = 200000 + r * 16
			s = "allow api from user { " b
			for (u = b + 1; u <= b + 15; u++) s = s ", " u
			print s " }"
		}
	}'
} >"$big"
t0=$(date +%s%N)
out=$(dg load "$big" 2>&1)
status=$?
t1=$(date +%s%N)
check "4096 rules / 65536 uid subjects load" test $status -eq 0
echo "    load of 4096 rules / 65536 subjects: $(((t1 - t0) / 1000000)) ms"
expect "first rule's uid allowed" ok --cgroup "$CG/c" --uid 200000 connect tcp 127.0.0.1 "$P"
expect "last rule's last uid allowed" ok --cgroup "$CG/c" --uid $((200000 + 4096 * 16 - 1)) connect tcp 127.0.0.1 "$P"
expect "uid past the last rule denied" EPERM --cgroup "$CG/c" --uid $((200000 + 4096 * 16)) connect tcp 127.0.0.1 "$P"
out=$(dg explain --to "tcp:127.0.0.1:$P" --uid $((200000 + 4095 * 16 + 3)) --gid 1 --subject-cgroup "$CGPATH/c")
check "explain finds rule 4096 (line 4099)" grep -q "^rule: $big:4099$" <<<"$out"

{
	echo "endpoint api tcp 127.0.0.1:$P"
	for r in $(seq 0 4096); do echo "allow api from user $((300000 + r))"; done
} >"$TMP/toobig.conf"
out=$(dg load "$TMP/toobig.conf" 2>&1)
check "4097 rules refused with exit 1" test $? -eq 1
check "4097 rules: the error names the limit" grep -qi "4096" <<<"$out"
