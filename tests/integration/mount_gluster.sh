# mount_gluster.sh: one cache, two machines, on a real distributed file
# system.  A one-brick GlusterFS volume of our own (made for this run on
# the local host name, in /tmp, and removed at the end), mounted twice:
# the two client mounts behave like two machines (neither sees the
# other's changes through inotify).  enccachefs runs over the cache
# directory on each client, in its network mode (a FUSE backing file
# system: no inotify, names and attributes cached net_timeout, 1 s).
#
#   - liveness (tests/integration/netlive.py live): 30 trials each of a new
#     entry, an overwrite (by the Python module in place, or through the
#     other mount), an unlink, seen through the other machine's mount; and
#     30 expiries.  Median and max are printed; the max must stay within
#     the bound the README promises plus a margin: new entries and
#     overwrites (open, read) within GL_ATTR (GlusterFS's own attribute
#     cache, 1 s) + 1.5 s; an unlink seen by stat(2) within net_timeout +
#     GL_ATTR + 1.5 s; an expiry within 1.5 s.  The margin covers a loaded
#     CI machine (sanitizer builds); the figures on an idle one are in the
#     README.  Every read gives the old content, the new one, or ENOENT.
#   - writers (netlive.py writers): both mounts overwrite one entry and
#     create entries of their own for WRITERS_S seconds while Python loads
#     the shared one (always complete) and the temp files' names are
#     checked; the last close wins; nothing a close() acknowledged is lost.
#   - faults: the brick stopped while mounted: readers get an error at once
#     (ENOTCONN or EIO, no hang), the daemon logs why; the brick started
#     again: the mount answers again, and unmounts cleanly.
#
# Needs root and a running glusterd (Debian packages glusterfs-server,
# glusterfs-client; .ci/run starts glusterd for the suite).  Skipped (77),
# saying why, when either is missing, unless ENCCACHE_TEST_GLUSTER=require
# (.ci/run sets it): then that is a hard error.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/mountlib.sh"

TRIALS=${GL_TRIALS:-30}
WRITERS_S=${GL_WRITERS_S:-5}
GL_ATTR=1		# GlusterFS's attribute-timeout and entry-timeout
NET_TIMEOUT=1		# enccachefs's default net_timeout

unavailable() {
	if [ "${ENCCACHE_TEST_GLUSTER:-}" = require ]; then
		hard_error "$* (ENCCACHE_TEST_GLUSTER=require)"
	fi
	skip "$*"
}
[ "$(id -u)" = 0 ] || unavailable "needs root (GlusterFS volumes and mounts)"
for t in gluster glusterd mount.glusterfs; do
	command -v "$t" >/dev/null 2>&1 ||
		unavailable "no $t (Debian packages glusterfs-server, glusterfs-client)"
done
GL=(timeout 60 gluster --mode=script)
"${GL[@]}" volume list >/dev/null 2>&1 ||
	unavailable "glusterd is not running or not reachable (start it as root: glusterd)"

make_secrets "$T/secrets.json" default pw-gluster
make_salt "$T/salt" 'gluster-salt'
VOL=ectest$$x$RANDOM
BRICK=$(mktemp -d /tmp/ecg-brick.XXXXXX)
GA=$T/ga GB=$T/gb MA=$T/ma MB=$T/mb
mkdir -p "$GA" "$GB" "$MA" "$MB"
made=0
PID_B=

gl_cleanup() {
	local m
	if [ -n "$PID_B" ]; then
		fusermount3 -u "$MB" 2>/dev/null || fusermount3 -uz "$MB" 2>/dev/null || :
		kill "$PID_B" 2>/dev/null || :
		wait "$PID_B" 2>/dev/null || :
	fi
	cleanup_fs
	for m in "$GA" "$GB"; do
		if mounted "$m"; then umount "$m" 2>/dev/null || umount -l "$m" || :; fi
	done
	if [ "$made" = 1 ]; then
		"${GL[@]}" volume stop "$VOL" force >/dev/null 2>&1 || :
		"${GL[@]}" volume delete "$VOL" >/dev/null 2>&1 || :
	fi
	rm -rf "$BRICK"
}
trap '_rc=$?; gl_cleanup; _lib_cleanup $_rc' EXIT

"${GL[@]}" volume create "$VOL" "$(hostname):$BRICK/b" force >"$T/gl.out" 2>&1 ||
	unavailable "cannot create a GlusterFS volume on $(hostname): $(cat "$T/gl.out")"
made=1
"${GL[@]}" volume start "$VOL" >"$T/gl.out" 2>&1 ||
	hard_error "cannot start volume $VOL: $(cat "$T/gl.out")"
mount -t glusterfs "localhost:/$VOL" "$GA" ||
	hard_error "cannot mount localhost:/$VOL"
mount -t glusterfs "localhost:/$VOL" "$GB" ||
	hard_error "cannot mount localhost:/$VOL a second time"
