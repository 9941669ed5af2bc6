# Handshake replay: a denied process with CAP_NET_RAW in the host's network
# namespace (a `--network host` container keeps Docker's default
# capabilities) sniffs the 4-tuple of an allowed client's connect on lo and
# sends its own SYN with that tuple, hoping the listener takes it for the
# handshake the connect hooks judged. The attacker holds the source port
# with a socket that drops everything (dg-probe blackhole; as root: this
# kernel refuses socket filters to unprivileged users), so the kernel
# answers nothing in its place, and completes the handshake by hand.
RAW=$BUILD/dg-rawsyn
# Ports outside the ephemeral range that earlier files filled with TIME_WAIT
# sockets (a bind() over one of those fails); the victims take their source
# ports from a range of their own.
HP=$((62000 + RANDOM % 2000))	# protected; its listener comes and goes
HQ=$((HP + 1))			# protected; its listener never answers
saved_port_range=$(sysctl -n net.ipv4.ip_local_port_range)
sysctl -qw net.ipv4.ip_local_port_range="61000 61999"
mkdir -p "$CG/srv" "$CG/cli"
cat >"$TMP/replay.conf" <<CONF
endpoint api {
    tcp 127.0.0.1:$HP
    tcp 127.0.0.1:$HQ
}
allow api from user 1001
CONF

handshakes_dropped() {
	dg status --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["events"]["handshakes_dropped"])'
}

# sniff_connect PORT PROBE-ARGS...: runs the probe (an allowed connect, pid
# VICTIM) while a denied uid sniffs lo; sets SPORT and SEQ of its SYN.
sniff_connect() {
	local port=$1 ready=$TMP/sniff.ready out
	SPORT=1 SEQ=0
	shift
	rm -f "$ready"
	"$RAW" --sniff --cgroup "$CG/cli" --uid 1002 --ready "$ready" --wait 5000 127.0.0.1 "$port" \
		>"$TMP/sniff.out" 2>&1 &
	local sniffer=$!
	for _ in $(seq 50); do [[ -e $ready ]] && break; sleep 0.1; done
	"$PROBE" "$@" >"$TMP/victim.out" 2>&1 &
	VICTIM=$!
	wait "$sniffer"
	out=$(cat "$TMP/sniff.out")
	[[ $out =~ ^sport\ ([0-9]+)\ seq\ ([0-9]+)$ ]] || { echo "sniffer: $out" >&2; return 1; }
	SPORT=${BASH_REMATCH[1]} SEQ=${BASH_REMATCH[2]}
}

# replay_after_refused: the whole attack on port $HP; sets GOT to what the
# attacker got ("talked": it spoke to the listener).
replay_after_refused() {
	GOT=
	kill_pid "${LISTENER:-}"
	sniff_connect "$HP" --cgroup "$CG/cli" --uid 1001 connect tcp 127.0.0.1 "$HP" || return 1
	wait "$VICTIM"
	# the victim was refused: no listener
	grep -q "refused" "$TMP/victim.out" || { echo "victim: $(cat "$TMP/victim.out")" >&2; return 1; }
	start_listener --cgroup "$CG/cli" blackhole tcp 127.0.0.1 "$SPORT" || return 1
	HOLD=${PIDS[-1]}
	start_listener --cgroup "$CG/srv" echo tcp 127.0.0.1 "$HP" || return 1
	LISTENER=${PIDS[-1]}
	GOT=$("$RAW" --cgroup "$CG/cli" --uid 1002 --sport "$SPORT" --seq "$SEQ" --talk 127.0.0.1 "$HP")
	kill_pid "$HOLD"
}

kill_pid() {
	[[ -n ${1:-} ]] || return 0
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

# Without dockguard the attack works end to end (the tools are sound).
replay_after_refused
check "replay: before load, the attacker completes a handshake by hand and the listener echoes ($GOT)" \
	test "$GOT" = talked

out=$(dg load "$TMP/replay.conf" 2>&1)
check "replay: load attaches sock_ops and ingress" grep -q "sock_ops ingress" <<<"$out"
# 1. The allowed client was refused (listener down); its record must go with
#    its socket, so the tuple replayed when the listener is back is dropped.
before=$(handshakes_dropped)
replay_after_refused
check "replay: a refused connect's tuple, replayed with its ISN once the listener is back: dropped ($GOT)" \
	test "$GOT" = nothing
after=$(handshakes_dropped)
check "replay: the dropped replay is counted ($before -> $after)" test "$after" -gt "$before"
expect "replay: the allowed client itself connects again" ok --cgroup "$CG/cli" --uid 1001 connect tcp 127.0.0.1 "$HP"

# 2. A judged socket still waiting in SYN_SENT (its listener never answers):
#    a SYN with its tuple but another initial sequence number is not its SYN
#    and is dropped by dockguard (counted), a copy of its own SYN is a
#    retransmission and passes (the listener's filter drops both later).
start_listener --cgroup "$CG/srv" blackhole tcp 127.0.0.1 "$HQ"
sniff_connect "$HQ" --cgroup "$CG/cli" --uid 1001 connect tcp 127.0.0.1 "$HQ"
n0=$(handshakes_dropped)
"$RAW" --cgroup "$CG/cli" --uid 1002 --sport "$SPORT" --seq $(((SEQ + 7777) % 4294967296)) \
	--wait 300 127.0.0.1 "$HQ" >/dev/null
n1=$(handshakes_dropped)
check "replay: a SYN with a waiting socket's tuple but its own ISN: dropped by dockguard ($n0 -> $n1)" \
	test "$n1" -eq $((n0 + 1))
"$RAW" --cgroup "$CG/cli" --uid 1002 --sport "$SPORT" --seq "$SEQ" --wait 300 127.0.0.1 "$HQ" >/dev/null
n2=$(handshakes_dropped)
check "replay: a copy of the waiting socket's own SYN passes dockguard ($n1 -> $n2)" test "$n2" -eq "$n1"
# the client gives up: its record goes with its socket
kill_pid "$VICTIM"
sleep 0.2
"$RAW" --cgroup "$CG/cli" --uid 1002 --sport "$SPORT" --seq "$SEQ" --wait 300 127.0.0.1 "$HQ" >/dev/null
n3=$(handshakes_dropped)
check "replay: once the client closed, even a copy of its SYN is dropped ($n2 -> $n3)" \
	test "$n3" -eq $((n2 + 1))
kill_pid "$LISTENER"
dg unload >/dev/null 2>&1
sysctl -qw net.ipv4.ip_local_port_range="$saved_port_range"
