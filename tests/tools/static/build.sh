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
# shellcheck disable=SC2086 # CC may be "ccache gcc"
$cc -static -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror "$src" -o "$out.tmp"
# ldd exits non-zero on a static executable ("not a dynamic executable")
if LC_ALL=C ldd "$out.tmp" >/dev/null 2>&1; then
	echo "build.sh: $out.tmp is not statically linked (is libc6-dev installed?)" >&2
	rm -f "$out.tmp"
	exit 1
fi
mv "$out.tmp" "$out"
echo "built $out"
