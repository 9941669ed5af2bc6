#!/bin/bash
# Prints a bench.json (tools/bench/run.sh) as tables, the targets last.
#
#   tools/bench/report.sh BUILD_DIR/bench.json
set -euo pipefail
json=${1:?usage: report.sh BENCH_JSON}

jq -r '
def spaces($n): [range(0; [$n, 0] | max)] | map(" ") | join("");
def l($n): tostring | . + spaces($n - length);
def r($n): tostring | spaces($n - length) + .;
def f1: if . == null then "-" else . * 10 | round / 10 | tostring end;
def f3: if . == null then "-" else . * 1000 | round / 1000 | tostring end;
def hook($c; $p; $s; $f): first(.results[] | select(.section == "hook" and .case == $c and .proto == $p
	and .subject == $s) | .[$f]) // null;
# the hook figures of field $f: a row per case, allow / deny per protocol
def table($f): . as $all
  | "   \("case" | l(52))\("tcp4 allow/deny" | r(18))\("tcp6 allow/deny" | r(18))\("unix allow/deny" | r(18))",
    ([.results[] | select(.section == "hook") | {case: .case, label: .label}] | unique_by(.case)
     | sort_by(.case as $k | ["empty", "fast", "p1", "mixed", "r4096", "s65536", "c4096"] | index($k)) [] as $c
     | "   \($c.label | l(52))" + ([["tcp4", "tcp6", "unix"][] as $p
	| if ($all | hook($c.case; $p; "any"; $f)) != null then ($all | hook($c.case; $p; "any"; $f) | f1)
	  else "\($all | hook($c.case; $p; "allow"; $f) | f1) / \($all | hook($c.case; $p; "deny"; $f) | f1)" end
	| r(18)] | join("")));
