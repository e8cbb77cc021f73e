# mount_secrets.sh: where the passwords come from, and what a wrong one
# does, in both tools (issue 9).
#   A. sources: a file; a pipe (secrets=/dev/fd/N, <(...), /dev/stdin);
#      standard input (secrets=-, also when the daemon detaches); a
#      command (extpass=, failing, timing out, printing garbage);
#      ENCCACHE_SECRETS and ENCCACHE_SALT_FILE.  No password is ever in
#      the daemon's argv.  Refusals name the real reason (mode 0644).
#   B. a wrong password or salt: the mount refuses with one line naming
#      the cause (exit 1) unless -o no_key_check; enccache ls says the
#      same (exit 3) and get reports "does not open with key".
#   C. the TTL rule for a missing or unparseable created_at (FORMAT.md,
#      Validity), in both tools.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/mountlib.sh"
require_cli

D=$T/data
mkdir -p "$D"
make_secrets "$T/secrets.json" default pw-default api pw-api-secret
make_salt "$T/salt" 'secrets-test-salt'
gen_bytes "$D/blob" 2000 1
ec put a/one --data-file "$D/blob" --key api
ec put b/two --data-file "$D/blob"
SALT=salt_file=$T/salt
CLI=("$ENCCACHE" --dir "$C" --salt-file "$T/salt")

# shown_ok: the mount shows the entries.
shown_ok() {
	cmp -s "$MNT/a/one" "$D/blob" || fail "$1: a/one is not shown"
}
# no_password_in_argv: the daemon's command line has no password.
no_password_in_argv() {
	local pw
	for pw in pw-default pw-api-secret; do
		! tr '\0' ' ' <"/proc/$FS_PID/cmdline" | grep -q -- "$pw" ||
			fail "a password is in the daemon's argv: $(tr '\0' ' ' <"/proc/$FS_PID/cmdline")"
	done
}

# --- A: sources ----------------------------------------------------------------
fs_run "$MNT" -o "secrets=$T/secrets.json,$SALT" "$C" "$MNT"
shown_ok file
fs_stop
exec 3<"$T/secrets.json"
fs_run "$MNT" -o "secrets=/dev/fd/3,$SALT" "$C" "$MNT"
exec 3<&-
shown_ok "/dev/fd/3 (a file)"
fs_stop
fs_run "$MNT" -o "secrets=/dev/fd/4,$SALT" "$C" "$MNT" 4< <(cat "$T/secrets.json")
shown_ok "/dev/fd/4 (a pipe)"
fs_stop
fs_run "$MNT" -o secrets=<(cat "$T/secrets.json"),"$SALT" "$C" "$MNT"
shown_ok "<(...)"
fs_stop
fs_run "$MNT" -o "secrets=-,$SALT" "$C" "$MNT" <"$T/secrets.json"
shown_ok "secrets=-"
no_password_in_argv
fs_stop
fs_run "$MNT" -o "secrets=/dev/stdin,$SALT" "$C" "$MNT" < <(cat "$T/secrets.json")
shown_ok "/dev/stdin"
fs_stop
fs_run "$MNT" -o "extpass=cat $T/secrets.json,$SALT" "$C" "$MNT"
shown_ok extpass
no_password_in_argv
fs_stop
ENCCACHE_SECRETS=$T/secrets.json ENCCACHE_SALT_FILE=$T/salt \
	fs_run "$MNT" "$C" "$MNT"
shown_ok "ENCCACHE_SECRETS and ENCCACHE_SALT_FILE"
fs_stop
# Detached: standard input and <(...) are read before the daemon forks.
run_ok "$ENCCACHEFS" -o "secrets=-,$SALT" "$C" "$MNT" <"$T/secrets.json"
within 5 mounted "$MNT"
shown_ok "secrets=- detached"
fusermount3 -u "$MNT" || fail "fusermount3 -u (detached)"
run_ok bash -c '"$1" -o "secrets=$2,$3" "$4" "$5"' _ "$ENCCACHEFS" \
	<(cat "$T/secrets.json") "$SALT" "$C" "$MNT"
within 5 mounted "$MNT"
shown_ok "<(...) detached"
fusermount3 -u "$MNT" || fail "fusermount3 -u (detached)"

# Refusals say why.
cp "$T/secrets.json" "$T/loose.json"
chmod 644 "$T/loose.json"
fs_refuses "^enccachefs: cannot use secrets file '$T/loose.json': permissions 0644 are too open \(group or others have access; chmod 600 it\)\$" \
	-o "secrets=$T/loose.json,$SALT" "$C" "$MNT"
expect_err 3 "^enccache: cannot use secrets file '$T/loose.json': permissions 0644 are too open" \
	"${CLI[@]}" --secrets "$T/loose.json" ls
mkfifo -m 600 "$T/fifo"
fs_refuses "^enccachefs: cannot use secrets file '$T/fifo': not a regular file \(for a pipe, use /dev/fd/N or -\)\$" \
	-o "secrets=$T/fifo,$SALT" "$C" "$MNT"
fs_refuses "^enccachefs: extpass command 'exit 7' failed with exit status 7\$" \
	-o "extpass=exit 7,$SALT" "$C" "$MNT"
fs_refuses "^enccachefs: extpass command 'sleep 30' timed out after 1 s\$" \
	-o "extpass=sleep 30,extpass_timeout=1,$SALT" "$C" "$MNT"
fs_refuses "^enccachefs: extpass command 'echo hello' printed no secrets: not a JSON object of key names to password strings\$" \
	-o "extpass=echo hello,$SALT" "$C" "$MNT"
fs_refuses "^enccachefs: options secrets= and extpass= cannot be used together\$" \
	-o "secrets=$T/secrets.json,extpass=true,$SALT" "$C" "$MNT"
