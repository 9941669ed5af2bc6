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
run 2 "--host with load exits 2" load --host "$TMP/good.conf"
has "--host misplaced: says where it goes" "$err" "--host goes with check, not 'load'"
run 1 "check --host with an invalid policy exits 1" check --host "$TMP/bad.conf"
has "help lists check --host" "$("$DG" --help)" "check \[FILE\] \[--host \[--json\]\]"
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
run 0 "explain: root allowed" explain -c "$TMP/good.conf" --to tcp:127.0.0.1:2375 --uid root --subject-cgroup /
has "explain prints the verdict and FILE:LINE" "$out" "^rule: $TMP/good.conf:6$"
run 1 "explain: nobody denied by default" explain -c "$TMP/good.conf" --to 'tcp:[::1]:2375' --uid nobody --subject-cgroup /
has "explain names the default" "$out" "^rule: default"
run 0 "explain: audit rule allows" explain -c "$TMP/good.conf" --to unix:/run/docker.sock --uid nobody --gid root --subject-cgroup /
has "explain: unix judged by file name" "$out" "^allow unix:/run/docker.sock \(endpoint sock\)"
# a destination no endpoint covers (a typo?) is no verdict: exit 5 and the endpoints
run 5 "explain: a destination no endpoint covers exits 5" explain -c "$TMP/good.conf" --to tcp:127.0.0.1:2376 --uid root --subject-cgroup /
has "explain: ... and lists the policy's endpoints" "$out" \
	"^allow tcp:127.0.0.1:2376: not a protected endpoint; the policy's endpoints: api \(tcp:127.0.0.1:2375, tcp:\[::1\]:2375\), sock \(unix:/var/run/docker.sock\)$"

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

# ---- hostile policy files ----------------------------------------------------
# The parser and the compiler refuse every one with FILE:LINE:COL and exit 1:
# never a crash (a signal, or a sanitizer report in the ASan build, whose
# exit status is also 1), never a hang (20 s each). The documented limits are
# in dockguard.conf(5), LIMITS; the unit tests check them one by one, these
# check the whole program on files nobody would write.
H=$TMP/hostile
mkdir -p "$H/inc" "$H/fan" "$H/deep"

# hostile WANT-STATUS NAME FILE [ERROR-REGEX]: `check FILE` within 20 s
hostile() {
	local want=$1 name=$2 file=$3 re=${4:-} status
	timeout 20 "$DG" check "$file" >/dev/null 2>"$TMP/err"
	status=$?
	err=$(head -c 200000 "$TMP/err")
	local why=""
	if ((status == 124)); then
		why="no answer within 20 s"
	elif ((status > 128)); then
		why="killed by signal $((status - 128))"
	elif grep -qE 'Sanitizer|runtime error:' "$TMP/err"; then
		why="a sanitizer report"
	elif ((status != want)); then
		why="exit $status, want $want"
	elif [[ -n $re ]] && ! grep -Eq -- "$re" <<<"$err"; then
		why="no /$re/ in the errors"
	fi
	if [[ -z $why ]]; then
		PASS=$((PASS + 1))
		echo "ok   hostile: $name"
	else
		FAIL=$((FAIL + 1))
		echo "FAIL hostile: $name: $why"
		head -n 4 "$TMP/err" | cut -c 1-200 | sed 's/^/     | /'
	fi
}

# random bytes: the program's own first MiB (NULs, control bytes, no newline
# for long stretches), and seeded noise when python3 is there
head -c 1048576 "$DG" >"$H/elf.conf"
hostile 1 "an ELF binary as a policy" "$H/elf.conf" "^$H/elf.conf:1:[0-9]+: error: "
if command -v python3 >/dev/null; then
	python3 -c "import random, sys; random.seed(5); sys.stdout.buffer.write(bytes(random.getrandbits(8) for _ in range(1 << 18)))" >"$H/random.conf"
	hostile 1 "256 KiB of random bytes" "$H/random.conf" "^$H/random.conf:[0-9]+:[0-9]+: error: "
	python3 - "$H/tokens.conf" <<'PY'
