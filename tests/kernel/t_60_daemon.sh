# The daemon (`dockguard run`): sd_notify, events to tail clients and to its
# log, rate limiting, SIGHUP reloads, crashes and stops that leave
# enforcement in place, slow and vanished clients, `tail` without a daemon,
# and the systemd unit.
#
# Uses the listeners of t_10 ($P, $P2, $SOCKDIR/api.sock). Ends with the
# pins removed by a daemon run with --unload-on-exit; t_90 loads its own.

RUN=$TMP/run
NOTIFY=$TMP/notify
DLOG=$TMP/daemon.log
mkdir -p "$CG/flood" "$CG/flood2" "$CG/after" "$CG/direct"

# The daemon's policy: tcp4/tcp6/unix denies, an audit rule, a listen rule.
write_policy() {	# write_policy FILE LOG-RATE API-USER
	cat >"$1" <<CONF
endpoint api {
    tcp 127.0.0.1:$P
    tcp [::1]:$P
}
endpoint sock unix $SOCKDIR/api.sock
endpoint guarded tcp 127.0.0.1:$P2
set log-rate $2

allow api from user $3
audit api from user 1003
deny { api, sock } from user 1002
allow sock from user 1001
allow guarded from any
listen guarded from cgroup $CGPATH/a
CONF
}
write_policy "$TMP/d.conf" 20/s 1001
line_of() { grep -n -- "$1" "$TMP/d.conf" | head -n 1 | cut -d: -f1; }
L_DENY=$(line_of '^deny { api, sock } from user 1002')
L_AUDIT=$(line_of '^audit api')
L_LISTEN=$(line_of '^listen guarded')

# ctl REQUEST: one request on the control socket, the answer on stdout
ctl() {
	python3 - "$RUN/control.sock" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
try:
    s.connect(sys.argv[1])
    try:
        s.sendall((sys.argv[2] + "\n").encode())
    except OSError:
        pass  # refused before the request: the answer is still to be read
    out = b""
    while True:
        try:
            d = s.recv(65536)
        except ConnectionResetError:
            break  # the daemon closed without reading our request: refused
        if not d:
            break
        out += d
    sys.stdout.write(out.decode(errors="replace"))
except OSError as e:
    print("ctl: %s" % e)
PY
}

# count_lines FILE REGEX: how many lines match (0 when the file is missing)
count_lines() { grep -cE -- "$2" "$1" 2>/dev/null || true; }

# wait_count FILE REGEX N: until at least N lines match (5 s at most)
wait_count() {
	local i
	for i in $(seq 1 50); do
		(($(count_lines "$1" "$2") >= $3)) && return 0
		sleep 0.1
	done
	return 1
}

# has_fields NAME FILE FIELD...: some line of FILE holds every FIELD (fixed
# strings; a FIELD starting with ~ is an extended regex)
has_fields() {
	local name=$1 file=$2 lines f
	shift 2
	lines=$(cat "$file" 2>/dev/null)
	for f in "$@"; do
		if [[ $f == '~'* ]]; then
			lines=$(grep -E -- "${f#\~}" <<<"$lines")
		else
			lines=$(grep -F -- "$f" <<<"$lines")
		fi
	done
	if [[ -n $lines ]]; then pass "$name"; else fail "$name: no line in $(basename "$file") with: $*"; fi
}

start_daemon() {	# start_daemon [RUN-OPTIONS...]: sets DPID
	NOTIFY_SOCKET=$NOTIFY env -u JOURNAL_STREAM "$DG" --bpffs "$BPFFS" --cgroup "$CG" \
		--run-dir "$RUN" run "$@" "$TMP/d.conf" 2>>"$DLOG" &
	DPID=$!
	PIDS+=("$DPID")
}

