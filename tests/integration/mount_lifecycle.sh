# mount_lifecycle.sh: the written lifecycle of a file, case by case, with
# precise system calls (Python os.open/os.write/os.close/os.rename); the
# mount and the backing directory (loaded by the independent ecref.py)
# are checked after each case.
#   B1  two writers on one entry: the first writes and closes, the file is
#       renamed (or unlinked), the second writes and closes: its buffer is
#       saved under the new name (or nowhere), the old name stays absent.
#   B2  rmdir of a directory whose only file is being created (open, not
#       saved yet) is ENOTEMPTY, and so is renaming an empty directory
#       over it; the file is saved in that directory at close.
#   B3  created (O_EXCL), closed without a write, renamed at once, 50
#       times: the save made at release lands under the new name (within
#       1 s), never under the old one.
#   B1-trunc  B1 with saves at release: while a writer is open, two
#       handles truncate the file and close without a write; the file is
#       unlinked, the writer closes: nothing comes back (50 times).
#   minor  a reader opened while the file is being created: after the
#       first save, fstat's st_size is what read() returns (5, b'hello').
#   live  a reader opened while a writer is open reads the last saved
#       content, also after a rename, and after an unlink (live-unlinked:
#       an unlinked file stays readable); it follows its file, not the
#       name (live-replaced: another file renamed over it is not read).
#   own-event  a save through the mount keeps its node (same inode number
#       after the save's own inotify event), and an outside save right
#       after it still shows within the slack (in place, in place of the
#       same size, renamed over it).
#   ino-split  st_ino is the file's, not its node's: a writer opened beside
#       a reader of a snapshot gets a node of its own, yet stat and fstat
#       show one number throughout, and after an outside rewrite in place
#       (vim refuses to write when it changes: E949); a file renamed over
#       the envelope from outside shows another.
#   and what already works: a writer renamed before its close saves under
#   the new name; writes to an unlinked file vanish and close returns 0;
#   rmdir of an empty directory.
# Every case runs (each in its own directory); the test fails if any did.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/mountlib.sh"

make_secrets "$T/secrets.json" default pw-lifecycle
make_salt "$T/salt" 'lifecycle-salt\001\377'
SLACK=1.0
[ "${EC_SANITIZED:-no}" = yes ] && SLACK=2.0
[ "${VALGRIND:-0}" = 1 ] && SLACK=5.0
ORIG='original content'
printf '%s' "$ORIG" >"$T/orig"
for id in b1r/e b1u/e ctl/renamed ctl/unlinked live/e liveu/e ino/e; do
	ec put "$id" --data-file "$T/orig" &
done
wait

# lc.py MNT CACHE SECRETS SALT SLACK CASE...: runs each case, one line
# each: "CASE: ok" or "CASE: FAIL: what happened".
cat >"$T/lc.py" <<'EOF'
import errno, os, sys, time
sys.path.insert(0, os.environ["FSMODEL_DIR"])
from fsmodel import Backing, ecref

mnt, cache, secrets, salt, slack = sys.argv[1:6]
slack = float(slack)
back = Backing(cache, secrets, salt)
ORIG = os.environ["ORIG"].encode()
WR, NEW = os.O_WRONLY, os.O_WRONLY | os.O_CREAT | os.O_EXCL

def m(p):
    return os.path.join(mnt, p)

def mread(p):
    """The file through the mount (fresh open), or None when absent."""
    try:
        with open(m(p), "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None

def bload(p):
    try:
        return back.load(p)
    except ecref.EntryError as e:
        return "does not load: %s" % e

def poll(cond, limit=slack):
    end = time.monotonic() + limit
    while not cond():
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True

def errname(fn, *a):
    try:
        fn(*a)
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))

def where(p, want):
    """Problems with p (want: bytes, or None for absent) on both sides."""
    out = []
    got = mread(p)
    if got != want:
        out.append("%s through the mount is %s" % (
            p, "absent" if got is None else repr(got)))
    got = bload(p)
    if got != want:
        out.append("%s in the backing dir (ecref) is %s" % (
            p, "absent" if got is None else repr(got)))
    return out

