#!/usr/bin/env bash
# libenccache exports exactly the functions enccache.h declares: the
# shared object's defined dynamic symbols (nm -D) against the header's
# declarations, both ways, all under the version node ENCCACHE_1; and
# the header compiles on its own, as C and as C++.
. "$(dirname "$0")/../lib.sh"

so=$builddir/src/lib/.libs/libenccache.so
header=$top_srcdir/src/lib/enccache.h
[ -e "$so" ] || skip "no shared library at '$so' (configured with --disable-shared)"
command -v nm >/dev/null || skip "no nm (install the Debian package binutils)"
: "${CC:=cc}"

# Declared: each statement of the preprocessed header that is not a
# typedef, and the name before its first '('.
$CC -E -P -x c "$header" | tr '\n' ' ' | tr ';' '\n' | grep -v typedef |
	sed -n 's/.*\<\(enccache_[a-z0-9_]*\)[[:space:]]*(.*/\1/p' |
	LC_ALL=C sort -u >"$T/declared"
[ "$(wc -l <"$T/declared")" -ge 20 ] ||
	fail "found only $(wc -l <"$T/declared") declarations in $header"

# Exported: defined dynamic symbols, without the version node itself.
nm -D --defined-only --with-symbol-versions "$so" >"$T/nm" ||
	fail "nm -D failed on $so"
awk '$2 != "A" { print $3 }' "$T/nm" | LC_ALL=C sort -u >"$T/exported"
sed 's/@.*//' "$T/exported" | LC_ALL=C sort -u >"$T/names"

if ! cmp -s "$T/declared" "$T/names"; then
	diff "$T/declared" "$T/names" | grep '^[<>]' |
		sed 's/^</  declared, not exported:/; s/^>/  exported, not declared:/' >&2 || :
	fail "the exports of $so differ from the declarations of $header"
fi
bad=$(grep -v '@@ENCCACHE_1$' "$T/exported" || :)
[ -z "$bad" ] || fail "symbols outside version ENCCACHE_1: $bad"
# The ec_* internals are there, but local.
nm "$so" 2>/dev/null | grep -q ' t ec_cache_open$' ||
	note "(no local symbol table to check: stripped library)"
objdump -p "$so" | grep -q 'SONAME *libenccache\.so\.1$' ||
	fail "SONAME of $so is not libenccache.so.1"

# The header stands alone.
printf '#include "enccache.h"\nint main(void) { return enccache_version() == 0; }\n' >"$T/alone.c"
$CC -Wall -Wextra -Werror -pedantic -std=c99 -fsyntax-only -I"$(dirname "$header")" "$T/alone.c" ||
	fail "enccache.h does not compile on its own as C99"
if command -v c++ >/dev/null; then
	cp "$T/alone.c" "$T/alone.cc"
	c++ -Wall -Wextra -Werror -fsyntax-only -I"$(dirname "$header")" "$T/alone.cc" ||
		fail "enccache.h does not compile as C++"
fi
note "$(wc -l <"$T/names") functions exported, as declared"
