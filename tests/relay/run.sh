#!/bin/bash
# The API relay (`dockguard relay`, docs/relay.md) against a stand-in Docker
# API (upstream.py) that records every request reaching it: each case
# asserts what the client got AND what reached the upstream, so a refusal
# that still forwarded would fail. Needs root (callers of several uids).
# Ends with `relay: N passed, N failed`.
#
#   tests/relay/run.sh [BUILD_DIR]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build=$root/$build
DG=$build/dockguard
if ((EUID != 0)); then
	echo "relay tests need root (callers of several uids): skipped"
	echo "relay: 0 passed, 0 failed"
	exit 0
fi
source "$root/tests/kernel/lib.sh"	# pass, fail, check (no kernel needed here)

TMP=$(mktemp -d /tmp/dg-relay.XXXXXX)
chmod 755 "$TMP"
PIDS=()
cleanup() {
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

UP=$TMP/up.sock
LOG=$TMP/upstream.log
SOCK=$TMP/relay.sock
: >"$LOG"
python3 "$here/upstream.py" "$UP" "$LOG" >"$TMP/up.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do [[ -S $UP ]] && break; sleep 0.1; done

cat >"$TMP/relay.conf" <<CONF
relay r {
    listen unix $SOCK
    upstream unix $UP
}
api mine extends read-only {
    deny GET /containers/secret/json
    allow POST /containers/create /containers/*/attach
    allow GET /x/events
}
allow r from user 1001 api mine
allow r from user 1003 api read-only
api guarded {
    allow GET,HEAD /_ping
    allow POST /containers/create /containers/*/exec /build /volumes/create
    guard create no-privileged no-host-namespaces binds $TMP/ok/**
}
allow r from user 1004 api guarded
api owner {
    allow GET,HEAD /_ping
    allow GET /containers/*/json
    allow POST /containers/create /containers/*/start /containers/*/exec /exec/*/start /containers/prune
    allow POST /containers/*/rename
    allow DELETE /containers/*
    own
}
allow r from user 1005 api owner
allow r from user 1006 api owner
api viewer {
    allow GET /containers/json /containers/*/json /containers/*/logs /events /volumes /networks
    allow POST /networks/*/connect
    visible name vis-*
    redact env
}
allow r from user 1007 api viewer
allow r from container label admin=true api full
allow r from container name admin-* api full
set api-version min 1.24
CONF
chmod 644 "$TMP/relay.conf"

start_relay() {
	"$DG" relay "$TMP/relay.conf" >"$TMP/relay.out" 2>&1 &
	RELAY=$!
	PIDS+=($RELAY)
	for _ in $(seq 50); do grep -q "serving" "$TMP/relay.out" && return 0; sleep 0.1; done
	fail "the relay starts: $(cat "$TMP/relay.out")"
	return 1
}
start_relay || { echo "relay: $PASS passed, $((FAIL + 1)) failed"; exit 1; }

# send NAME-FOR-LOG BYTES [client options]: prints the answer
send() { python3 "$here/client.py" "$SOCK" "$@"; }
# reached TEXT: the upstream received a request line containing TEXT
reached() { grep -qF -- "$1" "$LOG"; }
not_reached() { ! grep -qF -- "$1" "$LOG"; }
H='\r\nHost: docker\r\n\r\n'

check "socket mode 0666 (the hooks and the policy judge callers)" test "$(stat -c %a "$SOCK")" = 666

out=$(send "GET /v1.41/containers/json?all=1 HTTP/1.1$H" --uid 1001)
check "allowed: 200 from the upstream" grep -q "^HTTP/1.1 200" <<<"$out"
check "allowed: reached the upstream as sent" reached "GET /v1.41/containers/json?all=1 0"

out=$(send "GET /v1.41/containers/secret/json HTTP/1.1$H" --uid 1001)
check "denied by an API rule: 403" grep -q "^HTTP/1.1 403" <<<"$out"
check "denied: Docker's error form naming the request, the caller and the rule" \
	grep -qF '{"message":"dockguard: GET /containers/secret/json is not allowed for uid 1001 (python3, cgroup ' <<<"$out"
check "denied: ... and the rule" grep -qF "($TMP/relay.conf:6, profile mine)" <<<"$out"
check "denied: never reached the upstream" not_reached "/containers/secret/json"
check "denied: the relay prints the event" grep -qF "relay r: refused 403 GET /containers/secret/json for uid 1001" "$TMP/relay.out"

out=$(send "POST /v1.41/containers/abc/exec HTTP/1.1\r\nHost: d\r\nContent-Length: 2\r\n\r\n{}" --uid 1001)
check "no rule of the profile allows it: 403" grep -q "^HTTP/1.1 403" <<<"$out"
check "... never reached the upstream" not_reached "/containers/abc/exec"

out=$(send "POST /v1.41/containers/create HTTP/1.1\r\nHost: d\r\nContent-Length: 2\r\n\r\n{}" --uid 1003)
check "another caller, another profile (read-only): create refused" grep -q "^HTTP/1.1 403" <<<"$out"
out=$(send "GET /v1.41/containers/json HTTP/1.1$H" --uid 1002)
check "a caller no rule admits: 403" grep -q "^HTTP/1.1 403" <<<"$out"
check "... saying it is not allowed to use the relay" grep -qF "is no longer allowed to use relay r" <<<"$out"
check "... never reached the upstream" test "$(grep -c "containers/json" "$LOG")" = 1

# the body of an allowed create, plain and chunked: what was judged is what arrives
out=$(send "POST /v1.41/containers/create?name=a1 HTTP/1.1\r\nHost: d\r\nContent-Length: 13\r\n\r\n{\"Image\":\"x\"}" --uid 1001)
check "allowed create with a body: 200" grep -q "^HTTP/1.1 200" <<<"$out"
check "... its 13 bytes reached the upstream" reached "POST /v1.41/containers/create?name=a1 13"
out=$(send "POST /v1.41/containers/create?name=a2 HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"Ima\r\n8\r\nge\":\"x\"}\r\n0\r\n\r\n" --uid 1001)
check "allowed create, chunked: 200" grep -q "^HTTP/1.1 200" <<<"$out"
check "... re-chunked, its 13 bytes reached the upstream" reached "POST /v1.41/containers/create?name=a2 13"

# keep-alive and pipelining: each request judged
out=$(send "GET /_ping HTTP/1.1\r\nHost: d\r\n\r\nGET /v1.41/secrets HTTP/1.1\r\nHost: d\r\n\r\nGET /v1.41/version HTTP/1.1$H" --uid 1001)
check "pipelined allowed, denied, allowed: two 200s and a 403 in order" \
	bash -c "grep -o '^HTTP/1.1 [0-9]*' <<<'$out' | tr '\n' ' ' | grep -qx 'HTTP/1.1 200 HTTP/1.1 403 HTTP/1.1 200 '"
check "... the denied one between them never reached the upstream" not_reached "/secrets"
check "... the ones around it did" bash -c "grep -qF 'GET /_ping 0' '$LOG' && grep -qF 'GET /v1.41/version 0' '$LOG'"

out=$(send "GET /v1.41/secrets HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n" --uid 1001 --wait 5)
check "a refusal to a client that asked for Connection: close ends the connection" grep -q "<EOF>" <<<"$out"

# HEAD: the reason in a header
out=$(send "HEAD /v1.41/secrets HTTP/1.1$H" --uid 1001)
check "HEAD refused: X-Dockguard-Reason names it" grep -q "^X-Dockguard-Reason: dockguard: HEAD /secrets is not allowed" <<<"$out"

# every ambiguous form: 400, never forwarded
n_before=$(wc -l <"$LOG")
while IFS='|' read -r name bytes; do
	out=$(send "$bytes" --uid 1001)
	check "ambiguous ($name): 400" grep -q "^HTTP/1.1 400" <<<"$out"
done <<'CASES'
Content-Length and Transfer-Encoding|POST /v1.41/containers/create HTTP/1.1\r\nHost: d\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}
two Content-Lengths|POST /v1.41/containers/create HTTP/1.1\r\nHost: d\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}
Transfer-Encoding not chunked|POST /v1.41/containers/create HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: identity\r\n\r\n
obs-fold|GET /v1.41/containers/json HTTP/1.1\r\nHost: d\r\nX-A: 1\r\n 2\r\n\r\n
bare LF|GET /v1.41/containers/json HTTP/1.1\nHost: d\n\n
bare CR|GET /v1.41/containers/json HTTP/1.1\rHost: d\r\n\r\n
absolute-form|GET http://docker/v1.41/containers/json HTTP/1.1\r\nHost: d\r\n\r\n
encoded slash|GET /v1.41/containers/a%2Fb/json HTTP/1.1\r\nHost: d\r\n\r\n
encoded NUL|GET /v1.41/containers/a%00/json HTTP/1.1\r\nHost: d\r\n\r\n
dot-dot|GET /v1.41/containers/../secrets HTTP/1.1\r\nHost: d\r\n\r\n
encoded dot-dot|GET /v1.41/containers/%2e%2e/secrets HTTP/1.1\r\nHost: d\r\n\r\n
empty segment|GET /v1.41//containers/json HTTP/1.1\r\nHost: d\r\n\r\n
control byte|GET /v1.41/containers/json HTTP/1.1\r\nHost: d\x01\r\n\r\n
non-ASCII method|G\xc3\x89T /v1.41/containers/json HTTP/1.1\r\nHost: d\r\n\r\n
bad version|GET /v1/containers/json HTTP/1.1\r\nHost: d\r\n\r\n
version below the minimum|GET /v1.12/containers/json HTTP/1.1\r\nHost: d\r\n\r\n
semicolon in the query|GET /v1.41/containers/json?all=1;size=1 HTTP/1.1\r\nHost: d\r\n\r\n
repeated query key|GET /v1.41/containers/json?all=1&all=0 HTTP/1.1\r\nHost: d\r\n\r\n
two Hosts|GET /v1.41/containers/json HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n
HTTP/2.0|GET /v1.41/containers/json HTTP/2.0\r\nHost: d\r\n\r\n
CONNECT|CONNECT docker:2375 HTTP/1.1\r\nHost: d\r\n\r\n
upgrade on a route that is no upgrade|GET /v1.41/containers/json HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n
CASES
check "none of the ambiguous requests reached the upstream" test "$(wc -l <"$LOG")" = "$n_before"