. as $all
| .meta as $m
| "dockguard bench \($m.date): kernel \($m.kernel), \($m.cpus) CPUs, \($m.build) @ \($m.commit)",
  "load average \($m.loadavg_start) at the start, \($m.loadavg_end) at the end; \($m.seconds) s",
  "Figures are medians of repeated runs on a shared machine: expect a few % of noise.",
  "",
  "1. Hook cost per connect: bpf_stats run_time_ns / run_cnt (median of \($m.reps) runs)",
  "   a) the connect hook (connect4 / connect6 / connect_unix), ns per run",
  table("ns_per_run"),
  "   b) every program dockguard attached (the connect hook and any other a connect runs), ns per connect",
  table("all_programs_ns_per_connect"),
  "   programs run per connect, protected, 1 rule:",
  (.results[] | select(.section == "hook" and .case == "p1" and .runs_per_connect != null)
   | "     \(.proto) \(.subject | l(6)) " + (.runs_per_connect | to_entries | map("\(.key) \(.value)") | join(", "))),
  "   programs: " + ([.results[] | select(.section == "prog" and .prog == "dockguard")
	| "\(.name) \(.insns_xlated) insns, \(.bytes_jited) B jited"] | join("; ")),
  (.results[] | select(.section == "hook" and .error != null) | "   ERROR \(.case) \(.proto) \(.subject): \(.error)"),
  "",
  "2. End to end: loopback TCP connect + close loop, as uid 1001 (median over rounds)",
  "   \("configuration" | l(40))\("p50 us" | r(9))\("p99 us" | r(9))\("conn/s" | r(9))\("x p50" | r(8))\("x rate" | r(8))\("+us" | r(8))",
  (.results[] | select(.section == "e2e")
   | "   \(.label | l(40))\(.p50_us | f1 | r(9))\(.p99_us | f1 | r(9))\(.rate | r(9))\(.ratio_p50 | f3 | r(8))\(.ratio_rate | f3 | r(8))\(.added_us | f1 | r(8))"),
  (first(.results[] | select(.section == "e2e" and .iptables != null) | "   (\(.iptables), rules in a private network namespace)") // empty),
  (first(.results[] | select(.section == "e2e")) | "   client pinned to CPU 1, listener to CPU 0: \(if .pinned then "yes" else "no" end); bpf_stats during these runs: \(.bpf_stats)"
     + (if .bpf_stats == "on" then " (switched on by someone else: every program run pays its clock reads)" else "" end)),
  "",
  "3. Policy compile and swap (median of \($m.reps) loads; swap = what `dockguard load` reports)",
  "   \("policy" | l(34))\("compile" | r(9))\("load" | r(9))\("swap" | r(9))\("grace" | r(9))\("1st swap" | r(10))   ms",
  (.results[] | select(.section == "swap")
   | "   \(.label | l(34))\(.check_ms | f1 | r(9))\(.load_ms | f1 | r(9))\(.swap_ms | f1 | r(9))\(.grace_ms | f1 | r(9))\(.first_swap_ms | f1 | r(10))"),
  "   compile = `dockguard check` (process start, parse, compile); grace = the swap'"'"'s membarrier(), by strace",
  "",
  "4. Denied-connect flood, daemon running (4 subjects in parallel)",
  "   \("run" | l(52))\("denials/s" | r(10))\("counted" | r(10))\("events" | r(8))\("suppr." | r(9))\("drops" | r(7))\("logged" | r(8))\("CPU %" | r(7))\("RSS MB" | r(8))",
  (.results[] | select(.section == "flood")
   | "   \(.label | l(52))\(.denials_per_s | r(10))\(if .all_counted then "all" else "\(.counted)/\(.denials)" end | r(10))\(.events_reported | r(8))\(.events_suppressed | r(9))\(.ring_drops | r(7))\(.daemon_logged | r(8))\(.daemon_cpu_pct | r(7))\(.rss_kb_peak / 1024 | f1 | r(8))"),
  "",
  "5. Container identity (private dockerd, plain runc)",
  (first(.results[] | select(.section == "docker")) // {skipped: "not run"}
   | if .skipped then "   skipped: \(.skipped)"
     else "   \(.measured) of \(.containers) containers: create event -> identity in force \(.create_to_force_ms | f1) ms median (max \(.create_to_force_max_ms | f1)); `docker run` -> in force \(.cli_to_force_ms | f1) ms; in force \(-.start_to_force_ms | f1) ms before the start event (median), before start for \(.in_force_before_start) of \(.measured)",
	  "   check: a container the policy names connects: \(if .named_container_allowed then "yes" else "NO" end); one it does not is refused: \(if .other_container_refused then "yes" else "NO" end)"
     end),
  "",
  "6. Where the hook time goes: perf cpu-clock samples inside the hook, by running function",
  (if any(.results[]; .section == "profile") | not then "   not measured (perf not installed, or BENCH_PROFILE=0)" else empty end),
  (.results[] | select(.section == "profile")
   | "   \(.case | l(16)) \(.hook_samples) samples: " + ([.top[:6][] | "\(.fn) \(.pct)%"] | join(", "))),
  (first(.results[] | select(.section == "profile" and .bpf_stats == "on"))
   | "   (bpf_stats were on - switched on by someone else - so clock reads, pvclock and read_tsc, are partly their accounting)") // empty,
  "",
  "7. The API relay and its peers (private dockerd; keep-alive clients, one process each)",
  (first(.results[] | select(.section == "relay" and .skipped != null)) | "   skipped: \(.skipped)") // empty,
  (if any(.results[]; .section == "relay" and .rps != null) then
     "   \("" | l(8))\("request" | l(18))\("clients" | r(8))\("req/s" | r(9))\("p50 us" | r(8))\("p99 us" | r(8))\("p50 / direct" | r(14))\("req/s / direct" | r(16))"
   else empty end),
  ([.results[] | select(.section == "relay" and .rps != null)] as $rows
   | $rows[] | . as $r
   | (first($rows[] | select(.how == "direct" and .target == $r.target and .clients == $r.clients)) // null) as $d
   | "   \(.how | l(8))\(.target | l(18))\(.clients | r(8))\(.rps | r(9))\(.p50_us | r(8))\(.p99_us | r(8))\(if $d then (.p50_us / $d.p50_us | f1) + "x" else "" end | r(14))\(if $d then (100 * .rps / $d.rps | floor | tostring) + " %" else "" end | r(16))"),
  (.results[] | select(.section == "relay" and .error != null) | "   ERROR \(.how) \(.target) x\(.clients): \(.error)"),
  ([.results[] | select(.section == "relay" and .mb_per_s != null)] as $st
   | (first($st[] | select(.how == "direct")) // null) as $d
   | $st[] | "   \(.how | l(8))docker cp of \(.stream_mib) MiB: \(.mb_per_s) MB/s\(if $d then " (\(100 * .mb_per_s / $d.mb_per_s | floor) % of direct)" else "" end)"),
  (.results[] | select(.section == "relay" and .idle_connections != null)
   | "   relay process: \(.rss_kb_before / 1024 | f1) MB RSS idle, \(.rss_kb / 1024 | f1) MB with \(.idle_connections) idle connections"),
  "",
  "Targets",
  "   \("target" | l(66)) \("result" | l(6)) measured",
  (.targets[] | "   \(.target | l(66)) \(if .pass == null then "n/a" elif .pass then "pass" else "MISS" end | l(6)) \(.measured)")
' "$json"
