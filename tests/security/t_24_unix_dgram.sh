# Bypass catalog: unix sockets other than SOCK_STREAM. A datagram endpoint is
# reached by connect() + send(), or by sendto() with the address and no
# connect() at all, which cgroup/connect_unix never sees: it takes a
# cgroup/sendmsg_unix hook. A seqpacket endpoint is reached by connect().
source "$root/tests/tools/bypass-lib.sh"

U24=$TMP/u24
mkdir -p "$CG/c" "$U24"
chmod 755 "$U24"

cat >"$TMP/t24.conf" <<CONF
endpoint dgram unix $U24/dgram.sock
endpoint seqpacket unix $U24/seqpacket.sock
allow { dgram, seqpacket } from user 1001
CONF
start_listener listen unixdg "$U24/dgram.sock"
start_listener listen unixsp "$U24/seqpacket.sock"
chmod 777 "$U24"/*.sock
out=$(dg load "$TMP/t24.conf" 2>&1)
check "unix dgram: policy loaded" test $? -eq 0

D=(--cgroup "$CG/c" --uid 1002)
A=(--cgroup "$CG/c" --uid 1001)
if ! unix_enforced; then
	skip "unix dgram: this kernel has no cgroup/connect_unix hook (Linux 6.7+): unix endpoints are not enforced"
else
	expect "bypass: unix datagram connect() + send() from denied uid: EPERM at connect" EPERM \
		"${D[@]}" connect unixdg "$U24/dgram.sock"
	expect "control: unix datagram connect() + send() from allowed uid: ok" ok \
		"${A[@]}" connect unixdg "$U24/dgram.sock"
	expect "bypass: unix datagram connect() + send() through a relative path from denied uid: EPERM" EPERM \
		"${D[@]}" --chdir "$U24" connect unixdg dgram.sock
	# sendto() and IORING_OP_SENDMSG need cgroup/sendmsg_unix: they fail
	# until dockguard attaches it
	expect "bypass: unix datagram sendto() without connect() from denied uid: EPERM" EPERM \
		"${D[@]}" sendto unixdg "$U24/dgram.sock"
	expect "control: unix datagram sendto() without connect() from allowed uid: ok" ok \
		"${A[@]}" sendto unixdg "$U24/dgram.sock"
	expect "bypass: unix datagram sendto() through a relative path from denied uid: EPERM" EPERM \
		"${D[@]}" --chdir "$U24" sendto unixdg dgram.sock
	if [[ $("$PROBE" uring-sendto unixdg "$U24/dgram.sock" 2>&1 | head -n 1) != ok ]]; then
		skip "unix dgram: io_uring unavailable: IORING_OP_SENDMSG untested"
	else
		expect "bypass: unix datagram io_uring IORING_OP_SENDMSG with the address from denied uid: EPERM" EPERM \
			"${D[@]}" uring-sendto unixdg "$U24/dgram.sock"
		expect "bypass: unix datagram io_uring IORING_OP_SENDMSG with IOSQE_ASYNC (io-wq) from denied uid: EPERM" EPERM \
			"${D[@]}" uring-sendto-async unixdg "$U24/dgram.sock"
		expect "control: unix datagram io_uring IORING_OP_SENDMSG (io-wq) from allowed uid: ok" ok \
			"${A[@]}" uring-sendto-async unixdg "$U24/dgram.sock"
	fi
	expect "bypass: unix seqpacket connect() from denied uid: EPERM" EPERM \
		"${D[@]}" connect unixsp "$U24/seqpacket.sock"
	expect "control: unix seqpacket connect() from allowed uid: ok" ok \
		"${A[@]}" connect unixsp "$U24/seqpacket.sock"
fi
