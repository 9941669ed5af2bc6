# The relay on TCP (docs/relay.md, "Identity"): a TCP caller is named by
# the record its connect hook left (uid, gid, groups, cgroup), never by its
# address; a listen address that no interface has yet is served once it
# appears (docker0's gateway before dockerd starts); a connection the hooks
# did not judge is refused; an upstream on TCP. A stand-in Docker API
# (tests/relay/upstream.py) records what reaches it.

R66=$TMP/r66
mkdir -p "$R66/run" "$CG/a" "$CG/ops"
chmod 755 "$R66"
R66_LOG=$R66/upstream.log
: >"$R66_LOG"
P66=23766
P66UP=23767
R66_NS=dg66-$$
NETNS_DEL+=("$R66_NS")	# removed by cleanup, even on failure
python3 "$root/tests/relay/upstream.py" "$R66/up.sock" "$R66_LOG" >/dev/null 2>&1 &
PIDS+=($!)
# a second Docker API on TCP, for the relay whose upstream is TCP
python3 "$root/tests/relay/upstream.py" "tcp:127.0.0.1:$P66UP" "$R66_LOG" >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do [[ -S $R66/up.sock ]] && break; sleep 0.1; done

cat >"$R66/p.conf" <<CONF
relay r66 {
    listen tcp 127.0.0.1:$P66
    listen tcp 10.66.0.1:$P66
    upstream unix $R66/up.sock
}
relay r66up {
    listen unix $R66/up-tcp.sock
    upstream tcp 127.0.0.1:$P66UP
}
api p66 extends read-only {
    allow GET /_ping
}
allow r66 from user 1001 api p66
allow r66 from cgroup $CGPATH/ops api full
allow r66 from group 1066 api full
allow r66up from user 1001 api p66
CONF

# r66_send SOCKET UID CGROUP BYTES [client.py options]: the answer
r66_send() {
	local sock=$1 uid=$2 cg=$3 bytes=$4
	shift 4
	python3 "$root/tests/relay/client.py" "$sock" "$bytes" --uid "$uid" --cgroup "$cg" "$@"
}
H66='\r\nHost: docker\r\n\r\n'
r66_relay_pid() {
	ps -eo pid=,ppid=,comm= | awk -v d="$R66_DAEMON" '$2 == d && $3 == "dockguard-relay" { p = $1 } END { print p }'
}

"$DG" --bpffs "$BPFFS" --cgroup "$CG" --run-dir "$R66/run" run --unload-on-exit "$R66/p.conf" \
	>"$R66/daemon.log" 2>&1 &
R66_DAEMON=$!
PIDS+=($R66_DAEMON)
for _ in $(seq 100); do
	[[ -n $(r66_relay_pid) ]] && ss -ltn | grep -q "127.0.0.1:$P66 " && break
	sleep 0.1
done
check "relay tcp: the relay listens on 127.0.0.1:$P66" bash -c "ss -ltn | grep -q '127.0.0.1:$P66 '"
check "relay tcp: an address no interface has yet is reported, not fatal" \
	grep -q "10.66.0.1:$P66: no interface has that address yet" "$R66/daemon.log"

out=$(r66_send "tcp:127.0.0.1:$P66" 1001 "$CG/a" "GET /v1.41/containers/json HTTP/1.1$H66")
check "relay tcp: uid 1001 over TCP: a read is answered by the upstream" grep -q "^HTTP/1.1 200" <<<"$out"
check "relay tcp: ... and reached it" grep -qF "GET /v1.41/containers/json 0" "$R66_LOG"
out=$(r66_send "tcp:127.0.0.1:$P66" 1001 "$CG/a" "POST /v1.41/containers/create HTTP/1.1\r\nHost: d\r\nContent-Length: 2\r\n\r\n{}")
check "relay tcp: uid 1001: a create is refused with 403 naming the uid" \
	grep -q "^HTTP/1.1 403" <<<"$out"
check "relay tcp: ... the message names uid 1001 and its cgroup" \
	grep -qF "for uid 1001 (python3, cgroup $CGPATH/a)" <<<"$out"
