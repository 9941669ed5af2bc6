#!/bin/bash
# Kernel tests: real hooks on a test cgroup, real connects, real EPERMs.
# Runs in a private network namespace; ends with `kernel: N passed, N failed`.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build=$root/$build

source "$here/lib.sh"
enter_private_netns kernel "$0" "$@"

DG=$build/dockguard
PROBE=$build/dg-probe
setup || { echo "kernel: 0 passed, 1 failed"; exit 1; }
ip link set lo up

for t in "$here"/t_*.sh; do
	echo "-- $(basename "$t")"
	source "$t"
done

echo "kernel: $PASS passed, $FAIL failed"
((FAIL == 0))
