# Bypass catalog: a listener wider than its endpoint. The endpoint names
# 127.0.0.1:P; the service behind it listens on 0.0.0.0:P or [::]:P, so every
# other local address of the host reaches the same socket: the host's own
# address, a bridge gateway from a container's namespace, IPv6 and
# IPv4-mapped forms. Each is judged as the endpoint while such a listener
# exists, and only then (docs/security.md, "Listeners wider than their
# endpoint").
source "$root/tests/tools/bypass-lib.sh"

B=$(catalog_port 13)
PA=$B		# 127.0.0.1:PA, a 0.0.0.0 listener started before the load
PD=$((B + 1))	# 127.0.0.1:PD, a dual-stack [::] listener started before the load
PL=$((B + 2))	# 127.0.0.1:PL, a 0.0.0.0 listener started after the load (in the attach cgroup)
PU=$((B + 3))	# unprotected, a 0.0.0.0 listener: never judged
PO=$((B + 4))	# 127.0.0.1:PO, a 127.0.0.1 listener only: other addresses reach nothing
HOST4=10.213.77.1
HOST6=fd00:d9:77::1
BR=10.213.79.1	# the host's side of a bridge, like docker0's gateway
ip addr show dev lo | grep -q "inet $HOST4/" || ip addr add "$HOST4/24" dev lo
ip addr show dev lo | grep -q "inet6 $HOST6/" || ip -6 addr add "$HOST6/64" dev lo nodad
mkdir -p "$CG/c" "$CG/l"

# a container's namespace behind a veth pair, its gateway the bridge address
container_netns 13 "$BR"

cat >"$TMP/t13.conf" <<CONF
endpoint api4 tcp 127.0.0.1:$PA
endpoint apid tcp 127.0.0.1:$PD
endpoint apil tcp 127.0.0.1:$PL
endpoint apio tcp 127.0.0.1:$PO
allow { api4, apid, apil, apio } from user 1001
CONF
start_listener listen tcp 0.0.0.0 "$PA"
start_listener listen tcp6 :: "$PD"
start_listener listen tcp 0.0.0.0 "$PU"
start_listener listen tcp 127.0.0.1 "$PO"
out=$(dg load "$TMP/t13.conf" 2>&1)
check "wide: policy loaded" test $? -eq 0

D=(--cgroup "$CG/c" --uid 1002)
A=(--cgroup "$CG/c" --uid 1001)

# judged PORT LABEL PROTO ADDR: denied uid EPERM, allowed uid reaches the listener
judged() {
	local port=$1 label=$2 proto=$3 addr=$4
	expect "bypass: $proto $addr to $label from denied uid: EPERM" EPERM "${D[@]}" connect "$proto" "$addr" "$port"
	expect "control: $proto $addr to $label from allowed uid: ok" ok "${A[@]}" connect "$proto" "$addr" "$port"
}

# 0.0.0.0 listener that existed before the load (found through sock_diag)
for a in 127.0.0.1 "$HOST4" 127.0.0.2 "$BR"; do
	judged "$PA" "127.0.0.1:P served by 0.0.0.0:P" tcp "$a"
done
for a in "::ffff:$HOST4" ::ffff:127.0.0.3; do
	judged "$PA" "127.0.0.1:P served by 0.0.0.0:P" tcp6 "$a"
done
# dual-stack [::] listener: IPv6 and IPv4 addresses reach it
for a in "$HOST4" 127.0.0.1; do
	judged "$PD" "127.0.0.1:P served by [::]:P" tcp "$a"
done
for a in ::1 "$HOST6" "::ffff:$HOST4" ::; do
	judged "$PD" "127.0.0.1:P served by [::]:P" tcp6 "$a"
done
# other services on the same addresses stay untouched
expect "untouched: an unprotected port on the host's address, denied uid: ok" ok \
	"${D[@]}" connect tcp "$HOST4" "$PU"
expect_v "untouched: $HOST4 to a 127.0.0.1-only listener reaches nothing, not judged" '!connect' \
	"${D[@]}" connect tcp "$HOST4" "$PO"
expect "judged: 127.0.0.1 to the 127.0.0.1-only listener, denied uid: EPERM" EPERM \
	"${D[@]}" connect tcp 127.0.0.1 "$PO"

# explain agrees with the kernel, from the same facts
ex=$("$DG" --bpffs "$BPFFS" explain --to "tcp:$HOST4:$PA" --uid 1002 2>&1)
check "explain: $HOST4:$PA is judged as api4 through its 0.0.0.0 listener, uid 1002: deny (exit 1)" \
	test $? -eq 1 -a -n "$(grep -F "deny tcp:$HOST4:$PA (endpoint api4: its listener 0.0.0.0:$PA takes this address too)" <<<"$ex")"