# a 40 KiB header (registry auth) passes; 64 KiB is refused unread
big=$(head -c 40000 /dev/zero | tr '\0' 'a')
out=$(send "GET /v1.41/images/json HTTP/1.1\r\nHost: d\r\nX-Registry-Auth: $big\r\n\r\n" --uid 1001)
check "a 40 KiB header: forwarded" grep -q "^HTTP/1.1 200" <<<"$out"
huge=$(head -c 66000 /dev/zero | tr '\0' 'a')
out=$(send "GET /v1.41/info HTTP/1.1\r\nHost: d\r\nX-Registry-Auth: $huge\r\n\r\n" --uid 1001)
check "a 64 KiB header: 431" grep -q "^HTTP/1.1 431" <<<"$out"
check "... never reached the upstream" not_reached "GET /v1.41/info"

# an allowed upgrade becomes a byte pipe; the client's half-close is carried
out=$(send "POST /v1.41/containers/abc/attach?stream=1&stdin=1 HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n" \
	--uid 1001 --then "hello through the pipe" --half-close --wait 3)
check "attach upgrade: 101 from the upstream" grep -q "^HTTP/1.1 101" <<<"$out"
check "attach upgrade: bytes go both ways" grep -q "hello through the pipe" <<<"$out"
check "attach upgrade: the client's half-close reached the upstream, whose close came back" grep -q "<EOF>" <<<"$out"

