#!/bin/bash
# Fuzzing as a test: builds the libFuzzer targets (make fuzz-build) and runs
# each for FUZZ_SECONDS (default 15, so ~120 s for the eight). A target passes when
# libFuzzer ends its time without a crash, a sanitizer report, a leak, a
# timeout (10 s per input) or running out of memory (2 GiB). Ends with
# `fuzz: N passed, N failed`. Skipped (0 passed) when clang's libFuzzer is
# not installed (Debian: libclang-rt-14-dev, from tools/install-deps.sh).
#
#   tests/fuzz/run.sh [FUZZ_BUILD_DIR]      (default build-fuzz)
#
# Corpora grow in FUZZ_BUILD_DIR/corpus-* across runs; a finding is written
# to FUZZ_BUILD_DIR/artifacts/ and replays with
# `FUZZ_BUILD_DIR/fuzz-TARGET ARTIFACT`.
set -uo pipefail
cd "$(dirname "$0")/../.."
fb=${1:-build-fuzz}
secs=${FUZZ_SECONDS:-15}
targets=(policy docker event request bundle iptables guard visible)
pass=0
fail=0

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n); int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }' >"$tmp/probe.c"
if ! command -v clang >/dev/null ||
	! clang -fsanitize=fuzzer,address,undefined "$tmp/probe.c" -o "$tmp/probe" 2>"$tmp/probe.err"; then
	echo "skip fuzzing: clang cannot build a libFuzzer target ($(head -n 1 "$tmp/probe.err" 2>/dev/null));" \
		"install clang and libclang-rt-14-dev (tools/install-deps.sh)"
	echo "fuzz: 0 passed, 0 failed"
	exit 0
fi

if ! make -s FUZZ_BUILD="$fb" fuzz-build >"$tmp/build.log" 2>&1; then
	tail -n 20 "$tmp/build.log"
	echo "FAIL fuzz: the targets do not build (make fuzz-build FUZZ_BUILD=$fb)"
	echo "fuzz: 0 passed, 1 failed"
	exit 1
fi

mkdir -p "$fb/artifacts" "$fb/corpus-policy" "$fb/corpus-docker" "$fb/corpus-event" "$fb/corpus-request" \
	"$fb/corpus-bundle" "$fb/corpus-iptables" "$fb/corpus-guard" "$fb/corpus-visible"
cp policies/*.conf policies/examples/*.conf "$fb/corpus-policy/"
cp tests/fuzz/corpus-docker/* "$fb/corpus-docker/"
cp tests/fuzz/corpus-request/* "$fb/corpus-request/"
cp tests/fuzz/corpus-bundle/* "$fb/corpus-bundle/"
cp tests/fuzz/corpus-iptables/* "$fb/corpus-iptables/"
cp tests/fuzz/corpus-guard/* "$fb/corpus-guard/"
cp tests/fuzz/corpus-visible/* "$fb/corpus-visible/"

for t in "${targets[@]}"; do
	dict=()
	[[ -e tests/fuzz/$t.dict ]] && dict=(-dict="tests/fuzz/$t.dict")
	log=$tmp/$t.log
	# -max_len: policies up to 64 KiB (the parser's 1 MiB limit is a CLI
	# test); API answers as large as their interesting framing needs
	"$fb/fuzz-$t" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$fb/artifacts/$t-" "${dict[@]}" \
		"$fb/corpus-$t" >"$log" 2>&1
	status=$?
	runs=$(grep -o '^stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
	if ((status == 0)) && grep -q '^Done [0-9]* runs' "$log"; then
		echo "ok   fuzz $t: ${runs:-?} executions in ${secs} s, no crash, leak or timeout" \
			"(corpus $(ls "$fb/corpus-$t" | wc -l) inputs)"
		pass=$((pass + 1))
	else
		echo "FAIL fuzz $t: exit $status after ${runs:-?} executions"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written|.*runtime error)' "$log" |
			head -n 10 | sed 's/^/    /'
		echo "    replay: $fb/fuzz-$t $(grep -o "$fb/artifacts/$t-[^ ]*" "$log" | tail -n 1)"
		fail=$((fail + 1))
	fi
done

echo "fuzz: $pass passed, $fail failed"
((fail == 0))
