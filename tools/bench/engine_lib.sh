# The set-up the bench sections with a private dockerd share (docker.sh,
# relay.sh): sourced with SECTION, ROOT, DG and RESULTS set and the section's
# own E2E_* network exported (tests/e2e/lib.sh starts the engine). Skips the
# section (a JSON row saying why) when Docker cannot run here; makes T (a
# temporary directory), BPFFS, RUN; PIDS are ended and the pins, mounts, the
# engine and T removed on exit.
source "$ROOT/tests/e2e/lib.sh"

blog() { echo "bench: $*" >&2; }
skipped() {
	blog "$SECTION: skipped: $*"
	jq -cn --arg s "$SECTION" --arg w "$*" '{section:$s, skipped:$w}' >>"$RESULTS"
	exit 0
}

why=$(e2e_skip_unless_possible) || skipped "${why#skip e2e: }"

T=$(mktemp -d "/tmp/dgbench-$SECTION.XXXXXX")
chmod 755 "$T"
BPFFS=$T/bpffs/dg
RUN=$T/run
PIDS=()
made_docker_cg=0
CGD=

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	[[ -d $T/bpffs ]] && "$DG" --bpffs "$BPFFS" unload >/dev/null 2>&1
	umount "$T/bpffs" 2>/dev/null
	e2e_cleanup
	[[ -n $CGD ]] && ((made_docker_cg)) && rmdir "$CGD" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# engine_up: the private dockerd and its test image, hooks' cgroup (CGD, the
# engine's container parent) and a private bpffs at $T/bpffs
engine_up() {
	e2e_start_dockerd || skipped "the private dockerd did not start (see above)"
	e2e_image "$BUILD" || skipped "could not build the test image"
	CGD=$E2E_CGROOT/docker
	[[ -d $CGD ]] || { mkdir "$CGD" && made_docker_cg=1; }
	mkdir -p "$T/bpffs"
	mount -t bpf bpf "$T/bpffs"
}
