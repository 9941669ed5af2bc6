# Container subjects, resolved from a (fake) Docker Engine API: at load, and
# followed by the daemon as containers come and go.
FAKE=$TMP/fake
mkdir -p "$FAKE"
idA=$(printf 'a%.0s' {1..64})
idB=$(printf 'b%.0s' {1..64})
idC=$(printf 'c%.0s' {1..64})
idD=$(printf 'd%.0s' {1..64})
for id in $idA $idB $idC $idD; do mkdir -p "$CG/ct/$id"; done

inspect() {	# inspect ID NAME LABELS MOUNTS
	printf '{"Id":"%s","Name":"/%s","State":{"Status":"created","Running":false,"Pid":0},"HostConfig":{"CgroupParent":"%s/ct"},"Config":{"Image":"dgtest:latest","Labels":%s},"Mounts":%s}\n' \
		"$1" "$2" "$CGPATH" "$3" "$4" >"$FAKE/inspect-$1.json.tmp"
	mv "$FAKE/inspect-$1.json.tmp" "$FAKE/inspect-$1.json"
}
listed() {	# listed ID...: containers.json
	local first=1
	{
		printf '['
		for id in "$@"; do
			((first)) || printf ','
			first=0
			printf '{"Id":"%s"}' "$id"
		done
		printf ']\n'
	} >"$FAKE/containers.json.tmp"
	mv "$FAKE/containers.json.tmp" "$FAKE/containers.json"
}
event() {	# event ACTION ID
	printf '{"Type":"container","Action":"%s","Actor":{"ID":"%s","Attributes":{}},"time":1}\n' "$1" "$2" >>"$FAKE/events.jsonl"
}
eventually() {	# eventually WANT PROBE-ARGS...: the verdict becomes WANT within 2 s
	local want=$1
	shift
	for _ in $(seq 100); do
		[[ $("$PROBE" "$@") == "$want" ]] && return 0
		sleep 0.02
	done
	return 1
}
printf '{"CgroupDriver":"cgroupfs","CgroupVersion":"2"}\n' >"$FAKE/info.json"
: >"$FAKE/events.jsonl"
inspect "$idA" allowed-web '{"dg.role":"web"}' '[]'
inspect "$idC" denied-one '{}' '[]'
listed "$idA" "$idC"

"$build/fake-dockerd" "$FAKE/docker.sock" "$FAKE" >"$TMP/fake.log" 2>&1 &
FAKEPID=$!
PIDS+=($FAKEPID)
for _ in $(seq 50); do [[ -S $FAKE/docker.sock ]] && break; sleep 0.1; done

cat >"$TMP/c.conf" <<CONF
endpoint api {
    tcp 127.0.0.1:$P
    tcp [::1]:$P
}
endpoint sock unix $SOCKDIR/api.sock
set docker-host unix://$FAKE/docker.sock
set log-rate 1000/s
allow api from container name allowed-*
allow api from container label dg.role=api2
deny { api, sock } from container name *
allow sock from any
CONF

out=$(dg load "$TMP/c.conf" 2>&1)
check "load resolves container rules from Docker" test $? -eq 0
check "load says containers created later need the daemon" grep -q "containers created later" <<<"$out"
expect "container allowed by name glob" ok --cgroup "$CG/ct/$idA" --uid 100000 connect tcp 127.0.0.1 "$P"
st=$(dg status 2>&1)
check "status: what 'container name allowed-*' matched at the load" \
	grep -q "^  $TMP/c.conf:8  container name allowed-\* matches 1 container: allowed-web (${idA:0:12}, .*/ct/$idA)\$" <<<"$st"
check "status: what 'container name *' matched at the load" \
	grep -q "^  $TMP/c.conf:10  container name \* matches 2 containers: allowed-web (${idA:0:12}, .*), denied-one (${idC:0:12}, .*)\$" <<<"$st"
expect "container denied by name *" EPERM --cgroup "$CG/ct/$idC" --uid 100000 connect tcp 127.0.0.1 "$P"
expect "unknown container: default deny" EPERM --cgroup "$CG/ct/$idB" --uid 100000 connect tcp 127.0.0.1 "$P"
out=$("$DG" explain -c "$TMP/c.conf" --to "tcp:127.0.0.1:$P" --container allowed-web 2>/dev/null)
check "explain --container: allowed, by rule line 8" bash -c "grep -q '^allow tcp:127.0.0.1:$P' <<<'$out' && grep -q '^rule: $TMP/c.conf:8$' <<<'$out'"
out=$("$DG" explain -c "$TMP/c.conf" --to "tcp:127.0.0.1:$P" --container denied-one 2>/dev/null)
check "explain --container: denied by line 10" grep -q "^rule: $TMP/c.conf:10$" <<<"$out"
"$DG" explain -c "$TMP/c.conf" --to "tcp:127.0.0.1:$P" --container nosuch >/dev/null 2>&1
check "explain --container of an unknown container: exit 2" test $? -eq 2

