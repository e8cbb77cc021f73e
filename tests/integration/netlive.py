#!/usr/bin/env python3
"""Two machines sharing one cache: liveness and concurrent writers.

Used by tests/integration/mount_gluster.sh and scripts/bench.  "Machine A"
and "machine B" are two clients of one shared file system (two GlusterFS
client mounts of one volume: neither sees the other's changes through
inotify), each with enccachefs mounted over the cache directory.

  netlive.py live A_CACHE A_MNT B_MNT SECRETS SALT_FILE TRIALS TTL_S
      Liveness, TRIALS trials of each kind, in 5 threads (each on entries of
      its own, a random pause before each change so that it falls anywhere
      in the caches' lifetimes): an entry written through A (alternately by
      the Python module, in place, and through A's mount) is read through
      B's mount (new: a new name; write: an overwrite B had read); an
      unlink through A (alternately by os.unlink on A's cache directory and
      through A's mount) makes open(2) on B fail with ENOENT (unlink), and
      stat(2) (unlink_stat); an entry whose expiry falls TTL_S seconds of B's
      ttl after its created_at is hidden by B (expiry: seconds after the
      expiry instant).  Every read on B must give the old or the new
      content or ENOENT, never anything else (a half-written envelope stays
      hidden).  Prints one JSON object: {kind: {"n", "median", "max"}} in
      seconds.

  netlive.py writers A_CACHE A_MNT B_MNT SECONDS SECRETS SALT_FILE
      Both mounts overwrite one entry (w/shared) in a loop and create
      entries of their own (w/a-N, w/b-N) for SECONDS, while a third thread
      loads w/shared with the Python module from A's cache directory (every
      envelope must load: always complete; ESTALE, the file replaced by the
      other client between lookup and read, is counted and read again, as
      on NFS, and so is an empty read: GlusterFS's client showing the new
      file with the size it cached for it as an empty temp file) and lists
      the directory (temp
      files must be named .ec-tmp- and 32 hex digits).  Then A writes once
      more: that last close wins, through both mounts and for Python; every
      entry a close() acknowledged is there with its content.  A write whose
      open or close failed with ESTALE or ENOENT (the client's cache said
      the name's old file was there) acknowledged nothing: it is counted
      (retried) and made again.  Prints a
      JSON summary; exit 1 with a message on any violation.
"""
import datetime as dt
import errno
import json
import os
import random
import re
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "interop"))
import ecref  # noqa: E402

POLL_S = 0.005
LIMIT_S = 20.0          # a change not seen by then fails the run
TEMP_RE = re.compile(r"^\.ec-tmp-[0-9a-f]{32}$")


class Args:
    def __init__(self, cache):
        self.dir = cache
        self.suffix = ecref.DEFAULT_SUFFIX


def keyring(secrets, salt_file):
    with open(secrets, "rb") as f:
        sec = json.loads(f.read().decode("utf-8"))
    with open(salt_file, "rb") as f:
        salt = f.read()
    return ecref.Keyring(sec, salt)


def iso(t):
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat()


def read_b(path):
    """The content of path, or None when it does not exist."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def read_raw(path):
    """The file's bytes; EntryError as ecref.read_envelope gives them."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise ecref.EntryError("no such entry")
    except OSError as e:
        raise ecref.EntryError("cannot read: %s" % e.strerror)


