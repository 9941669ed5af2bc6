# listen rules: only the named subjects may bind the endpoint's addresses.
expect "bind guarded address outside the listen cgroup denied" EPERM --cgroup "$CG/c" bind tcp 127.0.0.1 "$P2"
expect "bind 0.0.0.0 on the guarded port denied (takes every address)" EPERM --cgroup "$CG/c" bind tcp 0.0.0.0 "$P2"
expect "bind [::] on the guarded port denied" EPERM --cgroup "$CG/c" bind tcp6 :: "$P2"
expect "bind ::ffff:127.0.0.1 on the guarded port denied" EPERM --cgroup "$CG/c" bind tcp6 ::ffff:127.0.0.1 "$P2"
expect "bind 127.0.0.2 on the guarded port allowed (not the endpoint)" ok --cgroup "$CG/c" bind tcp 127.0.0.2 "$P2"
expect "bind guarded address from the listen cgroup allowed" ok --cgroup "$CG/a" bind tcp 127.0.0.1 "$P2"
# `localhost` is 127.0.0.1 and ::1 (clients try ::1 first): the listen rule of
# an endpoint that names 127.0.0.1 alone covers [::1] too, so no squatter
# answers DOCKER_HOST=tcp://localhost:P
expect "bind [::1] on the guarded port denied (the other loopback family)" EPERM --cgroup "$CG/c" bind tcp6 ::1 "$P2"
expect "listen on [::1] on the guarded port as another uid denied" EPERM --cgroup "$CG/c" --uid 1002 listen tcp6 ::1 "$P2"
expect "bind [::1] on the guarded port from the listen cgroup allowed" ok --cgroup "$CG/a" bind tcp6 ::1 "$P2"
out=$(dg check "$TMP/p1.conf" 2>&1)
check "check says the endpoint takes the other loopback family" \
	grep -q "names 127.0.0.1:$P2 but not \[::1\]:$P2, where clients of localhost go first" <<<"$out"
out=$(dg explain --to "tcp:[::1]:$P2" --uid 1002 --subject-cgroup "$CGPATH/c" 2>&1)
check "explain judges a connect to [::1] as the guarded endpoint" grep -q "guarded" <<<"$out"
expect "bind an address without listen rules untouched" ok --cgroup "$CG/c" bind tcp 127.0.0.1 "$((P + 3))"
start_listener --cgroup "$CG/a" listen tcp 127.0.0.1 "$P2"
expect "connect to the guarded endpoint (allow any)" ok --cgroup "$CG/c" --uid 1002 connect tcp 127.0.0.1 "$P2"

# audit mode (learning) does not open a guarded port to squatters
sed -e '1i set default audit' "$TMP/p1.conf" >"$TMP/p1-audit.conf"
dg load "$TMP/p1-audit.conf" >/dev/null 2>&1
expect "audit mode: uid 1002 connect allowed (and logged)" ok --cgroup "$CG/c" --uid 1002 connect tcp 127.0.0.1 "$P"
expect "audit mode: bind of a guarded address still refused" EPERM --cgroup "$CG/c" bind tcp 127.0.0.1 "$((P2 + 0))"
dg load "$TMP/p1.conf" >/dev/null 2>&1
