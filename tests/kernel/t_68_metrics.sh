# `dockguard metrics` (spec 11): Prometheus text format that Prometheus' own
# parser (python3-prometheus-client) reads, whose numbers are status's:
# decisions per rule and verdict, events, loads by outcome, the daemon, the
# verdict audit of an audit rule's events.

R68=$TMP/r68
mkdir -p "$R68/run" "$CG/m68"
chmod 755 "$R68"
P68=23868
cat >"$R68/p.conf" <<CONF
set metrics unix://$R68/metrics.sock
set metrics-textfile $R68/dockguard.prom
endpoint m68 tcp 127.0.0.1:$P68
allow m68 from user 1001
audit m68 from user 1003
deny m68 from user 1002
CONF
"$DG" --bpffs "$BPFFS" --cgroup "$CG" --run-dir "$R68/run" run --unload-on-exit "$R68/p.conf" \
	>"$R68/daemon.log" 2>&1 &
R68_DAEMON=$!
PIDS+=($R68_DAEMON)
for _ in $(seq 100); do [[ -S $R68/run/control.sock ]] && break; sleep 0.1; done
expect "metrics: an allowed connect" '!EPERM' --cgroup "$CG/m68" --uid 1001 connect tcp 127.0.0.1 "$P68"
expect "metrics: two denied connects" EPERM --cgroup "$CG/m68" --uid 1002 connect tcp 127.0.0.1 "$P68"
expect "metrics: ..." EPERM --cgroup "$CG/m68" --uid 1002 connect tcp 127.0.0.1 "$P68"
expect "metrics: an audited connect" '!EPERM' --cgroup "$CG/m68" --uid 1003 connect tcp 127.0.0.1 "$P68"
"$DG" --bpffs "$BPFFS" --run-dir "$R68/run" tail --json --no-follow >"$R68/tail.json" 2>&1
check "an audit rule's event says verdict audit" \
	grep -q '"verdict":"audit".*"uid":1003' "$R68/tail.json"
"$DG" --bpffs "$BPFFS" --run-dir "$R68/run" metrics >"$R68/metrics.txt"
check "metrics: exit 0" test $? -eq 0
"$DG" --bpffs "$BPFFS" --run-dir "$R68/run" status --json >"$R68/status.json"
# Debian's python3 (the one python3-prometheus-client installs into)
if /usr/bin/python3 -c 'import prometheus_client' 2>/dev/null; then
	check "metrics parse with Prometheus' text parser and agree with status" /usr/bin/python3 - "$R68/metrics.txt" "$R68/status.json" "$R68/p.conf" <<'PY'
import json, sys
from prometheus_client.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
st = json.load(open(sys.argv[2]))
conf = sys.argv[3]
def sample(name, **labels):
    f = fams[name]
    for s in f.samples:
        if all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    raise SystemExit(f"no {name} {labels}")
ok = True
for r in st["rules"]:
    ok &= sample("dockguard_decisions", rule=r["rule"], verdict="allow") == r["allowed"]
    ok &= sample("dockguard_decisions", rule=r["rule"], verdict="deny") == r["denied"]
deny_rule = f"{conf}:6"
ok &= sample("dockguard_decisions", rule=deny_rule, verdict="deny") == 2
ok &= sample("dockguard_events") == st["events"]["reported"]
ok &= sample("dockguard_policy_generation") == st["generation"]
ok &= sample("dockguard_policy_info", sha256=st["sha256"]) == 1
ok &= sample("dockguard_policy_loads", outcome="ok") >= 1
ok &= sample("dockguard_daemon_up") == 1 and sample("dockguard_enforcing") == 1
ok &= fams["dockguard_decisions"].type == "counter"
sys.exit(0 if ok else 1)
PY
else
	skip "metrics: python3-prometheus-client is not installed (tools/install-deps.sh)"
fi
# the daemon serves the same at GET /metrics, and writes it for node-exporter
python3 - "$R68/metrics.sock" >"$R68/served.txt" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
head, _, body = data.partition(b"\r\n\r\n")
sys.stdout.write(head.decode().splitlines()[0] + "\n" + body.decode())
PY
check "the daemon serves GET /metrics on its unix socket (200)" grep -q "^HTTP/1.[01] 200" "$R68/served.txt"
check "... with the decisions the CLI prints" \
	bash -c "grep '^dockguard_decisions_total' '$R68/served.txt' | diff -q - <(grep '^dockguard_decisions_total' '$R68/metrics.txt')"
check "... and the textfile for node-exporter" grep -q "^dockguard_enforcing 1" "$R68/dockguard.prom"
kill -TERM "$R68_DAEMON"
wait "$R68_DAEMON" 2>/dev/null
"$DG" --bpffs "$BPFFS" --run-dir "$R68/run" metrics >"$R68/metrics2.txt"
check "metrics with nothing loaded: dockguard_enforcing 0, exit 0" \
	bash -c "test $? -eq 0 && grep -qx 'dockguard_enforcing 0' '$R68/metrics2.txt'"
