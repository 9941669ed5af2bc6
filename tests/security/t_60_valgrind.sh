# The daemon under valgrind (memcheck): a short but complete session —
# start, load, control clients (status, tail followers, a tail --no-follow,
# a stuck client, a malformed request), denied and audited connects that
# produce events (a burst too), containers followed from a fake Docker API
# (list, create and destroy events, the API lost and back), SIGHUP reloads
# (a good file and a broken one), SIGTERM. Asserts that valgrind found no
# error and no definite leak, from its log. Skipped when valgrind is missing.
#
# tests/security/valgrind.supp holds the only suppressions, each with why
# it is not dockguard's.

source "$root/tests/tools/bypass-lib.sh"
R60=$TMP/r60
R60_RUN=$R60/run
R60_LOG=$R60/daemon.log
R60_VG=$R60/valgrind.log
R60P=$(catalog_port 60)
mkdir -p "$R60/fake" "$CG/r60/c"
for _ in 1; do	# `break` leaves the test early
if ! command -v valgrind >/dev/null; then
	skip "valgrind: not installed (tools/install-deps.sh installs it)"
	break
fi

R60_IDA=$(printf 'e%.0s' {1..64})
R60_IDB=$(printf 'f%.0s' {1..64})
mkdir -p "$CG/r60/ct/$R60_IDA" "$CG/r60/ct/$R60_IDB"
r60_inspect() {	# r60_inspect ID NAME
	printf '{"Id":"%s","Name":"/%s","State":{"Pid":0},"HostConfig":{"CgroupParent":"%s/r60/ct"},"Config":{"Image":"dg:vg","Labels":{"dg.role":"%s"}},"Mounts":[]}\n' \
		"$1" "$2" "$CGPATH" "$2" >"$R60/fake/inspect-$1.json"
}
printf '{"CgroupDriver":"cgroupfs"}\n' >"$R60/fake/info.json"
printf '[{"Id":"%s"}]\n' "$R60_IDA" >"$R60/fake/containers.json"
: >"$R60/fake/events.jsonl"
r60_inspect "$R60_IDA" vg-allowed
"$BUILD/fake-dockerd" "$R60/fake/docker.sock" "$R60/fake" >"$R60/fake.log" 2>&1 &
R60_FAKE=$!
PIDS+=("$R60_FAKE")
for _ in $(seq 50); do [[ -S $R60/fake/docker.sock ]] && break; sleep 0.1; done

"$BUILD/dg-hammer" listen tcp 127.0.0.1 "$R60P" >/dev/null 2>&1 &
PIDS+=($!)

r60_policy() {	# r60_policy AUDITED-UID
	cat >"$R60/d.conf" <<CONF
endpoint api tcp 127.0.0.1:$R60P
endpoint sock unix $R60/api.sock
set docker-host unix://$R60/fake/docker.sock
set log-rate 50/s
allow api from container name vg-allowed*
audit api from user $1
deny { api, sock } from user 1002
allow sock from any
CONF
}
r60_policy 1003

r60_ctl() {	# r60_ctl REQUEST: one control request, its answer
	python3 - "$R60_RUN/control.sock" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
try:
    s.connect(sys.argv[1])
    s.sendall((sys.argv[2] + "\n").encode())
    out = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
    sys.stdout.write(out.decode(errors="replace"))
except OSError as e:
    print("ctl: %s" % e)
PY
}
r60_wait() {	# r60_wait FILE REGEX [N] [TENTHS]: until N lines of FILE match
	local i
	for i in $(seq 1 "${4:-300}"); do
		(($(grep -cE -- "$2" "$1" 2>/dev/null) >= ${3:-1})) && return 0
		sleep 0.1
	done
	return 1
}

