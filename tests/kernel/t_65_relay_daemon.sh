# The daemon serves the policy's API relays from a process of its own
# (docs/relay.md): the hooks judge who may connect to a relay's socket, the
# relay process judges each request; a relay that dies comes back on the
# same socket file (same inode: containers bind-mount it) while enforcement
# goes on; SIGHUP leaves open streams to the old relay process and judges new
# requests by the new policy. A stand-in Docker API (tests/relay/upstream.py)
# records what reaches it. Ends with the pins removed (--unload-on-exit).

R65=$TMP/r65
mkdir -p "$R65/relay" "$R65/run"
chmod 755 "$R65" "$R65/relay"
R65_SOCK=$R65/relay/docker.sock
R65_LOG=$R65/upstream.log
: >"$R65_LOG"
python3 "$root/tests/relay/upstream.py" "$R65/up.sock" "$R65_LOG" >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do [[ -S $R65/up.sock ]] && break; sleep 0.1; done

r65_policy() {	# r65_policy PING-RULE [Y-EVENTS-RULE]
	cat >"$R65/p.conf" <<CONF
relay r65 {
    listen unix $R65_SOCK
    upstream unix $R65/up.sock
}
api p65 extends read-only {
    $1 GET /_ping
    allow GET /x/events
    ${2:-allow} GET /y/events
}
allow r65 from user 1001 api p65
CONF
}
r65_policy allow
# r65_send UID BYTES: one request through the relay as UID, the answer
r65_send() { python3 "$root/tests/relay/client.py" "$R65_SOCK" "$2" --uid "$1"; }
r65_relay_pid() {	# the daemon's newest relay process (ps: the guests have no pgrep)
	ps -eo pid=,ppid=,comm= | awk -v d="$R65_DAEMON" '$2 == d && $3 == "dockguard-relay" { p = $1 } END { print p }'
}
r65_next_pid() {	# r65_next_pid OLD: the relay process that replaces OLD (5 s at most)
	local pid
	for _ in $(seq 50); do
		pid=$(r65_relay_pid)
		[[ -n $pid && $pid != "$1" ]] && break
		sleep 0.1
	done
	echo "$pid"
}
H65='\r\nHost: docker\r\n\r\n'

"$DG" --bpffs "$BPFFS" --cgroup "$CG" --run-dir "$R65/run" run --unload-on-exit "$R65/p.conf" \
	>"$R65/daemon.log" 2>&1 &
R65_DAEMON=$!
PIDS+=($R65_DAEMON)
for _ in $(seq 100); do [[ -S $R65_SOCK ]] && [[ -n $(r65_relay_pid) ]] && break; sleep 0.1; done

check "relay daemon: the relay's socket exists, mode 0666" test "$(stat -c %a "$R65_SOCK" 2>/dev/null)" = 666
pid1=$(r65_relay_pid)
check "relay daemon: a relay process of its own (pid ${pid1:-none}, not the daemon's)" \
	test -n "$pid1" -a "$pid1" != "$R65_DAEMON"
out=$(r65_send 1001 "GET /v1.41/containers/json HTTP/1.1$H65")
check "relay daemon: an allowed request is answered by the upstream" grep -q "^HTTP/1.1 200" <<<"$out"
check "relay daemon: ... and reached it" grep -qF "GET /v1.41/containers/json 0" "$R65_LOG"
out=$(r65_send 1001 "GET /v1.41/secrets HTTP/1.1$H65")
check "relay daemon: a request the profile does not allow: 403" grep -q "^HTTP/1.1 403" <<<"$out"
check "relay daemon: ... never reached the upstream" bash -c "! grep -qF /secrets '$R65_LOG'"
check "relay daemon: the refusal is in the daemon's log" \
	grep -qF "relay r65: refused 403 GET /secrets for uid 1001" "$R65/daemon.log"
# the relay's events reach `tail` through the daemon
"$DG" --bpffs "$BPFFS" --run-dir "$R65/run" tail --json >"$R65/tail.out" 2>&1 &
r65_tail=$!
sleep 0.5
r65_send 1001 "DELETE /v1.41/volumes/v1 HTTP/1.1$H65" >/dev/null
for _ in $(seq 30); do grep -q '"op":"api"' "$R65/tail.out" && break; sleep 0.1; done
kill "$r65_tail" 2>/dev/null
wait "$r65_tail" 2>/dev/null
check "relay daemon: tail --json has the refusal as an api event (method, path, status, api_rule, caller)" \
	python3 -c 'import json, sys
