# tests/integration/mountlib.sh: sourced by mount tests after tests/lib.sh.
# Mounting and unmounting enccachefs in the foreground (in the background
# of the test), the daemon's log, polling.
#
# Set before sourcing (defaults in brackets):
#   C      the cache directory [$T/cache]
#   MNT    the mount point [$T/mnt]
# VALGRIND=1 runs the first mount under valgrind (PBKDF2 takes about 6 s
# a key there; .ci/run runs every mount test so).

require_python
[ -x "$ENCCACHEFS" ] || hard_error "$ENCCACHEFS is not built"
[ -c /dev/fuse ] || skip "no /dev/fuse (FUSE is not available here)"
command -v fusermount3 >/dev/null 2>&1 ||
	skip "no fusermount3 (install the Debian package fuse3)"
# The pyenv shim costs half a second per call: use the interpreter itself.
PYTHON=$(py 'import sys; print(sys.executable)')

: "${C:=$T/cache}"
: "${MNT:=$T/mnt}"
mkdir -p "$C" "$MNT"
chmod 700 "$C"

VG=()
WAIT_STEPS=100		# 0.1 s each, for a mount to appear
if [ "${VALGRIND:-0}" = 1 ]; then
	command -v valgrind >/dev/null 2>&1 || hard_error "VALGRIND=1: no valgrind"
	VG=(valgrind --quiet --error-exitcode=99 --leak-check=full
	    --show-leak-kinds=definite --errors-for-leak-kinds=definite
	    "--log-file=$T/valgrind.%p")
	WAIT_STEPS=3000
fi
VG_ANY=("${VG[@]}")	# VG=("${VG_ANY[@]}") puts the next mount under it too

mounted() {
	awk -v m="$1" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo
}

FS_PID=
FS_MNT=
NLOG=0
LOG=
# fs_start OPTIONS [MOUNTPOINT]: mount C in the foreground, in the
# background, with $T/secrets.json and $T/salt.
fs_start() {
	local opts=$1 mnt=${2:-$MNT}
	NLOG=$((NLOG + 1))
	LOG=$T/daemon.$NLOG.log
	"${VG[@]}" "$ENCCACHEFS" -f \
		-o "secrets=$T/secrets.json,salt_file=$T/salt${opts:+,$opts}" \
		"$C" "$mnt" >"$LOG" 2>&1 &
	FS_PID=$!
	FS_MNT=$mnt
	VG=()			# only the first mount runs under valgrind
	fs_wait "$mnt" "-o $opts"
}

# fs_wait MOUNTPOINT WHAT: until the daemon FS_PID has mounted (fail if it
# exits first, or takes too long).
fs_wait() {
	local i
	for ((i = 0; i < WAIT_STEPS; i++)); do
		mounted "$1" && return 0
		if ! kill -0 "$FS_PID" 2>/dev/null; then
			cat "$LOG" >&2
			FS_PID=
			fail "enccachefs exited before mounting ($2)"
		fi
		sleep 0.1
	done
	fail "enccachefs did not mount within $((WAIT_STEPS / 10)) s ($2)"
}

# fs_run MOUNTPOINT ARGS...: mount with exactly these arguments (-f is
# added), in the background, as fs_start does; stdin as the caller's.
fs_run() {
	local mnt=$1
	shift
	NLOG=$((NLOG + 1))
	LOG=$T/daemon.$NLOG.log
	# (An asynchronous command's stdin is /dev/null unless redirected.)
	exec 9<&0
	"$ENCCACHEFS" -f "$@" <&9 9<&- >"$LOG" 2>&1 &
	FS_PID=$!
	exec 9<&-
	FS_MNT=$mnt
	fs_wait "$mnt" "$*"
}

# fs_refuses REGEX ARGS...: enccachefs ARGS exits 1 with one stderr line
# matching REGEX (grep -E), and nothing is mounted on MNT.
fs_refuses() {
	local re=$1
	shift
	run "$ENCCACHEFS" "$@"
	[ "$rc" -eq 1 ] || { cleanup_fs; fail "exit $rc, expected 1: $* [stderr: $(cat "$T/err")]"; }
	[ "$(wc -l <"$T/err")" -eq 1 ] ||
		fail "expected one line on stderr: $* [stderr: $(cat "$T/err")]"
	grep -Eq -- "$re" "$T/err" ||
		fail "stderr does not match /$re/: $* [stderr: $(cat "$T/err")]"
	mounted "$MNT" && fail "something was mounted by: $*"
	return 0
}

