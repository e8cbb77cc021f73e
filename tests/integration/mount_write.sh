# mount_write.sh: enccachefs, write side, checked with ordinary tools and
# the independent Python reference (ecref.py).
#   A. cp in, then Python loads the same bytes; echo JSON, then Python's
#      execute_cached-style load returns the object (a hit); cat and stat
#      show the new version at once, over names the kernel had cached.
#   B. overwrite shorter and longer, truncate -s, >> append, dd seek=
#      holes, 1.5 MB in 64 KB chunks; a handle sees its own writes; two
#      handles: the last close wins.
#   C. views on write: auto (new JSON -> bplist, raw stays raw, JSON
#      entries stay JSON), json (tags, EINVAL for invalid JSON or null at
#      close, nothing changed), xml, raw.
#   D. mv (NOREPLACE, EXCHANGE, directories), rm, mkdir -p, rmdir
#      (ENOTEMPTY with a hidden envelope); create over a hidden envelope,
#      O_EXCL.
#   E. setfattr/getfattr: comment (cleartext in the envelope), validasof,
#      created_at; XATTR_CREATE/REPLACE; derived names EPERM, others
#      ENOTSUP; an overwrite keeps key and comment; key= for new entries.
#   F. touch creates an empty entry, refreshes one, touch -d 2000-01-01
#      does not age one, setfattr user.enccache.created_at hides one;
#      chmod/chown accepted and ignored; symlink/link/mknod refused.
#   G. every envelope is 0600 under 0700 directories, laid out as
#      json.dump writes it, with our salt fingerprint; no temp file left.
#   H. -o sync; -o ro: EROFS everywhere.
#   I. a file being created: the kernel keeps the attributes create's
#      reply gave (no GETATTR of the new file follows each CREATE, counted
#      in -o debug's log), yet another process's stat shows its size after
#      each write and truncate, and an empty one's saved mtime at close.
#      Without allow_other no default_permissions (none of the directory
#      either): access(2) still finds files not executable, exec refused.
#      A new entry's save is not read back (envelope reads counted).
# VALGRIND=1 runs the first mount (A-G) under valgrind; see mountlib.sh.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/mountlib.sh"
LOG_OK="$LOG_OK|$LOG_SAVE_FAILED"	# invalid content is written on purpose
for tool in getfattr setfattr truncate dd; do
	command -v $tool >/dev/null 2>&1 ||
		hard_error "$tool is needed (Debian packages attr, coreutils)"
done

D=$T/data
mkdir -p "$D"
make_secrets "$T/secrets.json" default pw-default other pw-other
make_salt "$T/salt" 'write-test-salt\001\377'

# io.py CMD ARGS: one system call sequence, printing "ok", a result, or
# the errno name of the call that failed (close() included).
cat >"$T/io.py" <<'EOF'
import ctypes, errno, os, sys

def name(e):
    return errno.errorcode.get(e.errno, str(e.errno))

def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]

def write(path, datafile, how="trunc"):
    data = open(datafile, "rb").read()
    flags = os.O_WRONLY | os.O_CREAT
    flags |= {"trunc": os.O_TRUNC, "excl": os.O_EXCL | os.O_TRUNC,
              "append": os.O_APPEND, "keep": 0}[how]
    fd = os.open(path, flags, 0o644)
    try:
        write_all(fd, data)
    except OSError:
        os.close(fd)
        raise
    os.close(fd)

def own(path):
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    write_all(fd, b"hello world")
    assert os.pread(fd, 100, 0) == b"hello world", "own write not read"
    assert os.fstat(fd).st_size == 11, os.fstat(fd).st_size
    os.pwrite(fd, b"HELLO", 0)
    assert os.pread(fd, 100, 0) == b"HELLO world"
    assert os.lseek(fd, 0, os.SEEK_END) == 11
    os.ftruncate(fd, 5)
    assert os.pread(fd, 100, 0) == b"HELLO"
    os.close(fd)

