#!/usr/bin/env python3
"""fsmodel: a differential test of enccachefs's written lifecycle.

Random system calls (a seeded RNG) on a mounted enccachefs, each one's
result and errno predicted by a model of the lifecycle and compared; after
every close (and at the end) the whole mount is compared with the model
(a fresh open+read of every name, os.listdir of every directory), and the
backing directory, loaded by the independent reader (ecref.py: every
envelope decrypted), with the model's saved state.

    fsmodel.py --mnt M --cache C --secrets S --salt-file F
               [--seed N] [--ops N] [--backing-every N]
               [--release-window SECONDS] [--slack SECONDS] [--trace]
               [--pending-listed no|yes|either] [--no-save-trunc-pending]

The mount must be empty and use the default view (contents are upper-case
letters and NULs: never JSON, so stored raw).

Exit status: 0 the daemon behaved as the model says, 1 a mismatch (the
seed, the op number, the last ops and the open handles are printed), 2
usage, 99 an error of the tester itself.

The model (the written lifecycle, README "Writing through the mount"):

  * Names: 6 file paths (f0 f1 in the root, d0 and d1) and 2 directory
    names (d0 d1) in the root: files and directories never share a name.
    A path names an inode; rename(2) moves the inode (its handles follow
    it), unlink(2) or a rename over it detaches it (it keeps its handles
    and its last saved content, but nothing is saved for it any more).
  * An inode has "saved" content (None: created, never saved: pending) and
    counts of open writers, live and possibly-live readers.
  * A handle opened for writing (O_WRONLY, O_RDWR) has its own buffer: the
    inode's saved content at open (empty with O_TRUNC, or for a new
    file).  pwrite/append/ftruncate change that buffer and mark the
    handle written; O_APPEND writes (also pwrite, as on Linux) go to the
    buffer's end.  pread on it returns the buffer (EBADF for O_WRONLY).
  * close() of a written handle saves its whole buffer to the inode's
    current name, before close returns, if the inode is still attached
    (else nothing: close returns 0).  Two writers: the last close wins.
  * A handle that created the file or truncated it (O_TRUNC, also a file
    being created by another handle, unless --no-save-trunc-pending) and
    was never written saves empty content when the kernel releases it:
    just after close() returns, asynchronously.  Such a save is "in flight"
    until its envelope lands in the backing directory (its lstat
    changes; up to --slack seconds).  Meanwhile either the old or the new
    content is accepted by the checks; before any operation whose
    outcome depends on the order (an open, a save, a live read of that
    inode) the tester waits for it to land; a detached inode's in-flight
    save is dropped (nothing may be saved for it).
  * A read-only handle is a snapshot (reads the saved content as of its
    open) unless, at its open, the inode had an open writer, was pending,
    or had an open live reader: then it is live and reads the inode's
    current saved content (empty while pending), following renames; a
    read from an offset past 0 may also return the version the last read
    from the start returned (enccachefs(1): no read mixes two versions).
    Once no writer is open on its file, fstat's st_size is what read
    returns.  Reads of a detached file go on as before (POSIX: an
    unlinked file stays readable).
  * The kernel releases a closed handle asynchronously, so for a multi-
    threaded daemon a writer or live reader may still count as open for
    an instant after close() returns.  With --release-window W > 0, a
    reader opened within W seconds of such a close on its inode (or while
    such an undecided reader is open) may be either; the first read that
    tells the two apart decides.  W = 0 is exact: run the daemon with
    -o max_threads=1, which handles requests in the kernel's order (the
    release is queued before close() returns).
  * open: ENOENT for a missing name (without O_CREAT) or directory,
    EEXIST for O_CREAT|O_EXCL on an existing file (also a pending one).
    mkdir: EEXIST; rmdir: ENOENT, ENOTEMPTY when the directory holds any
    file, also a pending one; rename of a directory over a directory that
    holds a file: ENOTEMPTY; RENAME_NOREPLACE: EEXIST (also for a rename
    onto itself, as Linux does); a rename of a path onto itself succeeds
    and changes nothing.
  * The mount lists every name of the model but the files being created:
    enccachefs(1) says such a file "is listed and written to the cache
    only at its first save" (--pending-listed=yes asks for POSIX, where a
    created file is in its directory at once; either accepts both).  A
    fresh open+read of every name returns its saved content (empty while
    pending).  The backing directory holds exactly the directories of the
    model and one valid envelope per attached inode that has saved
    content, with that content.
"""

