#!/bin/bash
# mount_datapath: what reading through the mount costs, counted by the
# daemon itself (the user.enccache.stats attribute on the mount root):
# a warm read of every entry decrypts nothing; a cold one decrypts each
# entry once (its size at the listing; the content decrypted then is kept
# for the open that follows, even with hundreds listed in between);
# big entries (past the 1 MiB stream threshold) read and write exactly,
# Python reading what we wrote, and a tampered big envelope gives no byte.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/mountlib.sh"
stats_secrets
N=600
"$PYTHON" - "$C" "$N" "$ECREF_PY" "$T" <<'PY'
import datetime, os, sys
sys.path.insert(0, os.path.dirname(sys.argv[3]))
import ecref
args = ecref.build_parser().parse_args(["verify-all", "--dir", sys.argv[1],
    "--secrets", sys.argv[4] + "/secrets.json",
    "--salt-file", sys.argv[4] + "/salt"])
ring = ecref.load_keyring(args)
for i in range(int(sys.argv[2])):
    ecref.save_entry(args, ring, "d%d/e%03d" % (i % 4, i), b"%05d" % i * 40,
                     "default", None, None,
                     datetime.datetime.now(datetime.timezone.utc).isoformat())
PY
written=$(date +%s%N)

# stat NAME: counter NAME of the daemon's statistics.
stat() {
	getfattr --only-values -n user.enccache.stats "$MNT" |
		"$PYTHON" -c 'import json, sys
d = json.load(sys.stdin); k = sys.argv[1]
print(d["hidden"][k[7:]] if k.startswith("hidden.") else d[k])' "$1"
}

fs_start ""
getfattr -d -m - "$MNT" | grep -q '^user.enccache.stats=' ||
	fail "the mount root does not list user.enccache.stats"
d0=$(stat decryptions)
find "$MNT" -type f -exec cat {} + | wc -c | grep -qx $((N * 200)) ||
	fail "the cold read did not return every byte"
d1=$(stat decryptions)
# A tenth more for a kept content that aged out on a slow machine.
[ $((d1 - d0)) -le $((N + N / 10)) ] ||
	fail "a cold read of $N entries decrypted $((d1 - d0)) times (at most $((N + N / 10)))"
[ $((d1 - d0)) -ge "$N" ] || fail "decryptions not counted ($((d1 - d0)) for $N entries)"
# A warm read finds every page in the kernel's cache, but for those the
# kernel dropped meanwhile (memory reclaim: this machine's kernel pages
# out idle memory on its own, DAMON's pageout): only a read that reaches
# the daemon may decrypt (bytes_read: 200 bytes an entry), never an open.
b1=$(stat bytes_read)
find "$MNT" -type f -exec cat {} + >/dev/null
find "$MNT" -type f -exec cat {} + >/dev/null
d2=$(stat decryptions)
miss=$((($(stat bytes_read) - b1) / 200))
[ $((d2 - d1)) -le "$miss" ] ||
	fail "a warm read of $N entries decrypted $((d2 - d1)) times (want 0, or one for each of the $miss pages the kernel read again)"
# Once the entries are older than EC_SETTLE_US (2 s) after their ctime,
# a warm open checks each by its bytes once more (and notes it settled),
# the next ones by a stat alone: no envelope is read but for a read that
# reaches the daemon.
while [ $(($(date +%s%N) - written)) -lt 2500000000 ]; do sleep 0.2; done
r0=$(stat envelope_reads)
find "$MNT" -type f -exec cat {} + >/dev/null
r1=$(stat envelope_reads)
# read_again WHAT: read every entry once more; no envelope may be read but
# for a page the kernel read again (bytes_read: 200 bytes an entry).  Sets
# again (envelopes read) and miss (pages read again).
read_again() {
	local r b
	r=$(stat envelope_reads)
	b=$(stat bytes_read)
	find "$MNT" -type f -exec cat {} + >/dev/null
	again=$(($(stat envelope_reads) - r))
	miss=$((($(stat bytes_read) - b) / 200))
	[ "$again" -le "$miss" ] ||
		fail "$1 read $again envelopes (want 0, or one for each of the $miss pages the kernel read again)"
}
read_again "a warm read of $N settled entries (the read before it: $((r1 - r0)))"
r2=$((r1 + again))
miss2=$miss
[ "$r0" -ge "$N" ] || fail "envelope reads not counted ($r0 for $N entries)"
[ "$(stat bytes_read)" -ge $((N * 200)) ] || fail "bytes_read not counted"
l0=$(stat lookups)
[ ! -e "$MNT/no/such" ] || fail "a missing entry exists"
[ "$(stat lookups)" -gt "$l0" ] || fail "lookups not counted"
note "cold read: $((d1 - d0)) decryptions for $N entries; warm: $((d2 - d1)) ($miss pages read again); settled warm opens: $((r2 - r1)) envelopes read ($miss2 pages read again)"

