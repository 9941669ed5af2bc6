# Raw and packet sockets: a process with CAP_NET_RAW (Docker grants it to
# containers by default) writes a TCP SYN to a protected endpoint by hand,
# never calling connect(). The listener must only complete handshakes that a
# connect() hook judged. The listeners run in $CG/srv (below the attach
# point), as dockerd runs below the root cgroup on a real host.
source "$root/tests/tools/bypass-lib.sh"
RAW=$BUILD/dg-rawsyn
RP=$(catalog_port 40)	# protected, loopback (below the ephemeral range: an
			# earlier client's TIME_WAIT there would fail the bind)
RQ=$((RP + 1))			# protected, `*`
RU=$((RP + 2))			# not protected
mkdir -p "$CG/srv" "$CG/cli"
# IPv4 frames written to lo by a packet socket take the input route, where
# the kernel refuses a 127/8 destination (route_localnet, which kube-proxy
# turns on) and a local source (accept_local). Both on here, in this private
# netns: the defence must not depend on them.
sysctl -qw net.ipv4.conf.all.route_localnet=1 net.ipv4.conf.lo.route_localnet=1 \
	net.ipv4.conf.all.accept_local=1 net.ipv4.conf.lo.accept_local=1
cat >"$TMP/raw.conf" <<CONF
endpoint api {
    tcp 127.0.0.1:$RP
    tcp [::1]:$RP
}
endpoint anyport tcp *:$RQ
allow { api, anyport } from user 1001
CONF
# echo listeners: a listener closing with a Fast Open SYN's data unread resets
start_listener --cgroup "$CG/srv" echo tcp 127.0.0.1 "$RP"
start_listener --cgroup "$CG/srv" echo tcp6 ::1 "$RP"
start_listener --cgroup "$CG/srv" listen tcp 0.0.0.0 "$RQ"
start_listener --cgroup "$CG/srv" listen tcp 127.0.0.1 "$RU"

# The tool works and the attack is real: without dockguard, a hand-made SYN
# is answered.
for how in raw packet; do
	flag=()
	[[ $how == packet ]] && flag=(--packet)
	out=$("$RAW" "${flag[@]}" --cgroup "$CG/cli" --uid 1002 127.0.0.1 "$RP")
	check "raw: before load, a hand-made $how-socket SYN to 127.0.0.1:$RP is answered (the attack is real)" test "$out" = synack
	out=$("$RAW" "${flag[@]}" --cgroup "$CG/cli" --uid 1002 ::1 "$RP")
	check "raw: before load, a hand-made $how-socket SYN to [::1]:$RP is answered" test "$out" = synack
done

out=$(dg load "$TMP/raw.conf" 2>&1)
check "raw: load attaches sock_ops and ingress" grep -q "sock_ops ingress" <<<"$out"

C=(--cgroup "$CG/cli")
for how in raw packet; do
	flag=()
	[[ $how == packet ]] && flag=(--packet)
	out=$("$RAW" "${flag[@]}" "${C[@]}" --uid 1002 127.0.0.1 "$RP")
	check "raw: $how-socket SYN to 127.0.0.1:$RP from a denied uid: dropped" test "$out" = nothing
	out=$("$RAW" "${flag[@]}" "${C[@]}" --uid 1001 127.0.0.1 "$RP")
	check "raw: $how-socket SYN to 127.0.0.1:$RP even from an allowed uid: dropped (no connect judged it)" test "$out" = nothing
	out=$("$RAW" "${flag[@]}" "${C[@]}" --uid 1002 ::1 "$RP")
	check "raw: $how-socket SYN to [::1]:$RP: dropped" test "$out" = nothing
	out=$("$RAW" "${flag[@]}" "${C[@]}" --uid 1002 127.0.0.5 "$RQ")
	check "raw: $how-socket SYN to 127.0.0.5:$RQ (a \`*\` endpoint): dropped" test "$out" = nothing
	out=$("$RAW" "${flag[@]}" "${C[@]}" --uid 1002 127.0.0.1 "$RU")
	check "raw: $how-socket SYN to an unprotected port: answered" test "$out" = synack
done

# Judged connects still get through, on every address form, again and again.
expect "raw: allowed uid connects to 127.0.0.1:$RP" ok "${C[@]}" --uid 1001 connect tcp 127.0.0.1 "$RP"
expect "raw: allowed uid connects to [::1]:$RP" ok "${C[@]}" --uid 1001 connect tcp6 ::1 "$RP"
expect "raw: allowed uid connects to ::ffff:127.0.0.1:$RP" ok "${C[@]}" --uid 1001 connect tcp6 ::ffff:127.0.0.1 "$RP"
expect "raw: allowed uid connects to 0.0.0.0:$RP" ok "${C[@]}" --uid 1001 connect tcp 0.0.0.0 "$RP"
expect "raw: allowed uid connects to 127.0.0.9:$RQ" ok "${C[@]}" --uid 1001 connect tcp 127.0.0.9 "$RQ"
expect "raw: allowed uid, TCP Fast Open" ok "${C[@]}" --uid 1001 tfo tcp 127.0.0.1 "$RP"
expect "raw: 2000 allowed connects in a row" ok "${C[@]}" --uid 1001 --repeat 2000 connect tcp 127.0.0.1 "$RP"
expect "raw: denied uid still EPERM at connect" EPERM "${C[@]}" --uid 1002 connect tcp 127.0.0.1 "$RP"

# A tuple judged in another network namespace (where 127.0.0.1:$RP is that
# namespace's own and not judged) is not recorded, so it cannot be replayed.
unshare --net bash -c "ip link set lo up; '$PROBE' --cgroup '$CG/cli' connect tcp 127.0.0.1 $RP" >/dev/null 2>&1
out=$("$RAW" "${C[@]}" --uid 1002 127.0.0.1 "$RP")
check "raw: replay after a connect in another netns: dropped" test "$out" = nothing

st=$(dg status --json)
n=$(jq -r '.events.handshakes_dropped' <<<"$st" 2>/dev/null || python3 -c 'import json,sys; print(json.load(sys.stdin)["events"]["handshakes_dropped"])' <<<"$st")
check "raw: status counts the dropped handshakes ($n >= 9)" test "${n:-0}" -ge 9
ev=$("$DG" --bpffs "$BPFFS" tail --json --no-follow 2>/dev/null | grep '"op":"handshake"' | tail -n 1)
check "raw: the drop is an event naming source and destination" \
	grep -Eq "\"dest\":\"tcp:.*:$RP\".*\"source\":\"tcp:" <<<"$ev"
"$RAW" "${C[@]}" 127.0.0.1 "$RP" >/dev/null
out=$("$DG" --bpffs "$BPFFS" tail --no-follow 2>/dev/null | grep -m1 'handshake from')
check "raw: the text event says what happened" grep -q "a SYN no connect() was judged for" <<<"$out"
dg unload >/dev/null 2>&1
out=$("$RAW" "${C[@]}" --uid 1002 127.0.0.1 "$RP")
check "raw: after unload the SYN is answered again" test "$out" = synack