# a stream has no buffering delay: lines arrive while it runs
out=$(send "GET /v1.41/x/events HTTP/1.1$H" --uid 1001 --for 1)
n=$(grep -c '{"n":' <<<"$out")
check "a stream flows as it comes (lines in the first second: $n)" test "$n" -ge 3
sleep 0.5
out=$(send "GET /_ping HTTP/1.1$H" --uid 1001)
check "after a client left a stream midway, the relay serves on" grep -q "^HTTP/1.1 200" <<<"$out"

# many idle connections from one caller: 256 are kept, the rest refused (503)
out=$(python3 - "$SOCK" <<'PY'
import os, select, socket, sys, time
os.setgroups([]); os.setgid(1001); os.setuid(1001)
conns = []
for _ in range(300):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    conns.append(s)
time.sleep(1.5)
refused = 0
for s in conns:
    s.setblocking(False)
    try:
        if b" 503 " in s.recv(4096):
            refused += 1
    except BlockingIOError:
        pass
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
print("refused", refused)
PY
)
check "300 idle connections from one caller: 44 over the limit of 256 refused ($out)" grep -qx "refused 44" <<<"$out"
rss=$(awk '/^VmHWM/ { print $2 }' "/proc/$RELAY/status")
echo "    relay peak RSS with 300 connections: ${rss} kB"
check "the relay served on (peak RSS ${rss} kB < 64 MB)" test "${rss:-999999}" -lt 65536
out=$(send "GET /_ping HTTP/1.1$H" --uid 1003)
check "... and serves the next caller" grep -q "^HTTP/1.1 200" <<<"$out"

# `set api-rate`: a second relay with a budget of 5 requests a second per
# caller; 12 pipelined requests: 5 reach the upstream, 7 get 429
cat >"$TMP/rate.conf" <<CONF
relay r {
    listen unix $TMP/rate.sock
    upstream unix $UP
}
set api-rate 5/s
allow r from user { 1001, 1003 } api read-only
CONF
chmod 644 "$TMP/rate.conf"
"$DG" relay "$TMP/rate.conf" >"$TMP/rate.out" 2>&1 &
RATE_RELAY=$!
PIDS+=($RATE_RELAY)
for _ in $(seq 50); do grep -q "serving" "$TMP/rate.out" && break; sleep 0.1; done
burst=""
for i in $(seq 12); do burst+="GET /v1.41/_ping?rate=$i HTTP/1.1$H"; done
out=$(python3 "$here/client.py" "$TMP/rate.sock" "$burst" --uid 1001)
check "api-rate: 5 of 12 pipelined requests answered by the upstream" \
	test "$(grep -c '^HTTP/1.1 200' <<<"$out")" = 5
check "... 7 refused with 429" test "$(grep -c '^HTTP/1.1 429' <<<"$out")" = 7
check "... naming the rate and where it is set" \
	grep -qF "is over this relay's rate of 5/s ($TMP/rate.conf:5)" <<<"$out"
check "... and only 5 reached the upstream" test "$(grep -c 'GET /v1.41/_ping?rate=' "$LOG")" = 5
out=$(python3 "$here/client.py" "$TMP/rate.sock" "GET /v1.41/_ping?rate=other HTTP/1.1$H" --uid 1003)
check "... another caller has a budget of its own" grep -q "^HTTP/1.1 200" <<<"$out"
sleep 1.1
out=$(python3 "$here/client.py" "$TMP/rate.sock" "GET /v1.41/_ping?rate=later HTTP/1.1$H" --uid 1001)
check "... and a second later the first one may again" grep -q "^HTTP/1.1 200" <<<"$out"
check "... the refusals are events (429)" grep -q "refused 429 GET /_ping" "$TMP/rate.out"
kill -TERM "$RATE_RELAY"
wait "$RATE_RELAY"
check "... that relay exits 0 too" test $? = 0
check "... without a sanitizer report" bash -c "! grep -qE 'Sanitizer|runtime error' '$TMP/rate.out'"