import random, sys
random.seed(6)
toks = ['endpoint', 'allow', 'deny', 'audit', 'listen', '{', '}', ',', 'from', 'user', 'group',
        'cgroup', 'unit', 'container', 'name', 'label', 'include', 'set', 'default', 'log-rate',
        '"', '#', '\n', 'tcp', 'unix', '127.0.0.1:1', '[::1]:2', '*:3', '/a', '/a/../b', '*',
        'any', 'log', 'quiet', 'e', '1-2', '99999999999', '\\', 'remapped', '=']
out = ['endpoint e tcp 127.0.0.1:1\n']
size = 0
while size < 1000000:
    out.append(random.choice(toks) + random.choice(' \n'))
    size += len(out[-1])
open(sys.argv[1], 'w').write(''.join(out))
PY
	hostile 1 "1 MB of random policy words" "$H/tokens.conf" "^$H/tokens.conf:[0-9]+:[0-9]+: error: "
else
	echo "skip hostile: random bytes and words: python3 is not installed"
fi

printf 'endpoint e tcp 127.0.0.1:1\nallow e from user r\0ot\n\0\n' >"$H/nul.conf"
hostile 1 "NUL bytes" "$H/nul.conf" "^$H/nul.conf:2:20: error: NUL byte"
has "hostile: every NUL byte is reported (line 3)" "$err" "^$H/nul.conf:3:1: error: NUL byte"

{ echo 'endpoint e tcp 127.0.0.1:1'; head -c 100000 /dev/zero | tr '\0' a; echo; echo 'allow e'; } >"$H/long.conf"
hostile 1 "a 100000-byte line" "$H/long.conf" \
	"^$H/long.conf:2:1: error: line is 100000 bytes long, more than the limit of 4096 bytes"

printf 'endpoint e tcp 127.0.0.1:1\nallow %s e %s\n' "$(printf '{%.0s' {1..40})" "$(printf '}%.0s' {1..40})" >"$H/nest.conf"
hostile 1 "braces nested 40 deep in a line" "$H/nest.conf" \
	"^$H/nest.conf:2:15: error: braces nested deeper than 8 levels"
{ printf 'endpoint e tcp 127.0.0.1:1\nallow {\n'; yes '{' | head -n 400000; } >"$H/deep.conf"
hostile 1 "400000 open braces, one a line" "$H/deep.conf" "^$H/deep.conf:3:1: error: "

cat >"$H/numbers.conf" <<'CONF'
endpoint e tcp 127.0.0.1:1
allow e from user 4294967296
allow e from user 99999999999999999999999999
allow e from user 10-5
allow e from group 4294967295
endpoint f tcp 127.0.0.1:65536
endpoint g tcp 127.0.0.1:0
endpoint h tcp 256.0.0.1:1
endpoint i tcp 127.0.0.1:99999999999999999999
set log-rate 0/s
set log-rate 1000001/s
set log-rate 18446744073709551616/s
endpoint j tcp [::1]:-1
endpoint k tcp [1:2:3:4:5:6:7:8:9]:1
CONF
hostile 1 "numbers out of range: uid 2^32" "$H/numbers.conf" "^$H/numbers.conf:2:19: error: uid 4294967296 is out of range"
has "hostile: uid of 26 digits" "$err" "^$H/numbers.conf:3:19: error: uid 9+ is out of range"
has "hostile: reversed uid range" "$err" "^$H/numbers.conf:4:19: error: uid range 10-5 is reversed"
has "hostile: gid 2^32-1 (the kernel's invalid id)" "$err" "^$H/numbers.conf:5:20: error: gid 4294967295 is out of range"
has "hostile: port 65536" "$err" "^$H/numbers.conf:6:26: error: port 65536 is out of range"
has "hostile: port 0" "$err" "^$H/numbers.conf:7:26: error: port 0 is out of range"
has "hostile: IPv4 octet 256" "$err" "^$H/numbers.conf:8:16: error: '256.0.0.1' is not an IPv4 address"
has "hostile: port of 20 digits" "$err" "^$H/numbers.conf:9:26: error: port 9+ is out of range"
has "hostile: log rate 0" "$err" "^$H/numbers.conf:10:14: error: log rate 0/s is out of range"
has "hostile: log rate over 10^6" "$err" "^$H/numbers.conf:11:14: error: log rate 1000001/s is out of range"
has "hostile: log rate 2^64" "$err" "^$H/numbers.conf:12:14: error: log rate 18446744073709551616/s is out of range"
has "hostile: port -1" "$err" "^$H/numbers.conf:13:22: error: '-1' is not a port number"
has "hostile: IPv6 of 9 groups" "$err" "^$H/numbers.conf:14:17: error: '1:2:3:4:5:6:7:8:9' is not an IPv6 address"

