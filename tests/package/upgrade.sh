#!/bin/bash
# The package's life on a host that enforces: install the previous release,
# upgrade to this one (another map layout: its pins must be taken over),
# remove, purge — in a throwaway root while clients connect in a loop.
#
#   tests/package/upgrade.sh [BUILD_DIR]        (make package-test)
#
# The throwaway root is an overlay of this machine's / with a tmpfs on top,
# in a private mount and network namespace: dpkg installs into the overlay,
# /sys/fs/bpf there is a bpffs of its own (the package's default pin
# directory, /sys/fs/bpf/dockguard, is private to the test) and the daemon
# attaches to a test cgroup, never the root. No systemd runs here: the test
# does what the unit would (start `dockguard run`, restart it after the
# upgrade as dh_installsystemd's postinst asks, stop it at remove).
#
# Packages: BUILD_DIR/deb/dockguard_VERSION_amd64.deb (make deb) is the new
# one; the previous release is built from git: the parent of the commit
# that last changed VERSION (PACKAGE_OLD_REV overrides), into BUILD_DIR/deb-old.
#
# Asserted: zero wrong verdicts from install to remove (A, allowed, never
# refused; B, denied, never let through: a connect judged by nobody would
# be let through), the upgrade took the old build's pins over, every
# enforcement survived `remove`, and `purge` ended it.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build=$root/$build

if [[ ${DG_IN_NS:-} != 1 ]]; then
	if ((EUID != 0)); then
		echo "package: needs root (dpkg in a throwaway root, BPF, cgroups): skipped"
		echo "package: 0 passed, 0 failed"
		exit 0
	fi
	version=$(cat "$root/VERSION")
	new_deb=$build/deb/dockguard_${version}_amd64.deb
	if [[ ! -f $new_deb ]]; then
		echo "package: $new_deb is missing: run \`make deb\` first" >&2
		echo "package: 0 passed, 1 failed"
		exit 1
	fi
	old_rev=${PACKAGE_OLD_REV:-$(git -C "$root" rev-list -1 HEAD -- VERSION)^}
	old_dir=$build/deb-old
	old_version=$(git -C "$root" show "$old_rev:VERSION" 2>/dev/null)
	old_deb=$old_dir/src/build/deb/dockguard_${old_version}_amd64.deb
	if [[ -z $old_version ]]; then
		echo "package: cannot read VERSION at $old_rev: is this a git clone with history?" >&2
		echo "package: 0 passed, 1 failed"
		exit 1
	fi
	if [[ ! -f $old_deb || $(cat "$old_dir/rev" 2>/dev/null) != "$(git -C "$root" rev-parse "$old_rev")" ]]; then
		echo "package: building the previous release $old_version ($old_rev) in $old_dir"
		rm -rf "$old_dir" && mkdir -p "$old_dir/src"
		git -C "$root" archive "$old_rev" | tar -C "$old_dir/src" -x
		# `make deb` packs what git tracks: a repository of its own
		git -C "$old_dir/src" init -q && git -C "$old_dir/src" add -A
		# lintian's verdict is the old release's business: only the .deb counts
		(cd "$old_dir/src" && make deb >"$old_dir/build.log" 2>&1)
		if [[ ! -f $old_deb ]]; then
			echo "package: the previous release did not build: see $old_dir/build.log" >&2
			echo "package: 0 passed, 1 failed"
			exit 1
		fi
		git -C "$root" rev-parse "$old_rev" >"$old_dir/rev"
	fi
	# Everything the test mounts lives in its own mount namespace and goes
	# with it; here $W stays an empty directory (never removed recursively:
	# inside, it holds bind mounts of /dev and /sys)
	W=$(mktemp -d /tmp/dg-package.XXXXXX)
	DG_IN_NS=1 W=$W OLD_DEB=$old_deb NEW_DEB=$new_deb OLD_VERSION=$old_version \
		NEW_VERSION=$version unshare --mount --net --propagation private "$0" "$@"
	rc=$?
	rmdir "$W" 2>/dev/null || echo "package: $W is not empty: left as it is" >&2
	exit $rc
