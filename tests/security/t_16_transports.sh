# Bypass catalog: other stream transports that reach a TCP listener.
# MPTCP (socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP)) connects through a TCP
# subflow, and falls back to plain TCP with a listener that does not speak it.
# TCP repair mode (CAP_NET_ADMIN) sets a connection up without a handshake.
source "$root/tests/tools/bypass-lib.sh"

B=$(catalog_port 16)
PL=$B		# tcp 127.0.0.1:PL + [::1]:PL
PW=$((B + 1))	# tcp *:PW
mkdir -p "$CG/c" "$CG/a"
sysctl -qw net.mptcp.enabled=1 2>/dev/null

cat >"$TMP/t16.conf" <<CONF
endpoint lo {
    tcp 127.0.0.1:$PL
    tcp [::1]:$PL
}
endpoint wild tcp *:$PW
allow { lo, wild } from user 1001
allow { lo, wild } from cgroup $CGPATH/a
CONF
# echo listeners: see t_14 (a listener closing with data unread resets)
start_listener echo tcp 127.0.0.1 "$PL"
start_listener echo tcp6 ::1 "$PL"
start_listener echo tcp6 :: "$PW"
out=$(dg load "$TMP/t16.conf" 2>&1)
check "transports: policy loaded" test $? -eq 0

D=(--cgroup "$CG/c" --uid 1002)
A=(--cgroup "$CG/c" --uid 1001)
probe_mptcp=$("$PROBE" connect mptcp 127.0.0.1 1 2>&1 | head -n 1)
if [[ $probe_mptcp == "error socket:"* ]]; then
	skip "transports: MPTCP unavailable ($probe_mptcp): MPTCP paths untested"
else
	for dest in "mptcp 127.0.0.1 $PL" "mptcp6 ::1 $PL" "mptcp6 ::ffff:127.0.0.1 $PL" \
		"mptcp 127.0.0.2 $PW" "mptcp6 :: $PW"; do
		read -r proto addr port <<<"$dest"
		[[ $port == "$PW" ]] && ep="tcp *:P" || ep="tcp 127.0.0.1:P/[::1]:P"
		expect "bypass: MPTCP connect to $proto $addr ($ep) from denied uid: EPERM" EPERM \
			"${D[@]}" connect "$proto" "$addr" "$port"
		expect "control: MPTCP connect to $proto $addr ($ep) from allowed uid: ok" ok \
			"${A[@]}" connect "$proto" "$addr" "$port"
	done
	# MPTCP Fast Open came with Linux 6.2; before, sendto(MSG_FASTOPEN)
	# on an MPTCP socket is refused with EOPNOTSUPP whoever calls it
	mfo=$("$PROBE" "${A[@]}" tfo mptcp 127.0.0.1 "$PL" 2>&1 | head -n 1)
	if [[ $mfo == *"Operation not supported"* ]]; then
		skip "transports: MPTCP Fast Open unsupported by this kernel ($mfo)"
	else
		expect "bypass: MPTCP Fast Open sendto(MSG_FASTOPEN) from denied uid: EPERM" EPERM \
			"${D[@]}" tfo mptcp 127.0.0.1 "$PL"
		expect "control: MPTCP Fast Open sendto(MSG_FASTOPEN) from allowed uid: ok" ok \
			"${A[@]}" tfo mptcp 127.0.0.1 "$PL"
	fi
fi
# TCP repair needs CAP_NET_ADMIN: root, denied in cgroup c, allowed in a
expect "bypass: TCP_REPAIR connect (no handshake) from denied root: EPERM" EPERM \
	--cgroup "$CG/c" repair tcp 127.0.0.1 "$PL"
expect "control: TCP_REPAIR connect from root in an allowed cgroup: ok" ok \
	--cgroup "$CG/a" repair tcp 127.0.0.1 "$PL"
