# Bypass catalog: `unit NAME` subjects and cgroups that a user controls.
# systemd delegates a user's subtree (user@UID.service) to that user, who may
# create cgroups with any name in it and move its own processes there. Such a
# cgroup named like a system unit must not be taken for that unit.
# The tree is modelled under the test cgroup: system.slice/UNIT (root's) and
# user.slice/user-1010.slice/user@1010.service (delegated to uid 1010).
source "$root/tests/tools/bypass-lib.sh"

B=$(catalog_port 28)
P=$B
RUNNING=dgsec-running-$$.service	# has its system cgroup at load
STOPPED=dgsec-stopped-$$.service	# does not run at load (not started yet, restarting)
DELEG=$CG/user.slice/user-1010.slice/user@1010.service
mkdir -p "$DELEG"
systemd_unit "$CG/system.slice/$RUNNING"
# what systemd does for Delegate=yes: the user owns the directory and its
# process and control files
chown 1010:1010 "$DELEG" "$DELEG/cgroup.procs" "$DELEG/cgroup.threads" "$DELEG/cgroup.subtree_control"

# as uid 1010: cgroups named like both units in its own subtree
in_cgroup "$DELEG" setpriv --reuid 1010 --regid 1010 --clear-groups \
	mkdir "$DELEG/$RUNNING" "$DELEG/$STOPPED"
made=$?
check "units: uid 1010 created cgroups named like system units in its delegated subtree" test $made -eq 0

# what `docker run --cgroup-parent /$RUNNING` makes: a root-owned directory
# named like the unit, shallower than systemd's, with the container in it
DOCKER_MADE=$CG/$RUNNING
CID=$(printf '%064x' $((RANDOM * 32768 + RANDOM + 7)))
mkdir -p "$DOCKER_MADE/$CID"

cat >"$TMP/t28.conf" <<CONF
endpoint api tcp 127.0.0.1:$P
allow api from unit $RUNNING
allow api from unit $STOPPED
CONF
start_listener listen tcp 127.0.0.1 "$P"
out=$(dg load "$TMP/t28.conf" 2>&1)
check "units: policy loaded" test $? -eq 0
check "units: no ptrace warning without a user in the rule" bash -c '! grep -q ptrace <<<"$1"' _ "$out"

# `unit X user U`: any process of uid U may ptrace X's processes of uid U
# unless Yama's ptrace_scope is 1 or more; load says so where it is not
cat >"$TMP/t28-ptrace.conf" <<CONF
endpoint api tcp 127.0.0.1:$P
allow api from unit $RUNNING user 1010
CONF
out=$(dg load "$TMP/t28-ptrace.conf" 2>&1)
scope=$(cat /proc/sys/kernel/yama/ptrace_scope 2>/dev/null || echo none)
if [[ $scope == none || $scope == 0 ]]; then
	check "units: load warns that uid 1010 may ptrace the unit's processes (ptrace_scope $scope)" \
		grep -q "t28-ptrace.conf:2: this rule names a user and a unit or cgroup, but .*ptrace the unit's processes" <<<"$out"
else
	check "units: no ptrace warning where Yama's ptrace_scope is $scope" bash -c '! grep -q ptrace <<<"$1"' _ "$out"
fi
dg load "$TMP/t28.conf" >/dev/null 2>&1

# as_user_in CGROUP: uid 1010 moves itself from its subtree's root into
# CGROUP (as a user may, in its delegated subtree) and connects
as_user_in() {
	in_cgroup "$DELEG" setpriv --reuid 1010 --regid 1010 --clear-groups \
		bash -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$1" \
		"$PROBE" connect tcp 127.0.0.1 "$P" 2>&1 | head -n 1
}
expect "control: uid 1010 in the running unit's system cgroup: ok" ok \
	--cgroup "$CG/system.slice/$RUNNING" --uid 1010 connect tcp 127.0.0.1 "$P"
assert_verdict "control: uid 1010 in its delegated subtree: EPERM" EPERM "$(as_user_in "$DELEG")"
assert_verdict "bypass: uid 1010 in its own cgroup named like a running unit: EPERM" EPERM \
	"$(as_user_in "$DELEG/$RUNNING")"
assert_verdict "bypass: uid 1010 in its own cgroup named like a unit that was not running at load: EPERM" EPERM \
	"$(as_user_in "$DELEG/$STOPPED")"
expect "bypass: a directory named like the unit that dockerd made (--cgroup-parent), shallower than systemd's: EPERM" EPERM \
	--cgroup "$DOCKER_MADE" --uid 1010 connect tcp 127.0.0.1 "$P"
expect "bypass: the container in it: EPERM" EPERM \
	--cgroup "$DOCKER_MADE/$CID" --uid 1010 connect tcp 127.0.0.1 "$P"
