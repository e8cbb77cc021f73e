# tests/lib.sh: sourced by every shell test (bash).
#
# Environment (exported by `make check`; defaults let a script run alone):
#   builddir   the top build directory (default: the source tree)
#   PYTHON     python3 with `cryptography`; "false" means none (skip)
#   GOLDEN     the golden envelopes (default: <srcdir>/tests/data/golden)
# Exit codes (automake): 0 pass, 1 fail, 77 skip, 99 hard error.

set -eEu
# An unexpected failure (set -e) names its line before the test ends.
trap 'echo "$testname: line $LINENO: failed: $BASH_COMMAND" >&2' ERR

testname=$(basename "$0" .sh)
top_srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${builddir:=$top_srcdir}"
builddir=$(cd "$builddir" && pwd)
: "${PYTHON:=python3}"
: "${GOLDEN:=$top_srcdir/tests/data/golden}"
ENCCACHE=$builddir/src/enccache
ENCCACHEFS=$builddir/src/enccachefs
ECREF_PY=$top_srcdir/tests/interop/ecref.py

# The tools read these; a test states everything on the command line.
unset ENCCACHE_SECRETS ENCCACHE_SALT_FILE ENCCACHE_DIR ENCCACHE_AGENT_TIMEOUT
# No test leaves derived keys in the user's kernel keyring (a user's quota
# is 200 keys); cli_agent.sh tests the key agent with its own salt.
export ENCCACHE_NO_AGENT=1
export LC_ALL=C.UTF-8 TZ=UTC PYTHONDONTWRITEBYTECODE=1

fail() {
	echo "FAIL: $testname: $*" >&2
	exit 1
}

skip() {
	echo "SKIP: $testname: $*" >&2
	exit 77
}

hard_error() {
	echo "ERROR: $testname: $*" >&2
	exit 99
}

note() {
	echo "$testname: $*" >&2
}

# --- per-test temp dir: removed on success or skip, kept on failure -------
mkdir -p "$builddir/tests/tmp" || hard_error "cannot create $builddir/tests/tmp"
T=$(mktemp -d "$builddir/tests/tmp/$testname.XXXXXX") ||
	hard_error "cannot create a temp dir"

_lib_cleanup() {
	local rc=$1
	if [ "$rc" -eq 0 ] || [ "$rc" -eq 77 ]; then
		chmod -R u+rwx "$T" 2>/dev/null || :
		rm -rf "$T"
	else
		echo "$testname: exit $rc; files kept in $T" >&2
	fi
}
trap '_lib_cleanup $?' EXIT

# --- prerequisites ---------------------------------------------------------
require_python() {
	[ "$PYTHON" != false ] ||
		skip "no python3 with the cryptography package (configure found none)"
	"$PYTHON" -c 'import sys
assert sys.version_info >= (3, 7)
import cryptography.fernet
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC' \
		2>/dev/null ||
		skip "'$PYTHON' lacks python3 >= 3.7 with the cryptography package"
}

require_cli() {
	[ -x "$ENCCACHE" ] || hard_error "$ENCCACHE is not built"
}

# ecref ARGS...: the independent Python implementation.
ecref() {
	"$PYTHON" "$ECREF_PY" "$@"
}

# py CODE ARGS...: run a Python snippet (sys.argv[1:] = ARGS).
py() {
	local code=$1
	shift
	"$PYTHON" -c "$code" "$@"
}

# --- fixtures --------------------------------------------------------------

# setup_golden DIR: copy the golden set into DIR with usable modes.
setup_golden() {
	[ -f "$GOLDEN/expected.json" ] ||
		skip "golden envelopes not found at '$GOLDEN'"
	mkdir -p "$1"
	cp -R "$GOLDEN/." "$1/"
	chmod -R u+w "$1"
	chmod 600 "$1/secrets.json"
	find "$1/cache" -type d -exec chmod 700 {} +
	find "$1/cache" -type f -exec chmod 600 {} +
}