# the daemon follows Docker
RUN4=$TMP/run4
"$DG" --bpffs "$BPFFS" --cgroup "$CG" --run-dir "$RUN4" run "$TMP/c.conf" 2>"$TMP/daemon4.log" &
D4=$!
PIDS+=($D4)
for _ in $(seq 50); do [[ -S $RUN4/control.sock ]] && break; sleep 0.1; done
"$DG" --run-dir "$RUN4" --bpffs "$BPFFS" tail --json >"$TMP/tail4.json" 2>/dev/null &
T4=$!
PIDS+=($T4)
sleep 0.3

check "the daemon does not warn that containers need the daemon" \
	bash -c '! grep -q "containers created later" "$1"' _ "$TMP/daemon4.log"

# the runtime shim's question: a known container is confirmed at once
ctl4() {	# ctl4 REQUEST: the daemon's one-line answer
	python3 -c "import socket; s=socket.socket(socket.AF_UNIX); s.connect('$RUN4/control.sock'); s.sendall(b'$1\n'); print(s.recv(64).decode().strip())"
}
if command -v python3 >/dev/null; then
	check "prepare ID of a known container: ok" test "$(ctl4 "prepare $idA")" = ok
	check "prepare with a malformed id: refused" test "$(ctl4 "prepare nothex")" = "error: not a container id"
fi

# a new container, allowed by label: allowed once the create event is seen
inspect "$idB" other-api '{"dg.role":"api2"}' '[]'
listed "$idA" "$idB" "$idC"
t0=$(date +%s%N)
event create "$idB"
eventually ok --cgroup "$CG/ct/$idB" --uid 100000 connect tcp 127.0.0.1 "$P"
ok=$?
t1=$(date +%s%N)
check "daemon: a created container allowed by label within 2 s of its create event" test $ok -eq 0
st=$(dg --run-dir "$RUN4" status --json)
check "status after the create event: the label subject matches the new container" \
	python3 -c 'import json, sys
r = json.loads(sys.argv[1])["resolved"]
sys.exit(not any(x["at"].endswith("c.conf:9") and "matches 1 container: other-api (" + sys.argv[2][:12] in x["what"] for x in r))' "$st" "$idB"
echo "    create event -> identity in force: $(((t1 - t0) / 1000000)) ms (fake Engine API, includes the polling)"

# events name the container
"$PROBE" --cgroup "$CG/ct/$idC" --uid 100005 connect tcp 127.0.0.1 "$P" >/dev/null
sleep 0.3
line=$(grep "\"uid\":100005" "$TMP/tail4.json" | tail -n 1)
check "event names the container: id, name, image" grep -q "\"container\":{\"id\":\"$idC\",\"name\":\"denied-one\",\"image\":\"dgtest:latest\"}" <<<"$line"
check "daemon log line names the container" grep -q "container denied-one (cccccccccccc)" "$TMP/daemon4.log"

# a socket bind-mounted into a container under another name
expect "before the mount: dg-mounted.sock is not judged" '!EPERM' --cgroup "$CG/ct/$idC" --uid 100000 connect unix "$TMP/nowhere/dg-mounted.sock"
inspect "$idD" mounter '{}' "[{\"Type\":\"bind\",\"Source\":\"$SOCKDIR/api.sock\",\"Destination\":\"/run/dg-mounted.sock\",\"Mode\":\"\",\"RW\":true}]"
listed "$idA" "$idB" "$idC" "$idD"
event create "$idD"
if ((UNIX_LSM)); then
	# judged on the socket itself: the name it is mounted under does not
	# matter (and a path that reaches no socket is not refused by dockguard)
	touch "$TMP/dg-mounted70.sock"
	out=$(unshare --mount bash -c 'mount --bind "$0" "$1" && shift && exec "$@"' "$SOCKDIR/api.sock" \
		"$TMP/dg-mounted70.sock" "$PROBE" --cgroup "$CG/ct/$idC" --uid 100000 connect unix \
		"$TMP/dg-mounted70.sock" 2>&1 | head -n 1)
	check "a bind-mounted docker socket is judged on the socket (BPF LSM) ($out)" test "$out" = EPERM
