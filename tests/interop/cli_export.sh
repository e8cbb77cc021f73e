# cli_export.sh: enccache export and import.  Round trips through tar and
# JSON lines are lossless (binary and empty data, UTF-8 comments,
# validasof, created_at), also between salts and passwords; Python's
# tarfile and GNU tar read the archive; the Python reference loads what
# import wrote.  Bad input: cut-short and malformed archives, missing or
# loose secrets, a full disk, a kill at any point: one line, and no entry
# lost or torn.
. "$(dirname "$0")/../lib.sh"
require_python
require_cli

A=$T/a
B=$T/b
mkdir -m 700 "$A" "$B"
make_secrets "$T/sa.json" default "pw-a" other "pw-a-2"
make_secrets "$T/sb.json" default "pw-b" other "pw-b-2"
make_salt "$T/salt-a" 'export salt a'
make_salt "$T/salt-b" '\001\377export salt b'
CA=(--dir "$A" --secrets "$T/sa.json" --salt-file "$T/salt-a")
CB=(--dir "$B" --secrets "$T/sb.json" --salt-file "$T/salt-b")

# --- the entries --------------------------------------------------------
mkdir "$T/in"
printf 'a\000b\000\000c\n\377\376\000' >"$T/in/bin"
: >"$T/in/empty"
gen_bytes "$T/in/big" 300000 7
printf 'plain text\n' >"$T/in/text"
COMMENT=$(printf 'Zürich "quoted" \\ back/slash € 😀 tab\there\nline 2')
LONG=long/$(printf 'x%.0s' $(seq 1 150))/leaf
put() {		# ID FILE [OPTIONS...]
	local id=$1 f=$2
	shift 2
	run_ok "$ENCCACHE" "${CA[@]}" put "$id" "$@" <"$f"
}
put bin/nuls "$T/in/bin" --comment "$COMMENT" \
	--validasof 2026-01-01T00:00:00.500000-05:00
put bin/empty "$T/in/empty" --key other
put big/one "$T/in/big" --created-at "$(date -u -d '1 hour ago' +%FT%T).250000+00:00"
put "$LONG" "$T/in/text" --comment "long id"
put deep/a/b/c "$T/in/text"
put old/stale "$T/in/text" --created-at 2000-01-01T00:00:00+00:00
printf 'garbage' >"$A/bad.enc.json"
chmod 600 "$A/bad.enc.json"
VALID=(big/one bin/empty bin/nuls deep/a/b/c "$LONG")

# meta DIR CONF...: ecref's view of every valid entry, sorted, salt left out
meta() {
	local f=$1
	shift
	run_ok ecref meta "${VALID[@]}" "$@"
	py 'import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for r in rows:
    del r["salt_sha256"]
print(json.dumps(sorted(rows, key=lambda r: r["id"]), sort_keys=True))
' "$T/out" >"$f"
}
meta "$T/meta-a" "${CA[@]}"

# --- tar: what tar tools see ---------------------------------------------
run_ok "$ENCCACHE" "${CA[@]}" export
cp "$T/out" "$T/a.tar"
grep -q '^export: 5 entries (.* bytes of data); skipped 2 not valid' "$T/err" ||
	fail "export summary: $(cat "$T/err")"
py 'import sys, tarfile, json
want = json.loads(open(sys.argv[2]).read())
t = tarfile.open(sys.argv[1])
got = {}
for m in t.getmembers():
    assert m.isreg() and m.mode == 0o600, (m.name, m.mode)
    h = m.pax_headers
    got[m.name] = (h.get("SCHILY.xattr.user.enccache.key"),
                   h.get("SCHILY.xattr.user.enccache.comment"),
                   h.get("SCHILY.xattr.user.enccache.validasof"),
                   h.get("SCHILY.xattr.user.enccache.created_at"),
                   len(t.extractfile(m).read()))