# Settled before the mount (EC_SETTLE_US after their ctime, and still
# when a content kept EC_RECENT_US, 2 s, was read): a fresh mount's read
# reads and decrypts each entry once, at its lookup, its open taking that
# content and noting it settled; the next open knows it by a stat alone,
# no envelope read again (but for a page the kernel dropped).  It used to
# read each envelope once more.
#
# The open that takes a content kept from the listing stores it in the
# kernel's page cache (prefilled), so the read after it is served there:
# no READ reaches the daemon for it (bytes_read counts the stored bytes
# too, so READs brought bytes_read - 200 * prefilled).  Every entry reads
# back exactly, in each directory listed before its files are read.
fs_stop
while [ $(($(date +%s%N) - written)) -lt 4500000000 ]; do sleep 0.2; done
fs_start ""
"$PYTHON" - "$MNT" "$N" <<'PY' || fail "a fresh mount's read of the entries differs"
import os, sys
mnt, n = sys.argv[1], int(sys.argv[2])
seen = 0
for top, dirs, files in os.walk(mnt):
    for f in files:
        i = int(f[1:])
        with open(os.path.join(top, f), "rb") as fh:
            got = fh.read()
        assert got == b"%05d" % i * 40, (top, f, got[:20])
        assert os.path.basename(top) == "d%d" % (i % 4), (top, f)
        seen += 1
assert seen == n, seen
PY
r3=$(stat envelope_reads)
[ "$r3" -le $((N + N / 10)) ] ||
	fail "a fresh mount's read of $N settled entries read $r3 envelopes (at most $((N + N / 10)))"
p3=$(stat prefilled)
served=$(($(stat bytes_read) - 200 * p3))
[ "$p3" -ge $((N - N / 10)) ] ||
	fail "a fresh mount's read of $N entries stored $p3 contents in the page cache (want $N, at least $((N - N / 10)))"
[ "$served" -le $((200 * (N - p3))) ] ||
	fail "with $p3 of $N contents stored ahead, READs still brought $served bytes (want at most $((200 * (N - p3))))"
note "fresh mount: $p3 of $N contents stored in the page cache at their open, $served bytes read by READs"
read_again "the second read of $N settled entries on a fresh mount (the first read: $r3)"
note "fresh mount, settled entries: first read $r3 envelopes, second $again ($miss pages read again)"

# Hidden entries are counted by why they are hidden.
h0=$(stat hidden.tampered)
cp "$C/d0/e000.enc.json" "$C/bad.enc.json"
"$PYTHON" - "$C/bad.enc.json" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read())
i = b.index(b'"encrypted": "') + 40; b[i] = ord("A") if b[i] != ord("A") else ord("B")
open(p, "wb").write(b)
PY
touch -d '1 minute ago' "$C/bad.enc.json"
[ ! -e "$MNT/bad" ] || fail "a tampered entry is shown"
[ "$(stat hidden.tampered)" -gt "$h0" ] || fail "the tampered entry was not counted"

