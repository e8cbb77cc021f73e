# mount_diff.sh: a differential test of the written lifecycle.
# tests/integration/fsmodel.py drives seeded random system calls on the
# mount (create with O_EXCL or O_TRUNC; open read-only, write-only, read-
# write, with O_TRUNC, O_APPEND; pwrite, append, ftruncate, pread, fstat,
# close with up to 8 handles open, several on one name; rename over names
# and across directories, RENAME_NOREPLACE, unlink, mkdir, rmdir, rename
# of directories) over 6 file names in the root and 2 directories, and
# predicts each call's result and errno with its model of the lifecycle
# (fsmodel.py's header states the rules).  After every close it compares
# the mount (a fresh open+read of every name, os.listdir of every
# directory) and the backing directory as the independent reader ecref.py
# loads it (every envelope decrypted, after every close too: it takes
# about a millisecond) with the model; a save made at release is polled
# for up to 1 s (2 s in a sanitizer build).  The first difference prints
# the seed, the op number, the last 30 ops and the open handles.
# Three runs, each on an empty cache:
#   1. the default options (a multi-threaded daemon), DIFF_OPS ops
#      (default 20000).  The kernel releases a closed file asynchronously,
#      so the daemon may count a closed writer as open for an instant: a
#      reader opened within 1 s of such a close may be live or a snapshot,
#      and the first read that tells them apart decides.
#   2. -o max_threads=1, DIFF_OPS ops: requests are handled in the
#      kernel's order (a release is queued before close() returns), so
#      the model is exact (every reader is a snapshot or live).
#   3. -o cache_timeout=0, DIFF_SHORT_OPS ops (default 5000).
# Each takes a few seconds (about 4000 ops a second here).
# Environment: DIFF_SEED (default 1; runs 2 and 3 use the next seeds),
# DIFF_OPS, DIFF_SHORT_OPS, DIFF_RUNS (default "mt serial notimeout"),
# DIFF_OPTS (more mount options for every run), DIFF_TRACE=1 (print every
# op).  Two choices of the model can be changed: DIFF_PENDING_LISTED
# (no: a file being created is listed only at its first save, as
# enccachefs(1) says, the default; yes: at once, as POSIX has it; either),
# and DIFF_SAVE_TRUNC_PENDING=0 (O_TRUNC on a file being created by
# another descriptor, closed without a write, saves nothing; by default it
# saves at release, as for any file truncated and closed without a write).
# scripts/difftest runs a long version.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/mountlib.sh"

make_secrets "$T/secrets.json" default pw-diff
make_salt "$T/salt" 'diff-test-salt\001\377'
SEED=${DIFF_SEED:-1}
OPS=${DIFF_OPS:-20000}
SHORT=${DIFF_SHORT_OPS:-5000}
SLACK=1.0
[ "${EC_SANITIZED:-no}" = yes ] && SLACK=2.0
[ "${VALGRIND:-0}" = 1 ] && SLACK=5.0
MODEL_ARGS=(--slack "$SLACK")
[ "${DIFF_TRACE:-0}" = 1 ] && MODEL_ARGS+=(--trace)
MODEL_ARGS+=(--pending-listed "${DIFF_PENDING_LISTED:-no}")
[ "${DIFF_SAVE_TRUNC_PENDING:-1}" = 0 ] &&
	MODEL_ARGS+=(--no-save-trunc-pending)

# diff_run NAME OPTIONS SEED OPS FSMODEL-ARGS...: an empty cache, a mount,
# fsmodel.py, the unmount (with the daemon log check).
diff_run() {
	local name=$1 opts=$2 seed=$3 ops=$4 rc=0
	shift 4
	opts=$opts${DIFF_OPTS:+${opts:+,}$DIFF_OPTS}
	C=$T/cache.$name
	mkdir -m 700 "$C"
	fs_start "$opts"
	"$PYTHON" "$top_srcdir/tests/integration/fsmodel.py" --mnt "$MNT" \
		--cache "$C" --secrets "$T/secrets.json" --salt-file "$T/salt" \
		--seed "$seed" --ops "$ops" "${MODEL_ARGS[@]}" "$@" \
		>"$T/model.$name" 2>&1 || rc=$?
	case $rc in
	0)
		note "run $name (-o ${opts:-defaults}): $(tail -n 1 "$T/model.$name")"
		fs_stop
		;;
	1)
		cat "$T/model.$name" >&2
		[ ! -s "$LOG" ] || { echo "daemon log:" >&2; tail -n 20 "$LOG" >&2; }
		fail "run $name (-o ${opts:-defaults}): the daemon differs from the model: $(grep -m1 '^MISMATCH' "$T/model.$name") [rerun: DIFF_RUNS=$name DIFF_SEED=$SEED DIFF_OPS=$OPS DIFF_SHORT_OPS=$SHORT${DIFF_OPTS:+ DIFF_OPTS=$DIFF_OPTS}]"
		;;
	*)
		cat "$T/model.$name" >&2
		hard_error "run $name: fsmodel.py exited $rc"
		;;
	esac
}

for run in ${DIFF_RUNS:-mt serial notimeout}; do
	case $run in
	mt)
		diff_run mt "" "$SEED" "$OPS" --release-window 1.0
		;;
	serial)
		if "$ENCCACHEFS" --help 2>&1 | grep -q max_threads; then
			diff_run serial "max_threads=1" $((SEED + 1)) "$OPS"
		else
			note "libfuse has no -o max_threads (before 3.12): run 2 skipped"
		fi
		;;
	notimeout)
		diff_run notimeout "cache_timeout=0" $((SEED + 2)) "$SHORT" \
			--release-window 1.0
		;;
	*)
		hard_error "DIFF_RUNS: no run '$run' (mt, serial, notimeout)"
		;;
	esac
done
exit 0