def two(path):
    a = os.open(path, os.O_WRONLY | os.O_TRUNC)
    b = os.open(path, os.O_WRONLY | os.O_TRUNC)
    write_all(a, b"first handle\n")
    write_all(b, b"second handle, longer\n")
    os.close(b)
    os.close(a)                 # the last close wins

def reread(path):
    # A file opened before an overwrite keeps reading its version.
    fd = os.open(path, os.O_RDONLY)
    before = os.read(fd, 1 << 20)
    with open(path, "wb") as f:
        f.write(b"replacement\n")
    os.lseek(fd, 0, os.SEEK_SET)
    again = os.read(fd, 1 << 20)
    os.close(fd)
    assert again == before, (before, again)
    assert open(path, "rb").read() == b"replacement\n"

FLAGS = {"none": 0, "create": os.XATTR_CREATE, "replace": os.XATTR_REPLACE}

def rename2(old, new, how):
    libc = ctypes.CDLL(None, use_errno=True)
    fl = {"noreplace": 1, "exchange": 2}[how]
    if libc.renameat2(-100, old.encode(), -100, new.encode(), fl) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))

cmds = {
    "write": write,
    "own": own,
    "two": two,
    "reread": reread,
    "setx": lambda p, n, v, f="none": os.setxattr(p, n, v.encode(),
                                                  FLAGS[f]),
    "rmx": lambda p, n: os.removexattr(p, n),
    "getx": lambda p, n: os.getxattr(p, n).decode(),
    "chmod": lambda p, m: os.chmod(p, int(m, 8)),
    "chown": lambda p, u, g: os.chown(p, int(u), int(g)),
    "symlink": lambda t, p: os.symlink(t, p),
    "link": lambda a, b: os.link(a, b),
    "mkfifo": lambda p: os.mkfifo(p),
    "mkdir": lambda p: os.mkdir(p, 0o755),
    "rmdir": lambda p: os.rmdir(p),
    "unlink": lambda p: os.unlink(p),
    "rename": lambda a, b: os.rename(a, b),
    "rename2": rename2,
    "utime": lambda p, t: os.utime(p, (float(t), float(t))),
    "truncate": lambda p, n: os.truncate(p, int(n)),
}
try:
    r = cmds[sys.argv[1]](*sys.argv[2:])
    print("ok" if r is None else r)
except OSError as e:
    print(name(e))
except AssertionError as e:
    print("assertion failed:", e)
EOF

# io EXPECTED CMD ARGS...: io.py prints EXPECTED.
io() {
	local want=$1 got
	shift
	got=$("$PYTHON" "$T/io.py" "$@")
	[ "$got" = "$want" ] || fail "$*: got '$got', expected '$want'"
}

