# cli_rekey.sh: enccache rekey moves every entry to a new salt, new
# passwords and new key names; afterwards the Python reference, given the
# new salt and secrets, loads every entry that was valid before with the
# same data bytes, created_at, comment and validasof (stale ones too; a
# big one too), and the envelopes are json.dump's bytes.  Bad input is a
# one-line error before anything is touched (an unknown key name in
# --map, a loose secrets file); envelopes no key opens are named and left
# (exit 1); a second run skips what the first did.  A kill -9 at any
# point leaves every entry whole under the old or the new keys, and a
# run again completes; readers never see a torn envelope; a concurrent
# writer's newer save is never overwritten; a full disk stops the run
# with one line, exit 4, the old envelopes intact.
. "$(dirname "$0")/../lib.sh"
require_python
require_cli

make_secrets "$T/old.json" default "pw-old" other "pw-other"
make_secrets "$T/new.json" default "pw-new" renamed "pw-renamed"
make_secrets "$T/foreign.json" default "not ours"
make_salt "$T/salt-old" 'old salt'
make_salt "$T/salt-new" 'new salt'
OLD=(--secrets "$T/old.json" --salt-file "$T/salt-old")
NEW=(--secrets "$T/new.json" --salt-file "$T/salt-new")
RK=(rekey --new-secrets "$T/new.json" --new-salt-file "$T/salt-new"
	--map other=renamed)

# rk.py: writes many entries in one process, describes a cache, and
# checks that every envelope opens whole with the old or the new keys.
cat >"$T/rk.py" <<'EOF'
import hashlib, json, os, sys, time, types
sys.path.insert(0, os.path.dirname(sys.argv[1]))
import ecref

def ring(secrets, salt):
    return ecref.Keyring(json.load(open(secrets)), open(salt, "rb").read())

def ids(top):
    out = []
    for root, dirs, files in os.walk(top):
        for n in files:
            if n.endswith(".enc.json"):
                out.append(os.path.relpath(os.path.join(root, n), top)[:-9])
    return sorted(out)

def gen(top, secrets, salt, n, first=0):
    r = ring(secrets, salt)
    args = types.SimpleNamespace(dir=top, suffix=".enc.json")
    for i in range(first, first + n):
        if i % 3 == 0:      # what execute_cached stores: a binary plist
            import plistlib
            data = plistlib.dumps({"i": i, "s": "x" * (i % 50)},
                                  fmt=plistlib.FMT_BINARY, sort_keys=True)
        else:               # what save() stores: any bytes
            data = bytes((i * 7 + k) % 256 for k in range(20 + i % 300))
        created = "2026-01-%02dT10:00:%02d.%06d+00:00" % (1 + i % 28,
                                                        i % 60, i)
        if i % 5 == 0:      # an old one: stale under the default TTL
            created = "2001-02-03T04:05:06+00:00"
        ecref.save_entry(args, r, "d%02d/e%05d" % (i % 10, i), data,
                         "other" if i % 4 == 1 else "default",
                         "comment %d" % i if i % 2 else None,
                         "2026-02-07T12:00:00+00:00" if i % 7 == 0 else None,
                         created)

def describe(top, secrets, salt):
    """id, key, created_at, comment, validasof, sha256 of data: a line
    each (the key mapped other -> renamed, so old and new compare)."""
    r = ring(secrets, salt)
    args = types.SimpleNamespace(dir=top, suffix=".enc.json")
    for i in ids(top):
        try:
            env, inner = ecref.load_entry(args, r, i)
        except ecref.EntryError as e:
            continue
        print(i, {"other": "renamed"}.get(env["key"], env["key"]),
              env.get("created_at"), env.get("comment"),
              inner.get("validasof_datetime"),
              hashlib.sha256(inner["data"]).hexdigest())