printf 'endpoint e tcp 127.0.0.1:1\ninclude b.conf\n' >"$H/inc/a.conf"
printf '\ninclude a.conf\n' >"$H/inc/b.conf"
hostile 1 "include loop a -> b -> a" "$H/inc/a.conf" "^$H/inc/b.conf:2:9: error: include loop: "
# fan-out: every level includes the next 16 times, 8 levels (16^8 if counted
# naively): the 256-file budget ends it
for i in $(seq 0 7); do
	for _ in $(seq 16); do echo "include l$((i + 1)).conf"; done >"$H/fan/l$i.conf"
done
echo 'endpoint e tcp 127.0.0.1:1' >"$H/fan/l8.conf"
hostile 1 "include fan-out 16 x 8 levels" "$H/fan/l0.conf" \
	"^$H/fan/l[0-9].conf:[0-9]+:9: error: more than 256 policy files in all"
for i in $(seq 0 19); do echo "include d$((i + 1)).conf" >"$H/deep/d$i.conf"; done
: >"$H/deep/d20.conf"
hostile 1 "includes 20 deep" "$H/deep/d0.conf" "^$H/deep/d8.conf:1:9: error: includes nested more than 8 deep"

# huge files: the 1 MiB limit, for the file itself and for an include, and
# files without an end
# 13107 lines of 80 bytes and one of 16: 1048576 bytes
{ for _ in $(seq 13107); do printf '# %077d\n' 0; done; printf '# %013d\n' 0; } >"$H/mib.conf"
check_size=$(stat -c %s "$H/mib.conf")
hostile 0 "exactly 1 MiB of comments ($check_size bytes) is fine" "$H/mib.conf"
{ cat "$H/mib.conf"; echo; } >"$H/huge.conf"
hostile 1 "1 MiB + 1 byte" "$H/huge.conf" "error: $H/huge.conf is larger than the limit of 1048576 bytes"
printf 'endpoint e tcp 127.0.0.1:1\ninclude huge.conf\n' >"$H/inchuge.conf"
hostile 1 "an include of 1 MiB + 1 byte" "$H/inchuge.conf" \
	"^$H/inchuge.conf:2:9: error: include file '$H/huge.conf' is larger than the limit of 1048576 bytes"
# all files together: at most 4 MiB (255 includes of 1 MiB each would be
# 255 MiB in memory); the include that goes past it is the error
for i in 1 2 3 4 5; do cp "$H/mib.conf" "$H/part$i.conf"; done
printf 'endpoint e tcp 127.0.0.1:1
allow e from any
include part1.conf
include part2.conf
include part3.conf
include part4.conf
include part5.conf
' >"$H/parts.conf"
hostile 1 "five includes of 1 MiB: past the 4 MiB for all files together" "$H/parts.conf" \
	"^$H/parts.conf:6:9: error: including '$H/part4.conf' would make the policy files together larger than the limit of 4194304 bytes"
rm -f "$H"/part?.conf
hostile 1 "/dev/zero as the policy" /dev/zero "error: /dev/zero is not a regular file"
printf 'include /dev/zero\n' >"$H/inczero.conf"
hostile 1 "an include of /dev/zero" "$H/inczero.conf" "^$H/inczero.conf:1:9: error: include file '/dev/zero' is not a regular file"
# a FIFO nobody writes to: opening it must not wait for a writer
mkfifo "$H/fifo"
printf 'include fifo\n' >"$H/incfifo.conf"
hostile 1 "an include of a FIFO" "$H/incfifo.conf" "^$H/incfifo.conf:1:9: error: include file '.*fifo' is not a regular file"
hostile 1 "a FIFO as the policy" "$H/fifo" "error: .*fifo is not a regular file"
yes 'x' | head -c 1048576 >"$H/errors.conf"
hostile 1 "524288 bad lines: the first errors, then a count" "$H/errors.conf" "^$H/errors.conf:1:1: error: "
has "hostile: the rest are counted, not printed" "$err" "note: [0-9]+ more messages not shown"
check_size=$(stat -c %s "$TMP/err")
if ((check_size < 1048576)); then
	PASS=$((PASS + 1)); echo "ok   hostile: errors printed for 524288 bad lines: $check_size bytes"