"$DG" --bpffs "$BPFFS" explain --to "tcp:$HOST4:$PA" --uid 1001 >/dev/null 2>&1
check "explain: the same for uid 1001: allow (exit 0)" test $? -eq 0
ex=$("$DG" --bpffs "$BPFFS" explain --to "tcp:$HOST4:$PO" --uid 1002 2>&1)
check "explain: $HOST4:$PO reaches no listener of apio: not a protected endpoint" \
	grep -qF "allow tcp:$HOST4:$PO: not a protected endpoint" <<<"$ex"

if ((veth_ok == 0)); then
	skip "wide: no veth pair (kernel without veth): the bridge gateway from a container untested"
else
	for p in "$PA" "$PD"; do
		in_ns "bypass: container netns to the bridge gateway $BR:$p (0.0.0.0 or [::] listener), denied uid: EPERM" \
			EPERM "${D[@]}" connect tcp "$BR" "$p"
		in_ns "control: the same from allowed uid: ok" ok "${A[@]}" connect tcp "$BR" "$p"
		in_ns "bypass: container netns to the host's address $HOST4:$p, denied uid: EPERM" \
			EPERM "${D[@]}" connect tcp "$HOST4" "$p"
	done
	in_ns "untouched: container netns to an unprotected port on the gateway, denied uid: ok" ok \
		"${D[@]}" connect tcp "$BR" "$PU"
	# the container's own loopback is its own, even where the host's is judged
	"${NS[@]}" "$PROBE" listen tcp 127.0.0.1 "$PA" >/dev/null 2>&1 &
	PIDS+=($!)
	sleep 0.2
	in_ns "untouched: the container's own 127.0.0.1:P, denied uid: ok" ok \
		"${D[@]}" connect tcp 127.0.0.1 "$PA"
fi

# a listener that starts after the load, in the attach cgroup: sock_ops
# counts it the moment it listens (no daemon runs here to rescan)
expect_v "before the listener: $HOST4:$PL reaches nothing" '!connect' "${D[@]}" connect tcp "$HOST4" "$PL"
start_listener --cgroup "$CG/l" listen tcp 0.0.0.0 "$PL"
LPID=${PIDS[-1]}
judged "$PL" "127.0.0.1:P, 0.0.0.0:P listener started after load" tcp "$HOST4"
judged "$PL" "127.0.0.1:P, 0.0.0.0:P listener started after load" tcp6 "::ffff:$HOST4"
# a hand-made SYN to the other address: the handshake check knows it too
out=$("$BUILD/dg-rawsyn" --cgroup "$CG/c" --uid 1002 "$HOST4" "$PL")
check "raw: a hand-made SYN to $HOST4:$PL (no connect judged it): dropped" test "$out" = nothing
out=$("$BUILD/dg-rawsyn" --cgroup "$CG/c" --uid 1002 "$HOST4" "$PU")
check "raw: a hand-made SYN to an unprotected port on $HOST4: answered" test "$out" = synack
# ... goes away and comes back on 127.0.0.1:P only
kill "$LPID"
wait "$LPID" 2>/dev/null
start_listener --cgroup "$CG/l" listen tcp 127.0.0.1 "$PL"
expect_v "gone wide: $HOST4:$PL is no longer the endpoint's (reaches nothing, not judged)" '!connect' \
	"${D[@]}" connect tcp "$HOST4" "$PL"
expect "still judged: 127.0.0.1:$PL, denied uid: EPERM" EPERM "${D[@]}" connect tcp 127.0.0.1 "$PL"
# another service may now take the host's address on that port
start_listener listen tcp "$HOST4" "$PL"
expect "untouched: another service on $HOST4:$PL, denied uid: ok" ok "${D[@]}" connect tcp "$HOST4" "$PL"

# kill_listener ARGS: ends the test's listener started with these arguments
kill_listener() {
	local i
	for i in "${!PIDS[@]}"; do
		if [[ $({ tr '\0' ' ' <"/proc/${PIDS[$i]}/cmdline"; } 2>/dev/null) == *"$1 " ]]; then
			kill "${PIDS[$i]}"
			wait "${PIDS[$i]}" 2>/dev/null
		fi
	done
}

# until_verdict NAME WANT SECONDS PROBE-ARGS...: passes once the probe says WANT
until_verdict() {
	local name=$1 want=$2 secs=$3 line=
	shift 3
	for _ in $(seq 1 $((secs * 10))); do
		line=$("$PROBE" "$@" 2>&1 | head -n 1)
		verdict_matches "$want" "$line" && break
		sleep 0.1
	done
	assert_verdict "$name" "$want" "$line"
}

