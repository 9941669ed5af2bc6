#!/bin/bash
# Builds the part of a guest's initramfs that depends on its kernel: the
# modules the suites need (with the modules they depend on), for a kernel
# unpacked by fetch-kernel.sh. Appended to the common initramfs (the kernel
# unpacks concatenated cpio archives in order).
#
#   tests/kernel-matrix/modules-cpio.sh KERNEL_IMAGE OUTPUT [MODULE...]
#
# The guest's /init loads each MODULE (listed in /etc/dg-modules); a module
# built into this kernel is skipped. Debian's cloud kernels build veth and
# the socket diagnostics as modules: tests/security/t_12_netns.sh needs a
# veth pair, and dockguard lists TCP listeners through sock_diag
# (inet_diag, tcp_diag).
set -euo pipefail
image=${1:?usage: modules-cpio.sh KERNEL_IMAGE OUTPUT [MODULE...]}
out=${2:?usage: modules-cpio.sh KERNEL_IMAGE OUTPUT [MODULE...]}
shift 2
pkg=$(cd "$(dirname "$image")/.." && pwd)
release=$(basename "$image")
release=${release#vmlinuz-}
mods=$pkg/lib/modules/$release

say() { echo "modules-cpio: $*" >&2; }
command -v depmod >/dev/null || { say "needs kmod (apt-get install kmod)"; exit 1; }
if [[ ! -d $mods ]]; then
	say "no $mods; fetch the kernel again (tests/kernel-matrix/fetch-kernel.sh)"
	exit 1
fi
# the package ships no modules.dep: dpkg's postinst would have made it
[[ -e $mods/modules.dep ]] || depmod -b "$pkg" "$release"

stage=$(mktemp -d "${TMPDIR:-/tmp}/dg-modules.XXXXXX")
trap 'rm -rf "$stage"' EXIT
chmod 755 "$stage"
dst=$stage/usr/lib/modules/$release
mkdir -p "$dst" "$stage/etc"
cp "$mods"/modules.builtin* "$mods/modules.order" "$dst/"
: >"$stage/etc/dg-modules"
for m in "$@"; do
	if grep -qE "/$m\.ko" "$mods/modules.builtin"; then
		continue
	fi
	deps=$(modprobe -d "$pkg" -S "$release" --show-depends "$m" 2>/dev/null | awk '$1 == "insmod" { print $2 }')
	if [[ -z $deps ]]; then
		say "$release has no module $m; the tests that need it will say so"
		continue
	fi
	for f in $deps; do
		rel=${f#"$mods"/}
		mkdir -p "$dst/$(dirname "$rel")"
		cp "$f" "$dst/$rel"
	done
	echo "$m" >>"$stage/etc/dg-modules"
done
depmod -b "$stage/usr" "$release"

mkdir -p "$(dirname "$out")"
(cd "$stage" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) >"$out.tmp"
mv "$out.tmp" "$out"
