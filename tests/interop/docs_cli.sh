# docs_cli.sh: the enccache examples of the README and of enccache(1) run
# as they are written, without a mount (issue 10; docs_fs.sh runs every
# README example, the mount's included, and enccachefs(1)'s).
#   README: every line of an indented block that starts with "$ " (and its
#   "> " continuation lines), in order, in one shell, but those that use
#   the mount (enccachefs, fusermount3, files below ~/mnt/ec/); then the
#   command of the crontab line.
#   enccache(1): every "$ " line of the .EX blocks of EXAMPLES, in order,
#   in another shell with its own home.
# They run with HOME in the test's temp dir and the build's tools first on
# the PATH.  Afterwards the Python reference must load what they stored.
. "$(dirname "$0")/../lib.sh"
require_python
require_cli
command -v tar >/dev/null || skip "tar is not installed"

README=$top_srcdir/README
MAN=$top_srcdir/man/enccache.1

# --- the README ------------------------------------------------------------
readme_examples "$README" "$T/readme.sh" '^(enccachefs|fusermount3) |~/mnt/ec/'
py 'import re, sys
for line in open(sys.argv[1], encoding="utf-8"):
    m = re.match(r"    (\S+ ){5} *(enccache .*)$", line)
    if m:
        cron = m.group(2) + "\n"
open(sys.argv[2], "a").write(cron)' "$README" "$T/readme.sh"
grep -q '^enccache prune --dry-run$' "$T/readme.sh" &&
	grep -q '^enccache export --format jsonl' "$T/readme.sh" &&
	grep -q '^enccache --quiet prune --max-size 2G$' "$T/readme.sh" &&
	grep -q '^enccache --dir ~/.cache/ec-copy --salt other-salt rekey' "$T/readme.sh" ||
	fail "README: the enccache examples were not found: $(cat "$T/readme.sh")"

# --- enccache(1) -------------------------------------------------------------
man_examples "$MAN" "$T/man.sh" .EX .EE '$ '
[ "$(grep -c '^enccache ' "$T/man.sh")" -ge 15 ] ||
	fail "enccache(1): too few examples found: $(cat "$T/man.sh")"
! grep -q '\\[(f]' "$T/man.sh" || fail "enccache(1): a roff escape is left: $(cat "$T/man.sh")"
# every command of the synopsis has an example
for cmd in put get exists ls rm hash inspect prune fsck stats export import \
	rekey; do
	grep -Eq "(^|\| )enccache .*\b$cmd( |$)" "$T/man.sh" ||
		fail "enccache(1): no example of '$cmd'"
done

# docs SCRIPT HOME: run it as a user would, from HOME/work.
docs() {
	mkdir -p "$2/work"
	(cd "$2/work" && HOME=$2 PATH=$builddir/src:$PATH \
		bash -e "$1") >"$T/$(basename "$1").out" 2>&1 ||
		fail "$(basename "$1") failed: $(tail -n 5 "$T/$(basename "$1").out")"
}

H=$T/home
docs "$T/readme.sh" "$H"
run_ok ecref load-obj prices/latest --dir "$H/.cache/ec-copy" \
	--secrets "$H/.config/ec/new-secrets.json" --salt third-salt
[ "$(cat "$T/out")" = '{"currency": "EUR", "price": 42.0}' ] ||
	fail "after the README, Python loads from the rekeyed copy: $(cat "$T/out")"
grep -q '^fsck: ok$' "$T/readme.sh.out" || fail "README fsck: $(cat "$T/readme.sh.out")"

M=$T/manhome
docs "$T/man.sh" "$M"
run_ok ecref load-obj weather/berlin --dir "$M/.cache/moved" \
	--secrets "$M/.config/enccache/secrets.json" --salt "another salt"
[ "$(cat "$T/out")" = '{"temp": 21.5}' ] ||
	fail "after enccache(1), Python loads the moved entry: $(cat "$T/out")"
run_ok ecref load-obj weather/berlin --dir "$M/.cache/reports" \
	--secrets "$M/.config/enccache/new.json" \
	--salt-file "$M/.config/enccache/new-salt.bin"
[ "$(cat "$T/out")" = '{"temp": 21.5}' ] ||
	fail "after enccache(1)'s rekey, Python loads with the new keys: $(cat "$T/out")"
[ "$(cat "$M/work/restored/site/en/index.html")" = '<h1>hello</h1>' ] ||
	fail "enccache(1): get --output-dir did not restore the page"
grep -q '^cached$' "$T/man.sh.out" || fail "enccache(1): exists --stdin"
grep -q '^enccache_entries{' "$M/work/enccache.prom" ||
	fail "enccache(1): stats --prometheus wrote $(cat "$M/work/enccache.prom")"
[ ! -e "$M/.cache/reports/daily/a.enc.json" ] || fail "enccache(1): rm -0"

exit 0