check "relay tcp: ... and the create never reached the upstream" \
	bash -c "! grep -qF 'POST /v1.41/containers/create' '$R66_LOG'"
check "relay tcp: the daemon's log names the caller's pid, comm and cgroup" \
	grep -qE "relay r66: refused 403 POST /containers/create for uid 1001 gid 1001 pid [0-9]+ \(python3\) cgroup $CGPATH/a" "$R66/daemon.log"

# the cgroup comes from the hooks' record: the same uid in ops may create
out=$(r66_send "tcp:127.0.0.1:$P66" 1002 "$CG/ops" "POST /v1.41/containers/create HTTP/1.1\r\nHost: d\r\nContent-Length: 2\r\n\r\n{}")
check "relay tcp: uid 1002 in cgroup ops (api full): the create goes through" grep -q "^HTTP/1.1 200" <<<"$out"
check "relay tcp: ... and reached the upstream" grep -qF "POST /v1.41/containers/create 2" "$R66_LOG"
# ... and the groups: uid 1003 with supplementary group 1066
: >"$R66_LOG"
out=$(r66_send "tcp:127.0.0.1:$P66" 1003 "$CG/a" "DELETE /v1.41/volumes/v66 HTTP/1.1$H66" --groups 1066)
check "relay tcp: uid 1003 with supplementary group 1066 (api full): a delete goes through" \
	grep -q "^HTTP/1.1 200" <<<"$out"
out=$(r66_send "tcp:127.0.0.1:$P66" 1003 "$CG/a" "DELETE /v1.41/volumes/v67 HTTP/1.1$H66" --groups 1067)
check "relay tcp: uid 1003 with group 1067 only: no rule, so its connect gets EPERM" \
	test "$out" = EPERM
check "relay tcp: ... only the first delete reached the upstream" \
	bash -c "grep -c DELETE '$R66_LOG' | grep -qx 1"
expect "relay tcp: uid 1002 in cgroup a (no rule admits it): EPERM at connect" EPERM \
	--cgroup "$CG/a" --uid 1002 connect tcp 127.0.0.1 "$P66"

# a connection that no hook judged (this shell is outside the test cgroup,
# as a client on another host would be): closed unread, and logged
out=$(python3 "$root/tests/relay/client.py" "tcp:127.0.0.1:$P66" "GET /v1.41/_ping HTTP/1.1$H66")
check "relay tcp: a connect the hooks did not judge is closed unread (no answer)" \
	grep -qxE "<EOF>|<RESET>" <<<"$out"
check "relay tcp: ... logged with the reason" \
	grep -q "relay r66: refused 403 - - .*the hooks recorded no connect" "$R66/daemon.log"
check "relay tcp: ... and never reached the upstream" bash -c "! grep -q _ping '$R66_LOG'"

# squatting: before the gateway exists, another process binds its address
# (IP_FREEBIND) to collect the requests meant for the relay; the relay's
# implicit listen rule (only the daemon's cgroup) refuses it
r66_squat() {	# r66_squat PORT: bound | EPERM, as uid 1001 in cgroup a
	python3 -c 'import os, socket, sys
open(sys.argv[1] + "/cgroup.procs", "w").write(str(os.getpid()))
os.setgid(1001); os.setuid(1001)
s = socket.socket()
s.setsockopt(socket.IPPROTO_IP, 15, 1)	# IP_FREEBIND: an address no interface has
try:
    s.bind(("10.66.0.1", int(sys.argv[2]))); print("bound")
except PermissionError:
    print("EPERM")' "$CG/a" "$1"
}
check "relay tcp: nobody else may bind the relay's address before it exists (EPERM)" \
	test "$(r66_squat "$P66")" = EPERM
check "relay tcp: ... while another port of that address binds (the rule, not the address)" \
	test "$(r66_squat 23799)" = bound
"$DG" --bpffs "$BPFFS" --run-dir "$R66/run" status >"$R66/status.out" 2>&1
check "relay tcp: status shows the address that does not exist yet as waiting" \
	grep -q "r66 *listen tcp 10.66.0.1:$P66: WAITING for the address to appear" "$R66/status.out"
