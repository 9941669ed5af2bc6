# The unix hooks' pre-filter (`unix_tails` in dockguard_abi.h): a path whose
# last 8 bytes end no endpoint's file name leaves at once. It must never let
# an endpoint's path through: names shorter than 8 bytes (no pre-filter),
# names that share their last 8 bytes with another, any spelling of the
# path, bytes after a NUL within the address length, and a swap to a policy
# with other names.
source "$root/tests/tools/bypass-lib.sh"

U21=$TMP/u21
mkdir -p "$CG/c" "$U21"
chmod 755 "$U21"
cat >"$TMP/t21.conf" <<CONF
endpoint short unix $U21/ab
endpoint sock unix $U21/api.sock
allow { short, sock } from user 1001
CONF
for s in ab api.sock zzzapi.sock other.sock; do
	start_listener listen unix "$U21/$s"
	chmod 777 "$U21/$s"
done
out=$(dg load "$TMP/t21.conf" 2>&1)
check "prefilter: policy loaded" test $? -eq 0
D=(--cgroup "$CG/c" --uid 1002)

if ! [[ -e $BPFFS/link_connect_unix ]]; then
	skip "prefilter: no cgroup/connect_unix hook on this kernel (the BPF LSM judges without it)"
else
	expect "prefilter: a 2-byte file name is judged (its tail holds the directory's bytes)" EPERM \
		"${D[@]}" connect unix "$U21/ab"
	expect "prefilter: ... through another directory spelling too" EPERM \
		"${D[@]}" connect unix "$U21/./ab"
	expect "prefilter: the 8-byte name is judged" EPERM "${D[@]}" connect unix "$U21/api.sock"
	expect "prefilter: a name with the same last 8 bytes is not the endpoint (full check)" '!EPERM' \
		"${D[@]}" connect unix "$U21/zzzapi.sock"
	expect "prefilter: bytes after a NUL within the address length do not hide the name" EPERM \
		"${D[@]}" --nul-tail "abcdefgh" connect unix "$U21/api.sock"
	expect "prefilter: the allowed uid connects" ok --cgroup "$CG/c" --uid 1001 connect unix "$U21/api.sock"
	# The hook finds the path's end a word at a time: every position of the
	# end within a word, with the NUL counted in the length, without it (an
	# exact length, as Go passes it) and with the whole of sun_path (110).
	slashes=/
	for ((k = 1; k <= 8; k++)); do
		p="$U21$slashes""api.sock"
		expect "prefilter: ${#p}-byte path, NUL in the length: judged" EPERM "${D[@]}" connect unix "$p"
		expect "prefilter: ${#p}-byte path, exact length: judged" EPERM \
			"${D[@]}" --addrlen $((2 + ${#p})) connect unix "$p"
		expect "prefilter: ${#p}-byte path, length 110: judged" EPERM "${D[@]}" --addrlen 110 connect unix "$p"
		slashes+=/
	done
	expect "prefilter: a length that cuts the name short is another name" '!EPERM' \
		"${D[@]}" --addrlen $((2 + ${#U21} + 8)) connect unix "$U21/api.sock"

	# a policy without the short name: the pre-filter works, still judges
	cat >"$TMP/t21b.conf" <<CONF
endpoint sock unix $U21/other.sock
allow sock from user 1001
CONF
	dg load "$TMP/t21b.conf" >/dev/null 2>&1
	expect "prefilter: after a swap, the new policy's name is judged" EPERM "${D[@]}" connect unix "$U21/other.sock"
	expect "prefilter: ... spelled with // and ./" EPERM "${D[@]}" connect unix "$U21//./other.sock"
	expect "prefilter: ... with bytes after a NUL" EPERM "${D[@]}" --nul-tail "zzzzzzzz" connect unix "$U21/other.sock"
	expect "prefilter: ... and the old one's no longer" '!EPERM' "${D[@]}" connect unix "$U21/api.sock"
	expect "prefilter: ... nor the old short name" '!EPERM' "${D[@]}" connect unix "$U21/ab"
	dg load "$TMP/t21.conf" >/dev/null 2>&1
	expect "prefilter: and back: the 8-byte name is judged again" EPERM "${D[@]}" connect unix "$U21/api.sock"
fi
dg unload >/dev/null 2>&1