import argparse
import collections
import ctypes
import errno
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "interop"))
import ecref  # noqa: E402  (the independent implementation)

SUFFIX = ".enc.json"
FILE_NAMES = ("f0", "f1")
DIR_NAMES = ("d0", "d1")
FILE_PATHS = tuple(FILE_NAMES) + tuple(
    d + "/" + f for d in DIR_NAMES for f in FILE_NAMES)
MAX_HANDLES = 8
MAX_SIZE = 3000
ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # never JSON, never a plist
RENAME_NOREPLACE = 1


class Mismatch(Exception):
    pass


def ename(e):
    return errno.errorcode.get(e, str(e))


def short(b, n=40):
    if b is None:
        return "None"
    b = bytes(b)
    if len(b) <= n:
        return "%r(%d)" % (b, len(b))
    return "%r...(%d)" % (b[:n], len(b))


_libc = ctypes.CDLL(None, use_errno=True)


def renameat2(old, new, flags):
    if _libc.renameat2(-100, os.fsencode(old), -100, os.fsencode(new),
                       flags) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


# --- the independent reader of the backing directory -----------------------

class Backing:
    """ecref.py on the cache directory; the keys are derived once."""

    def __init__(self, cache, secrets, salt_file, suffix=SUFFIX):
        self.args = argparse.Namespace(dir=cache, secrets=secrets,
                                       salt_file=salt_file, salt=None,
                                       suffix=suffix)
        self.ring = ecref.load_keyring(self.args)
        self.cache = cache
        self.suffix = suffix

    def envelope(self, cid):
        return os.path.join(self.cache, cid + self.suffix)

    def ident(self, cid):
        """What identifies the envelope's version (a save renames a new
        file over it), or None when there is none."""
        try:
            st = os.lstat(self.envelope(cid))
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def load(self, cid):
        """The entry's data, None when there is no envelope; raises
        ecref.EntryError for one that does not load."""
        try:
            env = ecref.read_envelope(self.envelope(cid))
        except ecref.EntryError as e:
            if str(e) == "no such entry":
                return None
            raise
        return ecref.open_envelope(self.ring, env)["data"]

    def load_all(self):
        """-> ({id: data}, {dir}, {id: error}, [temp files])."""
        files, dirs, bad, tmp = {}, set(), {}, []
        for root, dnames, fnames in os.walk(self.cache):
            rel = os.path.relpath(root, self.cache)
            for d in dnames:
                dirs.add(d if rel == "." else rel + "/" + d)
            for name in fnames:
                cid = name if rel == "." else rel + "/" + name
                if name.startswith(".ec-tmp-"):
                    tmp.append(cid)
                    continue
                if not name.endswith(self.suffix):
                    bad[cid] = "not an envelope"
                    continue
                cid = cid[:-len(self.suffix)]
                try:
                    data = self.load(cid)
                except ecref.EntryError as e:
                    bad[cid] = str(e)
                    continue
                if data is not None:
                    files[cid] = data
        return files, dirs, bad, tmp


# --- the model ---------------------------------------------------------------

class Inode:
    serial = 0

    def __init__(self, path):
        Inode.serial += 1
        self.n = Inode.serial
        self.path = path        # None: detached
        self.saved = None       # None: pending (never saved)
        self.nwriters = 0
        self.nlive = 0
        self.namb = 0
        self.recent = -1e9      # last close of a writer or live reader

    def __repr__(self):
        return "i%d" % self.n


