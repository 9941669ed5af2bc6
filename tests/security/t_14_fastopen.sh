# Bypass catalog: TCP Fast Open, the implicit connect of sendto(MSG_FASTOPEN)
# and the deferred one of TCP_FASTOPEN_CONNECT, with the data in the SYN.
source "$root/tests/tools/bypass-lib.sh"

B=$(catalog_port 14)
PL=$B		# tcp 127.0.0.1:PL + [::1]:PL
PW=$((B + 1))	# tcp *:PW
mkdir -p "$CG/c"

# Client and server Fast Open, data in the SYN without a cookie: the
# suite's private namespace has its own copy of this sysctl.
# 0x1 client, 0x2 server, 0x4 client without cookie, 0x200 server without
# cookie, 0x400 server on every listener.
sysctl -qw net.ipv4.tcp_fastopen=$((0x1 | 0x2 | 0x4 | 0x200 | 0x400)) ||
	echo "note: could not enable server-side Fast Open; client side only" >&2

cat >"$TMP/t14.conf" <<CONF
endpoint lo {
    tcp 127.0.0.1:$PL
    tcp [::1]:$PL
}
endpoint wild tcp *:$PW
allow { lo, wild } from user 1001
CONF
# Echo listeners: a listener that closes at once with the SYN's data unread
# answers with a reset, which a slow machine (the qemu guests) delivers
# before sendto() returns.
start_listener echo tcp 127.0.0.1 "$PL"
start_listener echo tcp6 ::1 "$PL"
start_listener echo tcp6 :: "$PW"
out=$(dg load "$TMP/t14.conf" 2>&1)
check "fastopen: policy loaded" test $? -eq 0

D=(--cgroup "$CG/c" --uid 1002)
A=(--cgroup "$CG/c" --uid 1001)
for op in tfo tfo-connect; do
	case $op in
	tfo) what="sendto(MSG_FASTOPEN)" ;;
	tfo-connect) what="TCP_FASTOPEN_CONNECT + connect + write" ;;
	esac
	for dest in "tcp 127.0.0.1 $PL" "tcp 0.0.0.0 $PL" "tcp6 ::1 $PL" "tcp6 ::ffff:127.0.0.1 $PL" \
		"tcp 127.0.0.2 $PW" "tcp6 :: $PW"; do
		read -r proto addr port <<<"$dest"
		[[ $port == "$PW" ]] && ep="tcp *:P" || ep="tcp 127.0.0.1:P/[::1]:P"
		expect "bypass: TCP Fast Open $what to $proto $addr ($ep) from denied uid: EPERM" EPERM \
			"${D[@]}" "$op" "$proto" "$addr" "$port"
		expect "control: TCP Fast Open $what to $proto $addr ($ep) from allowed uid: ok" ok \
			"${A[@]}" "$op" "$proto" "$addr" "$port"
	done
done
