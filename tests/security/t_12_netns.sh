# Bypass catalog: connects from another network namespace (a container's),
# over a veth pair to the "host" (the suite's private namespace). Loopback
# endpoints are judged only in the namespace dockguard was loaded in
# (docs/design.md, "Loopback endpoints and network namespaces"); every other
# address must be judged in every namespace.
source "$root/tests/tools/bypass-lib.sh"

B=$(catalog_port 12)
PB=$B		# tcp 10.213.78.1:PB (a bridge address, like docker0's)
PW=$((B + 1))	# tcp *:PW
PM=$((B + 2))	# one endpoint: tcp 127.0.0.1:PM and tcp 10.213.78.1:PM
PS=$((B + 3))	# one endpoint: tcp 127.0.0.1:PS and tcp *:PS (redundant, warned)
BR=10.213.78.1
mkdir -p "$CG/c"

# the container's namespace, its gateway the bridge address
container_netns 12 "$BR"

cat >"$TMP/t12.conf" <<CONF
endpoint bridge tcp $BR:$PB
endpoint wild tcp *:$PW
endpoint mixed {
    tcp 127.0.0.1:$PM
    tcp $BR:$PM
}
endpoint mixedwild {
    tcp 127.0.0.1:$PS
    tcp *:$PS
}
allow { bridge, wild, mixed, mixedwild } from user 1001
CONF
for p in "$PB" "$PW" "$PM" "$PS"; do
	start_listener listen tcp 0.0.0.0 "$p"
done
out=$(dg load "$TMP/t12.conf" 2>&1)
check "netns: policy loaded" test $? -eq 0

D=(--cgroup "$CG/c" --uid 1002)
A=(--cgroup "$CG/c" --uid 1001)
if ((veth_ok == 0)); then
	skip "netns: no veth pair (kernel without veth): container-namespace paths untested"
else
	in_ns "bypass: container netns to the host's bridge address (tcp $BR:P) from denied uid: EPERM" EPERM \
		"${D[@]}" connect tcp "$BR" "$PB"
	in_ns "control: container netns to the host's bridge address from allowed uid: ok" ok \
		"${A[@]}" connect tcp "$BR" "$PB"
	in_ns "bypass: container netns to the host's address under tcp *:P from denied uid: EPERM" EPERM \
		"${D[@]}" connect tcp "$BR" "$PW"
	in_ns "control: container netns to the host's address under tcp *:P from allowed uid: ok" ok \
		"${A[@]}" connect tcp "$BR" "$PW"
	# An endpoint that lists a loopback address and a bridge address: the
	# bridge address must still be judged from a container.
	in_ns "bypass: container netns to $BR:P of an endpoint that also lists 127.0.0.1:P, denied uid: EPERM" EPERM \
		"${D[@]}" connect tcp "$BR" "$PM"
	in_ns "control: the same from allowed uid: ok" ok "${A[@]}" connect tcp "$BR" "$PM"
	in_ns "bypass: container netns to $BR:P of an endpoint { 127.0.0.1:P, *:P }, denied uid: EPERM" EPERM \
		"${D[@]}" connect tcp "$BR" "$PS"
	in_ns "control: the same from allowed uid: ok" ok "${A[@]}" connect tcp "$BR" "$PS"
	# documented: a *:P endpoint also judges the container's own loopback
	"${NS[@]}" "$PROBE" listen tcp 127.0.0.1 "$PW" >/dev/null 2>&1 &
	PIDS+=($!)
	sleep 0.2
	in_ns "documented: tcp *:P judges the container's own 127.0.0.1:P, denied uid: EPERM" EPERM \
		"${D[@]}" connect tcp 127.0.0.1 "$PW"
fi
# the same endpoints from the host's namespace
expect "bypass: host netns to $BR:P of the 127.0.0.1 + $BR endpoint, denied uid: EPERM" EPERM \
	"${D[@]}" connect tcp "$BR" "$PM"
expect "bypass: host netns to 127.0.0.1:P of the same endpoint, denied uid: EPERM" EPERM \
	"${D[@]}" connect tcp 127.0.0.1 "$PM"
expect "control: host netns to 127.0.0.1:P of the same endpoint, allowed uid: ok" ok \
	"${A[@]}" connect tcp 127.0.0.1 "$PM"
ip link del dgsh12 2>/dev/null