for w in want:
    g = got.pop(w["id"])
    assert g == (w["key"], w["comment"], w["validasof"], w["created_at"],
                 w["size"]), (g, w)
assert not got, got
' "$T/a.tar" "$T/meta-a" || fail "tarfile does not read the export as expected"
run_ok tar -tvf "$T/a.tar"
[ ! -s "$T/err" ] || fail "GNU tar warns about the export: $(cat "$T/err")"
mkdir "$T/x"
run_ok tar -xf "$T/a.tar" -C "$T/x"
same_file "$T/x/bin/nuls" "$T/in/bin" "tar -x of bin/nuls"
same_file "$T/x/big/one" "$T/in/big" "tar -x of big/one"

# --- round trips: tar and jsonl, into another salt and passwords ----------
run_ok "$ENCCACHE" "${CB[@]}" import "$T/a.tar"
grep -q "^import: saved 5 entries (300032 bytes of data) from '.*a.tar'$" "$T/err" ||
	fail "import summary: $(cat "$T/err")"
meta "$T/meta-b" "${CB[@]}"
cmp -s "$T/meta-a" "$T/meta-b" ||
	fail "metadata changed in the tar round trip: $(diff "$T/meta-a" "$T/meta-b")"
run_ok ecref get bin/nuls "${CB[@]}"
same_file "$T/out" "$T/in/bin" "ecref get bin/nuls after import"
run_ok ecref get big/one --ttl inf "${CB[@]}"
same_file "$T/out" "$T/in/big" "ecref get big/one after import"
run_ok ecref layout-check --salt-file "$T/salt-b" $(find "$B" -type f | sort)
# exported again from the new cache: the same bytes, both forms
run_ok "$ENCCACHE" "${CB[@]}" export
cmp -s "$T/out" "$T/a.tar" || fail "tar export after a tar round trip differs"
run_ok "$ENCCACHE" "${CA[@]}" export --format jsonl
cp "$T/out" "$T/a.jsonl"
C2=$T/c
mkdir -m 700 "$C2"
CC=(--dir "$C2" --secrets "$T/sb.json" --salt-file "$T/salt-b")
run_ok "$ENCCACHE" "${CC[@]}" import <"$T/a.jsonl"
run_ok "$ENCCACHE" "${CC[@]}" export --json
cmp -s "$T/out" "$T/a.jsonl" || fail "jsonl export after a jsonl round trip differs"
py 'import base64, json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {r["id"]: r for r in rows}
assert base64.b64decode(by["bin/nuls"]["data"]) == open(sys.argv[2], "rb").read()
assert by["bin/empty"]["data"] == "" and by["bin/empty"]["size"] == 0
assert by["bin/nuls"]["comment"] == sys.argv[3], by["bin/nuls"]
' "$T/a.jsonl" "$T/in/bin" "$COMMENT" || fail "jsonl content"

# --- choosing entries -----------------------------------------------------
run "$ENCCACHE" "${CA[@]}" export --format jsonl 'bin/*' deep/a/b/c nosuch 'none*'
[ "$rc" -eq 1 ] || fail "export of a missing id: exit $rc"
grep -q "^enccache: cannot export 'nosuch': no such entry$" "$T/err" &&
	grep -q "^enccache: cannot export 'none\\*': no entry matches$" "$T/err" ||
	fail "export of missing ids: $(cat "$T/err")"
py 'import json, sys
ids = [json.loads(l)["id"] for l in open(sys.argv[1])]
assert ids == ["bin/empty", "bin/nuls", "deep/a/b/c"], ids
' "$T/out" || fail "export by glob and id: $(cat "$T/out")"
run "$ENCCACHE" "${CA[@]}" export --json old/stale bad
[ "$rc" -eq 1 ] && [ ! -s "$T/out" ] || fail "export of invalid named entries: exit $rc"
grep -q "^enccache: cannot export 'old/stale': stale (expired" "$T/err" ||
	fail "export of a stale entry: $(cat "$T/err")"
