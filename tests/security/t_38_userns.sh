# Bypass catalog: user namespaces. Ids are judged as the host sees them
# (the init user namespace), so root inside a user namespace is whatever host
# uid it maps to: the caller's own uid for an unprivileged namespace, the
# subordinate uid for a remapped container (Docker's userns-remap).
source "$root/tests/tools/bypass-lib.sh"

B=$(catalog_port 38)
P=$B
mkdir -p "$CG/c"

cat >"$TMP/t38.conf" <<CONF
endpoint api {
    tcp 127.0.0.1:$P
    tcp [::1]:$P
}
endpoint remap tcp 127.0.0.1:$((P + 1))
endpoint bygroup tcp 127.0.0.1:$((P + 2))
allow api from user { 0, 1001 }
allow remap from user 100000
deny bygroup from group 4343
allow bygroup from user 1002
CONF
start_listener listen tcp 127.0.0.1 "$P"
start_listener listen tcp 127.0.0.1 $((P + 1))
start_listener listen tcp 127.0.0.1 $((P + 2))
out=$(dg load "$TMP/t38.conf" 2>&1)
check "userns: policy loaded" test $? -eq 0

# own_userns UID PROBE-ARGS...: UID makes its own user namespace, in which
# it is root, and runs the probe there
own_userns() {
	local u=$1
	shift
	in_cgroup "$CG/c" setpriv --reuid "$u" --regid "$u" --clear-groups \
		unshare --user --map-root-user "$PROBE" "$@" 2>&1 | head -n 1
}
if [[ $(own_userns 1002 bind tcp 127.0.0.1 0) != ok ]]; then
	skip "userns: unprivileged user namespaces unavailable: user-namespace paths untested"
else
	assert_verdict "bypass: denied uid 1002 as root of its own user namespace: EPERM" EPERM \
		"$(own_userns 1002 connect tcp 127.0.0.1 "$P")"
	assert_verdict "control: allowed uid 1001 as root of its own user namespace: ok" ok \
		"$(own_userns 1001 connect tcp 127.0.0.1 "$P")"
	# with its own network namespace too, 127.0.0.1 is its own loopback
	assert_verdict "no path: denied uid 1002 in its own user and network namespace reaches only its own loopback" '!connect' \
		"$(in_cgroup "$CG/c" setpriv --reuid 1002 --regid 1002 --clear-groups \
			unshare --user --map-root-user --net "$PROBE" connect tcp 127.0.0.1 "$P" 2>&1 | head -n 1)"
fi

# A remapped container's root: uid 0 inside maps to host uid 100000. The
# namespace is held by a sleeping process; root writes its maps, as dockerd
# does, and the probe enters it as uid 0 (nsenter).
unshare --user sleep 600 >/dev/null 2>&1 &
HOLDER=$!
PIDS+=("$HOLDER")
for ((i = 0; i < 500; i++)); do
	[[ $(readlink "/proc/$HOLDER/ns/user") != "$(readlink /proc/self/ns/user)" ]] && break
	sleep 0.01
done
if echo "0 100000 65536" >"/proc/$HOLDER/uid_map" && echo "0 100000 65536" >"/proc/$HOLDER/gid_map"; then
	assert_verdict "bypass: root of a remapped user namespace (host uid 100000) under 'allow from user 0': EPERM" EPERM \
		"$(in_cgroup "$CG/c" nsenter --user="/proc/$HOLDER/ns/user" --setuid 0 --setgid 0 \
			"$PROBE" connect tcp 127.0.0.1 "$P" 2>&1 | head -n 1)"
	assert_verdict "control: the same remapped root under 'allow from user 100000': ok" ok \
		"$(in_cgroup "$CG/c" nsenter --user="/proc/$HOLDER/ns/user" --setuid 0 --setgid 0 \
			"$PROBE" connect tcp 127.0.0.1 $((P + 1)) 2>&1 | head -n 1)"
else
	skip "userns: could not write a remapped namespace's maps: remapped root untested"
fi
kill "$HOLDER" 2>/dev/null
expect "control: host root: ok" ok --cgroup "$CG/c" connect tcp 127.0.0.1 "$P"

# Supplementary groups in a user namespace: `deny ... from group G` holds
# only while the process cannot drop G. Linux refuses setgroups() in a
# namespace whose gid map the user wrote itself (setgroups=deny), but not in
# one mapped by a privileged helper (newgidmap, with /etc/subgid ranges).
PG=$((P + 2))
expect "control: uid 1002 in group 4343 under 'deny from group 4343': EPERM" EPERM \
	--cgroup "$CG/c" --groups 4343 --gid 1002 --uid 1002 connect tcp 127.0.0.1 "$PG"