mkdir -m 700 "$GA/cache"
within 10 test -d "$GB/cache"

LOG_SHARED="^enccachefs: '[^']*' is shared \(a network or FUSE file system\): names and attributes are cached 1 s at most, without inotify\$"
LOG_OK="$LOG_OK|$LOG_SHARED"
C=$GA/cache
fs_start "" "$MA"
LOG_A=$LOG
grep -Eq "$LOG_SHARED" "$LOG_A" || fail "no network mode on GlusterFS: $(cat "$LOG_A")"
NLOG=$((NLOG + 1))
LOG_B=$T/daemon.$NLOG.log
"$ENCCACHEFS" -f -o "secrets=$T/secrets.json,salt_file=$T/salt" \
	"$GB/cache" "$MB" >"$LOG_B" 2>&1 &
PID_B=$!
within 10 mounted "$MB"

# --- liveness ----------------------------------------------------------------
TTL_S=$((5 * 86400))	# the default ttl, 5 days
"$PYTHON" "$top_srcdir/tests/integration/netlive.py" live "$GA/cache" "$MA" \
	"$MB" "$T/secrets.json" "$T/salt" "$TRIALS" "$TTL_S" >"$T/live.json" ||
	fail "liveness across the two clients (see above)"
note "liveness over $TRIALS trials each, seconds: $(cat "$T/live.json")"
py 'import json, sys
r = json.load(open(sys.argv[1]))
attr, net = float(sys.argv[2]), float(sys.argv[3])
bound = {"new": attr + 1.5, "write": attr + 1.5, "unlink": attr + 1.5,
         "unlink_stat": net + attr + 1.5, "expiry": 1.5}
bad = ["%s: max %.3f s > %.1f s" % (k, r[k]["max"], b)
       for k, b in bound.items() if r[k]["n"] < int(sys.argv[4]) or
       r[k]["max"] > b]
sys.exit("; ".join(bad) if bad else 0)' "$T/live.json" "$GL_ATTR" "$NET_TIMEOUT" "$TRIALS" ||
	fail "liveness out of bounds"

# --- two writers -------------------------------------------------------------
"$PYTHON" "$top_srcdir/tests/integration/netlive.py" writers "$GA/cache" \
	"$MA" "$MB" "$WRITERS_S" "$T/secrets.json" "$T/salt" >"$T/writers.json" ||
	fail "two writers on two clients (see above)"
note "two writers: $(cat "$T/writers.json")"
py 'import json, sys
r = json.load(open(sys.argv[1]))
assert r["overwrites"] >= 20 and r["loads"] >= 20, r' "$T/writers.json" ||
	fail "the writers did too little to tell: $(cat "$T/writers.json")"
check_log
LOG=$LOG_B check_log

# --- the brick stopped and started again -------------------------------------
echo kept >"$MA/t0/faults"
within 5 test -f "$MB/t0/faults"
"${GL[@]}" volume stop "$VOL" force >"$T/gl.out" 2>&1 ||
	hard_error "cannot stop volume $VOL: $(cat "$T/gl.out")"
t0=$(now_s)
rc=0
timeout 20 cat "$MB/t0/faults" >/dev/null 2>"$T/cat.err" || rc=$?
[ "$rc" != 124 ] || fail "a read hung with the brick stopped"
rc2=0
timeout 20 ls "$MB/t0" >/dev/null 2>"$T/ls.err" || rc2=$?
[ "$rc2" != 124 ] || fail "a listing hung with the brick stopped"
[ "$rc2" != 0 ] || fail "a listing succeeded with the brick stopped"
grep -Eq "Transport endpoint is not connected|Input/output error" "$T/ls.err" ||
	fail "with the brick stopped, ls says: $(cat "$T/ls.err")"
note "brick stopped: cat exit $rc ($(cat "$T/cat.err")), ls: $(cat "$T/ls.err"), in $(awk -v a="$t0" -v b="$(now_s)" 'BEGIN { printf "%.2f", b - a }') s"
grep -Eq "backing store: .*(not connected|input/output)" "$LOG_B" ||
	fail "the daemon logged no reason: $(cat "$LOG_B")"
"${GL[@]}" volume start "$VOL" >"$T/gl.out" 2>&1 ||
	hard_error "cannot start volume $VOL again: $(cat "$T/gl.out")"
within 30 grep -qsx kept "$MB/t0/faults"
within 10 test -f "$MA/t0/faults"
ls "$MB/t0" >/dev/null

LOG_OK="$LOG_OK|^enccachefs: backing store: .*\$"
fs_stop
fusermount3 -u "$MB" || fail "fusermount3 -u $MB failed"
rc=0
wait "$PID_B" || rc=$?
PID_B=
[ "$rc" = 0 ] || fail "the daemon on client B exited $rc: $(cat "$LOG_B")"
LOG=$LOG_B check_log
exit 0
