# Bypass catalog: per-thread credentials. The kernel's setresuid() changes the
# calling thread only (glibc makes it process-wide by signalling every
# thread); a raw system call leaves the other threads as they were. The
# thread that connects is the one judged.
source "$root/tests/tools/bypass-lib.sh"

B=$(catalog_port 32)
P=$B
U32=$TMP/u32
mkdir -p "$CG/c" "$U32"
chmod 755 "$U32"

cat >"$TMP/t32.conf" <<CONF
endpoint api {
    tcp 127.0.0.1:$P
    tcp [::1]:$P
}
endpoint sock unix $U32/api.sock
allow { api, sock } from user 1001
CONF
start_listener listen tcp 127.0.0.1 "$P"
start_listener listen unix "$U32/api.sock"
chmod 777 "$U32/api.sock"
out=$(dg load "$TMP/t32.conf" 2>&1)
check "threads: policy loaded" test $? -eq 0

# thread_case NAME WANT MAIN-EUID OP-EUID PROTO ADDR [PORT]: asserts the
# verdict and that the two threads really had those euids
thread_case() {
	local name=$1 want=$2 main=$3 op=$4
	shift 4
	local out
	out=$("$PROBE" --cgroup "$CG/c" --euid "$main" --thread-euid "$op" connect "$@" 2>&1)
	assert_verdict "$name" "$want" "$(head -n 1 <<<"$out")"
	check "$name: main thread euid $main, connecting thread euid $op" \
		grep -qx "main thread euid $main, op thread euid $op" <<<"$out"
}
thread_case "bypass: thread with denied euid 1002 in a process whose main thread is allowed (1001), tcp: EPERM" \
	EPERM 1001 1002 tcp 127.0.0.1 "$P"
thread_case "control: thread with allowed euid 1001 in a process whose main thread is denied (1002), tcp: ok" \
	ok 1002 1001 tcp 127.0.0.1 "$P"
expect "control: the main thread itself with euid 1001: ok" ok --cgroup "$CG/c" --euid 1001 connect tcp 127.0.0.1 "$P"
if unix_enforced; then
	thread_case "bypass: thread with denied euid 1002 in a process whose main thread is allowed, unix: EPERM" \
		EPERM 1001 1002 unix "$U32/api.sock"
	thread_case "control: thread with allowed euid 1001, main thread denied, unix: ok" \
		ok 1002 1001 unix "$U32/api.sock"
else
	skip "threads: no connect_unix hook: unix variants untested"
fi