# make_secrets FILE NAME PASSWORD [NAME PASSWORD]...: a 0600 secrets file.
make_secrets() {
	local file=$1
	shift
	py 'import json, sys
a = sys.argv[2:]
with open(sys.argv[1], "w", encoding="utf-8") as f:
    json.dump(dict(zip(a[0::2], a[1::2])), f, ensure_ascii=False)' \
		"$file" "$@"
	chmod 600 "$file"
}

# make_salt FILE TEXT: salt file holding TEXT's bytes (printf escapes ok).
make_salt() {
	printf "$2" >"$1"
}

# gen_bytes FILE SIZE SEED: deterministic pseudo-random bytes.
gen_bytes() {
	py 'import random, sys
n, r = int(sys.argv[2]), random.Random(int(sys.argv[3]))
data = r.getrandbits(8 * n).to_bytes(n, "little") if n else b""
with open(sys.argv[1], "wb") as f:
    f.write(data)' "$1" "$2" "$3"
}

# readme_examples README OUT [SKIP]: the README's commands into OUT: every
# line of an indented block that starts with "$ ", with its "> "
# continuation lines; those the regular expression SKIP finds are left out.
readme_examples() {
	py 'import re, sys
out = []
for line in open(sys.argv[1], encoding="utf-8"):
    if line.startswith("    $ "):
        out.append(line[6:])
    elif line.startswith("    > ") and out:
        out[-1] += line[6:]
skip = sys.argv[3]
keep = [c for c in out if not (skip and re.search(skip, c))]
open(sys.argv[2], "w").write("".join(keep))' "$1" "$2" "${3:-}"
}

# man_examples PAGE OUT OPEN CLOSE [PROMPT]: the lines of the blocks from
# OPEN to CLOSE (.EX/.EE, .nf/.fi) in the man page PAGE's EXAMPLES into
# OUT, roff escapes undone; with PROMPT, only the lines that start with
# it, without it.
man_examples() {
	py 'import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
sect = text.split("\n.SH EXAMPLES\n", 1)[1].split("\n.SH ", 1)[0]
start, end, prompt = sys.argv[3], sys.argv[4], sys.argv[5]
out = []
for block in re.findall("^" + re.escape(start) + "\n(.*?)^" +
                        re.escape(end) + "$", sect, re.M | re.S):
    for line in block.splitlines():
        if not line.startswith(prompt):
            continue
        line = line[len(prompt):]
        for a, b in ((r"\-", "-"), (r"\(aq", "\x27"), (r"\(dq", "\""),
                     (r"\&", ""), (r"\e", "\\")):
            line = line.replace(a, b)
        out.append(line)
open(sys.argv[2], "w").write("\n".join(out) + "\n")' "$1" "$2" "$3" "$4" "${5:-}"
}

# interop_setup SALT BIGSEED SMALLSEED: what c_to_py.sh and py_to_c.sh
# start from.  D, an empty 0700 cache dir; secrets "default" and "intl"
# (a non-ASCII password); the salt SALT (printf escapes ok); S and C, the
# options naming them (C with --dir "$D").  In $T/in: nuls (NULs and
# high bytes), empty, big (3 MiB from BIGSEED), small (1000 bytes from
# SMALLSEED) and x.
interop_setup() {
	D=$T/cache
	mkdir -m 700 "$D"
	make_secrets "$T/secrets.json" default "pw-default-1" \
		intl "pässwörd €uro 日本 😀"
	make_salt "$T/salt" "$1"
	S=(--secrets "$T/secrets.json" --salt-file "$T/salt")
	C=(--dir "$D" "${S[@]}")
	mkdir "$T/in"
	printf 'a\000b\000\000c\n\377\376\000' >"$T/in/nuls"
	: >"$T/in/empty"
	gen_bytes "$T/in/big" 3145728 "$2"
	gen_bytes "$T/in/small" 1000 "$3"
	printf 'x' >"$T/in/x"
}

