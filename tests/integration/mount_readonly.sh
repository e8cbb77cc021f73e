#!/bin/bash
# mount_readonly: -o ro on a watched local store opens and closes files
# without a message (the kernel's first OPEN and FLUSH are answered ENOSYS,
# src/fs/inoread.h), and stays as live and as safe as a read-write mount.
#   A. A first read of every entry (30 small ones, one of 3 MiB) gives the
#      bytes the Python reference wrote, each entry decrypted once.  A
#      second read of all sends no OPEN, FLUSH, RELEASE or READ (counted
#      in -o debug's log) and reads or decrypts nothing (the daemon's
#      statistics); pages the kernel reclaimed meanwhile are read again,
#      so a read that sent only READs is tried twice more.
#   B. The big entry, its pages dropped (fadvise), read by 4 readers at
#      once and by a partial read: right bytes, shared by the readers.
#   C. Outside changes show within a second: an entry rewritten (longer),
#      one added, one removed, all while their pages are cached.
#   D. An entry that expires is gone within a second of its expiry.
#   E. An entry spoilt in place after it was looked up: no byte of it is
#      read (EIO or ENOENT), and nothing else is disturbed.
#   F. Still read-only: writing, creating, removing are EROFS.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/mountlib.sh"
stats_secrets
ref_save_setup
SOON=4		# d0/soon expires this many seconds after it is written

mkdir -p "$T/src"
for d in 0 1 2; do
	for i in 0 1 2 3 4 5 6 7 8 9; do
		head -c $((900 + 10 * i)) /dev/urandom >"$T/src/d$d.e$i"
		ref_save "$C" "d$d/e$i" "@$T/src/d$d.e$i" >/dev/null ||
			fail "ecref save d$d/e$i"
	done
done
head -c 3000000 /dev/urandom >"$T/src/big"
ref_save "$C" big "@$T/src/big" >/dev/null || fail "ecref save big"