printf 'old/stale\0bin/empty\0' >"$T/ids"
run_ok "$ENCCACHE" "${CA[@]}" export --json --stale-ok -0 <"$T/ids"
[ "$(wc -l <"$T/out")" -eq 2 ] || fail "export -0 --stale-ok: $(cat "$T/out")"
# import --key: every entry under that key name
D=$T/d
mkdir -m 700 "$D"
run_ok "$ENCCACHE" --dir "$D" --secrets "$T/sb.json" --salt-file "$T/salt-b" \
	import --key other "$T/a.tar"
run_ok ecref meta bin/nuls bin/empty --dir "$D" --secrets "$T/sb.json" \
	--salt-file "$T/salt-b"
[ "$(grep -c '"key": "other"' "$T/out")" -eq 2 ] || fail "import --key: $(cat "$T/out")"

# --- a plain tar (no metadata): default key, created now ------------------
mkdir -p "$T/plain/sub"
printf 'p1' >"$T/plain/one"
printf 'p2' >"$T/plain/sub/two"
ln -s one "$T/plain/link"
(cd "$T/plain" && tar -cf "$T/plain.tar" .)
E2=$T/e
mkdir -m 700 "$E2"
CE=(--dir "$E2" --secrets "$T/sa.json" --salt-file "$T/salt-a")
run_ok "$ENCCACHE" "${CE[@]}" import --format tar "$T/plain.tar"
grep -q "^enccache: skipping 'link': not a regular file$" "$T/err" ||
	fail "import of a symlink member: $(cat "$T/err")"
run_ok ecref get sub/two "${CE[@]}"
[ "$(cat "$T/out")" = p2 ] || fail "plain tar import: $(cat "$T/out")"

# --- bad input: one line, the entries before it saved, nothing torn -------
F=$T/f
mkdir -m 700 "$F"
CF=(--dir "$F" --secrets "$T/sa.json" --salt-file "$T/salt-a")
size=$(stat -c %s "$T/a.tar")
head -c $((size - 5000)) "$T/a.tar" >"$T/cut.tar"
expect_err 2 "^enccache: cannot import '.*cut.tar': member [0-9]+: truncated" \
	"$ENCCACHE" "${CF[@]}" import "$T/cut.tar"
run_ok ecref verify-all "${CF[@]}"
{ head -n 2 "$T/a.jsonl"; printf '{"id": "x", "data": "!!"}\n'; tail -n 1 "$T/a.jsonl"; } >"$T/bad.jsonl"
expect_err 2 "^enccache: cannot import '.*bad.jsonl': line 3: \"data\" is not base64 \(2 entries saved before it, each complete\)$" \
	"$ENCCACHE" "${CF[@]}" import "$T/bad.jsonl"
printf 'hello\n' >"$T/hello"
expect_err 2 "cannot import 'standard input': neither a tar archive nor JSON lines" \
	"$ENCCACHE" "${CF[@]}" import <"$T/hello"
printf '{"id": "../up", "data": ""}\n{"id": "k", "key": "nosuch", "data": ""}\n' >"$T/ids.jsonl"
run "$ENCCACHE" "${CF[@]}" import "$T/ids.jsonl"
[ "$rc" -eq 3 ] && [ "$(wc -l <"$T/err")" -eq 3 ] &&
	grep -q "^enccache: cannot import '../up': invalid cache id" "$T/err" &&
	grep -q "^enccache: cannot import 'k': unknown key name 'nosuch'" "$T/err" ||
	fail "import of bad records (exit $rc): $(cat "$T/err")"
expect_err 2 "invalid --format 'zip'" "$ENCCACHE" "${CF[@]}" import --format zip
tree_sum "$F" >"$T/before"
chmod 644 "$T/sa.json"
expect_err 3 'permission' "$ENCCACHE" "${CF[@]}" import "$T/a.tar"
chmod 600 "$T/sa.json"
expect_err 3 'nosuch.json' "$ENCCACHE" --dir "$F" --secrets "$T/nosuch.json" \
	--salt-file "$T/salt-a" import "$T/a.tar"
