#!/bin/bash
# Builds a statically linked dg-probe for the end-to-end test image: the image
# is a busybox-static rootfs with no libc, so the probe must carry its own.
#
#   tests/tools/static/build.sh [BUILD_DIR]     -> BUILD_DIR/dg-probe-static
#
# BUILD_DIR defaults to $BUILD or build (relative to the repository root).
# Needs glibc's static archive (libc6-dev ships libc.a). dg-probe uses no NSS
# functions (getpwnam & co.), so glibc's static-linking caveats do not apply.
set -euo pipefail
self=$(readlink -f "$0")
cd "$(dirname "$self")/../../.."
build=${1:-${BUILD:-build}}
cc=${CC:-cc}
src=tests/tools/dg-probe.c
out=$build/dg-probe-static

if [[ -e $out && $out -nt $src && $out -nt "$self" ]]; then
	exit 0
fi
mkdir -p "$build"
# io_uring through liburing's static archive when liburing-dev is installed;
# without it the probe's uring operations say so and the tests skip them.
uring_cflags=() uring_libs=()
if pkg-config --exists liburing 2>/dev/null &&
	[[ -e "$(pkg-config --variable=libdir liburing)/liburing.a" ]]; then
	uring_cflags=(-DDG_HAVE_LIBURING)
	uring_libs=(-luring)
fi
# shellcheck disable=SC2086 # CC may be "ccache gcc"
$cc -static -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror "${uring_cflags[@]}" -pthread \
	"$src" "${uring_libs[@]}" -o "$out.tmp"
# ldd exits non-zero on a static executable ("not a dynamic executable")
if LC_ALL=C ldd "$out.tmp" >/dev/null 2>&1; then
	echo "build.sh: $out.tmp is not statically linked (is libc6-dev installed?)" >&2
	rm -f "$out.tmp"
	exit 1
fi
mv "$out.tmp" "$out"
echo "built $out"