class Handle:
    def __init__(self, hid, fd, inode, flags):
        self.hid = hid
        self.fd = fd
        self.inode = inode
        self.flags = flags
        acc = flags & os.O_ACCMODE
        self.writable = acc != os.O_RDONLY
        self.readable = acc != os.O_WRONLY
        self.append = bool(flags & os.O_APPEND)
        self.kind = "writer" if self.writable else None
        self.buf = bytearray()
        self.written = False
        self.release_save = False   # created or truncated: saved at release
        self.snap = None
        self.pinned = None          # live: the version read from the start
        self.how = ""               # how it came to save at release

    def describe(self):
        s = "h%d fd%d %s %s on %r at %s" % (
            self.hid, self.fd, flagstr(self.flags), self.kind, self.inode,
            self.inode.path)
        if self.writable:
            s += " buf=%s written=%s release_save=%s" % (
                short(self.buf), self.written, self.release_save)
        elif self.kind == "snapshot":
            s += " snap=%s" % short(self.snap)
        return s


def flagstr(flags):
    acc = {os.O_RDONLY: "O_RDONLY", os.O_WRONLY: "O_WRONLY",
           os.O_RDWR: "O_RDWR"}[flags & os.O_ACCMODE]
    for f in ("O_CREAT", "O_EXCL", "O_TRUNC", "O_APPEND"):
        if flags & getattr(os, f):
            acc += "|" + f
    return acc


class InFlight:
    def __init__(self, ident, old, t, op, how):
        self.ident = ident      # the envelope's lstat before the close
        self.old = old          # the saved content before (None: none)
        self.t = t
        self.op = op            # the close
        self.how = how


