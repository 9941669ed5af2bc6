#!/bin/bash
# Fetches and unpacks a Debian cloud kernel for the kernel matrix; prints the
# path of its kernel image on stdout.
#
#   tests/kernel-matrix/fetch-kernel.sh SERIES CACHE_DIR
#
# SERIES is a kernel series Debian ships for bookworm: 6.1 (Debian 12's own
# kernel) or 6.12 (the backport, in bookworm-security, or in
# bookworm-backports when that is configured). The newest
# linux-image-SERIES.*-cloud-amd64-unsigned package apt knows is downloaded
# with `apt-get download` and unpacked with `dpkg -x` into CACHE_DIR/PACKAGE
# (boot/ and lib/modules/, for modules-cpio.sh): nothing is installed on this
# host and /boot is never touched. A package
# already unpacked is used as it is (cached, idempotent); without a network,
# the newest one already cached for the series is used.
#
# When no source the host has configured carries the series, bookworm-backports
# is added for this download only: a private sources list and lists directory
# under CACHE_DIR/apt, passed to apt with -o; /etc/apt stays as it is.
set -euo pipefail
series=${1:?usage: fetch-kernel.sh SERIES CACHE_DIR}
cache=${2:?usage: fetch-kernel.sh SERIES CACHE_DIR}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
flavour=cloud-amd64

say() { echo "fetch-kernel: $*" >&2; }

# the cloud kernel packages of SERIES, newest last (6.1 must not match 6.12)
name_re="^linux-image-${series//./\\.}\.[0-9][^ ]*-$flavour-unsigned\$"
candidates() { apt-cache "$@" search --names-only "$name_re" 2>/dev/null | awk '{ print $1 }' | sort -V; }

# apt options that read bookworm-backports from a private list (never /etc/apt)
backports_opts() {
	local dir=$cache/apt mirror
	mirror=$(grep -hoE 'https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
		/etc/apt/sources.list.d/*.list 2>/dev/null | head -n 1 | tr -d ' ' || true)
	mirror=${mirror:-http://deb.debian.org/debian}
	mkdir -p "$dir/lists/partial"
	echo "deb $mirror bookworm-backports main" >"$dir/sources.list"
	APT_OPTS=(-o "Dir::Etc::sourcelist=$dir/sources.list" -o "Dir::Etc::sourceparts=/nonexistent"
		-o "Dir::State::Lists=$dir/lists")
}

# unpacked PACKAGE: the kernel image of an unpacked package, if any
unpacked() {
	local d=$cache/$1
	[[ -e $d/.unpacked.2 ]] || return 1
	local img
	for img in "$d"/boot/vmlinuz-*; do
		[[ -e $img ]] && echo "$img" && return 0
	done
	return 1
}

APT_OPTS=()
pkg=$(candidates | tail -n 1)
if [[ -z $pkg ]]; then
	say "no $series cloud kernel in the configured apt sources; trying bookworm-backports (private list in $cache/apt)"
	backports_opts
	apt-get "${APT_OPTS[@]}" update -qq >&2 || say "apt-get update of bookworm-backports failed"
	pkg=$(candidates "${APT_OPTS[@]}" | tail -n 1)
fi

if [[ -n $pkg ]] && unpacked "$pkg"; then
	exit 0
fi

if [[ -n $pkg ]]; then
	tmp=$(mktemp -d "$cache/.download.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	say "downloading $pkg"
	# APT::Sandbox::User=root: the cache may be a directory _apt cannot write
	if (cd "$tmp" && apt-get "${APT_OPTS[@]}" -o APT::Sandbox::User=root download "$pkg" >&2); then
		rm -rf "${cache:?}/$pkg"
		dpkg -x "$tmp"/*.deb "$cache/$pkg"
		rm -rf "${cache:?}/$pkg/usr"	# documentation
		# .unpacked.2: caches of earlier versions of this script lack lib/
		touch "$cache/$pkg/.unpacked.2"
		unpacked "$pkg" && exit 0
		say "$pkg has no boot/vmlinuz-*"
		exit 1
	fi
	say "download of $pkg failed"
fi

# offline, or apt does not know the series: the newest cached one
shopt -s nullglob
for d in $(printf '%s\n' "$cache"/linux-image-"$series".[0-9]*-$flavour-unsigned | sort -V -r); do
	if unpacked "$(basename "$d")"; then
		say "using the cached $(basename "$d")"
		exit 0
	fi
done
say "no Linux $series kernel: none in apt (apt-cache search '$name_re') and none cached in $cache; check the apt sources and the network"
exit 1
