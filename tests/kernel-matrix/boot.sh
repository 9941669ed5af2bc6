#!/bin/bash
# Boots one kernel-matrix guest under qemu (software emulation) and relays its
# serial console.
#
#   tests/kernel-matrix/boot.sh KERNEL INITRAMFS LOG SUITES SUITE_TIMEOUT TIMEOUT [NAME=VALUE...]
#
# NAME=VALUE: environment of the suites in the guest (no spaces in VALUE).
# KM_LSM: the kernel's lsm= list (default lockdown,capability,landlock,bpf).
# KM_APPEND: more kernel parameters.
# SUITES: comma-separated (kernel,security). The console goes to stdout and to
# LOG (carriage returns removed); LOG.times has the same lines, each after the
# host's clock when it arrived, between a "start" and an "end" line: the KM-
# marker lines there (see guest-init.sh) give the boot and suite times.
# The whole guest is killed after TIMEOUT seconds: it can never hang a run.
# Exit status: qemu's, or 124 on timeout.
set -uo pipefail
kernel=$1 initrd=$2 log=$3 suites=$4 suite_timeout=$5 timeout=$6
shift 6

# The BPF LSM is enabled as well (lsm=...,bpf: dockguard judges unix
# endpoints with it); panic=-1 + -no-reboot: a crashed guest ends qemu.
# mitigations=off: emulated, the speculation barriers on every kernel entry
# cost about half the run (measured on 6.12); they change nothing the suites
# test (the verifier skips its speculation checks for root's loads anyway).
append="console=ttyS0 panic=-1 quiet loglevel=3 mitigations=off"
append+=" lsm=${KM_LSM:-lockdown,capability,landlock,bpf}"
append+=" dg.suites=$suites dg.timeout=$suite_timeout"
for kv in "$@"; do append+=" dg.env=$kv"; done
append+=${KM_APPEND:+ $KM_APPEND}	# more kernel parameters, for experiments

: >"$log"
echo "$EPOCHREALTIME start" >"$log.times"
# /dev/kvm cannot run these kernels here: tcg (emulation), a CPU with every
# feature qemu emulates
# --foreground: qemu stays in our process group, so that stopping the run
# (Ctrl-C, a CI job cancelled) stops the guest too
timeout --foreground -k 10 "$timeout" qemu-system-x86_64 \
	-nographic -no-reboot -nic none \
	-accel tcg -cpu max -smp 2 -m 1G \
	-kernel "$kernel" -initrd "$initrd" -append "$append" </dev/null |
	while IFS= read -r line; do
		line=${line%$'\r'}
		printf '%s %s\n' "$EPOCHREALTIME" "$line" >>"$log.times"
		printf '%s\n' "$line" >>"$log"
		printf '%s\n' "$line"
	done
rc=${PIPESTATUS[0]}
echo "$EPOCHREALTIME end" >>"$log.times"
exit "$rc"