# counter NAME: one counter of the daemon's statistics.
counter() {
	getfattr --absolute-names --only-values -n user.enccache.stats "$MNT" |
		"$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}
# ops: how many requests of the kinds an open, a close or a read sends
# the debug log shows so far.
ops() {
	grep -cE 'opcode: (OPEN|FLUSH|RELEASE|READ) ' "$LOG" || :
}
# read_all: every entry through the mount is the bytes saved.
read_all() {
	local d i
	for d in 0 1 2; do
		for i in 0 1 2 3 4 5 6 7 8 9; do
			cmp -s "$MNT/d$d/e$i" "$T/src/d$d.e$i" ||
				fail "$1: d$d/e$i is not what was saved"
		done
	done
	cmp -s "$MNT/big" "$T/src/big" || fail "$1: big is not what was saved"
}

fs_start "ro,ttl=1 hour,debug"
# --- A: a cold read, then a warm one that costs no message ------------------
read_all "a first read"
[ "$(counter decryptions)" -eq 31 ] ||
	fail "a first read of 31 entries decrypted $(counter decryptions) times (want 31)"
o0=$(ops)
# The first open was answered ENOSYS, so was the first flush.
[ "$(grep -c 'opcode: OPEN ' "$LOG")" -eq 1 ] ||
	fail "$(grep -c 'opcode: OPEN ' "$LOG") OPENs for a first read (want 1)"
[ "$(grep -cE 'opcode: (RELEASE|FLUSH) ' "$LOG")" -le 1 ] ||
	fail "$(grep -cE 'opcode: (RELEASE|FLUSH) ' "$LOG") RELEASEs and FLUSHes for a first read (want 1 at most)"
# warm_read: a read of every entry again; 0 if it sent no OPEN, FLUSH,
# RELEASE or READ and read and decrypted nothing.  What it sent is in
# $T/warm.ops, what moved in WARM_MOVED.
warm_read() {
	local n0 d0 r0 b0
	n0=$(wc -l <"$LOG")
	d0=$(counter decryptions) r0=$(counter envelope_reads) b0=$(counter bytes_read)
	read_all "a warm read"
	tail -n +$((n0 + 1)) "$LOG" | sed -nE \
		-e 's/.*opcode: (OPEN|FLUSH|RELEASE|READ) \([0-9]+\), nodeid: ([0-9]+).*/\1 of node \2,/p;t' \
		-e 's/.*opcode: (OPEN|FLUSH|RELEASE|READ) .*/\1,/p' |
		sort | uniq -c | tr -s ' \n' ' ' >"$T/warm.ops"
	WARM_MOVED="decryptions, envelope reads, bytes read $d0 $r0 $b0 -> $(counter decryptions) $(counter envelope_reads) $(counter bytes_read)"
	[ ! -s "$T/warm.ops" ] &&
		[ "$(counter decryptions) $(counter envelope_reads) $(counter bytes_read)" = "$d0 $r0 $b0" ]
}
# The kernel may reclaim a page it holds (make -j check runs other tests,
# some of them writing hundreds of MB, beside this one; and this machine's
# kernel pages out idle memory on its own, DAMON's kdamond), and a page it
# dropped is rightly read again (seen here: single pages of big, read again
# by the third of twelve warm reads).  So a warm read that sent READs and
# nothing else is tried again, three times in all.  Pages the kernel does
# not keep fail every try; an OPEN, FLUSH or RELEASE fails the first.
for try in 1 2 3; do
	warm_read && break
	grep -qE 'OPEN|FLUSH|RELEASE' "$T/warm.ops" &&
		fail "a warm read of 31 entries sent$(cat "$T/warm.ops")(want nothing)"
	[ "$try" -lt 3 ] ||
		fail "three warm reads of 31 entries each sent READs or decrypted (the last sent$(cat "$T/warm.ops"); $WARM_MOVED)"
	note "warm read $try: sent$(cat "$T/warm.ops"); $WARM_MOVED; trying again"
	reread=1
done
note "a warm read of 31 entries: no request, nothing decrypted"

# --- B: the big entry read again by the kernel, shared --------------------
drop_pages() {
	"$PYTHON" -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
os.close(fd)' "$1" || fail "fadvise $1"
}
drop_pages "$MNT/big"
# Past the time a content read to its end is kept, or, when a warm read
# above read a page of it again, one read partway (EC_INOREAD_IDLE_US).
sleep "$([ -n "${reread-}" ] && echo 10.5 || echo 0.5)"
d0=$(counter decryptions) o0=$(grep -c 'opcode: READ ' "$LOG" || :)
pids=()
for r in 1 2 3 4; do
	cmp -s "$MNT/big" "$T/src/big" &
	pids+=($!)
done
for p in "${pids[@]}"; do
	wait "$p" || fail "one of 4 readers at once found big not what was saved"
done
o1=$(grep -c 'opcode: READ ' "$LOG" || :)
[ "$o1" -gt "$o0" ] || fail "big read again after its pages were dropped: no READ reached the daemon"
# One decryption for all 4 readers; two if the kernel's read-ahead
# straggles past the moment the content is kept after its end.
dd=$(( $(counter decryptions) - d0 ))
[ "$dd" -ge 1 ] && [ "$dd" -le 2 ] ||
	fail "4 readers of big at once: $dd decryptions (want 1, 2 at most)"
drop_pages "$MNT/big"
head -c 100000 "$MNT/big" | cmp -s - <(head -c 100000 "$T/src/big") ||
	fail "the first 100000 bytes of big"
tail -c 5000 "$MNT/big" | cmp -s - <(tail -c 5000 "$T/src/big") ||
	fail "the last 5000 bytes of big"
note "big: 4 readers at once, $dd decryption(s)"

# --- C: outside changes within a second, pages cached or not ---------------
head -c 5000 /dev/urandom >"$T/src/d0.e1"
ref_save "$C" d0/e1 "@$T/src/d0.e1" >/dev/null || fail "rewrite d0/e1"
within 1 cmp -s "$MNT/d0/e1" "$T/src/d0.e1"
ref_save "$C" d1/new "new" >/dev/null || fail "save d1/new"
within 1 test "$(cat "$MNT/d1/new" 2>/dev/null)" = new
rm "$C/d2/e4.enc.json"
within 1 test ! -e "$MNT/d2/e4"
ls "$MNT/d2" | grep -qx e4 && fail "d2/e4 listed after its removal"

# --- D: expiry --------------------------------------------------------------
expiry=$(ref_save "$C" d0/soon "soon" "$SOON") || fail "save d0/soon"
[ "$(cat "$MNT/d0/soon")" = soon ] || fail "d0/soon before its expiry"
[ "$(cat "$MNT/d0/soon")" = soon ] || fail "d0/soon again before its expiry"
while awk -v e="$expiry" -v n="$(now_s)" 'BEGIN { exit !(n < e) }'; do
	sleep 0.1
done
within 1 test ! -e "$MNT/d0/soon"

# --- E: spoilt in place after its lookup ------------------------------------
[ -e "$MNT/d1/e3" ] || fail "d1/e3 before it is spoilt"
"$PYTHON" -c 'import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
i = b.index(b"\"encrypted\": \"") + 40
b[i] = ord("A") if b[i] != ord("A") else ord("B")
with open(p, "r+b") as f:
    f.write(b)' "$C/d1/e3.enc.json" || fail "spoil d1/e3"
if cat "$MNT/d1/e3" >"$T/e3" 2>"$T/e3.err"; then
	fail "d1/e3 read after it was spoilt"
fi
[ ! -s "$T/e3" ] || fail "$(wc -c <"$T/e3") bytes of spoilt d1/e3 were read"
grep -qE 'Input/output error|No such file' "$T/e3.err" ||
	fail "reading spoilt d1/e3: $(cat "$T/e3.err")"
LOG_OK="$LOG_OK|^enccachefs: hiding 'd1/e3': .*|^enccachefs: cannot read 'd1/e3' as looked up: rewritten since\$"
cmp -s "$MNT/d1/e2" "$T/src/d1.e2" || fail "d1/e2 after d1/e3 was spoilt"

# --- F: read-only ------------------------------------------------------------
for what in "printf x >'$MNT/d0/e2'" "printf x >'$MNT/d0/fresh'" \
	    "rm '$MNT/d0/e2'" "mkdir '$MNT/dnew'"; do
	if sh -c "$what" 2>"$T/err"; then
		fail "on a read-only mount: $what succeeded"
	fi
	grep -q 'Read-only file system' "$T/err" || fail "$what: $(cat "$T/err")"
done
cmp -s "$MNT/d0/e2" "$T/src/d0.e2" || fail "d0/e2 after the refused writes"

# The debug log holds every request: check only the daemon's own lines.
grep -E '^enccachefs: ' "$LOG" >"$LOG.own" || :
LOG=$LOG.own fs_stop
exit 0