# an upstream that never answers holds only its own caller: others are
# served meanwhile, and the stalled request is not cut off by the relay
python3 "$here/client.py" "$SOCK" "GET /v1.41/containers/json?stall=1 HTTP/1.1$H" --uid 1001 --for 4 \
	>"$TMP/stall.out" 2>&1 &
stall=$!
sleep 0.5
out=$(send "GET /_ping?during=stall HTTP/1.1$H" --uid 1001)
check "upstream stalled on one request: another caller's is served meanwhile" grep -q "^HTTP/1.1 200" <<<"$out"
check "... the stalled one reached the upstream and waits (no answer, no cut)" \
	bash -c "grep -qF 'GET /v1.41/containers/json?stall=1' '$LOG' && ! grep -q 'HTTP/1.1' '$TMP/stall.out' && kill -0 $stall"
wait "$stall"

# a head sent a byte at a time never resets its clock: 30 s in all, then 400
python3 - "$SOCK" >"$TMP/slow.out" 2>&1 <<'PY' &
import os, select, socket, sys, time
os.setgroups([]); os.setgid(1001); os.setuid(1001)
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
t0 = time.monotonic()
head = b"GET /_ping?slow=1 HTTP/1.1\r\nHost: docker\r\nX-Slow: " + b"a" * 200
answer = b""
try:
    for b in head:
        s.send(bytes([b]))
        r, _, _ = select.select([s], [], [], 0.4)
        if r:
            answer = s.recv(4096)
            break
except OSError:
    pass
if answer:
    print(answer.decode("latin-1").splitlines()[0], "after %d s" % (time.monotonic() - t0))
else:
    print("no answer after %d s" % (time.monotonic() - t0))
PY
slow=$!
wait "$slow"
check "slow head (a byte every 0.4 s): 400 after the head's 30 s" \
	grep -qE "^HTTP/1.1 400 .* after (29|30|31|32) s" "$TMP/slow.out"
check "... and it never reached the upstream" not_reached "GET /_ping?slow=1"

# upstream gone: 502, and the relay lives on
kill "${PIDS[0]}"
wait "${PIDS[0]}" 2>/dev/null
rm -f "$UP"
out=$(send "GET /_ping HTTP/1.1$H" --uid 1001)
check "upstream gone: 502" grep -q "^HTTP/1.1 502" <<<"$out"
check "the relay is still running" kill -0 "$RELAY"
python3 "$here/upstream.py" "$UP" "$LOG" >"$TMP/up2.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do [[ -S $UP ]] && break; sleep 0.1; done
out=$(send "GET /_ping?back=1 HTTP/1.1$H" --uid 1001)
check "upstream back: served again, without restarting the relay" grep -q "^HTTP/1.1 200" <<<"$out"

# ---- guard create: bodies judged whole before anything is forwarded ------
# gsend NAME BODY [options]: a create named NAME with BODY (Content-Length)
# (BODY as its bytes: its backslashes are escaped for client.py)
gsend() {
	local name=$1 body=$2
	shift 2
	send "POST /v1.41/containers/create?name=$name HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: $(printf '%s' "$body" | wc -c)\r\n\r\n${body//\\/\\\\}" --uid 1004 "$@"
}
# gref LABEL STATUS NAME BODY WHY: refused with STATUS saying WHY, never reached
gref() {
	local label=$1 status=$2 name=$3 body=$4 why=$5
	out=$(gsend "$name" "$body")
	check "guard: $label: $status" grep -q "^HTTP/1.1 $status" <<<"$out"
	check "guard: $label: the answer says: $why" grep -qF -- "$why" <<<"$out"
	check "guard: $label: never reached the upstream" not_reached "name=$name "
}
mkdir -p "$TMP/ok"
out=$(gsend g1 '{"Image":"alpine","HostConfig":{"Binds":["'"$TMP"'/ok/w:/w"],"Privileged":false}}')
check "guard: an ordinary create with a bind within the paths: 200" grep -q "^HTTP/1.1 200" <<<"$out"
check "guard: ... reached the upstream with its body" reached "POST /v1.41/containers/create?name=g1 $(printf '%s' '{"Image":"alpine","HostConfig":{"Binds":["'"$TMP"'/ok/w:/w"],"Privileged":false}}' | wc -c)"
gref "Privileged" 403 g2 '{"Image":"a","HostConfig":{"Privileged":true}}' 'HostConfig.Privileged is true'
check "guard: the answer names the field and the guard" \
	grep -qF "by the guard of profile guarded ($TMP/relay.conf:" <<<"$out"
