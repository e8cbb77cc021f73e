#!/usr/bin/env bash
# examples/fetch_prices.c built as a user builds it: against the installed
# library (make install DESTDIR=<temp dir>; the compiler sees only what
# `pkg-config --cflags --libs enccache` says, with PKG_CONFIG_PATH and
# PKG_CONFIG_SYSROOT_DIR pointing there), in a directory outside the
# source tree.  Run twice: computed, then cached; what it saved loads in
# the Python reference as the same object, and what Python saved it reads.
# Every man3 page's EXAMPLE, as installed, builds and runs too.  Then
# fetch_prices linked with the static library.
#
# EC_EXAMPLE_INSTALLED=1 uses the library, the example and the man pages
# installed on this machine (the Debian packages, in .ci/run) instead of
# installing them.
. "$(dirname "$0")/../lib.sh"

require_python
command -v pkg-config >/dev/null ||
	skip "no pkg-config (install the Debian package pkgconf)"
: "${CC:=cc}"
SALT=my-application-salt

mkdir "$T/ext"
if [ "${EC_EXAMPLE_INSTALLED:-0}" = 1 ]; then
	pc() { pkg-config "$@"; }
	libdir=$(pkg-config --variable=libdir enccache) ||
		fail "pkg-config finds no installed enccache"
	run_env=(env)
	example=/usr/share/doc/libenccache-dev/examples/fetch_prices.c
	man3=/usr/share/man/man3
else
	inst=$T/inst
	[ -f "$builddir/Makefile" ] || hard_error "no Makefile in '$builddir'"
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "${MAKE:-make}" -C "$builddir" \
		install DESTDIR="$inst" >"$T/install.log" 2>&1 || {
		tail -n 30 "$T/install.log" >&2
		fail "make install DESTDIR='$inst' failed"
	}
	pcfile=$(find "$inst" -name enccache.pc -print -quit)
	[ -n "$pcfile" ] || fail "make install put no enccache.pc below '$inst'"
	[ -n "$(find "$inst" -path '*/include/enccache.h')" ] ||
		fail "make install put no enccache.h below '$inst'"
	man3=$(find "$inst" -type d -name man3 -print -quit)
	[ -s "$man3/libenccache.3" ] || fail "libenccache.3 is not installed"
	[ "$(cat "$man3/enccache_load.3")" = ".so man3/enccache_save.3" ] ||
		fail "enccache_load.3 is not a link to enccache_save.3"
	pc() {
		PKG_CONFIG_PATH=$(dirname "$pcfile")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH} \
			PKG_CONFIG_SYSROOT_DIR=$inst pkg-config "$@"
	}
	libdir=$(dirname "$(dirname "$pcfile")")
	run_env=(env "LD_LIBRARY_PATH=$libdir")
	example=$top_srcdir/examples/fetch_prices.c
fi
[ -f "$example" ] || fail "no example at '$example'"
cp "$example" "$T/ext/fetch_prices.c"
[ -f "$man3/libenccache.3" ] || [ -f "$man3/libenccache.3.gz" ] ||
	fail "no libenccache.3 in '$man3'"
cd "$T/ext"

cflags=$(pc --cflags enccache) || fail "pkg-config --cflags enccache failed"
libs=$(pc --libs enccache) || fail "pkg-config --libs enccache failed"
case " $cflags $libs " in
*" -I$top_srcdir/src"* | *"$builddir/src"*)
	fail "pkg-config points into the source or build tree: $cflags $libs" ;;
esac
# shellcheck disable=SC2086  # word splitting is what pkg-config output needs
$CC -Wall -Wextra -Werror -o fetch_prices fetch_prices.c $cflags $libs \
	${SAN_LDFLAGS:-} || fail "the example does not build: $CC ... $cflags $libs"