fi

PASS=0
FAIL=0
pass() { PASS=$((PASS + 1)); echo "ok   $*"; }
fail() { FAIL=$((FAIL + 1)); echo "FAIL $*"; }
check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}

[[ -n ${W:-} && -d $W ]] || { echo "package: no work directory" >&2; exit 1; }
HAMMER=$build/dg-hammer
PROBE=$build/dg-probe
cgroot=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
CG=$cgroot/dockguard-test.package$$
R=$W/root
PORT=23951
DPIDS=()
PIDS=()

cleanup() {
	local pid
	touch "$W/stop"
	for pid in "${DPIDS[@]}" "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
	for pid in "${DPIDS[@]}" "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
	# the pins live in this namespace's bpffs: unpinned, the hooks go
	[[ -x $R/usr/sbin/dockguard ]] && chroot "$R" /usr/sbin/dockguard unload >/dev/null 2>&1
	rmdir "$CG/a" "$CG/b" "$CG" 2>/dev/null
	# the mounts (the overlay, its tmpfs, the bpffs) end with the namespace
}
trap cleanup EXIT

# ---- the throwaway root -----------------------------------------------------
mount -t tmpfs -o size=512m tmpfs "$W"
mkdir -p "$W/upper" "$W/work" "$R"
if ! mount -t overlay overlay -o "lowerdir=/,upperdir=$W/upper,workdir=$W/work" "$R"; then
	echo "package: cannot make an overlay of / (overlayfs missing?)" >&2
	echo "package: 0 passed, 1 failed"
	exit 1
fi
mount -t proc proc "$R/proc"
mount --rbind /dev "$R/dev"
mount --rbind /sys "$R/sys"
mount -t bpf bpf "$R/sys/fs/bpf"	# the package's pin directory, private
mount -t tmpfs tmpfs "$R/run"		# no /run/systemd/system: no systemd here
mount -t tmpfs tmpfs "$R/tmp"
mkdir -p "$CG/a" "$CG/b"
cp "$OLD_DEB" "$NEW_DEB" "$R/tmp/"
ip link set lo up

cat >"$R/tmp/test.conf" <<CONF
endpoint api tcp 127.0.0.1:$PORT
set default deny
allow api from user 1001
CONF

