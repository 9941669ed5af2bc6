# Bypass catalog: every spelling of a path that ends in the socket's file
# name (docs/unix-paths.md, "What this covers"), and the address-length forms
# of sun_path. Each one must be judged as the endpoint, and each one must
# really reach the socket (the allowed uid connects).
source "$root/tests/tools/bypass-lib.sh"

U20=$TMP/u20
SD=$U20/sockdir
mkdir -p "$CG/c" "$SD" "$U20/elsewhere" "$U20/chroot/run"
chmod 755 "$U20" "$SD"
ln -s "$SD" "$U20/link"
ln -s "$U20/link" "$U20/link2"
# Another socket with the same name, whose sun_path is 108 bytes with no room
# for a NUL (a policy cannot name such a path; the name judges it).
api=api.sock
pad=$((108 - ${#U20} - 2 - ${#api}))
LONGDIR=$U20/$(printf 'd%.0s' $(seq 1 "$pad"))
mkdir -p "$LONGDIR"
LONG=$LONGDIR/$api

cat >"$TMP/t20.conf" <<CONF
endpoint sock unix $SD/$api
allow sock from user 1001
CONF
start_listener listen unix "$SD/$api"
start_listener listen unix "$LONG"
chmod 777 "$SD/$api" "$LONG"
out=$(dg load "$TMP/t20.conf" 2>&1)
check "unix paths: policy loaded" test $? -eq 0

D=(--cgroup "$CG/c" --uid 1002)
A=(--cgroup "$CG/c" --uid 1001)

if ! unix_enforced; then
	skip "unix paths: this kernel has no cgroup/connect_unix hook (Linux 6.7+): unix endpoints are not enforced"
else
	# upath LABEL PROBE-OPTIONS... -- PATH: denied EPERM, allowed ok
	upath() {
		local label=$1
		shift
		local opts=()
		while [[ $1 != -- ]]; do
			opts+=("$1")
			shift
		done
		local path=$2
		expect "bypass: unix $label from denied uid: EPERM" EPERM "${D[@]}" "${opts[@]}" connect unix "$path"
		expect "control: unix $label from allowed uid: ok" ok "${A[@]}" "${opts[@]}" connect unix "$path"
	}
	upath "absolute path" -- "$SD/$api"
	upath "path through .." -- "$SD/../sockdir/$api"
	upath "path with //" -- "$U20//sockdir//$api"
	upath "path with /./" -- "$SD/./$api"
	upath "path through a symlinked directory" -- "$U20/link/$api"
	upath "path through a chain of directory symlinks" -- "$U20/link2/$api"
	upath "relative path after chdir" --chdir "$SD" -- "$api"
	upath "relative ./ path after chdir" --chdir "$SD" -- "./$api"
	upath "relative path with a directory after chdir" --chdir "$U20" -- "sockdir/$api"
	upath "relative ../ path after chdir" --chdir "$SD" -- "../sockdir/$api"
	upath "/proc/self/cwd/NAME after chdir" --chdir "$SD" -- "/proc/self/cwd/$api"
	upath "/proc/self/root/PATH" -- "/proc/self/root$SD/$api"
	upath "/proc/thread-self/root/PATH" -- "/proc/thread-self/root$SD/$api"

	# /proc/PID/root of another process of the same uid and gid (ptrace
	# rules let only the owner through /proc/PID/root)
	for u in 1001 1002; do
		setpriv --reuid $u --regid $u --clear-groups sleep 600 &
		PIDS+=($!)
		eval "SLEEPER_$u=$!"
	done
	sleep 0.1
	expect "bypass: unix /proc/PID/root/PATH of another process of the denied uid: EPERM" EPERM \
		"${D[@]}" --gid 1002 connect unix "/proc/$SLEEPER_1002/root$SD/$api"
	expect "control: unix /proc/PID/root/PATH of another process of the allowed uid: ok" ok \
		"${A[@]}" --gid 1001 connect unix "/proc/$SLEEPER_1001/root$SD/$api"

	# /proc/self/fd/N/NAME where N is an inherited directory descriptor
	fdpath() { bash -c 'exec 7<"$0" && exec "$@"' "$SD" "$PROBE" "$@" 2>&1 | head -n 1; }
	assert_verdict "bypass: unix /proc/self/fd/N/NAME (N: the directory) from denied uid: EPERM" EPERM \
		"$(fdpath "${D[@]}" connect unix "/proc/self/fd/7/$api")"
	assert_verdict "control: unix /proc/self/fd/N/NAME from allowed uid: ok" ok \
		"$(fdpath "${A[@]}" connect unix "/proc/self/fd/7/$api")"

	# the socket's directory bind-mounted elsewhere, in another mount namespace
	bindpath() {
		unshare --mount bash -c 'mount --bind "$0" "$1" && shift && exec "$@"' \
			"$SD" "$U20/elsewhere" "$PROBE" "$@" 2>&1 | head -n 1
	}
	assert_verdict "bypass: unix directory bind-mounted elsewhere in another mount namespace, denied uid: EPERM" EPERM \
		"$(bindpath "${D[@]}" connect unix "$U20/elsewhere/$api")"
	assert_verdict "control: unix directory bind-mounted elsewhere, allowed uid: ok" ok \
		"$(bindpath "${A[@]}" connect unix "$U20/elsewhere/$api")"

	# a container-like root: the socket's directory bind-mounted at /run of a
	# chroot, the client (the static probe) inside
	if [[ -x $BUILD/dg-probe-static ]]; then
		cp "$BUILD/dg-probe-static" "$U20/chroot/dg-probe"
		chrootpath() {
			in_cgroup "$CG/c" unshare --mount bash -c \
				'mount --bind "$0" "$1/run" && exec chroot "$1" /dg-probe "$2" "$3" connect unix /run/api.sock' \
				"$SD" "$U20/chroot" --uid "$1" 2>&1 | head -n 1
		}
		assert_verdict "bypass: unix /run/api.sock in a chroot with the socket's directory bind-mounted at /run, denied uid: EPERM" \
			EPERM "$(chrootpath 1002)"
		assert_verdict "control: the same from allowed uid: ok" ok "$(chrootpath 1001)"
	else
		skip "unix: $BUILD/dg-probe-static not built: chroot bind-mount path untested"
	fi

	# sun_path forms: the hook and the kernel must read the same name
	full=$SD/$api
	upath "sun_path without a terminating NUL (addrlen = 2 + strlen)" --addrlen $((2 + ${#full})) -- "$full"
	upath "sun_path cut by addrlen (NAMEXYZ, addrlen ends at NAME)" --addrlen $((2 + ${#full})) -- "${full}XYZ"
	upath "addrlen = sizeof(struct sockaddr_un), zero padding after the path" --addrlen 110 -- "$full"
	upath "sun_path NAME, a NUL, then /x/other.sock within addrlen" --nul-tail /x/other.sock -- "$full"
	upath "108-byte sun_path, no NUL at all (same name elsewhere)" -- "$LONG"
	# spellings that end in the name but do not reach the socket
	expect_v "no path: unix NAME/ (trailing slash) does not connect" '!connect' "${A[@]}" connect unix "$full/"
	expect_v "no path: unix NAME/. does not connect" '!connect' "${A[@]}" connect unix "$full/."
fi
