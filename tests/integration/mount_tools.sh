# mount_tools.sh: everyday tools against a real mount (issue 9).
#   A. copying in from another file system with the tools' usual flags:
#      cp -a, cp -p, rsync -a (twice), tar -xf, mv.  All exit 0; every
#      file is afterwards a valid entry created now (the source's old
#      mtime does not backdate it), shown 0600/0700, that the Python
#      module loads with the source's bytes (JSON files as the plist
#      object they parse to; with view=raw, their bytes).
#   B. editing in place and by rename: vim, sed -i, jq ... > t && mv t e,
#      python open().write: key name and comment kept; text that is not
#      JSON over a binary-plist entry fails and leaves it as it was.
#   C. rm -rf of a tree whose directories hold only hidden stale
#      envelopes and temp files; a directory with an envelope that does
#      not open stays (ENOTEMPTY) and the log says which file.
#   D. the deliberate ways: touch refreshes, setfattr created_at expires;
#      -o set_times lets utimensat set created_at; -o strict_perms
#      refuses chmod/chown that would change something.
#   E. bash's builtin echo returns 0 for a failed save (it ignores close
#      errors); the daemon logs it; /bin/echo reports it.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/mountlib.sh"
for tool in rsync tar vim sed jq getfattr setfattr; do
	command -v $tool >/dev/null 2>&1 ||
		skip "$tool is not installed (scripts/test installs rsync, vim, jq, attr)"
done

S=$T/src		# another file system's tree (the build dir's)
mkdir -p "$S/sub/deep"
make_secrets "$T/secrets.json" default pw-default api pw-api
make_salt "$T/salt" 'tools-test-salt'
gen_bytes "$S/bin" 5000 1
gen_bytes "$S/sub/deep/bin2" 70000 2
printf 'hello, plain text\n' >"$S/sub/text"
printf '{"price": 42.5, "n": [1, 2, 3], "ok": true}\n' >"$S/sub/doc.json"
: >"$S/empty"
chmod 644 "$S/bin" "$S/sub/text"
chmod 755 "$S/sub"
chmod 640 "$S/sub/deep/bin2"
# Old sources: a copy that kept their mtime would be stale at once.
find "$S" -exec touch -h -d 2000-01-01T00:00:00Z {} +
tar -cf "$T/src.tar" -C "$S" .
RAWFILES="bin sub/deep/bin2 sub/text empty"
NOW=$(date +%s)

# check_copy DIR: every file of $S is a valid entry under DIR (mount and
# Python), made now, with the modes the mount always shows.
check_copy() {
	local d=$1 f m
	for f in $RAWFILES sub/doc.json; do
		[ -f "$MNT/$d/$f" ] || fail "$d/$f is not shown"
		m=$(stat -c %Y "$MNT/$d/$f")
		[ "$m" -ge $((NOW - 60)) ] ||
			fail "$d/$f was backdated to $(date -u -d "@$m") (its source's mtime)"
		[ "$(stat -c %a "$MNT/$d/$f")" = 600 ] || fail "$d/$f mode $(stat -c %a "$MNT/$d/$f")"
	done
	for f in "" /sub /sub/deep; do
		[ "$(stat -c %a "$MNT/$d$f")" = 700 ] || fail "$d$f mode $(stat -c %a "$MNT/$d$f")"
	done
	for f in $RAWFILES; do
		cmp -s "$MNT/$d/$f" "$S/$f" || fail "the mount shows $d/$f wrong"
		echo "$d/$f $(sha "$S/$f")" >>"$T/want.sums"
	done
	echo "$d/sub/doc.json" >>"$T/objs"
}

# --- A: copying in ---------------------------------------------------------
: >"$T/want.sums"
: >"$T/objs"
fs_start ""
run_ok cp -a "$S" "$MNT/cpa"
check_copy cpa
run_ok cp -p -r "$S" "$MNT/cpp"
check_copy cpp
run_ok rsync -a "$S/" "$MNT/rs/"
check_copy rs
# The second run finds every file changed (size or mtime) and renames new
# temp files over the entries: still exit 0, still valid.
run_ok rsync -a "$S/" "$MNT/rs/"
check_copy rs
mkdir "$MNT/tar"
run_ok tar -xf "$T/src.tar" -C "$MNT/tar"
check_copy tar
cp -a "$S" "$T/tomove"
run_ok mv "$T/tomove" "$MNT/mv"
[ ! -e "$T/tomove" ] || fail "mv left its source"
check_copy mv
[ -z "$(find "$C" -name '.ec-tmp-*')" ] || fail "temp files left"
ec verify-all >"$T/got.sums" 2>"$T/verify.err" ||
	fail "Python cannot load every entry: $(cat "$T/verify.err")"