def b1(d, how):
    e, n = d + "/e", d + "/d"
    a = os.open(m(e), WR)
    b = os.open(m(e), WR)
    os.write(a, b"first")
    os.close(a)
    if how == "rename":
        os.rename(m(e), m(n))
    else:
        os.unlink(m(e))
    os.pwrite(b, b"second", 0)
    r = errname(os.close, b)
    bad = [] if r == "ok" else ["the second close returned " + r]
    want = b"second" + ORIG[6:]
    if how == "rename":
        bad += where(n, want) + where(e, None)
        return bad, "want %s = %r, %s absent" % (n, want, e)
    bad += where(e, None) + where(n, None)
    return bad, "want %s absent everywhere" % e

def b2(d, how):
    os.mkdir(m(d))
    fd = os.open(m(d + "/f"), NEW, 0o600)
    bad = []
    if how == "rmdir":
        r = errname(os.rmdir, m(d))
        what = "rmdir(%s) while %s/f is open, not saved" % (d, d)
    else:
        os.mkdir(m(d + "2"))
        r = errname(os.rename, m(d + "2"), m(d))
        what = "rename(%s2, %s) while %s/f is open, not saved" % (d, d, d)
    if r != "ENOTEMPTY":
        bad.append("%s returned %s" % (what, r))
    r2 = errname(os.close, fd)
    if r2 != "ok":
        bad.append("close returned " + r2)
    # Saved at release: poll the backing dir.
    poll(lambda: back.ident(d + "/f") is not None)
    if r == "ok" and os.path.exists(os.path.join(cache, d, "f.enc.json")):
        bad.append("then the save at release still wrote %s/f (into the "
                   "directory now named %s)" % (d, d))
    bad += where(d + "/f", b"")
    if not os.path.isdir(m(d)) or not os.path.isdir(os.path.join(cache, d)):
        bad.append("%s is no longer a directory (mount %s, backing %s)" % (
            d, os.path.isdir(m(d)), os.path.isdir(os.path.join(cache, d))))
    if how == "rename" and not os.path.isdir(m(d + "2")):
        bad.append("%s2 is gone" % d)
    return bad, "want ENOTEMPTY, then %s/f = b'' on both sides" % d

def b3(d, count=50):
    os.mkdir(m(d))
    mount_bad = set()
    for k in range(count):
        x, y = m("%s/x%d" % (d, k)), m("%s/y%d" % (d, k))
        fd = os.open(x, NEW, 0o600)
        os.close(fd)
        os.rename(x, y)
        if not os.path.exists(y) or os.path.exists(x):
            mount_bad.add(k)
    def ok(k):
        return back.ident("%s/y%d" % (d, k)) is not None and \
            back.ident("%s/x%d" % (d, k)) is None
    poll(lambda: all(ok(k) for k in range(count)))
    time.sleep(0.2)     # a late save to the old name would show now
    fails = {}
    for k in range(count):
        x, y = "%s/x%d" % (d, k), "%s/y%d" % (d, k)
        p = []
        if k in mount_bad:
            p.append("right after the rename the mount had no y or an x")
        for side, get in (("mount", mread), ("backing dir", bload)):
            got = get(y)
            if got != b"":
                p.append("%s %s in the %s" % (
                    y, "absent" if got is None else "is %r" % got, side))
            if get(x) is not None:
                p.append("%s exists in the %s" % (x, side))
        if p:
            fails[k] = p
    bad = []
    if fails:
        bad.append("%d of %d failed; e.g. %s" % (
            len(fails), count, "; ".join(
                "#%d: %s" % (k, ", ".join(v))
                for k, v in sorted(fails.items())[:3])))
    return bad, "want every y present (b'') and every x absent"