# expect_data ID FILE...: for each pair, ID's data (loaded by Python) is
# FILE's bytes.  One ecref run (the keys are derived once).
expect_data() {
	local want=$T/want.sums got=$T/got.sums id
	: >"$want"
	while [ $# -gt 0 ]; do
		echo "$1 $(sha "$2")" >>"$want"
		shift 2
	done
	ec verify-all >"$got" 2>"$T/verify.err" || :
	while read -r id sum; do
		grep -qxF "$id $sum" "$got" ||
			fail "Python does not load '$id' as expected: $(grep "^$id " "$got" || echo absent) $(cat "$T/verify.err")"
	done <"$want"
}

# same_content PATH FILE: the mount shows FILE's bytes, and st_size agrees.
same_content() {
	cmp -s "$1" "$2" || fail "$1 does not show $(basename "$2")'s bytes"
	[ "$(stat -c %s "$1")" = "$(stat -c %s "$2")" ] ||
		fail "st_size of $1 is $(stat -c %s "$1"), not $(stat -c %s "$2")"
}

gen_bytes "$D/r3000" 3000 1
gen_bytes "$D/r100" 100 2
gen_bytes "$D/r5000" 5000 3
gen_bytes "$D/big" 1572864 4
printf 'tail line\n' >"$D/tail"

# Existing entries, written by Python before the mount.
ec put keep/old --data-file "$D/r3000" --key other --comment 'a comment' \
	--validasof 2026-02-07T12:00:00+00:00 --created-at "$(iso -86400)" &
ec put keep/obj --obj-json '{"n": 1}' &
ec put keep/raw --data-file "$D/r100" &
ec put hidden/stale --data-file "$D/r100" --created-at "$(iso -864000)" &
ec put touchme --data-file "$D/r100" --created-at "$(iso -172800)" &
wait

# --- A: cp in, echo JSON, visible at once ------------------------------------
fs_start ""
ls -lR "$MNT" >/dev/null	# the kernel caches every name and size
mkdir -p "$MNT/img" "$MNT/prices"
cp "$D/r3000" "$MNT/img/1" || fail "cp into the mount"
same_content "$MNT/img/1" "$D/r3000"
echo '{"price": 42.0, "currency": "EUR"}' >"$MNT/prices/latest"
jq -e '.price == 42 and .currency == "EUR"' "$MNT/prices/latest" >/dev/null ||
	fail "JSON view of a JSON write: $(cat "$MNT/prices/latest")"
[ "$(stat -c %s "$MNT/prices/latest")" = "$(cat "$MNT/prices/latest" | wc -c)" ] ||
	fail "st_size of prices/latest is not the length read"
ec load-obj prices/latest keep/obj >"$T/obj" || fail "ecref load-obj"
py 'import json, sys
lines = open(sys.argv[1]).read().splitlines()
o = json.loads(lines[0], parse_float=lambda s: ("real", s))
assert o == {"price": ("real", "42.0"), "currency": "EUR"}, o
assert json.loads(lines[1]) == {"n": 1}' "$T/obj" ||
	fail "Python's load of prices/latest: $(cat "$T/obj")"
# While a shell overwrites an entry again and again (it opens the file,
# duplicates the descriptor and closes the first one before writing),
# Python only ever loads whole versions: never an empty one.
cat >"$T/poll.py" <<'EOF'
import os, re, sys
sys.path.insert(0, os.path.dirname(sys.argv[1]))
import ecref
args = ecref.build_parser().parse_args(["get", sys.argv[5], "--dir",
    sys.argv[2], "--secrets", sys.argv[3], "--salt-file", sys.argv[4]])
ring = ecref.load_keyring(args)
n = 0
while True:
    _, inner = ecref.load_entry(args, ring, sys.argv[5])
    assert re.fullmatch(rb"value \d+\n", inner["data"]), inner["data"]
    n += 1
    if n == 1:
        open(sys.argv[6] + ".ready", "w").close()
    if os.path.exists(sys.argv[6]):
        break
print(n)
EOF
echo "value 0" >"$MNT/prices/poll"
"$PYTHON" "$T/poll.py" "$ECREF_PY" "$C" "$T/secrets.json" "$T/salt" \
	prices/poll "$T/poll.stop" >"$T/poll.out" &
POLL=$!
within 10 test -e "$T/poll.stop.ready"
for i in $(seq 40); do
	echo "value $i" >"$MNT/prices/poll"
done
touch "$T/poll.stop"
wait "$POLL" || fail "Python saw an incomplete version during overwrites"
[ "$(cat "$MNT/prices/poll")" = "value 40" ] || fail "the last overwrite"

# A name and size the kernel has cached, overwritten: the next cat and
# stat show the new version.
stat "$MNT/keep/raw" >/dev/null
cat "$MNT/keep/raw" >/dev/null
cp "$D/r5000" "$MNT/keep/raw"
same_content "$MNT/keep/raw" "$D/r5000"

# --- B: overwrite, truncate, append, holes, big writes -----------------------
cp "$D/r3000" "$MNT/img/2"
cp "$D/r100" "$MNT/img/2"	# shorter
same_content "$MNT/img/2" "$D/r100"
cp "$D/r5000" "$MNT/img/2"	# longer
same_content "$MNT/img/2" "$D/r5000"
truncate -s 1000 "$MNT/img/2"
head -c 1000 "$D/r5000" >"$T/t1000"
same_content "$MNT/img/2" "$T/t1000"
truncate -s 1500 "$MNT/img/2"	# grows with zeros
{ cat "$T/t1000"; head -c 500 /dev/zero; } >"$T/t1500"
same_content "$MNT/img/2" "$T/t1500"
io ok truncate "$MNT/img/2" 1200	# truncate(2) by path
head -c 1200 "$T/t1500" >"$T/t1200"
same_content "$MNT/img/2" "$T/t1200"
cat "$D/tail" >>"$MNT/img/2"
cat "$T/t1200" "$D/tail" >"$T/appended"
same_content "$MNT/img/2" "$T/appended"
io ok write "$MNT/img/2" "$D/tail" append
cat "$D/tail" >>"$T/appended"
same_content "$MNT/img/2" "$T/appended"
# Writes at offsets leave zero-filled holes.
dd if="$D/r100" of="$MNT/img/holes" bs=1k seek=5 status=none ||
	fail "dd seek="
dd if="$D/r100" of="$MNT/img/holes" bs=10 seek=1 count=1 conv=notrunc \
	status=none || fail "dd conv=notrunc"
py 'import sys
d = open(sys.argv[1], "rb").read()
want = bytearray(5 * 1024) + d
want[10:20] = d[:10]
open(sys.argv[2], "wb").write(want)' "$D/r100" "$T/holes"
same_content "$MNT/img/holes" "$T/holes"
dd if="$D/big" of="$MNT/img/big" bs=64k status=none || fail "dd bs=64k"
same_content "$MNT/img/big" "$D/big"
io ok own "$MNT/img/own"
printf 'HELLO' >"$T/HELLO"
same_content "$MNT/img/own" "$T/HELLO"
io ok two "$MNT/img/own"
printf 'first handle\n' >"$T/first"
same_content "$MNT/img/own" "$T/first"
io ok reread "$MNT/img/own"
expect_data img/1 "$D/r3000" keep/raw "$D/r5000" img/2 "$T/appended" \
	img/holes "$T/holes" img/big "$D/big" img/own <(printf 'replacement\n')
# Only truncated or created, nothing written: saved when the last
# descriptor is closed (release, which nobody waits for).
: >"$MNT/img/own"
: >"$MNT/img/colon"
within 5 cmp -s "$MNT/img/own" /dev/null
within 5 test -e "$C/img/colon.enc.json"
same_content "$MNT/img/colon" /dev/null

# --- C: views on write (auto here) -------------------------------------------
# A raw entry stays raw, even when JSON is written to it.
echo '{"a": 1}' >"$MNT/keep/raw"
[ "$(getfattr --absolute-names --only-values -n user.enccache.format "$MNT/keep/raw")" = raw ] ||
	fail "a raw entry written with JSON became a plist"
# An entry shown as JSON must be written as JSON.
printf 'not json' >"$T/notjson"
printf '{"k": "v"}' >"$T/kv"
io EINVAL write "$MNT/keep/obj" "$T/notjson"
jq -e '.n == 1' "$MNT/keep/obj" >/dev/null || fail "keep/obj changed by a failed write"
printf '{"n": 2, "when": {"$date": "2026-02-07T12:00:00Z"}, "blob": {"$data": "AAEC"}, "r": 1.5, "i": -3}\n' >"$T/tagged"
io ok write "$MNT/keep/obj" "$T/tagged"
# A new entry: JSON becomes a plist, anything else stays raw.
printf '[1, 2.0, "three", true]' >"$T/array"
io ENOENT write "$MNT/new/array" "$T/array"
mkdir -p "$MNT/new"
io ok write "$MNT/new/array" "$T/array"
io ok write "$MNT/new/text" "$T/notjson"
ec load-obj keep/obj new/array >"$T/obj" || fail "ecref load-obj after writes"
py 'import json, sys
lines = open(sys.argv[1]).read().splitlines()
o = json.loads(lines[0], parse_float=lambda s: ("real", s))
assert o == {"n": 2, "when": {"$date": "2026-02-07T12:00:00Z"},
             "blob": {"$data": "AAEC"}, "r": ("real", "1.5"), "i": -3}, o
a = json.loads(lines[1], parse_float=lambda s: ("real", s))
assert a == [1, ("real", "2.0"), "three", True], a' "$T/obj" ||
	fail "Python's load of the JSON writes: $(cat "$T/obj")"
same_content "$MNT/new/text" "$T/notjson"
[ "$(getfattr --absolute-names --only-values -n user.enccache.format "$MNT/new/text")" = raw ] ||
	fail "new/text is not raw"

# --- D: names ----------------------------------------------------------------
mkdir -p "$MNT/d/e/f"
[ "$(stat -c %a "$MNT/d/e/f")" = 700 ] || fail "mkdir -p: mode"
cp "$D/r100" "$MNT/d/e/f/x"
mv "$MNT/d/e/f/x" "$MNT/d/y"
same_content "$MNT/d/y" "$D/r100"
[ ! -e "$MNT/d/e/f/x" ] || fail "mv left the source"
cp "$D/r3000" "$MNT/d/z"
io EEXIST rename2 "$MNT/d/y" "$MNT/d/z" noreplace
io EINVAL rename2 "$MNT/d/y" "$MNT/d/z" exchange
mv "$MNT/d/y" "$MNT/d/z"	# replaces
same_content "$MNT/d/z" "$D/r100"
io EISDIR rename "$MNT/d/z" "$MNT/d/e"
mv "$MNT/d/e" "$MNT/d/g"	# a directory, with its contents
[ -d "$MNT/d/g/f" ] && [ ! -e "$MNT/d/e" ] || fail "mv of a directory"
io ENOTEMPTY rmdir "$MNT/d/g"
rmdir "$MNT/d/g/f" "$MNT/d/g" || fail "rmdir"
rm "$MNT/d/z" || fail "rm"
[ ! -e "$MNT/d/z" ] && [ ! -e "$C/d/z.enc.json" ] || fail "rm left the entry"
rmdir "$MNT/d"
# A directory that holds only a hidden (stale) envelope looks empty (rmdir
# would remove the stale envelope with it: mount_tools.sh).
[ -z "$(ls "$MNT/hidden")" ] || fail "hidden/ shows entries"
# A hidden envelope is replaced by a new entry, even with O_EXCL; a valid
# one is not.
io ok write "$MNT/hidden/stale" "$D/tail" excl
same_content "$MNT/hidden/stale" "$D/tail"
io EEXIST write "$MNT/hidden/stale" "$D/r100" excl
mv "$MNT/new/text" "$MNT/new/moved"	# metadata follows the renamed file
[ "$(getfattr --absolute-names --only-values -n user.enccache.format "$MNT/new/moved")" = raw ] ||
	fail "attributes after mv"
expect_data hidden/stale "$D/tail" new/moved "$T/notjson"

# --- E: extended attributes, what an overwrite keeps -------------------------
F=$MNT/keep/old
setfattr -n user.enccache.comment -v 'hello, world' "$F" || fail "setfattr comment"
[ "$(getfattr --absolute-names --only-values -n user.enccache.comment "$F")" = 'hello, world' ] ||
	fail "getfattr after setfattr"
py 'import json, sys
env = json.load(open(sys.argv[1]))
assert env["comment"] == "hello, world", env' "$C/keep/old.enc.json" ||
	fail "the envelope's cleartext comment"
io EEXIST setx "$F" user.enccache.comment x create
io ok setx "$F" user.enccache.comment 'second' replace
io ENOTSUP setx "$F" user.other x
io EPERM setx "$F" user.enccache.key default
io EPERM setx "$F" user.enccache.format raw
io EINVAL setx "$F" user.enccache.validasof yesterday
io ok setx "$F" user.enccache.validasof 2026-03-01T10:00:00Z
[ "$(getfattr --absolute-names --only-values -n user.enccache.validasof "$F")" = 2026-03-01T10:00:00+00:00 ] ||
	fail "validasof not normalised"
io ENODATA rmx "$MNT/keep/raw" user.enccache.nothing
io ENODATA rmx "$MNT/keep/raw" user.enccache.comment
ec meta keep/old >"$T/meta" || fail "ecref meta"
py 'import json, sys
m = json.load(open(sys.argv[1]))
assert m["comment"] == "second" and m["key"] == "other", m
assert m["validasof"] == "2026-03-01T10:00:00+00:00", m' "$T/meta" ||
	fail "metadata after setfattr: $(cat "$T/meta")"
# An overwrite keeps key and comment, clears validasof, refreshes
# created_at (it was a day old).
cp "$D/r100" "$F"
ec meta keep/old new/array >"$T/meta" || fail "ecref meta"
py 'import datetime as d, json, sys
m, n = [json.loads(l) for l in open(sys.argv[1])]
assert m["comment"] == "second" and m["key"] == "other", m
assert m["validasof"] is None, m
age = d.datetime.now(d.timezone.utc) - d.datetime.fromisoformat(m["created_at"])
assert abs(age.total_seconds()) < 60, m
assert n["key"] == "default" and n["comment"] is None, n' "$T/meta" ||
	fail "metadata after an overwrite: $(cat "$T/meta")"
setfattr -x user.enccache.comment "$F" || fail "setfattr -x comment"
getfattr --absolute-names -d "$F" | grep -q comment && fail "comment not removed"
io EPERM rmx "$F" user.enccache.created_at
io ok setx "$F" user.enccache.created_at "$(iso -3600)"
[ "$(stat -c %Y "$F")" -lt "$(($(date +%s) - 3000))" ] ||
	fail "setfattr created_at: mtime $(stat -c %Y "$F")"
# A comment set on a file being created is saved with it.
py 'import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
os.write(fd, b"data")
c = "user.enccache.comment"
os.setxattr(sys.argv[1], c, b"first", os.XATTR_CREATE)
try:
    os.setxattr(sys.argv[1], c, b"again", os.XATTR_CREATE)
    sys.exit("XATTR_CREATE over a comment set while creating: no EEXIST")
except FileExistsError:
    pass
os.removexattr(sys.argv[1], c)
try:
    os.removexattr(sys.argv[1], c)
    sys.exit("removexattr of a removed comment: no ENODATA")
except OSError as e:
    assert e.errno == errno.ENODATA, e
os.setxattr(sys.argv[1], c, b"early", os.XATTR_CREATE)
os.close(fd)' "$MNT/new/commented" || fail "setxattr while creating"
[ "$(getfattr --absolute-names --only-values -n user.enccache.comment "$MNT/new/commented")" = early ] ||
	fail "comment set before the first save"

# --- F: times, modes, links ---------------------------------------------------
touch "$MNT/new/empty" || fail "touch of a new file"
same_content "$MNT/new/empty" /dev/null
old_mtime=$(stat -c %Y "$MNT/touchme")
touch "$MNT/touchme" || fail "touch"
[ "$(stat -c %Y "$MNT/touchme")" -gt $((old_mtime + 3600)) ] ||
	fail "touch did not refresh created_at"
stat "$MNT/touchme" >/dev/null
# An explicit time is what copy tools send (cp -p, tar): it does not age
# the entry; setting user.enccache.created_at expires it on purpose.
touch -d 2000-01-01 "$MNT/touchme" || fail "touch -d"
stat "$MNT/touchme" >/dev/null 2>&1 || fail "touch -d 2000-01-01 hid the entry"
setfattr -n user.enccache.created_at -v 2000-01-01 "$MNT/touchme" ||
	fail "setfattr user.enccache.created_at"
stat "$MNT/touchme" >/dev/null 2>&1 && fail "created_at 2000-01-01 did not hide the entry"
ls "$MNT" | grep -qx touchme && fail "an expired entry is listed"
touch -d 2000-01-01 "$MNT/new/gone" || fail "touch -d of a new file"
[ -e "$MNT/new/gone" ] || fail "a new entry made by touch -d is not shown"
[ -f "$C/new/gone.enc.json" ] || fail "touch -d did not save the entry"
# Modes and owners are accepted and ignored (strict_perms: mount_tools.sh).
io ok chmod "$MNT/img/1" 600
io ok chmod "$MNT/img/1" 400
io ok chmod "$MNT/img/1" 644
io ok chmod "$MNT/img" 755
[ "$(stat -c %a "$MNT/img/1")" = 600 ] || fail "chmod changed the mode shown"
[ "$(stat -c %a "$MNT/img")" = 700 ] || fail "chmod changed the directory's mode"
io ok chown "$MNT/img/1" "$(id -u)" "$(id -g)"
if [ "$(id -u)" = 0 ]; then
	io ok chown "$MNT/img/1" 12345 "$(id -g)"
	[ "$(stat -c %u "$MNT/img/1")" = 0 ] || fail "chown changed the owner shown"
else
	io EPERM chown "$MNT/img/1" $(($(id -u) + 1)) "$(id -g)"	# the kernel
fi
io EPERM symlink img/1 "$MNT/link"
io EPERM link "$MNT/img/1" "$MNT/hard"
io EPERM mkfifo "$MNT/fifo"

# --- G: what is on disk --------------------------------------------------------
bad=$(find "$C" -type d ! -perm 700; find "$C" -type f ! -perm 600)
[ -z "$bad" ] || fail "loose modes: $bad"
[ -z "$(find "$C" -name '.ec-tmp-*')" ] || fail "temp files left: $(find "$C" -name '.ec-tmp-*')"
find "$C" -type f -name '*.enc.json' -print0 |
	xargs -0 "$PYTHON" "$ECREF_PY" layout-check --salt-file "$T/salt" ||
	fail "an envelope is not laid out as json.dump writes it"
ec verify-all >/dev/null 2>"$T/verify.err" ||
	fail "Python cannot load every envelope: $(cat "$T/verify.err")"
fs_stop

# --- C (json, xml), H (sync, key=) ---------------------------------------------
fs_start "view=json,sync,key=other"
io EINVAL write "$MNT/keep/obj" "$T/notjson"
printf 'null' >"$T/null"
io EINVAL write "$MNT/keep/obj" "$T/null"
printf '{"a": [1, null]}' >"$T/nested_null"
io EINVAL write "$MNT/keep/obj" "$T/nested_null"
io ENOENT write "$MNT/json/new" "$T/kv"
mkdir "$MNT/json"
io EINVAL write "$MNT/json/new" "$T/notjson"
[ ! -e "$MNT/json/new" ] && [ ! -e "$C/json/new.enc.json" ] ||
	fail "a failed first save left an entry"
io ok write "$MNT/json/new" "$T/kv"
fs_stop
ec load-obj keep/obj json/new >"$T/obj" || fail "ecref load-obj (view=json)"
py 'import json, sys
o, n = [json.loads(l) for l in open(sys.argv[1])]
assert o["n"] == 2, o
assert n == {"k": "v"}, n' "$T/obj" || fail "json view writes: $(cat "$T/obj")"
ec meta json/new >"$T/meta"
grep -q '"key": "other"' "$T/meta" || fail "key= not used for a new entry: $(cat "$T/meta")"

fs_start "view=xml"
py 'import plistlib, sys
open(sys.argv[1], "wb").write(plistlib.dumps({"x": [1, 2.5, "s"]}))' "$T/xml"
io ok write "$MNT/json/new" "$T/xml"
io EINVAL write "$MNT/json/new" "$T/notjson"
fs_stop
ec load-obj json/new >"$T/obj" || fail "ecref load-obj (view=xml)"
grep -qF '{"x": [1, 2.5, "s"]}' "$T/obj" || fail "xml view write: $(cat "$T/obj")"

# --- H: read-only ---------------------------------------------------------------
fs_start "ro"
io EROFS write "$MNT/img/1" "$D/r100"
io EROFS write "$MNT/img/new" "$D/r100"
io EROFS mkdir "$MNT/newdir"
io EROFS unlink "$MNT/img/1"
io EROFS rename "$MNT/img/1" "$MNT/img/9"
io EROFS setx "$MNT/img/1" user.enccache.comment x
io EROFS utime "$MNT/img/1" 0
io EROFS truncate "$MNT/img/1" 0
same_content "$MNT/img/1" "$D/r3000"
fs_stop

# --- I: a file being created, its attributes cached ------------------------------
fs_start "debug"
mkdir "$MNT/cr" || fail "mkdir cr"
py 'import os, subprocess, sys, time
m = sys.argv[1]
def size(p):	# as another process sees it
    return int(subprocess.check_output(["stat", "-c", "%s", p]))
fd = os.open(m + "/a", os.O_CREAT | os.O_WRONLY, 0o600)
assert size(m + "/a") == 0
os.write(fd, b"hello")
assert size(m + "/a") == 5, size(m + "/a")
os.ftruncate(fd, 2)
assert size(m + "/a") == 2, size(m + "/a")
os.write(fd, b"abcdefgh")
assert size(m + "/a") == 13, size(m + "/a")
os.close(fd)
assert size(m + "/a") == 13
fd = os.open(m + "/e", os.O_CREAT | os.O_WRONLY, 0o600)
t0 = os.stat(m + "/e").st_mtime_ns	# cached from here
time.sleep(0.3)
os.close(fd)	# saved at release, asynchronously
time.sleep(0.2)
t1 = os.stat(m + "/e").st_mtime_ns
time.sleep(1.2)	# past any attribute timeout
t2 = os.stat(m + "/e").st_mtime_ns
assert t1 == t2 and t1 > t0, (t0, t1, t2)' "$MNT" ||
	fail "a file being created: stale attributes"
# envelope_reads, decryptions: what the daemon counted so far
reads() {
	getfattr -n user.enccache.stats --only-values "$MNT" |
		py 'import json, sys
s = json.load(sys.stdin)
print(s["envelope_reads"], s["decryptions"])'
}
r0=$(reads)
n0=$(grep -c 'opcode: GETATTR' "$LOG" || :)
for ((i = 0; i < 40; i++)); do printf x >"$MNT/cr/f$i"; done
n1=$(grep -c 'opcode: GETATTR' "$LOG" || :)
# Each new entry's save is remembered as written, not read back; also text
# that looks like JSON to the auto view and is not (stored as bytes).
printf '{ not json' >"$MNT/cr/j1"
printf '  7 apples' >"$MNT/cr/j2"
[ "$(reads)" = "$r0" ] || fail "40 new entries saved: envelope reads, decryptions $r0 -> $(reads)"
[ "$(cat "$MNT/cr/f7")" = x ] || fail "cr/f7: $(cat "$MNT/cr/f7")"
[ "$(cat "$MNT/cr/j1")" = '{ not json' ] || fail "cr/j1: $(cat "$MNT/cr/j1")"
[ "$(command stat -c %s "$MNT/cr/j2")" = 10 ] || fail "cr/j2: $(command stat -c %s "$MNT/cr/j2") bytes"
[ "$(ec get cr/j2)" = '  7 apples' ] || fail "cr/j2 as stored: $(ec get cr/j2)"
# None of the new file (create's attributes), none of the directory (with
# default_permissions the kernel would fetch them again after each create).
[ $((n1 - n0)) -le 4 ] ||
	fail "$((n1 - n0)) GETATTRs for 40 files created (want <= 4)"
awk -v m="$MNT" '$5 == m' /proc/self/mountinfo | grep -q default_permissions &&
	fail "default_permissions without allow_other: $(grep " $MNT " /proc/self/mountinfo)"
py 'import os, sys
m = sys.argv[1]
assert os.access(m + "/cr/f1", os.R_OK | os.W_OK)
assert not os.access(m + "/cr/f1", os.X_OK)
assert os.access(m + "/cr", os.R_OK | os.W_OK | os.X_OK)
try:
    os.execv(m + "/cr/f1", ["f1"])
except PermissionError:
    pass' "$MNT" || fail "access(2) or exec of a file"
fusermount3 -u "$MNT" || fail "fusermount3 -u $MNT failed"
wait "$FS_PID" || fail "enccachefs -o debug exited $?"
FS_PID=
exit 0
