# mount_read.sh: enccachefs, read side, on a cache written by ecref.py.
#   A. ls -R lists exactly the valid entries under ttl= default, 0, inf,
#      a duration, absolute times, and oldest_valid=; dirs win over entries.
#   B. cat/cmp/stat agree (0600/0700, exact sizes, mtime = created_at);
#      loose backing modes are hidden and logged once.
#   C. views: json (jq; every plist type; reals stay reals), raw, xml.
#   D. getfattr -d shows the metadata; absent attributes are ENODATA.
#   E. bad envelopes (tampered, salt, unknown key, corrupt, half-written)
#      never appear and are logged once.
#   F. liveness while mounted: added, rewritten (in place) and removed
#      envelopes show within 1 s; an entry expiring 2 s after mounting is
#      listed, then gone; an open file stays readable.
#   G. bad options fail with one line and leave nothing mounted.
# VALGRIND=1 runs the first mount (A-F with default options) under
# valgrind; see mountlib.sh.
. "$(dirname "$0")/../lib.sh"
C=$T/cache
D=$T/data
MNT=$T/mnt
MNT2=$T/mnt2
. "$(dirname "$0")/mountlib.sh"
for tool in jq getfattr; do
	command -v $tool >/dev/null 2>&1 ||
		hard_error "$tool is needed (Debian packages jq, attr)"
done
mkdir -p "$D" "$MNT2"
make_secrets "$T/secrets.json" default pw-default other pw-other
make_secrets "$T/ghost.json" ghost pw-ghost
make_salt "$T/salt" 'mount-test-salt\001\377'
make_salt "$T/salt2" 'another-salt'
# The bad-option tests mount (or fail to mount) on MNT2 too.
cleanup_both() {
	local m
	cleanup_fs
	for m in "$MNT" "$MNT2"; do
		! mounted "$m" || fusermount3 -u "$m" 2>/dev/null || :
	done
}
trap '_rc=$?; cleanup_both; _lib_cleanup $_rc' EXIT

SLACK=1.0		# seconds allowed for a change to show
# A sanitizer build runs the daemon 2-3x slower: the deadline stays a
# deadline, but with room for the instrumentation.
[ "${EC_SANITIZED:-no}" = yes ] && SLACK=2.0
[ "${VALGRIND:-0}" = 1 ] && SLACK=3.0
SOON=2			# soon/x expires this long after the mount

# --- helpers ---------------------------------------------------------------

PIDS=()
# put ID ARGS...: ecref put in the background (collect with put_wait).
put() {
	local id=$1
	shift
	ecref put --dir "$C" --secrets "$T/secrets.json" --salt-file "$T/salt" \
		"$@" "$id" &
	PIDS+=($!)
}
put_wait() {
	local p
	for p in "${PIDS[@]}"; do
		wait "$p" || fail "ecref put failed"
	done
	PIDS=()
}

# expect_tree DIR...: `ls -R` of the mount equals that of a plain tree with
# exactly these paths (a trailing / makes a directory).
expect_tree() {
	local e=$T/expect p
	rm -rf "$e"
	mkdir -p "$e"
	for p in "$@"; do
		case $p in
		*/) mkdir -p "$e/$p" ;;
		*) mkdir -p "$e/$(dirname "$p")"; : >"$e/$p" ;;
		esac
	done
	(cd "$e" && ls -R) >"$T/ls.expect"
	(cd "$FS_MNT" && ls -R) >"$T/ls.got" || fail "ls -R failed"
	diff -u "$T/ls.expect" "$T/ls.got" >&2 ||
		fail "ls -R of the mount differs (-o $CUR_OPTS)"
}

absent() { ! stat "$1" >/dev/null 2>&1 && ! ls "$(dirname "$1")" | grep -qx "$(basename "$1")"; }
same() { cmp -s "$1" "$2"; }