expect "control: uid 1002 without group 4343: ok" ok \
	--cgroup "$CG/c" --gid 1002 --uid 1002 connect tcp 127.0.0.1 "$PG"
as_member() {
	in_cgroup "$CG/c" setpriv --reuid 1002 --regid 1002 --groups 4343 "$@" 2>&1 | head -n 1
}
assert_verdict "bypass: uid 1002 in its own user namespace (self-written map) keeps group 4343: EPERM" EPERM \
	"$(as_member unshare --user --map-root-user "$PROBE" connect tcp 127.0.0.1 "$PG")"
assert_verdict "known limit, fallback holds: uid 1002 cannot drop group 4343 in a self-mapped user namespace (setgroups refused)" \
	'/^error setgroups: Operation not permitted$/' \
	"$(as_member unshare --user --map-root-user "$PROBE" --groups '' connect tcp 127.0.0.1 "$PG")"
setpriv --reuid 1002 --regid 1002 --groups 4343 unshare --user sleep 600 >/dev/null 2>&1 &
GHOLDER=$!
PIDS+=("$GHOLDER")
for ((i = 0; i < 500; i++)); do
	[[ $(readlink "/proc/$GHOLDER/ns/user") != "$(readlink /proc/self/ns/user)" ]] && break
	sleep 0.01
done
# what newuidmap/newgidmap write for a user with subordinate ranges
if echo "0 1002 1" >"/proc/$GHOLDER/uid_map" && echo "0 1002 1" >"/proc/$GHOLDER/gid_map"; then
	assert_verdict "known limit: uid 1002 drops group 4343 in a user namespace mapped by a privileged helper (newgidmap), escaping 'deny from group 4343': ok" ok \
		"$(as_member nsenter --user="/proc/$GHOLDER/ns/user" --setuid 0 --setgid 0 "$PROBE" connect tcp 127.0.0.1 "$PG")"
else
	skip "userns: could not write a gid map: group drop untested"
fi
kill "$GHOLDER" 2>/dev/null

# `remapped` is every subordinate range of the remap user: Docker maps
# container uids past the first range's size into the next range, so a
# container uid 70000 is host uid 300000 + (70000 - 65536) with these ranges.
PR=$((P + 3))
start_listener listen tcp 127.0.0.1 "$PR"
printf '{"userns-remap": "default"}\n' >"$TMP/t38-daemon.json"
printf 'dockremap:100000:65536\nother:200000:65536\ndockremap:300000:65536\n' >"$TMP/t38-subuid"
cat >"$TMP/t38r.conf" <<CONF
endpoint remapd tcp 127.0.0.1:$PR
deny remapd from remapped
allow remapd from any
CONF
out=$(DOCKGUARD_DOCKER_DAEMON_JSON=$TMP/t38-daemon.json DOCKGUARD_SUBUID=$TMP/t38-subuid \
	DOCKGUARD_SUBGID=$TMP/t38-subuid dg load "$TMP/t38r.conf" 2>&1)
check "remapped: policy with two subordinate ranges loaded" test $? -eq 0
unshare --user sleep 600 >/dev/null 2>&1 &
RHOLDER=$!
PIDS+=("$RHOLDER")
for ((i = 0; i < 500; i++)); do
	[[ $(readlink "/proc/$RHOLDER/ns/user") != "$(readlink /proc/self/ns/user)" ]] && break
	sleep 0.01
done
# the maps Docker writes for a remap user with two ranges (one write each:
# the kernel takes a map whole or not at all)
RMAP=$'0 100000 65536\n65536 300000 65536\n'
if echo -n "$RMAP" >"/proc/$RHOLDER/uid_map" && echo -n "$RMAP" >"/proc/$RHOLDER/gid_map"; then
	in_remapped() {	# in_remapped UID: the probe as UID inside the remapped namespace
		in_cgroup "$CG/c" nsenter --user="/proc/$RHOLDER/ns/user" --setuid "$1" --setgid 0 \
			"$PROBE" connect tcp 127.0.0.1 "$PR" 2>&1 | head -n 1
	}
	assert_verdict "bypass: container uid 70000 (host 304464, the second range) under 'deny from remapped': EPERM" \
		EPERM "$(in_remapped 70000)"
	assert_verdict "bypass: container root (host 100000, the first range): EPERM" EPERM "$(in_remapped 0)"
	expect "control: host uid 250000 (another user's range) is not remapped: ok" ok \
		--cgroup "$CG/c" --uid 250000 connect tcp 127.0.0.1 "$PR"
else
	skip "remapped: could not write a two-range uid map: second range untested"
fi
kill "$RHOLDER" 2>/dev/null
