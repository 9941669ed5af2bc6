# Bypass catalog: processes and threads that change cgroup. The verdict
# follows the calling task's cgroup at connect() time, not the cgroup the
# socket was created in (docs/design.md, identity).
source "$root/tests/tools/bypass-lib.sh"

B=$(catalog_port 26)
P=$B
U26=$TMP/u26
mkdir -p "$CG/a" "$CG/c" "$U26"
chmod 755 "$U26"
# a threaded subtree: one process, threads in two cgroups
TR=$CG/tr
mkdir -p "$TR/allowed" "$TR/denied"
threaded_ok=1
echo threaded >"$TR/allowed/cgroup.type" 2>/dev/null &&
	echo threaded >"$TR/denied/cgroup.type" 2>/dev/null || threaded_ok=0

cat >"$TMP/t26.conf" <<CONF
endpoint api {
    tcp 127.0.0.1:$P
    tcp [::1]:$P
}
endpoint sock unix $U26/api.sock
allow { api, sock } from cgroup $CGPATH/a
allow { api, sock } from cgroup $CGPATH/tr/allowed
CONF
start_listener listen tcp 127.0.0.1 "$P"
start_listener listen unix "$U26/api.sock"
chmod 777 "$U26/api.sock"
out=$(dg load "$TMP/t26.conf" 2>&1)
check "cgroup moves: policy loaded" test $? -eq 0

dests=("tcp 127.0.0.1 $P")
unix_enforced && dests+=("unix $U26/api.sock")
for dest in "${dests[@]}"; do
	read -r proto addr port <<<"$dest"
	label=$proto
	expect "bypass: socket() in the allowed cgroup, connect() after moving to a denied one ($label, uid 1002): EPERM" EPERM \
		--cgroup "$CG/a" --move-cgroup "$CG/c" --uid 1002 connect "$proto" "$addr" $port
	expect "control: socket() in a denied cgroup, connect() after moving to the allowed one ($label): ok" ok \
		--cgroup "$CG/c" --move-cgroup "$CG/a" --uid 1002 connect "$proto" "$addr" $port
done
unix_enforced || skip "cgroup moves: no connect_unix hook: unix variants untested"

# io_uring: the io-wq worker started while the process was in the allowed
# cgroup moves with it (it is one of its threads)
if [[ $("$PROBE" uring tcp 127.0.0.1 "$P" 2>&1 | head -n 1) == "error"* ]]; then
	skip "cgroup moves: io_uring unavailable: io-wq variant untested"
else
	expect "bypass: io-wq worker started in the allowed cgroup, IOSQE_ASYNC connect after the process moved to a denied one: EPERM" EPERM \
		--cgroup "$CG/a" --warm-ring --move-cgroup "$CG/c" --uid 1002 uring-async tcp 127.0.0.1 "$P"
	expect "control: io-wq worker started in a denied cgroup, IOSQE_ASYNC connect after moving to the allowed one: ok" ok \
		--cgroup "$CG/c" --warm-ring --move-cgroup "$CG/a" --uid 1002 uring-async tcp 127.0.0.1 "$P"
fi

# threaded cgroups: one thread of a process in another cgroup
if ((threaded_ok == 0)); then
	skip "cgroup moves: could not make threaded cgroups: per-thread cgroup untested"
else
	expect "bypass: a thread moved to a denied threaded cgroup, the main thread in the allowed one: EPERM" EPERM \
		--cgroup "$TR/allowed" --thread-cgroup "$TR/denied" --uid 1002 connect tcp 127.0.0.1 "$P"
	expect "control: a thread moved to the allowed threaded cgroup, the main thread in a denied one: ok" ok \
		--cgroup "$TR/denied" --thread-cgroup "$TR/allowed" --uid 1002 connect tcp 127.0.0.1 "$P"
	expect "control: main thread alone in the allowed threaded cgroup: ok" ok \
		--cgroup "$TR/allowed" --uid 1002 connect tcp 127.0.0.1 "$P"
	expect "control: main thread alone in the denied threaded cgroup: EPERM" EPERM \
		--cgroup "$TR/denied" --uid 1002 connect tcp 127.0.0.1 "$P"
fi
