# py_to_c.sh: envelopes written by the Python reference (ecref.py) are read
# back exactly by `enccache get` and listed with their metadata by `ls`.
. "$(dirname "$0")/../lib.sh"
require_python
require_cli

# --- the cache and the data --------------------------------------------------
interop_setup '\000\377py2c salt\n' 1 2
OBJ='{"name": "Z\u00fcrich \u2603", "empty": "", "nul": "a\u0000b",
 "ints": [0, 1, -2, 255, 65536, 9223372036854775807, -9223372036854775808],
 "reals": [3.5, -0.0, 1e-300, 1.7976931348623157e308, 0.1],
 "yes": true, "no": false, "blob": {"$data": "AAECAwT/"},
 "when": {"$date": "2026-02-07T12:00:00Z"},
 "nested": {"list": [{"deep": [[], {}]}, "s", 7], "z": {"$data": ""}}}'
# The bytes ecref stores for OBJ.
plist_of "$OBJ" "$T/in/obj"

COMMENT='daily "refresh" \ ü/€ 😀 <tab>	end'
VALIDASOF='2026-01-01T00:00:00.500000-05:00'

run_ok ecref put raw/nuls --data-file "$T/in/nuls" "${C[@]}"
run_ok ecref put raw/empty --data-file "$T/in/empty" "${C[@]}"
run_ok ecref put big/3mb --data-file "$T/in/big" "${C[@]}"
run_ok ecref put obj/nested --obj-json "$OBJ" "${C[@]}"
run_ok ecref put meta/commented --data-file "$T/in/x" "${C[@]}" \
	--comment="$COMMENT" --validasof "$VALIDASOF"
run_ok ecref put intl/secret --data-file "$T/in/small" --key intl "${C[@]}"
run_ok ecref put deep/a/b/c/d/leaf --data-file "$T/in/x" "${C[@]}" \
	--key default --comment ""
run_ok ecref put old/entry --data-file "$T/in/x" "${C[@]}" \
	--created-at 2020-01-01T02:00:00+02:00
[ -f "$D/deep/a/b/c/d/leaf.enc.json" ] || hard_error "ecref put wrote nothing"

# --- get: exactly the same bytes -------------------------------------------
check_get() {	# ID DATAFILE
	run_ok "$ENCCACHE" "${C[@]}" --ttl inf get "$1"
	same_file "$T/out" "$2" "enccache get $1"
}
check_get raw/nuls "$T/in/nuls"
check_get raw/empty "$T/in/empty"
check_get big/3mb "$T/in/big"
check_get obj/nested "$T/in/obj"
check_get meta/commented "$T/in/x"
check_get intl/secret "$T/in/small"
check_get deep/a/b/c/d/leaf "$T/in/x"
check_get old/entry "$T/in/x"

# Options after the command word work too.
run_ok "$ENCCACHE" get raw/nuls "${C[@]}" --ttl infinite
same_file "$T/out" "$T/in/nuls" "get with options after the command"

# The old entry is stale under the default TTL and under --oldest-valid.
expect_err 1 "^enccache: cannot get 'old/entry': stale" \
	"$ENCCACHE" "${C[@]}" get old/entry
expect_err 1 "^enccache: cannot get 'raw/nuls': stale" \
	"$ENCCACHE" "${C[@]}" --ttl inf --oldest-valid 2999-01-01T00:00:00Z \
	get raw/nuls
run_ok "$ENCCACHE" "${C[@]}" --ttl inf --oldest-valid 2019-12-31T23:59:59Z \
	get old/entry
same_file "$T/out" "$T/in/x" "get old/entry with an earlier --oldest-valid"

# --- ls: metadata -------------------------------------------------------------
run_ok "$ENCCACHE" "${C[@]}" --ttl inf ls --all --json
py 'import json, os, sys
listing = json.load(open(sys.argv[1]))
d, comment, validasof = sys.argv[2:5]
want = {
    "raw/nuls": ("default", None, None, os.path.getsize(d + "/nuls")),
    "raw/empty": ("default", None, None, 0),
    "big/3mb": ("default", None, None, 3145728),
    "obj/nested": ("default", None, None, os.path.getsize(d + "/obj")),
    "meta/commented": ("default", comment, validasof, 1),
    "intl/secret": ("intl", None, None, 1000),
    "deep/a/b/c/d/leaf": ("default", "", None, 1),
    "old/entry": ("default", None, None, 1),
}
ids = [o["id"] for o in listing]
assert ids == sorted(want), ids
for o in listing:
    got = (o["key"], o["comment"], o["validasof"], o["size"])
    assert got == want[o["id"]], (o["id"], got, want[o["id"]])
    assert o["state"] == "valid" and o["reason"] is None, o
    assert o["expires_at"] is None, o
old = [o for o in listing if o["id"] == "old/entry"][0]
assert old["created_at"] == "2020-01-01T02:00:00+02:00", old
' "$T/out" "$T/in" "$COMMENT" "$VALIDASOF" ||
	fail "enccache ls --json --all disagrees with what ecref wrote"

exit 0
