# cli_mount.sh: enccache looking after a cache while enccachefs has it
# mounted.  stats --mount reads what the daemon counted (table, JSON,
# Prometheus) and follows reads; fsck and stats of the mounted cache; an
# import shows through the mount; prune removes stale entries under the
# mount without disturbing it (an open file stays readable), and the
# mount still shows every valid entry.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../integration/mountlib.sh"
require_cli

make_secrets "$T/secrets.json" default "pw-cli-mount"
make_salt "$T/salt" 'cli mount salt'
CC=(--dir "$C" --secrets "$T/secrets.json" --salt-file "$T/salt")

printf 'fresh data\n' >"$T/v"
for i in 1 2 3; do
	run_ok "$ENCCACHE" "${CC[@]}" put "keep/e$i" <"$T/v"
	run_ok "$ENCCACHE" "${CC[@]}" put "old/e$i" \
		--created-at 2000-01-01T00:00:00Z <"$T/v"
done
fs_start ""

# --- stats --mount follows the reads ---------------------------------------
cat "$MNT/keep/e1" "$MNT/keep/e2" >/dev/null
run_ok "$ENCCACHE" stats --mount "$MNT" --json
py 'import json, sys
r = json.load(open(sys.argv[1]))
assert r["lookups"] >= 2 and r["bytes_read"] >= 22, r
assert r["hits"] + r["misses"] >= 2, r
assert set(r["hidden"]) == {"stale", "salt-mismatch", "unknown-key",
                            "corrupt", "tampered"}, r
' "$T/out" || fail "stats --mount --json: $(cat "$T/out")"
cp "$T/out" "$T/json1"
cat "$MNT/keep/e3" >/dev/null
run_ok "$ENCCACHE" stats --mount "$MNT" --json
py 'import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
assert b["bytes_read"] >= a["bytes_read"] + 11, (a, b)
' "$T/json1" "$T/out" || fail "stats --mount does not follow a read"
run_ok "$ENCCACHE" stats --mount "$MNT"
grep -Eq '^bytes_read +[0-9]+$' "$T/out" || fail "stats --mount: $(cat "$T/out")"
run_ok "$ENCCACHE" stats --mount "$MNT" --prometheus
grep -q "^enccachefs_hidden_total{mount=\"$MNT\",reason=\"stale\"} [0-9]*$" "$T/out" &&
	grep -q '^# TYPE enccachefs_lookups_total counter$' "$T/out" ||
	fail "stats --mount --prometheus: $(cat "$T/out")"
expect_err 3 "no statistics on '.*keep': it has no user.enccache.stats attribute" \
	"$ENCCACHE" stats --mount "$MNT/keep"

# --- fsck and stats of the mounted cache -----------------------------------
run_ok "$ENCCACHE" "${CC[@]}" fsck
grep -q '^fsck: 6 envelopes: 3 valid, 3 stale' "$T/out" || fail "fsck: $(cat "$T/out")"
run_ok "$ENCCACHE" "${CC[@]}" stats --json
py 'import json, sys
r = json.load(open(sys.argv[1]))
assert r["states"]["valid"]["entries"] == 3, r
' "$T/out" || fail "stats of a mounted cache: $(cat "$T/out")"

# --- import shows through the mount ----------------------------------------
printf '{"id": "imported/x", "data": "aW1wb3J0ZWQK", "comment": "via import"}\n' |
	run_ok "$ENCCACHE" "${CC[@]}" import
for i in $(seq 1 50); do
	[ -e "$MNT/imported/x" ] && break
	sleep 0.1
done
[ "$(cat "$MNT/imported/x")" = imported ] || fail "an import is not seen through the mount"
[ "$(getfattr --only-values -n user.enccache.comment "$MNT/imported/x" 2>/dev/null)" = "via import" ] ||
	fail "the imported comment is not seen through the mount"

# --- prune under the mount ---------------------------------------------------
exec 7<"$MNT/keep/e1"		# an open file
run_ok "$ENCCACHE" "${CC[@]}" prune
grep -q '^prune: removed 3 entries ' "$T/err" || fail "prune: $(cat "$T/err")"
[ -z "$(find "$C/old" -name '*.enc.json')" ] || fail "prune left stale entries"
[ "$(cat <&7)" = "fresh data" ] || fail "an open file lost its content to prune"
exec 7<&-
[ "$(ls "$MNT/keep" | wc -l)" -eq 3 ] || fail "the mount lost valid entries: $(ls "$MNT/keep")"
[ "$(cat "$MNT/keep/e2")" = "fresh data" ] || fail "keep/e2 after prune"
run_ok ecref verify-all "${CC[@]}"

fs_stop
exit 0
