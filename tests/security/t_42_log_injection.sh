# Log injection: a task's name (comm) and a unix socket path are anyone's
# bytes, and both reach the one-line event (stderr, `tail`, the journal's
# MESSAGE). A newline must not start a forged line, a `)` must not end the
# task's name, ESC/OSC sequences must not reach the operator's terminal, and
# a path that is not UTF-8 must not cost the JSON event its `dest`.
source "$root/tests/tools/bypass-lib.sh"

IJ=$TMP/ij
IP=$(catalog_port 42)
mkdir -p "$CG/c" "$IJ/sockdir"
chmod 755 "$IJ" "$IJ/sockdir"
cat >"$TMP/ij.conf" <<CONF
endpoint api tcp 127.0.0.1:$IP
endpoint sock unix $IJ/sockdir/api.sock
allow { api, sock } from user 1001
CONF
start_listener listen tcp 127.0.0.1 "$IP"
start_listener listen unix "$IJ/sockdir/api.sock"
chmod 666 "$IJ/sockdir/api.sock"
# directories whose names forge a line, or are not UTF-8; the paths through
# them lead to the protected socket and are judged as it
NL_DIR="x"$'\n'"allow sock"
BAD_DIR=$'\xff\xfe'
mkdir -p "$IJ/$NL_DIR" "$IJ/$BAD_DIR"
FORGED_COMM="a) uid 0 gid 0"$'\n'
OSC_COMM=$'\e]0;pwned\a'
dg load "$TMP/ij.conf" >/dev/null 2>&1
check "log injection: policy loaded" test -e "$BPFFS/link_connect4"

# attack: the denied connects that carry the hostile names
attack() {
	expect "log injection: connect with a forged task name: EPERM" EPERM \
		--cgroup "$CG/c" --uid 1002 --comm "$FORGED_COMM" connect tcp 127.0.0.1 "$IP"
	expect "log injection: connect with an OSC sequence as task name: EPERM" EPERM \
		--cgroup "$CG/c" --uid 1002 --comm "$OSC_COMM" connect tcp 127.0.0.1 "$IP"
	if unix_enforced; then
		expect "log injection: connect through a directory with a newline: EPERM" EPERM \
			--cgroup "$CG/c" --uid 1002 connect unix "$IJ/$NL_DIR/../sockdir/api.sock"
		expect "log injection: connect through a directory that is not UTF-8: EPERM" EPERM \
			--cgroup "$CG/c" --uid 1002 connect unix "$IJ/$BAD_DIR/../sockdir/api.sock"
	fi
}

attack
"$DG" --bpffs "$BPFFS" tail --no-follow >"$TMP/ij.text" 2>/dev/null
check "log injection: every line of tail is an event of its own (no forged line)" \
	test "$(grep -cv '^[0-9]\{4\}-[0-9][0-9]-[0-9][0-9]T' "$TMP/ij.text")" -eq 0
check "log injection: the forged task name stays inside its parentheses, newline escaped" \
	grep -qF "(a\\x29 uid 0 gid 0\\x0a) uid 1002 " "$TMP/ij.text"
check "log injection: no ESC byte reaches the terminal; the OSC sequence is shown escaped" \
	bash -c "! grep -q \$'\\e' '$TMP/ij.text' && grep -qF '(\\x1b]0;pwned\\x07) uid 1002' '$TMP/ij.text'"
# the path the caller gave is in the event where cgroup/connect_unix judges;
# the BPF LSM alone (Linux < 6.7) reports the name the listener bound
by_path() { [[ -e $BPFFS/link_connect_unix ]]; }
if by_path; then
	check "log injection: the newline in the path is escaped, the path stays one field" \
		grep -qF "unix:$IJ/x\\x0aallow\\x20sock/../sockdir/api.sock connect pid" "$TMP/ij.text"
	check "log injection: bytes that are not UTF-8 are shown as \\xNN" \
		grep -qF "unix:$IJ/\\xff\\xfe/../sockdir/api.sock connect pid" "$TMP/ij.text"
