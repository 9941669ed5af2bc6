# Shared by every section: listeners, destinations and the policies.
# Sourced by run.sh inside the private network namespace, before the others.
# shellcheck disable=SC2034 # used by the sections sourced after this one

P=$((21000 + RANDOM % 9000))	# protected
P3=$((P + 2))			# not protected
PW=$((P + 4))			# protected as 127.0.0.1:PW, served by a 0.0.0.0 listener
HOST4=10.213.77.1		# the host's "eth0" address in this namespace
ip addr add "$HOST4/24" dev lo 2>/dev/null

start_listener tcp 127.0.0.1 "$P" && LISTENER_P=$LISTENER_PID &&
	start_listener tcp6 ::1 "$P" &&
	start_listener tcp 127.0.0.1 "$P3" && LISTENER_P3=$LISTENER_PID &&
	start_listener tcp6 ::1 "$P3" &&
	start_listener unix "$SOCKDIR/api.sock" &&
	start_listener unix "$SOCKDIR/free.sock" &&
	start_listener tcp 0.0.0.0 "$PW" || return 1

# the destinations per protocol: protected, unprotected
declare -A DEST=(
	[tcp4]="tcp 127.0.0.1 $P" [tcp6]="tcp6 ::1 $P" [unix]="unix $SOCKDIR/api.sock"
)
declare -A FREE=(
	[tcp4]="tcp 127.0.0.1 $P3" [tcp6]="tcp6 ::1 $P3" [unix]="unix $SOCKDIR/free.sock"
)
declare -A HOOK=([tcp4]=connect4 [tcp6]=connect6 [unix]=connect_unix)
PROTOS=(tcp4 tcp6 unix)

# ---- the policies ---------------------------------------------------------
ENDPOINTS="endpoint api {
    tcp 127.0.0.1:$P
    tcp [::1]:$P
}
endpoint sock unix $SOCKDIR/api.sock"

# 1 rule: the allowed subject is uid 1001, the denied one (uid 1002) falls
# to the default
{
	echo "$ENDPOINTS"
	echo "allow { api, sock } from user 1001"
} >"$TMP/p1.conf"

# a listener wider than its endpoint: 127.0.0.1:PW named, 0.0.0.0:PW bound,
# connects to the host's other address judged as the endpoint
{
	echo "endpoint wide tcp 127.0.0.1:$PW"
	echo "allow wide from user 1001"
} >"$TMP/wide.conf"

# a small realistic policy (the README's shape): a unit-like cgroup AND a
# user, a remapped range, root, a group. Every dimension is in play: the
# cgroup walk, the group scan, the uid lookup.
{
	echo "$ENDPOINTS"
	echo "allow { api, sock } from cgroup $BCGPATH/dg/nginx.service user 1001"
	echo "deny { api, sock } from user 100000-165535"
	echo "allow { api, sock } from user 0"
	echo "allow sock from group 4242"
} >"$TMP/mixed.conf"

# 4096 rules, one uid each; the allowed subject matches the last one
{
	echo "$ENDPOINTS"
	awk 'BEGIN { for (r = 0; r < 4095; r++) printf "allow { api, sock } from user %d\n", 300000 + r }'
	echo "allow { api, sock } from user 1001"
} >"$TMP/r4096.conf"

# 65536 subjects: 4096 rules of 16 uids; uid 1001 is in the last rule
{
	echo "$ENDPOINTS"
	awk 'BEGIN {
		for (r = 0; r < 4096; r++) {
			b = 300000 + r * 16
			printf "allow { api, sock } from user { %d", r == 4095 ? 1001 : b
			for (i = 1; i < 16; i++)
				printf ", %d", b + i
			printf " }\n"
		}
	}'
} >"$TMP/s65536.conf"

# 4096 cgroup rules (containers and units are cgroup paths to the kernel);
# the allowed subject is in the last one's cgroup
{
	echo "$ENDPOINTS"
	awk -v base="$BCGPATH/dg" 'BEGIN { for (r = 0; r < 4095; r++) printf "allow { api, sock } from cgroup %s/g%d\n", base, r }'
	echo "allow { api, sock } from cgroup $BCGPATH/dg/nginx.service"
} >"$TMP/c4096.conf"

# the compiler's hard cases (compile only: `check`): 4096 rules of 16
# one-component cgroups each (65536 trie nodes), and 65536 distinct gids
{
	echo "$ENDPOINTS"
	awk 'BEGIN {
		for (r = 0; r < 4096; r++) {
			printf "allow { api, sock } from cgroup { /cg%d_0", r
			for (i = 1; i < 16; i++)
				printf ", /cg%d_%d", r, i
			printf " }\n"
		}
	}'
} >"$TMP/cg65536.conf"
{
	echo "$ENDPOINTS"
	awk 'BEGIN {
		for (r = 0; r < 4096; r++) {
			printf "allow { api, sock } from group { %d", 400000 + r * 16
			for (i = 1; i < 16; i++)
				printf ", %d", 400000 + r * 16 + i
			printf " }\n"
		}
	}'
} >"$TMP/g65536.conf"