def opens(path, rings, want):
    """Which key set opens the envelope at path whole ('old', 'new'), or
    raise.  want: id -> sha256 of data, or None."""
    raw = open(path, "rb").read()
    env = json.loads(raw.decode("utf-8"))
    for name, r in rings:
        if env.get("salt_sha256") != ecref.salt_fingerprint(r.salt):
            continue
        inner = ecref.open_envelope(r, env)
        return name, hashlib.sha256(inner["data"]).hexdigest()
    raise ecref.EntryError("opens with neither key set")

def check(top, old, new, expect, loops):
    """Every envelope opens whole with the old or the new keys and holds
    the data expected, `loops` times over (0: until top/.stop exists)."""
    rings = [("old", ring(*old)), ("new", ring(*new))]
    want = {}
    for line in open(expect):
        f = line.split()
        want[f[0]] = f[-1]
    seen, n = {"old": 0, "new": 0}, 0
    while True:
        for i in ids(top):
            p = os.path.join(top, i + ".enc.json")
            try:
                name, digest = opens(p, rings, want)
            except FileNotFoundError:
                sys.exit("rk: %s vanished" % i)
            except Exception as e:
                sys.exit("rk: %s: torn or not ours: %r" % (i, e))
            if want.get(i) != digest:
                sys.exit("rk: %s holds other data" % i)
            seen[name] += 1
        n += 1
        if loops and n >= loops or not loops and os.path.exists(
                os.path.join(top, ".stop")):
            break
    print(seen["old"], seen["new"])

def rewrite(top, secrets, salt, names, rounds):
    """Another writer: saves names again (in place, old keys) with new
    data, `rounds` times, as fast as it can; the last data is
    b'newer <id>'."""
    r = ring(secrets, salt)
    args = types.SimpleNamespace(dir=top, suffix=".enc.json")
    for k in range(rounds):
        for i in names:
            ecref.save_entry(args, r, i, b"newer " + i.encode(), "default",
                             None, None, "2026-03-01T00:00:00+00:00")

def newer(top, secrets, salt, names):
    """Each of names holds the writer's last data."""
    r = ring(secrets, salt)
    args = types.SimpleNamespace(dir=top, suffix=".enc.json")
    for i in names:
        env, inner = ecref.load_entry(args, r, i)
        if inner["data"] != b"newer " + i.encode():
            sys.exit("rk: %s: the writer's newer data was lost" % i)

cmd = sys.argv[2]
if cmd == "gen":
    gen(sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]))
elif cmd == "describe":
    describe(*sys.argv[3:6])
elif cmd == "check":
    check(sys.argv[3], sys.argv[4:6], sys.argv[6:8], sys.argv[8],
          int(sys.argv[9]))
elif cmd == "newer":
    newer(sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6:])
elif cmd == "rewrite":
    rewrite(sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[7:],
            int(sys.argv[6]))
EOF
rk() { "$PYTHON" "$T/rk.py" "$ECREF_PY" "$@"; }
# describe DIR OLD|NEW: the entries that open, as rk.py describes them.
describe() {
	if [ "$2" = OLD ]; then
		rk describe "$1" "$T/old.json" "$T/salt-old"
	else
		rk describe "$1" "$T/new.json" "$T/salt-new"
	fi
}
# check DIR EXPECT LOOPS: rk.py check with both key sets.
check() {
	rk check "$1" "$T/old.json" "$T/salt-old" "$T/new.json" \
		"$T/salt-new" "$2" "$3"
}

# --- a cache: Python's entries, a big one, one for other keys, junk -------
C=$T/cache
mkdir -m 700 "$C"
rk gen "$C" "$T/old.json" "$T/salt-old" 200
gen_bytes "$T/big" 3000000 7
run_ok "$ENCCACHE" --dir "$C" "${OLD[@]}" put big/one --comment big \
	--validasof 2026-02-07T12:00:00Z --created-at 2025-06-01T00:00:00Z \
	<"$T/big"
run_ok ecref put foreign/x --data-file "$T/big" --dir "$C" \
	--secrets "$T/foreign.json" --salt other