check "guard: ... HostConfig.Privileged is true" grep -qF "HostConfig.Privileged is true" <<<"$out"
check "guard: the relay prints the event with the field" grep -qF "HostConfig.Privileged is true" "$TMP/relay.out"
gref "case variant key" 403 g3 '{"Image":"a","hostconfig":{"PRIVILEGED":true}}' 'HostConfig.Privileged is true'
gref "\\u escape in a key" 403 g4 '{"Image":"a","HostConfig":{"Privil\u0065ged":true}}' 'HostConfig.Privileged is true'
gref "long s (U+017F) folding to s" 403 g5 '{"Image":"a","HostConfig":{"\u017fecurityOpt":["seccomp=unconfined"]}}' 'HostConfig.SecurityOpt[0] is \"seccomp=unconfined\"'
gref "duplicate key, the last true" 400 g6 '{"Image":"a","HostConfig":{"Privileged":false,"privileged":true}}' 'HostConfig.Privileged is given twice'
gref "text after the JSON value" 400 g7 '{"Image":"a"} {"HostConfig":{"Privileged":true}}' 'not JSON as dockerd would read it'
gref "bind of /" 403 g8 '{"Image":"a","HostConfig":{"Binds":["/:/host"]}}' 'HostConfig.Binds[0]: host path \"/\" is outside'
gref "bind out with .." 403 g9 '{"Image":"a","HostConfig":{"Binds":["'"$TMP"'/ok/../../etc:/e"]}}' "'..' segment"
gref "pid namespace of the host" 403 g10 '{"Image":"a","HostConfig":{"PidMode":"host"}}' 'HostConfig.PidMode is \"host\"'
gref "network of the host (NetworkingConfig)" 403 g11 '{"Image":"a","NetworkingConfig":{"EndpointsConfig":{"host":{}}}}' 'NetworkingConfig.EndpointsConfig[\"host\"]'
gref "a field the guard does not know" 403 g12 '{"Image":"a","HostConfig":{"Future":1}}' 'HostConfig.Future: a field the guard does not know'
ln -s / "$TMP/ok/root"
gref "bind through a symlink out of the paths" 403 g13 '{"Image":"a","HostConfig":{"Binds":["'"$TMP"'/ok/root/etc:/e"]}}' 'leads to \"/etc\" (symbolic links)'

# chunked: Privileged split over two chunks; an allowed one arrives unchunked
out=$(send "POST /v1.41/containers/create?name=g14 HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\n14\r\n{\"HostConfig\":{\"Priv\r\ne\r\nileged\":true}}\r\n0\r\n\r\n" --uid 1004)
check "guard: chunked, the field split over chunks: 403" grep -q "^HTTP/1.1 403" <<<"$out"
check "guard: ... never reached the upstream" not_reached "name=g14 "
out=$(send "POST /v1.41/containers/create?name=g15 HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"Ima\r\n8\r\nge\":\"x\"}\r\n0\r\n\r\n" --uid 1004)
check "guard: chunked and allowed: 200, forwarded as the 13 bytes judged" \
	bash -c "grep -q '^HTTP/1.1 200' <<<'$out' && grep -qF 'POST /v1.41/containers/create?name=g15 13' '$LOG'"

# past the inspection bound: refused whole, by Content-Length or as it comes
python3 -c 'import sys; sys.stdout.write("{\"Image\":\"a\",\"Env\":[\"" + "x" * (1024 * 1024) + "\"],\"HostConfig\":{\"Privileged\":true}}")' >"$TMP/big.json"
out=$(send "POST /v1.41/containers/create?name=g16 HTTP/1.1\r\nHost: d\r\nContent-Length: $(stat -c %s "$TMP/big.json")\r\n\r\n" --uid 1004 --append-file "$TMP/big.json" --wait 3)
check "guard: a body padded past 1 MiB, Privileged at its end: 413" grep -q "^HTTP/1.1 413" <<<"$out"
check "guard: ... never reached the upstream" not_reached "name=g16 "
python3 -c 'import sys; b = open(sys.argv[1], "rb").read(); sys.stdout.buffer.write(b"".join(b"%x\r\n%s\r\n" % (len(b[i:i+65536]), b[i:i+65536]) for i in range(0, len(b), 65536)) + b"0\r\n\r\n")' "$TMP/big.json" >"$TMP/big.chunked"
out=$(send "POST /v1.41/containers/create?name=g17 HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\n" --uid 1004 --append-file "$TMP/big.chunked" --wait 3)
check "guard: the same chunked (no length to see first): 413" grep -q "^HTTP/1.1 413" <<<"$out"
check "guard: ... never reached the upstream" not_reached "name=g17 "

# Content-Length: 0 with a body behind it: the create has no body (400), the
# bytes behind are no request (400); nothing reaches the upstream
out=$(send "POST /v1.41/containers/create?name=g18 HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\n\r\n{\"HostConfig\":{\"Privileged\":true}}" --uid 1004)
check "guard: Content-Length 0 and a body: 400" grep -q "^HTTP/1.1 400" <<<"$out"
check "guard: ... never reached the upstream" not_reached "name=g18 "

