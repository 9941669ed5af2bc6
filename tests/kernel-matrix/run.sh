#!/bin/bash
# The kernel matrix: dockguard's kernel-level suites on several kernels. Each
# guest kernel boots under qemu (software emulation) with an initramfs holding
# the build and the suites; "host" runs the suites on this machine's kernel.
# Prints a matrix (kernel x suite x result) and writes it as JSON.
#
#   tests/kernel-matrix/run.sh [BUILD_DIR]
#
# Environment:
#   KM_KERNELS        kernels, space or comma separated: a Debian series
#                     (6.1, 6.12; see fetch-kernel.sh), the same with
#                     -nolsm (booted without the BPF LSM: 6.1-nolsm is a
#                     kernel where nothing can judge unix connects), or "host"
#                     (default: 6.1 6.1-nolsm 6.12 host)
#   KM_SUITES         suites (default: kernel, and security when
#                     tests/security has tests)
#   KM_MODULES        kernel modules the guests load (default: veth for a
#                     container namespace, inet_diag, tcp_diag and unix_diag for sock_diag)
#   KM_GUEST_ENV      NAME=VALUE... for the suites in the guests, which run
#                     some 20 times slower than on the host: by default
#                     tests/security/t_50 does 50 policy swaps and 5 daemon
#                     restarts and 2 take-overs there instead of 1000, 20 and 10, and wants 1000
#                     connects judged per phase instead of 10000
#   KM_CACHE          downloaded kernels (default: BUILD_DIR/kernels)
#   KM_OUT            logs, results.tsv, matrix.json (default: BUILD_DIR/kernel-matrix)
#   KM_SUITE_TIMEOUT  seconds per suite before it is killed (default 1200)
#   KM_GUEST_TIMEOUT  seconds per guest before qemu is killed (default:
#                     the suites' timeouts + 120)
# Exit status 0 only when every suite on every kernel reported 0 failures.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build=$root/$build
kernels=${KM_KERNELS:-6.1 6.1-nolsm 6.12 host}
kernels=${kernels//,/ }
cache=${KM_CACHE:-$build/kernels}
out=${KM_OUT:-$build/kernel-matrix}
suite_timeout=${KM_SUITE_TIMEOUT:-1200}
modules=${KM_MODULES-veth,inet_diag,tcp_diag,unix_diag}
guest_env=${KM_GUEST_ENV-R50_SWAPS=50 R50_RESTARTS=5 R50_BUILDS=2 R50_MIN=1000}

if [[ -n ${KM_SUITES:-} ]]; then
	suites=${KM_SUITES//,/ }
else
	suites=kernel
	compgen -G "$root/tests/security/t_*.sh" >/dev/null && suites+=" security"
fi
n_suites=$(wc -w <<<"$suites")
guest_timeout=${KM_GUEST_TIMEOUT:-$((n_suites * suite_timeout + 120))}

if ((EUID != 0)); then
	# the suites attach BPF programs; the initramfs holds device nodes
	echo "kernel-matrix: needs root" >&2
	exit 1
fi
for need in qemu-system-x86_64 cpio; do
	if ! command -v "$need" >/dev/null; then
		echo "kernel-matrix: $need is missing; run tools/install-deps.sh" >&2
		exit 1
	fi
done

mkdir -p "$out"
tsv=$out/results.tsv
printf 'kernel\twhere\trelease\tsuite\tpassed\tfailed\tresult\tseconds\tboot_seconds\tguest_seconds\tnote\n' >"$tsv"
t_start=$EPOCHREALTIME

# elapsed FROM TO: seconds between two $EPOCHREALTIME values, 1 decimal
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# report_line SUITE LOG: "P F" from the suite's last `SUITE: P passed, F failed`
report_line() {
	grep -E "^$1: [0-9]+ passed, [0-9]+ failed" "$2" | tail -n 1 |
		sed -E 's/^[^:]+: ([0-9]+) passed, ([0-9]+) failed.*/\1 \2/'
}

# row KERNEL WHERE RELEASE SUITE LOG RC SECONDS BOOT GUEST: one line of
# results.tsv (BOOT: qemu start -> /init; GUEST: qemu start -> exit)
row() {
	local kernel=$1 where=$2 release=$3 suite=$4 log=$5 rc=$6 secs=$7 boot=$8 guest=$9
	local counts passed=0 failed=0 result note=
	counts=$(report_line "$suite" "$log")
	if [[ -n $counts ]]; then
		read -r passed failed <<<"$counts"
	fi
	# why it failed: the first FAIL lines, the exit status, a missing report
	result=passed
	if ((failed > 0)); then
		note="$(grep -m 3 '^FAIL ' "$log" | cut -c6- | paste -sd ';' | cut -c1-300)"
	fi
	if [[ $rc == 124 ]]; then
		note="timed out after ${suite_timeout}s${note:+; }$note"
	elif [[ $rc =~ ^[0-9]+$ ]]; then
		((rc == 0 || failed > 0)) || note="exit status $rc${note:+; }$note"
	else
		note="$rc${note:+; }$note"
	fi
	[[ -n $counts ]] || note="no '$suite: N passed, N failed' line${note:+; }$note"
	[[ -z $counts || $rc != 0 || $failed != 0 ]] && result=failed
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$kernel" "$where" "$release" "$suite" \
		"$passed" "$failed" "$result" "$secs" "$boot" "$guest" "${note//$'\t'/ }" >>"$tsv"
}

run_host() {
	local s log t0 t1 rc
	for s in $suites; do
		log=$out/host-$s.log
		echo "== host $(uname -r): $s"
		t0=$EPOCHREALTIME
		timeout -k 10 "$suite_timeout" "$root/tests/$s/run.sh" "$build" 2>&1 | tee "$log" | sed 's/^/[host] /'
		rc=${PIPESTATUS[0]}
		t1=$EPOCHREALTIME
		row host host "$(uname -r)" "$s" "$log" "$rc" "$(elapsed "$t0" "$t1")" "" ""
	done
}

run_guest() {
	local label=$1 series=${1%-nolsm} lsm img log s rc release boot t_begin t_end secs
	log=$out/guest-$label.log
	echo "== guest $label"
	# the BPF LSM too, unless the label says -nolsm
	lsm=lockdown,capability,landlock,bpf
	[[ $label == *-nolsm ]] && lsm=lockdown,capability,landlock
	if ! img=$("$here/fetch-kernel.sh" "$series" "$cache"); then
		for s in $suites; do
			printf '%s\tqemu\t\t%s\t0\t0\tfailed\t0\t\t\tno kernel (fetch-kernel.sh failed)\n' "$label" "$s" >>"$tsv"
		done
		return
	fi
	# the common initramfs, then this kernel's modules
	local initrd=$out/initramfs-$series.cpio
	# shellcheck disable=SC2086 # one word per module
	if ! "$here/modules-cpio.sh" "$img" "$initrd.modules" ${modules//,/ }; then
		echo "kernel-matrix: no modules for $label; the tests that need them will say so" >&2
		: >"$initrd.modules"
	fi
	cat "$initramfs" "$initrd.modules" >"$initrd"
	rm -f "$initrd.modules"
	# shellcheck disable=SC2086 # one word per NAME=VALUE
	KM_LSM=$lsm "$here/boot.sh" "$img" "$initrd" "$log" "${suites// /,}" "$suite_timeout" "$guest_timeout" $guest_env |
		sed "s/^/[$label] /"
	rc=${PIPESTATUS[0]}
	# host clock at each marker (boot.sh): boot = qemu start -> /init
	local times=$log.times start init stop guest
	start=$(awk '$2 == "start" { print $1; exit }' "$times")
	init=$(awk '/KM-INIT / { print $1; exit }' "$times")
	stop=$(awk '$2 == "end" { print $1 }' "$times")
	guest=$(elapsed "$start" "$stop")
	release=$(grep -m 1 -oE 'KM-INIT .*release=[^ ]+' "$log" | sed 's/.*release=//')
	boot=
	[[ -n $init ]] && boot=$(elapsed "$start" "$init")
	for s in $suites; do
		local slog=$out/guest-$label-$s.log
		# the suite's lines: between its KM-BEGIN and KM-END markers
		awk -v s="$s" '$0 == "KM-BEGIN " s { on = 1; next } on && $1 == "KM-END" && $2 == s { exit } on' \
			"$log" >"$slog"
		local end src
		end=$(grep -m 1 -E "^KM-END $s rc=" "$log")
		if [[ -n $end ]]; then
			src=$(sed -E 's/.* rc=([0-9]+).*/\1/' <<<"$end")
		elif ((rc == 124)); then
			src=124
		else
			src="guest ended (qemu $rc) before the suite did"
		fi
		t_begin=$(awk -v s="$s" '$2 == "KM-BEGIN" && $3 == s { print $1; exit }' "$times")
		t_end=$(awk -v s="$s" '$2 == "KM-END" && $3 == s { print $1; exit }' "$times")
		[[ -n $t_end ]] || t_end=$stop
		secs=0
		[[ -n $t_begin ]] && secs=$(elapsed "$t_begin" "$t_end")
		row "$label" qemu "${release:-?}" "$s" "$slog" "$src" "$secs" "$boot" "$guest"
	done
	echo "guest $label: $guest s in all (qemu exit $rc)"
}

initramfs=
for k in $kernels; do
	if [[ $k != host && -z $initramfs ]]; then
		initramfs=$out/initramfs.cpio
		"$here/build-initramfs.sh" "$build" "$initramfs" || exit 1
	fi
done

for k in $kernels; do
	if [[ $k == host ]]; then run_host; else run_guest "$k"; fi
done

"$here/report.sh" "$tsv" "$out/matrix.json" "$(elapsed "$t_start" "$EPOCHREALTIME")"
