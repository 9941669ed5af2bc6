# Connect verdicts per identity and destination form.
P=$((21000 + RANDOM % 9000))	# protected
P2=$((P + 1))			# protected, with listen rules (see t_30)
P3=$((P + 2))			# not protected
SOCKDIR=$TMP/sockdir
mkdir -p "$SOCKDIR" "$CG/a/b" "$CG/c"
systemd_unit "$CG/svc/dgtest-$$.service"
ln -s "$SOCKDIR" "$TMP/link"

cat >"$TMP/p1.conf" <<CONF
endpoint api {
    tcp 127.0.0.1:$P
    tcp [::1]:$P
}
endpoint sock unix $SOCKDIR/api.sock
endpoint guarded tcp 127.0.0.1:$P2

allow api from user 1001
allow api from group 4242
allow api from cgroup $CGPATH/a
allow api from unit dgtest-$$.service user 1003
deny { api, sock } from user 1004
allow sock from user { 1001, 1005-1006 }
allow guarded from any
listen guarded from cgroup $CGPATH/a
CONF

start_listener listen tcp 127.0.0.1 "$P"
start_listener listen tcp6 ::1 "$P"
start_listener listen tcp 127.0.0.1 "$P3"
start_listener listen unix "$SOCKDIR/api.sock"
start_listener listen unix "$SOCKDIR/free.sock"
chmod 777 "$SOCKDIR"/*.sock

# Linux < 6.7 has no cgroup/connect_unix: dockguard attaches the other hooks
# and says that unix endpoints are not enforced (UNIX_HOOK, lib.sh).
HOOKS="connect4 connect6 connect_unix bind4 bind6"
((UNIX_HOOK)) || HOOKS="connect4 connect6 bind4 bind6"
btf_unix=0
grep -qa BPF_CGROUP_UNIX_CONNECT /sys/kernel/btf/vmlinux && btf_unix=1
check "dockguard's connect_unix probe ($UNIX_HOOK) agrees with the kernel's BTF ($btf_unix)" \
	test "$UNIX_HOOK" -eq "$btf_unix"
out=$(dg load "$TMP/p1.conf" 2>&1)
check "load p1 exits 0" test $? -eq 0
check "load reports the hooks attached" grep -q "hooks attached at $CG: $HOOKS" <<<"$out"
if ((UNIX_HOOK || UNIX_LSM)); then
	check "load: no warning about unix enforcement" bash -c '! grep -q "NOT enforced" <<<"$1"' _ "$out"
else
	check "load says unix endpoints are NOT enforced" grep -q "WARNING: unix endpoints are NOT enforced" <<<"$out"
fi
check "pins exist" test -e "$BPFFS/link_connect4" -a -e "$BPFFS/map_policy"

C=(--cgroup "$CG/c")
# identity: uid, gid, groups, effective vs real
expect "uid 1001 allowed" ok "${C[@]}" --uid 1001 connect tcp 127.0.0.1 "$P"
expect "uid 1002 denied" EPERM "${C[@]}" --uid 1002 connect tcp 127.0.0.1 "$P"
expect "supplementary group 4242 allowed" ok "${C[@]}" --groups 4242 --uid 1002 connect tcp 127.0.0.1 "$P"
expect "effective gid 4242 allowed" ok "${C[@]}" --gid 4242 --uid 1002 connect tcp 127.0.0.1 "$P"
expect "other groups denied" EPERM "${C[@]}" --groups 100,4243 --gid 100 --uid 1002 connect tcp 127.0.0.1 "$P"
expect "effective uid 1002 with real uid 0 denied" EPERM "${C[@]}" --euid 1002 connect tcp 127.0.0.1 "$P"
expect "uid 0 not named by any rule: default deny" EPERM "${C[@]}" connect tcp 127.0.0.1 "$P"
# cgroups and units
expect "cgroup subtree a allowed" ok --cgroup "$CG/a" --uid 1002 connect tcp 127.0.0.1 "$P"
expect "cgroup a/b (descendant) allowed" ok --cgroup "$CG/a/b" --uid 1002 connect tcp 127.0.0.1 "$P"
expect "unit + user 1003 allowed" ok --cgroup "$CG/svc/dgtest-$$.service" --uid 1003 connect tcp 127.0.0.1 "$P"
expect "unit, other user denied (AND)" EPERM --cgroup "$CG/svc/dgtest-$$.service" --uid 1002 connect tcp 127.0.0.1 "$P"
expect "user 1003 outside the unit denied (AND)" EPERM "${C[@]}" --uid 1003 connect tcp 127.0.0.1 "$P"
# address forms
expect "0.0.0.0 judged as 127.0.0.1" EPERM "${C[@]}" --uid 1002 connect tcp 0.0.0.0 "$P"
expect "IPv6 ::1 denied" EPERM "${C[@]}" --uid 1002 connect tcp6 ::1 "$P"
expect "IPv6 ::1 allowed for 1001" ok "${C[@]}" --uid 1001 connect tcp6 ::1 "$P"
expect "IPv6 :: judged as ::1" EPERM "${C[@]}" --uid 1002 connect tcp6 :: "$P"
expect "IPv4-mapped ::ffff:127.0.0.1 denied" EPERM "${C[@]}" --uid 1002 connect tcp6 ::ffff:127.0.0.1 "$P"
expect "IPv4-mapped ::ffff:127.0.0.1 allowed for 1001" ok "${C[@]}" --uid 1001 connect tcp6 ::ffff:127.0.0.1 "$P"
expect "IPv4-mapped ::ffff:0.0.0.0 denied" EPERM "${C[@]}" --uid 1002 connect tcp6 ::ffff:0.0.0.0 "$P"
expect "TCP Fast Open sendto denied" EPERM "${C[@]}" --uid 1002 tfo tcp 127.0.0.1 "$P"
expect "unprotected port untouched" ok "${C[@]}" --uid 1002 connect tcp 127.0.0.1 "$P3"
expect "127.0.0.2 is not the endpoint" '!EPERM' "${C[@]}" --uid 1002 connect tcp 127.0.0.2 "$P"
# another network namespace: its 127.0.0.1 is its own, not the host's
# (the connect waits for the listener's "listening", not for a fixed time:
# a slow or emulated machine may take longer than any sleep)
out=$(unshare --net bash -c "ip link set lo up; exec 3< <(exec $PROBE listen tcp 127.0.0.1 $P); l=\$!; read -r -t 10 ready <&3; $PROBE ${C[*]} --uid 1002 connect tcp 127.0.0.1 $P; kill \$l" 2>&1 | head -n 1)
check "another netns's own loopback is not judged" test "$out" = ok
# unix paths
expect_unix "unix absolute denied" EPERM "${C[@]}" --uid 1002 connect unix "$SOCKDIR/api.sock"
expect_unix "unix absolute allowed for 1001" ok "${C[@]}" --uid 1001 connect unix "$SOCKDIR/api.sock"
expect_unix "unix uid range 1005-1006 allowed" ok "${C[@]}" --uid 1006 connect unix "$SOCKDIR/api.sock"
expect_unix "unix deny rule before allow" EPERM "${C[@]}" --uid 1004 connect unix "$SOCKDIR/api.sock"
expect_unix "unix relative path denied" EPERM "${C[@]}" --uid 1002 --chdir "$SOCKDIR" connect unix api.sock
expect_unix "unix relative path allowed for 1001" ok "${C[@]}" --uid 1001 --chdir "$SOCKDIR" connect unix api.sock
expect_unix "unix relative ./ path denied" EPERM "${C[@]}" --uid 1002 --chdir "$SOCKDIR" connect unix ./api.sock
expect_unix "unix through symlinked directory denied" EPERM "${C[@]}" --uid 1002 connect unix "$TMP/link/api.sock"
expect_unix "unix through symlinked directory allowed for 1001" ok "${C[@]}" --uid 1001 connect unix "$TMP/link/api.sock"
expect_unix "unix with .. denied" EPERM "${C[@]}" --uid 1002 connect unix "$SOCKDIR/../sockdir/api.sock"
expect_unix "unix with // denied" EPERM "${C[@]}" --uid 1002 connect unix "$TMP//sockdir//api.sock"
expect_unix "unprotected unix socket untouched" ok "${C[@]}" --uid 1002 connect unix "$SOCKDIR/free.sock"
# processes that change cgroup between socket() and connect()
expect "socket in a, connect from c: judged as c" EPERM --cgroup "$CG/a" --move-cgroup "$CG/c" --uid 1002 connect tcp 127.0.0.1 "$P"
expect "socket in c, connect from a: judged as a" ok --cgroup "$CG/c" --move-cgroup "$CG/a" --uid 1002 connect tcp 127.0.0.1 "$P"
