#!/bin/bash
# Prints the kernel matrix from run.sh's results.tsv and writes it as JSON.
#
#   tests/kernel-matrix/report.sh RESULTS_TSV MATRIX_JSON [TOTAL_SECONDS]
#
# The last line, `kernel-matrix: N passed, N failed`, adds up the tests of
# every suite on every kernel (a suite that did not report counts as one
# failure), in the form tests/run-all.sh reads. Exit status 0 only when every
# suite run passed.
set -euo pipefail
tsv=${1:?usage: report.sh RESULTS_TSV MATRIX_JSON [TOTAL_SECONDS]}
json=${2:?usage: report.sh RESULTS_TSV MATRIX_JSON [TOTAL_SECONDS]}
total=${3:-}

echo
echo "kernel matrix"
awk -F'\t' '
NR == 1 { next }
{
	if (!header++)
		printf "%-9s %-6s %-28s %-9s %-7s %6s %6s %8s %5s %6s\n", "KERNEL", "WHERE", "RELEASE",
			"SUITE", "RESULT", "PASSED", "FAILED", "SECONDS", "BOOT", "GUEST"
	printf "%-9s %-6s %-28s %-9s %-7s %6d %6d %8s %5s %6s\n", $1, $2, $3, $4, $7, $5, $6, $8,
		($9 == "" ? "-" : $9), ($10 == "" ? "-" : $10)
	if ($11 != "") printf "        %s\n", $11
}' "$tsv"

# JSON: one object per kernel x suite; strings escaped for JSON
awk -F'\t' -v total="$total" '
function js(s) {
	gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); gsub(/\t/, " ", s)
	return "\"" s "\""
}
function num(s) { return s == "" ? "null" : s + 0 }
NR == 1 { next }
{
	rows[n++] = sprintf("{\"kernel\":%s,\"where\":%s,\"release\":%s,\"suite\":%s,\"passed\":%d," \
		"\"failed\":%d,\"result\":%s,\"seconds\":%s,\"boot_seconds\":%s,\"guest_seconds\":%s," \
		"\"note\":%s}",
		js($1), js($2), js($3), js($4), $5, $6, js($7), num($8), num($9), num($10), js($11))
}
END {
	printf "{\"results\":["
	for (i = 0; i < n; i++) printf "%s%s", (i ? "," : ""), rows[i]
	printf "],\"total_seconds\":%s}\n", num(total)
}' "$tsv" >"$json.tmp"
mv "$json.tmp" "$json"

read -r runs bad passed failed < <(awk -F'\t' '
NR == 1 { next }
{ runs++; p += $5; f += $6; if ($7 != "passed") { bad++; if ($6 == 0) f++ } }
END { print runs + 0, bad + 0, p + 0, f + 0 }' "$tsv")
echo "$runs suite runs, $((runs - bad)) passed, $bad failed${total:+; ${total} s in all}; JSON: $json"
echo "kernel-matrix: $passed passed, $failed failed"
((bad == 0))