status_field() {	# status_field NAME: a number from the daemon's status answer
	ctl status | grep -o "\"$1\":[0-9]*" | cut -d: -f2
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

"$(dirname "$PROBE")/dg-notify" "$NOTIFY" >"$TMP/notify.out" 2>&1 &
NPID=$!
PIDS+=("$NPID")
for _ in $(seq 1 50); do [[ -S $NOTIFY ]] && break; sleep 0.1; done

# ---- start-up ----------------------------------------------------------
: >"$DLOG"
start_daemon
check "daemon: READY=1 on NOTIFY_SOCKET" wait_count "$TMP/notify.out" '^READY=1$' 1
check "daemon: STATUS= names the policy and generation" \
	grep -qE "^STATUS=enforcing $TMP/d.conf, generation [0-9]+$" "$TMP/notify.out"
check "daemon: control socket is 0600 in a 0700 run dir" \
	test "$(stat -c %a "$RUN")" = 700 -a "$(stat -c %a "$RUN/control.sock")" = 600
check "status: daemon: running" bash -c "'$DG' --bpffs '$BPFFS' --run-dir '$RUN' status | grep -q '^daemon: *running$'"
out=$(ctl status)
check "control status: pid, policy, generation, counters, loads" \
	grep -qE "^\{\"pid\":$DPID,\"policy\":\"$TMP/d.conf\",\"generation\":[0-9]+,\"started_at\":\"[0-9T:-]+Z\",\"events\":[0-9]+,\"clients\":0,\"client_drops\":0,\"docker\":\{\"host\":\"[^\"]*\",\"connected\":(true|false),\"containers\":[0-9]+,\"error\":\"[^\"]*\",\"prepared\":[0-9]+\},\"loads\":\{\"ok\":[1-9][0-9]*,\"failed\":0\}\}$" <<<"$out"
check "control: unknown request refused" test "$(ctl 'tail yaml')" = "error: unknown request"

# ---- events: to tail clients and to the log ---------------------------
"$DG" --bpffs "$BPFFS" --run-dir "$RUN" tail --json >"$TMP/tail.json" 2>"$TMP/tail.err" &
TPID=$!
PIDS+=("$TPID")
"$DG" --bpffs "$BPFFS" --run-dir "$RUN" tail >"$TMP/tail.txt" 2>&1 &
TTPID=$!
PIDS+=("$TTPID")
for _ in $(seq 1 50); do [[ $(status_field clients) == 2 ]] && break; sleep 0.1; done

C=(--cgroup "$CG/c")
expect "daemon: tcp4 deny" EPERM "${C[@]}" --uid 1002 connect tcp 127.0.0.1 "$P"
expect "daemon: tcp6 deny" EPERM "${C[@]}" --uid 1002 connect tcp6 ::1 "$P"
expect_unix "daemon: unix deny" EPERM "${C[@]}" --uid 1002 connect unix "$SOCKDIR/api.sock"
expect "daemon: audit allow" ok "${C[@]}" --uid 1003 --gid 1003 connect tcp 127.0.0.1 "$P"
expect "daemon: bind refused by the listen rule" EPERM "${C[@]}" bind tcp 127.0.0.1 "$P2"
wait_count "$TMP/tail.json" '"op":"bind"' 1
RULE=$TMP/d.conf
has_fields "tail --json: tcp4 deny, every field" "$TMP/tail.json" '"verdict":"deny"' \
	'"endpoint":"api"' "\"dest\":\"tcp:127.0.0.1:$P\"" '"op":"connect"' \
	"\"rule\":\"$RULE:$L_DENY\"" '~"pid":[1-9][0-9]*,' '"comm":"dg-probe"' '"uid":1002,' \
	'"gid":0,' "\"cgroup\":\"$CGPATH/c\"" '"suppressed":0' '~"time":"[0-9-]+T[0-9:.]+Z"'
has_fields "tail --json: tcp6 deny" "$TMP/tail.json" '"verdict":"deny"' '"endpoint":"api"' \
	"\"dest\":\"tcp:[::1]:$P\"" '"op":"connect"' "\"rule\":\"$RULE:$L_DENY\"" '"uid":1002,' \
	"\"cgroup\":\"$CGPATH/c\"" '"comm":"dg-probe"'
if ((UNIX_HOOK || UNIX_LSM)); then
	has_fields "tail --json: unix deny" "$TMP/tail.json" '"verdict":"deny"' '"endpoint":"sock"' \
		"\"dest\":\"unix:$SOCKDIR/api.sock\"" '"op":"connect"' "\"rule\":\"$RULE:$L_DENY\"" \
		'"uid":1002,' "\"cgroup\":\"$CGPATH/c\""
else
	check "tail --json: no unix event (not judged without connect_unix)" \
		bash -c "! grep -q '\"dest\":\"unix:' '$TMP/tail.json'"
fi
has_fields "tail --json: audit allow (verdict audit)" "$TMP/tail.json" '"verdict":"audit"' '"endpoint":"api"' \
	"\"dest\":\"tcp:127.0.0.1:$P\"" '"op":"connect"' "\"rule\":\"$RULE:$L_AUDIT\"" \
	'"uid":1003,' '"gid":1003,' "\"cgroup\":\"$CGPATH/c\""
# No listen rule matched, so the BPF side reports the refusal as decided by
# "default" (the policy's listen guard); the listen rule's FILE:LINE would
# tell an operator more, and is accepted too.
has_fields "tail --json: refused bind" "$TMP/tail.json" '"verdict":"deny"' \
	'"endpoint":"guarded"' "\"dest\":\"tcp:127.0.0.1:$P2\"" '"op":"bind"' \
	'"uid":0,' "\"cgroup\":\"$CGPATH/c\"" "~\"rule\":\"($RULE:$L_LISTEN|default)\""
has_fields "daemon log: tcp4 deny" "$DLOG" "deny api tcp:127.0.0.1:$P connect pid" \
	"(dg-probe) uid 1002 gid 0 cgroup $CGPATH/c rule $RULE:$L_DENY"
has_fields "daemon log: tcp6 deny" "$DLOG" "deny api tcp:[::1]:$P connect" "uid 1002"
if ((UNIX_HOOK || UNIX_LSM)); then
	has_fields "daemon log: unix deny" "$DLOG" "deny sock unix:$SOCKDIR/api.sock connect" "uid 1002"
else
	check "daemon log: says unix endpoints are NOT enforced" grep -q "WARNING: unix endpoints are NOT enforced" "$DLOG"
fi
has_fields "daemon log: audit allow (verdict audit)" "$DLOG" "audit api tcp:127.0.0.1:$P connect" \
	"uid 1003 gid 1003 cgroup $CGPATH/c rule $RULE:$L_AUDIT"
has_fields "daemon log: refused bind" "$DLOG" "deny guarded tcp:127.0.0.1:$P2 bind" \
	"~rule ($RULE:$L_LISTEN|default)\$"
has_fields "tail (text): the same events, one line each" "$TMP/tail.txt" \
	"deny guarded tcp:127.0.0.1:$P2 bind" "~rule ($RULE:$L_LISTEN|default)\$"
# a denied unix connect is in the backlog when the kernel judges it; else a tcp one
BACKLOG_DEST=unix:$SOCKDIR/api.sock
((UNIX_HOOK || UNIX_LSM)) || BACKLOG_DEST=tcp:127.0.0.1:$P
out=$("$DG" --bpffs "$BPFFS" --run-dir "$RUN" tail --json --no-follow)
check "tail --no-follow: the daemon's backlog, then exit" \
	bash -c "grep -q '\"dest\":\"$BACKLOG_DEST\"' <<<'$out' && grep -q '\"op\":\"bind\"' <<<'$out'"

# ---- rate limit: bounded, and events + suppressed = decisions ----------
expect "flood: 5000 denied connects" EPERM --cgroup "$CG/flood" --uid 1002 --repeat 5000 connect tcp 127.0.0.1 "$P"
sleep 1.1
expect "flood: one more after the window" EPERM --cgroup "$CG/flood" --uid 1002 connect tcp 127.0.0.1 "$P"
sleep 0.3
fl=$("$DG" --bpffs "$BPFFS" --run-dir "$RUN" tail --json --no-follow | grep -F "\"cgroup\":\"$CGPATH/flood\"")
n=$(grep -c . <<<"$fl")
sum=$(grep -o '"suppressed":[0-9]*' <<<"$fl" | awk -F: '{ s += $2 } END { print s + 0 }')
check "flood: $n events for 5001 decisions at log-rate 20/s (<= 60)" test "$n" -ge 2 -a "$n" -le 60
check "flood: events + suppressed = $n + $sum = 5001" test $((n + sum)) -eq 5001
check "flood: the last event carries the suppressed count" \
	bash -c "tail -n 1 <<<'$fl' | grep -qE '\"suppressed\":[1-9]'"

# ---- SIGHUP: reload, and a broken file keeps the old policy ------------
nready=$(count_lines "$TMP/notify.out" '^READY=1$')
nlines=$(wc -l <"$TMP/notify.out")
write_policy "$TMP/d.conf" 20/s 1006
kill -HUP "$DPID"
wait_count "$TMP/notify.out" '^READY=1$' $((nready + 1))
after=$(tail -n +$((nlines + 1)) "$TMP/notify.out")
check "SIGHUP: RELOADING=1 (with MONOTONIC_USEC) then READY=1" \
	bash -c "grep -A9 '^RELOADING=1$' <<<'$after' | grep -q '^MONOTONIC_USEC=[0-9]*$' &&
		 grep -A9 '^RELOADING=1$' <<<'$after' | grep -q '^READY=1$'"
expect "SIGHUP: the new rule applies (uid 1006 allowed)" ok "${C[@]}" --uid 1006 connect tcp 127.0.0.1 "$P"
expect "SIGHUP: the old rule is gone (uid 1001 denied)" EPERM "${C[@]}" --uid 1001 connect tcp 127.0.0.1 "$P"
gen=$(status_field generation)
check "SIGHUP: the daemon log names the new generation" grep -q "reloaded .*generation $gen" "$DLOG"

cp "$TMP/d.conf" "$TMP/d.good"
echo "allow api frm user root" >>"$TMP/d.conf"
nready=$(count_lines "$TMP/notify.out" '^READY=1$')
kill -HUP "$DPID"
wait_count "$TMP/notify.out" '^READY=1$' $((nready + 1))
check "SIGHUP broken file: the log says reload failed, keeping generation $gen" \
	grep -q "reload failed, keeping generation $gen: " "$DLOG"
check "SIGHUP broken file: the error names FILE:LINE" grep -q "^$TMP/d.conf:[0-9]*:[0-9]*: error:" "$DLOG"
check "SIGHUP broken file: the daemon keeps running" kill -0 "$DPID"
check "SIGHUP broken file: generation unchanged" test "$(status_field generation)" = "$gen"
expect "SIGHUP broken file: uid 1006 still allowed" ok "${C[@]}" --uid 1006 connect tcp 127.0.0.1 "$P"
expect "SIGHUP broken file: uid 1002 still denied" EPERM "${C[@]}" --uid 1002 connect tcp 127.0.0.1 "$P"

# ---- slow, stuck and vanished clients under an event flood --------------
write_policy "$TMP/d.conf" 1000000/s 1001
nready=$(count_lines "$TMP/notify.out" '^READY=1$')
kill -HUP "$DPID"
wait_count "$TMP/notify.out" '^READY=1$' $((nready + 1))
"$(dirname "$PROBE")/dg-slow-client" "$RUN/control.sock" "tail json" >"$TMP/slow.out" 2>&1 &
SLOW=$!
PIDS+=("$SLOW")
"$DG" --bpffs "$BPFFS" --run-dir "$RUN" tail --json >"$TMP/stopped.json" 2>&1 &
SPID=$!
PIDS+=("$SPID")
"$DG" --bpffs "$BPFFS" --run-dir "$RUN" tail --json >/dev/null 2>&1 &
KPID=$!
PIDS+=("$KPID")
for _ in $(seq 1 50); do [[ $(status_field clients) == 5 ]] && break; sleep 0.1; done
check "flood: 5 tail clients following" test "$(status_field clients)" = 5
kill -STOP "$SPID"
ev0=$(status_field events)
"$PROBE" --cgroup "$CG/flood2" --uid 1002 --repeat 40000 connect tcp 127.0.0.1 "$P" >/dev/null &
FPID=$!
sleep 0.1
{ kill -9 "$KPID"; wait "$KPID"; } 2>/dev/null	# a client killed mid-stream
maxrss=0
while kill -0 "$FPID" 2>/dev/null; do
	r=$(rss_kb "$DPID")
	((r > maxrss)) && maxrss=$r
	sleep 0.05
done
wait "$FPID"
# until the daemon has consumed everything
prev=-1
for _ in $(seq 1 50); do
	cur=$(status_field events)
	[[ $cur == "$prev" ]] && break
	prev=$cur
	sleep 0.2
done
ev1=$(status_field events)
r=$(rss_kb "$DPID")
((r > maxrss)) && maxrss=$r
echo "    flood: $((ev1 - ev0)) events delivered, daemon VmRSS peak $((maxrss / 1024)) MB"
check "flood: the daemon is alive after a client was killed mid-stream" kill -0 "$DPID"
# the 1 MiB ring buffer holds at most ~4900 events (216 bytes each): more
# than that means the daemon kept consuming while the stuck client waited
check "flood: the daemon kept consuming ($((ev1 - ev0)) of 40000 events > 5000)" test $((ev1 - ev0)) -gt 5000
check "flood: daemon RSS stays under 64 MB (peak $((maxrss / 1024)) MB)" test "$maxrss" -lt 65536
check "flood: status still answers, with client drops counted" test "$(status_field client_drops)" -gt 0
out=$(timeout 10 "$DG" --bpffs "$BPFFS" --run-dir "$RUN" tail --json --no-follow | grep -c "\"cgroup\":\"$CGPATH/flood2\"")
check "flood: a fresh tail --no-follow still answers ($out backlog events)" test "$out" -eq 1000
kill -CONT "$SPID"
good=0
for _ in $(seq 1 50); do
	got=$(grep -c "\"cgroup\":\"$CGPATH/flood2\"" "$TMP/stopped.json")
	dropped=$(grep -o '^{"notice":"dropped","events":[0-9]*}$' "$TMP/stopped.json" |
		grep -o '[0-9]*' | awk '{ s += $1 } END { print s + 0 }')
	if ((got + dropped == ev1 - ev0)); then good=1; break; fi
	sleep 0.1
done
check "slow reader: got $got lines + a notice of $dropped dropped = $((ev1 - ev0)) events" \
	test "$good" -eq 1 -a "$dropped" -gt 0
check "slow reader: the notice is a line of its own, in the stream" \
	grep -qE '^\{"notice":"dropped","events":[1-9][0-9]*\}$' "$TMP/stopped.json"
got=$(grep -c "\"cgroup\":\"$CGPATH/flood2\"" "$TMP/tail.json")
dropped=$(grep -o '^{"notice":"dropped","events":[0-9]*}$' "$TMP/tail.json" |
	grep -o '[0-9]*' | awk '{ s += $1 } END { print s + 0 }')
check "a reader that keeps up: $got lines + $dropped dropped = $((ev1 - ev0)) events" \
	test $((got + dropped)) -eq $((ev1 - ev0))
check "slow reader: nothing crashed in the daemon log" bash -c "! grep -qiE 'sanitizer|segmentation|abort|assert' '$DLOG'"
kill "$SPID" "$SLOW" 2>/dev/null
wait "$SPID" "$SLOW" 2>/dev/null

# at most 64 clients: fill up with stuck ones (the two tails above follow)
followers=2
for _ in $(seq 1 50); do [[ $(status_field clients) == "$followers" ]] && break; sleep 0.1; done
stuck=()
for _ in $(seq 1 $((64 - followers))); do
	"$(dirname "$PROBE")/dg-slow-client" "$RUN/control.sock" "tail text" >/dev/null 2>&1 &
	stuck+=($!)
	PIDS+=($!)
done
# (a slow guest of the kernel matrix takes seconds to start 62 clients)
for _ in $(seq 1 300); do [[ $(ctl status) == "error: too many clients" ]] && break; sleep 0.1; done
out=$(ctl status)
check "the 65th client is refused: error: too many clients" test "$out" = "error: too many clients"
# (bounded: were the daemon not full, tail would follow for good)
out=$(timeout 10 "$DG" --bpffs "$BPFFS" --run-dir "$RUN" tail --json 2>&1)
check "tail refused by a full daemon: exit 3 with the daemon's reason" \
	bash -c "test $? -eq 3 && grep -q 'refused: too many clients' <<<'$out'"
kill "${stuck[@]}" 2>/dev/null
wait "${stuck[@]}" 2>/dev/null
for _ in $(seq 1 50); do [[ $(status_field clients) == "$followers" ]] && break; sleep 0.1; done
check "vanished clients are freed: status answers again" test "$(status_field clients)" = "$followers"

# ---- kill -9: enforcement stays; a restarted daemon carries on ----------
cp "$TMP/d.good" "$TMP/d.conf"
{ kill -9 "$DPID"; wait "$DPID"; } 2>/dev/null
expect "after kill -9: enforcement stays (EPERM)" EPERM "${C[@]}" --uid 1002 connect tcp 127.0.0.1 "$P"
check "after kill -9: status says daemon not running" \
	bash -c "'$DG' --bpffs '$BPFFS' --run-dir '$RUN' status | grep -q '^daemon: *not running$'"
wait "$TPID"
check "tail exits 0 when its daemon goes away" test $? -eq 0
wait "$TTPID" 2>/dev/null
nready=$(count_lines "$TMP/notify.out" '^READY=1$')
start_daemon
check "restarted daemon: READY=1" wait_count "$TMP/notify.out" '^READY=1$' $((nready + 1))
check "restarted daemon: replaced the stale control socket" \
	bash -c "'$DG' --bpffs '$BPFFS' --run-dir '$RUN' status | grep -q '^daemon: *running$'"
expect "restarted daemon: still enforcing" EPERM --cgroup "$CG/after" --uid 1002 connect tcp 127.0.0.1 "$P"
sleep 0.2
check "restarted daemon: events flow again" \
	bash -c "'$DG' --bpffs '$BPFFS' --run-dir '$RUN' tail --json --no-follow | grep -q '\"cgroup\":\"$CGPATH/after\"'"
first=$DPID
start_daemon
wait "$DPID"
check "a second daemon on the same run dir refuses to start (exit 3)" test $? -eq 3
check "a second daemon says another daemon serves the socket" grep -q "another dockguard daemon already serves $RUN/control.sock" "$DLOG"
DPID=$first
check "the first daemon still serves" test "$(status_field pid)" = "$DPID"

# ---- SIGTERM: exit 0, STOPPING=1, enforcement stays --------------------
kill -TERM "$DPID"
wait "$DPID"
check "SIGTERM: exit status 0" test $? -eq 0
check "SIGTERM: STOPPING=1 sent" grep -q '^STOPPING=1$' "$TMP/notify.out"
check "SIGTERM: says enforcement stays" grep -q "exiting; enforcement stays in place (pinned in $BPFFS)" "$DLOG"
check "SIGTERM: control socket removed" test ! -e "$RUN/control.sock"
expect "after SIGTERM: enforcement stays (EPERM)" EPERM "${C[@]}" --uid 1002 connect tcp 127.0.0.1 "$P"

# ---- a broken policy file at start with a policy pinned: carry on ------
echo "allow api frm user root" >>"$TMP/d.conf"
nready=$(count_lines "$TMP/notify.out" '^READY=1$')
start_daemon
check "broken file at start, policy pinned: READY=1 anyway" \
	wait_count "$TMP/notify.out" '^READY=1$' $((nready + 1))
check "broken file at start: the log says it keeps the pinned policy" \
	grep -q "continuing with the policy already pinned in $BPFFS" "$DLOG"
expect "broken file at start: the pinned policy still denies" EPERM "${C[@]}" --uid 1002 connect tcp 127.0.0.1 "$P"
kill -TERM "$DPID"
wait "$DPID"
check "broken file at start: SIGTERM exits 0" test $? -eq 0
cp "$TMP/d.good" "$TMP/d.conf"

# ---- tail without a daemon: the pinned ring buffer ---------------------
# a unix connect where the kernel judges it, else a tcp one
if ((UNIX_HOOK || UNIX_LSM)); then
	expect "no daemon: a denied connect" EPERM --cgroup "$CG/direct" --uid 1002 connect unix "$SOCKDIR/api.sock"
else
	expect "no daemon: a denied connect" EPERM --cgroup "$CG/direct" --uid 1002 connect tcp 127.0.0.1 "$P"
fi
out=$("$DG" --bpffs "$BPFFS" --run-dir "$RUN" tail --json --no-follow 2>"$TMP/direct.err")
check "no daemon: tail --no-follow exits 0" test $? -eq 0
check "no daemon: tail says it reads the kernel's buffer, and that this takes the events" \
	grep -q "^dockguard: no daemon at $RUN; reading the kernel's event buffer directly: the events read here are taken from it" "$TMP/direct.err"
check "no daemon: tail prints the pending event" \
	grep -q "\"dest\":\"$BACKLOG_DEST\".*\"cgroup\":\"$CGPATH/direct\"" <<<"$out"
out=$("$DG" --bpffs "$BPFFS" --run-dir "$RUN" tail --json --no-follow 2>/dev/null)
check "no daemon: as it said, a second tail --no-follow does not see that event" \
	bash -c '! grep -q "\"cgroup\":\"$1/direct\"" <<<"$2"' _ "$CGPATH" "$out"
"$DG" --bpffs "$BPFFS" --run-dir "$RUN" tail >"$TMP/direct.txt" 2>/dev/null &
DTPID=$!
PIDS+=("$DTPID")
sleep 0.3
expect "no daemon, follow: a denied connect" EPERM --cgroup "$CG/direct" --uid 1002 connect tcp 127.0.0.1 "$P"
wait_count "$TMP/direct.txt" "deny api tcp:127.0.0.1:$P connect" 1
kill -INT "$DTPID"
wait "$DTPID"
check "no daemon, follow: SIGINT ends tail with 0" test $? -eq 0
check "no daemon, follow: the event came as it happened" grep -q "cgroup $CGPATH/direct rule $RULE:$L_DENY" "$TMP/direct.txt"

# ---- --unload-on-exit ----------------------------------------------------
nready=$(count_lines "$TMP/notify.out" '^READY=1$')
start_daemon --unload-on-exit
wait_count "$TMP/notify.out" '^READY=1$' $((nready + 1))
kill -TERM "$DPID"
wait "$DPID"
check "--unload-on-exit: SIGTERM exits 0" test $? -eq 0
check "--unload-on-exit: the pins are removed" test ! -e "$BPFFS/link_connect4" -a ! -e "$BPFFS/map_policy"
expect "--unload-on-exit: nothing enforced any more" ok "${C[@]}" --uid 1002 connect tcp 127.0.0.1 "$P"
"$DG" --bpffs "$BPFFS" --run-dir "$RUN" tail --no-follow >/dev/null 2>"$TMP/direct.err"
check "nothing loaded: tail exits 4" test $? -eq 4
check "nothing loaded: tail says what to do" \
	grep -q "^dockguard: not loaded: no daemon at $RUN and no pins in $BPFFS; run dockguard load or dockguard run$" "$TMP/direct.err"
rm -f "$TMP/d.conf"
start_daemon
wait "$DPID"
check "nothing pinned and no policy file: run exits 1 and says why" \
	bash -c "test $? -eq 1 && tail -n 3 '$DLOG' | grep -q 'dockguard: run: .*d.conf'"

kill "$NPID" 2>/dev/null
wait "$NPID" 2>/dev/null

# ---- the systemd unit ----------------------------------------------------
if command -v systemd-analyze >/dev/null; then
	unit=$TMP/dockguard.service
	sed "s|^ExecStart=/usr/local/sbin/dockguard|ExecStart=$DG|" "$root/tools/systemd/dockguard.service" >"$unit"
	# --man=no: the man pages of Documentation= need not be installed here
	out=$(systemd-analyze verify --man=no "$unit" 2>&1)
	check "systemd-analyze verify dockguard.service" test $? -eq 0 -a -z "$out"
	[[ -n $out ]] && echo "$out" | sed 's/^/    /'
	cp "$root/tools/systemd/dockguard-relay.socket" "$TMP/"
	out=$(cd "$TMP" && systemd-analyze verify --man=no dockguard-relay.socket dockguard.service 2>&1)
	check "systemd-analyze verify dockguard-relay.socket (with its service)" test $? -eq 0 -a -z "$out"
	[[ -n $out ]] && echo "$out" | sed 's/^/    /'
else
	skip "systemd-analyze verify dockguard.service: systemd-analyze is not installed"
fi