printf '{"key": "default", "encrypted": "gAAAA' >"$C/junk.enc.json"
describe "$C" OLD >"$T/before"
[ "$(wc -l <"$T/before")" = 201 ] || fail "setup: $(wc -l <"$T/before") entries"
grep -q ' 2001-02-03T04:05:06+00:00 ' "$T/before" || fail "setup: no stale entry"
tree_sum "$C" >"$T/tree0"

# --- bad input: one line, nothing touched -------------------------------
untouched() {
	tree_sum "$C" >"$T/tree1"
	cmp -s "$T/tree0" "$T/tree1" || fail "$1 touched the cache"
}
expect_err 3 "^enccache: unknown key name 'nope' in --map: not in the secrets$" \
	"$ENCCACHE" --dir "$C" "${OLD[@]}" rekey --new-secrets "$T/new.json" \
	--map nope=renamed
untouched "an unknown key in --map"
expect_err 3 "^enccache: unknown key name 'nope' in --map: not in the new secrets$" \
	"$ENCCACHE" --dir "$C" "${OLD[@]}" rekey --new-secrets "$T/new.json" \
	--map other=nope
expect_err 3 "^enccache: key 'other' has no new key: add it to the new secrets or give --map 'other=NEW'$" \
	"$ENCCACHE" --dir "$C" "${OLD[@]}" rekey --new-secrets "$T/new.json"
expect_err 2 "^enccache: invalid --map 'other': must be OLD=NEW" \
	"$ENCCACHE" --dir "$C" "${OLD[@]}" "${RK[@]}" --map other
expect_err 2 "^enccache: rekey needs --new-salt, --new-salt-file, --new-secrets or --map$" \
	"$ENCCACHE" --dir "$C" "${OLD[@]}" rekey
expect_err 2 "^enccache: option '--map' does not apply to 'fsck'$" \
	"$ENCCACHE" --dir "$C" "${OLD[@]}" fsck --map a=b
cp "$T/new.json" "$T/loose.json"
chmod 644 "$T/loose.json"
expect_err 3 "^enccache: cannot use secrets file '.*loose.json'" \
	"$ENCCACHE" --dir "$C" "${OLD[@]}" rekey --new-secrets "$T/loose.json"
expect_err 3 "^enccache: cannot use secrets file '.*missing.json'" \
	"$ENCCACHE" --dir "$C" "${OLD[@]}" rekey --new-secrets "$T/missing.json"
untouched "bad input"

# --- a dry run: what it would do, nothing written -------------------------
run "$ENCCACHE" --dir "$C" "${OLD[@]}" "${RK[@]}" --dry-run --json
[ "$rc" = 1 ] || fail "dry run: exit $rc: $(cat "$T/err")"
py 'import json, sys
j = json.load(open(sys.argv[1]))
assert j["dry_run"] and not j["ok"], j
assert (j["envelopes"], j["rekeyed"], j["left"], j["already_rekeyed"]) == \
    (203, 201, 2, 0), j
assert sorted(p["id"] for p in j["problems"]) == ["foreign/x", "junk"], j
assert j["stale"] >= 40, j' "$T/out" || fail "dry run: $(cat "$T/out")"
untouched "--dry-run"

# --- the run --------------------------------------------------------------
run "$ENCCACHE" --dir "$C" "${OLD[@]}" "${RK[@]}"
[ "$rc" = 1 ] || fail "rekey: exit $rc: $(cat "$T/err")"
grep -Eq '^left +foreign/x +salt mismatch$' "$T/out" &&
	grep -Eq '^left +junk +corrupt' "$T/out" ||
	fail "rekey: the envelopes left: $(cat "$T/out")"
grep -q '^rekey: 203 envelopes: 201 rekeyed, 0 unchanged, 0 already rekeyed, 2 left (no key opens them); 201 of them stale' "$T/err" ||
	fail "rekey: summary: $(cat "$T/err")"
