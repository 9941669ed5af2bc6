# Unix endpoints enforced on the socket itself (BPF LSM). Where the BPF LSM
# is active, dockguard judges a unix connect or send by the name the
# LISTENER bound, once the kernel has found the socket, so every alias of the
# socket file under another name (t_22's known limits) is judged as the
# endpoint. Skipped where dockguard reports no BPF LSM (this host's kernel);
# the kernel matrix boots guests with lsm=...,bpf (tests/kernel-matrix).
source "$root/tests/tools/bypass-lib.sh"

U45=$TMP/u45
SD=$U45/sockdir
mkdir -p "$CG/c" "$SD"
chmod 755 "$U45" "$SD"

cat >"$TMP/t45.conf" <<CONF
endpoint sock unix $SD/api.sock
endpoint dgram unix $SD/dgram.sock
allow { sock, dgram } from user 1001
CONF
start_listener listen unix "$SD/api.sock"
start_listener listen unixdg "$SD/dgram.sock"
start_listener listen unix "$U45/other.sock"
# world-writable: only dockguard's decision stands between a uid and the socket
chmod 777 "$SD"/*.sock "$U45/other.sock"
ln -s "$SD/api.sock" "$U45/symlinked.sock"
ln "$SD/api.sock" "$U45/hardlinked.sock"
touch "$U45/bound.sock"
ln -s "$SD/dgram.sock" "$U45/dgram-symlinked.sock"
ln "$SD/dgram.sock" "$U45/dgram-hardlinked.sock"
out=$(dg load "$TMP/t45.conf" 2>&1)
check "lsm unix: policy loaded" test $? -eq 0
json=$(dg status --json 2>/dev/null)

D=(--cgroup "$CG/c" --uid 1002)
A=(--cgroup "$CG/c" --uid 1001)

# default_denied: the default's denied counter (every deny here is a default deny)
default_denied() {
	dg status --json 2>/dev/null | grep -o '"rule":"default","action":"deny","allowed":[0-9]*,"denied":[0-9]*' |
		sed 's/.*"denied"://'
}

if ! grep -q '"unix_enforcement":"lsm"' <<<"$json"; then
	if "$DG" version 2>/dev/null | grep -q 'bpf lsm yes'; then
		fail "lsm unix: the BPF LSM is active but dockguard does not enforce unix endpoints with it: $(tr '\n' ' ' <<<"$out")"
	else
		skip "lsm unix: dockguard reports no BPF LSM on this kernel (boot with lsm=...,bpf): unix endpoints are judged by path name"
		# what dockguard says instead
		if [[ -e $BPFFS/link_connect_unix ]]; then
			want="unix endpoints: by path name (cgroup/connect_unix)"
		else
			want="unix endpoints: NOT ENFORCED (no connect_unix hook, no BPF LSM)"
		fi
		check "lsm unix: without the BPF LSM, load says '$want'" grep -qF "$want" <<<"$out"
		check "lsm unix: without the BPF LSM, status says '$want'" \
			bash -c "'$DG' --bpffs '$BPFFS' status | grep -qF '$want'"
		check "lsm unix: without the BPF LSM, no LSM link is pinned" test ! -e "$BPFFS/link_lsm_unix_connect"
	fi
else
	check "lsm unix: load says unix endpoints are enforced on the socket" \
		grep -q "^unix endpoints: enforced on the socket (BPF LSM)" <<<"$out"
	check "lsm unix: load prints no warning" bash -c '! grep -qi "warning" <<<"$1"' _ "$out"
	check "lsm unix: status names the BPF LSM" \
		bash -c "'$DG' --bpffs '$BPFFS' status | grep -qF 'unix endpoints: enforced on the socket (BPF LSM)'"
	check "lsm unix: status --json lists both LSM hooks" \
		bash -c "grep -q '\"hook\":\"lsm_unix_connect\"' <<<'$json' && grep -q '\"hook\":\"lsm_unix_may_send\"' <<<'$json'"
	check "lsm unix: status --json: unix endpoints enforced" grep -q '"unix_enforced":true' <<<"$json"
	check "lsm unix: the LSM links are pinned" test -e "$BPFFS/link_lsm_unix_connect" -a -e "$BPFFS/link_lsm_unix_may_send"

	# alias LABEL WRAPPER... -- PROBE-OPTIONS... -- PATH: EPERM for the
	# denied uid, ok for the allowed one
	alias_case() {
		local label=$1
		shift
		local wrap=() popts=()
		while [[ $1 != -- ]]; do wrap+=("$1"); shift; done
		shift
		while [[ $1 != -- ]]; do popts+=("$1"); shift; done
		local path=$2
		assert_verdict "lsm: unix $label from denied uid: EPERM" EPERM \
			"$("${wrap[@]}" "$PROBE" "${D[@]}" "${popts[@]}" connect unix "$path" 2>&1 | head -n 1)"
		assert_verdict "lsm: unix $label from allowed uid: ok" ok \
			"$("${wrap[@]}" "$PROBE" "${A[@]}" "${popts[@]}" connect unix "$path" 2>&1 | head -n 1)"
	}
	alias_case "by its own path" -- -- "$SD/api.sock"
	alias_case "symlink under another name" -- -- "$U45/symlinked.sock"
	alias_case "hard link under another name" -- -- "$U45/hardlinked.sock"
	alias_case "/proc/self/cwd/NAME after chdir" -- --chdir "$SD" -- /proc/self/cwd/api.sock
	alias_case "/proc/self/fd/N, N an O_PATH descriptor of the socket" -- --opath "$SD/api.sock" -- /proc/self/fd/9
	alias_case "O_PATH descriptor of the hard link" -- --opath "$U45/hardlinked.sock" -- /proc/self/fd/9
	alias_case "socket file bind-mounted on another name in another mount namespace" \
		unshare --mount bash -c 'mount --bind "$0" "$1" && shift && exec "$@"' "$SD/api.sock" "$U45/bound.sock" -- \
		-- "$U45/bound.sock"

	# datagrams: connect() + send(), and sendto() with the address
	expect "lsm: unix datagram sendto() from denied uid: EPERM" EPERM "${D[@]}" sendto unixdg "$SD/dgram.sock"
	expect "lsm: unix datagram sendto() from allowed uid: ok" ok "${A[@]}" sendto unixdg "$SD/dgram.sock"
	expect "lsm: unix datagram sendto() through a symlink, denied uid: EPERM" EPERM \
		"${D[@]}" sendto unixdg "$U45/dgram-symlinked.sock"
	expect "lsm: unix datagram sendto() through a hard link, denied uid: EPERM" EPERM \
		"${D[@]}" sendto unixdg "$U45/dgram-hardlinked.sock"
	expect "lsm: unix datagram sendto() through a hard link, allowed uid: ok" ok \
		"${A[@]}" sendto unixdg "$U45/dgram-hardlinked.sock"
	expect "lsm: unix datagram connect() through a hard link, denied uid: EPERM" EPERM \
		"${D[@]}" connect unixdg "$U45/dgram-hardlinked.sock"
	expect "lsm: unix datagram sendto() via /proc/self/fd/N (O_PATH), denied uid: EPERM" EPERM \
		"${D[@]}" --opath "$SD/dgram.sock" sendto unixdg /proc/self/fd/9

	# other sockets and other processes are left alone
	expect "lsm: another unix socket, denied uid: ok" ok "${D[@]}" connect unix "$U45/other.sock"
	expect "lsm: outside the test cgroup, denied uid by the real path: ok (not in scope)" ok \
		--uid 1002 connect unix "$SD/api.sock"
	expect "lsm: outside the test cgroup, denied uid through a symlink: ok (not in scope)" ok \
		--uid 1002 connect unix "$U45/symlinked.sock"
	expect "lsm: outside the test cgroup, denied uid sendto(): ok (not in scope)" ok \
		--uid 1002 sendto unixdg "$SD/dgram.sock"

	# one connect, one decision: the cgroup hook lets it through, the LSM
	# hook judges it
	before=$(default_denied)
	"$PROBE" "${D[@]}" connect unix "$SD/api.sock" >/dev/null 2>&1
	after=$(default_denied)
	check "lsm: a denied connect is counted once, not twice ($before -> $after)" \
		test "$((after - before))" -eq 1
	before=$(default_denied)
	"$PROBE" "${D[@]}" connect unix "$U45/symlinked.sock" >/dev/null 2>&1
	after=$(default_denied)
	check "lsm: a denied connect through a symlink is counted once ($before -> $after)" \
		test "$((after - before))" -eq 1
	ev=$(dg tail --no-follow --json 2>/dev/null)
	check "lsm: events name the listener's path, not the alias" \
		bash -c "grep -qF '\"unix:$SD/api.sock\"' <<<\"\$0\" && ! grep -qF 'symlinked.sock' <<<\"\$0\"" "$ev"

	# unload: everything goes, no hook is left behind
	dg unload >/dev/null 2>&1
	check "lsm: unload removes the LSM links" test ! -e "$BPFFS/link_lsm_unix_connect" -a ! -e "$BPFFS/link_lsm_unix_may_send"
	expect "lsm: after unload, denied uid through a symlink: ok" ok "${D[@]}" connect unix "$U45/symlinked.sock"
	expect "lsm: after unload, denied uid sendto(): ok" ok "${D[@]}" sendto unixdg "$SD/dgram.sock"
fi