# readahead=: the mount's kernel read-ahead (its bdi's read_ahead_kb) is
# 1 MiB by default, where FUSE alone gives 128 KiB; only root may set it.
ra_kb() {
	local dev
	dev=$(awk -v m="$MNT" '$5 == m { d = $3 } END { print d }' /proc/self/mountinfo)
	cat "/sys/class/bdi/$dev/read_ahead_kb"
}
RA_SET=
[ "$(id -u)" != 0 ] || RA_SET=1
if [ -n "$RA_SET" ]; then
	[ "$(ra_kb)" = 1024 ] || fail "the mount reads $(ra_kb) KiB ahead (want 1024)"
else
	echo "mount_datapath: not root, readahead= not checked" >&2
fi

# Big entries: 5 MiB through the mount both ways.
head -c $((5 << 20)) /dev/urandom >"$T/big.bin"
s0=$(stat saves)
cp "$T/big.bin" "$MNT/big"
[ "$(stat saves)" -gt "$s0" ] || fail "the save was not counted"
cmp "$MNT/big" "$T/big.bin" || fail "the big entry reads back other bytes"
ec get big >"$T/big.py" || fail "Python cannot load the big entry we wrote"
cmp "$T/big.py" "$T/big.bin" || fail "Python reads other bytes of the big entry"
# A slow request holds up no other (as with -s, or a loop that ran every
# request on one thread, it would): while the close of a 96 MiB entry
# encrypts and writes it, another entry opens and reads through the mount.
"$PYTHON" - "$MNT" <<'PY' || fail "a read waited for another entry's save"
import os, sys, threading, time
mnt = sys.argv[1]
fd = os.open(mnt + "/slow", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
block = os.urandom(1 << 20)
for _ in range(96):
    os.write(fd, block)
closed = []
t = threading.Thread(target=lambda: (os.close(fd), closed.append(time.monotonic())))
t.start()
time.sleep(0.05)
with open(mnt + "/d1/e001", "rb") as f:
    data = f.read()
read_at = time.monotonic()
t.join()
assert data == b"%05d" % 1 * 40, "d1/e001 reads back other bytes"
if closed[0] < read_at:
    sys.exit("the read of d1/e001 ended after the 96 MiB save (%.3f s later)"
             % (read_at - closed[0]))
PY
sz=$(command stat -c %s "$MNT/slow")
[ "$sz" = $((96 << 20)) ] || fail "the slow save did not land (size $sz)"
rm "$MNT/slow"

# Saved a moment ago (touch stamps its ctime now), read on a fresh mount:
# decrypted once, at its lookup, the open taking that content once the
# envelope's tag shows it is still that version.
touch "$C/big.enc.json"
fs_stop
fs_start ""
d3=$(stat decryptions)
cmp "$MNT/big" "$T/big.bin" || fail "the big entry reads back other bytes on a fresh mount"
d4=$(stat decryptions)
[ $((d4 - d3)) -eq 1 ] ||
	fail "a fresh mount's read of a big entry saved a moment ago decrypted it $((d4 - d3)) times (want 1)"
"$PYTHON" - "$C/big.enc.json" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read())
i = len(b) // 2; b[i] = ord("A") if b[i] != ord("A") else ord("B")
open(p, "wb").write(b)
PY
touch -d '1 minute ago' "$C/big.enc.json"
within 3 sh -c "! cat '$MNT/big' >/dev/null 2>&1"
LOG_OK="$LOG_OK|^enccachefs: hiding '(bad|big)': .*"
fs_stop
fs_refuses "^enccachefs: invalid readahead 'lots': not a number of KiB \(up to 65536\)\$" \
	-o "secrets=$T/secrets.json,salt_file=$T/salt,readahead=lots" "$C" "$MNT"
fs_refuses "invalid readahead '65537'" \
	-o "secrets=$T/secrets.json,salt_file=$T/salt,readahead=65537" "$C" "$MNT"
if [ -n "$RA_SET" ]; then
	fs_start readahead=0
	[ "$(ra_kb)" = 128 ] || fail "readahead=0: the mount reads $(ra_kb) KiB ahead (want the kernel's 128)"
	fs_stop
	fs_start readahead=4096
	[ "$(ra_kb)" = 4096 ] || fail "readahead=4096: the mount reads $(ra_kb) KiB ahead"
	fs_stop
fi
exit 0