# Every line the daemon may log; anything else fails the test.
LOG_OK="^enccachefs: hiding '[^']*': (salt-mismatch|unknown-key|corrupt) \(.*\)\$|^enccachefs: hiding '[^']*': does not open with key '[^']*' \(the wrong password, or tampered with\)\$|^enccachefs: (entry|directory) '[^']*' is accessible by group or others \(mode 0[0-7]{3}\); shown as 0[67]00\$|^enccachefs: removed [0-9]+ temp files? left by killed writers\$"
# Lines that only tests provoking them accept (LOG_OK="$LOG_OK|$LOG_...").
LOG_SAVE_FAILED="^enccachefs: cannot save '[^']*': [^A-Z].*; the entry is left as it was\$"
LOG_RMDIR_KEPT="^enccachefs: cannot remove directory '[^']*': ('[^']*' [^A-Z].*|and [0-9]+ more that must stay)\$"
# valgrind 3.19 (Debian 12) does not know openat2(2) (437): it answers
# ENOSYS, which the store takes as a kernel without it (store_read.c),
# and says so once; only that warning is accepted.
VG_OK="^--[0-9]+-- (WARNING: unhandled amd64-linux syscall: 437|You may be able to write your own handler\\.|Read the file README_MISSING_SYSCALL_OR_IOCTL\\.|Nevertheless we consider this a bug\\.  Please report|it at http://valgrind\\.org/support/bug_reports\\.html\\.)\$"
check_log() {
	local bad f
	bad=$(grep -Ev "$LOG_OK" "$LOG" || :)
	[ -z "$bad" ] || fail "unexpected daemon output in $LOG: $bad"
	for f in "$T"/valgrind.*; do
		[ -e "$f" ] || continue
		bad=$(grep -Ev "$VG_OK" "$f" || :)
		[ -z "$bad" ] || { cat "$f" >&2; fail "valgrind: $f"; }
	done
}

fs_stop() {
	local rc=0
	fusermount3 -u "$FS_MNT" || fail "fusermount3 -u $FS_MNT failed"
	wait "$FS_PID" || rc=$?
	FS_PID=
	[ "$rc" -eq 0 ] || { cat "$LOG" >&2; fail "enccachefs exited $rc"; }
	mounted "$FS_MNT" && fail "$FS_MNT still mounted"
	check_log
}

cleanup_fs() {
	if [ -n "$FS_MNT" ] && mounted "$FS_MNT"; then
		fusermount3 -u "$FS_MNT" 2>/dev/null ||
			fusermount3 -uz "$FS_MNT" 2>/dev/null || :
	fi
	if [ -n "$FS_PID" ]; then
		kill "$FS_PID" 2>/dev/null || :
		wait "$FS_PID" 2>/dev/null || :
	fi
	return 0
}
trap '_rc=$?; cleanup_fs; _lib_cleanup $_rc' EXIT

now_s() { date +%s.%N; }

# within SECONDS CMD...: CMD succeeds within SECONDS (polled).
within() {
	local limit=$1 start
	shift
	start=$(now_s)
	until "$@"; do
		awk -v n="$(now_s)" -v s="$start" -v l="$limit" \
			'BEGIN { exit !(n - s > l) }' &&
			fail "not within ${limit}s: $*"
		sleep 0.05
	done
}

# iso OFFSET_SECONDS: now + offset as ISO-8601 with +00:00.
iso() {
	py 'import datetime as d, sys
t = d.datetime.now(d.timezone.utc) + d.timedelta(seconds=float(sys.argv[1]))
print(t.isoformat())' "$1"
}

# ec ARGS...: ecref on the cache, with the test's secrets and salt.
ec() {
	local cmd=$1
	shift
	ecref "$cmd" --dir "$C" --secrets "$T/secrets.json" \
		--salt-file "$T/salt" "$@"
}

# sha FILE: the SHA-256 of FILE's bytes.
sha() {
	sha256sum "$1" | cut -d' ' -f1
}

# stats_secrets: for tests that read the daemon's statistics (getfattr)
# with one key: skip without getfattr; $T/secrets.json holds "default"
# (password pw), $T/salt the salt "salt".
stats_secrets() {
	command -v getfattr >/dev/null ||
		skip "no getfattr (install the Debian package attr)"
	printf '{"default": "pw"}' >"$T/secrets.json"
	chmod 600 "$T/secrets.json"
	printf 'salt' >"$T/salt"
}

# ref_save_setup, then ref_save CACHEDIR ID DATA [SECONDS_LEFT]: the
# Python reference (ecref) writes ID with key "default" (in place, like
# the module), created now, or so that it expires SECONDS_LEFT from now
# under ttl=1 hour; DATA is the content, or @FILE for FILE's bytes.
# Prints the expiry instant (seconds since the epoch).  $T/save.py is the
# script, for Python callers: save.py CACHEDIR ID DATA [SECONDS_LEFT].
ref_save_setup() {
	cat >"$T/save.py" <<'PY'
import datetime, os, sys, time
sys.path.insert(0, os.path.dirname(os.environ["ECREF_PY"]))
import ecref
T = os.environ["T"]
args = ecref.build_parser().parse_args(["verify-all", "--dir", sys.argv[1],
    "--secrets", T + "/secrets.json", "--salt-file", T + "/salt"])
ring = ecref.load_keyring(args)
left = float(sys.argv[4]) if len(sys.argv) > 4 else 3600
now = time.time()
created = datetime.datetime.fromtimestamp(now + left - 3600,
                                          datetime.timezone.utc)
data = sys.argv[3].encode()
if sys.argv[3].startswith("@"):
    data = open(sys.argv[3][1:], "rb").read()
ecref.save_entry(args, ring, sys.argv[2], data, "default",
                 None, None, created.isoformat())
print("%.6f" % (now + left))
PY
	export T ECREF_PY
}
ref_save() { "$PYTHON" "$T/save.py" "$@"; }