else
	FAIL=$((FAIL + 1)); echo "FAIL hostile: errors printed for 524288 bad lines: $check_size bytes (unbounded?)"
fi

# the compiler's limits: 200 endpoints of 64 addresses parse, but do not fit
# the kernel tables
for e in $(seq 0 199); do
	echo "endpoint e$e {"
	for a in $(seq 0 63); do echo "    tcp 10.$e.$a.1:$((1000 + a))"; done
	echo "}"
done >"$H/dests.conf"
echo "allow any" >>"$H/dests.conf"
hostile 1 "12800 TCP destinations" "$H/dests.conf" \
	"^$H/dests.conf:1:10: error: too many endpoint addresses: 12800 TCP destinations"

# Trust: only files that root alone can change are policy, as sudo reads
# sudoers; a file or a directory above it that someone else may write is
# refused with FILE: error: and the fix.
TR=$TMP/trust
mkdir -p "$TR/conf.d"
chmod 755 "$TR" "$TR/conf.d"
printf 'endpoint docker-api tcp 127.0.0.1:2375\nallow docker-api from user root\ninclude "conf.d/*.conf"\n' >"$TR/main.conf"
run 0 "trust: a policy of root's with root's include directory" check "$TR/main.conf"
# the review's case: a world-writable conf.d, where uid 1000 adds a rule
chmod 777 "$TR/conf.d"
printf 'allow docker-api from user 1000\n' >"$TR/conf.d/evil.conf"
chown 1000 "$TR/conf.d/evil.conf"
run 1 "trust: a world-writable include directory (uid 1000 added a rule) is refused" check "$TR/main.conf"
has "trust: DIR: error: names the directory, its mode and the fix" "$err" \
	"^$TR/conf.d: error: directory $TR/conf.d is writable by others \(mode 0777\); .*: chmod go-w $TR/conf.d$"
chmod 755 "$TR/conf.d"
run 1 "trust: a file of uid 1000 in root's directory is refused" check "$TR/main.conf"
has "trust: FILE: error: names the owner and the fix" "$err" \
	"^$TR/conf.d/evil.conf: error: policy file $TR/conf.d/evil.conf is owned by uid 1000, not root; .*: chown root $TR/conf.d/evil.conf$"
rm "$TR/conf.d/evil.conf"
# a symbolic link in a writable directory picks which root file is read
chmod 777 "$TR/conf.d"
run 1 "trust: a world-writable include directory is refused even with no file in it" check "$TR/main.conf"
chmod 775 "$TR/conf.d"
run 1 "trust: a group-writable include directory is refused" check "$TR/main.conf"
chmod 755 "$TR/conf.d"
chmod 664 "$TR/main.conf"
run 1 "trust: a group-writable policy file is refused" check "$TR/main.conf"
has "trust: FILE: error: for the policy file itself" "$err" \
	"^$TR/main.conf: error: policy file $TR/main.conf is writable by its group \(mode 0664\)"
run 1 "trust: load refuses it too, before touching the kernel" --bpffs "$TMP/no-bpffs" load "$TR/main.conf"
has "trust: load says why" "$err" "writable by its group"
chmod 644 "$TR/main.conf"
ln -s "$TR/main.conf" "$TMP/link.conf"
run 0 "trust: a symbolic link is judged by the file it leads to" check "$TMP/link.conf"

# explain reads the policy again: its warnings are for check and load, and
# for explain --verbose
printf 'endpoint api tcp 127.0.0.1:2375\nendpoint unused tcp 127.0.0.1:2376\nallow api from user root\n' >"$TMP/warn.conf"
run 0 "explain: allowed" explain -c "$TMP/warn.conf" --to tcp:127.0.0.1:2375 --uid 0 --subject-cgroup /
has "explain: says nothing of the policy's warnings" "$(grep -c 'warning:' <<<"$err")" '^0$'
run 0 "explain --verbose: allowed" explain -c "$TMP/warn.conf" --to tcp:127.0.0.1:2375 --uid 0 --subject-cgroup / --verbose
has "explain --verbose: the policy's warnings too" "$err" "warning: no rule names endpoint 'unused'"
run 0 "check: the warning" check "$TMP/warn.conf"
has "check: shows the policy's warnings" "$err" "warning: no rule names endpoint 'unused'"
run 2 "--verbose goes with check and explain only" load --verbose "$TMP/warn.conf"

