#!/bin/bash
# Runs every suite: unit tests, CLI tests, the relay, kernel tests. Each suite prints
# its own `NAME: N passed, N failed`; this script adds them up and ends with
# the total line. Exit status 1 if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
asan=${2:-}	# optional ASan + UBSan build of the same sources

total_pass=0
total_fail=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run_suite() {
	local name=$1
	shift
	echo "== $name"
	"$@" 2>&1 | tee "$log"
	local status=${PIPESTATUS[0]}
	local line
	line=$(grep -E '^[a-z0-9-]+: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	if [[ -z $line ]]; then
		echo "$name: suite did not report (exit $status)"
		total_fail=$((total_fail + 1))
		return
	fi
	local p f
	p=$(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")
	f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	if ((status != 0 && f == 0)); then
		echo "$name: exited $status"
		total_fail=$((total_fail + 1))
	fi
}

run_suite unit bash -c "cd tests/unit && ../../$build/unit-tests"
if [[ -n $asan ]]; then
	export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1
	run_suite unit-asan bash -c "cd tests/unit && ../../$asan/unit-tests | sed 's/^unit:/unit-asan:/'"
	run_suite cli-asan bash -c "tests/cli/run.sh '$asan' | sed 's/^cli:/cli-asan:/'"
	run_suite relay-asan bash -c "tests/relay/run.sh '$asan' | sed 's/^relay:/relay-asan:/'"
fi
run_suite cli tests/cli/run.sh "$build"
run_suite relay tests/relay/run.sh "$build"
run_suite fuzz tests/fuzz/run.sh build-fuzz
run_suite kernel tests/kernel/run.sh "$build"
run_suite security tests/security/run.sh "$build"
run_suite e2e tests/e2e/run.sh "$build"
run_suite e2e-relay tests/e2e/relay.sh "$build"
run_suite e2e-fleet tests/e2e/fleet.sh "$build"
run_suite e2e-swarm tests/e2e/fleet-swarm.sh "$build"
run_suite engine tests/e2e/audit.sh "$build"

echo
echo "$total_pass passed, $total_fail failed"
((total_fail == 0))
