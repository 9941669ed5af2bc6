#!/bin/bash
# Kernel tests: real hooks on a test cgroup, real connects, real EPERMs.
# Runs in a private network namespace; ends with `kernel: N passed, N failed`.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build=$root/$build

if [[ ${DG_IN_NETNS:-} != 1 ]]; then
	if ((EUID != 0)); then
		echo "kernel tests need root (BPF, cgroups, network namespaces): skipped"
		echo "kernel: 0 passed, 0 failed"
		exit 0
	fi
	if [[ ! -r /sys/kernel/btf/vmlinux ]]; then
		echo "kernel has no BTF: skipped"
		echo "kernel: 0 passed, 0 failed"
		exit 0
	fi
	DG_IN_NETNS=1 exec unshare --net "$0" "$@"
fi

source "$here/lib.sh"
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