# --cgroup is load's attach point; explain names the subject's with
# --subject-cgroup, and takes --cgroup as before, saying so
run 0 "explain: the old --cgroup still names the subject" explain -c "$TMP/good.conf" --to tcp:127.0.0.1:2375 --uid root --cgroup /
has "explain: ... with a warning" "$err" "warning: explain takes --cgroup / as the subject's cgroup .*--subject-cgroup"
run 1 "explain: --cgroup twice (a wrapper's attach point, then the subject): the last one" \
	explain -c "$TMP/good.conf" --to 'tcp:[::1]:2375' --uid nobody --cgroup /sys/fs/cgroup --cgroup /
has "explain: ... and a warning that says which" "$err" "warning: --cgroup given 2 times: explain takes the last, /, as the subject's cgroup"
run 0 "explain --subject-cgroup: no warning" explain -c "$TMP/good.conf" --to tcp:127.0.0.1:2375 --uid root --subject-cgroup /
has "explain --subject-cgroup: ... none" "$(grep -c 'warning' <<<"$err")" '^0$'
run 2 "--subject-cgroup goes with explain only" check --subject-cgroup / "$TMP/good.conf"

# the shipped policy reads its drop-ins before its own rules: a drop-in can
# lift a shipped deny (the policy as shipped, its conf.d moved to a temp dir)
DROP=$TMP/dropins
mkdir -p "$DROP/conf.d"
chmod 755 "$DROP" "$DROP/conf.d"
sed "s|/etc/dockguard/conf.d/|$DROP/conf.d/|" "$root/policies/default.conf" >"$DROP/default.conf"
run 1 "drop-ins: without one, the shipped policy denies a container cgroup" \
	explain -c "$DROP/default.conf" --to tcp:127.0.0.1:2375 --uid 0 --subject-cgroup /docker/abc
printf 'allow docker-api from cgroup /docker/abc\n' >"$DROP/conf.d/10-abc.conf"
run 0 "drop-ins: a drop-in allow lifts the shipped deny" \
	explain -c "$DROP/default.conf" --to tcp:127.0.0.1:2375 --uid 0 --subject-cgroup /docker/abc
has "drop-ins: the deciding rule is the drop-in's" "$out" "^rule: $DROP/conf.d/10-abc.conf:1$"

# what host-dependent subjects stand for, with check --verbose only
printf 'endpoint api tcp 127.0.0.1:2375\nallow api from unit nginx.service user 33\nallow api from container name traefik*\n' >"$TMP/res.conf"
run 0 "check --verbose: ok" check --verbose "$TMP/res.conf"
has "check --verbose: the unit's cgroup" "$err" "res.conf:2:21: note: unit nginx.service is the cgroup /.*nginx.service"
has "check --verbose: the containers a container subject matches" "$err" "res.conf:3:.*note: container name traefik\* matches ([0-9]+ containers?|nothing: the Docker API gave no container list)"
run 0 "check without --verbose" check "$TMP/res.conf"
has "check without --verbose: no notes" "$(grep -c 'note:' <<<"$err")" '^0$'

run 0 "explain --help: exit 0" explain --help
has "explain --help: the command's own usage, options and exit statuses" "$out" "^usage: dockguard explain --to DEST"
has "explain --help: its exit statuses" "$out" "^exit: 0 allow, 1 deny"

# --help, dockguard(8) and the README list the same commands and options
sync=$(python3 "$here/docs_sync.py" "$DG" "$root" 2>&1)
if (($? == 0)); then
	PASS=$((PASS + 1))
	echo "ok   docs: --help, dockguard(8) and README agree ($sync)"
else
	FAIL=$((FAIL + 1))
	echo "FAIL docs: --help, dockguard(8) and README differ:"
	sed 's/^/     | /' <<<"$sync"
fi

# relays and API profiles (dockguard.conf(5), docs/relay.md)
cat >"$TMP/relay.conf" <<'CONF'
relay r {
    listen unix /run/dockguard/relay/docker.sock
}
api mine extends read-only {
    deny GET /containers/secret/json
    allow POST /containers/create
    allow POST /build query remote!=* !networkmode
}
allow r from user 1001 api mine
allow r from user 1002 api full
CONF
run 0 "relay policy: check ok" check "$TMP/relay.conf"
run 0 "explain relay: read-only's list allowed through the profile it extends" \
	explain -c "$TMP/relay.conf" --to relay:r --uid 1001 --request "GET /v1.41/containers/json"
