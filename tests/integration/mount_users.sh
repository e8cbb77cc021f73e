# mount_users.sh: sharing the mount with a service account (issue 9).
# uid= and gid= show the tree as owned by that user and group, with the
# same 0600/0700 modes, so that the service reads (and writes) it through
# allow_other; other users are refused, by the modes and, without
# allow_other, by FUSE.  Needs root: a second user is created for the test
# (and removed), and allow_other is root's to give.
. "$(dirname "$0")/../lib.sh"
[ "$(id -u)" = 0 ] ||
	skip "needs root: it creates a second user and mounts with allow_other"
for tool in useradd userdel runuser; do
	command -v $tool >/dev/null 2>&1 ||
		skip "$tool is not installed (Debian packages passwd, util-linux)"
done
. "$(dirname "$0")/mountlib.sh"

# The other user must reach the mount point: every directory above it
# must be searchable by others (the test's own temp dir is made so).
chmod 711 "$T" "$builddir/tests/tmp"	# (inside: 0700 temp dirs)
d=$T
while [ "$d" != / ]; do
	d=$(dirname "$d")
	[ "$(( 0$(stat -c %a "$d") & 1 ))" = 1 ] ||
		skip "'$d' is not searchable by other users, so no second user can reach the mount"
done

SVC=ec9svc$$
useradd -M -r -U -s /usr/sbin/nologin -d /nonexistent "$SVC" 2>"$T/useradd.err" ||
	skip "cannot create a test user: $(cat "$T/useradd.err")"
trap '_rc=$?; cleanup_fs; fusermount3 -uz "$T/user/mnt" 2>/dev/null || :; userdel "$SVC" 2>/dev/null || :; _lib_cleanup $_rc' EXIT
SVC_UID=$(id -u "$SVC")
SVC_GID=$(id -g "$SVC")
# as USER CMD...: run CMD as USER, setting rc.
as() {
	local u=$1
	shift
	run runuser -u "$u" -- "$@"
}

make_secrets "$T/secrets.json" default pw-default
make_salt "$T/salt" 'users-test-salt'
printf 'shared data\n' >"$T/data"
ec put svc/config --data-file "$T/data"

fs_start "uid=$SVC,gid=$SVC,allow_other"
# The kernel checks the modes (with allow_other, or uid= someone else).
grep " $MNT " /proc/self/mountinfo | grep -q default_permissions ||
	fail "no default_permissions with allow_other"
for f in "" /svc /svc/config; do
	[ "$(stat -c '%u:%g' "$MNT$f")" = "$SVC_UID:$SVC_GID" ] ||
		fail "$MNT$f is owned by $(stat -c '%u:%g' "$MNT$f"), not $SVC_UID:$SVC_GID"
done
[ "$(stat -c %a "$MNT/svc")" = 700 ] && [ "$(stat -c %a "$MNT/svc/config")" = 600 ] ||
	fail "modes: $(stat -c %a "$MNT/svc") $(stat -c %a "$MNT/svc/config")"
as "$SVC" cat "$MNT/svc/config"
[ "$rc" -eq 0 ] && cmp -s "$T/out" "$T/data" ||
	fail "the service user cannot read its entry: $(cat "$T/err")"
as "$SVC" sh -c "printf 'from the service' > '$MNT/svc/state'"
[ "$rc" -eq 0 ] || fail "the service user cannot write: $(cat "$T/err")"
[ "$(ec get svc/state)" = "from the service" ] || fail "Python does not load the service's write"
as "$SVC" ls "$MNT/svc"
grep -qx state "$T/out" || fail "the service's ls: $(cat "$T/out")"
# Anybody else: the modes refuse (the kernel checks them).
as nobody cat "$MNT/svc/config"
[ "$rc" -ne 0 ] || fail "user nobody read a 0600 entry of another user"
grep -q 'Permission denied' "$T/err" || fail "nobody: $(cat "$T/err")"
fs_stop

# Numbers work as well as names; without allow_other the service is
# refused by FUSE itself.
fs_start "uid=$SVC_UID,gid=$SVC_GID"
grep " $MNT " /proc/self/mountinfo | grep -q default_permissions ||
	fail "no default_permissions with uid= another user"
[ "$(stat -c '%u:%g' "$MNT/svc/config")" = "$SVC_UID:$SVC_GID" ] || fail "uid=/gid= as numbers"
as "$SVC" cat "$MNT/svc/config"
[ "$rc" -ne 0 ] || fail "the service read the mount without allow_other"
fs_stop

fs_refuses "^enccachefs: invalid uid 'no-such-user-$$': no such user\$" \
	-o "secrets=$T/secrets.json,salt_file=$T/salt,uid=no-such-user-$$" "$C" "$MNT"
fs_refuses "^enccachefs: invalid gid 'no-such-group-$$': no such group\$" \
	-o "secrets=$T/secrets.json,salt_file=$T/salt,gid=no-such-group-$$" "$C" "$MNT"

# The service's own mount (fusermount3), without allow_other: FUSE lets
# in only its processes, which own everything, so the kernel checks no
# modes (no default_permissions: no GETATTR of a directory after each
# create in it); chown(2)'s rule stays, kept by the daemon: the owner
# gives no file away, nor to a group not its own.
# (Where /dev/fuse is open to users, as it is on most systems.)
as "$SVC" test -r /dev/fuse -a -w /dev/fuse
if [ "$rc" -ne 0 ]; then
	echo "mount_users: /dev/fuse is closed to users here: not checked: a user's own mount" >&2
	exit 0
fi
U=$T/user
mkdir -p "$U/cache" "$U/mnt"
cp "$T/secrets.json" "$T/salt" "$U/"
chown -R "$SVC:$SVC" "$U"
chmod 700 "$U" "$U/cache"
as "$SVC" "$ENCCACHEFS" -o "secrets=$U/secrets.json,salt_file=$U/salt,auto_unmount" \
	"$U/cache" "$U/mnt"
[ "$rc" -eq 0 ] || fail "the service cannot mount: $(cat "$T/err")"
within 10 mounted "$U/mnt"
grep " $U/mnt " /proc/self/mountinfo | grep -q default_permissions &&
	fail "default_permissions on the service's own mount"
as "$SVC" sh -c "printf x > '$U/mnt/f'"
[ "$rc" -eq 0 ] || fail "the service cannot write its mount: $(cat "$T/err")"
as "$SVC" chown 0 "$U/mnt/f"
[ "$rc" -ne 0 ] && grep -q 'not permitted' "$T/err" ||
	fail "the service gave a file to root: rc $rc $(cat "$T/err")"
as "$SVC" chgrp 0 "$U/mnt/f"
[ "$rc" -ne 0 ] && grep -q 'not permitted' "$T/err" ||
	fail "the service gave a file to group 0: rc $rc $(cat "$T/err")"
as "$SVC" chown "$SVC_UID:$SVC_GID" "$U/mnt/f"
[ "$rc" -eq 0 ] || fail "the service's chown to itself: $(cat "$T/err")"
as "$SVC" test -x "$U/mnt/f"
[ "$rc" -ne 0 ] || fail "a file is executable (access X_OK) on the service's mount"
as "$SVC" fusermount3 -u "$U/mnt"
[ "$rc" -eq 0 ] || fail "the service cannot unmount: $(cat "$T/err")"