def b1_trunc(d, count=50):
    """B1 with saves at release: while a writer is open, two other
    handles truncate the file and close without a write (each saves at
    release, asynchronously); then the file is unlinked and the writer
    closes: nothing may come back."""
    os.mkdir(m(d))
    for k in range(count):
        e = m("%s/e%d" % (d, k))
        fd = os.open(e, NEW, 0o600)
        os.write(fd, b"orig")
        os.close(fd)
        a = os.open(e, WR)
        os.write(a, b"AAAA")
        for _ in range(2):
            os.close(os.open(e, os.O_WRONLY | os.O_TRUNC))
        os.unlink(e)
        os.close(a)
    time.sleep(0.3)     # late saves at release land meanwhile
    back_ = {k: bload("%s/e%d" % (d, k)) for k in range(count)}
    fails = [k for k in range(count)
             if back_[k] is not None or mread("%s/e%d" % (d, k)) is not None]
    bad = []
    if fails:
        bad.append("%d of %d came back after unlink and the writer's close; "
                   "e.g. %s/e%d holds %r in the backing dir" % (
                       len(fails), count, d, fails[0], back_[fails[0]]))
    return bad, "want every e absent"

def live_unlinked(d):
    e = d + "/e"
    w = os.open(m(e), WR)
    r = os.open(m(e), os.O_RDONLY)     # live: a writer is open
    os.pwrite(w, b"NEW", 0)
    os.close(w)
    os.unlink(m(e))
    want = b"NEW" + ORIG[3:]
    bad = []
    try:
        got = os.pread(r, 100, 0)
        size = os.fstat(r).st_size
        if got != want or size != len(want):
            bad.append("the reader read %r, st_size %d" % (got, size))
    except OSError as x:
        bad.append("the reader's read failed: %s" % errno.errorcode.get(
            x.errno, x.errno))
    os.close(r)
    return bad, "want %r: an unlinked file stays readable" % want

def live_replaced(d):
    """A live reader follows its file, not the name: after another file
    is renamed over it, it reads its own file's last saved content."""
    os.mkdir(m(d))
    e, x = d + "/e", d + "/x"
    fd = os.open(m(x), NEW, 0o600)
    os.write(fd, b"OTHER FILE")
    os.close(fd)
    w = os.open(m(e), NEW, 0o600)
    r = os.open(m(e), os.O_RDONLY)     # live: being created
    os.write(w, b"MINE")
    os.close(w)
    os.rename(m(x), m(e))
    bad = []
    try:
        got = os.pread(r, 100, 0)
        if got != b"MINE":
            bad.append("the reader read %r" % got)
    except OSError as x_:
        bad.append("the reader's read failed: %s" % errno.errorcode.get(
            x_.errno, x_.errno))
    os.close(r)
    return bad, "want b'MINE'"

def minor(d):
    os.mkdir(m(d))
    f = m(d + "/f")
    w = os.open(f, NEW, 0o600)
    r = os.open(f, os.O_RDONLY)
    os.write(w, b"hello")
    os.close(w)
    size = os.fstat(r).st_size
    data = os.read(r, 100)
    os.close(r)
    bad = []
    if size != len(data) or data != b"hello":
        bad.append("the reader opened before the first write: fstat "
                   "st_size %d, read() %r" % (size, data))
    return bad, "want st_size 5 and b'hello'"

def live(d):
    e, n = d + "/e", d + "/n"
    w = os.open(m(e), WR)
    r = os.open(m(e), os.O_RDONLY)     # live: a writer is open
    bad = []
    got = os.pread(r, 100, 0)
    if got != ORIG:
        bad.append("before the save: %r" % got)
    os.pwrite(w, b"ONE", 0)
    os.close(w)
    got = os.pread(r, 100, 0)
    if got != b"ONE" + ORIG[3:]:
        bad.append("after the first save: %r" % got)
    os.rename(m(e), m(n))
    w = os.open(m(n), os.O_WRONLY | os.O_TRUNC)
    os.write(w, b"TWO")
    os.close(w)
    got = os.pread(r, 100, 0)
    size = os.fstat(r).st_size
    if got != b"TWO" or size != 3:
        bad.append("after a rename and a second save: %r, st_size %d"
                   % (got, size))
    os.close(r)
    return bad, "want the last saved content at every read"

