#!/bin/bash
# /init of a kernel-matrix guest (see build-initramfs.sh): mounts what the
# suites need, runs them, prints their output on the serial console between
# markers the host parses (run.sh), and powers the machine off.
#
# Kernel command line (set by boot.sh):
#   dg.suites=kernel,security    the suites to run (tests/NAME/run.sh)
#   dg.timeout=SECONDS           per suite; a suite past it is killed
#   dg.env=NAME=VALUE            exported to the suites (any number of them)
#
# Markers, one line each:
#   KM-INIT uptime=SECONDS release=RELEASE    /init started
#   KM-BEGIN NAME                             a suite starts
#   KM-END NAME rc=N seconds=S                it ended (rc 124: timed out)
#   KM-DONE                                   all suites ran; powering off
export PATH=/usr/sbin:/usr/bin:/bb
export HOME=/root TERM=dumb LC_ALL=C.UTF-8
umask 022

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# what udev would add: bash's <(...) needs /dev/fd
ln -s /proc/self/fd /dev/fd
ln -s fd/0 /dev/stdin
ln -s fd/1 /dev/stdout
ln -s fd/2 /dev/stderr
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=755 tmpfs /run
# cgroup v2 where systemd puts it; the tests find it in /proc/self/mounts
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t bpf bpf /sys/fs/bpf
# dockguard reads the active LSMs in /sys/kernel/security/lsm
mount -t securityfs securityfs /sys/kernel/security
# the kernel's messages would interleave with the suites' lines
dmesg -n 1
hostname dg-guest 2>/dev/null
# the modules modules-cpio.sh put in for this kernel (veth, ...)
while read -r m; do
	modprobe "$m" || echo "KM-NOTE modprobe $m failed"
done 2>/dev/null </etc/dg-modules
ip link set lo up

exec </dev/null >/dev/console 2>&1

# (after a newline: the firmware's screen codes end without one)
echo
echo "KM-INIT uptime=$(cut -d' ' -f1 /proc/uptime) release=$(uname -r)"

cmdline=$(cat /proc/cmdline)
suites=kernel
timeout=900
for w in $cmdline; do
	case $w in
	dg.suites=*) suites=${w#dg.suites=} ;;
	dg.timeout=*) timeout=${w#dg.timeout=} ;;
	dg.env=[A-Za-z_]*=*) export "${w#dg.env=}" ;;
	esac
done

for s in ${suites//,/ }; do
	echo "KM-BEGIN $s"
	t0=$(date +%s%N)
	# just before the timeout: what is still running, to tell where it hangs
	(
		sleep $((timeout > 10 ? timeout - 5 : timeout))
		echo "KM-NOTE $s still running after $((timeout > 10 ? timeout - 5 : timeout)) s:"
		ps -eo pid,ppid,stat,etime,wchan:24,args
	) &
	watchdog=$!
	timeout -k 10 "$timeout" "/dg/tests/$s/run.sh" /dg/build
	rc=$?
	kill "$watchdog" 2>/dev/null
	t1=$(date +%s%N)
	ms=$(((t1 - t0) / 1000000))
	echo "KM-END $s rc=$rc seconds=$((ms / 1000)).$(printf %03d $((ms % 1000)))"
done

echo "KM-DONE"
sync
# ACPI power off ends qemu; if that fails, /init exits, the kernel panics,
# and with panic=-1 and qemu's -no-reboot that ends qemu as well
poweroff -f
exit 1