# a refusal after a body read whole keeps the connection: the next request is served
out=$(send "POST /v1.41/containers/create?name=g19 HTTP/1.1\r\nHost: d\r\nContent-Length: 34\r\n\r\n{\"HostConfig\":{\"Privileged\":true}}GET /_ping?after=g19 HTTP/1.1\r\nHost: d\r\n\r\n" --uid 1004)
check "guard: refused, then the pipelined request on the same connection: 403 then 200" \
	bash -c "grep -o '^HTTP/1.1 [0-9]*' <<<'$out' | tr '\n' ' ' | grep -qx 'HTTP/1.1 403 HTTP/1.1 200 '"
check "guard: ... only the second reached the upstream" \
	bash -c "! grep -qF 'name=g19 ' '$LOG' && grep -qF '/_ping?after=g19 ' '$LOG'"

# exec create, volume create, the build query
gpost() {	# gpost TARGET BODY: POST with BODY by its Content-Length, as uid 1004
	send "POST $1 HTTP/1.1\r\nHost: d\r\nContent-Length: $(printf '%s' "$2" | wc -c)\r\n\r\n$(sed 's/"/\\"/g' <<<"$2")" --uid 1004
}
out=$(gpost "/v1.41/containers/c1/exec?x=g20" '{"Cmd":["sh"],"Privileged":true} ')
check "guard: a privileged exec: 403" grep -q "^HTTP/1.1 403" <<<"$out"
check "guard: ... never reached the upstream" not_reached "x=g20 "
out=$(gpost "/v1.41/volumes/create?x=g21" '{"Name":"v","DriverOpts":{"type":"none","o":"bind","device":"/"}}')
check "guard: a volume that binds /: 403" grep -q "^HTTP/1.1 403" <<<"$out"
check "guard: ... never reached the upstream" not_reached "x=g21 "
out=$(send "POST /v1.41/build?networkmode=host&t=g22 HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\n\r\n" --uid 1004)
check "guard: a build in the host's network: 403" grep -q "^HTTP/1.1 403" <<<"$out"
check "guard: ... never reached the upstream" not_reached "t=g22"
out=$(send "POST /v1.41/build?t=g23 HTTP/1.1\r\nHost: d\r\nContent-Length: 3\r\n\r\nabc" --uid 1004)
check "guard: an ordinary build (its context streamed as it comes): 200, reached with its 3 bytes" \
	bash -c "grep -q '^HTTP/1.1 200' <<<'$out' && grep -qF 'POST /v1.41/build?t=g23 3' '$LOG'"

# ---- own: objects labelled with the creator's rule; writes to others' refused
osend() { local uid=$1; shift; send "$1" --uid "$uid"; }
idof() { printf '%s' "$1" | sha256sum | cut -c1-64; }
# vpost PATH BODY: a POST as uid 1007 (profile viewer), its length counted here
vpost() { send "POST $1 HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: ${#2}\r\n\r\n$2" --uid 1007; }
out=$(osend 1005 "POST /v1.41/containers/create?name=o1 HTTP/1.1\r\nHost: d\r\nContent-Length: 15\r\n\r\n{\"Image\":\"img\"}")
check "own: a create: 200" grep -q "^HTTP/1.1 200" <<<"$out"
out=$(osend 1005 "GET /v1.41/containers/o1/json HTTP/1.1$H")
check "own: the container carries io.dockguard.owner (the admitting rule's key)" \
	grep -qE '"io.dockguard.owner": "[0-9a-f]{16}"' <<<"$out"
out=$(osend 1005 "POST /v1.41/containers/o1/start HTTP/1.1$H")
check "own: its creator starts it by name: 200" grep -q "^HTTP/1.1 200" <<<"$out"
check "own: ... forwarded naming it by its full id" reached "POST /v1.41/containers/$(idof o1)/start 0"
out=$(osend 1005 "POST /v1.41/containers/$(idof o1 | cut -c1-12)/start?by=prefix HTTP/1.1$H")
check "own: by an id prefix: forwarded with the full id" reached "POST /v1.41/containers/$(idof o1)/start?by=prefix 0"
out=$(osend 1005 "POST /v1.41/containers/foreign/start HTTP/1.1$H")
check "own: a container someone else made: dockerd's 404" \
	grep -qF '{"message":"No such container: foreign"}' <<<"$out"
check "own: ... never reached the upstream" not_reached "/containers/$(idof foreign)/start"
check "own: ... the event says why" grep -qF "container foreign was not created by uid 1005" "$TMP/relay.out"
out=$(osend 1006 "POST /v1.41/containers/o1/start?who=other HTTP/1.1$H")
check "own: another rule's caller cannot start it: 404" grep -q "^HTTP/1.1 404" <<<"$out"
check "own: ... never reached the upstream" not_reached "start?who=other"
out=$(osend 1005 "DELETE /v1.41/containers/foreign HTTP/1.1$H")
check "own: remove someone else's container: 404, never reached" \
	bash -c "grep -q '^HTTP/1.1 404' <<<'$out' && ! grep -qF 'DELETE /v1.41/containers/$(idof foreign)' '$LOG'"