in_root() { chroot "$R" "$@"; }
# start_daemon LOG: `dockguard run` from the installed package, as the unit
# starts it (here on the test cgroup and policy)
start_daemon() {
	in_root /usr/sbin/dockguard --cgroup "$CG" run /tmp/test.conf >>"$W/$1" 2>&1 &
	DPID=$!
	DPIDS+=("$DPID")
}
stop_daemon() {
	kill -TERM "$DPID" 2>/dev/null
	wait "$DPID" 2>/dev/null
}
wait_for() {	# wait_for FILE PATTERN: up to 20 s
	for _ in $(seq 200); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

"$HAMMER" listen tcp 127.0.0.1 "$PORT" >"$W/listener.out" 2>&1 &
PIDS+=($!)
wait_for "$W/listener.out" listening

# ---- install the previous release and run it --------------------------------
out=$(in_root dpkg -i "/tmp/$(basename "$OLD_DEB")" 2>&1)
check "install $OLD_VERSION: dpkg -i exits 0" test $? -eq 0 ||
	sed 's/^/    /' <<<"$out" | tail -n 5
check "install $OLD_VERSION: the binary is the old release's" \
	bash -c "chroot '$R' /usr/sbin/dockguard version | grep -qF '$OLD_VERSION'"
start_daemon daemon-old.log
check "$OLD_VERSION daemon enforces" wait_for "$W/daemon-old.log" "loaded"
"$PROBE" --cgroup "$CG/b" --uid 1002 connect tcp 127.0.0.1 "$PORT" >"$W/probe.out" 2>&1
check "$OLD_VERSION: B denied before the upgrade" grep -qx EPERM "$W/probe.out"

# ---- clients in a loop from here to the removal -----------------------------
"$HAMMER" --stop "$W/stop" --cgroup "$CG/a" --uid 1001 connect tcp 127.0.0.1 "$PORT" >"$W/a.out" 2>&1 &
PIDS+=($!)
HA=$!
"$HAMMER" --stop "$W/stop" --cgroup "$CG/b" --uid 1002 connect tcp 127.0.0.1 "$PORT" >"$W/b.out" 2>&1 &
PIDS+=($!)
HB=$!
wait_for "$W/a.out" running && wait_for "$W/b.out" running
sleep 1

# ---- upgrade: dpkg replaces the binary, then the unit restarts -------------
t0=$EPOCHREALTIME
out=$(in_root dpkg -i "/tmp/$(basename "$NEW_DEB")" 2>&1)
check "upgrade to $NEW_VERSION: dpkg -i exits 0" test $? -eq 0 ||
	sed 's/^/    /' <<<"$out" | tail -n 5
check "upgrade: the binary is the new release's" \
	bash -c "chroot '$R' /usr/sbin/dockguard version | grep -qF '$NEW_VERSION'"
stop_daemon
start_daemon daemon-new.log
check "$NEW_VERSION daemon enforces" wait_for "$W/daemon-new.log" "loaded"
t1=$EPOCHREALTIME
check "upgrade: the new daemon took the old build's pins over link by link" \
	grep -q "^programs: moved from another dockguard build's" "$W/daemon-new.log"
echo "    upgrade (dpkg -i, daemon restart, take-over): $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"
grep -E "^programs:|generation" "$W/daemon-new.log" | sed 's/^/    /' | head -n 3
sleep 1

# ---- remove: the daemon stops, enforcement stays ----------------------------
out=$(in_root dpkg -r dockguard 2>&1)
check "remove: dpkg -r exits 0" test $? -eq 0 || sed 's/^/    /' <<<"$out" | tail -n 5
stop_daemon	# what systemd does at remove
sleep 1
touch "$W/stop"
wait "$HA" "$HB"
a_line=$(grep '^ok ' "$W/a.out")
b_line=$(grep '^ok ' "$W/b.out")
echo "    install to remove: A $a_line; B $b_line"
read -r _ a_ok _ a_eperm _ a_other <<<"$a_line"
read -r _ b_ok _ b_eperm _ b_other <<<"$b_line"
check "install to remove: A (allowed) never refused: ${a_ok:-?} ok, ${a_eperm:-?} EPERM, ${a_other:-?} other" \
	test "${a_ok:-0}" -gt 0 -a "${a_eperm:-1}" -eq 0 -a "${a_other:-1}" -eq 0
check "install to remove: B (denied) never let through, no connect judged by nobody: ${b_eperm:-?} EPERM, ${b_ok:-?} ok, ${b_other:-?} other" \
	test "${b_eperm:-0}" -gt 0 -a "${b_ok:-1}" -eq 0 -a "${b_other:-1}" -eq 0
"$PROBE" --cgroup "$CG/b" --uid 1002 connect tcp 127.0.0.1 "$PORT" >"$W/probe.out" 2>&1
check "after remove (no daemon, package gone): B still denied" grep -qx EPERM "$W/probe.out"

# ---- purge: enforcement ends ------------------------------------------------
out=$(in_root dpkg -P dockguard 2>&1)
check "purge: dpkg -P exits 0" test $? -eq 0 || sed 's/^/    /' <<<"$out" | tail -n 5
check "purge: the pins are gone" test ! -e "$R/sys/fs/bpf/dockguard"
"$PROBE" --cgroup "$CG/b" --uid 1002 connect tcp 127.0.0.1 "$PORT" >"$W/probe.out" 2>&1
check "after purge: B connects (nothing judges any more: $(cat "$W/probe.out"))" grep -qx ok "$W/probe.out"
check "after purge: no program left on the test cgroup" \
	bash -c "[[ -z \$(bpftool cgroup show '$CG' 2>/dev/null | tail -n +2) ]]"

echo "package: $PASS passed, $FAIL failed"
((FAIL == 0))
