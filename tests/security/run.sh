#!/bin/bash
# Security tests: the bypass catalog (every way a denied subject might still
# reach a protected endpoint, each asserting the real outcome), raw sockets,
# reloads under load. Real hooks on a private test cgroup and bpffs, in a
# private network namespace; ends with `security: N passed, N failed`.
#
#   tests/security/run.sh [BUILD_DIR] [TEST_GLOB]
#
# TEST_GLOB may also come from DG_SECURITY_TESTS (e.g. through the kernel
# matrix's KM_GUEST_ENV, to run a few files in a guest).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build=$root/$build
only=${2:-${DG_SECURITY_TESTS:-t_*.sh}}

source "$root/tests/kernel/lib.sh"
enter_private_netns security "$0" "$@"

DG=$build/dockguard
PROBE=$build/dg-probe
BUILD=$build
setup || { echo "security: 0 passed, 1 failed"; exit 1; }
ip link set lo up

# Each test file gets a fresh policy state: it loads its own policy and may
# create sub-cgroups of $CG; the pins and cgroup go away on exit.
for t in "$here"/$only; do
	[[ -e $t ]] || continue
	echo "-- $(basename "$t")"
	source "$t"
done

echo "security: $PASS passed, $FAIL failed"
((FAIL == 0))
