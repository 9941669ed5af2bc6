# Bypass catalog: every address form that reaches a protected TCP listener.
# For each form, a denied uid gets EPERM and an allowed uid gets through to the
# real listener (so the form does reach it); forms that reach no listener must
# not connect at all.
source "$root/tests/tools/bypass-lib.sh"

B=$(catalog_port 10)
PW=$B		# tcp *:PW, dual-stack [::] listener (IPv4 arrives mapped)
PW4=$((B + 1))	# tcp *:PW4, 0.0.0.0 listener
PL=$((B + 2))	# tcp 127.0.0.1:PL, 127.0.0.1 listener
PL6=$((B + 3))	# tcp [::1]:PL6, ::1 listener

# The host's own non-loopback addresses, on lo of the suite's private network
# namespace (this kernel may have no dummy interfaces); with a prefix that is
# not 127/8, they are ordinary local addresses.
HOST4=10.213.77.1
HOST6=fd00:d9:77::1
ip addr show dev lo | grep -q "inet $HOST4/" || ip addr add "$HOST4/24" dev lo
ip addr show dev lo | grep -q "inet6 $HOST6/" || ip -6 addr add "$HOST6/64" dev lo nodad
mkdir -p "$CG/c"

cat >"$TMP/t10.conf" <<CONF
endpoint wild tcp *:$PW
endpoint wild4 tcp *:$PW4
endpoint lo4 tcp 127.0.0.1:$PL
endpoint lo6 tcp [::1]:$PL6
allow { wild, wild4, lo4, lo6 } from user 1001
CONF
start_listener listen tcp6 :: "$PW"
start_listener listen tcp 0.0.0.0 "$PW4"
start_listener listen tcp 127.0.0.1 "$PL"
start_listener listen tcp6 ::1 "$PL6"
out=$(dg load "$TMP/t10.conf" 2>&1)
check "addresses: policy loaded" test $? -eq 0

D=(--cgroup "$CG/c" --uid 1002)
A=(--cgroup "$CG/c" --uid 1001)

# form PORT ENDPOINT-LABEL PROTO ADDR: the denied uid gets EPERM, the allowed
# uid reaches the listener
form() {
	local port=$1 label=$2 proto=$3 addr=$4
	expect "bypass: $proto $addr to $label from denied uid: EPERM" EPERM "${D[@]}" connect "$proto" "$addr" "$port"
	expect "control: $proto $addr to $label from allowed uid: ok" ok "${A[@]}" connect "$proto" "$addr" "$port"
}

# `*` endpoint, dual-stack listener: every address of the host
for a in 127.0.0.1 127.0.0.2 127.255.255.254 0.0.0.0 "$HOST4"; do
	form "$PW" "tcp *:P" tcp "$a"
done
for a in ::1 :: 0:0:0:0:0:0:0:1 "$HOST6" \
	::ffff:127.0.0.1 ::ffff:7f00:1 0:0:0:0:0:ffff:127.0.0.1 0:0:0:0:0:FFFF:7F00:0001 \
	::ffff:127.0.0.2 ::ffff:127.255.255.254 ::ffff:0.0.0.0 ::ffff:0:0 "::ffff:$HOST4"; do
	form "$PW" "tcp *:P" tcp6 "$a"
done
# IPv4-compatible (deprecated) is a plain IPv6 address: it reaches nothing
expect_v "no path: tcp6 ::127.0.0.1 (IPv4-compatible) to tcp *:P does not connect" '!connect' \
	"${A[@]}" connect tcp6 ::127.0.0.1 "$PW"

# `*` endpoint, 0.0.0.0 listener
for a in "$HOST4" 127.0.0.2 0.0.0.0; do
	form "$PW4" "tcp *:P (0.0.0.0 listener)" tcp "$a"
done
for a in "::ffff:$HOST4" ::ffff:127.0.0.3; do
	form "$PW4" "tcp *:P (0.0.0.0 listener)" tcp6 "$a"
done

# exact 127.0.0.1 endpoint: the forms the kernel delivers to 127.0.0.1
form "$PL" "tcp 127.0.0.1:P" tcp 127.0.0.1
form "$PL" "tcp 127.0.0.1:P" tcp 0.0.0.0
for a in ::ffff:127.0.0.1 ::ffff:7f00:1 0:0:0:0:0:ffff:127.0.0.1 ::ffff:0.0.0.0; do
	form "$PL" "tcp 127.0.0.1:P" tcp6 "$a"
done
# ... and forms that do not reach a 127.0.0.1 listener, whoever asks
for a in 127.0.0.2 "$HOST4"; do
	expect_v "no path: tcp $a to a 127.0.0.1 listener does not connect" '!connect' "${D[@]}" connect tcp "$a" "$PL"
done
for a in ::127.0.0.1 ::ffff:127.0.0.2 ::1; do
	expect_v "no path: tcp6 $a to a 127.0.0.1 listener does not connect" '!connect' "${D[@]}" connect tcp6 "$a" "$PL"
done

# exact ::1 endpoint
for a in ::1 0:0:0:0:0:0:0:1 :: ; do
	form "$PL6" "tcp [::1]:P" tcp6 "$a"
done
expect_v "no path: tcp 127.0.0.1 to a ::1 listener does not connect" '!connect' "${D[@]}" connect tcp 127.0.0.1 "$PL6"