# plist_of TAGGED FILE: the bytes ecref stores for the tagged JSON object
# TAGGED ({"$data": ...}, {"$date": ...}): a binary plist, keys sorted.
plist_of() {
	py 'import json, plistlib, sys
sys.path.insert(0, sys.argv[1])
import ecref
obj = ecref.from_tagged(json.loads(sys.argv[2]))
with open(sys.argv[3], "wb") as f:
    f.write(plistlib.dumps(obj, fmt=plistlib.FMT_BINARY, sort_keys=True))
' "$(dirname "$ECREF_PY")" "$1" "$2"
}

# --- checks ----------------------------------------------------------------

# tree_sum DIR: one line per path: type, mode, size, mtime, content hash.
tree_sum() {
	(
		cd "$1" &&
		find . -printf '%p %y %m %s %T@ %l\n' | LC_ALL=C sort &&
		find . -type f -exec sha256sum {} + | LC_ALL=C sort
	)
}

# run CMD...: run without tripping `set -e`; sets $rc, output in
# $T/out and $T/err.  Fails on a crash (signal) or sanitizer report.
run() {
	rc=0
	"$@" >"$T/out" 2>"$T/err" || rc=$?
	if [ "$rc" -ge 128 ]; then
		cat "$T/err" >&2
		fail "crashed (exit $rc): $*"
	fi
	if grep -Eq 'Sanitizer|runtime error:|valgrind' "$T/err"; then
		cat "$T/err" >&2
		fail "sanitizer report: $*"
	fi
	return 0
}

# run_ok CMD...: run and require exit 0.
run_ok() {
	run "$@"
	if [ "$rc" -ne 0 ]; then
		cat "$T/err" >&2
		fail "exit $rc, expected 0: $*"
	fi
}

# expect_err CODE REGEX CMD...: exit CODE with exactly one stderr line that
# starts with "enccache: " and matches REGEX (grep -E), nothing on stdout.
expect_err() {
	local code=$1 re=$2
	shift 2
	run "$@"
	[ "$rc" -eq "$code" ] ||
		fail "exit $rc, expected $code: $* [stderr: $(cat "$T/err")]"
	[ "$(wc -l <"$T/err")" -eq 1 ] ||
		fail "expected one line on stderr: $* [stderr: $(cat "$T/err")]"
	grep -q '^enccache: ' "$T/err" ||
		fail "stderr does not start with 'enccache: ': $(cat "$T/err")"
	grep -Eq -- "$re" "$T/err" ||
		fail "stderr does not match /$re/: $* [stderr: $(cat "$T/err")]"
	[ ! -s "$T/out" ] || fail "unexpected stdout: $*"
}

# same_file A B WHAT: byte equality.
same_file() {
	cmp -s "$1" "$2" || fail "$3: $1 and $2 differ"
}

# file_mode PATH: octal permission bits.
file_mode() {
	stat -c %a "$1"
}

# envelope_fields FILE DIR: write each top-level string field of the
# envelope FILE to DIR/<field> (raw UTF-8, no newline).
envelope_fields() {
	rm -rf "$2"
	mkdir -p "$2"
	py 'import json, os, sys
env = json.load(open(sys.argv[1], encoding="utf-8"))
for k, v in env.items():
    if isinstance(v, str):
        with open(os.path.join(sys.argv[2], k), "w", encoding="utf-8") as f:
            f.write(v)' "$1" "$2"
}

# check_envelope_layout FILE SALT_FILE: FILE's bytes are exactly what
# Python's json.dump writes for its own key, created_at, token and comment.
check_envelope_layout() {
	local file=$1 salt=$2 d=$T/fields f
	envelope_fields "$file" "$d"
	for f in key created_at encrypted; do
		[ -f "$d/$f" ] || fail "$file: no string field '$f'"
	done
	set -- --salt-file="$salt" --key="$(cat "$d/key")" \
		--created-at="$(cat "$d/created_at")" \
		--token="$(cat "$d/encrypted")"
	if [ -f "$d/comment" ]; then
		set -- "$@" --comment="$(cat "$d/comment")"
	fi
	ecref envelope-bytes "$@" >"$d/expect" ||
		fail "ecref envelope-bytes failed for $file"
	cmp -s "$d/expect" "$file" ||
		fail "$file is not laid out like json.dump (expected: $(cat "$d/expect"))"
}