fs_refuses "^enccachefs: cannot read secrets from standard input: not a JSON object" \
	-o "secrets=-,$SALT" "$C" "$MNT" </dev/null

# The same sources for enccache.
run_ok "${CLI[@]}" --secrets - get a/one <"$T/secrets.json"
same_file "$T/out" "$D/blob" "enccache --secrets -"
run_ok "${CLI[@]}" --secrets <(cat "$T/secrets.json") get a/one
same_file "$T/out" "$D/blob" "enccache --secrets <(...)"
run_ok "${CLI[@]}" --extpass "cat '$T/secrets.json'" get a/one
same_file "$T/out" "$D/blob" "enccache --extpass"
run_ok env ENCCACHE_SECRETS="$T/secrets.json" "${CLI[@]}" get a/one
expect_err 3 "^enccache: cannot read secrets from standard input: put reads the entry from it" \
	"${CLI[@]}" --secrets - put x </dev/null
expect_err 3 "^enccache: extpass command 'false' failed with exit status 1\$" \
	"${CLI[@]}" --extpass false ls

# --- B: a wrong password or salt ---------------------------------------------
make_secrets "$T/wrong.json" default pw-default api not-the-password
fs_refuses "^enccachefs: password for key 'api' does not open any of its 1 entry; -o no_key_check mounts anyway\$" \
	-o "secrets=$T/wrong.json,$SALT" "$C" "$MNT"
fs_refuses "^enccachefs: salt does not match any entry \(the 2 envelopes have salt fingerprint [0-9a-f]{16}, ours is [0-9a-f]{16}\); -o no_key_check mounts anyway\$" \
	-o "secrets=$T/secrets.json,salt=another" "$C" "$MNT"
fs_run "$MNT" -o "secrets=$T/wrong.json,$SALT,no_key_check" "$C" "$MNT"
[ ! -e "$MNT/a/one" ] || fail "an entry that does not open is shown"
cmp -s "$MNT/b/two" "$D/blob" || fail "no_key_check: b/two is not shown"
fs_stop
expect_err 3 "^enccache: password for key 'api' does not open any of its 1 entry\$" \
	"${CLI[@]}" --secrets "$T/wrong.json" ls
expect_err 1 "^enccache: cannot get 'a/one': does not open with key 'api' \(the wrong password, or tampered with\)\$" \
	"${CLI[@]}" --secrets "$T/wrong.json" get a/one
run_ok "${CLI[@]}" --secrets "$T/wrong.json" ls --all
grep -q "does not open with key 'api'" "$T/out" || fail "ls --all: $(cat "$T/out")"
expect_err 3 "^enccache: salt does not match any entry" \
	"$ENCCACHE" --dir "$C" --salt other --secrets "$T/secrets.json" ls

# --- C: created_at missing or unparseable ----------------------------------
# A token made by Python, then its envelope with created_at changed.
ec put t/bad --data-file "$D/blob"
ec put t/none --data-file "$D/blob"
py 'import json, sys
for path, value in ((sys.argv[1], "yesterday"), (sys.argv[2], None)):
    env = json.load(open(path))
    if value is None:
        del env["created_at"]
    else:
        env["created_at"] = value
    json.dump(env, open(path, "w"))' "$C/t/bad.enc.json" "$C/t/none.enc.json"
OLD=$(iso -60)
# get ID EXPECT TTL-ARGS...: enccache's verdict (ok, or the exit code).
cli_get() {
	local id=$1 want=$2
	shift 2
	run "${CLI[@]}" --secrets "$T/secrets.json" "$@" get "$id"
	case $want in
	ok) [ "$rc" -eq 0 ] && cmp -s "$T/out" "$D/blob" ||
		fail "enccache $* get $id: exit $rc, $(cat "$T/err")" ;;
	*) [ "$rc" -eq 1 ] && grep -q -- "$want" "$T/err" ||
		fail "enccache $* get $id: exit $rc, $(cat "$T/err") (want '$want')" ;;
	esac
}
cli_get t/bad ok --ttl inf
cli_get t/bad ok --ttl 2099-01-01T00:00:00
cli_get t/bad "corrupt: created_at is not an ISO-8601 date-time" --ttl '5 days'
cli_get t/bad "corrupt: created_at is not an ISO-8601 date-time" --ttl inf --oldest-valid "$OLD"
cli_get t/none ok --ttl inf --oldest-valid "$OLD"
cli_get t/none ok --ttl 2099-01-01T00:00:00 --oldest-valid "$OLD"
cli_get t/none "stale (no created_at)" --ttl '5 days'
# mount_shows OPTS BAD NONE: whether t/bad and t/none are shown (1/0).
mount_shows() {
	local got
	fs_run "$MNT" -o "secrets=$T/secrets.json,$SALT${1:+,$1}" "$C" "$MNT"
	got="$([ -e "$MNT/t/bad" ] && echo 1 || echo 0) $([ -e "$MNT/t/none" ] && echo 1 || echo 0)"
	[ "$got" = "$2 $3" ] || fail "-o $1: t/bad t/none shown: $got, want $2 $3"
	[ "$2" = 0 ] || cmp -s "$MNT/t/bad" "$D/blob" || fail "-o $1: t/bad content"
	fs_stop
}
LOG_OK="$LOG_OK|^enccachefs: hiding 't/bad': corrupt \\(not an ISO-8601 date-time\\)\$"
mount_shows "ttl=inf" 1 1
mount_shows "ttl=2099-01-01T00:00:00" 1 1
mount_shows "" 0 0
mount_shows "ttl=inf,oldest_valid=$OLD" 0 1
