# mount_stress.sh: races.  For a few seconds a Python writer rewrites (in
# place, as the module does), removes and re-creates envelopes, and
# another writes, renames and removes entries through the mount, while
# readers list, stat, read and getfattr through the mount and hold files
# open.  The daemon must not crash or report anything but the expected
# lines, reads must return whole contents (never torn), every envelope
# must load in Python afterwards, and the unmount must be clean.  Most
# useful in a --enable-sanitizers build.
. "$(dirname "$0")/../lib.sh"
require_python
[ -x "$ENCCACHEFS" ] || hard_error "$ENCCACHEFS is not built"
[ -c /dev/fuse ] || skip "no /dev/fuse (FUSE is not available here)"
command -v fusermount3 >/dev/null 2>&1 ||
	skip "no fusermount3 (install the Debian package fuse3)"
PYTHON=$(py 'import sys; print(sys.executable)')
DUR=${STRESS_SECONDS:-6}

C=$T/cache
MNT=$T/mnt
mkdir -p "$C" "$MNT"
chmod 700 "$C"
make_secrets "$T/secrets.json" default pw
make_salt "$T/salt" 'stress-salt'

# The writer: the key is derived once.  Every data blob starts with its own
# length and SHA-256 so a reader can tell a whole one from a torn one.
cat >"$T/writer.py" <<'EOF'
import base64, datetime, hashlib, json, os, plistlib, random, sys, time
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
cache, seconds = sys.argv[1], float(sys.argv[2])
salt = b"stress-salt"
key = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt,
                 iterations=480000).derive(b"pw")
f = Fernet(base64.urlsafe_b64encode(key))
fp = hashlib.sha256(salt).hexdigest()[:16]
r = random.Random(7)
def blob():
    body = os.urandom(r.randrange(0, 6000))
    head = b"%08d" % len(body) + hashlib.sha256(body).hexdigest().encode()
    return head + body
def write(path):
    env = json.dumps({"key": "default", "salt_sha256": fp,
                      "created_at": datetime.datetime.now(
                          datetime.timezone.utc).isoformat(),
                      "encrypted": f.encrypt(plistlib.dumps(
                          {"data": blob()}, fmt=plistlib.FMT_BINARY,
                          sort_keys=True)).decode()})
    with open(path, "w") as fh:        # in place, like the module
        half = len(env) // 2
        fh.write(env[:half])
        fh.flush()
        fh.write(env[half:])
def path(d, e):
    os.makedirs(os.path.join(cache, "d%d" % d), mode=0o700, exist_ok=True)
    return os.path.join(cache, "d%d" % d, "e%d.enc.json" % e)
for d in range(4):
    for e in range(20):
        write(path(d, e))
end = time.time() + seconds
while time.time() < end:
    p = path(r.randrange(4), r.randrange(20))
    if r.random() < 0.15:
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass
    else:
        write(p)
EOF

# The writer through the mount: whole files written in two halves, some
# renamed over others, some removed.
cat >"$T/mwriter.py" <<'EOF'
import hashlib, os, random, sys, time
mnt, seconds = sys.argv[1], float(sys.argv[2])
r = random.Random(11)
d = os.path.join(mnt, "d9")
os.makedirs(d, exist_ok=True)
def blob():
    body = os.urandom(r.randrange(0, 6000))
    return b"%08d" % len(body) + hashlib.sha256(body).hexdigest().encode() + body
