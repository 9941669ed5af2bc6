# Bypass catalog, known limits: a connected socket that changes hands is not
# judged again. SCM_RIGHTS needs the holder's cooperation; pidfd_getfd()
# does not: it needs only ptrace access to the holder (same uid and gid, and
# no Yama restriction), so a process of the same user outside the allowed
# cgroup (unit) takes the unit's connection. Both asserted as they are.
source "$root/tests/tools/bypass-lib.sh"

B=$(catalog_port 36)
P=$B
GO=$TMP/t36.done
mkdir -p "$CG/a" "$CG/c"

cat >"$TMP/t36.conf" <<CONF
endpoint api {
    tcp 127.0.0.1:$P
    tcp [::1]:$P
}
allow api from user 1001
allow api from cgroup $CGPATH/a user 1003
CONF
start_listener echo tcp 127.0.0.1 "$P"
out=$(dg load "$TMP/t36.conf" 2>&1)
check "fd transfer: policy loaded" test $? -eq 0

expect "control: uid 1002's own connect: EPERM" EPERM --cgroup "$CG/c" --uid 1002 connect tcp 127.0.0.1 "$P"
expect "known limit: a socket connected by allowed uid 1001, passed over SCM_RIGHTS to denied uid 1002, works: ok" ok \
	--cgroup "$CG/c" --uid 1001 --peer-uid 1002 scm tcp 127.0.0.1 "$P"

# uid 1003 is allowed only inside cgroup a
expect "control: uid 1003 outside the allowed cgroup connects: EPERM" EPERM \
	--cgroup "$CG/c" --gid 1003 --uid 1003 connect tcp 127.0.0.1 "$P"
# the holder is started as a service would be: the ids set, then exec (a
# process that changed ids without exec is not dumpable, so not ptrace-able)
in_cgroup "$CG/a" setpriv --reuid 1003 --regid 1003 --clear-groups \
	"$PROBE" --pause-after-connect "$GO" ping tcp 127.0.0.1 "$P" >"$TMP/bg.holder.out" 2>"$TMP/bg.holder.err" &
PIDS+=($!)
if wait_paused holder; then
	holder=$(sed -n 's/^pid //p' "$TMP/bg.holder.err")
	fd=$(sed -n 's/^fd //p' "$TMP/bg.holder.err")
	if [[ $(cat /proc/sys/kernel/yama/ptrace_scope 2>/dev/null || echo 0) != 0 ]]; then
		expect_v "pidfd_getfd: Yama restricts ptrace here: uid 1003 outside the cgroup cannot take the socket" '!connect' \
			--cgroup "$CG/c" --gid 1003 --uid 1003 getfd "$holder" "$fd"
	else
		expect "known limit: uid 1003 outside the allowed cgroup takes the connected socket of its own process inside it (pidfd_getfd): ok" ok \
			--cgroup "$CG/c" --gid 1003 --uid 1003 getfd "$holder" "$fd"
	fi
	expect_v "known limit, fallback holds: another uid (1002) cannot take it (pidfd_getfd refused)" '/^(EPERM|error: Operation not permitted)$/' \
		--cgroup "$CG/c" --gid 1002 --uid 1002 getfd "$holder" "$fd"
	touch "$GO"
	assert_verdict "control: the holder's own connection still works: ok" ok "$(bg_verdict holder "${PIDS[-1]}")"
else
	fail "fd transfer: the holder did not connect: $(cat "$TMP/bg.holder.out")"
fi
