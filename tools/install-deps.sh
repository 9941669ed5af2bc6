#!/bin/bash
# Installs the Debian 12 packages that dockguard needs to build, run and be
# tested, when any is missing. Safe to run again.
set -euo pipefail

packages=(
	# build
	make gcc clang llvm pkg-config bpftool
	libbpf-dev libelf-dev zlib1g-dev libjansson-dev nettle-dev libevent-dev libsystemd-dev
	libhttp-parser-dev	# HTTP/1.1 parsing (userspace/http/)
	# run and test
	iproute2 util-linux procps busybox-static
	# make kernel-matrix: Debian's kernels booted under emulation, their
	# modules (kmod), and the Debian python3 its guests carry for the tests'
	# control-socket checks
	qemu-system-x86 cpio kmod python3
	liburing-dev	# the test client's io_uring connects (tests/security)
	# clang's sanitizer and libFuzzer runtimes (make asan, make fuzz): only a
	# Recommends of clang, which --no-install-recommends below leaves out
	libclang-rt-14-dev
	valgrind	# the daemon under memcheck (tests/security/t_60_valgrind.sh)
	# make bench: the iptables owner-rule comparison, its JSON, the swap's
	# grace period (strace); perf (linux-perf) is optional
	iptables jq strace
	# the engine dockguard protects: its docker group and unit are in the
	# default policy, and the end-to-end tests start their own dockerd
	docker.io
	python3-docker	# a real API client through the relay (tests/e2e/relay.sh)
	python3-prometheus-client	# its text-format parser reads `dockguard metrics` (tests/kernel)
	debhelper dpkg-dev fakeroot lintian	# make deb
)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if ((${#missing[@]} == 0)); then
	echo "install-deps: all packages present"
	exit 0
fi
if ((EUID != 0)); then
	echo "install-deps: missing ${missing[*]}; run as root (sudo $0)" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