# expect_fs_err REGEX ARGS...: enccachefs ARGS fails with one stderr line
# matching REGEX, and nothing is mounted on MNT2.
expect_fs_err() {
	local re=$1
	shift
	run "$ENCCACHEFS" "$@"
	[ "$rc" -ne 0 ] || { cleanup_fs; fail "exit 0, expected failure: $*"; }
	[ "$(wc -l <"$T/err")" -eq 1 ] ||
		fail "expected one line on stderr: $* [stderr: $(cat "$T/err")]"
	grep -Eq -- "$re" "$T/err" ||
		fail "stderr does not match /$re/: $* [stderr: $(cat "$T/err")]"
	mounted "$MNT2" && fail "something was mounted by: $*"
	return 0
}

# --- fixtures --------------------------------------------------------------

gen_bytes "$D/raw1" 3000 1
gen_bytes "$D/raw2" 1234 2
gen_bytes "$D/raw3" 77 3
: >"$D/empty"
py 'import datetime, plistlib, sys
obj = {
    "dict": {"inner": {"deep": [1, "two", 3.5]}, "empty": {}},
    "array": [True, False, "x", {"k": "v"}, []],
    "string": "h\u00e9llo \"quoted\" \\ back\nslash \u2603",
    "int": 42, "neg": -7, "big": 2**63 - 1, "min": -2**63,
    "real": 42.0, "frac": 0.1, "tiny": 1e-7, "negreal": -2.5,
    "bool_t": True, "bool_f": False,
    "date": datetime.datetime(2026, 2, 7, 12, 0, 0),
    "data": b"\x00\x01binary\xff",
    "uid": plistlib.UID(7),
}
with open(sys.argv[1], "wb") as f:
    f.write(plistlib.dumps(obj, fmt=plistlib.FMT_BINARY, sort_keys=True))' \
	"$D/nested"

put plain/raw1 --data-file "$D/raw1"
put plain/empty --data-file "$D/empty"
put plist/nested --data-file "$D/nested"
put plist/obj --obj-json '{"price": 42.0, "n": 3, "when": {"$date": "2026-02-07T12:00:00"}}'
put old/two_days --data-file "$D/raw3" --created-at "$(iso -172800)"
put old/ten_days --data-file "$D/raw3" --created-at "$(iso -864000)"
put meta/commented --data-file "$D/raw2" --key other --comment 'hello, world' \
	--validasof 2026-02-07T12:00:00+00:00
put dirwins/name --data-file "$D/raw3"
put dirwins/name/inside --data-file "$D/raw3"
put bad/tampered --data-file "$D/raw1"
ecref put --dir "$C" --secrets "$T/secrets.json" --salt-file "$T/salt2" \
	--data-file "$D/raw3" bad/salt &
PIDS+=($!)
ecref put --dir "$C" --secrets "$T/ghost.json" --salt-file "$T/salt" \
	--data-file "$D/raw3" bad/ghost &
