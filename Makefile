# dockguard — build, test and install.
#
#   make run        install missing packages, build, run the daemon on policies/default.conf
#   make            build/dockguard (BPF object embedded through its skeleton)
#   make test       every test: unit, kernel (needs root), CLI
#   make kernel-matrix  the kernel suites on Linux 6.1, 6.12 (qemu) and the host's kernel
#   make bench      measure hook cost, connect latency, swap time, event flood (root)
#   make asan       ASan + UBSan build of the userspace and its unit tests, run
#   make deps       install the Debian packages the build and tests need
#   make install    PREFIX=/usr/local DESTDIR=
#   make deb        the Debian package, checked by lintian (build/deb/)
#   make package-test  install, upgrade from the previous release, remove and
#                   purge the package in a throwaway root under a connect loop

PREFIX    ?= /usr/local
SBINDIR   ?= $(PREFIX)/sbin
SYSCONFDIR ?= /etc
DESTDIR   ?=

CC        ?= cc
CLANG     ?= clang
BPFTOOL   ?= bpftool
BUILD     ?= build

VERSION   := $(shell cat VERSION 2>/dev/null || echo 0.1.0)

CFLAGS    ?= -O2 -g
WARNFLAGS := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
             -Wformat=2 -Wno-format-nonliteral
# -Wno-format-nonliteral: diag/output helpers take caller-supplied format strings
# through va_list; the callers themselves are checked by format attributes.
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 $(WARNFLAGS) $(CPPFLAGS) $(CFLAGS) \
              -I$(BUILD) -Ibpf -Iuserspace -DDOCKGUARD_VERSION='"$(VERSION)"'
LIBS      := $(shell pkg-config --libs libbpf 2>/dev/null || echo -lbpf -lelf -lz) -ljansson -lnettle -lhogweed -levent -lsystemd \
             -lhttp_parser

BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -Wall -Wextra -Werror \
              -Wno-unused-parameter -I$(BUILD) -Ibpf
# -Wno-unused-parameter: BPF entry points take a ctx they may not need.
# -mcpu=v3: atomic fetch-and-add and exchange for the event accounting (Linux 5.12+).

