#!/bin/bash
# CLI tests that need no kernel: exit statuses, option placement, messages,
# the shipped policies. Ends with `cli: N passed, N failed`.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build=$root/$build
DG=$build/dockguard

PASS=0
FAIL=0
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# run WANT_STATUS NAME ARGS...: runs dockguard, keeps stdout/stderr in $out/$err
run() {
	local want=$1 name=$2
	shift 2
	out=$("$DG" "$@" 2>"$TMP/err")
	local status=$?
	err=$(<"$TMP/err")
	if ((status == want)); then
		PASS=$((PASS + 1))
		echo "ok   $name"
	else
		FAIL=$((FAIL + 1))
		echo "FAIL $name: exit $status, want $want"
		sed 's/^/     | /' "$TMP/err" | head -n 5
	fi
}

# has NAME TEXT PATTERN: passes when TEXT matches the extended regex
has() {
	if grep -Eq -- "$3" <<<"$2"; then
		PASS=$((PASS + 1))
		echo "ok   $1"
	else
		FAIL=$((FAIL + 1))
		echo "FAIL $1: no /$3/ in:"
		head -n 5 <<<"$2" | sed 's/^/     | /'
	fi
}

cat >"$TMP/good.conf" <<'CONF'
endpoint api {
    tcp 127.0.0.1:2375
    tcp [::1]:2375
}
endpoint sock unix /var/run/docker.sock
allow api from user root
audit sock from group root
CONF
printf 'endpoint api tcp 127.0.0.1:2375\nallow api from user no-such-user-x\nallow nope from any\nallow api frm x\n' >"$TMP/bad.conf"

run 0 "check a valid policy" check "$TMP/good.conf"
has "check prints FILE: ok (N endpoints, M rules)" "$out" "^$TMP/good.conf: ok \(2 endpoints, 2 rules\)$"
run 1 "check an invalid policy exits 1" check "$TMP/bad.conf"
has "error format FILE:LINE:COL: error:" "$err" "^$TMP/bad.conf:2:[0-9]+: error: unknown user 'no-such-user-x'"
has "every error is reported (line 3)" "$err" "^$TMP/bad.conf:3:[0-9]+: error: undefined endpoint 'nope'"
has "every error is reported (line 4)" "$err" "^$TMP/bad.conf:4:[0-9]+: error:"
has "a caret marks the offending text" "$err" '^ +\^~+'
run 0 "-c selects the policy" -c "$TMP/good.conf" check
run 0 "--config after the command" check --config "$TMP/good.conf"
run 0 "global option before the command" --bpffs "$TMP/nowhere" check "$TMP/good.conf"
run 0 "global option after the command" check "$TMP/good.conf" --bpffs "$TMP/nowhere"
run 1 "missing policy file exits 1" check "$TMP/missing.conf"
has "missing file: says what to check" "$err" "cannot read $TMP/missing.conf: No such file or directory; check the path"
run 2 "unknown command exits 2" frobnicate
has "unknown command named" "$err" "unknown command 'frobnicate'"
run 2 "unknown option exits 2" check --frob
run 2 "no command exits 2"
run 2 "too many arguments exits 2" check a b
run 2 "--json with check exits 2" check --json "$TMP/good.conf"
run 2 "explain without --to exits 2" explain -c "$TMP/good.conf"
run 2 "explain with a malformed destination exits 2" explain -c "$TMP/good.conf" --to tcp:nowhere
run 0 "--help exits 0" --help
has "help lists the commands" "$out" "explain --to DEST"
run 0 "version" version
has "version names libbpf and connect_unix" "$out" "libbpf [0-9]+\.[0-9]+"
has "version reports connect_unix" "$out" "connect_unix (yes|no)"
run 4 "status with nothing loaded exits 4" --bpffs "$TMP/bpffs/none" status
has "status says not loaded" "$out" "not loaded"
run 4 "status --json with nothing loaded" --bpffs "$TMP/bpffs/none" status --json
has "status --json: enforcing false" "$out" '"enforcing":false'
run 0 "unload with nothing loaded exits 0" --bpffs "$TMP/bpffs/none" unload

# explain on a file, no kernel needed
run 0 "explain: root allowed" explain -c "$TMP/good.conf" --to tcp:127.0.0.1:2375 --uid root --cgroup /
has "explain prints the verdict and FILE:LINE" "$out" "^rule: $TMP/good.conf:6$"
run 1 "explain: nobody denied by default" explain -c "$TMP/good.conf" --to 'tcp:[::1]:2375' --uid nobody --cgroup /
has "explain names the default" "$out" "^rule: default"
run 0 "explain: audit rule allows" explain -c "$TMP/good.conf" --to unix:/run/docker.sock --uid nobody --gid root --cgroup /
has "explain: unix judged by file name" "$out" "^allow unix:/run/docker.sock \(endpoint sock\)"

# the shipped policies
for f in "$root"/policies/*.conf "$root"/policies/examples/*.conf; do
	[[ -e $f ]] || continue
	run 0 "shipped policy $(basename "$f") is valid" check "$f"
done
run 1 "default policy: remapped container root denied" explain -c "$root/policies/default.conf" \
	--to tcp:127.0.0.1:2375 --uid 0 --cgroup /docker/0123456789ab
run 0 "default policy: host root allowed" explain -c "$root/policies/default.conf" \
	--to tcp:127.0.0.1:2375 --uid 0 --gid 0 --cgroup /user.slice
run 1 "default policy: a user is denied the TCP API" explain -c "$root/policies/default.conf" \
	--to tcp:127.0.0.1:2375 --uid 1000 --gid 1000 --cgroup /user.slice

echo "cli: $PASS passed, $FAIL failed"
((FAIL == 0))