PIDS+=($!)
put_wait
# Flip one token character (still base64): the HMAC fails.
py 'import json, sys
p = sys.argv[1]
env = json.load(open(p))
t = env["encrypted"]
i = len(t) // 2
env["encrypted"] = t[:i] + ("B" if t[i] != "B" else "C") + t[i + 1:]
open(p, "w").write(json.dumps(env))' "$C/bad/tampered.enc.json"
head -c 60 "$C/plain/raw1.enc.json" >"$C/bad/half.enc.json"
printf 'not json at all' >"$C/bad/garbage.enc.json"
cp "$D/raw3" "$C/bad/plainfile"			# no suffix: not shown
cp "$C/old/two_days.enc.json" "$C/bad/.ec-tmp-0123456789ab"	# temp file
chmod 600 "$C"/bad/*
# Incomplete envelopes are only logged once they are 2 s old (a younger
# one is probably being written right now).
touch -d '1 minute ago' "$C/bad/half.enc.json" "$C/bad/garbage.enc.json"

DEFAULT_TREE=(plain/empty plain/raw1 plist/nested plist/obj old/two_days
	      meta/commented dirwins/name/inside bad/)

# --- A, B, C, D, E: default options ----------------------------------------
CUR_OPTS=
chmod 644 "$C/plain/raw1.enc.json"	# looser than 0600: shown 0600, logged
chmod 755 "$C/old"
fs_start ""
expect_tree "${DEFAULT_TREE[@]}"
expect_tree "${DEFAULT_TREE[@]}"	# warm: same answer

# B: content, modes, sizes, times.
same "$MNT/plain/raw1" "$D/raw1" || fail "plain/raw1 content differs"
same "$MNT/plain/empty" "$D/empty" || fail "plain/empty content differs"
same "$MNT/old/two_days" "$D/raw3" || fail "old/two_days content differs"
[ "$(stat -c %a "$MNT/plain/raw1")" = 600 ] || fail "file mode not 600"
[ "$(stat -c %a "$MNT/old")" = 700 ] || fail "dir mode not 700"
[ "$(stat -c %a "$MNT")" = 700 ] || fail "root mode not 700"
[ "$(stat -c %u "$MNT/plain/raw1")" = "$(id -u)" ] || fail "owner"
[ "$(stat -c %s "$MNT/plain/raw1")" = 3000 ] || fail "size of plain/raw1"
[ "$(stat -c %s "$MNT/plain/empty")" = 0 ] || fail "size of plain/empty"
for f in plain/raw1 plain/empty plist/nested plist/obj meta/commented; do
	[ "$(stat -c %s "$MNT/$f")" = "$(cat "$MNT/$f" | wc -c)" ] ||
		fail "st_size of $f is not the length read"
done
created=$(getfattr --absolute-names --only-values -n user.enccache.created_at "$MNT/old/two_days")
[ "$(stat -c %Y "$MNT/old/two_days")" = "$(date -d "$created" +%s)" ] ||
	fail "st_mtime is not created_at"
df "$MNT" >/dev/null || fail "statfs failed"
[ "$(stat -f -c %b "$MNT")" = "$(stat -f -c %b "$C")" ] ||
	fail "statfs does not report the backing file system"
grep -q "entry 'plain/raw1' is accessible by group or others (mode 0644)" \
	"$LOG" || fail "loose entry mode not logged"
grep -q "directory 'old' is accessible by group or others (mode 0755)" \
	"$LOG" || fail "loose directory mode not logged"

# C: the JSON view, with jq and exactly.
jq -e '.dict.inner.deep == [1, "two", 3.5] and .array[3].k == "v"
	and .int == 42 and .neg == -7 and .real == 42 and .bool_t == true
	and .bool_f == false and .date["$date"] == "2026-02-07T12:00:00Z"
	and .uid["$uid"] == 7 and .dict.empty == {} and .array[4] == []' \
	"$MNT/plist/nested" >/dev/null || fail "jq on plist/nested"
[ "$(jq -r '.data["$data"]' "$MNT/plist/nested" | base64 -d | od -An -tx1 | tr -d ' \n')" = \
  000162696e617279ff ] || fail "data node does not round-trip"
py 'import json, plistlib, sys
text = open(sys.argv[1], encoding="utf-8").read()
assert text.endswith("}\n"), "no trailing newline"
assert "\n  " in text, "not pretty-printed"
# Tag numbers by their literal form: a real must not read as an integer.
tagged = json.loads(text, parse_float=lambda s: ("R", s),
                    parse_int=lambda s: ("I", s))
for k, want in {"int": ("I", "42"), "neg": ("I", "-7"),
                "big": ("I", str(2**63 - 1)), "min": ("I", str(-2**63)),
                "real": ("R", "42.0")}.items():
    assert tagged[k] == want, (k, tagged[k])
for k, v in {"frac": 0.1, "tiny": 1e-7, "negreal": -2.5}.items():
    assert tagged[k][0] == "R" and float(tagged[k][1]) == v, (k, tagged[k])
obj = json.loads(text)
exp = plistlib.loads(open(sys.argv[2], "rb").read())
assert obj["string"] == exp["string"], obj["string"]
assert obj["dict"] == exp["dict"] and obj["array"] == exp["array"]
' "$MNT/plist/nested" "$D/nested" || fail "JSON view of plist/nested"
jq -e '.price == 42 and .n == 3 and .when["$date"] == "2026-02-07T12:00:00Z"' \
	"$MNT/plist/obj" >/dev/null || fail "jq on plist/obj"

# D: extended attributes.
getfattr --absolute-names -d "$MNT/meta/commented" >"$T/xattrs" || fail "getfattr -d"
for want in 'user.enccache.key="other"' 'user.enccache.comment="hello, world"' \
	    'user.enccache.validasof="2026-02-07T12:00:00+00:00"' \
	    'user.enccache.format="raw"' 'user.enccache.created_at="20' \
	    'user.enccache.expires_at="20'; do
	grep -qF "$want" "$T/xattrs" || fail "getfattr -d lacks $want: $(cat "$T/xattrs")"
done
[ "$(getfattr --absolute-names --only-values -n user.enccache.format "$MNT/plist/nested")" = bplist ] ||
	fail "format of a bplist entry"
getfattr --absolute-names -d "$MNT/plain/raw1" | grep -q 'user.enccache.comment' &&
	fail "an entry without comment lists user.enccache.comment"
run getfattr --absolute-names -n user.enccache.nope "$MNT/plain/raw1"
grep -q 'No such attribute' "$T/err" || fail "absent attribute: $(cat "$T/err")"

# E: bad envelopes are absent and logged once each (after several looks).
for b in tampered salt ghost half garbage plainfile .ec-tmp-0123456789ab; do
	for i in 1 2; do
		stat "$MNT/bad/$b" >/dev/null 2>&1 && fail "bad/$b is visible"
		cat "$MNT/bad/$b" >/dev/null 2>&1 && fail "bad/$b is readable"
	done
done
ls -l "$MNT/bad" >/dev/null
for pat in "'bad/tampered': does not open with key" "'bad/salt': salt-mismatch" \
	   "'bad/ghost': unknown-key" "'bad/half': corrupt" \
	   "'bad/garbage': corrupt"; do
	[ "$(grep -cF "hiding $pat" "$LOG")" = 1 ] ||
		fail "expected one log line 'hiding $pat': $(cat "$LOG")"
done
grep -q "plainfile\|ec-tmp\|two_days" "$LOG" && fail "logged a valid or non-envelope file"

# F: outside changes while mounted (the kernel has all of these cached).
cat "$MNT/plain/raw1" "$MNT/plist/obj" >/dev/null
stat "$MNT/plain/empty" "$MNT/plain/raw1" >/dev/null
exec 3<"$MNT/plist/obj"			# open before the envelope goes
put plain/added --data-file "$D/raw2"
put plain/raw1 --data-file "$D/raw2"	# rewritten in place, shorter
put_wait
within "$SLACK" same "$MNT/plain/added" "$D/raw2"
within "$SLACK" same "$MNT/plain/raw1" "$D/raw2"
[ "$(stat -c %s "$MNT/plain/raw1")" = 1234 ] || fail "size after rewrite"
rm "$C/plain/empty.enc.json" "$C/plist/obj.enc.json"
within "$SLACK" absent "$MNT/plain/empty"
within "$SLACK" absent "$MNT/plist/obj"
jq -e '.price == 42' <&3 >/dev/null || fail "an open file stopped being readable"
exec 3<&-
# A half-written envelope (in place) hides the entry; completing it shows it.
cp "$C/plain/added.enc.json" "$T/whole"
head -c 100 "$T/whole" >"$C/plain/added.enc.json"
within "$SLACK" absent "$MNT/plain/added"
cat "$T/whole" >"$C/plain/added.enc.json"
within "$SLACK" same "$MNT/plain/added" "$D/raw2"
# A new directory made by the module shows up too.
put fresh/sub/one --data-file "$D/raw3"
put_wait
within "$SLACK" same "$MNT/fresh/sub/one" "$D/raw3"

# G (part): a busy mount point fails before anything happens; the same
# mount again is already there (exit 0, as mount -a needs).
mkdir -p -m 700 "$T/other-cache"
expect_fs_err "mount point .* is busy" -o "secrets=$T/secrets.json,salt_file=$T/salt" "$T/other-cache" "$MNT"
run "$ENCCACHEFS" -o "secrets=$T/secrets.json,salt_file=$T/salt" "$C" "$MNT"
[ "$rc" = 0 ] && grep -q "is already mounted there from '$C'" "$T/err" ||
	fail "mounting the same again: exit $rc, $(cat "$T/err")"
fs_stop
chmod 600 "$C/plain/raw1.enc.json"
chmod 700 "$C/old"

# Restore what F changed, for the ttl runs below.
put plain/empty --data-file "$D/empty"
put plist/obj --obj-json '{"price": 42.0, "n": 3, "when": {"$date": "2026-02-07T12:00:00"}}'
put_wait
rm -f "$C/plain/added.enc.json"
rm -rf "$C/fresh"

# --- A: the TTL and oldest_valid settings ----------------------------------
DIRS=(plain/ plist/ old/ meta/ dirwins/name/ bad/)
CUR_OPTS="ttl=0"
fs_start "$CUR_OPTS"
expect_tree "${DIRS[@]}"
fs_stop

CUR_OPTS="ttl=inf,view=raw"
fs_start "$CUR_OPTS"
expect_tree "${DEFAULT_TREE[@]}" old/ten_days
same "$MNT/plist/nested" "$D/nested" || fail "view=raw is not the data bytes"
[ "$(getfattr --absolute-names --only-values -n user.enccache.expires_at "$MNT/plain/raw1")" = never ] ||
	fail "expires_at under ttl=inf"
fs_stop

CUR_OPTS="ttl=1 day,view=xml"
fs_start "$CUR_OPTS"
expect_tree plain/empty plain/raw1 plist/nested plist/obj meta/commented old/ \
	dirwins/name/inside bad/
py 'import plistlib, sys
xml = open(sys.argv[1], "rb").read()
assert xml.startswith(b"<?xml"), xml[:40]
exp = plistlib.loads(open(sys.argv[2], "rb").read())
exp["uid"] = {"CF$UID": 7}	# how XML plists spell a UID
assert plistlib.loads(xml) == exp
' "$MNT/plist/nested" "$D/nested" || fail "view=xml of plist/nested"
same "$MNT/plain/raw1" "$D/raw2" || fail "view=xml of raw data is not raw"
fs_stop

CUR_OPTS="ttl=$(iso 86400)"
fs_start "$CUR_OPTS"
expect_tree "${DEFAULT_TREE[@]}" old/ten_days
fs_stop

CUR_OPTS="ttl=$(iso -86400)"
fs_start "$CUR_OPTS"
expect_tree "${DIRS[@]}"
fs_stop

CUR_OPTS="ttl=inf,oldest_valid=$(iso -259200)"
fs_start "$CUR_OPTS"
expect_tree "${DEFAULT_TREE[@]}"
fs_stop

# --- F: an entry that expires 2 s after mounting ---------------------------
# ecref writes it aside beforehand; once mounted, its cleartext created_at
# is set so that, under ttl=1 hour, it expires 2 s after the mount, and it
# is written into the cache in place.
mkdir -p "$T/aside"
ecref put --dir "$T/aside" --secrets "$T/secrets.json" --salt-file "$T/salt" \
	--data-file "$D/raw3" soon/x || fail "ecref put soon/x"
mkdir -m 700 "$C/soon"
CUR_OPTS="ttl=1 hour"
fs_start "$CUR_OPTS"
expiry=$(py 'import datetime as d, json, sys, time
mounted = time.time()
env = json.load(open(sys.argv[1]))
created = d.datetime.fromtimestamp(mounted + float(sys.argv[3]) - 3600,
                                   d.timezone.utc)
env["created_at"] = created.isoformat()
with open(sys.argv[2], "w") as f:	# in place, like the module
    json.dump(env, f)
print(mounted + float(sys.argv[3]))' "$T/aside/soon/x.enc.json" \
	"$C/soon/x.enc.json" "$SOON")
ls "$MNT/soon" | grep -qx x || fail "soon/x not listed before its expiry"
same "$MNT/soon/x" "$D/raw3" || fail "soon/x content"
exec 3<"$MNT/soon/x"
# Keep the kernel's cache of the name warm until the expiry instant.
while py 'import sys; sys.exit(float(sys.argv[1]) >= float(sys.argv[2]))' "$(now_s)" "$expiry"; do
	stat "$MNT/soon/x" >/dev/null 2>&1 || break
	sleep 0.1
done
within "$SLACK" absent "$MNT/soon/x"
py 'import sys; sys.exit(float(sys.argv[1]) < float(sys.argv[2]))' "$(now_s)" "$expiry" ||
	fail "soon/x disappeared before its expiry"
cat "$MNT/soon/x" >/dev/null 2>&1 && fail "soon/x readable after expiry"
cmp -s - "$D/raw3" <&3 || fail "an open file is unreadable after expiry"
exec 3<&-
fs_stop

# --- G: bad options and start-up errors ------------------------------------
S="secrets=$T/secrets.json"
cp "$T/secrets.json" "$T/loose.json"
chmod 644 "$T/loose.json"
expect_fs_err '^enccachefs: missing option -o secrets=FILE or -o extpass=COMMAND \(or ENCCACHE_SECRETS\)$' -o "salt_file=$T/salt" "$C" "$MNT2"
expect_fs_err '^enccachefs: missing option -o salt' -o "$S" "$C" "$MNT2"
expect_fs_err '^enccachefs: .*cannot be used together' -o "$S,salt=a,salt_file=$T/salt" "$C" "$MNT2"
expect_fs_err "^enccachefs: cannot use secrets file '.*loose.json': permissions 0644 are too open" -o "secrets=$T/loose.json,salt=a" "$C" "$MNT2"
expect_fs_err "^enccachefs: cannot use secrets file '.*nope.json': no such file" -o "secrets=$T/nope.json,salt=a" "$C" "$MNT2"
expect_fs_err "^enccachefs: cannot read salt file '.*nosalt': no such file" -o "$S,salt_file=$T/nosalt" "$C" "$MNT2"
expect_fs_err "^enccachefs: invalid ttl '5 fortnights': not a TTL" -o "$S,salt=a,ttl=5 fortnights" "$C" "$MNT2"
expect_fs_err "^enccachefs: invalid oldest_valid 'yesterday'" -o "$S,salt=a,oldest_valid=yesterday" "$C" "$MNT2"
expect_fs_err "^enccachefs: invalid view 'html'" -o "$S,salt=a,view=html" "$C" "$MNT2"
expect_fs_err "^enccachefs: invalid cache_timeout 'soon'" -o "$S,salt=a,cache_timeout=soon" "$C" "$MNT2"
expect_fs_err "^enccachefs: unknown key name 'nokey'" -o "$S,salt=a,key=nokey" "$C" "$MNT2"
expect_fs_err "^enccachefs: cannot open cache directory '.*nodir': no such file" -o "$S,salt=a" "$T/nodir" "$MNT2"
expect_fs_err "^enccachefs: cannot open cache directory '.*secrets.json': not a directory" -o "$S,salt=a" "$T/secrets.json" "$MNT2"
expect_fs_err "^enccachefs: bad mount point '.*nomnt': no such file" -o "$S,salt=a" "$C" "$T/nomnt"
expect_fs_err "^enccachefs: mount point '.*' is inside the cache directory" -o "$S,salt=a" "$C" "$C/plain"
expect_fs_err "^enccachefs: missing MOUNTPOINT" -o "$S,salt=a" "$C"
expect_fs_err "unknown option.*bogus" -o "$S,salt=a,bogus" "$C" "$MNT2"

run_ok "$ENCCACHEFS" --help
grep -q 'secrets=FILE' "$T/out" || fail "--help lacks our options"
grep -q 'allow_other' "$T/out" || fail "--help lacks libfuse's options"
[ "$(grep -n 'secrets=FILE' "$T/out" | cut -d: -f1)" -lt \
  "$(grep -n 'allow_other' "$T/out" | cut -d: -f1)" ] ||
	fail "--help: ours must come first"
run_ok "$ENCCACHEFS" --version
grep -q '^enccachefs version ' "$T/out" || fail "--version: $(cat "$T/out")"
exit 0