expect_err 3 'nosuch.json' "$ENCCACHE" --dir "$A" --secrets "$T/nosuch.json" \
	--salt-file "$T/salt-a" export
tree_sum "$F" >"$T/after"
cmp -s "$T/before" "$T/after" || fail "a refused import changed the cache"

# --- a kill at any point: every entry old or new, none torn ---------------
K=$T/k
mkdir -m 700 "$K"
CK=(--dir "$K" --secrets "$T/sa.json" --salt-file "$T/salt-a")
N=1000
py 'import base64, json, sys
n = int(sys.argv[2])
for name, word in (("old", "old"), ("new", "newer")):
    with open(sys.argv[1] + "/" + name + ".jsonl", "w") as f:
        for i in range(n):
            data = ("%s %d " % (word, i)).encode() * 300
            f.write(json.dumps({"id": "k/e%04d" % i,
                                "data": base64.b64encode(data).decode()})
                    + "\n")
' "$T" $N
run_ok "$ENCCACHE" "${CK[@]}" import -q "$T/old.jsonl"
check_old_or_new() {
	run_ok ecref verify-all "${CK[@]}"
	py 'import hashlib, sys
n = int(sys.argv[2])
ok = {}
for i in range(n):
    ok["k/e%04d" % i] = {
        hashlib.sha256(("%s %d " % (w, i)).encode() * 300).hexdigest()
        for w in ("old", "newer")}
rows = [l.split() for l in open(sys.argv[1])]
assert len(rows) == n, len(rows)
for cid, h in rows:
    assert h in ok[cid], (cid, "neither the old nor the new data")
' "$T/out" $N || fail "after kill -9: an entry lost or torn"
}
for delay in 0.08 0.2; do
	"$ENCCACHE" "${CK[@]}" import -q "$T/new.jsonl" &
	pid=$!
	sleep $delay
	kill -9 $pid 2>/dev/null || :
	wait $pid 2>/dev/null || :
	check_old_or_new
done
run_ok "$ENCCACHE" "${CK[@]}" fsck
touch -d '1 hour ago' $(find "$K" -name '.ec-tmp-*') /dev/null
run_ok "$ENCCACHE" "${CK[@]}" prune -q
[ -z "$(find "$K" -name '.ec-tmp-*')" ] || fail "temp files of killed imports left"

# --- a full disk: one line, exit 4, the old entry intact ------------------
if [ "$(id -u)" = 0 ] && mkdir -m 700 "$T/small" &&
	mount -t tmpfs -o size=192k,mode=0700 tmpfs "$T/small" 2>/dev/null; then
	trap 'umount "$T/small" 2>/dev/null || :; _lib_cleanup $?' EXIT
	CS=(--dir "$T/small" --secrets "$T/sa.json" --salt-file "$T/salt-a")
	run_ok "$ENCCACHE" "${CS[@]}" put big/one <"$T/in/text"
	run "$ENCCACHE" "${CS[@]}" import "$T/a.tar"
	[ "$rc" -eq 4 ] && [ "$(wc -l <"$T/err")" -eq 1 ] &&
		grep -q "^enccache: cannot import 'big/one': no space left on device (.* entries saved before it, each complete)$" "$T/err" ||
		fail "import onto a full disk (exit $rc): $(cat "$T/err")"
	run_ok ecref get big/one "${CS[@]}"
	same_file "$T/out" "$T/in/text" "the old entry after a full disk"
	[ -z "$(find "$T/small" -name '.ec-tmp-*')" ] || fail "temp file left on a full disk"
	umount "$T/small" || fail "umount tmpfs"
else
	note "not root or no tmpfs: the full-disk import is not exercised"
fi

exit 0