fi

attack
"$DG" --bpffs "$BPFFS" tail --json --no-follow >"$TMP/ij.json" 2>/dev/null
json_fields() {	# every event's dest and comm, one per line
	python3 -c '
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    e = json.loads(line)
    print("dest=" + e.get("dest", "MISSING") + " comm=" + e.get("comm", "MISSING"))
' "$TMP/ij.json"
}
fields=$(json_fields)
check "log injection: JSON events parse and all keep dest and comm" \
	bash -c "[[ -n \"\$1\" ]] && ! grep -q MISSING <<<\"\$1\"" _ "$fields"
check "log injection: JSON comm is escaped, not dropped" grep -qF 'comm=a) uid 0 gid 0\x0a' <<<"$fields"
if by_path; then
	check "log injection: JSON dest of a path that is not UTF-8 is kept, escaped" \
		grep -qF "dest=unix:$IJ/\\xff\\xfe/../sockdir/api.sock" <<<"$fields"
fi

# The journal: a real systemd-journald in a private mount namespace, the
# daemon writing to it (JOURNAL_STREAM), read back with journalctl -D.
if [[ -x /lib/systemd/systemd-journald ]] && command -v journalctl >/dev/null; then
	JRUN=$TMP/ij-run
	mkdir -p "$JRUN"
	DG="$DG" BPFFS="$BPFFS" CG="$CG" JRUN="$JRUN" CONF="$TMP/ij.conf" OUT="$TMP/ij.journal" \
		PROBE="$PROBE" IP="$IP" FORGED_COMM="$FORGED_COMM" unshare -m bash -c '
		mount -t tmpfs tmpfs /run/systemd && mkdir -p /run/systemd/journal &&
			mkdir -p /run/log && mount -t tmpfs tmpfs /run/log || exit 1
		/lib/systemd/systemd-journald & jpid=$!
		for _ in $(seq 50); do [[ -S /run/systemd/journal/socket ]] && break; sleep 0.1; done
		JOURNAL_STREAM=0:0 "$DG" --bpffs "$BPFFS" --cgroup "$CG" --run-dir "$JRUN" run "$CONF" \
			2>"$JRUN/daemon.err" & dpid=$!
		for _ in $(seq 50); do [[ -S $JRUN/control.sock ]] && break; sleep 0.1; done
		"$PROBE" --cgroup "$CG/c" --uid 1002 --comm "$FORGED_COMM" connect tcp 127.0.0.1 "$IP" >/dev/null
		for _ in $(seq 50); do
			journalctl -D /run/log/journal --no-pager -o json SYSLOG_IDENTIFIER=dockguard \
				>"$OUT" 2>/dev/null
			grep -q DOCKGUARD_COMM "$OUT" && break
			sleep 0.1
		done
		kill "$dpid"; wait "$dpid"
		kill "$jpid"; wait "$jpid"
	' 2>/dev/null
	jfields=$(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if "DOCKGUARD_COMM" in e:
        print("MESSAGE_LINES=%d" % (e["MESSAGE"].count("\n") + 1))
        print("MESSAGE=" + e["MESSAGE"])
        print("DOCKGUARD_COMM=" + e["DOCKGUARD_COMM"])
' "$TMP/ij.journal" 2>&1)
	check "log injection: the journal MESSAGE is one line" grep -qx "MESSAGE_LINES=1" <<<"$jfields"
	check "log injection: the journal MESSAGE keeps the name inside its parentheses" \
		grep -qF '(a\x29 uid 0 gid 0\x0a) uid 1002' <<<"$jfields"
	check "log injection: the journal field DOCKGUARD_COMM is escaped" \
		grep -qxF 'DOCKGUARD_COMM=a) uid 0 gid 0\x0a' <<<"$jfields"
else
	skip "log injection: no systemd-journald to test the journal against"
fi
dg unload >/dev/null 2>&1
