# cli_prune.sh: enccache prune removes what is merely stale, our old temp
# files, with --unopenable the envelopes no key opens, with --max-size
# the oldest valid entries; never a valid entry otherwise, never a file
# that is not an envelope, never anything through a symlink; --dry-run
# removes nothing and lists the same.  The Python reference still loads
# every entry left.
. "$(dirname "$0")/../lib.sh"
require_python
require_cli

D=$T/cache
O=$T/outside
mkdir -m 700 "$D" "$O"
make_secrets "$T/secrets.json" default "pw-prune"
make_secrets "$T/other.json" default "another password"
make_salt "$T/salt" 'prune salt'
make_salt "$T/other-salt" 'not our salt'
S=(--secrets "$T/secrets.json" --salt-file "$T/salt")
C=(--dir "$D" "${S[@]}")

old=2000-01-01T00:00:00+00:00
printf 'v\n' >"$T/v"
put() {		# ID [OPTIONS...]: an entry holding "v\n"
	local id=$1
	shift
	run_ok "$ENCCACHE" "${C[@]}" put "$id" "$@" <"$T/v"
}
# valid (created now and a day ago) and stale (created in 2000)
put keep/new
put keep/day --created-at "$(date -u -d '1 day ago' +%FT%TZ)"
put stale/a --created-at $old
put stale/b/deep --created-at $old
# unopenable: another password, another salt, an unknown key name, a
# tampered token
run_ok ecref put bad/wrongpw --data-file "$T/v" --dir "$D" \
	--secrets "$T/other.json" --salt-file "$T/salt"
run_ok ecref put bad/wrongsalt --data-file "$T/v" --dir "$D" \
	--secrets "$T/secrets.json" --salt-file "$T/other-salt"
py 'import json, sys
env = json.load(open(sys.argv[1] + "/keep/new.enc.json"))
env["key"] = "gone"
json.dump(env, open(sys.argv[1] + "/bad/unknownkey.enc.json", "w"))
t = env["encrypted"]
env["key"] = "default"
env["encrypted"] = t[:40] + ("A" if t[40] != "A" else "B") + t[41:]
json.dump(env, open(sys.argv[1] + "/bad/tampered.enc.json", "w"))
' "$D"
# never removed: not envelopes, a half-written one, other files
printf '{"key": "default", "encr' >"$D/half.enc.json"
printf 'not an envelope' >"$D/notes.enc.json"
printf 'plain' >"$D/README"
mkdir -m 700 "$D/dir.enc.json"
# temp files: an old one (a killed writer), a young one (a live writer),
# a look-alike that is not ours
tmp_old=$D/stale/.ec-tmp-00112233445566778899aabbccddeeff
tmp_young=$D/keep/.ec-tmp-0123456789ab
printf x >"$tmp_old"
printf x >"$tmp_young"
printf x >"$D/.ec-tmp-notours"
touch -d '1 hour ago' "$tmp_old" "$D/.ec-tmp-notours"
# outside the cache: stale entries a symlink points at
run_ok "$ENCCACHE" --dir "$O" "${S[@]}" put far --created-at $old <"$T/v"
ln -s "$O" "$D/linkdir"
ln -s "$O/far.enc.json" "$D/link.enc.json"
find "$D" -type f -exec chmod 600 {} +

# --- --dry-run: the list, nothing removed --------------------------------
tree_sum "$D" >"$T/before"
tree_sum "$O" >"$T/outside-before"
run_ok "$ENCCACHE" "${C[@]}" prune --dry-run
cp "$T/out" "$T/dry"
grep -q '^prune: would remove 2 entries .* and 1 temp file; ' "$T/err" ||
	fail "dry-run summary: $(cat "$T/err")"
tree_sum "$D" >"$T/after"
cmp -s "$T/before" "$T/after" || fail "--dry-run changed the cache"

# --- prune: stale entries and the old temp file ---------------------------
run_ok "$ENCCACHE" "${C[@]}" prune
cmp -s "$T/out" "$T/dry" ||
	fail "prune and --dry-run list differently: $(diff "$T/dry" "$T/out")"
py 'import sys
rows = [l.split(None, 3) for l in open(sys.argv[1]).read().splitlines()]
assert rows[0] == ["ID", "STATE", "SIZE", "REASON"], rows[0]
got = sorted((r[0], r[1]) for r in rows[1:])
want = sorted([("stale/a", "stale"), ("stale/b/deep", "stale"),
               ("stale/.ec-tmp-00112233445566778899aabbccddeeff", "temp")])
assert got == want, got
for r in rows[1:]:
    if r[1] == "stale":
        assert r[3].startswith("stale (expired 2000-01-06"), r
' "$T/out" || fail "prune list: $(cat "$T/out")"
grep -q '^prune: removed 2 entries ' "$T/err" || fail "summary: $(cat "$T/err")"
for f in stale/a stale/b/deep; do
	[ ! -e "$D/$f.enc.json" ] || fail "stale $f was not removed"