# --error-limit=no: count every error; --track-fds: not asserted, for the log
valgrind --leak-check=full --show-leak-kinds=definite,indirect,possible \
	--errors-for-leak-kinds=definite --error-exitcode=99 --error-limit=no \
	--num-callers=30 --suppressions="$root/tests/security/valgrind.supp" \
	--log-file="$R60_VG" \
	"$DG" --bpffs "$BPFFS" --cgroup "$CG" --run-dir "$R60_RUN" run "$R60/d.conf" 2>"$R60_LOG" &
R60_D=$!
PIDS+=("$R60_D")
if ! r60_wait "$R60_LOG" 'enforcing .*control socket' 1 600; then
	fail "valgrind: the daemon did not start within 60 s"
	cat "$R60_LOG" "$R60_VG" | tail -n 20 | sed 's/^/    /'
	break
fi
pass "valgrind: the daemon starts under memcheck"
check "valgrind: the daemon follows the (fake) Docker API" r60_wait "$R60_LOG" 'following Docker at' 1 200

# control clients: two followers, a stuck one, a status, a bad request
"$DG" --bpffs "$BPFFS" --run-dir "$R60_RUN" tail --json >"$R60/tail.json" 2>&1 &
R60_T1=$!
PIDS+=("$R60_T1")
"$DG" --bpffs "$BPFFS" --run-dir "$R60_RUN" tail >"$R60/tail.txt" 2>&1 &
R60_T2=$!
PIDS+=("$R60_T2")
"$BUILD/dg-slow-client" "$R60_RUN/control.sock" "tail json" >/dev/null 2>&1 &
R60_SLOW=$!
PIDS+=("$R60_SLOW")
out=$("$DG" --bpffs "$BPFFS" --run-dir "$R60_RUN" status 2>&1)
check "valgrind: status says the daemon runs" grep -q '^daemon: *running' <<<"$out"
if command -v python3 >/dev/null; then
	check "valgrind: control status names the daemon" grep -q "\"pid\":$R60_D," <<<"$(r60_ctl status)"
	check "valgrind: an unknown request is refused" test "$(r60_ctl 'tail yaml')" = "error: unknown request"
	r60_ctl "$(head -c 5000 /dev/zero | tr '\0' x)" >/dev/null
	r60_ctl "prepare $R60_IDA" >/dev/null
fi

# events: denials, an audit, a denied container, a burst over the rate limit
expect "valgrind: tcp deny" EPERM --cgroup "$CG/r60/c" --uid 1002 connect tcp 127.0.0.1 "$R60P"
expect "valgrind: audit allow" ok --cgroup "$CG/r60/c" --uid 1003 connect tcp 127.0.0.1 "$R60P"
expect "valgrind: a listed container allowed" ok --cgroup "$CG/r60/ct/$R60_IDA" --uid 100000 connect tcp 127.0.0.1 "$R60P"
expect "valgrind: burst of 3000 denials" EPERM --cgroup "$CG/r60/c" --uid 1002 --repeat 3000 connect tcp 127.0.0.1 "$R60P"
check "valgrind: the events reach a tail client" r60_wait "$R60/tail.json" '"verdict":"audit"' 1 200

# a container created, then destroyed; the API lost and back
r60_inspect "$R60_IDB" vg-allowed-too
printf '[{"Id":"%s"},{"Id":"%s"}]\n' "$R60_IDA" "$R60_IDB" >"$R60/fake/containers.json"
printf '{"Type":"container","Action":"create","Actor":{"ID":"%s","Attributes":{"name":"vg-allowed-too","image":"dg:vg"}},"time":1}\n' "$R60_IDB" >>"$R60/fake/events.jsonl"
R60_OK=0
for _ in $(seq 100); do
	[[ $("$PROBE" --cgroup "$CG/r60/ct/$R60_IDB" --uid 100000 connect tcp 127.0.0.1 "$R60P") == ok ]] && { R60_OK=1; break; }
	sleep 0.1
