# mount_fstab.sh: mounting from an fstab line, as mount(8) and systemd do
# (issue 9).  `mount -T FSTAB MOUNTPOINT` runs mount.fuse3, which runs
# `enccachefs CACHEDIR MOUNTPOINT -o OPTIONS` (found on the default PATH:
# mount(8) does not pass the caller's).  The mount's source is the cache
# directory (df and findmnt show it; a given fsname= wins), and `mount -a`
# run twice is harmless.
#
# Needs root (only root may use mount -T) and a private mount namespace
# (unshare -m), in which the build's enccachefs is bound over
# /usr/local/sbin so that mount.fuse3 finds it; nothing outside the
# namespace changes.
. "$(dirname "$0")/../lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (mount -T is root's, and so is unshare -m)"
for tool in mount umount unshare findmnt mount.fuse3; do
	command -v $tool >/dev/null 2>&1 ||
		PATH=$PATH:/sbin:/usr/sbin command -v $tool >/dev/null 2>&1 ||
		skip "$tool is not installed (Debian packages mount, util-linux, fuse3)"
done
if [ -z "${EC_FSTAB_NS:-}" ]; then
	unshare -m --propagation private true 2>/dev/null ||
		skip "cannot make a private mount namespace (unshare -m)"
	rm -rf "$T"
	trap - EXIT
	EC_FSTAB_NS=1 exec unshare -m --propagation private bash "$0" "$@"
fi
. "$(dirname "$0")/mountlib.sh"
trap '_rc=$?; umount "$MNT" 2>/dev/null || :; umount "$T/mnt b" 2>/dev/null || :; _lib_cleanup $_rc' EXIT

mkdir -p "$T/bin"
ln -s "$ENCCACHEFS" "$T/bin/enccachefs"
mount --bind "$T/bin" /usr/local/sbin || skip "cannot bind a directory over /usr/local/sbin"

make_secrets "$T/secrets.json" default pw-default
make_salt "$T/salt" 'fstab-test-salt'
printf 'from fstab\n' >"$T/data"
ec put prices/latest --data-file "$T/data"
# A second cache whose path has a space (\040 in fstab).
C2="$T/cache b"
MNT2="$T/mnt b"
mkdir -m 700 "$C2"
mkdir "$MNT2"
ecref put other --dir "$C2" --secrets "$T/secrets.json" --salt-file "$T/salt" \
	--data-file "$T/data"
sp() { printf '%s' "$1" | sed 's/ /\\040/g'; }
cat >"$T/fstab" <<EOF
# the README's line, with this test's paths
$C $MNT fuse.enccachefs secrets=$T/secrets.json,salt_file=$T/salt,nofail 0 0
$(sp "$C2") $(sp "$MNT2") fuse.enccachefs secrets=$T/secrets.json,salt_file=$T/salt,fsname=my-cache 0 0
EOF

# count MOUNTPOINT: how many mounts are on it.
count() {
	M=$(sp "$1") awk '$5 == ENVIRON["M"] { n++ } END { print n + 0 }' \
		/proc/self/mountinfo
}

run_ok mount -T "$T/fstab" "$MNT"
within 5 mounted "$MNT"
cmp -s "$MNT/prices/latest" "$T/data" || fail "the entry is not shown through the fstab mount"
[ "$(findmnt -n -o SOURCE "$MNT")" = "$C" ] ||
	fail "findmnt shows source '$(findmnt -n -o SOURCE "$MNT")', not the cache directory"
[ "$(findmnt -n -o FSTYPE "$MNT")" = fuse.enccachefs ] ||
	fail "type $(findmnt -n -o FSTYPE "$MNT")"
df "$MNT" | tail -n 1 | grep -q "^$C " || fail "df: $(df "$MNT")"
# mount -a: mounts the other line, and leaves the mounted one alone; twice.
run_ok mount -T "$T/fstab" -a
within 5 test "$(count "$MNT2")" = 1
run_ok mount -T "$T/fstab" -a
[ "$(count "$MNT")" = 1 ] && [ "$(count "$MNT2")" = 1 ] ||
	fail "mount -a mounted again: $(count "$MNT") and $(count "$MNT2") mounts"
cmp -s "$MNT2/other" "$T/data" || fail "the second line's entry"
[ "$(findmnt -n -o SOURCE "$MNT2")" = my-cache ] ||
	fail "a given fsname= does not win: $(findmnt -n -o SOURCE "$MNT2")"
run_ok umount "$MNT2"
run_ok umount "$MNT"
within 5 eval '! mounted "$MNT"'
# A mount that cannot start fails mount(8) with the daemon's one line.
chmod 644 "$T/secrets.json"
run mount -T "$T/fstab" "$MNT"
[ "$rc" -ne 0 ] || fail "mount with a loose secrets file succeeded"
grep -q "^enccachefs: cannot use secrets file '$T/secrets.json': permissions 0644 are too open" "$T/err" ||
	fail "mount's message: $(cat "$T/err")"
mounted "$MNT" && fail "mounted with a loose secrets file"
exit 0