check "relay tcp: ... the one that exists as bound, the upstream as reachable" \
	bash -c "grep -q 'r66 *listen tcp 127.0.0.1:$P66: bound' '$R66/status.out' && grep -q 'r66 *upstream unix $R66/up.sock: reachable' '$R66/status.out'"
check "relay tcp: status shows the relay's implicit listen rule" \
	bash -c "'$DG' --bpffs '$BPFFS' --run-dir '$R66/run' status 2>&1 | grep -q '(implicit) listen from'"

# the gateway appears: a veth to a namespace of its own, like docker0
ip netns add "$R66_NS"
ip link add v66a type veth peer name v66b
ip link set v66b netns "$R66_NS"
ip addr add 10.66.0.1/24 dev v66a
ip link set v66a up
ip netns exec "$R66_NS" ip addr add 10.66.0.2/24 dev v66b
ip netns exec "$R66_NS" ip link set v66b up
ip netns exec "$R66_NS" ip link set lo up
for _ in $(seq 50); do ss -ltn | grep -q "10.66.0.1:$P66 " && break; sleep 0.1; done
check "relay tcp: once 10.66.0.1 exists the relay listens there" \
	bash -c "ss -ltn | grep -q '10.66.0.1:$P66 '"
check "relay tcp: ... and the daemon says so" grep -q "tcp 10.66.0.1:$P66 has appeared" "$R66/daemon.log"
check "relay tcp: ... and status shows it bound" \
	bash -c "'$DG' --bpffs '$BPFFS' --run-dir '$R66/run' status --json | python3 -c 'import json, sys
s = json.load(sys.stdin)
r = [x for x in s[\"relay\"][\"relays\"] if x[\"name\"] == \"r66\"][0]
sys.exit(not all(l[\"state\"] == \"bound\" for l in r[\"listen\"]))'"
# a caller in the other namespace, as a container reaches the gateway
out=$(nsenter --net=/run/netns/"$R66_NS" python3 "$root/tests/relay/client.py" "tcp:10.66.0.1:$P66" \
	"GET /v1.41/info HTTP/1.1$H66" --uid 1001 --cgroup "$CG/a")
check "relay tcp: a caller in another network namespace is named by its record (uid 1001: 200)" \
	grep -q "^HTTP/1.1 200" <<<"$out"
out=$(nsenter --net=/run/netns/"$R66_NS" python3 "$root/tests/relay/client.py" "tcp:10.66.0.1:$P66" \
	"POST /v1.41/containers/create HTTP/1.1\r\nHost: d\r\nContent-Length: 2\r\n\r\n{}" --uid 1001 --cgroup "$CG/a")
check "relay tcp: ... and judged as uid 1001 in cgroup a (create: 403)" \
	grep -qF "for uid 1001 (python3, cgroup $CGPATH/a)" <<<"$out"
out=$(nsenter --net=/run/netns/"$R66_NS" python3 "$root/tests/relay/client.py" "tcp:10.66.0.1:$P66" \
	"POST /v1.41/containers/create HTTP/1.1\r\nHost: d\r\nContent-Length: 2\r\n\r\n{}" --uid 1002 --cgroup "$CG/ops")
check "relay tcp: ... uid 1002 in cgroup ops from there: the create goes through" \
	grep -q "^HTTP/1.1 200" <<<"$out"

# a relay whose upstream is TCP
: >"$R66_LOG"
for _ in $(seq 50); do [[ -S $R66/up-tcp.sock ]] && break; sleep 0.1; done
out=$(python3 "$root/tests/relay/client.py" "$R66/up-tcp.sock" "GET /v1.41/version HTTP/1.1$H66" --uid 1001)
check "relay tcp: a relay with a TCP upstream forwards an allowed request" grep -q "^HTTP/1.1 200" <<<"$out"
check "relay tcp: ... which reached the TCP upstream" grep -qF "GET /v1.41/version 0" "$R66_LOG"

kill -TERM "$R66_DAEMON"
wait "$R66_DAEMON"
check "relay tcp: the daemon exits 0" test $? -eq 0
ip netns del "$R66_NS" 2>/dev/null
ip link del v66a 2>/dev/null
