#!/bin/bash
# Builds the initramfs the kernel-matrix guests boot: the dockguard build, the
# test suites, and every program the suites run, with their shared libraries.
#
#   tests/kernel-matrix/build-initramfs.sh BUILD_DIR OUTPUT
#
# Layout in the guest (same paths as on this host for programs and libraries,
# so that ldd's answers hold there too):
#   /init                 tests/kernel-matrix/guest-init.sh
#   /dg/build/            the executables of BUILD_DIR (dockguard, dg-probe, ...)
#   /dg/tests, /dg/tools, /dg/policies   from the repository
#   /usr/bin, /usr/sbin   the host's programs listed below (GNU coreutils,
#                         grep, sed, mawk, util-linux, iproute2, bpftool,
#                         python3), so that the tests run the same programs as
#                         on the host
#   /bb                   busybox-static applets: the fallback for anything a
#                         test uses that the list misses (last in PATH)
# The guest has no network and no disk: everything it runs is in here.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:?usage: build-initramfs.sh BUILD_DIR OUTPUT}
out=${2:?usage: build-initramfs.sh BUILD_DIR OUTPUT}
[[ $build = /* ]] || build=$root/$build

# Programs the suites run (tests/kernel/*.sh, lib.sh, tests/security/*.sh),
# looked up in the system PATH (not a user's: python3 must be Debian's).
tools=(
	bash dash
	# coreutils
	basename cat chmod chown chroot comm cp cut date dd dirname env false head id
	kill ln ls mkdir mkfifo mknod mktemp mv nice nproc printf pwd readlink realpath
	rm rmdir seq sleep sort stat sync tail tee test timeout touch tr true uname
	uniq wc xargs yes
	# text
	grep sed mawk find cmp
	# util-linux, iproute2, procps, uidmap
	mount umount findmnt unshare nsenter setpriv flock setsid dmesg ip ss ps free
	sysctl getent newuidmap newgidmap
	# modules (modules-cpio.sh adds them per kernel); the kernel's modprobe
	kmod
	# JSON in the security suite (it falls back to python3)
	jq
	# BPF introspection (t_90 checks that nothing is left attached)
	bpftool
	# control-socket checks in t_60 and t_70; the relay's stand-in API and
	# client in t_65 (tests/relay/*.py)
	python3
)
# Python modules the tests' inline scripts import, with what they pull in
py_imports="socket, sys, os, json, struct, time, select, errno, signal, subprocess, threading, fcntl, tempfile, shutil, re, array, ctypes, argparse, http.server, socketserver, hashlib, urllib.parse"

say() { echo "build-initramfs: $*" >&2; }

for f in dockguard dg-probe; do
	if [[ ! -x $build/$f ]]; then
		say "$build/$f is missing; build first (make BUILD=$(basename "$build") all)"
		exit 1
	fi
done
busybox=$(PATH=/usr/bin:/bin command -v busybox || true)
if [[ -z $busybox ]] || ldd "$busybox" >/dev/null 2>&1; then
	say "needs a static busybox (apt-get install busybox-static)"
	exit 1
fi
command -v cpio >/dev/null || { say "needs cpio (apt-get install cpio)"; exit 1; }

stage=$(mktemp -d "${TMPDIR:-/tmp}/dg-initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
chmod 755 "$stage"	# the guest's /: every uid the tests switch to must traverse it

# merged /usr as on Debian 12, so that /bin/bash and /lib64/ld-linux-* resolve
mkdir -p "$stage"/{usr/bin,usr/sbin,usr/lib,usr/lib64,dev,proc,sys,tmp,run,root,etc,bb,dg/build}
for d in bin sbin lib lib64; do ln -s "usr/$d" "$stage/$d"; done
mkdir -p "$stage/var" && ln -s ../run "$stage/var/run"
chmod 1777 "$stage/tmp"
# the console the kernel opens for /init before devtmpfs is mounted
mknod -m 600 "$stage/dev/console" c 5 1
mknod -m 666 "$stage/dev/null" c 1 3

# copy_file PATH: the file (symlinks followed) at the same path in the stage
copy_file() {
	local dst=$stage$1
	[[ -e $dst ]] && return 0
	mkdir -p "$(dirname "$dst")"
	cp -L "$1" "$dst"
}

# copy_libs ELF: the shared libraries ELF needs (ldd), at their paths
copy_libs() {
	local lib
	for lib in $(ldd "$1" 2>/dev/null | grep -oE '/[^ ]+' || true); do
		copy_file "$lib"
	done
}

# the host's programs
sys_path=/usr/sbin:/usr/bin:/sbin:/bin
for t in "${tools[@]}"; do
	p=$(PATH=$sys_path type -P "$t" || true)
	if [[ -z $p || $p != /* ]]; then
		say "$t is not installed here; the guest falls back to busybox's, if it has one"
		continue
	fi
	# at its /usr path (merged /usr: /bin/x is /usr/bin/x)
	[[ $p == /usr/* ]] || p=/usr$p
	copy_file "$p"
	copy_libs "$p"
done
ln -sf mawk "$stage/usr/bin/awk"
if [[ -e $stage/usr/bin/kmod ]]; then
	for m in modprobe insmod lsmod depmod; do ln -sf ../bin/kmod "$stage/usr/sbin/$m"; done
fi
ln -sf dash "$stage/usr/bin/sh"

# python3: the interpreter and the modules the tests' scripts import, with
# their compiled forms (no compiling at every start under emulation)
py=$(readlink -f /usr/bin/python3)
if [[ -x $py ]]; then
	/usr/bin/python3 -c "
import sys, encodings, $py_imports
import importlib.util
for m in list(sys.modules.values()):
    f = getattr(m, '__file__', None)
    if f:
        print(f)
        c = getattr(m, '__cached__', None)
        if c: print(c)
" | while read -r f; do
		[[ -e $f ]] || continue
		copy_file "$f"
		if [[ $f == *.so ]]; then copy_libs "$f"; fi
	done
	# every codec: decode(errors=...) and locale lookups load them lazily
	pylib=$(/usr/bin/python3 -c 'import os, encodings; print(os.path.dirname(encodings.__file__))')
	mkdir -p "$stage$pylib"
	cp -a "$pylib/." "$stage$pylib/"
	# the landmark python looks for to find its prefix
	pyhome=$(dirname "$pylib")
	copy_file "$pyhome/os.py"
fi

# busybox: every applet, as the fallback at the end of PATH
cp "$busybox" "$stage/bb/busybox"
for a in $("$busybox" --list); do
	[[ $a == busybox ]] || ln -s busybox "$stage/bb/$a"
done

# dockguard and the test tools: every executable of the build directory
for f in "$build"/*; do
	[[ -f $f && -x $f ]] || continue
	case $(basename "$f") in unit-tests | *.o | *.a | *.h) continue ;; esac
	cp "$f" "$stage/dg/build/"
	copy_libs "$f"
done
cp -a "$root/tests" "$root/tools" "$root/policies" "$stage/dg/"

# users and groups as on the host: names in the tests' output resolve the same
for f in /etc/passwd /etc/group /etc/subuid /etc/subgid /etc/nsswitch.conf /etc/hosts; do
	if [[ -e $f ]]; then cp "$f" "$stage/etc/"; fi
done
echo dg-guest >"$stage/etc/hostname"
# the C.UTF-8 locale (guest-init.sh sets LC_ALL=C.UTF-8, as a Debian host has it)
if [[ -d /usr/lib/locale/C.utf8 ]]; then
	mkdir -p "$stage/usr/lib/locale"
	cp -a /usr/lib/locale/C.utf8 "$stage/usr/lib/locale/"
fi

install -m 0755 "$here/guest-init.sh" "$stage/init"

mkdir -p "$(dirname "$out")"
# uncompressed: unpacking is faster under emulation than gunzip
(cd "$stage" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) >"$out.tmp"
mv "$out.tmp" "$out"
say "$out: $(du -h "$out" | cut -f1)"
