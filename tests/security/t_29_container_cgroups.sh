# Bypass catalog: container cgroups under a trusted path. Whoever creates a
# container chooses its cgroup parent (`docker run --cgroup-parent
# /trusted`), so a `cgroup` or `unit` rule never matches a cgroup named like
# a container's (64 hex digits, docker-<id>.scope), wherever it sits; such a
# container is matched by `container` subjects only. Real containers under a
# private dockerd: tests/e2e/identities.sh.
source "$root/tests/tools/bypass-lib.sh"

B=$(catalog_port 29)
P=$B
ID=$(printf '%064x' $((RANDOM * 32768 + RANDOM)))
mkdir -p "$CG/trusted/sub" "$CG/trusted/$ID" "$CG/trusted/docker-$ID.scope" \
	"$CG/trusted/${ID:0:63}" "$CG/trusted/$ID/inner"
cat >"$TMP/t29.conf" <<CONF
endpoint api tcp 127.0.0.1:$P
allow api from cgroup $CGPATH/trusted
CONF
start_listener listen tcp 127.0.0.1 "$P"
out=$(dg load "$TMP/t29.conf" 2>&1)
check "container cgroups: policy loaded" test $? -eq 0

expect "control: a process in the trusted cgroup: ok" ok --cgroup "$CG/trusted" --uid 1002 connect tcp 127.0.0.1 "$P"
expect "control: a process in a sub-cgroup of it: ok" ok --cgroup "$CG/trusted/sub" --uid 1002 connect tcp 127.0.0.1 "$P"
expect "bypass: a container cgroup (cgroupfs: 64 hex digits) under the trusted cgroup: EPERM" EPERM \
	--cgroup "$CG/trusted/$ID" --uid 1002 connect tcp 127.0.0.1 "$P"
expect "bypass: a container scope (systemd: docker-<id>.scope) under it: EPERM" EPERM \
	--cgroup "$CG/trusted/docker-$ID.scope" --uid 1002 connect tcp 127.0.0.1 "$P"
expect "bypass: a cgroup inside such a container: EPERM" EPERM \
	--cgroup "$CG/trusted/$ID/inner" --uid 1002 connect tcp 127.0.0.1 "$P"
expect "control: 63 hex digits is not a container: ok" ok \
	--cgroup "$CG/trusted/${ID:0:63}" --uid 1002 connect tcp 127.0.0.1 "$P"
ex=$("$DG" --bpffs "$BPFFS" explain --to "tcp:127.0.0.1:$P" --uid 1002 --subject-cgroup "$CGPATH/trusted/$ID" 2>&1)
check "explain agrees: the container cgroup is denied (exit 1)" test $? -eq 1
