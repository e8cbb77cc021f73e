# docs_fs.sh: the command examples of README and enccachefs(1) run as
# they are written (issue 9), so that they cannot drift from the tools.
#   README: every line of an indented block that starts with "$ " (and its
#   "> " continuation lines), in order, in one shell: "A first session".
#   enccachefs(1): every line of the .nf blocks of EXAMPLES, in order, in
#   one shell, after the README's session (whose files they use).
# They run with HOME in the test's temp dir and the build's tools first on
# the PATH, as a user who installed them would.  Afterwards the Python
# module (ecref.py) must load what the docs say was stored.  The README's
# build, package and library commands are CI's own steps (.ci/run,
# tests/lib), and its fstab line is what mount_fstab.sh mounts.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/mountlib.sh"
require_cli
for tool in jq getfattr setfattr sed gpg gpg-agent; do
	command -v $tool >/dev/null 2>&1 ||
		skip "$tool is not installed (scripts/test installs jq, attr, gpg and gpg-agent)"
done
README=$top_srcdir/README
MAN=$top_srcdir/man/enccachefs.1

H=$T/home
mkdir -p "$H" "$T/work"
# gpg's agent listens on sockets in GNUPGHOME, and a socket's path has
# at most 107 bytes: under distcheck's build tree $T is too deep for it,
# so the keyring lives in a short temp dir (its agent is stopped at exit).
GNUPGHOME=$(mktemp -d /tmp/ec-gpg.XXXXXX) || hard_error "mktemp failed"
export GNUPGHOME
trap '_rc=$?; fusermount3 -uz "$H/mnt/ec" 2>/dev/null || :; cleanup_fs
gpgconf --kill gpg-agent 2>/dev/null || :; rm -rf "$GNUPGHOME"
_lib_cleanup $_rc' EXIT

# The README's examples: "$ " lines, "> " continuations.
readme_examples "$README" "$T/readme.sh"
[ "$(grep -c . "$T/readme.sh")" -ge 10 ] ||
	fail "README: too few examples found: $(cat "$T/readme.sh")"
# The man page's: .nf/.fi blocks of EXAMPLES, roff escapes undone.
man_examples "$MAN" "$T/man.sh" .nf .fi
grep -q '^enccachefs ' "$T/man.sh" || fail "enccachefs(1): no example found"
! grep -q '\\[(f]' "$T/man.sh" || fail "enccachefs(1): a roff escape is left: $(cat "$T/man.sh")"

# What the man page's examples take as given: a photo, and the secrets
# also encrypted with gpg (whose passphrase gpg.conf supplies here).
gen_bytes "$T/work/photo.png" 4000 1
printf 'gpg-test-passphrase\n' >"$GNUPGHOME/passphrase"
printf 'batch\nquiet\npinentry-mode loopback\npassphrase-file %s\n' \
	"$GNUPGHOME/passphrase" >"$GNUPGHOME/gpg.conf"

# docs SCRIPT: run it as a user would, from $T/work.
docs() {
	(cd "$T/work" && HOME=$H PATH=$builddir/src:$PATH \
		bash -e "$1") >"$T/$(basename "$1").out" 2>&1 ||
		fail "$(basename "$1") failed: $(tail -n 5 "$T/$(basename "$1").out")"
}
docs "$T/readme.sh"
ecd() {
	local cmd=$1
	shift
	ecref "$cmd" --dir "$H/.cache/ec" --secrets "$H/.config/ec/secrets.json" \
		--salt-file "$H/.config/ec/salt" "$@"
}
[ "$(ecd load-obj prices/latest)" = '{"currency": "EUR", "price": 43.5}' ] ||
	fail "after the README's session Python loads $(ecd load-obj prices/latest)"
grep -Eqx '42(\.0)?' "$T/readme.sh.out" || fail "the README's jq did not print 42: $(cat "$T/readme.sh.out")"

gpg --output "$H/.config/ec/secrets.json.gpg" --symmetric "$H/.config/ec/secrets.json" ||
	hard_error "gpg --symmetric failed"
if [ "$(id -u)" != 0 ] && ! grep -qx user_allow_other /etc/fuse.conf 2>/dev/null; then
	# The last example (allow_other) is for root or user_allow_other.
	sed -i '/allow_other/,$d' "$T/man.sh"
	note "without user_allow_other in /etc/fuse.conf the allow_other example is not run"
fi
docs "$T/man.sh"
[ "$(ecd load-obj prices/latest)" = '{"price": 44.0}' ] ||
	fail "after the man page's examples Python loads $(ecd load-obj prices/latest)"
[ "$(ecd meta prices/latest | py 'import json, sys; m = json.load(sys.stdin); print(m["key"], m["comment"])')" = "api set by hand" ] ||
	fail "prices/latest lost its key or comment: $(ecd meta prices/latest)"
[ ! -e "$H/.cache/ec/img" ] || fail "rm -rf of img left $(find "$H/.cache/ec/img")"