def stat_of(path):
    try:
        st = os.stat(path)
    except OSError as e:
        return e.strerror
    return "ino %d size %d mtime %d ctime %d" % (
        st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class Failure(Exception):
    pass


def wait_for(pred, what):
    t0 = time.monotonic()
    while True:
        if pred():
            return time.monotonic() - t0
        if time.monotonic() - t0 > LIMIT_S:
            raise Failure("%s: not seen within %g s" % (what, LIMIT_S))
        time.sleep(POLL_S)


def summary(v):
    return {"n": len(v), "median": round(statistics.median(v), 4),
            "max": round(max(v), 4)} if v else {"n": 0}


def live(a_cache, a_mnt, b_mnt, secrets, salt_file, trials, ttl_s):
    ring = keyring(secrets, salt_file)
    ring.fernet("default")          # derive once, before timing
    args = Args(a_cache)
    lags = {"new": [], "write": [], "unlink": [], "unlink_stat": [],
            "expiry": []}
    lock = threading.Lock()
    errors = []
    nthreads = 5

    def put_py(cid, data, created=None):
        ecref.save_entry(args, ring, cid, data, "default", None, None,
                         created or iso(time.time()))

    def put_mnt(cid, data):
        with open(os.path.join(a_mnt, cid), "wb") as f:
            f.write(data)

    def expect_b(path, want, old, what):
        # Read through B until want shows; anything but old, want or
        # ENOENT (while old is None) is a violation.
        def seen():
            got = read_b(path)
            if got == want:
                return True
            if got is not None and got != old:
                raise Failure("%s: read %r, neither the old nor the new "
                              "content" % (what, got[:40]))
            return False
        try:
            return wait_for(seen, what)
        except Failure as e:
            raise Failure("%s (B reads %r; on A: %s; on B: %s)" % (
                e, read_b(path), stat_of(os.path.join(a_cache, path[
                    len(b_mnt) + 1:] + args.suffix)), stat_of(path)))

    def worker(w):
        rnd = random.Random(w)
        os.makedirs(os.path.join(a_mnt, "t%d" % w), exist_ok=True)
        for i in range(w, trials, nthreads):
            cid = "t%d/e%d" % (w, i)
            path = os.path.join(b_mnt, cid)
            via_py = i % 2 == 0
            time.sleep(rnd.uniform(0, 1.0))
            v1 = b"new %d via %s" % (i, b"py" if via_py else b"mnt")
            (put_py if via_py else put_mnt)(cid, v1)
            lag = expect_b(path, v1, None, "new %s" % cid)
            with lock:
                lags["new"].append(lag)
            read_b(path)                # B has it cached now
            time.sleep(rnd.uniform(0, 1.0))
            v2 = b"overwrite %d" % i
            (put_py if not via_py else put_mnt)(cid, v2)
            lag = expect_b(path, v2, v1, "write %s" % cid)
            with lock:
                lags["write"].append(lag)
            os.stat(path)
            time.sleep(rnd.uniform(0, 1.0))
            if via_py:
                os.unlink(os.path.join(a_cache, cid + args.suffix))
            else:
                os.unlink(os.path.join(a_mnt, cid))
            t0 = time.monotonic()
            expect_b(path, None, v2, "unlink %s" % cid)
            lag_open = time.monotonic() - t0

            def gone():
                try:
                    os.stat(path)
                    return False
                except FileNotFoundError:
                    return True
            wait_for(gone, "unlink (stat) %s" % cid)
            with lock:
                lags["unlink"].append(lag_open)
                lags["unlink_stat"].append(time.monotonic() - t0)

    def run(w):
        try:
            worker(w)
        except Exception as e:         # reported by the main thread
            errors.append("%s: %s" % (type(e).__name__, e))

    threads = [threading.Thread(target=run, args=(w,))
               for w in range(nthreads)]
    for t in threads:
        t.start()
    # Expiry, meanwhile: TRIALS entries expiring 30 ms apart, from 2 s on.
    os.makedirs(os.path.join(a_mnt, "x"), exist_ok=True)
    base = time.time() + 2.0
    pending = {}
    for i in range(trials):
        exp = base + 0.03 * i
        cid = "x/e%d" % i
        put_py(cid, b"expiring", iso(exp - ttl_s))
        pending[cid] = exp
    for cid in pending:
        if read_b(os.path.join(b_mnt, cid)) != b"expiring":
            wait_for(lambda c=cid: read_b(os.path.join(b_mnt, c)) ==
                     b"expiring", "expiring entry %s" % cid)
    while pending and not errors:
        for cid in list(pending):
            before = time.time()
            try:
                os.stat(os.path.join(b_mnt, cid))
                now = time.time()
                if now - pending[cid] > LIMIT_S:
                    errors.append("expiry %s: still shown" % cid)
                    pending.clear()
            except FileNotFoundError:
                now = time.time()
                if now < pending[cid] - 0.001:
                    errors.append("expiry %s: hidden %.3f s early"
                                  % (cid, pending[cid] - now))
                # Hidden between before and now: at most now - expiry late.
                lags["expiry"].append(max(0.0, before - pending[cid]))
                del pending[cid]
        time.sleep(POLL_S)
    for t in threads:
        t.join()
    if errors:
        raise Failure("; ".join(errors))
    return {k: summary(v) for k, v in lags.items()}


def writers(a_cache, a_mnt, b_mnt, seconds, secrets, salt_file):
    ring = keyring(secrets, salt_file)
    ring.fernet("default")
    args = Args(a_cache)
    d = os.path.join(a_cache, "w")
    os.makedirs(os.path.join(a_mnt, "w"), exist_ok=True)
    stop = threading.Event()
    acked = {}                  # id -> content, after close() returned 0
    last = {}                   # writer -> last value acknowledged
    errors = []
    stats = {"overwrites": 0, "creates": 0, "loads": 0, "temps_seen": 0,
             "estale": 0, "empty": 0, "retried": 0, "retry_max_s": 0.0}
    lock = threading.Lock()

    def write(path, v):
        # ESTALE or ENOENT from open or close: the network file system's
        # client had the name's file replaced under it (by the other
        # machine's rename) and its cached attributes said otherwise for a
        # moment; nothing was acknowledged: written again, for as long as
        # names and attributes may be cached (GL_ATTR and the mount's
        # 1 s, with slack: a loaded machine saw 0.5 s pass).
        start = time.monotonic()
        while True:
            try:
                with open(path, "wb") as f:
                    f.write(v)
                break
            except (FileNotFoundError, OSError) as e:
                if e.errno not in (errno.ESTALE, errno.ENOENT):
                    raise
                with lock:
                    stats["retried"] += 1
                if time.monotonic() - start > 5.0:
                    raise Failure("%s: cannot be written for 5 s (%s)"
                                  % (path, e.strerror))
                time.sleep(0.01)
        with lock:
            stats["retry_max_s"] = max(stats["retry_max_s"], round(
                time.monotonic() - start, 3))

    def writer(name, mnt):
        i = 0
        try:
            while not stop.is_set():
                v = b"%s-%d" % (name.encode(), i)
                write(os.path.join(mnt, "w", "shared"), v)
                with lock:
                    last[name] = v
                    stats["overwrites"] += 1
                cid = "w/%s-%d" % (name, i)
                write(os.path.join(mnt, cid), v)
                with lock:
                    acked[cid] = v
                    stats["creates"] += 1
                i += 1
        except Exception as e:
            errors.append("writer %s: %s: %s" % (name, type(e).__name__, e))
            stop.set()

    def checker():
        try:
            while not stop.is_set():
                raw = None
                try:
                    # One read, judged by what it returned: reading again
                    # to tell an empty read from a bad one raced with the
                    # client's attribute cache (CI saw the second read
                    # whole after a first one that was not).
                    raw = read_raw(os.path.join(d, "shared" + args.suffix))
                    if raw:
                        ecref.open_envelope(ring, ecref.parse_envelope(raw))
                        with lock:
                            stats["loads"] += 1
                except ecref.EntryError as e:
                    # ESTALE: replaced by a rename on the other client
                    # between the lookup and the read (NFS does the same);
                    # read again, as a reader on a network file system must.
                    if "Stale file handle" in str(e):
                        with lock:
                            stats["estale"] += 1
                    elif str(e) != "no such entry":
                        first = -1 if raw is None else len(raw)
                        try:
                            with open(os.path.join(d, "shared" +
                                                   args.suffix), "rb") as f:
                                raw = f.read()
                        except OSError as e2:
                            raw = e2.strerror.encode()
                        raise Failure("w/shared does not load: %s (%d "
                                      "bytes read; read again: %d bytes, "
                                      "%r)" % (e, first, len(raw), raw[:40]))
                if raw == b"":
                    # Empty: this client shows the file renamed over the
                    # name with the size it had cached for it as a temp
                    # file (0, when the listing below saw it just
                    # created), for up to its attribute timeout.
                    with lock:
                        stats["empty"] += 1
                for nm in os.listdir(d):
                    if nm.startswith("."):
                        with lock:
                            stats["temps_seen"] += 1
                        if not TEMP_RE.match(nm):
                            raise Failure("odd temp file name %r" % nm)
        except Exception as e:
            errors.append("checker: %s: %s" % (type(e).__name__, e))
            stop.set()

    ts = [threading.Thread(target=writer, args=("a", a_mnt)),
          threading.Thread(target=writer, args=("b", b_mnt)),
          threading.Thread(target=checker)]
    for t in ts:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in ts:
        t.join()
    if errors:
        raise Failure("; ".join(errors))
    final = b"a-final"
    # Right after b's last rename, a's client may still cache the name's
    # old file, as during the run (write's retries; CI saw ESTALE here).
    write(os.path.join(a_mnt, "w", "shared"), final)
    env, inner = ecref.load_entry(args, ring, "w/shared")
    if inner["data"] != final:
        raise Failure("Python loads %r, not the last close's %r"
                      % (inner["data"], final))
    for mnt in (a_mnt, b_mnt):
        path = os.path.join(mnt, "w", "shared")
        wait_for(lambda p=path: read_b(p) == final,
                 "last close through %s" % mnt)
    for cid, v in acked.items():
        env, inner = ecref.load_entry(args, ring, cid)
        if inner["data"] != v:
            raise Failure("%s: Python loads %r, not %r"
                          % (cid, inner["data"], v))
        for mnt in (a_mnt, b_mnt):
            got = read_b(os.path.join(mnt, cid))
            if got != v:
                wait_for(lambda p=os.path.join(mnt, cid), v=v:
                         read_b(p) == v, "%s through %s" % (cid, mnt))
    left = [nm for nm in os.listdir(d) if nm.startswith(".")]
    if left:
        raise Failure("temp files left: %s" % left)
    stats["entries"] = len(acked)
    return stats


def main(argv):
    try:
        if argv[1] == "live":
            out = live(argv[2], argv[3], argv[4], argv[5], argv[6],
                       int(argv[7]), float(argv[8]))
        elif argv[1] == "writers":
            out = writers(argv[2], argv[3], argv[4], float(argv[5]),
                          argv[6], argv[7])
        else:
            sys.stderr.write(__doc__)
            return 2
    except Failure as e:
        sys.stderr.write("netlive: %s\n" % e)
        return 1
    print(json.dumps(out, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