while read -r id sum; do
	grep -qxF "$id $sum" "$T/got.sums" ||
		fail "Python does not load '$id' with the source's bytes"
done <"$T/want.sums"
# JSON came in as the plist object it parses to (what execute_cached
# returns), as a JSON file written through the mount always does.
ec load-obj $(cat "$T/objs") >"$T/objs.json" || fail "load-obj"
py 'import json, sys
want = json.load(open(sys.argv[1]))
for line in open(sys.argv[2]):
    assert json.loads(line) == want, (line, want)' "$S/sub/doc.json" "$T/objs.json" ||
	fail "Python does not load the copied JSON as its object"
fs_stop

# With view=raw every byte is kept, JSON too.
fs_start "view=raw"
run_ok rsync -a "$S/" "$MNT/raw/"
run_ok cp -a "$S" "$MNT/rawcp"
fs_stop
ec verify-all >"$T/got.sums" 2>"$T/verify.err" || fail "verify-all (raw)"
for d in raw rawcp; do
	for f in $RAWFILES sub/doc.json; do
		grep -qxF "$d/$f $(sha "$S/$f")" "$T/got.sums" ||
			fail "view=raw: Python does not load $d/$f with its bytes"
	done
done

# --- B: editing ------------------------------------------------------------
ec put doc --obj-json '{"price": 1.5, "name": "x"}' --key api --comment "daily"
ec put plain --data-file "$S/sub/text" --key api --comment "a note"
# meta ID FIELD: the entry's metadata as Python reads it.
meta() {
	ec meta "$1" | py 'import json, sys
print(json.load(sys.stdin)[sys.argv[1]])' "$2"
}
kept() {
	[ "$(meta "$1" key)" = api ] || fail "$2: key name of $1 not kept: $(meta "$1" key)"
	[ "$(meta "$1" comment)" = "$3" ] || fail "$2: comment of $1 not kept: $(meta "$1" comment)"
}
fs_start ""
run_ok env HOME="$T" vim -u NONE -i NONE -N -n -es -c '%s/1.5/2.5/' -c 'wq' "$MNT/doc"
grep -q '"price": 2.5' "$MNT/doc" || fail "vim: $(cat "$MNT/doc")"
kept doc vim daily
run_ok env HOME="$T" vim -es -c '%s/hello/HELLO/' -c 'wq' "$MNT/plain"
kept plain "vim (default settings)" "a note"
run_ok sed -i 's/2.5/3.5/' "$MNT/doc"
kept doc "sed -i" daily
[ "$(ec load-obj doc)" = '{"name": "x", "price": 3.5}' ] ||
	fail "sed -i: Python loads $(ec load-obj doc)"
run_ok sed -i 's/plain/PLAIN/' "$MNT/plain"
kept plain "sed -i" "a note"
printf 'HELLO, PLAIN text\n' >"$T/plain.want"
ec get plain >"$T/plain.got" && same_file "$T/plain.got" "$T/plain.want" "sed -i on a raw entry"
run_ok sh -c "jq '.price = 4.5' '$MNT/doc' > '$MNT/doc.tmp' && mv '$MNT/doc.tmp' '$MNT/doc'"
kept doc "jq > t && mv t e" daily
[ "$(ec load-obj doc)" = '{"name": "x", "price": 4.5}' ] ||
	fail "jq > t && mv t e: Python loads $(ec load-obj doc)"
run_ok "$PYTHON" -c 'import sys; open(sys.argv[1], "w").write("{\"price\": 5.5}\n")' "$MNT/doc"
kept doc "python open().write" daily
[ "$(ec load-obj doc)" = '{"price": 5.5}' ] || fail "python write: $(ec load-obj doc)"
# Invalid JSON over a binary-plist entry: sed fails, nothing changes.
cp "$C/doc.enc.json" "$T/doc.before"
run sed -i 's/}/ oops/' "$MNT/doc"
[ "$rc" -ne 0 ] || fail "sed -i that breaks the JSON of a plist entry exited 0"
grep -q 'Invalid argument' "$T/err" || fail "sed -i: $(cat "$T/err")"
same_file "$C/doc.enc.json" "$T/doc.before" "the plist entry after a failed sed -i"
run sh -c "echo 'not json' > '$MNT/doc.tmp' && mv '$MNT/doc.tmp' '$MNT/doc'"
[ "$rc" -ne 0 ] || fail "mv of text that is not JSON over a plist entry exited 0"
same_file "$C/doc.enc.json" "$T/doc.before" "the plist entry after a failed mv"
rm "$MNT/doc.tmp"
[ -z "$(ls -a "$MNT" | grep -E '^(sed|\.doc|doc\.tmp)')" ] || fail "temp files shown: $(ls -a "$MNT")"
fs_stop

