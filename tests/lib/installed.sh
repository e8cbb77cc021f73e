#!/usr/bin/env bash
# The Debian packages as installed (run by .ci/run after it installs them;
# not part of `make check`): the demo's core steps with /usr/bin/enccache
# and /usr/bin/enccachefs (put, mount, ls, cat, unmount), the same through
# mount -t fuse.enccachefs, the man pages in place, then
# tests/lib/example.sh against the installed library, its example and its
# man pages.
#   bash tests/lib/installed.sh        (as root or any user, with /dev/fuse)
. "$(dirname "$0")/../lib.sh"

for p in enccachefs libenccache1 libenccache-dev; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'ok installed' ||
		fail "the package $p is not installed"
done
ENCCACHE=/usr/bin/enccache
ENCCACHEFS=/usr/bin/enccachefs
[ -x "$ENCCACHE" ] && [ -x "$ENCCACHEFS" ] ||
	fail "enccachefs did not install /usr/bin/enccache and /usr/bin/enccachefs"
for f in man1/enccache.1.gz man1/enccachefs.1.gz man3/libenccache.3.gz \
	man3/enccache_load.3.gz; do
	[ -e "/usr/share/man/$f" ] || fail "/usr/share/man/$f is not installed"
done
. "$top_srcdir/tests/integration/mountlib.sh"

# The demo, shortened.
printf '{"default": "demo password"}' >"$T/secrets.json"
chmod 600 "$T/secrets.json"
printf 'demo-salt' >"$T/salt"
opts=(--secrets "$T/secrets.json" --salt-file "$T/salt" --dir "$C")
printf '{"price": 42.0, "currency": "EUR"}' |
	"$ENCCACHE" "${opts[@]}" put --view json prices/latest --comment "daily refresh"
printf 'hello, world\n' | "$ENCCACHE" "${opts[@]}" put notes/hello
fs_start ""
ls -lR "$MNT" >"$T/ls" || fail "ls -lR of the mount failed"
grep -q ' latest$' "$T/ls" && grep -q ' hello$' "$T/ls" ||
	fail "ls -lR of the mount lacks the entries: $(cat "$T/ls")"
[ "$(cat "$MNT/notes/hello")" = "hello, world" ] ||
	fail "cat mnt/notes/hello: $(cat "$MNT/notes/hello")"
printf '{\n  "price": 42.0,\n  "currency": "EUR"\n}\n' >"$T/want"
same_file "$MNT/prices/latest" "$T/want" "cat mnt/prices/latest"
fs_stop
note "installed enccache and enccachefs: put, mount, ls, cat, unmount"

# As mount(8) starts it: mount -t fuse.enccachefs runs mount.fuse3, which
# finds /usr/bin/enccachefs (in the background, as a daemon).
command -v mount.fuse3 >/dev/null || PATH=$PATH:/sbin:/usr/sbin
command -v mount.fuse3 >/dev/null ||
	fail "no mount.fuse3 (the fuse3 package should provide it)"
mount -t fuse.enccachefs "$C" "$MNT" \
	-o "secrets=$T/secrets.json,salt_file=$T/salt" ||
	fail "mount -t fuse.enccachefs failed"
FS_MNT=$MNT
[ "$(cat "$MNT/notes/hello")" = "hello, world" ] ||
	fail "cat after mount -t fuse.enccachefs: $(cat "$MNT/notes/hello")"
ls "$MNT/prices" | grep -qx latest || fail "ls after mount -t fuse.enccachefs"
umount "$MNT" || fail "umount of the fuse.enccachefs mount failed"
mounted "$MNT" && fail "$MNT is still mounted after umount"
FS_MNT=
note "mount -t fuse.enccachefs, cat, ls, umount"

# The library: its example and its man pages' examples.
EC_EXAMPLE_INSTALLED=1 builddir=$builddir bash "$top_srcdir/tests/lib/example.sh" ||
	fail "tests/lib/example.sh against the installed library failed"
note "installed libenccache: fetch_prices and the man3 examples"