done
[ ! -e "$tmp_old" ] || fail "the old temp file was not removed"
for f in keep/new.enc.json keep/day.enc.json bad/wrongpw.enc.json \
	bad/wrongsalt.enc.json bad/unknownkey.enc.json bad/tampered.enc.json \
	half.enc.json notes.enc.json README .ec-tmp-notours; do
	[ -f "$D/$f" ] || fail "prune removed $f"
done
[ -f "$tmp_young" ] || fail "prune removed a young temp file"
[ -d "$D/dir.enc.json" ] && [ -L "$D/linkdir" ] && [ -L "$D/link.enc.json" ] ||
	fail "prune removed a directory or a link"
tree_sum "$O" >"$T/outside-after"
cmp -s "$T/outside-before" "$T/outside-after" ||
	fail "prune touched files outside the cache through a symlink"
# nothing stale is left: a second run removes nothing
run_ok "$ENCCACHE" "${C[@]}" prune --json
py 'import json, sys
r = json.load(open(sys.argv[1]))
assert r["dry_run"] is False and r["removed"] == [], r
assert r["entries_removed"] == 0 and r["temp_files_removed"] == 0, r
assert r["entries_kept"] == 8, r
' "$T/out" || fail "second prune --json: $(cat "$T/out")"
run_ok ecref get keep/new "${C[@]}"
same_file "$T/out" "$T/v" "ecref get keep/new after prune"

# --- --unopenable: envelopes no key opens, not the half-written one --------
run_ok "$ENCCACHE" "${C[@]}" prune --unopenable --json
py 'import json, sys
r = json.load(open(sys.argv[1]))
got = sorted((x["id"], x["state"]) for x in r["removed"])
want = [("bad/tampered", "tampered"), ("bad/unknownkey", "unknown-key"),
        ("bad/wrongpw", "tampered"), ("bad/wrongsalt", "salt-mismatch")]
assert got == want, got
' "$T/out" || fail "prune --unopenable: $(cat "$T/out")"
for f in half.enc.json notes.enc.json keep/new.enc.json; do
	[ -f "$D/$f" ] || fail "prune --unopenable removed $f"
done

# --- --max-size: oldest valid entries first, until the rest fits ---------
for i in 1 2 3 4; do
	put cap/e$i --created-at "2030-01-0${i}T00:00:00+00:00"
done
day=$(stat -c %s "$D/keep/day.enc.json")
new=$(stat -c %s "$D/keep/new.enc.json")
total=$(find "$D" -name '*.enc.json' -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
# room for everything but the two oldest valid entries: exactly they go
run_ok "$ENCCACHE" "${C[@]}" --ttl inf prune --max-size $((total - day - new)) --json
py 'import json, sys
r = json.load(open(sys.argv[1]))
got = [(x["id"], x["state"]) for x in r["removed"]]
assert got == [("keep/day", "valid"), ("keep/new", "valid")], got
assert r["bytes_kept"] <= r["max_size"] and not r["over_max_size"], r
' "$T/out" || fail "prune --max-size: $(cat "$T/out")"
[ -f "$D/cap/e1.enc.json" ] || fail "--max-size removed a newer entry"
# a cap below what may be removed: all valid ones go, and it says so
run "$ENCCACHE" "${C[@]}" --ttl inf prune --max-size 10
[ "$rc" -eq 0 ] || fail "prune --max-size 10: exit $rc"
grep -q "^enccache: the envelopes left .* stay over --max-size 10" "$T/err" ||
	fail "no warning for a cap that cannot be met: $(cat "$T/err")"
[ -z "$(find "$D/cap" -name '*.enc.json')" ] || fail "cap entries left"
[ -f "$D/half.enc.json" ] && [ -f "$D/notes.enc.json" ] ||
	fail "--max-size removed a file that is not an envelope"

# --- bad input: one line, nothing removed ---------------------------------
put stale/again --created-at $old
tree_sum "$D" >"$T/before"
expect_err 2 "invalid --max-size '2 parsecs'" "$ENCCACHE" "${C[@]}" \
	prune --max-size '2 parsecs'
expect_err 2 "option '--all' does not apply to 'prune'" "$ENCCACHE" \
	"${C[@]}" prune --all
chmod 644 "$T/secrets.json"
expect_err 3 'permission' "$ENCCACHE" "${C[@]}" prune
chmod 600 "$T/secrets.json"
expect_err 3 "nosuch" "$ENCCACHE" --dir "$D" --secrets "$T/nosuch.json" \
	--salt-file "$T/salt" prune
tree_sum "$D" >"$T/after"
cmp -s "$T/before" "$T/after" || fail "a refused prune changed the cache"

exit 0
