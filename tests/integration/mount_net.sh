#!/bin/bash
# mount_net: the network mode on a local directory (-o net_timeout=
# given: the backing store is taken as shared, no inotify), so that it
# runs wherever FUSE does (mount_gluster.sh runs it on a real distributed
# file system).  Without inotify, changes the Python module makes show by
# revalidation alone: a new entry at once, an overwrite in place and an
# unlink within net_timeout (+ a margin for loaded machines), both in
# listings and by name; an entry read to its end is opened again without
# a decryption; a half-written envelope stays hidden (never read torn); a
# save through the mount shows at once.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/mountlib.sh"
command -v getfattr >/dev/null || skip "no getfattr (install the Debian package attr)"

make_secrets "$T/secrets.json" default pw-net
make_salt "$T/salt" 'net-salt'
NET=0.5
LOG_OK="$LOG_OK|^enccachefs: '[^']*' is shared \(net_timeout=\): names and attributes are cached $NET s at most, without inotify\$"

put() { ec put "$1" --data-file <(printf '%s' "$2"); }
counter() {
	getfattr --only-values -n user.enccache.stats "$MNT" |
		"$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}
reads() { [ "$(cat "$MNT/$1" 2>/dev/null)" = "$2" ]; }
gone() { ! cat "$MNT/$1" >/dev/null 2>&1 && [ ! -e "$MNT/$1" ]; }
listed() { ls "$MNT/d" | grep -qx "$1"; }

mkdir -m 700 "$C/d"
for i in 1 2 3; do put "d/e$i" "first $i"; done
fs_start "net_timeout=$NET"
grep -q "is shared (net_timeout=)" "$LOG" || fail "no network mode: $(cat "$LOG")"
for i in 1 2 3; do reads "d/e$i" "first $i" || fail "d/e$i does not read back"; done

# Warm: opened again by a stat, nothing decrypted, once the versions are
# older than 3 s (younger ones may have been read stale from a network
# client's caches: read again each time, present.c).
sleep 3.1
cat "$MNT"/d/e* >/dev/null
d0=$(counter decryptions)
for r in 1 2 3; do cat "$MNT"/d/e* >/dev/null; sleep 0.3; done
d1=$(counter decryptions)
[ "$d1" = "$d0" ] || fail "warm reads decrypted $((d1 - d0)) times (want 0)"

# Changes behind the daemon's back, seen without inotify.
put d/e4 "new 4"
reads d/e4 "new 4" || fail "a new entry does not show at once"
listed e4 || fail "a new entry is not listed at once"
ls -l "$MNT/d" >/dev/null		# e1 cached by the kernel
put d/e1 "second version of 1"
within 1.5 reads d/e1 "second version of 1"
within 1.5 test "$(stat -c %s "$MNT/d/e1")" = 19
rm "$C/d/e2.enc.json"
within 1.5 gone d/e2
! listed e2 || fail "an unlinked entry is still listed"

# In place and slowly (truncate, half, pause, rest): never read torn.
"$PYTHON" - "$C/d/e3.enc.json" "$MNT/d/e3" "$T" "$ECREF_PY" <<'PY' ||
import datetime, os, sys, threading, time
sys.path.insert(0, os.path.dirname(sys.argv[4]))
import ecref
env_path, mnt_path, t = sys.argv[1:4]
args = ecref.build_parser().parse_args(["verify-all", "--dir", "x",
    "--secrets", t + "/secrets.json", "--salt-file", t + "/salt"])
ring = ecref.load_keyring(args)
payload = ecref.plistlib.dumps({"data": b"third 3"}, fmt=ecref.plistlib.FMT_BINARY,
                               sort_keys=True)
body = ecref.envelope_bytes("default", ecref.salt_fingerprint(ring.salt),
    datetime.datetime.now(datetime.timezone.utc).isoformat(),
    ring.fernet("default").encrypt(payload).decode("ascii"), None)
seen, stop = set(), threading.Event()
def reader():
    while not stop.is_set():
        try:
            with open(mnt_path, "rb") as f:
                seen.add(f.read())
        except FileNotFoundError:
            seen.add(None)
th = threading.Thread(target=reader)
th.start()
for k in range(3):
    fd = os.open(env_path, os.O_WRONLY | os.O_TRUNC)
    os.write(fd, body[:len(body) // 2])
    time.sleep(0.3)
    os.write(fd, body[len(body) // 2:])
    os.close(fd)
    time.sleep(0.3)
time.sleep(1.0)
stop.set()
th.join()
bad = seen - {b"first 3", b"third 3", None}
if bad or b"third 3" not in seen:
    sys.exit("read %r" % sorted(map(repr, seen)))
PY
	fail "an envelope written in place was read torn, or never whole"

# Through the mount: at once, for this machine.
echo "saved here" >"$MNT/d/e5"
reads d/e5 "saved here" || fail "a save through the mount does not show"
ec get d/e5 | grep -qx "saved here" || fail "Python does not load the save"
fs_stop
exit 0