# userspace/FOLDER/*.c, one folder per responsibility (README, "Layout")
USER_SRCS := $(filter-out userspace/cli/main.c,$(wildcard userspace/*/*.c))
USER_OBJS := $(patsubst userspace/%.c,$(BUILD)/obj/%.o,$(USER_SRCS))
USER_HDRS := $(wildcard userspace/*/*.h)
UNIT_SRCS := $(wildcard tests/unit/*.c)
UNIT_OBJS := $(patsubst tests/unit/%.c,$(BUILD)/obj/unit_%.o,$(UNIT_SRCS))
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(patsubst tests/tools/%.c,$(BUILD)/%,$(TOOL_SRCS))

# plain `make` builds the program, its tests and their tools
.DEFAULT_GOAL := all

.PHONY: fuzz fuzz-build
# libFuzzer + ASan + UBSan: the policy parser and compiler (fuzz-policy), the
# Docker Engine API client against a fuzzed API (fuzz-docker), and the event
# formatter on fuzzed kernel events (fuzz-event).
# `make fuzz FUZZ_SECONDS=N` runs each for N seconds (default 60) through
# tests/fuzz/run.sh, which the test suite also runs briefly. Corpora start
# from the shipped policies and tests/fuzz/corpus-docker.
FUZZ_SECONDS ?= 60
FUZZ_BUILD ?= build-fuzz
FUZZ_TARGETS := policy docker event request bundle iptables guard visible
fuzz-build:
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=clang \
		CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer" \
		$(FUZZ_BUILD)/libdockguard.a
	for t in $(FUZZ_TARGETS); do \
		clang -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O1 -g -fsanitize=fuzzer,address,undefined \
			-I$(FUZZ_BUILD) -Ibpf -Iuserspace tests/fuzz/fuzz_$$t.c \
			$(FUZZ_BUILD)/libdockguard.a $(LIBS) -o $(FUZZ_BUILD)/fuzz-$$t || exit 1; \
	done

fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh $(FUZZ_BUILD)

.PHONY: all run test unit-test kernel-test asan asan-build deps install uninstall clean deb

all: $(BUILD)/dockguard $(BUILD)/dockguard-runc $(BUILD)/dockguard-courier $(BUILD)/unit-tests $(TOOL_BINS) $(BUILD)/dg-probe-static

$(BUILD)/vmlinux.h:
	@mkdir -p $(BUILD)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp
	mv $@.tmp $@

# bpf/ by hook family (maps.h says how they share the maps): each file an
# object, linked into the one object the skeleton embeds
# maps.o first: it defines the maps the others declare (the linker of
# Debian's libbpf 1.1 mislocates an extern map met before its definition)
BPF_SRCS := bpf/maps.bpf.c $(filter-out bpf/maps.bpf.c,$(wildcard bpf/*.bpf.c))
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.o,$(BPF_SRCS))

$(BUILD)/bpf/%.o: bpf/%.bpf.c $(wildcard bpf/*.h) $(BUILD)/vmlinux.h
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/dockguard.bpf.o: $(BPF_OBJS)
	$(BPFTOOL) gen object $@ $^

$(BUILD)/dockguard.skel.h: $(BUILD)/dockguard.bpf.o
	$(BPFTOOL) gen skeleton $< name dockguard_bpf > $@.tmp
	mv $@.tmp $@

$(BUILD)/obj/%.o: userspace/%.c $(USER_HDRS) bpf/dockguard_abi.h $(BUILD)/dockguard.skel.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/obj/unit_%.o: tests/unit/%.c $(USER_HDRS) $(wildcard tests/unit/*.h) $(BUILD)/dockguard.skel.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -c $< -o $@

# the version is compiled in
$(USER_OBJS) $(BUILD)/obj/cli/main.o: VERSION

$(BUILD)/libdockguard.a: $(USER_OBJS)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/dockguard: $(BUILD)/obj/cli/main.o $(BUILD)/libdockguard.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $^ $(LIBS) -o $@

$(BUILD)/unit-tests: $(UNIT_OBJS) $(BUILD)/libdockguard.a
	$(CC) $(ALL_CFLAGS) $^ $(LIBS) -o $@

$(BUILD)/%: tests/tools/%.c
	@mkdir -p $(BUILD)
	$(CC) $(ALL_CFLAGS) $< -o $@

# writes a pinned map: needs libbpf
$(BUILD)/dg-forget-build: tests/tools/dg-forget-build.c bpf/dockguard_abi.h
	@mkdir -p $(BUILD)
	$(CC) $(ALL_CFLAGS) $< $(LIBS) -o $@

# the one test tool that needs dockguard's own code: it signs bundles
$(BUILD)/dg-sign-bundle: tests/tools/dg-sign-bundle.c $(BUILD)/libdockguard.a
	@mkdir -p $(BUILD)
	$(CC) $(ALL_CFLAGS) $< $(BUILD)/libdockguard.a $(LIBS) -o $@

# the test client drives io_uring through liburing when liburing-dev is there
# (without it, its uring operations report that and the tests skip them)
URING_CFLAGS := $(shell pkg-config --exists liburing 2>/dev/null && echo -DDG_HAVE_LIBURING)
URING_LIBS   := $(shell pkg-config --libs liburing 2>/dev/null)
$(BUILD)/dg-probe: tests/tools/dg-probe.c
	@mkdir -p $(BUILD)
	$(CC) $(ALL_CFLAGS) $(URING_CFLAGS) -pthread $< $(URING_LIBS) -o $@

# the OCI runtime shim that closes the first-connect race (tools/runc-shim)
$(BUILD)/dockguard-runc: tools/runc-shim/dockguard-runc.c
	@mkdir -p $(BUILD)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $< -o $@

# the fleet courier (tools/courier): static, for an image FROM scratch
$(BUILD)/dockguard-courier: tools/courier/courier.c
	@mkdir -p $(BUILD)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -static $< $(shell pkg-config --variable=libdir nettle 2>/dev/null || echo /usr/lib/x86_64-linux-gnu)/libnettle.a -o $@

# the test client, static, for the end-to-end tests' container image
$(BUILD)/dg-probe-static: tests/tools/dg-probe.c tests/tools/static/build.sh
	tests/tools/static/build.sh $(BUILD)

# The README's test command. Runs every suite and ends with `N passed, N failed`.
# Installs missing packages first, so that it works on a fresh machine too.
test: deps
	$(MAKE) all asan-build
	tests/run-all.sh $(BUILD) build-asan

unit-test: $(BUILD)/unit-tests
	cd tests/unit && ../../$(BUILD)/unit-tests

kernel-test: all
	tests/kernel/run.sh $(BUILD)

# The kernel suites (kernel, security) on Debian 12's 6.1 kernel (with and
# without the BPF LSM) and its 6.12 backport, each booted under qemu, and on
# this host's kernel (tests/kernel-matrix/run.sh). KM_KERNELS="6.1 6.12 host"
# chooses. Needs root; prints a matrix and writes
# $(BUILD)/kernel-matrix/matrix.json.
# kernel-matrix-ci: the 6.1 guest only (the host's kernel is in `make test`).
KM_KERNELS ?= 6.1 6.1-nolsm 6.12 host

.PHONY: kernel-matrix kernel-matrix-ci
kernel-matrix: all
	KM_KERNELS="$(KM_KERNELS)" tests/kernel-matrix/run.sh $(BUILD)

kernel-matrix-ci: all
	KM_KERNELS=6.1 tests/kernel-matrix/run.sh $(BUILD)

# What dockguard costs, measured on this machine (tools/bench/run.sh): hook
# cost per connect, end-to-end connect latency against iptables owner rules,
# policy swap time, a denied-connect flood with the daemon, container
# identity latency (BENCH_DOCKER=0 skips that part). Needs root; prints a
# table and writes $(BUILD)/bench.json.
BENCH_BINS := $(BUILD)/dg-loadgen $(BUILD)/dg-bench-bpf $(BUILD)/dg-httpload $(BUILD)/dg-bench-guard

.PHONY: bench
bench: all $(BENCH_BINS)
	tools/bench/run.sh $(BUILD)

$(BUILD)/dg-loadgen: tools/bench/dg-loadgen.c
	@mkdir -p $(BUILD)
	$(CC) $(ALL_CFLAGS) $< -o $@

$(BUILD)/dg-httpload: tools/bench/dg-httpload.c $(BUILD)/libdockguard.a
	@mkdir -p $(BUILD)
	$(CC) $(ALL_CFLAGS) $< $(BUILD)/libdockguard.a $(LIBS) -lpthread -o $@

$(BUILD)/dg-bench-guard: tools/bench/dg-bench-guard.c $(BUILD)/libdockguard.a
	@mkdir -p $(BUILD)
	$(CC) $(ALL_CFLAGS) $< $(BUILD)/libdockguard.a $(LIBS) -o $@

$(BUILD)/dg-bench-bpf: tools/bench/dg-bench-bpf.c bpf/dockguard_abi.h
	@mkdir -p $(BUILD)
	$(CC) $(ALL_CFLAGS) $< $(LIBS) -o $@

# Sanitizers: the userspace and its unit tests built with ASan + UBSan.
asan-build:
	$(MAKE) BUILD=build-asan CC=clang \
		CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		build-asan/unit-tests build-asan/dockguard

asan: asan-build $(BUILD)/fake-dockerd
	cd tests/unit && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		../../build-asan/unit-tests
	tests/cli/run.sh build-asan

deps:
	tools/install-deps.sh

# The main job: the daemon in the foreground on the shipped default policy,
# enforcing at the cgroup v2 root and printing every denial as it happens.
# Ctrl-C stops the daemon; enforcement stays (`build/dockguard unload` ends it).
run: deps
	$(MAKE) all
	$(BUILD)/dockguard -c policies/default.conf run

install: $(BUILD)/dockguard $(BUILD)/dockguard-runc $(BUILD)/dockguard-courier
	install -D -m 0755 $(BUILD)/dockguard $(DESTDIR)$(SBINDIR)/dockguard
	install -D -m 0755 $(BUILD)/dockguard-runc $(DESTDIR)$(PREFIX)/libexec/dockguard-runc
	install -D -m 0755 $(BUILD)/dockguard-courier $(DESTDIR)$(PREFIX)/libexec/dockguard-courier
	install -D -m 0644 policies/default.conf $(DESTDIR)$(PREFIX)/share/dockguard/default.conf
	test -e $(DESTDIR)$(SYSCONFDIR)/dockguard/dockguard.conf || \
		install -D -m 0644 policies/default.conf $(DESTDIR)$(SYSCONFDIR)/dockguard/dockguard.conf
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/dockguard/conf.d
	install -D -m 0644 docs/dockguard.8 $(DESTDIR)$(PREFIX)/share/man/man8/dockguard.8
	install -D -m 0644 docs/dockguard.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/dockguard.conf.5
	install -D -m 0644 tools/systemd/dockguard.service $(DESTDIR)$(PREFIX)/share/dockguard/systemd/dockguard.service
	install -D -m 0644 tools/systemd/dockguard-relay.socket $(DESTDIR)$(PREFIX)/share/dockguard/systemd/dockguard-relay.socket
	install -D -m 0644 tools/completion/dockguard $(DESTDIR)$(PREFIX)/share/bash-completion/completions/dockguard

# The Debian package, from a copy of the tree with tools/debian/ as debian/,
# checked by lintian: build/deb/dockguard_VERSION_amd64.deb
deb:
	rm -rf $(BUILD)/deb && mkdir -p $(BUILD)/deb/src
	git ls-files -z | xargs -0 tar -cf - | tar -C $(BUILD)/deb/src -xf -
	cp -r tools/debian $(BUILD)/deb/src/debian
	printf 'dockguard (%s) unstable; urgency=medium\n\n  * Release %s: see README.md.\n\n -- dockguard developers <dockguard@lists.example.org>  %s\n' \
		"$(VERSION)" "$(VERSION)" "$$(date -R)" >$(BUILD)/deb/src/debian/changelog
	cd $(BUILD)/deb/src && dpkg-buildpackage -us -uc -b
	lintian --fail-on error,warning $(BUILD)/deb/dockguard_$(VERSION)_amd64.deb

# The package's install, upgrade from the previous release, remove and purge
# under a connect loop, in a throwaway root (tests/package/upgrade.sh)
.PHONY: package-test
package-test: deb all
	tests/package/upgrade.sh $(BUILD)

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/dockguard
	rm -rf $(DESTDIR)$(PREFIX)/share/dockguard
	rm -f $(DESTDIR)$(PREFIX)/share/man/man8/dockguard.8 $(DESTDIR)$(PREFIX)/share/man/man5/dockguard.conf.5

clean:
	rm -rf build build-asan
