# cli_fsck.sh: enccache fsck counts every envelope by state, names each
# bad one with the core's reason and exits 1 only for damage (corrupt,
# tampered, unreadable); the same on one thread and on every core.
# enccache stats: states, bytes, ages and expiry of a cache directory as
# a table, JSON and Prometheus text; stats --mount reads the statistics
# attribute of a mount root.
. "$(dirname "$0")/../lib.sh"
require_python
require_cli

D=$T/cache
mkdir -m 700 "$D"
make_secrets "$T/secrets.json" default "pw-fsck"
make_secrets "$T/other.json" default "another password"
make_salt "$T/salt" 'fsck salt'
make_salt "$T/other-salt" 'not our salt'
S=(--secrets "$T/secrets.json" --salt-file "$T/salt")
C=(--dir "$D" "${S[@]}")

printf 'v\n' >"$T/v"
ago() { date -u -d "$1 ago" +%FT%TZ; }
put() {		# ID [OPTIONS...]
	local id=$1
	shift
	run_ok "$ENCCACHE" "${C[@]}" put "$id" "$@" <"$T/v"
}
# a clean cache: valid, stale, and envelopes for other keys
for i in 1 2 3 4 5 6 7 8 9; do
	put "many/e$i" --created-at "$(ago "$((i * 10)) minutes")"
done
put old/a --created-at 2000-01-01T00:00:00Z
put old/b --created-at "$(ago '3 days')"
run_ok ecref put other/pw --data-file "$T/v" --dir "$D" \
	--secrets "$T/other.json" --salt-file "$T/salt"
run_ok ecref put other/salt --data-file "$T/v" --dir "$D" \
	--secrets "$T/secrets.json" --salt-file "$T/other-salt"
