# unload detaches everything; idempotent.
dg load "$TMP/p1.conf" >/dev/null 2>&1
out=$(dg unload 2>&1)
check "unload exits 0" test $? -eq 0
check "unload removes the pins" test ! -e "$BPFFS/link_connect4" -a ! -e "$BPFFS/map_policy"
check "nothing attached to the test cgroup any more" bash -c "! bpftool cgroup show '$CG' 2>/dev/null | grep -q dg_"
expect "after unload uid 1002 connects" ok --cgroup "$CG/c" --uid 1002 connect tcp 127.0.0.1 "$P"
expect "after unload unix connects" ok --cgroup "$CG/c" --uid 1002 connect unix "$SOCKDIR/api.sock"
expect "after unload anyone may bind the guarded port" ok --cgroup "$CG/c" bind tcp 0.0.0.0 "$((P2 + 100))"
dg status >/dev/null 2>&1
check "status exits 4 when not loaded" test $? -eq 4
check "unload again exits 0" dg unload
