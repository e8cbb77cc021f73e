# c_to_py.sh: entries saved by `enccache put` are read back exactly by the
# Python reference (ecref.py), and their files are laid out byte for byte
# as Python's json.dump writes them, with modes 0600 / 0700.
. "$(dirname "$0")/../lib.sh"
require_python
require_cli

# --- the cache and the data --------------------------------------------------
interop_setup '\000\377c2py salt\n' 3 4
printf 'second version\n' >"$T/in/v2"
OBJ='{"name": "Z\u00fcrich", "ints": [0, -1, 9223372036854775807],
 "real": 2.5, "yes": true, "blob": {"$data": "AAEC"},
 "when": {"$date": "2025-12-31T23:59:59Z"}, "nested": {"l": [[], {}]}}'
plist_of "$OBJ" "$T/in/obj"

# Quotes, backslash, slash, non-ASCII, astral (a surrogate pair in JSON),
# tab, newline, a control character and DEL.
COMMENT=$(printf 'say "hi" \\ a/b é € 😀 tab\there\nl2 \001 del\177 end')
VALIDASOF='2026-01-01T00:00:00.500000-05:00'

put() {		# ID DATAFILE [OPTIONS...]
	local id=$1 data=$2
	shift 2
	run_ok "$ENCCACHE" "${C[@]}" put "$id" "$@" <"$data"
	[ ! -s "$T/out" ] || fail "put $id wrote to stdout: $(cat "$T/out")"
}

umask 022
t0=$(date +%s.%N)
put raw/nuls "$T/in/nuls"
put raw/empty "$T/in/empty"
put big/3mb "$T/in/big"
put obj/nested "$T/in/obj"
put meta/commented "$T/in/x" --comment "$COMMENT" --validasof "$VALIDASOF"
put intl/secret "$T/in/small" --key intl
put deep/a/b/c/leaf "$T/in/x" --key default
put raw/over "$T/in/x" --comment "first"
put raw/over "$T/in/v2"
umask 000
put umask/zero/leaf "$T/in/small"
umask 022
t1=$(date +%s.%N)

# --- ecref reads them back -------------------------------------------------
run_ok ecref verify-all "${C[@]}"
sha() { echo "$1 $(sha256sum <"$2" | cut -d' ' -f1)"; }
{
	sha big/3mb "$T/in/big"
	sha deep/a/b/c/leaf "$T/in/x"
	sha intl/secret "$T/in/small"
	sha meta/commented "$T/in/x"
	sha obj/nested "$T/in/obj"
	sha raw/empty "$T/in/empty"
	sha raw/nuls "$T/in/nuls"
	sha raw/over "$T/in/v2"
	sha umask/zero/leaf "$T/in/small"
} >"$T/sums"
cmp -s "$T/out" "$T/sums" ||
	fail "ecref verify-all: $(cat "$T/out") expected $(cat "$T/sums")"

run_ok ecref get raw/nuls --ttl inf "${C[@]}"
same_file "$T/out" "$T/in/nuls" "ecref get raw/nuls"
run_ok ecref get big/3mb "${C[@]}"
same_file "$T/out" "$T/in/big" "ecref get big/3mb"
run_ok ecref load-obj obj/nested "${C[@]}"
py 'import json, sys
sys.path.insert(0, sys.argv[1])
import ecref
want = ecref.to_tagged(ecref.from_tagged(json.loads(sys.argv[2])))
got = json.load(open(sys.argv[3]))
assert got == want, (got, want)' "$(dirname "$ECREF_PY")" "$OBJ" "$T/out" ||
	fail "ecref load-obj obj/nested differs"

run_ok ecref meta big/3mb deep/a/b/c/leaf intl/secret meta/commented \
	raw/empty raw/over "${C[@]}"
py 'import datetime as dt, json, re, sys
metas = {m["id"]: m for m in map(json.loads, open(sys.argv[1]))}
comment, validasof = sys.argv[2:4]
t0, t1 = float(sys.argv[4]), float(sys.argv[5])
want = {
    "big/3mb": ("default", None, None, 3145728),
    "deep/a/b/c/leaf": ("default", None, None, 1),
    "intl/secret": ("intl", None, None, 1000),
    "meta/commented": ("default", comment, validasof, 1),
    "raw/empty": ("default", None, None, 0),
    "raw/over": ("default", None, None, 15),
}
iso = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00\Z")
for i, w in want.items():
    m = metas[i]
    got = (m["key"], m["comment"], m["validasof"], m["size"])
    assert got == w, (i, got, w)
    c = m["created_at"]
    assert iso.match(c) and ".000000+" not in c, (i, c)
    t = dt.datetime.fromisoformat(c).timestamp()
    assert t0 - 1 <= t <= t1 + 1, (i, c, t0, t1)
' "$T/out" "$COMMENT" "$VALIDASOF" "$t0" "$t1" ||
	fail "ecref meta disagrees with what enccache put stored"

# --- byte layout, modes, no leftovers -------------------------------------
check_envelope_layout "$D/meta/commented.enc.json" "$T/salt"
run_ok ecref layout-check --salt-file "$T/salt" $(find "$D" -type f | sort)
bad=$(find "$D" -type f ! -perm 600)
[ -z "$bad" ] || fail "envelope files not 0600: $bad"
bad=$(find "$D" -mindepth 1 -type d ! -perm 700)
[ -z "$bad" ] || fail "new directories not 0700: $bad"
bad=$(find "$D" -type f ! -name '*.enc.json')
[ -z "$bad" ] || fail "files left behind: $bad"

# --- a text salt is its UTF-8 bytes ------------------------------------------
D2=$T/cache2
mkdir -m 700 "$D2"
run_ok "$ENCCACHE" --secrets "$T/secrets.json" --salt "sälz 🧂" --dir "$D2" \
	put t/x <"$T/in/nuls"
run_ok ecref get t/x --secrets "$T/secrets.json" --salt "sälz 🧂" \
	--dir "$D2"
same_file "$T/out" "$T/in/nuls" "ecref get of an entry saved with --salt"
run_ok ecref layout-check --salt "sälz 🧂" "$D2/t/x.enc.json"

exit 0