has "explain relay: names the built-in rule and its profile" "$out" "^api rule: built-in:[0-9]+, from profile read-only$"
run 1 "explain relay: the profile's own deny comes first" \
	explain -c "$TMP/relay.conf" --to relay:r --uid 1001 --request "GET /v1.41/containers/secret/json"
has "explain relay: ... at its line" "$out" "^api rule: $TMP/relay.conf:5$"
run 1 "explain relay: no rule matches: denied by default" \
	explain -c "$TMP/relay.conf" --to relay:r --uid 1001 --request "POST /v1.41/containers/x/exec"
has "explain relay: ... says so" "$out" "none of the profile's rules matches \(set api-default deny\)"
run 1 "explain relay: a query condition decides" \
	explain -c "$TMP/relay.conf" --to relay:r --uid 1001 --request "POST /v1.41/build?remote=http://x"
run 0 "explain relay: ... and without the remote build" \
	explain -c "$TMP/relay.conf" --to relay:r --uid 1001 --request "POST /v1.41/build?t=a"
run 1 "explain relay: an ambiguous target: refused" \
	explain -c "$TMP/relay.conf" --to relay:r --uid 1001 --request "GET /v1.41/containers/%2e%2e/secrets"
has "explain relay: ... with the reason" "$out" "^request: 400 .*'\.\.' segment"
run 0 "explain relay: api full allows anything" \
	explain -c "$TMP/relay.conf" --to relay:r --uid 1002 --request "POST /v1.41/containers/create"
run 1 "explain relay: a uid no rule admits cannot connect" \
	explain -c "$TMP/relay.conf" --to relay:r --uid 1003 --request "GET /_ping"
has "explain relay: ... and no request verdict is printed" "$(grep -c '^request:' <<<"$out")" '^0$'
run 5 "explain relay: an unknown relay: exit 5" explain -c "$TMP/relay.conf" --to relay:nope --request "GET /_ping"
run 2 "explain --request without a relay: usage" explain -c "$TMP/relay.conf" --to unix:/run/x.sock --request "GET /_ping"

printf 'relay r {\n    listen unix /run/x.sock\n}\nallow r from user 1001\n' >"$TMP/relay-noapi.conf"
run 1 "relay policy: a rule that allows a relay without a profile is an error" check "$TMP/relay-noapi.conf"
has "relay policy: ... saying what to write" "$err" "relay-noapi.conf:4:1: error: a rule that allows a relay names the API profile .*'api full'"
printf 'endpoint e unix /run/y.sock\nallow e from user 1 api full\n' >"$TMP/relay-notrelay.conf"
run 1 "relay policy: 'api' on a rule that allows no relay is an error" check "$TMP/relay-notrelay.conf"
printf 'relay r {\n    listen unix /run/x.sock\n}\napi read-only {\n    allow GET /_ping\n}\napi a extends b {\n    allow GET /x\n}\napi b extends a {\n    allow GET /y\n}\napi c {\n    allow GET /x/**/y/**\n    allow PUSH /x\n    allow GET /v1.41/x\n}\nallow r from user 1 api nosuch\n' >"$TMP/relay-bad.conf"
run 1 "relay policy: every error at once" check "$TMP/relay-bad.conf"
has "relay policy: a built-in profile's name is reserved" "$err" "relay-bad.conf:4:5: error: 'read-only' is a built-in profile"
has "relay policy: extends cycles" "$err" "error: profile '(a|b)' extends itself"
has "relay policy: '**' once" "$err" "relay-bad.conf:14:15: error: bad path pattern '/x/\*\*/y/\*\*': '\*\*' \(one segment or more\) may appear once"
has "relay policy: unknown method" "$err" "relay-bad.conf:15:11: error: unknown method 'PUSH'"
has "relay policy: no version prefix in patterns" "$err" "relay-bad.conf:16:15: error: bad path pattern '/v1.41/x': patterns match the path without"
has "relay policy: unknown profile" "$err" "relay-bad.conf:18:.*error: unknown profile 'nosuch'"

echo "cli: $PASS passed, $FAIL failed"
((FAIL == 0))