def own_event(d):
    """A save through the mount keeps its node: the save's own inotify
    event does not drop the kernel's entry (the inode number is the same
    after it; dropping it would cost a FORGET and a new node).  And an
    outside rewrite right after a save through the mount still shows at
    once: in place as the module writes (also of the same size), or by a
    new file renamed over the envelope."""
    import datetime
    os.mkdir(m(d))
    # The mkdir's own event drops the directory's entry, and with it the
    # kernel's entries below it: handled before the first file.
    time.sleep(0.3)
    bad = []
    now = lambda: datetime.datetime.now(datetime.timezone.utc).isoformat()
    for k, how in enumerate(("in place", "same size in place", "rename")):
        f = d + "/f%d" % k
        fd = os.open(m(f), NEW, 0o600)
        os.write(fd, b"mine %d" % k)
        a = os.fstat(fd).st_ino
        os.close(fd)
        time.sleep(0.3)            # the save's own event is handled
        b = os.stat(m(f)).st_ino
        fd = os.open(m(f), WR | os.O_TRUNC)
        os.write(fd, b"ours %d" % k)
        os.close(fd)
        time.sleep(0.3)
        c = os.stat(m(f)).st_ino
        if not a == b == c:
            bad.append("%s: inode %d at create, %d after its save's "
                       "event, %d after an overwrite's" % (f, a, b, c))
        theirs = b"THEM %d" % k if how == "same size in place" else \
            b"theirs, longer %d" % k
        if how == "rename":
            ecref.save_entry(back.args, back.ring, d + "/tmp", theirs,
                             "default", None, None, now())
            os.rename(back.envelope(d + "/tmp"), back.envelope(f))
        else:
            ecref.save_entry(back.args, back.ring, f, theirs, "default",
                             None, None, now())
        if not poll(lambda: mread(f) == theirs):
            bad.append("%s: an outside save %s right after ours is not "
                       "shown within %.1f s (%r)" % (f, how, slack,
                                                     mread(f)))
    return bad, "want one inode per file, and the outside saves shown"

def ino_split(d):
    """st_ino is the file's.  A writer opened beside a reader of a
    snapshot gets a node of its own (fs.h; ecfs_open's ESTALE), which
    shows the number the file showed: vim stats the file, copies it to
    its backup (a reader, whose release comes after vim's next open), and
    fails with E949 if the open's fstat shows another number."""
    import datetime
    now = lambda: datetime.datetime.now(datetime.timezone.utc).isoformat()
    e = d + "/e"
    a = os.stat(m(e)).st_ino
    r = os.open(m(e), os.O_RDONLY)
    os.read(r, 100)                 # a snapshot through the page cache
    w = os.open(m(e), WR)           # beside it: a node of its own
    b, c = os.fstat(w).st_ino, os.stat(m(e)).st_ino
    os.write(w, b"NEW")
    os.close(w)
    got = [a, b, c, os.stat(m(e)).st_ino, os.fstat(r).st_ino]
    os.close(r)
    bad = []
    if len(set(got)) != 1:
        bad.append("inode at first, of the writer beside a reader, by "
                   "name then, after its save, of the reader: %s" % got)
    ecref.save_entry(back.args, back.ring, e, b"theirs", "default", None,
                     None, now())
    if not poll(lambda: mread(e) == b"theirs"):
        bad.append("an outside rewrite is not shown: %r" % mread(e))
    elif os.stat(m(e)).st_ino != a:
        bad.append("inode %d after an outside rewrite in place, was %d"
                   % (os.stat(m(e)).st_ino, a))
    ecref.save_entry(back.args, back.ring, d + "/tmp", b"another",
                     "default", None, None, now())
    os.rename(back.envelope(d + "/tmp"), back.envelope(e))
    if not poll(lambda: mread(e) == b"another"):
        bad.append("a file renamed over it is not shown: %r" % mread(e))
    elif os.stat(m(e)).st_ino == a:
        bad.append("a file renamed over it from outside shows its "
                   "inode %d" % a)
    return bad, "want one inode for the file, another for a new one"