done
check "valgrind: a created container is followed" test "$R60_OK" -eq 1
rm -f "$R60/fake/inspect-$R60_IDB.json"
printf '[{"Id":"%s"}]\n' "$R60_IDA" >"$R60/fake/containers.json"
printf '{"Type":"container","Action":"destroy","Actor":{"ID":"%s","Attributes":{}},"time":2}\n' "$R60_IDB" >>"$R60/fake/events.jsonl"
sleep 1
kill "$R60_FAKE"
wait "$R60_FAKE" 2>/dev/null
check "valgrind: the daemon notices the API is gone" r60_wait "$R60_LOG" 'lost the Docker API' 1 200
"$BUILD/fake-dockerd" "$R60/fake/docker.sock" "$R60/fake" >>"$R60/fake.log" 2>&1 &
R60_FAKE=$!
PIDS+=("$R60_FAKE")
check "valgrind: ... and follows it again when it is back" r60_wait "$R60_LOG" 'following Docker at' 2 200

# SIGHUP: a new policy, then a broken file
r60_policy 1005
R60_N=$(grep -c 'reloaded' "$R60_LOG")
kill -HUP "$R60_D"
check "valgrind: SIGHUP reloads" r60_wait "$R60_LOG" 'reloaded' $((R60_N + 1))
expect "valgrind: after the reload, uid 1005 audited" ok --cgroup "$CG/r60/c" --uid 1005 connect tcp 127.0.0.1 "$R60P"
echo "allow api frm user root" >>"$R60/d.conf"
kill -HUP "$R60_D"
check "valgrind: SIGHUP with a broken file keeps the policy" r60_wait "$R60_LOG" 'reload failed'
expect "valgrind: denials after the failed reload" EPERM --cgroup "$CG/r60/c" --uid 1002 connect unix "$R60/api.sock"
sleep 0.5

# the clients go; then SIGTERM
kill "$R60_SLOW" "$R60_T2" 2>/dev/null
wait "$R60_SLOW" "$R60_T2" 2>/dev/null
out=$("$DG" --bpffs "$BPFFS" --run-dir "$R60_RUN" tail --json --no-follow 2>&1 | grep -c '"verdict"')
check "valgrind: tail --no-follow gets the backlog ($out events)" test "$out" -gt 0
kill -TERM "$R60_D"
for _ in $(seq 600); do kill -0 "$R60_D" 2>/dev/null || break; sleep 0.1; done
wait "$R60_D"
R60_STATUS=$?
wait "$R60_T1" 2>/dev/null
kill "$R60_FAKE" 2>/dev/null
wait "$R60_FAKE" 2>/dev/null

# the verdict, from valgrind's log (R60_KEEP=FILE keeps a copy)
[[ -n ${R60_KEEP:-} ]] && cp "$R60_VG" "$R60_KEEP"
echo "    valgrind: $(grep -E 'ERROR SUMMARY' "$R60_VG" | sed 's/^==[0-9]*== //')"
grep -E '(definitely|indirectly|possibly) lost:|still reachable:|== +suppressed:|All heap blocks were freed' "$R60_VG" |
	sed 's/^==[0-9]*== */    valgrind:   /'
check "valgrind: the daemon exits 0 on SIGTERM (99 = valgrind errors; got $R60_STATUS)" test "$R60_STATUS" -eq 0
check "valgrind: ERROR SUMMARY: 0 errors" grep -qE '== ERROR SUMMARY: 0 errors from 0 contexts' "$R60_VG"
check "valgrind: the leak check ran" grep -qE 'LEAK SUMMARY|All heap blocks were freed' "$R60_VG"
check "valgrind: no definite leak" bash -c "! grep -qE 'definitely lost: [1-9]' '$R60_VG'"
check "valgrind: no invalid read/write, uninitialised use or bad free" \
	bash -c "! grep -qE 'Invalid (read|write|free)|uninitialised|Mismatched free|overlap' '$R60_VG'"
if grep -qE 'ERROR SUMMARY: [1-9]|definitely lost: [1-9]' "$R60_VG"; then
	sed 's/^/    /' "$R60_VG" | grep -vE '^    ==[0-9]+== *$' | head -n 80
fi
done
