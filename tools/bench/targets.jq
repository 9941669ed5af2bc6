# The targets of issue 6, judged from a bench.json's results (run.sh puts
# the outcome in .targets; report.sh prints it). Input: {results: [...]}.
# A target whose figures are missing (section failed or skipped) is listed
# with pass = null.

def r1: . * 10 | round / 10;
def r3: . * 1000 | round / 1000;

def hook($case; $proto; $subject; $field):
	first(.results[] | select(.section == "hook" and .case == $case and .proto == $proto
		and .subject == $subject and .[$field] != null) | .[$field]) // null;
def hook($case; $proto; $subject): hook($case; $proto; $subject; "ns_per_run");

def row($target; $measured; $value; $limit; $ok):
	{target: $target, measured: $measured, value: $value, limit: $limit,
	 pass: (if $value == null then null else $ok end)};

def targets:
	. as $all
	| ["tcp4", "tcp6", "unix"] as $protos
	| [
	  # fast path above the empty program: the connect hook's run, and the
	  # BPF time of every program dockguard attached, per connect (a connect
	  # may also run sock_ops or cgroup_skb programs)
	  ($protos[] as $p
	   | ($all | hook("fast"; $p; "any")) as $f | ($all | hook("empty"; $p; "any")) as $e
	   | (if $f != null and $e != null then $f - $e else null end) as $d
	   | row("fast path <= 50 ns/run above an empty program (\($p))";
		 (if $d == null then "n/a" else "\($d | r1) ns above (\($f) vs \($e))" end);
		 $d; 50; ($d != null and $d <= 50)),
	     (($all | hook("fast"; $p; "any"; "all_programs_ns_per_connect")) as $t
	      | select($t != null and $f != null and $t > $f + 1)
	      | ($t - $e) as $dt
	      | row("fast path, all dockguard programs per connect, <= 50 ns above empty (\($p))";
		    "\($dt | r1) ns above (\($t) vs \($e))"; $dt; 50; ($dt <= 50)))),

	  # protected: the worst protocol and subject of each size
	  (["p1", "mixed", "r4096", "s65536", "c4096"][] as $c
	   | [$all.results[] | select(.section == "hook" and .case == $c and .ns_per_run != null)]
	   | (max_by(.ns_per_run) // null) as $w
	   | ($w.ns_per_run // null) as $v
	   | row("protected <= 150 ns/run: \({p1: "1 rule", mixed: "4 rules, every dimension",
		   r4096: "4096 rules", s65536: "65536 subjects", c4096: "4096 cgroup rules"}[$c])";
		 (if $w == null then "n/a"
		  else "worst \($v) ns (\($w.proto) \($w.subject)), \(($v - ($all | hook("empty"; $w.proto; "any") // 0)) | r1) above empty"
		       + (if $w.all_programs_ns_per_connect != null and $w.all_programs_ns_per_connect > $v + 1
			  then "; all programs \($w.all_programs_ns_per_connect) ns/connect" else "" end) end);
		 $v; 150; ($v != null and $v <= 150))),

	  # size independence: 4096 rules and 65536 subjects against 1 rule
	  (["r4096", "s65536"][] as $c
	   | [$protos[] as $p | ["allow", "deny"][] as $s
	      | ($all | hook($c; $p; $s)) as $big | ($all | hook("p1"; $p; $s)) as $one
	      | select($big != null and $one != null)
	      | {p: $p, s: $s, ratio: ($big / $one)}]
	   | (max_by(.ratio) // null) as $w
	   | row("\(if $c == "r4096" then "4096 rules" else "65536 subjects" end) within 1.2x of 1 rule";
		 (if $w == null then "n/a" else "worst x\($w.ratio | r3) (\($w.p) \($w.s))" end);
		 ($w.ratio // null); 1.2; ($w != null and $w.ratio <= 1.2))),

	  # end to end
	  (["dg_unprotected", "dg_protected"][] as $c
	   | first($all.results[] | select(.section == "e2e" and .config == $c)) // null
	   | row("end to end within 2 % of no hook: \({dg_unprotected: "unprotected port",
		   dg_protected: "protected port, allowed"}[$c])";
		 (if . == null then "n/a"
		  else "x\(.ratio_p50 | r3) median connect, x\(.ratio_rate | r3) rate, \(.added_us | r1) us added (\(.rounds) rounds)" end);
		 (.ratio_p50 // null); 1.02; (. != null and .ratio_p50 <= 1.02))),

	  # policy swap
	  (["r4096", "s65536", "c4096"][] as $c
	   | first($all.results[] | select(.section == "swap" and .case == $c)) // null
	   | row("policy swap <= 50 ms: \({r4096: "4096 rules", s65536: "65536 subjects",
		   c4096: "4096 cgroup rules"}[$c])";
		 (if . == null then "n/a"
		  else "\(.swap_ms) ms (grace period \(.grace_ms // "?") ms; load \(.load_ms) ms, compile \(.check_ms) ms)" end);
		 (.swap_ms // null); 50; (. != null and .swap_ms <= 50))),

	  # the event flood
	  (first($all.results[] | select(.section == "flood" and .case == "paced")) // null
	   | row("flood of >= 100k denied connects/s reached";
		 (if . == null then "n/a" else "\(.denials_per_s)/s from \(.subjects) subjects for \(.seconds) s" end);
		 (.denials_per_s // null); 95000; (. != null and .denials_per_s >= 95000)),
	     row("flood: every denial counted";
		 (if . == null then "n/a"
		  else "\(.counted) of \(.denials) counted; events \(.events_reported) + suppressed \(.events_suppressed) + dropped \(.ring_drops)" end);
		 (.counted // null); (.denials // null); (. != null and .all_counted and .accounted)),
	     row("flood: daemon CPU <= 5 % of a core";
		 (if . == null then "n/a" else "\(.daemon_cpu_pct) % (\(.daemon_cpu_s) s over \(.measured_over_s) s)" end);
		 (.daemon_cpu_pct // null); 5; (. != null and .daemon_cpu_pct <= 5)),
	     row("flood: daemon RSS <= 10 MB";
		 (if . == null then "n/a" else "\(.rss_kb_peak / 1024 | r1) MB peak (VmRSS)" end);
		 (.rss_kb_peak // null); 10240; (. != null and .rss_kb_peak <= 10240))),

	  # the API relay (issue 12)
	  ([$all.results[] | select(.section == "relay" and .rps != null)] as $rows
	   | def cell($how; $t; $c): first($rows[] | select(.how == $how and .target == $t and .clients == $c)) // null;
	     (["/_ping", "/containers/json"][] as $t
	      | (cell("relay"; $t; 1)) as $r | (cell("direct"; $t; 1)) as $d
	      | row("relay p50 <= 1.3x direct: GET \($t), 1 client";
		    (if $r == null or $d == null then "n/a" else "x\($r.p50_us / $d.p50_us | r1) (\($r.p50_us) vs \($d.p50_us) us)" end);
		    (if $r == null or $d == null then null else $r.p50_us / $d.p50_us end); 1.3;
		    ($r != null and $d != null and $r.p50_us <= 1.3 * $d.p50_us))),
	     (["/_ping", "/containers/json"][] as $t
	      | (cell("relay"; $t; 10)) as $r | (cell("direct"; $t; 10)) as $d
	      | row("relay req/s >= 75 % of direct: GET \($t), 10 clients";
		    (if $r == null or $d == null then "n/a" else "\(100 * $r.rps / $d.rps | floor) % (\($r.rps) vs \($d.rps))" end);
		    (if $r == null or $d == null then null else $r.rps / $d.rps end); 0.75;
		    ($r != null and $d != null and $r.rps >= 0.75 * $d.rps))),
	     ([$rows[] | select(.how == "relay") | . as $r
	       | [$rows[] | select((.how == "nginx" or .how == "haproxy") and .target == $r.target and .clients == $r.clients)]
	       | map(select(.rps > $r.rps or .p50_us < $r.p50_us) | "\(.how) \(.target) x\(.clients)")[]] as $behind
	      | ([$rows[] | select(.how == "nginx" or .how == "haproxy")] | length) as $peers
	      | row("relay ahead of nginx and HAProxy on every row (req/s and p50)";
		    (if $peers == 0 then "n/a (no peer installed)" elif ($behind | length) == 0 then "ahead on all \($peers) peer rows"
		     else "behind: \($behind | join(", "))" end);
		    (if $peers == 0 then null else ($behind | length) end); 0; ($peers > 0 and ($behind | length) == 0)))),
	  ((first($all.results[] | select(.section == "relay" and .how == "relay" and .mb_per_s != null)) // null) as $r
	   | (first($all.results[] | select(.section == "relay" and .how == "direct" and .mb_per_s != null)) // null) as $d
	   | row("relay stream >= 90 % of direct (docker cp out)";
		 (if $r == null or $d == null then "n/a" else "\(100 * $r.mb_per_s / $d.mb_per_s | floor) % (\($r.mb_per_s) vs \($d.mb_per_s) MB/s)" end);
		 (if $r == null or $d == null then null else $r.mb_per_s / $d.mb_per_s end); 0.9;
		 ($r != null and $d != null and $r.mb_per_s >= 0.9 * $d.mb_per_s))),
	  (first($all.results[] | select(.section == "relay" and .idle_connections != null)) // null
	   | row("relay RSS <= 10 MB with 1000 idle connections";
		 (if . == null then "n/a" else "\(.rss_kb / 1024 | r1) MB" end);
		 (.rss_kb // null); 10240; (. != null and .rss_kb <= 10240)))
	];
