# `dockguard import iptables` (spec 11): the seeds' own rule set (and a few
# more forms), loaded into real iptables in this test's private network
# namespace, against the policy the importer writes: on a table of cases
# (uid, gid, destination) iptables' verdict (a connect accepted, or
# refused) equals `dockguard explain`'s. Hostile input: every line it cannot
# carry is a comment saying why, and the output still checks.

R69=$TMP/r69
mkdir -p "$R69"
if ! command -v iptables-restore >/dev/null; then
	skip "import iptables: iptables is not installed (tools/install-deps.sh)"
else
cat >"$R69/rules.v4" <<'RULES'
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]

-A OUTPUT -p tcp -d 127.0.0.1 --dport 23690 -m owner --uid-owner www-data -j ACCEPT
-A OUTPUT -p tcp -d 127.0.0.1 --dport 23690 -j REJECT
-A OUTPUT -d 127.0.0.1/32 -p tcp -m tcp --dport 23691 -m owner --gid-owner 4691 --suppl-groups -j ACCEPT
-A OUTPUT -d 127.0.0.1/32 -p tcp -m tcp --dport 23691 -m owner --uid-owner 1001-1005 -j REJECT --reject-with tcp-reset
COMMIT
RULES
"$DG" import iptables "$R69/rules.v4" >"$R69/imported.conf" 2>"$R69/import.err"
check "import iptables: the seeds' rules give a policy that checks" "$DG" check "$R69/imported.conf"
iptables-restore <"$R69/rules.v4"
start_listener listen tcp 127.0.0.1 23690 && start_listener listen tcp 127.0.0.1 23691
# CASE: UID GID GROUPS PORT
while read -r uid gid groups port; do
	[[ $groups == - ]] && groups=
	probe=$("$PROBE" --uid "$uid" --gid "$gid" ${groups:+--groups "$groups"} connect tcp 127.0.0.1 "$port" 2>&1 | head -n 1)
	[[ $probe == ok ]] && ipt=allow || ipt=deny
	"$DG" explain -c "$R69/imported.conf" --to "tcp:127.0.0.1:$port" --uid "$uid" --gid "$gid" \
		--subject-cgroup / >/dev/null 2>&1
	case $? in 0) dg=allow ;; 1) dg=deny ;; *) dg=error ;; esac
	check "import iptables: uid $uid gid $gid${groups:+ groups $groups} to port $port: iptables $ipt, dockguard $dg" \
		test "$ipt" = "$dg"
done <<'CASES'
33 33 - 23690
1001 1001 - 23690
0 0 - 23690
1001 4691 - 23691
1003 1003 - 23691
2000 2000 - 23691
CASES
iptables -F OUTPUT
fi

# hostile and uncarriable input: comments with the reason, output that checks
cat >"$R69/hostile.v4" <<'RULES'
*nat
-A OUTPUT -p tcp --dport 2375 -m owner --uid-owner 0 -j ACCEPT
*filter
:OUTPUT DROP [0:0]
-A OUTPUT -p tcp --dport 2375 ! -m owner --uid-owner 33 -j REJECT
-A OUTPUT -s 10.0.0.1 -p tcp --dport 2375 -j ACCEPT
-A OUTPUT -p tcp -d 10.0.0.0/8 --dport 2375 -j ACCEPT
-A OUTPUT -p tcp --dport 2375:2380 -j ACCEPT
-A OUTPUT -p tcp --dport 2375 -m owner --uid-owner "a b" -j ACCEPT
-A OUTPUT -p tcp --dport 2375 -j DOCKER-USER
-A OUTPUT -p tcp -m comment --comment "the \"api\"" --dport 2376 -m owner --uid-owner 33 -j ACCEPT
-A OUTPUT -p udp --dport 53 -j ACCEPT
-A OUTPUT -p tcp --dport 99999 -j ACCEPT
-A OUTPUT
garbage line $(rm -rf /)
COMMIT
RULES
"$DG" import iptables <"$R69/hostile.v4" >"$R69/hostile.conf" 2>/dev/null
check "import iptables: hostile input: one NOT CARRIED comment per rule it cannot carry (9)" \
	test "$(grep -c '^# NOT CARRIED' "$R69/hostile.conf")" = 9
check "import iptables: ... the one it can carry is there (uid 33 to :2376)" \
	grep -qx "allow ipt-2376 from user 33" "$R69/hostile.conf"
check "import iptables: ... the chain policy DROP ends it (deny)" grep -qx "deny ipt-2376" "$R69/hostile.conf"
check "import iptables: ... and the output checks" "$DG" check "$R69/hostile.conf"