def ctl_renamed(d):
    e, n = d + "/renamed", d + "/moved"
    w = os.open(m(e), WR)
    os.pwrite(w, b"NEW", 0)
    os.rename(m(e), m(n))
    os.close(w)
    return where(n, b"NEW" + ORIG[3:]) + where(e, None), \
        "want %s saved, %s absent" % (n, e)

def ctl_unlinked(d):
    e = d + "/unlinked"
    w = os.open(m(e), WR)
    os.unlink(m(e))
    os.write(w, b"lost")
    r = errname(os.close, w)
    bad = [] if r == "ok" else ["close returned " + r]
    return bad + where(e, None), "want close 0 and %s absent" % e

def ctl_rmdir(d):
    os.mkdir(m(d))
    r = errname(os.rmdir, m(d))
    bad = [] if r == "ok" else ["rmdir of an empty directory: " + r]
    if os.path.exists(m(d)) or os.path.exists(os.path.join(cache, d)):
        bad.append("%s still exists" % d)
    return bad, "want rmdir to work"

CASES = {
    "B1-rename": lambda: b1("b1r", "rename"),
    "B1-unlink": lambda: b1("b1u", "unlink"),
    "B2-rmdir": lambda: b2("b2", "rmdir"),
    "B2-rename": lambda: b2("b2r", "rename"),
    "B3": lambda: b3("b3"),
    "B1-trunc": lambda: b1_trunc("b1t"),
    "minor": lambda: minor("minor"),
    "live": lambda: live("live"),
    "live-unlinked": lambda: live_unlinked("liveu"),
    "live-replaced": lambda: live_replaced("liver"),
    "own-event": lambda: own_event("own"),
    "ino-split": lambda: ino_split("ino"),
    "ok-rename-before-close": lambda: ctl_renamed("ctl"),
    "ok-unlinked-writes-vanish": lambda: ctl_unlinked("ctl"),
    "ok-rmdir-empty": lambda: ctl_rmdir("ctl/empty"),
}
for name in sys.argv[6:]:
    try:
        bad, want = CASES[name]()
    except OSError as e:
        bad, want = ["%s: %s" % (errno.errorcode.get(e.errno, e.errno),
                                 e)], "no error"
    if bad:
        print("%s: FAIL: %s (%s)" % (name, "; ".join(bad), want))
    else:
        print("%s: ok" % name)
    sys.stdout.flush()
EOF

CASES="B1-rename B1-unlink B1-trunc B2-rmdir B2-rename B3 minor live
	live-unlinked live-replaced own-event ino-split ok-rename-before-close ok-unlinked-writes-vanish ok-rmdir-empty"
fs_start ""
FSMODEL_DIR=$top_srcdir/tests/integration ORIG=$ORIG "$PYTHON" "$T/lc.py" \
	"$MNT" "$C" "$T/secrets.json" "$T/salt" "$SLACK" $CASES >"$T/cases" ||
	{ cat "$T/cases" >&2; hard_error "lc.py failed"; }
sed "s/^/$testname: /" "$T/cases" >&2
[ "$(grep -c . "$T/cases")" -eq "$(echo $CASES | wc -w)" ] ||
	hard_error "lc.py did not run every case"
failed=$(grep ': FAIL: ' "$T/cases" | cut -d: -f1 | tr '\n' ' ' || :)
fs_stop
[ -z "$failed" ] || fail "failed: $failed"
exit 0