out=$(osend 1005 "POST /v1.41/containers/nope/start HTTP/1.1$H")
check "own: a container that does not exist: 404" grep -q "^HTTP/1.1 404" <<<"$out"
out=$(osend 1005 "POST /v1.41/containers/o1/exec HTTP/1.1\r\nHost: d\r\nContent-Length: 14\r\n\r\n{\"Cmd\":[\"ls\"]}")
check "own: exec create in its own container: 200" grep -q "^HTTP/1.1 200" <<<"$out"
eid=$(grep -o '"Id": "[0-9a-f]*"' <<<"$out" | grep -o '[0-9a-f]\{64\}')
out=$(osend 1006 "POST /v1.41/exec/$eid/start?who=other HTTP/1.1\r\nHost: d\r\nContent-Length: 2\r\n\r\n{}")
check "own: an exec created by one caller cannot be started by another: 404" grep -q "^HTTP/1.1 404" <<<"$out"
check "own: ... never reached the upstream" not_reached "/exec/$eid/start?who=other"
out=$(osend 1005 "POST /v1.41/exec/$eid/start HTTP/1.1\r\nHost: d\r\nContent-Length: 2\r\n\r\n{}")
check "own: ... its creator starts it: 200, reached with its body" \
	bash -c "grep -q '^HTTP/1.1 200' <<<'$out' && grep -qF 'POST /v1.41/exec/$eid/start 2' '$LOG'"
out=$(osend 1005 "POST /v1.41/containers/foreign/exec?who=me HTTP/1.1\r\nHost: d\r\nContent-Length: 14\r\n\r\n{\"Cmd\":[\"ls\"]}")
check "own: exec create in someone else's container: 404, never reached" \
	bash -c "grep -q '^HTTP/1.1 404' <<<'$out' && ! grep -qF 'exec?who=me' '$LOG'"
out=$(osend 1005 "POST /v1.41/containers/create?name=o2 HTTP/1.1\r\nHost: d\r\nContent-Length: 45\r\n\r\n{\"Image\":\"i\",\"Labels\":{\"io.dockguard.owner\":1}}")
check "own: a create that sets io.dockguard. labels itself: 400, never reached" \
	bash -c "grep -q '^HTTP/1.1 400' <<<'$out' && ! grep -qF 'name=o2 ' '$LOG'"
out=$(osend 1005 "POST /v1.41/containers/prune HTTP/1.1$H")
check "own: prune (others' containers too): 403, never reached" \
	bash -c "grep -q '^HTTP/1.1 403' <<<'$out' && ! grep -qF 'containers/prune' '$LOG'"

# ---- visible and redact: answers filtered for the caller ---------------------
out=$(send "GET /v1.41/containers/json?all=1 HTTP/1.1\r\nHost: d\r\n\r\nGET /v1.41/containers/json HTTP/1.1$H" --uid 1007)
check "visible: a list of containers: 200, twice on one connection (its framing is right)" \
	test "$(grep -c '^HTTP/1.1 200' <<<"$out")" = 2
check "visible: ... it lists vis-1" grep -qF '"Names":["/vis-1"]' <<<"$out"
check "visible: ... never hid-1, nor foreign" bash -c "! grep -q 'hid-1\|foreign' <<<'$out'"
out=$(send "GET /v1.41/containers/json HTTP/1.1$H" --uid 1001)
check "visible: ... another profile's caller gets dockerd's whole list" grep -qF '"/hid-1"' <<<"$out"
out=$(send "GET /v1.41/containers/hid-1/json HTTP/1.1$H" --uid 1007)
check "visible: inspect of a hidden container: dockerd's 404" \
	bash -c "grep -q '^HTTP/1.1 404' <<<'$out' && grep -qF 'No such container: hid-1' <<<'$out'"
out=$(send "GET /v1.41/containers/$(idof hid-1 | cut -c1-10)/logs?tag=hidden HTTP/1.1$H" --uid 1007)
check "visible: logs of it by an id prefix: 404" grep -q "^HTTP/1.1 404" <<<"$out"
check "visible: ... the logs request never reached the upstream" not_reached "logs?tag=hidden"
out=$(send "GET /v1.41/containers/vis-1/logs?tag=seen HTTP/1.1$H" --uid 1007)
check "visible: logs of a visible one: forwarded naming it by its full id" \
	reached "GET /v1.41/containers/$(idof vis-1)/logs?tag=seen 0"
out=$(send "GET /v1.41/containers/vis-1/json HTTP/1.1$H" --uid 1007)
check "visible: inspect of a visible one: 200, Env redacted" \
	bash -c "grep -q '^HTTP/1.1 200' <<<'$out' && grep -qF '\"Env\":[]' <<<'$out' && ! grep -q s3cret <<<'$out'"
out=$(send "GET /v1.41/events HTTP/1.1$H" --uid 1007 --for 1.5)
n=$(grep -c '"vis-' <<<"$out")
check "visible: /events: the visible container's events flow as they come ($n in 1.5 s)" test "$n" -ge 3
check "visible: ... re-chunked for the client" grep -qi '^Transfer-Encoding: chunked' <<<"$out"
check "visible: ... never the hidden one's" bash -c "! grep -q 'hid-' <<<'$out'"
out=$(send "GET /v1.41/volumes?bad=1 HTTP/1.1$H" --uid 1007)
check "visible: an answer that is not dockerd's JSON: 502, not passed" \
	bash -c "grep -q '^HTTP/1.1 502' <<<'$out' && ! grep -q 'not json' <<<'$out'"