evs = [json.loads(l) for l in open(sys.argv[1]) if "\"op\":\"api\"" in l]
sys.exit(not any(e["method"] == "DELETE" and e["path"] == "/volumes/v1" and e["status"] == 403
                 and e["api_rule"] == "default" and e["uid"] == 1001 and e["verdict"] == "deny"
                 and e["dest"] == "relay:r65" for e in evs))' "$R65/tail.out"

# suggest: what uid 1001 asked, as an api block (ids made `*`; the create,
# refused for want of a rule, commented out as root-equivalent)
for t in "GET /v1.41/containers/0123abcd/json" "GET /v1.41/containers/web/json" "HEAD /_ping" \
	"GET /v1.41/_ping" "POST /v1.41/containers/create?name=x"; do
	r65_send 1001 "$t HTTP/1.1$H65" >/dev/null
done
sleep 1.5	# the relay process reports once a second
"$DG" --run-dir "$R65/run" suggest --uid 1001 >"$R65/suggest.out" 2>&1
check "suggest: an api block for the caller" grep -q "^api seen-uid-1001 {" "$R65/suggest.out"
check "suggest: two container ids are one route" grep -qE "^    allow GET /containers/\*/json +# 2$" "$R65/suggest.out"
check "suggest: both methods on one line" grep -qE "^    allow (GET,HEAD|HEAD,GET) /_ping " "$R65/suggest.out"
check "suggest: the create is commented out and marked root-equivalent" \
	grep -qE "^#   allow POST /containers/create +# 1 ROOT-EQUIVALENT$" "$R65/suggest.out"
{ sed -n '/^relay/,/^}/p' "$R65/p.conf"; cat "$R65/suggest.out"; echo "allow r65 from user 1001 api seen-uid-1001"; } >"$R65/suggested.conf"
chmod 600 "$R65/suggested.conf"
check "suggest: its output pastes into a policy that checks" "$DG" check "$R65/suggested.conf"
"$DG" --run-dir "$R65/run" suggest --container nobody >/dev/null 2>&1
check "suggest: a caller never seen: exit 1" test $? = 1

# who may connect at all: the hooks, as for any endpoint
expect_unix "relay daemon: a uid no rule admits cannot connect to the relay" EPERM \
	--cgroup "$CG/c" --uid 1002 connect unix "$R65_SOCK"
expect_unix "relay daemon: the admitted uid connects" ok --cgroup "$CG/c" --uid 1001 connect unix "$R65_SOCK"

# status: the relay process and the requests per API rule (reported within a second)
sleep 1.5
st=$("$DG" --bpffs "$BPFFS" --run-dir "$R65/run" status --json)
check "relay daemon: status --json names the relay process" \
	python3 -c 'import json, sys; sys.exit(json.loads(sys.argv[1])["relay"]["pid"] != int(sys.argv[2]))' "$st" "$pid1"
check "relay daemon: status counts the default deny's refusals (3, suggest's create too) per API rule" \
	python3 -c 'import json, sys
r = json.loads(sys.argv[1])["relay"]["rules"]
sys.exit(not any(x["relay"] == "r65" and x["api_rule"] == "default" and x["denied"] == 3 for x in r))' "$st"
check "relay daemon: ... and the allow of a read-only rule (built-in)" \
	python3 -c 'import json, sys
r = json.loads(sys.argv[1])["relay"]["rules"]
sys.exit(not any(x["api_rule"].startswith("built-in:") and x["allowed"] >= 1 for x in r))' "$st"
check "relay daemon: status text shows the relay section" \
	bash -c "'$DG' --bpffs '$BPFFS' --run-dir '$R65/run' status | grep -q '^relay:       process $pid1'"

# the relay dies: enforcement and events go on, it comes back on the same file
inode=$(stat -c %i "$R65_SOCK")
kill -KILL "$pid1"
pid2=$(r65_next_pid "$pid1")
check "relay daemon: a killed relay process is started again (${pid1} -> ${pid2:-none})" \
	test -n "$pid2" -a "$pid2" != "$pid1"
check "relay daemon: ... and the daemon says so" grep -q "relay process $pid1 was killed by signal 9" "$R65/daemon.log"
check "relay daemon: the socket file kept its inode (bind mounts keep working)" \
	test "$(stat -c %i "$R65_SOCK")" = "$inode"