# the same for a listener that existed before the load: the next load (or
# the daemon's rescan) sees it gone
kill_listener "listen tcp 0.0.0.0 $PA"
start_listener listen tcp 127.0.0.1 "$PA"
dg load "$TMP/t13.conf" >/dev/null 2>&1
expect_v "gone wide after reload: $HOST4:$PA reaches nothing, not judged" '!connect' \
	"${D[@]}" connect tcp "$HOST4" "$PA"
expect "still judged after reload: 127.0.0.1:$PA, denied uid: EPERM" EPERM "${D[@]}" connect tcp 127.0.0.1 "$PA"

# The daemon keeps this true as the host changes: addresses that appear
# (docker0 when dockerd starts), listeners that end unseen by the hooks (they
# started before them), listeners on every address that start later.
RUN13=$TMP/run13
DLOG13=$TMP/daemon13.log
"$DG" --bpffs "$BPFFS" --cgroup "$CG" --run-dir "$RUN13" run "$TMP/t13.conf" 2>"$DLOG13" &
DPID13=$!
PIDS+=("$DPID13")
for _ in $(seq 1 50); do [[ -S $RUN13/control.sock ]] && break; sleep 0.1; done
check "wide: the daemon runs" test -S "$RUN13/control.sock"
NEW4=10.213.81.1
ip addr add "$NEW4/32" dev lo
until_verdict "daemon: an address added later reaches the [::] listener: judged, denied uid: EPERM" \
	EPERM 3 "${D[@]}" connect tcp "$NEW4" "$PD"
expect "control: the same from allowed uid: ok" ok "${A[@]}" connect tcp "$NEW4" "$PD"
kill_listener "listen tcp6 :: $PD"
start_listener listen tcp 127.0.0.1 "$PD"
until_verdict "daemon: a listener from before the load ends, its rescan sees it: $HOST4:$PD not judged" \
	'!connect' 8 "${D[@]}" connect tcp "$HOST4" "$PD"
expect "still judged: 127.0.0.1:$PD, denied uid: EPERM" EPERM "${D[@]}" connect tcp 127.0.0.1 "$PD"
kill_listener "listen tcp 127.0.0.1 $PO"
start_listener --cgroup "$CG/l" listen tcp 0.0.0.0 "$PO"
expect "daemon: a listener on every address started later: $HOST4:$PO judged, denied uid: EPERM" EPERM \
	"${D[@]}" connect tcp "$HOST4" "$PO"
for _ in $(seq 1 80); do
	grep -q "WARNING: endpoint apio names tcp:127.0.0.1:$PO, but its listener 0.0.0.0:$PO takes every address" \
		"$DLOG13" && break
	sleep 0.1
done
check "daemon: says loudly that the new listener is reachable from the network" \
	grep -q "WARNING: endpoint apio names tcp:127.0.0.1:$PO, but its listener 0.0.0.0:$PO takes every address" \
	"$DLOG13"
check "daemon: names the listener's process and what is judged now" \
	grep -qE "apio tcp:127.0.0.1:$PO: 0.0.0.0:$PO pid [0-9]+ dg-probe" "$DLOG13"
kill "$DPID13"
wait "$DPID13" 2>/dev/null
ip addr del "$NEW4/32" dev lo 2>/dev/null

# status: the listeners behind each TCP endpoint, in text and JSON
st=$(dg status 2>&1)
check "status: names the wide listener of apio and what it is judged on" \
	grep -qE "apio tcp:127.0.0.1:$PO: 0.0.0.0:$PO pid [0-9]+ dg-probe" <<<"$st"
check "status: says it is reachable from the network" grep -q "NETWORK-REACHABLE" <<<"$st"
stj=$(dg status --json 2>&1)
check "status --json: the listener, its pid, judged_on with the host's address" \
	jq -e --arg d "tcp:127.0.0.1:$PO" --arg h "$HOST4" \
	'.listeners[] | select(.dest == $d) | .listeners[0] | .wider and .network_reachable and (.pid > 0) and (.judged_on | index($h))' \
	<<<"$stj" >/dev/null
check "status --json: a 127.0.0.1-only listener is not wider" \
	jq -e --arg d "tcp:127.0.0.1:$PD" \
	'.listeners[] | select(.dest == $d) | .listeners[0] | (.wider | not) and .address == "127.0.0.1:'"$PD"'"' \
	<<<"$stj" >/dev/null
ldout=$(dg load "$TMP/t13.conf" 2>&1)
check "load: warns about the network-reachable listener" \
	grep -q "dockguard: WARNING: endpoint apio names tcp:127.0.0.1:$PO" <<<"$ldout"

ip link del dgsh13 2>/dev/null
