# Bypass catalog, known limits: aliases of the socket FILE under another file
# name. dockguard judges a unix connect by the file name in sun_path
# (docs/unix-paths.md, "What this misses"), so these reach the socket without
# being judged. What stays in force is the socket file's own permissions: a
# connect needs write permission on the socket's inode, whatever the path.
# Each alias is asserted both ways: it does reach the socket for a member of
# the socket's group that dockguard denies (the limit), and it is refused with
# EACCES for a uid outside that group (the fallback). Where the BPF LSM
# judges unix endpoints, the aliases are refused instead (see LSM22).
source "$root/tests/tools/bypass-lib.sh"

U22=$TMP/u22
SD=$U22/sockdir
SOCKGRP=4343
mkdir -p "$CG/c" "$SD"
chmod 755 "$U22" "$SD"

cat >"$TMP/t22.conf" <<CONF
endpoint sock unix $SD/api.sock
allow sock from user 1001
CONF
start_listener listen unix "$SD/api.sock"
# like /var/run/docker.sock: 0660 root:docker
chown "0:$SOCKGRP" "$SD/api.sock"
chmod 0660 "$SD/api.sock"
ln -s "$SD/api.sock" "$U22/symlinked.sock"
ln "$SD/api.sock" "$U22/hardlinked.sock"
touch "$U22/bound.sock"
out=$(dg load "$TMP/t22.conf" 2>&1)
check "unix aliases: policy loaded" test $? -eq 0

MEMBER=(--cgroup "$CG/c" --groups "$SOCKGRP" --gid 1002 --uid 1002)	# passes the file mode, denied by dockguard
OUTSIDER=(--cgroup "$CG/c" --gid 1003 --uid 1003)			# fails the file mode
ALLOWED=(--cgroup "$CG/c" --groups "$SOCKGRP" --gid 1001 --uid 1001)
EACCES='/^error: Permission denied$/'

# Where dockguard enforces unix endpoints with the BPF LSM (t_45), the limits
# below are gone: each alias is refused with EPERM.
LSM22=0
unix_by_lsm && LSM22=1
if ! unix_enforced; then
	skip "unix aliases: this kernel has no cgroup/connect_unix hook (Linux 6.7+): unix endpoints are not enforced"
else
	expect "control: unix socket by its name, group member that dockguard denies: EPERM" EPERM \
		"${MEMBER[@]}" connect unix "$SD/api.sock"
	expect "control: unix socket by its name, group member that dockguard allows: ok" ok \
		"${ALLOWED[@]}" connect unix "$SD/api.sock"
	if ((LSM22)); then
		# the LSM hook runs after the path lookup, which checks the mode
		expect_v "control: unix socket by its name, uid outside the group: EACCES (the file mode answers before the BPF LSM)" "$EACCES" \
			"${OUTSIDER[@]}" connect unix "$SD/api.sock"
	else
		expect_v "control: unix socket by its name, uid outside the group: EPERM (dockguard answers first)" EPERM \
			"${OUTSIDER[@]}" connect unix "$SD/api.sock"
	fi

	# alias LABEL PROBE-WRAPPER... -- PROBE-OPTIONS... -- PATH
	alias_case() {
		local label=$1
		shift
		local wrap=() popts=()
		while [[ $1 != -- ]]; do wrap+=("$1"); shift; done
		shift
		while [[ $1 != -- ]]; do popts+=("$1"); shift; done
		local path=$2
		if ((LSM22)); then
			# judged by the listener's own name: the limit is gone
			assert_verdict "fixed by the BPF LSM: unix $label, group member dockguard denies: EPERM" EPERM \
				"$("${wrap[@]}" "$PROBE" "${MEMBER[@]}" "${popts[@]}" connect unix "$path" 2>&1 | head -n 1)"
			assert_verdict "fixed by the BPF LSM: unix $label, group member dockguard allows: ok" ok \
				"$("${wrap[@]}" "$PROBE" "${ALLOWED[@]}" "${popts[@]}" connect unix "$path" 2>&1 | head -n 1)"
		else
			assert_verdict "known limit: unix $label reaches the socket for a group member dockguard denies: ok" ok \
				"$("${wrap[@]}" "$PROBE" "${MEMBER[@]}" "${popts[@]}" connect unix "$path" 2>&1 | head -n 1)"
		fi
		assert_verdict "known limit, fallback holds: unix $label, uid outside the socket's group: EACCES" "$EACCES" \
			"$("${wrap[@]}" "$PROBE" "${OUTSIDER[@]}" "${popts[@]}" connect unix "$path" 2>&1 | head -n 1)"
	}
	alias_case "symlink to the socket under another name" -- -- "$U22/symlinked.sock"
	alias_case "hard link to the socket under another name" -- -- "$U22/hardlinked.sock"
	alias_case "/proc/self/fd/N, N an O_PATH descriptor of the socket" -- --opath "$SD/api.sock" -- /proc/self/fd/9
	alias_case "socket file bind-mounted on another name in another mount namespace" \
		unshare --mount bash -c 'mount --bind "$0" "$1" && shift && exec "$@"' "$SD/api.sock" "$U22/bound.sock" -- \
		-- "$U22/bound.sock"
fi