out=$(r65_send 1001 "GET /_ping HTTP/1.1$H65")
check "relay daemon: requests are served again" grep -q "^HTTP/1.1 200" <<<"$out"
check "relay daemon: the daemon lived through it" kill -0 "$R65_DAEMON"
expect_unix "relay daemon: enforcement went on" EPERM --cgroup "$CG/c" --uid 1002 connect unix "$R65_SOCK"

# SIGHUP with an open stream: the stream runs on, new requests get the new policy
python3 "$root/tests/relay/client.py" "$R65_SOCK" "GET /v1.41/x/events HTTP/1.1$H65" --uid 1001 \
	--for 4 >"$R65/stream.out" &
stream=$!
# ... and one the new policy refuses: it is closed at the reload
python3 "$root/tests/relay/client.py" "$R65_SOCK" "GET /v1.41/y/events HTTP/1.1$H65" --uid 1001 \
	--for 4 >"$R65/stream-y.out" &
stream_y=$!
# both streams flowing (a loaded machine starts python slowly)
for _ in $(seq 100); do
	grep -q '{"n":' "$R65/stream.out" && grep -q '{"n":' "$R65/stream-y.out" && break
	sleep 0.05
done
r65_policy deny deny
kill -HUP "$R65_DAEMON"
pid3=$(r65_next_pid "$pid2")
lines_at_reload=$(grep -c '{"n":' "$R65/stream.out")
out=$(r65_send 1001 "GET /_ping HTTP/1.1$H65")
check "relay daemon: after SIGHUP a new request is judged by the new policy (403)" grep -q "^HTTP/1.1 403" <<<"$out"
wait "$stream"
lines_after=$(grep -c '{"n":' "$R65/stream.out")
check "relay daemon: the stream opened before SIGHUP ran on ($lines_at_reload -> $lines_after lines)" \
	test "$lines_after" -gt $((lines_at_reload + 5))
wait "$stream_y"
check "relay daemon: the stream that the new policy refuses was closed at the reload" \
	bash -c "tail -n 1 '$R65/stream-y.out' | grep -q '<EOF>' && test \$(grep -c '{\"n\":' '$R65/stream-y.out') -lt 20"
check "relay daemon: ... and the daemon's log says why" \
	grep -q "relay r65: refused 403 GET /y/events for uid 1001 .*the new policy refuses what this connection runs" "$R65/daemon.log"
grep -q "the new policy refuses what" "$R65/daemon.log" || {
	echo "    stream-y: $(head -c 300 "$R65/stream-y.out" | tr '\r\n' '  ')"
	grep -n "relay\|reload" "$R65/daemon.log" | tail -n 12 | sed 's/^/    /'
}
check "relay daemon: a new relay process serves the new policy (${pid2} -> ${pid3:-none})" \
	test -n "$pid3" -a "$pid3" != "$pid2"
for _ in $(seq 30); do kill -0 "$pid2" 2>/dev/null || break; sleep 0.1; done
check "relay daemon: the old relay process ended once its stream did" bash -c "! kill -0 $pid2 2>/dev/null"
sleep 1.2
st=$("$DG" --bpffs "$BPFFS" --run-dir "$R65/run" status --json)
check "relay daemon: counts of ended relay processes stay in status (4 refusals in all, 1 by the new deny)" \
	python3 -c 'import json, sys
r = json.loads(sys.argv[1])["relay"]["rules"]
sys.exit(not (sum(x["denied"] for x in r) == 4 and
              any(x["api_rule"].endswith("p.conf:6") and x["denied"] == 1 for x in r)))' "$st"

# status names the profiles in learning mode, with their end
r65_policy $'audit until 2999-12-31\n    deny'	# the deny of the last reload stays
kill -HUP "$R65_DAEMON"
r65_next_pid "$pid3" >/dev/null
pid3=$(r65_relay_pid)
st=$("$DG" --bpffs "$BPFFS" --run-dir "$R65/run" status 2>&1)
check "relay daemon: status shows the profile in learning mode and its end" \
	grep -qF "learning:  profile p65 until 2999-12-31: requests no rule matches are forwarded and logged" <<<"$st"

kill -TERM "$R65_DAEMON"
wait "$R65_DAEMON"
check "relay daemon: the daemon exits 0" test $? -eq 0
check "relay daemon: no relay process outlives it" bash -c "! kill -0 $pid3 2>/dev/null"