class Tester:
    def __init__(self, opt, backing):
        self.opt = opt
        self.mnt = opt.mnt
        self.back = backing
        self.rng = random.Random(opt.seed)
        self.dirs = set()           # besides the root ("")
        self.files = {}             # path -> Inode
        self.handles = {}           # hid -> Handle
        self.inflight = {}          # Inode -> InFlight
        self.next_hid = 1
        self.opno = 0
        self.log = collections.deque(maxlen=opt.history)
        self.stats = collections.Counter()
        self.closes = 0
        self.t0 = time.monotonic()

    # --- bookkeeping -----------------------------------------------------

    def note(self, text):
        line = "#%d %s" % (self.opno, text)
        self.log.append(line)
        if self.opt.trace:
            print(line, flush=True)

    def fail(self, what):
        raise Mismatch(what)

    def m(self, path):
        return os.path.join(self.mnt, path) if path else self.mnt

    @staticmethod
    def parent(path):
        return path.rsplit("/", 1)[0] if "/" in path else ""

    def dir_exists(self, d):
        return d == "" or d in self.dirs

    def call(self, fn, *a):
        try:
            return "ok", fn(*a)
        except OSError as e:
            return ename(e.errno), None

    def expect(self, desc, want_err, got_err, h=None):
        if want_err != got_err:
            self.note("%s -> %s   (MODEL: %s)" % (desc, got_err, want_err))
            self.fail("%s%s returned %s, the model says %s" % (
                desc, " (%s)" % h.describe() if h else "", got_err,
                want_err))

    def detach(self, inode):
        inode.path = None
        self.inflight.pop(inode, None)  # nothing may be saved for it now

    # --- release-time saves ------------------------------------------------

    def landed(self, inode, rec):
        return self.back.ident(inode.path) != rec.ident

    def settle(self, inode, why):
        """Wait for inode's in-flight release-time save to land."""
        rec = self.inflight.get(inode)
        if rec is None:
            return
        deadline = rec.t + self.opt.slack
        while not self.landed(inode, rec):
            if time.monotonic() > deadline:
                self.note("(waiting before %s: %s's release-time save from "
                          "op #%d has not landed)" % (why, inode.path,
                                                      rec.op))
                self.fail("the save of '%s' at release (%s, closed without "
                          "a write at op #%d) did not land in the backing "
                          "directory within %.1f s"
                          % (inode.path, rec.how, rec.op, self.opt.slack))
            time.sleep(0.003)
        del self.inflight[inode]

    def settle_old(self):
        now = time.monotonic()
        for inode, rec in list(self.inflight.items()):
            if now - rec.t >= self.opt.slack or self.landed(inode, rec):
                self.settle(inode, "a check")

    def settle_all(self):
        for inode in list(self.inflight):
            self.settle(inode, "the end")

    # --- the ops -------------------------------------------------------------

    def data(self):
        n = self.rng.randint(1, 16)
        return bytes(self.rng.choice(ALPHABET) for _ in range(n))

    def op_open(self):
        r = self.rng.random()
        path = self.rng.choice(FILE_PATHS)
        if r < 0.38:
            flags = os.O_RDONLY
        else:
            flags = self.rng.choice((os.O_WRONLY, os.O_RDWR))
            r2 = self.rng.random()
            if r2 < 0.25:
                flags |= os.O_CREAT | os.O_EXCL
            elif r2 < 0.45:
                flags |= os.O_CREAT | os.O_TRUNC
            elif r2 < 0.52:
                flags |= os.O_CREAT
            elif r2 < 0.72:
                flags |= os.O_TRUNC
            if self.rng.random() < 0.2:
                flags |= os.O_APPEND
        desc = "open %s %s" % (path, flagstr(flags))
        inode = self.files.get(path)
        if not self.dir_exists(self.parent(path)):
            want = "ENOENT"
        elif inode is not None and flags & os.O_CREAT and flags & os.O_EXCL:
            want = "EEXIST"
        elif inode is None and not flags & os.O_CREAT:
            want = "ENOENT"
        else:
            want = "ok"
        if inode is not None and want == "ok":
            self.settle(inode, "an open")
        err, fd = self.call(os.open, self.m(path), flags, 0o600)
        self.expect(desc, want, err)
        if err != "ok":
            self.note("%s -> %s" % (desc, err))
            return
        created = inode is None
        if created:
            inode = Inode(path)
            self.files[path] = inode
        h = Handle(self.next_hid, fd, inode, flags)
        self.next_hid += 1
        self.handles[h.hid] = h
        if h.writable:
            inode.nwriters += 1
            if created or (flags & os.O_TRUNC and (
                    inode.saved is not None or self.opt.save_trunc_pending)):
                h.release_save = True
                h.how = "created" if created else "truncated"
                if not created and inode.saved is None:
                    h.how += (" while another descriptor was creating it"
                              " (DIFF_SAVE_TRUNC_PENDING=0: no save)")
                h.how += " at op #%d" % self.opno
            else:
                h.buf = bytearray(inode.saved or b"")
        else:
            self.classify(h)
            self.stats["readers: " + h.kind] += 1
        self.note("%s -> h%d fd%d %s on %r%s" % (
            desc, h.hid, fd, h.kind, inode, " (new)" if created else ""))

    def classify(self, h):
        i = h.inode
        if i.nwriters or i.saved is None or i.nlive:
            h.kind = "live"
            i.nlive += 1
        elif self.opt.release_window > 0 and (
                i.namb or time.monotonic() - i.recent <
                self.opt.release_window):
            h.kind = "live-or-snapshot"
            h.snap = i.saved
            i.namb += 1
        else:
            h.kind = "snapshot"
            h.snap = i.saved

    def pick(self):
        if not self.handles:
            return None
        return self.handles[self.rng.choice(sorted(self.handles))]

    def reader_content(self, h):
        """The contents h may read: one, or two while undecided."""
        live = h.inode.saved or b""
        if h.kind == "live":
            return [live]
        if h.kind == "snapshot":
            return [h.snap]
        return [h.snap, live]

    def decide(self, h, got):
        """An undecided reader read got: settle its kind if it tells."""
        if h.kind != "live-or-snapshot":
            return
        live = h.inode.saved or b""
        if got == h.snap and got != live:
            h.kind = "snapshot"
            h.inode.namb -= 1
            self.stats["readers: decided snapshot"] += 1
        elif got == live and got != h.snap:
            h.kind = "live"
            self.stats["readers: decided live"] += 1
            h.inode.namb -= 1
            h.inode.nlive += 1

    def op_pwrite(self, append=False):
        h = self.pick()
        if h is None:
            return self.op_open()
        d = self.data()
        if append:
            off = len(h.buf)
            if h.append:
                desc = "write h%d %s (O_APPEND)" % (h.hid, short(d))
            else:
                desc = "pwrite h%d %s at %d (the end)" % (h.hid, short(d),
                                                          off)
        else:
            off = self.rng.randint(0, len(h.buf) + 8) if h.writable else \
                self.rng.randint(0, 8)
            desc = "pwrite h%d %s at %d" % (h.hid, short(d), off)
        if off + len(d) > MAX_SIZE:
            return self.op_ftruncate()
        if append and h.append:
            err, n = self.call(os.write, h.fd, d)
        else:
            err, n = self.call(os.pwrite, h.fd, d, off)
        want = "ok" if h.writable else "EBADF"
        self.expect(desc, want, err, h)
        if err != "ok":
            self.note("%s -> %s" % (desc, err))
            return
        if n != len(d):
            self.fail("%s wrote %d bytes, not %d" % (desc, n, len(d)))
        if h.append:
            off = len(h.buf)    # Linux: pwrite on O_APPEND appends
        if off > len(h.buf):
            h.buf.extend(bytes(off - len(h.buf)))
        h.buf[off:off + len(d)] = d
        h.written = True
        self.note("%s -> %d" % (desc, n))

    def op_ftruncate(self):
        h = self.pick()
        if h is None:
            return self.op_open()
        size = self.rng.randint(0, len(h.buf) + 8)
        desc = "ftruncate h%d %d" % (h.hid, size)
        err, _ = self.call(os.ftruncate, h.fd, size)
        want = "ok" if h.writable else "EINVAL"
        self.expect(desc, want, err, h)
        self.note("%s -> %s" % (desc, err))
        if err == "ok":
            if size < len(h.buf):
                del h.buf[size:]
            else:
                h.buf.extend(bytes(size - len(h.buf)))
            h.written = True

    def op_pread(self):
        h = self.pick()
        if h is None:
            return self.op_open()
        if self.rng.random() < 0.7:
            off, n = 0, 1 << 16
        else:
            off, n = self.rng.randint(0, 40), self.rng.randint(1, 40)
        desc = "pread h%d %d at %d" % (h.hid, n, off)
        if h.kind in ("live", "live-or-snapshot"):
            self.settle(h.inode, "a live read")
        err, got = self.call(os.pread, h.fd, n, off)
        self.expect(desc, "ok" if h.readable else "EBADF", err, h)
        if err != "ok":
            self.note("%s -> %s" % (desc, err))
            return
        if h.writable:
            wants = [bytes(h.buf)]
        else:
            wants = self.reader_content(h)
            if off and h.kind != "snapshot" and h.pinned is not None:
                wants.append(h.pinned)
        cut = [w[off:off + n] for w in wants]
        self.note("%s -> %s" % (desc, short(got)))
        if got not in cut:
            self.fail("%s (%s) read %s; the model says %s" % (
                desc, h.describe(), short(got),
                " or ".join(short(c) for c in cut)))
        if not h.writable and h.kind != "snapshot" and (
                off == 0 or h.pinned is None):
            h.pinned = h.inode.saved or b""
        if off == 0 and n == 1 << 16:
            self.decide(h, got)

    def op_fstat(self):
        # A reader's st_size is what read() returns, once no writer is
        # open on its file (while one is, st_size is not specified).
        h = self.pick()
        if h is None or h.writable or h.inode.nwriters or \
                time.monotonic() - h.inode.recent < self.opt.release_window:
            return self.op_pread()
        if h.kind != "snapshot":
            self.settle(h.inode, "an fstat")
        desc = "fstat h%d" % h.hid
        err, st = self.call(os.fstat, h.fd)
        self.expect(desc, "ok", err, h)
        sizes = [len(c) for c in self.reader_content(h)]
        self.note("%s -> st_size %d" % (desc, st.st_size))
        if st.st_size not in sizes:
            self.fail("%s (%s): st_size %d, but read() returns %s bytes" % (
                desc, h.describe(), st.st_size,
                " or ".join(str(s) for s in sizes)))

    def op_close(self, h=None):
        if h is None:
            h = self.pick()
        if h is None:
            return self.op_open()
        i = h.inode
        desc = "close h%d" % h.hid
        if h.writable and (h.written or h.release_save):
            self.settle(i, "a save")
        ident = None
        if h.writable and not h.written and h.release_save and i.path:
            ident = self.back.ident(i.path)
        err, _ = self.call(os.close, h.fd)
        now = time.monotonic()
        del self.handles[h.hid]
        self.expect(desc + " (%s)" % h.describe(), "ok", err)
        what = ""
        if h.writable:
            i.nwriters -= 1
            i.recent = now
            if i.path is None:
                what = " (detached: nothing saved)"
            elif h.written:
                i.saved = bytes(h.buf)
                what = " (saves %s to %s)" % (short(i.saved), i.path)
            elif h.release_save:
                self.inflight[i] = InFlight(ident, i.saved, now, self.opno,
                                            h.how)
                i.saved = b""
                what = " (saves b'' to %s at release)" % i.path
        elif h.kind == "live":
            i.nlive -= 1
            i.recent = now
        elif h.kind == "live-or-snapshot":
            i.namb -= 1
            i.recent = now
        self.note("%s -> ok%s" % (desc, what))
        self.closes += 1
        self.check_mount()
        if self.closes % self.opt.backing_every == 0:
            self.check_backing()

    def op_rename(self):
        src = self.rng.choice(FILE_PATHS)
        dst = self.rng.choice(FILE_PATHS)
        flags = RENAME_NOREPLACE if self.rng.random() < 0.2 else 0
        desc = "rename %s %s%s" % (src, dst, " NOREPLACE" if flags else "")
        si, di = self.files.get(src), self.files.get(dst)
        if not self.dir_exists(self.parent(src)) or si is None:
            want = "ENOENT"
        elif not self.dir_exists(self.parent(dst)):
            want = "ENOENT"
        elif flags and di is not None:
            want = "EEXIST"
        else:
            want = "ok"
        if flags:
            err, _ = self.call(renameat2, self.m(src), self.m(dst), flags)
        else:
            err, _ = self.call(os.rename, self.m(src), self.m(dst))
        self.expect(desc, want, err)
        self.note("%s -> %s%s" % (desc, err, "" if err != "ok" or src == dst
                                  else " (%r moves%s)" % (
                                      si, "" if di is None else
                                      ", %r is detached" % di)))
        if err != "ok" or src == dst:
            return
        if di is not None:
            self.detach(di)
        del self.files[src]
        self.files[dst] = si
        si.path = dst

    def op_unlink(self):
        path = self.rng.choice(FILE_PATHS)
        desc = "unlink %s" % path
        i = self.files.get(path)
        want = "ok" if i is not None and self.dir_exists(
            self.parent(path)) else "ENOENT"
        err, _ = self.call(os.unlink, self.m(path))
        self.expect(desc, want, err)
        self.note("%s -> %s%s" % (desc, err, " (%r is detached)" % i
                                  if err == "ok" else ""))
        if err == "ok":
            del self.files[path]
            self.detach(i)

    def in_dir(self, d):
        return [p for p in self.files if self.parent(p) == d]

    def op_mkdir(self):
        d = self.rng.choice(DIR_NAMES)
        desc = "mkdir %s" % d
        err, _ = self.call(os.mkdir, self.m(d), 0o700)
        self.expect(desc, "EEXIST" if d in self.dirs else "ok", err)
        self.note("%s -> %s" % (desc, err))
        if err == "ok":
            self.dirs.add(d)

    def op_rmdir(self):
        d = self.rng.choice(DIR_NAMES)
        desc = "rmdir %s" % d
        if d not in self.dirs:
            want = "ENOENT"
        elif self.in_dir(d):
            want = "ENOTEMPTY"
        else:
            want = "ok"
        err, _ = self.call(os.rmdir, self.m(d))
        self.expect(desc + " (holding %s)" % (
            ", ".join("%s %r%s" % (p, self.files[p], " pending"
                                   if self.files[p].saved is None else "")
                      for p in sorted(self.in_dir(d))) or "nothing"),
            want, err)
        self.note("%s -> %s" % (desc, err))
        if err == "ok":
            self.dirs.discard(d)

    def op_rename_dir(self):
        a, b = self.rng.sample(DIR_NAMES, 2)
        desc = "rename %s %s (directories)" % (a, b)
        if a not in self.dirs:
            want = "ENOENT"
        elif b in self.dirs and self.in_dir(b):
            want = "ENOTEMPTY"
        else:
            want = "ok"
        err, _ = self.call(os.rename, self.m(a), self.m(b))
        self.expect(desc, want, err)
        self.note("%s -> %s" % (desc, err))
        if err != "ok":
            return
        self.dirs.discard(a)
        self.dirs.add(b)
        for p in self.in_dir(a):
            i = self.files.pop(p)
            i.path = b + p[len(a):]
            self.files[i.path] = i

    # --- the checks --------------------------------------------------------

    def listing(self, d):
        """-> (names d must list, names it may list)."""
        must, may = set(self.dirs) if d == "" else set(), set()
        mode = self.opt.pending_listed
        for p in self.in_dir(d):
            i, name = self.files[p], p.rsplit("/", 1)[-1]
            rec = self.inflight.get(i)
            if i.saved is None:
                # Being created: listed at its first save (enccachefs(1));
                # POSIX lists it at once.
                if mode == "yes":
                    must.add(name)
                elif mode == "either":
                    may.add(name)
            elif rec is not None and rec.old is None:
                # Its first save is in flight.
                (must if mode == "yes" else may).add(name)
            else:
                must.add(name)
        return must, may

    def check_mount(self):
        self.stats["mount checks"] += 1
        for d in [""] + sorted(self.dirs):
            try:
                got = set(os.listdir(self.m(d)))
            except OSError as e:
                self.fail("check: listdir('%s') failed: %s"
                          % (d or ".", ename(e.errno)))
            must, may = self.listing(d)
            if not must <= got <= must | may:
                pre = d + "/" if d else ""
                pend = sorted(n for n in got ^ must if pre + n in self.files
                              and self.files[pre + n].saved is None)
                self.fail("check: listdir('%s') is %s; the model has %s%s "
                          "(extra %s, missing %s%s)" % (
                              d or ".", sorted(got), sorted(must),
                              " and maybe %s" % sorted(may) if may else "",
                              sorted(got - must - may), sorted(must - got),
                              "; being created, never saved: %s" % pend
                              if pend else ""))
        now = time.monotonic()
        for path in sorted(self.files):
            i = self.files[path]
            wants = [i.saved or b""]
            rec = self.inflight.get(i)
            if rec is not None:
                wants.append(rec.old or b"")
            try:
                fd = os.open(self.m(path), os.O_RDONLY)
                try:
                    got = os.pread(fd, 1 << 16, 0)
                finally:
                    os.close(fd)
            except OSError as e:
                self.fail("check: a fresh open+read of '%s' (%r) failed: %s"
                          % (path, i, ename(e.errno)))
            if got not in wants:
                self.fail("check: a fresh read of '%s' (%r) returns %s; the "
                          "model says %s" % (path, i, short(got), " or ".join(
                              short(w) for w in wants)))
            # That reader was live if a writer or live reader was open.
            if i.nwriters or i.saved is None or i.nlive or i.namb or \
                    now - i.recent < self.opt.release_window:
                i.recent = time.monotonic()

    def check_backing(self):
        self.stats["backing checks"] += 1
        self.settle_old()
        files, dirs, bad, _ = self.back.load_all()
        if bad:
            self.fail("check: envelopes that do not load in the backing "
                      "directory: %s" % bad)
        if dirs != self.dirs:
            self.fail("check: the backing directory has the directories %s; "
                      "the model has %s" % (sorted(dirs), sorted(self.dirs)))
        for path in sorted(set(files) | set(self.files)):
            i = self.files.get(path)
            got = files.get(path)
            wants = [None if i is None else i.saved]
            rec = self.inflight.get(i) if i is not None else None
            if rec is not None:
                wants.append(rec.old)
            if got not in wants:
                self.fail("check: in the backing directory, ecref loads '%s' "
                          "as %s; the model (%s) says %s" % (
                              path, "absent" if got is None else short(got),
                              "no file" if i is None else
                              "%r" % i, " or ".join(
                                  "absent" if w is None else short(w)
                                  for w in wants)))

    # --- the run -----------------------------------------------------------

    OPS = (
        ("open", 24, op_open),
        ("pwrite", 13, op_pwrite),
        ("append", 5, lambda t: t.op_pwrite(append=True)),
        ("ftruncate", 4, op_ftruncate),
        ("pread", 14, op_pread),
        ("fstat", 3, op_fstat),
        ("close", 20, op_close),
        ("rename", 6, op_rename),
        ("unlink", 3, op_unlink),
        ("mkdir", 3, op_mkdir),
        ("rmdir", 2, op_rmdir),
        ("rename dir", 1, op_rename_dir),
    )

    def step(self):
        names = [o[0] for o in self.OPS]
        weights = [o[1] for o in self.OPS]
        name = self.rng.choices(names, weights)[0]
        if name == "open" and len(self.handles) >= MAX_HANDLES:
            name = "close"
        self.stats[name] += 1
        fn = dict((o[0], o[2]) for o in self.OPS)[name]
        fn(self)

    def run(self):
        if os.listdir(self.mnt):
            raise RuntimeError("the mount is not empty")
        for _ in range(self.opt.ops):
            self.opno += 1
            self.step()
        # The end: close everything, then compare everything.
        for hid in sorted(self.handles, key=lambda _: self.rng.random()):
            self.opno += 1
            self.op_close(self.handles[hid])
        self.opno += 1
        self.note("(the end: waiting for saves at release)")
        self.settle_all()
        self.check_mount()
        self.check_backing()
        _, _, _, tmp = self.back.load_all()
        if tmp:
            self.fail("temp files left in the backing directory: %s" % tmp)

    def report(self, why):
        out = sys.stdout
        out.write("MISMATCH (seed %d, op #%d of %d, after %.1f s): %s\n"
                  % (self.opt.seed, self.opno, self.opt.ops,
                     time.monotonic() - self.t0, why))
        out.write("last %d ops:\n" % len(self.log))
        for line in self.log:
            out.write("  %s\n" % line)
        out.write("open handles:\n")
        for hid in sorted(self.handles):
            out.write("  %s\n" % self.handles[hid].describe())
        out.write("model: dirs %s\n" % sorted(self.dirs))
        for p in sorted(self.files):
            i = self.files[p]
            out.write("  %s: %r saved=%s writers=%d live=%d%s\n" % (
                p, i, short(i.saved), i.nwriters, i.nlive,
                " in flight" if i in self.inflight else ""))
        out.write("counts: %s\n" % ", ".join(
            "%s %d" % kv for kv in sorted(self.stats.items())))
        out.write("rerun: fsmodel.py --seed %d --ops %d (--trace prints "
                  "every op; mount_diff.sh: DIFF_TRACE=1)\n"
                  % (self.opt.seed, self.opt.ops))
        out.flush()

    def summary(self):
        dt = time.monotonic() - self.t0
        print("seed %d: %d ops in %.1f s (%s), %d closes, model ok" % (
            self.opt.seed, self.opno, dt, ", ".join(
                "%s %d" % kv for kv in sorted(self.stats.items())),
            self.closes))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mnt", required=True)
    p.add_argument("--cache", required=True)
    p.add_argument("--secrets", required=True)
    p.add_argument("--salt-file", required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--ops", type=int, default=20000)
    p.add_argument("--backing-every", type=int, default=1, metavar="N",
                   help="load the backing directory every N closes")
    p.add_argument("--release-window", type=float, default=0.0,
                   metavar="SECONDS")
    p.add_argument("--slack", type=float, default=1.0, metavar="SECONDS",
                   help="how long a release-time save may take to land")
    p.add_argument("--history", type=int, default=30)
    p.add_argument("--pending-listed", choices=("no", "yes", "either"),
                   default="no",
                   help="whether a file being created (never saved) is "
                   "listed: no (enccachefs(1), the default), yes (POSIX)")
    p.add_argument("--no-save-trunc-pending", dest="save_trunc_pending",
                   action="store_false",
                   help="O_TRUNC on a file being created (never saved) "
                   "saves nothing at release")
    p.add_argument("--trace", action="store_true")
    opt = p.parse_args(argv)
    try:
        back = Backing(opt.cache, opt.secrets, opt.salt_file)
    except (ecref.ConfigError, ecref.UsageError) as e:
        sys.stderr.write("fsmodel: %s\n" % e)
        return 99
    t = Tester(opt, back)
    try:
        t.run()
    except Mismatch as e:
        t.report(str(e))
        return 1
    t.summary()
    return 0


if __name__ == "__main__":
    sys.exit(main())
