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
trap '_rc=$?; cleanup_fs; userdel "$SVC" 2>/dev/null || :; _lib_cleanup $_rc' EXIT
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
[ "$(stat -c '%u:%g' "$MNT/svc/config")" = "$SVC_UID:$SVC_GID" ] || fail "uid=/gid= as numbers"
as "$SVC" cat "$MNT/svc/config"
[ "$rc" -ne 0 ] || fail "the service read the mount without allow_other"
fs_stop

fs_refuses "^enccachefs: invalid uid 'no-such-user-$$': no such user\$" \
	-o "secrets=$T/secrets.json,salt_file=$T/salt,uid=no-such-user-$$" "$C" "$MNT"
fs_refuses "^enccachefs: invalid gid 'no-such-group-$$': no such group\$" \
	-o "secrets=$T/secrets.json,salt_file=$T/salt,gid=no-such-group-$$" "$C" "$MNT"