"${run_env[@]}" ldd ./fetch_prices >"$T/ldd"
lib=$(awk '/libenccache\.so/ { print $3 }' "$T/ldd")
[ -n "$lib" ] || fail "fetch_prices is not linked with libenccache.so: $(cat "$T/ldd")"
case "$(readlink -f "$lib")" in
"$(readlink -f "$libdir")"/*) ;;
*) fail "fetch_prices loads '$lib', not the library in '$libdir'" ;;
esac

make_secrets "$T/secrets.json" api my-secret-password
C=$T/cache

# computed, then cached: the same JSON both times
run_ok "${run_env[@]}" ./fetch_prices "$C" "$T/secrets.json"
head -n 1 "$T/out" | grep -qx 'computed prices/latest: {' ||
	fail "first run: $(cat "$T/out")"
sed '1s/^computed //' "$T/out" >"$T/first"
run_ok "${run_env[@]}" ./fetch_prices "$C" "$T/secrets.json"
head -n 1 "$T/out" | grep -qx 'cached prices/latest: {' ||
	fail "second run: $(cat "$T/out")"
sed '1s/^cached //' "$T/out" >"$T/second"
same_file "$T/first" "$T/second" "computed and cached output"
[ "$(stat -c %a "$C")" = 700 ] || fail "the cache dir is not 0700"
[ "$(stat -c %a "$C/prices/latest.enc.json")" = 600 ] ||
	fail "the entry is not 0600"

# Python loads the object the C program saved.
got=$(ecref load-obj --dir "$C" --secrets "$T/secrets.json" --salt "$SALT" \
	prices/latest) || fail "ecref cannot load what fetch_prices saved"
[ "$got" = '{"currency": "EUR", "price": 42.0}' ] ||
	fail "ecref loads $got"
ecref meta --dir "$C" --secrets "$T/secrets.json" --salt "$SALT" \
	prices/latest | grep -q '"key": "api"' || fail "not saved with key 'api'"
ecref layout-check --salt "$SALT" "$C/prices/latest.enc.json" ||
	fail "the envelope is not laid out as Python's json.dump writes it"

# A dated call: the cache id is get_hashed_filename()'s.
run_ok "${run_env[@]}" ./fetch_prices "$C" "$T/secrets.json" 2026-02-07
id=prices-$(printf 'get_prices(date=2026-02-07)' | sha256sum | cut -c1-32)
head -n 1 "$T/out" | grep -qx "computed $id: {" ||
	fail "dated run: $(cat "$T/out") (expected id $id)"
got=$(ecref load-obj --dir "$C" --secrets "$T/secrets.json" --salt "$SALT" \
	"$id") || fail "ecref cannot load '$id'"
[ "$got" = '{"currency": "EUR", "date": "2026-02-07", "price": 42.0}' ] ||
	fail "ecref loads $got"

# What Python saved is a hit.
C2=$T/cache2
mkdir -m 700 "$C2"
ecref put --dir "$C2" --secrets "$T/secrets.json" --salt "$SALT" \
	prices/latest --key api --obj-json '{"price": 41.5, "currency": "USD"}'
run_ok "${run_env[@]}" ./fetch_prices "$C2" "$T/secrets.json"
printf 'cached prices/latest: {\n  "currency": "USD",\n  "price": 41.5\n}\n' >"$T/want"
same_file "$T/out" "$T/want" "fetch_prices on Python's entry"

# One line on an error, no output.
chmod 644 "$T/secrets.json"
run "${run_env[@]}" ./fetch_prices "$C" "$T/secrets.json"
[ "$rc" -eq 1 ] || fail "loose secrets file: exit $rc"
[ "$(cat "$T/err")" = "fetch_prices: cannot use secrets file '$T/secrets.json': permissions too open (group or others have access, or not our file)" ] ||
	fail "loose secrets file: $(cat "$T/err")"
[ ! -s "$T/out" ] || fail "output on an error"
chmod 600 "$T/secrets.json"

# Every man3 page's EXAMPLE builds and runs: complete programs with
# CACHE_DIR SECRETS_FILE, fragments inside a main() that has opened
# `cache` (secrets default and api, salt "my-salt").
cat >"$T/prelude.c" <<'EOF_C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <enccache.h>

static const char *password = "pw";

int main(void)
{
	enccache_secrets *secrets_;
	enccache *cache;

	(void)password;
	if (enccache_secrets_new(&secrets_) != 0 ||
	    enccache_secrets_add(secrets_, "default", "pw") != 0 ||
	    enccache_secrets_add(secrets_, "api", "pw") != 0 ||
	    enccache_open("cache", secrets_, "my-salt", 7, NULL, NULL,
			  &cache) != 0)
		return 99;
	enccache_secrets_free(secrets_);
	{
EOF_C
make_secrets "$T/man-secrets.json" default pw api pw
pages=0
for page in "$man3"/libenccache.3* "$man3"/enccache_*.3*; do
	# the pages themselves, not the links to them
	[ -f "$page" ] && [ ! -L "$page" ] || continue
	zcat -f "$page" | grep -q '^\.so ' && continue
	name=$(basename "$page" .gz)
	name=${name%.3}
	zcat -f "$page" | awk '/^\.SH EXAMPLE/ { s = 1 } s && /^\.EE/ { exit }
	     s && f { print } s && /^\.EX/ { f = 1 }' |
		sed -e 's/\\-/-/g' -e 's/\\e/\\/g' >"$T/$name.body"
	[ -s "$T/$name.body" ] || fail "man page $name.3 has no EXAMPLE code"
	mkdir "$T/run-$name"
	if grep -q '^int main(' "$T/$name.body"; then
		cp "$T/$name.body" "$T/run-$name/$name.c"
		args=(cache "$T/man-secrets.json")
	else
		{ cat "$T/prelude.c" "$T/$name.body"
		  printf '\t}\n\tenccache_close(cache);\n\treturn 0;\n}\n'; } \
			>"$T/run-$name/$name.c"
		args=()
	fi
	# shellcheck disable=SC2086
	$CC -Wall -Wextra -Werror -o "$T/run-$name/prog" "$T/run-$name/$name.c" \
		$cflags $libs ${SAN_LDFLAGS:-} ||
		fail "the EXAMPLE of $name.3 does not build ($T/run-$name/$name.c)"
	(cd "$T/run-$name" && run_ok "${run_env[@]}" ./prog "${args[@]}")
	[ ! -s "$T/err" ] || fail "the EXAMPLE of $name.3 wrote to stderr: $(cat "$T/err")"
	cp "$T/out" "$T/run-$name/out"
	pages=$((pages + 1))
done
[ "$pages" -ge 6 ] || fail "only $pages man3 pages found"
[ "$(cat "$T/run-libenccache/out")" = "hello, world" ] ||
	fail "libenccache.3's program: $(cat "$T/run-libenccache/out")"
got=$(ecref get --dir "$T/run-libenccache/cache" --secrets "$T/man-secrets.json" \
	--salt my-salt notes/hello) || fail "ecref cannot load libenccache.3's entry"
[ "$got" = "hello, world" ] || fail "ecref loads '$got' from libenccache.3's entry"
grep -qx '42 (key default, created .*, comment computed)' "$T/run-enccache_save/out" &&
	grep -qx removed "$T/run-enccache_save/out" ||
	fail "enccache_save.3's example: $(cat "$T/run-enccache_save/out")"
head -n 1 "$T/run-enccache_get_hashed_filename/out" |
	grep -qx "prices-$(printf 'get_prices(date=2026-02-07)' | sha256sum | cut -c1-32)" ||
	fail "enccache_get_hashed_filename.3's example: $(cat "$T/run-enccache_get_hashed_filename/out")"
grep -q '^computed: {' "$T/run-enccache_execute_cached/out" ||
	fail "enccache_execute_cached.3's example: $(cat "$T/run-enccache_execute_cached/out")"
(cd "$T/run-enccache_execute_cached" &&
	run_ok "${run_env[@]}" ./prog cache "$T/man-secrets.json")
grep -q '^cached: {' "$T/out" || fail "enccache_execute_cached.3's example, again: $(cat "$T/out")"
[ -d "$T/run-enccache_open/myapp-cache" ] || fail "enccache_open.3's example made no cache"

# The static library: the same program, no libenccache.so at run time.
if [ -f "$libdir/libenccache.a" ]; then
	slibs=$(pc --static --libs enccache) ||
		fail "pkg-config --static --libs enccache failed"
	slibs=$(printf '%s' "$slibs" |
		sed 's/-lenccache\>/-Wl,-Bstatic -lenccache -Wl,-Bdynamic/')
	# shellcheck disable=SC2086
	$CC -Wall -Wextra -Werror -o fetch_static fetch_prices.c $cflags \
		$slibs ${SAN_LDFLAGS:-} || fail "the example does not link statically: $slibs"
	ldd ./fetch_static | grep -q libenccache &&
		fail "fetch_static still loads libenccache.so"
	run_ok ./fetch_static "$C" "$T/secrets.json"
	head -n 1 "$T/out" | grep -qx 'cached prices/latest: {' ||
		fail "static run: $(cat "$T/out")"
else
	note "no libenccache.a in '$libdir' (configured with --disable-static)"
fi
