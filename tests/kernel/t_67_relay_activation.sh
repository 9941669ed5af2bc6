# Socket activation (docs/relay.md): the relay's unix socket held by the
# service manager (tests/relay/activate.py does what systemd does: fd 3,
# LISTEN_FDS, LISTEN_PID, a restart when the daemon exits) is served as
# passed, not bound anew: it keeps its inode across daemon restarts (bind
# mounts in running containers keep working), and a request sent while no
# daemon runs waits in its queue and is answered by the next one.

R67=$TMP/r67
mkdir -p "$R67/run"
chmod 755 "$R67"
R67_SOCK=$R67/relay.sock
R67_LOG=$R67/upstream.log
: >"$R67_LOG"
python3 "$root/tests/relay/upstream.py" "$R67/up.sock" "$R67_LOG" >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do [[ -S $R67/up.sock ]] && break; sleep 0.1; done
cat >"$R67/p.conf" <<CONF
relay r67 {
    listen unix $R67_SOCK
    upstream unix $R67/up.sock
}
allow r67 from user 1001 api read-only
CONF
H67='\r\nHost: docker\r\n\r\n'
r67_daemon() {	# the daemon activate.py runs now
	ps -eo pid=,ppid=,comm= | awk -v a="$R67_ACT" '$2 == a && $3 == "dockguard" { print $1 }'
}
r67_relay() {	# its relay process
	local d
	d=$(r67_daemon)
	[[ -n $d ]] && ps -eo pid=,ppid=,comm= | awk -v d="$d" '$2 == d && $3 == "dockguard-relay" { print $1 }'
}

python3 "$root/tests/relay/activate.py" "$R67_SOCK" "$R67/stop" \
	"$DG" --bpffs "$BPFFS" --cgroup "$CG" --run-dir "$R67/run" run "$R67/p.conf" \
	>"$R67/daemon.log" 2>&1 &
R67_ACT=$!
PIDS+=($R67_ACT)
for _ in $(seq 100); do [[ -n $(r67_relay) ]] && break; sleep 0.1; done
ino1=$(stat -c %i "$R67_SOCK")
d1=$(r67_daemon)
out=$(python3 "$root/tests/relay/client.py" "$R67_SOCK" "GET /v1.41/containers/json HTTP/1.1$H67" --uid 1001)
check "relay activation: the passed socket is served (200 from the upstream)" grep -q "^HTTP/1.1 200" <<<"$out"
check "relay activation: ... and the daemon used it, not a socket of its own" \
	test "$(stat -c %i "$R67_SOCK")" = "$ino1"

# the daemon stops; a request sent meanwhile waits in the socket's queue
kill -TERM "$d1"
for _ in $(seq 50); do kill -0 "$d1" 2>/dev/null || break; sleep 0.1; done
python3 "$root/tests/relay/client.py" "$R67_SOCK" "GET /v1.41/version HTTP/1.1$H67" --uid 1001 --wait 10 \
	>"$R67/queued.out" 2>&1 &
r67_client=$!
for _ in $(seq 100); do
	d2=$(r67_daemon)
	[[ -n $d2 && $d2 != "$d1" && -n $(r67_relay) ]] && break
	sleep 0.1
done
wait "$r67_client"
check "relay activation: the daemon came back (${d1} -> ${d2:-none})" test -n "$d2" -a "$d2" != "$d1"
check "relay activation: the socket kept its inode across the restart" \
	test "$(stat -c %i "$R67_SOCK")" = "$ino1"
check "relay activation: a request sent while no daemon ran was answered by the next one" \
	grep -q "^HTTP/1.1 200" "$R67/queued.out"
check "relay activation: ... and reached the upstream" grep -qF "GET /v1.41/version 0" "$R67_LOG"
check "relay activation: no passed socket was left unused" \
	bash -c "! grep -q 'systemd passed a socket' '$R67/daemon.log'"

touch "$R67/stop"
kill -TERM "$R67_ACT"
wait "$R67_ACT" 2>/dev/null