# --- C: rm -rf -------------------------------------------------------------
ec put tree/a/old --data-file "$S/bin" --created-at "$(iso -864000)"
ec put tree/a/b/old2 --data-file "$S/bin" --created-at "$(iso -864000)"
ec put tree/live --data-file "$S/bin"
printf 'x' >"$C/tree/a/.ec-tmp-00112233445566778899aabbccddeeff"
chmod 600 "$C/tree/a/.ec-tmp-00112233445566778899aabbccddeeff"
ec put keep/old --data-file "$S/bin" --created-at "$(iso -864000)"
# An envelope of our key name that does not open (another password).
make_secrets "$T/other.json" default not-the-password
ecref put keep/foreign --dir "$C" --secrets "$T/other.json" \
	--salt-file "$T/salt" --data-file "$S/bin"
LOG_OK="$LOG_OK|$LOG_RMDIR_KEPT"
fs_start ""
[ -z "$(ls -A "$MNT/tree/a/b")" ] || fail "tree/a/b shows something"
run_ok rm -rf "$MNT/tree"
[ ! -e "$C/tree" ] || fail "rm -rf left $(find "$C/tree")"
[ -z "$(ls -A "$MNT/keep")" ] || fail "keep/ shows something"
run rm -rf "$MNT/keep"
[ "$rc" -ne 0 ] || fail "rm -rf of a directory holding an envelope it cannot open exited 0"
grep -q 'Directory not empty' "$T/err" || fail "rm -rf keep: $(cat "$T/err")"
[ -f "$C/keep/foreign.enc.json" ] || fail "the envelope that does not open was removed"
[ -f "$C/keep/old.enc.json" ] || fail "a stale envelope was removed from a directory that stays"
grep -q "^enccachefs: cannot remove directory 'keep': 'keep/foreign' is not ours to delete: does not open with key 'default'" "$LOG" ||
	fail "the log does not say which file keeps keep/: $(cat "$LOG")"
fs_stop

# --- D: on purpose ---------------------------------------------------------
ec put when --data-file "$S/bin" --created-at "$(iso -3600)"
fs_start ""
old=$(stat -c %Y "$MNT/when")
touch -d 2001-01-01 "$MNT/when"
[ "$(stat -c %Y "$MNT/when")" = "$old" ] || fail "touch -d changed created_at"
touch "$MNT/when"
[ "$(stat -c %Y "$MNT/when")" -ge $((old + 3000)) ] || fail "touch did not refresh"
setfattr -n user.enccache.created_at -v 2001-01-01 "$MNT/when"
[ ! -e "$MNT/when" ] || fail "setfattr created_at 2001 did not expire the entry"
fs_stop
ec put when --data-file "$S/bin" --created-at "$(iso -3600)"
fs_start "set_times,strict_perms"
# (One instant for both sides: a slow run may cross a minute between.)
want=$(iso -7200)
touch -d "$want" "$MNT/when"
[ "$(meta when created_at | cut -c1-16)" = "$(printf %s "$want" | cut -c1-16)" ] ||
	fail "set_times: touch -d did not set created_at: $(meta when created_at)"
touch -d 2001-01-01 "$MNT/when"
[ ! -e "$MNT/when" ] || fail "set_times: touch -d 2001 did not expire the entry"
cp "$S/bin" "$MNT/strict"
run chmod 644 "$MNT/strict"
[ "$rc" -ne 0 ] || fail "strict_perms: chmod 644 succeeded"
run_ok chmod 600 "$MNT/strict"
run cp -p "$S/bin" "$MNT/strict2"
[ "$rc" -ne 0 ] || fail "strict_perms: cp -p of a 0644 file exited 0"
fs_stop

# --- E: close errors -------------------------------------------------------
LOG_OK="$LOG_OK|$LOG_SAVE_FAILED"
ec put obj --obj-json '{"a": 1}'
cp "$C/obj.enc.json" "$T/obj.before"
fs_start ""
run bash -c "echo 'not json' > '$MNT/obj'"
[ "$rc" -eq 0 ] || fail "bash's builtin echo now reports close errors (exit $rc): update the man page"
run sh -c "/bin/echo 'not json' > '$MNT/obj'"
[ "$rc" -ne 0 ] || fail "/bin/echo did not report the failed save"
same_file "$C/obj.enc.json" "$T/obj.before" "a plist entry after failed saves"
grep -q "^enccachefs: cannot save 'obj': not JSON that a plist can hold (the entry is shown as JSON); the entry is left as it was\$" "$LOG" ||
	fail "the failed save is not logged: $(cat "$LOG")"
fs_stop