elif ((UNIX_HOOK)); then
	check "a bind-mounted docker socket is judged at its name in the container that mounts it" \
		eventually EPERM --cgroup "$CG/ct/$idD" --uid 100000 connect unix "$TMP/nowhere/dg-mounted.sock"
	# the name is that container's: another socket of that name elsewhere is
	# no endpoint (a mount must not break D-Bus or syslog host-wide)
	expect "... and not in another container (not judged there)" '!EPERM' \
		--cgroup "$CG/ct/$idC" --uid 100000 connect unix "$TMP/nowhere/dg-mounted.sock"
else
	# nothing judges unix connects without the hook, bind-mounted or not
	check "a bind-mounted docker socket: the daemon says unix endpoints are NOT enforced" \
		grep -q "WARNING: unix endpoints are NOT enforced" "$TMP/daemon4.log"
fi
expect "... and allowed where the policy allows the socket" '!EPERM' --cgroup "$CG/c" --uid 1002 connect unix "$TMP/nowhere/dg-mounted.sock"

# the container goes away: its rules go with it
rm -f "$FAKE/inspect-$idB.json"
listed "$idA" "$idC" "$idD"
event destroy "$idB"
check "a destroyed container's cgroup is no longer allowed" \
	eventually EPERM --cgroup "$CG/ct/$idB" --uid 100000 connect tcp 127.0.0.1 "$P"

# An edited policy file goes live with SIGHUP only: a container event
# recompiles the policy in force, not the file as it is now
st_field() {	# st_field NAME: from status --json
	dg --run-dir "$RUN4" status --json | python3 -c "import json, sys; print(json.load(sys.stdin)['$1'])"
}
cp "$TMP/c.conf" "$TMP/c.conf.orig"
sha0=$(st_field sha256)
gen0=$(st_field generation)
sed -i 's/^allow sock from any$/allow { api, sock } from any/' "$TMP/c.conf"
inspect "$idB" back-again '{}' '[]'
listed "$idA" "$idB" "$idC" "$idD"
event create "$idB"
for _ in $(seq 100); do (($(st_field generation) > gen0)) && break; sleep 0.05; done
check "a container event swapped the policy (generation $gen0 -> $(st_field generation))" \
	test "$(st_field generation)" -gt "$gen0"
expect "... but the edited file, not reloaded, is not in force" EPERM --cgroup "$CG/c" --uid 1002 connect tcp 127.0.0.1 "$P"
check "... and status shows the sha256 of the policy loaded, not of the edited file" test "$(st_field sha256)" = "$sha0"
kill -HUP "$D4"
check "SIGHUP makes the edited file live" eventually ok --cgroup "$CG/c" --uid 1002 connect tcp 127.0.0.1 "$P"
cp "$TMP/c.conf.orig" "$TMP/c.conf"
kill -HUP "$D4"
check "... and the restored one" eventually EPERM --cgroup "$CG/c" --uid 1002 connect tcp 127.0.0.1 "$P"

# Docker goes away: status says so; known containers keep their rules
kill "$FAKEPID"
wait "$FAKEPID" 2>/dev/null
down=0
for _ in $(seq 100); do
	if dg --run-dir "$RUN4" status 2>/dev/null | grep -q "^docker: *UNREACHABLE"; then down=1; break; fi
	sleep 0.05
done
check "status: docker UNREACHABLE when the API is gone" test $down -eq 1
expect "API gone: a known allowed container stays allowed" ok --cgroup "$CG/ct/$idA" --uid 100000 connect tcp 127.0.0.1 "$P"
"$build/fake-dockerd" "$FAKE/docker.sock" "$FAKE" >>"$TMP/fake.log" 2>&1 &
FAKEPID=$!
PIDS+=($FAKEPID)
up=0
for _ in $(seq 100); do
	if dg --run-dir "$RUN4" status 2>/dev/null | grep -q "^docker: *following"; then up=1; break; fi
	sleep 0.1
done
check "status: following again once the API is back (reconnect with backoff)" test $up -eq 1

kill "$T4" "$D4" "$FAKEPID" 2>/dev/null
wait "$T4" "$D4" "$FAKEPID" 2>/dev/null
