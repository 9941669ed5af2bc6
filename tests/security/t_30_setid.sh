# Bypass catalog: setuid and setgid programs. The real and effective ids
# differ; the effective ones decide (docs/design.md, identity). A copy of the
# probe, setuid or setgid, is run by another uid through setpriv.
source "$root/tests/tools/bypass-lib.sh"

B=$(catalog_port 30)
P=$B
SX=$TMP/u30
mkdir -p "$CG/c" "$SX"
chmod 755 "$SX"

cat >"$TMP/t30.conf" <<CONF
endpoint api {
    tcp 127.0.0.1:$P
    tcp [::1]:$P
}
allow api from user 1001
allow api from group 4242
CONF
start_listener listen tcp 127.0.0.1 "$P"
out=$(dg load "$TMP/t30.conf" 2>&1)
check "setid: policy loaded" test $? -eq 0

opts=$(findmnt -no OPTIONS -T "$SX" 2>/dev/null)
if [[ ,$opts, == *,nosuid,* ]]; then
	skip "setid: $SX is on a nosuid file system ($opts): setuid/setgid programs untested"
else
	# setid_copy NAME OWNER GROUP MODE: a copy of the probe
	setid_copy() {
		cp "$PROBE" "$SX/$1"
		chown "$2:$3" "$SX/$1"
		chmod "$4" "$SX/$1"
	}
	setid_copy suid-allowed 1001 0 4755
	setid_copy suid-denied 1002 0 4755
	setid_copy sgid-allowed 0 4242 2755
	setid_copy sgid-denied 0 4343 2755
	setid_copy plain 0 0 0755
	# run_as UID GID PROGRAM: PROGRAM connects as UID:GID with no groups
	run_as() {
		in_cgroup "$CG/c" setpriv --reuid "$1" --regid "$2" --clear-groups \
			"$SX/$3" connect tcp 127.0.0.1 "$P" 2>&1 | head -n 1
	}
	assert_verdict "control: uid 1002 runs a plain program: EPERM" EPERM "$(run_as 1002 1002 plain)"
	assert_verdict "control: uid 1001 runs a plain program: ok" ok "$(run_as 1001 1001 plain)"
	assert_verdict "setid: uid 1002 runs a program setuid to allowed uid 1001 (effective uid decides): ok" ok \
		"$(run_as 1002 1002 suid-allowed)"
	assert_verdict "bypass: uid 1001 runs a program setuid to denied uid 1002 (real uid allowed): EPERM" EPERM \
		"$(run_as 1001 1001 suid-denied)"
	assert_verdict "setid: uid 1002 runs a program setgid to allowed group 4242 (effective gid decides): ok" ok \
		"$(run_as 1002 1002 sgid-allowed)"
	assert_verdict "bypass: uid 1002, real gid 4242 (allowed), runs a program setgid to 4343: EPERM" EPERM \
		"$(run_as 1002 4242 sgid-denied)"
fi