describe "$C" NEW >"$T/after"
diff "$T/before" "$T/after" >"$T/diff" ||
	fail "Python with the new keys loads other entries: $(head "$T/diff")"
[ -z "$(describe "$C" OLD)" ] || fail "entries still open with the old keys"
run_ok ecref get big/one --ttl inf --dir "$C" "${NEW[@]}"
same_file "$T/out" "$T/big" "the big entry after rekey"
run_ok ecref get foreign/x --ttl inf --dir "$C" --secrets "$T/foreign.json" \
	--salt other
same_file "$T/out" "$T/big" "the foreign entry, left alone"
printf '{"key": "default", "encrypted": "gAAAA' | cmp -s - "$C/junk.enc.json" ||
	fail "the junk file was touched"
run_ok ecref layout-check --salt-file "$T/salt-new" "$C"/d0*/*.enc.json \
	"$C"/big/one.enc.json
[ -z "$(find "$C" -name '.ec-tmp-*')" ] || fail "temp files left"
run "$ENCCACHE" --dir "$C" "${NEW[@]}" fsck --ttl inf --json
py 'import json, sys
j = json.load(open(sys.argv[1]))["states"]
assert (j["valid"], j["salt-mismatch"], j["corrupt"]) == (201, 1, 1), j' \
	"$T/out" || fail "fsck with the new keys: $(cat "$T/out")"
# again: everything is done already, nothing is rewritten
tree_sum "$C" >"$T/tree0"
run "$ENCCACHE" --dir "$C" "${OLD[@]}" "${RK[@]}" --json
py 'import json, sys
j = json.load(open(sys.argv[1]))
assert (j["rekeyed"], j["already_rekeyed"], j["left"]) == (0, 201, 2), j' \
	"$T/out" || fail "second run: $(cat "$T/out")"
untouched "a second run"
# same keys for a name: those entries are not rewritten
run "$ENCCACHE" --dir "$C" "${NEW[@]}" rekey --new-secrets "$T/new.json" \
	--json
py 'import json, sys
j = json.load(open(sys.argv[1]))
assert (j["rekeyed"], j["unchanged"], j["left"]) == (0, 201, 2), j' \
	"$T/out" || fail "unchanged keys: $(cat "$T/out")"
untouched "a run with the same keys"

# --- kill -9 at any point, then run again ---------------------------------
K=$T/kill
mkdir -m 700 "$K"
rk gen "$K" "$T/old.json" "$T/salt-old" 3000
describe "$K" OLD >"$T/kbefore"
killed=0
for delay in 0.3 0.6 1; do
	"$ENCCACHE" --dir "$K" "${OLD[@]}" -q --jobs 2 "${RK[@]}" &
	pid=$!
	sleep $delay
	kill -9 $pid 2>/dev/null && killed=$((killed + 1))
	wait $pid 2>/dev/null || :
	check "$K" "$T/kbefore" 1 >"$T/seen" || fail "after a kill -9 at $delay s"
	note "killed after $delay s: old, new: $(cat "$T/seen")"
done
[ "$killed" -gt 0 ] || note "every run ended before its kill"
temps=$(find "$K" -name '.ec-tmp-*' | wc -l)
[ "$temps" -le $((2 * killed)) ] ||
	fail "$temps temp files after $killed kills of 2 threads"
run_ok "$ENCCACHE" --dir "$K" "${OLD[@]}" "${RK[@]}" --json
py 'import json, sys
j = json.load(open(sys.argv[1]))
assert j["ok"] and j["rekeyed"] + j["already_rekeyed"] == 3000, j' \
	"$T/out" || fail "the run after the kills: $(cat "$T/out")"
describe "$K" NEW >"$T/kafter"
diff "$T/kbefore" "$T/kafter" >/dev/null ||
	fail "after kills and a rerun, Python loads other entries"

# --- readers and a writer while it runs -----------------------------------
# Readers see every envelope whole, under the old keys or the new.
R=$T/read
mkdir -m 700 "$R"
rk gen "$R" "$T/old.json" "$T/salt-old" 1000
describe "$R" OLD >"$T/rbefore"
check "$R" "$T/rbefore" 0 >"$T/rseen" &
reader=$!
run_ok "$ENCCACHE" --dir "$R" "${OLD[@]}" "${RK[@]}" -q
touch "$R/.stop"
wait $reader || fail "a reader saw a torn envelope while rekey ran"
note "a reader saw, old and new: $(cat "$T/rseen")"
rm "$R/.stop"
# A writer saves some entries again (in place, old keys) while rekey
# runs: its newer data is never replaced by the older one.
rm -rf "$R"
mkdir -m 700 "$R"
rk gen "$R" "$T/old.json" "$T/salt-old" 1000
busy=$(cd "$R" && ls d0[0-4]/e000[0-9]*.enc.json | sed 's/\.enc\.json$//')
rk rewrite "$R" "$T/old.json" "$T/salt-old" 3 $busy &
writer=$!
run "$ENCCACHE" --dir "$R" "${OLD[@]}" "${RK[@]}" -q
wait $writer || fail "the writer failed"
[ "$rc" = 0 ] || [ "$rc" = 1 ] || fail "rekey beside a writer: exit $rc"
run "$ENCCACHE" --dir "$R" "${OLD[@]}" "${RK[@]}" -q
[ "$rc" = 0 ] || fail "rekey after the writer: exit $rc: $(cat "$T/out")"
rk newer "$R" "$T/new.json" "$T/salt-new" $busy ||
	fail "rekey beside a writer lost a newer save"

# --- a full disk: one line, exit 4, the old envelopes intact ---------------
if [ "$(id -u)" = 0 ] && mkdir -m 700 "$T/small" &&
	mount -t tmpfs -o size=512k,mode=0700 tmpfs "$T/small" 2>/dev/null; then
	trap 'umount "$T/small" 2>/dev/null || :; _lib_cleanup $?' EXIT
	rk gen "$T/small" "$T/old.json" "$T/salt-old" 40
	describe "$T/small" OLD >"$T/sbefore"
	head -c 1M /dev/zero >"$T/small/fill" 2>/dev/null || :
	run "$ENCCACHE" --dir "$T/small" "${OLD[@]}" "${RK[@]}" --json
	[ "$rc" = 4 ] && [ "$(wc -l <"$T/err")" = 1 ] &&
		grep -Eq "^enccache: cannot rekey 'd0[0-9]/e000[0-9][0-9]': no space left on device \(stopped there, 0 entries rekeyed before it, each complete; the old envelopes stay: run rekey again when there is room\)$" "$T/err" ||
		fail "rekey on a full disk (exit $rc): $(cat "$T/err")"
	py 'import json, sys
j = json.load(open(sys.argv[1]))
assert not j["ok"] and j["failed"] >= 1 and j["rekeyed"] == 0, j
assert j["not_reached"] > 0, j' "$T/out" ||
		fail "rekey on a full disk: $(cat "$T/out")"
	describe "$T/small" OLD >"$T/safter"
	diff "$T/sbefore" "$T/safter" >/dev/null ||
		fail "an entry was lost on a full disk"
	[ -z "$(find "$T/small" -name '.ec-tmp-*')" ] ||
		fail "temp files left on a full disk"
	rm "$T/small/fill"
	run_ok "$ENCCACHE" --dir "$T/small" "${OLD[@]}" -q "${RK[@]}"
	describe "$T/small" NEW >"$T/safter"
	diff "$T/sbefore" "$T/safter" >/dev/null ||
		fail "after room was made, Python loads other entries"
	umount "$T/small" || fail "umount tmpfs"
else
	note "not root or no tmpfs: the full-disk rekey is not exercised"
fi

exit 0
