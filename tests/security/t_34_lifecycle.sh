# Bypass catalog: processes, sockets and connections that exist before
# `dockguard load`. Hooks judge every connect() made after the load, whoever
# made the process or the socket, and whenever. A connection already
# established stays open (known limit, docs/unix-paths.md and the spec).
source "$root/tests/tools/bypass-lib.sh"

B=$(catalog_port 34)
P=$B
U34=$TMP/u34
GO=$TMP/t34.loaded
mkdir -p "$CG/c" "$U34"
chmod 755 "$U34"

cat >"$TMP/t34.conf" <<CONF
endpoint api {
    tcp 127.0.0.1:$P
    tcp [::1]:$P
}
endpoint sock unix $U34/api.sock
allow { api, sock } from user 1001
CONF
dg unload >/dev/null 2>&1
check "lifecycle: nothing attached before the load" test ! -e "$BPFFS/link_connect4"
start_listener echo tcp 127.0.0.1 "$P"
start_listener echo unix "$U34/api.sock"
chmod 777 "$U34/api.sock"

D=(--cgroup "$CG/c" --uid 1002)
A=(--cgroup "$CG/c" --uid 1001)
bg_probe early "${D[@]}" --pause-before-socket "$GO" connect tcp 127.0.0.1 "$P"
pid_early=$BG_PID
bg_probe sock "${D[@]}" --pause-before-connect "$GO" connect tcp 127.0.0.1 "$P"
pid_sock=$BG_PID
bg_probe sockok "${A[@]}" --pause-before-connect "$GO" connect tcp 127.0.0.1 "$P"
pid_sockok=$BG_PID
bg_probe fork "${D[@]}" --pause-before-connect "$GO" --fork connect tcp 127.0.0.1 "$P"
pid_fork=$BG_PID
bg_probe usock "${D[@]}" --pause-before-connect "$GO" connect unix "$U34/api.sock"
pid_usock=$BG_PID
bg_probe held "${D[@]}" --pause-after-connect "$GO" ping tcp 127.0.0.1 "$P"
pid_held=$BG_PID
bg_probe uheld "${D[@]}" --pause-after-connect "$GO" ping unix "$U34/api.sock"
pid_uheld=$BG_PID
# a shell of the denied uid, started now, that execs the probe after the load
in_cgroup "$CG/c" setpriv --reuid 1002 --regid 1002 --clear-groups \
	bash -c 'echo paused >&2; while [[ ! -e $0 ]]; do sleep 0.01; done; exec "$@"' \
	"$GO" "$PROBE" connect tcp 127.0.0.1 "$P" >"$TMP/bg.exec.out" 2>"$TMP/bg.exec.err" &
pid_exec=$!
PIDS+=("$pid_exec")
paused=1
for n in early sock sockok fork usock held uheld exec; do
	wait_paused "$n" || paused=0
done
check "lifecycle: every pre-load process is waiting" test $paused -eq 1

out=$(dg load "$TMP/t34.conf" 2>&1)
check "lifecycle: policy loaded while they wait" test $? -eq 0
touch "$GO"

assert_verdict "bypass: process started before load, socket() and connect() after: EPERM" EPERM \
	"$(bg_verdict early "$pid_early")"
assert_verdict "bypass: socket() before load, connect() after: EPERM" EPERM "$(bg_verdict sock "$pid_sock")"
assert_verdict "control: socket() before load, connect() after, allowed uid: ok" ok "$(bg_verdict sockok "$pid_sockok")"
assert_verdict "bypass: process started before load forks after it, the child connects: EPERM" EPERM \
	"$(bg_verdict fork "$pid_fork")"
assert_verdict "bypass: shell started before load execs a client after it: EPERM" EPERM \
	"$(bg_verdict exec "$pid_exec")"
assert_verdict "known limit: a TCP connection opened before load stays open (ping after load): ok" ok \
	"$(bg_verdict held "$pid_held")"
expect "control: the same uid's new TCP connect after load: EPERM" EPERM "${D[@]}" connect tcp 127.0.0.1 "$P"
if unix_enforced; then
	assert_verdict "bypass: unix socket() before load, connect() after: EPERM" EPERM "$(bg_verdict usock "$pid_usock")"
	assert_verdict "known limit: a unix connection opened before load stays open (ping after load): ok" ok \
		"$(bg_verdict uheld "$pid_uheld")"
	expect "control: the same uid's new unix connect after load: EPERM" EPERM "${D[@]}" connect unix "$U34/api.sock"
else
	skip "lifecycle: no connect_unix hook: unix variants untested"
fi