end = time.time() + seconds
while time.time() < end:
    p = os.path.join(d, "e%d" % r.randrange(10))
    x = r.random()
    try:
        if x < 0.1:
            os.unlink(p)
        elif x < 0.2:
            os.rename(p, os.path.join(d, "e%d" % r.randrange(10)))
        else:
            with open(p, "wb") as f:
                b = blob()
                f.write(b[:len(b) // 2])
                f.flush()
                f.write(b[len(b) // 2:])
    except FileNotFoundError:
        pass
EOF

# check.py FILE...: each readable file is whole (length and hash agree);
# "-FILE" reads standard input (FILE, already open).  A file created
# through the mount (d9/) reads empty until its first save.
cat >"$T/check.py" <<'EOF'
import hashlib, sys
bad = 0
for p in sys.argv[1:]:
    try:
        if p.startswith("-"):
            p, data = p[1:], sys.stdin.buffer.read()
        else:
            data = open(p, "rb").read()
    except OSError:
        continue        # gone meanwhile: fine
    if not data and "/d9/" in p:
        continue
    n, h, body = int(data[:8]), data[8:72], data[72:]
    if len(body) != n or hashlib.sha256(body).hexdigest().encode() != h:
        print("torn:", p, len(data), file=sys.stderr)
        bad += 1
sys.exit(1 if bad else 0)
EOF

"$PYTHON" "$T/writer.py" "$C" 0
"$ENCCACHEFS" -f -o "secrets=$T/secrets.json,salt_file=$T/salt" "$C" "$MNT" \
	>"$T/daemon.log" 2>&1 &
FS_PID=$!
cleanup_fs() {
	# (mountpoint(1) says no for a mount whose daemon died: ask the
	# mount table, and detach lazily if it is busy.)
	if grep -qF " $MNT " /proc/self/mountinfo 2>/dev/null; then
		fusermount3 -u "$MNT" 2>/dev/null ||
			fusermount3 -uz "$MNT" 2>/dev/null || :
	fi
	kill "$FS_PID" 2>/dev/null || :
	wait "$FS_PID" 2>/dev/null || :
	return 0
}
trap '_rc=$?; cleanup_fs; _lib_cleanup $_rc' EXIT
for ((i = 0; i < 100; i++)); do
	mountpoint -q "$MNT" && break
	kill -0 "$FS_PID" 2>/dev/null || { cat "$T/daemon.log" >&2; fail "mount failed"; }
	sleep 0.1
done
mountpoint -q "$MNT" || fail "not mounted"

"$PYTHON" "$T/writer.py" "$C" "$DUR" &
WPID=$!
"$PYTHON" "$T/mwriter.py" "$MNT" "$DUR" &
MPID=$!
PIDS=()
for k in 1 2; do
	(
		shopt -s nullglob
		end=$((SECONDS + DUR))
		while [ $SECONDS -lt $end ]; do
			ls -lR "$MNT" >/dev/null 2>&1 || :
			"$PYTHON" "$T/check.py" "$MNT"/d*/e* || exit 1
		done
	) &
	PIDS+=($!)
done
(
	shopt -s nullglob
	end=$((SECONDS + DUR))
	while [ $SECONDS -lt $end ]; do
		for f in "$MNT"/d*/e*; do
			getfattr -d "$f" >/dev/null 2>&1 || :
			if { exec 3<"$f"; } 2>/dev/null; then
				sleep 0.005
				"$PYTHON" "$T/check.py" "-$f" <&3 || exit 1
				exec 3<&-
			fi
		done
	done
) &
PIDS+=($!)
for p in "${PIDS[@]}"; do
	wait "$p" || fail "a reader saw a torn file"
done
wait "$WPID" || fail "the writer failed"
wait "$MPID" || fail "the writer through the mount failed"
kill -0 "$FS_PID" 2>/dev/null || fail "the daemon died"
"$PYTHON" "$T/check.py" "$MNT"/d9/e* || fail "a file written through the mount is torn"

fusermount3 -u "$MNT" || fail "fusermount3 -u failed"
rc=0
wait "$FS_PID" || rc=$?
[ "$rc" -eq 0 ] || { cat "$T/daemon.log" >&2; fail "enccachefs exited $rc"; }
bad=$(grep -Ev "^enccachefs: (entry|directory) '[^']*' is accessible by group or others \(mode 0[0-7]{3}\); shown as 0[67]00\$" "$T/daemon.log" || :)
[ -z "$bad" ] || fail "unexpected daemon output: $bad"
[ -z "$(find "$C" -name '.ec-tmp-*')" ] || fail "temp files left"
ecref verify-all --dir "$C" --secrets "$T/secrets.json" \
	--salt-file "$T/salt" >/dev/null || fail "an envelope does not load"
exit 0