py 'import json, sys
env = json.load(open(sys.argv[1] + "/many/e1.enc.json"))
env["key"] = "gone"
json.dump(env, open(sys.argv[1] + "/other/key.enc.json", "w"))
' "$D"
chmod 600 "$D"/other/*.enc.json

run "$ENCCACHE" "${C[@]}" --ttl 2d fsck
grep -q '^fsck: 14 envelopes: 9 valid, 2 stale, 1 salt-mismatch, 1 unknown-key, 0 corrupt, 1 tampered, 0 unreadable' "$T/out" ||
	fail "fsck counts: $(cat "$T/out")"
grep -q "^fsck: damage found" "$T/out" || fail "fsck: $(cat "$T/out")"
# a wrong password is "tampered" to an HMAC: that is damage
[ "$rc" -eq 1 ] || fail "fsck with a tampered envelope: exit $rc"
rm "$D/other/pw.enc.json"
run_ok "$ENCCACHE" "${C[@]}" --ttl 2d fsck
grep -q '^fsck: ok$' "$T/out" || fail "fsck of a clean cache: $(cat "$T/out")"
py 'import sys
lines = open(sys.argv[1]).read().splitlines()
assert lines[0].split() == ["STATE", "ID", "REASON"], lines
rows = sorted(l.split(None, 2)[:2] for l in lines[1:-2])
assert rows == [["salt-mismatch", "other/salt"],
                ["unknown-key", "other/key"]], rows
' "$T/out" || fail "fsck list: $(cat "$T/out")"

# --- damage: corrupt, half-written, tampered; exit 1 ---------------------
printf '{"key": "default", "encr' >"$D/half.enc.json"
py 'import json, sys
env = json.load(open(sys.argv[1] + "/many/e2.enc.json"))
t = env["encrypted"]
env["encrypted"] = t[:50] + ("A" if t[50] != "A" else "B") + t[51:]
json.dump(env, open(sys.argv[1] + "/bad.enc.json", "w"))
' "$D"
chmod 600 "$D"/*.enc.json
unreadable=0
if [ "$(id -u)" != 0 ]; then
	cp "$D/many/e3.enc.json" "$D/noperm.enc.json"
	chmod 000 "$D/noperm.enc.json"
	unreadable=1
fi
run "$ENCCACHE" "${C[@]}" --ttl 2d fsck
[ "$rc" -eq 1 ] || fail "fsck of a damaged cache: exit $rc [$(cat "$T/err")]"
[ ! -s "$T/err" ] || fail "fsck wrote to stderr: $(cat "$T/err")"
cp "$T/out" "$T/fsck2"
run "$ENCCACHE" "${C[@]}" --ttl 2d --jobs 1 fsck
[ "$rc" -eq 1 ] && cmp -s "$T/out" "$T/fsck2" ||
	fail "fsck on one thread differs: $(diff "$T/out" "$T/fsck2")"
run "$ENCCACHE" "${C[@]}" --ttl 2d fsck --json
[ "$rc" -eq 1 ] || fail "fsck --json: exit $rc"
py 'import json, sys
r = json.load(open(sys.argv[1]))
unreadable = int(sys.argv[2])
assert r["ok"] is False, r
s = r["states"]
assert (s["valid"], s["stale"], s["corrupt"], s["tampered"],
        s["unreadable"]) == (9, 2, 1, 1, unreadable), s
assert r["envelopes"] == 15 + unreadable, r
bad = {b["id"]: (b["state"], b["reason"]) for b in r["bad"]}
assert bad["half"] == ("corrupt",
    "corrupt: not a JSON envelope (corrupt or half-written)"), bad
assert bad["bad"][0] == "tampered", bad
assert bad["bad"][1].startswith("does not open with key"), bad
if unreadable:
    assert bad["noperm"][0] == "unreadable", bad
assert "many/e1" not in bad and "old/a" not in bad, bad
' "$T/out" "$unreadable" || fail "fsck --json: $(cat "$T/out")"
rm -f "$D/half.enc.json" "$D/bad.enc.json" "$D/noperm.enc.json"
# As root nothing is unreadable: show it as another user when we can.
as_nobody() {
	setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups "$@"
}
N=$T/nobody
chmod 711 "$T"
if [ "$unreadable" = 0 ] && command -v setpriv >/dev/null &&
	id nobody >/dev/null 2>&1 && as_nobody test -x "$T"; then
	mkdir -m 700 "$N" "$N/c"
	cp "$T/secrets.json" "$T/salt" "$N/"
	cp "$D/many/e1.enc.json" "$N/c/ok.enc.json"
	cp "$D/many/e1.enc.json" "$N/c/noperm.enc.json"
	chown -R nobody "$N"
	chmod 000 "$N/c/noperm.enc.json"
	run as_nobody "$ENCCACHE" --dir "$N/c" --secrets "$N/secrets.json" \
		--salt-file "$N/salt" --ttl 2d fsck
	[ "$rc" -eq 1 ] && grep -q '^unreadable  noperm  corrupt: permission denied$' "$T/out" &&
		grep -q ': 1 valid, .*, 1 unreadable;' "$T/out" ||
		fail "fsck of an unreadable envelope (exit $rc): $(cat "$T/out" "$T/err")"
elif [ "$unreadable" = 0 ]; then
	note "as root, and user nobody cannot reach $T: the unreadable case is not exercised"
fi
chmod 700 "$T"

# --- stats: states, bytes, ages, expiry ----------------------------------
# 9 valid entries 10..90 minutes old, ttl 95 minutes: the six 40 minutes
# old or more expire within the hour, all within the day
run_ok "$ENCCACHE" "${C[@]}" --ttl '95 minutes' stats --json
py 'import json, os, sys
r = json.load(open(sys.argv[1]))
d = sys.argv[2]
s = r["states"]
assert s["valid"]["entries"] == 9, s
assert s["stale"]["entries"] == 2, s
assert s["valid"]["data_bytes"] == 18 and s["stale"]["data_bytes"] == 4, s
files = sum(os.path.getsize(os.path.join(p, f))
            for p, _, fs in os.walk(d) for f in fs if f.endswith(".enc.json"))
assert r["file_bytes"] == files, (r["file_bytes"], files)
assert r["envelopes"] == 13, r
assert r["age"] == {"<1h": 5, "1h-1d": 4, "1d-7d": 1, "7d-30d": 0,
                    ">=30d": 1, "unknown": 0}, r["age"]
assert r["expiring"] == {"1h": 6, "1d": 9}, r["expiring"]
assert r["temp_files"] == 0, r
' "$T/out" "$D" || fail "stats --json: $(cat "$T/out")"
run_ok "$ENCCACHE" "${C[@]}" --ttl '95 minutes' stats
grep -Eq '^valid +9 +[0-9]+ +18$' "$T/out" || fail "stats table: $(cat "$T/out")"
grep -q '^expiring: 6 within an hour, 9 within a day (of 9 valid)$' "$T/out" ||
	fail "stats table: $(cat "$T/out")"
run_ok "$ENCCACHE" "${C[@]}" --ttl '95 minutes' stats --prometheus
# the text exposition format, and a few values
py 'import re, sys
text = open(sys.argv[1]).read()
assert text.endswith("\n")
sample = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*"
                    r"(\{([a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\\n]|\\\\.)*\",?)*\})?"
                    r" [0-9.e+-]+$")
typed = set()
vals = {}
for line in text.splitlines():
    if line.startswith("# TYPE "):
        name, kind = line.split()[2:4]
        assert kind in ("gauge", "counter", "histogram"), line
        typed.add(name)
    elif not line.startswith("# HELP "):
        assert sample.match(line), line
        vals[line.rsplit(" ", 1)[0]] = float(line.rsplit(" ", 1)[1])
d = sys.argv[2]
lab = "dir=\"%s\"" % d
assert vals["enccache_entries{%s,state=\"valid\"}" % lab] == 9, vals
assert vals["enccache_entries{%s,state=\"unknown-key\"}" % lab] == 1
assert vals["enccache_entry_age_seconds_bucket{%s,le=\"3600\"}" % lab] == 5
assert vals["enccache_entry_age_seconds_bucket{%s,le=\"+Inf\"}" % lab] == 11
assert vals["enccache_entry_age_seconds_count{%s}" % lab] == 11
assert vals["enccache_entries_expiring{%s,within=\"1h\"}" % lab] == 6
assert "enccache_entry_age_seconds" in typed
' "$T/out" "$D" || fail "stats --prometheus: $(cat "$T/out")"
expect_err 2 'cannot be used together' "$ENCCACHE" "${C[@]}" stats --json \
	--prometheus

# --- stats --mount: the attribute of a mount root -------------------------
M=$T/fakemount
mkdir "$M"
expect_err 3 "no statistics on '.*fakemount': it has no user.enccache.stats attribute" \
	"$ENCCACHE" stats --mount "$M"
expect_err 3 "cannot read statistics of '.*nowhere'" \
	"$ENCCACHE" stats --mount "$T/nowhere"
if setfattr -n user.enccache.stats -v '{"lookups": 12, "hits": 10, "misses": 2, "hidden": {"stale": 1, "tampered": 3}, "saves": 4, "bytes_read": 1000, "new_counter": 7}' "$M" 2>/dev/null; then
	run_ok "$ENCCACHE" stats --mount "$M"
	grep -Eq '^lookups +12$' "$T/out" && grep -Eq '^hidden.tampered +3$' "$T/out" &&
		grep -Eq '^failed_saves +-$' "$T/out" ||
		fail "stats --mount table: $(cat "$T/out")"
	run_ok "$ENCCACHE" stats --mount "$M" --json
	py 'import json, sys
r = json.load(open(sys.argv[1]))
assert r["lookups"] == 12 and r["hidden"]["tampered"] == 3, r
assert r["new_counter"] == 7, r    # counters of a newer daemon are kept
' "$T/out" || fail "stats --mount --json: $(cat "$T/out")"
	run_ok "$ENCCACHE" stats --mount "$M" --prometheus
	grep -q "^enccachefs_lookups_total{mount=\"$M\"} 12$" "$T/out" &&
		grep -q "^enccachefs_hidden_total{mount=\"$M\",reason=\"tampered\"} 3$" "$T/out" &&
		grep -q '^# TYPE enccachefs_read_bytes_total counter$' "$T/out" &&
		! grep -q failed_saves "$T/out" ||
		fail "stats --mount --prometheus: $(cat "$T/out")"
	setfattr -n user.enccache.stats -v '{"lookups": -1}' "$M"
	expect_err 4 "cannot read statistics of .*envelope lacks a field" \
		"$ENCCACHE" stats --mount "$M"
	setfattr -n user.enccache.stats -v 'not json' "$M"
	expect_err 4 "cannot read statistics of" "$ENCCACHE" stats --mount "$M"
else
	note "no user xattrs here: stats --mount on a set attribute not exercised"
fi

exit 0