out=$(send "GET /v1.41/networks?gzip=1 HTTP/1.1$H" --uid 1007)
check "visible: a compressed answer (unreadable here): 502" grep -q '^HTTP/1.1 502' <<<"$out"
out=$(send "GET /v1.41/containers/json HTTP/1.0\r\n\r\n" --uid 1007)
check "visible: an HTTP/1.0 client: the filtered list with its length, then the close" \
	bash -c "grep -q '^HTTP/1.1 200' <<<'$out' && grep -qi '^Content-Length: ' <<<'$out' && ! grep -q hid-1 <<<'$out'"

out=$(vpost "/v1.41/networks/vis-net/connect?c=hidden" '{"Container":"hid-1"}')
check "visible: a network connect of a hidden container: 404, never reached" \
	bash -c "grep -q '^HTTP/1.1 404' <<<'$out' && grep -qF 'No such container: hid-1' <<<'$out' && ! grep -qF 'connect?c=hidden' '$LOG'"
body="{\"Container\":\"$(idof vis-1)\"}"
out=$(vpost "/v1.41/networks/vis-net/connect?c=seen" '{"Container":"vis-1"}')
check "visible: a connect of a visible one: forwarded, the body naming its full id" \
	reached "POST /v1.41/networks/$(idof net-vis-net)/connect?c=seen ${#body}"
out=$(vpost "/v1.41/networks/vis-net/connect?c=twice" '{"Container":"vis-1","container":"hid-1"}')
check "visible: a connect body naming two containers (keys differ in case): 400, never reached" \
	bash -c "grep -q '^HTTP/1.1 400' <<<'$out' && ! grep -qF 'connect?c=twice' '$LOG'"
out=$(vpost "/v1.41/networks/hid-net/connect?c=hiddennet" '{"Container":"vis-1"}')
check "visible: a connect to a hidden network: 404, never reached" \
	bash -c "grep -q '^HTTP/1.1 404' <<<'$out' && ! grep -qF 'c=hiddennet' '$LOG'"

# ---- no climbing: a create or rename the creator's rule would not admit --
# opost UID TARGET BODY: POST with BODY by its Content-Length
opost() { send "POST $2 HTTP/1.1\r\nHost: d\r\nContent-Length: $(printf '%s' "$3" | wc -c)\r\n\r\n$(sed 's/"/\\"/g' <<<"$3")" --uid "$1"; }
out=$(opost 1005 "/v1.41/containers/create?name=c1" '{"Image":"i","Labels":{"admin":"true"}}')
check "no climbing: a create labelled as a trusted rule wants: 403 naming that rule" \
	grep -qF "would be trusted by $TMP/relay.conf:" <<<"$out"
check "no climbing: ... never reached the upstream" not_reached "name=c1 "
out=$(opost 1005 "/v1.41/containers/create?name=C2" '{"Image":"i","lAbElS":{"admin":"true"}}')
check "no climbing: ... with the Labels key in another case: 403" grep -q "^HTTP/1.1 403" <<<"$out"
out=$(opost 1005 "/v1.41/containers/create?name=admin-x" '{"Image":"i"}')
check "no climbing: a create named as a trusted rule wants: 403, never reached" \
	bash -c "grep -q '^HTTP/1.1 403' <<<'$out' && ! grep -qF 'name=admin-x ' '$LOG'"
out=$(opost 1005 "/v1.41/containers/create?name=c3" '{"Image":"i","Labels":{"admin":"false"}}')
check "no climbing: another label value: 200" grep -q "^HTTP/1.1 200" <<<"$out"
out=$(osend 1005 "POST /v1.41/containers/c3/rename?name=admin-y HTTP/1.1$H")
check "no climbing: renaming its own container to a trusted name: 403, never reached" \
	bash -c "grep -q '^HTTP/1.1 403' <<<'$out' && ! grep -qF 'rename?name=admin-y' '$LOG'"
out=$(osend 1005 "POST /v1.41/containers/c3/rename?name=plain HTTP/1.1$H")
check "no climbing: ... to another name: 200, forwarded with its full id" \
	bash -c "grep -q '^HTTP/1.1 200' <<<'$out' && grep -qF 'POST /v1.41/containers/$(idof c3)/rename?name=plain 0' '$LOG'"

# SIGTERM ends it cleanly (under ASan: also without a leak)
kill -TERM "$RELAY"
wait "$RELAY"
status=$?
check "SIGTERM: the relay exits 0 (exit $status)" test "$status" = 0
grep -E "ERROR: (Address|Leak)Sanitizer|runtime error" "$TMP/relay.out" | head -n 5 | sed 's/^/    /'
check "no sanitizer report from the relay" bash -c "! grep -qE 'Sanitizer|runtime error' '$TMP/relay.out'"

echo "relay: $PASS passed, $FAIL failed"
((FAIL == 0))
