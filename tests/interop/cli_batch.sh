# cli_batch.sh: the batch forms of enccache (get, rm and exists of many
# ids, from argv, --stdin lines and -0 NUL-separated; get --output-dir;
# put --from-dir), --json of every command, the progress line on a
# terminal (and nowhere else), and what the Python reference reads back.
. "$(dirname "$0")/../lib.sh"
require_python
require_cli

D=$T/cache
mkdir -m 700 "$D"
make_secrets "$T/secrets.json" default "pw-batch"
make_salt "$T/salt" 'batch salt'
C=(--dir "$D" --secrets "$T/secrets.json" --salt-file "$T/salt")

# --- put --from-dir: every file, named by its path ------------------------
mkdir -p "$T/src/sub/deeper" "$T/src/empty"
printf 'one' >"$T/src/one"
printf 'a\000b' >"$T/src/sub/nul"
: >"$T/src/sub/deeper/zero"
printf 'línea\n' >"$T/src/sub/ünï"
ln -s one "$T/src/link"
mkfifo "$T/src/fifo"
run_ok "$ENCCACHE" "${C[@]}" put --from-dir "$T/src" in --comment batch --json
py 'import json, sys
r = json.load(open(sys.argv[1]))
got = [(x["id"], x["size"]) for x in r]
assert got == [("in/one", 3), ("in/sub/deeper/zero", 0), ("in/sub/nul", 3),
               ("in/sub/ünï", 7)], got
' "$T/out" || fail "put --from-dir --json: $(cat "$T/out")"
grep -q "^enccache: skipping '.*src/fifo': not a regular file or directory$" "$T/err" &&
	grep -q "^enccache: skipping '.*src/link': not a regular file or directory$" "$T/err" ||
	fail "put --from-dir did not say what it skipped: $(cat "$T/err")"
run_ok ecref get in/sub/nul "${C[@]}"
same_file "$T/out" "$T/src/sub/nul" "ecref get in/sub/nul"
run_ok ecref meta in/sub/ünï "${C[@]}"
grep -q '"comment": "batch"' "$T/out" || fail "put --from-dir comment: $(cat "$T/out")"
# without a prefix the paths are the ids; a bad prefix is refused
run_ok "$ENCCACHE" "${C[@]}" put --from-dir "$T/src/sub/deeper"
run_ok ecref get zero "${C[@]}"
expect_err 2 "invalid id '../x'" "$ENCCACHE" "${C[@]}" put --from-dir "$T/src" ../x
expect_err 2 "cannot read directory '.*nosuchdir'" "$ENCCACHE" "${C[@]}" \
	put --from-dir "$T/nosuchdir"

# --- get of many ids -------------------------------------------------------
run_ok "$ENCCACHE" "${C[@]}" get in/one in/sub/nul --output-dir "$T/got"
same_file "$T/got/in/one" "$T/src/one" "get --output-dir in/one"
same_file "$T/got/in/sub/nul" "$T/src/sub/nul" "get --output-dir in/sub/nul"
[ "$(file_mode "$T/got/in/sub/nul")" = 600 ] || fail "get --output-dir mode"
printf 'in/one\0in/sub/ünï\0nosuch\0' >"$T/ids0"
run "$ENCCACHE" "${C[@]}" get -0 --output-dir "$T/got0" <"$T/ids0"
[ "$rc" -eq 1 ] || fail "get -0 with a missing id: exit $rc"
grep -q "^enccache: cannot get 'nosuch': no such entry$" "$T/err" ||
	fail "get -0: $(cat "$T/err")"
same_file "$T/got0/in/sub/ünï" "$T/src/sub/ünï" "get -0"
printf 'in/one\nin/sub/nul\n' | run_ok "$ENCCACHE" "${C[@]}" get --stdin --json
py 'import base64, json, sys
r = json.load(open(sys.argv[1]))
assert [x["id"] for x in r] == ["in/one", "in/sub/nul"], r
assert base64.b64decode(r[1]["data"]) == b"a\0b", r
assert r[0]["state"] == "valid" and r[0]["comment"] == "batch", r
' "$T/out" || fail "get --stdin --json: $(cat "$T/out")"
expect_err 2 "'get' of several ids needs --output-dir DIR or --json" \
	"$ENCCACHE" "${C[@]}" get in/one in/sub/nul
expect_err 2 "invalid id on standard input: it holds a NUL byte" \
	"$ENCCACHE" "${C[@]}" get --stdin --json <"$T/ids0"
printf '../up\n' | expect_err 2 "invalid id '../up'" "$ENCCACHE" "${C[@]}" \
	get --stdin --json
# stdin holds the ids (or an archive): not the secrets too
printf 'in/one\n' | expect_err 3 "cannot read secrets from standard input: get reads the ids from it" \
	"$ENCCACHE" --dir "$D" --secrets - --salt-file "$T/salt" get --stdin --json
expect_err 3 "cannot read secrets from standard input: import reads the archive from it" \
	"$ENCCACHE" --dir "$D" --secrets - --salt-file "$T/salt" import </dev/null
# one id: the bytes on stdout, exactly as before
run_ok "$ENCCACHE" "${C[@]}" get in/sub/nul
same_file "$T/out" "$T/src/sub/nul" "get in/sub/nul"

# --- exists --------------------------------------------------------------
run_ok "$ENCCACHE" "${C[@]}" exists in/one in/sub/nul
[ ! -s "$T/out" ] && [ ! -s "$T/err" ] || fail "exists printed something"
run "$ENCCACHE" "${C[@]}" exists in/one nosuch
[ "$rc" -eq 1 ] && [ ! -s "$T/err" ] || fail "exists of a missing id: exit $rc"
run_ok "$ENCCACHE" "${C[@]}" put old --created-at 2000-01-01T00:00:00Z <"$T/src/one"
run "$ENCCACHE" "${C[@]}" exists old --json
py 'import json, sys
r = json.load(open(sys.argv[1]))
assert r == [{"id": "old", "exists": False, "state": "stale",
              "reason": "stale (expired 2000-01-06T00:00:00+00:00)"}], r
' "$T/out" && [ "$rc" -eq 1 ] || fail "exists --json: $(cat "$T/out")"
run_ok "$ENCCACHE" "${C[@]}" exists --stale-ok old

# --- rm of many ids ------------------------------------------------------
printf 'in/one\nnosuch\nin/sub/nul\n' >"$T/rmids"
run "$ENCCACHE" "${C[@]}" rm --stdin --json <"$T/rmids"
[ "$rc" -eq 1 ] || fail "rm with a missing id: exit $rc"
py 'import json, sys
r = json.load(open(sys.argv[1]))
assert [(x["id"], x["removed"], x["error"]) for x in r] == [
    ("in/one", True, None), ("nosuch", False, "no such entry"),
    ("in/sub/nul", True, None)], r
' "$T/out" || fail "rm --json: $(cat "$T/out")"
[ ! -e "$D/in/one.enc.json" ] && [ ! -e "$D/in/sub/nul.enc.json" ] ||
	fail "rm --stdin left an entry"
run_ok ecref verify-all "${C[@]}"

# --- --json of the rest --------------------------------------------------
run_ok "$ENCCACHE" hash "https://example.org/x" --prefix API --json
py 'import hashlib, json, sys
r = json.load(open(sys.argv[1]))
h = hashlib.sha256(b"https://example.org/x").hexdigest()[:32]
assert r == {"text": "https://example.org/x", "name": "api-" + h}, r
' "$T/out" || fail "hash --json: $(cat "$T/out")"
run_ok "$ENCCACHE" inspect "$D/old.enc.json" --json
py 'import json, sys
r = json.load(open(sys.argv[1]))
assert r["key"] == "default" and r["created_at"] == "2000-01-01T00:00:00+00:00"
assert r["token_seconds"] == 946684800, r
assert r["token_timestamp"] == "2000-01-01T00:00:00+00:00", r
' "$T/out" || fail "inspect --json: $(cat "$T/out")"
run_ok "$ENCCACHE" "${C[@]}" put j/one --json <"$T/src/one"
[ "$(cat "$T/out")" = "$(printf '[\n {"id": "j/one", "size": 3}\n]')" ] ||
	fail "put --json: $(cat "$T/out")"

# --- the progress line: on a terminal only, never with --quiet -----------
# slow_feed: 30 records over 1.5 s, so the import runs long enough to show
slow_feed() {
	py 'import json, sys, time
for i in range(30):
    sys.stdout.write(json.dumps({"id": "p/e%02d" % i, "data": "eA=="}) + "\n")
    sys.stdout.flush()
    time.sleep(0.05)
'
}
# on_tty CMD...: run with stderr on a pseudo-terminal (stdin and stdout
# as given); what it showed there is on stdout
on_tty() {
	py 'import os, pty, subprocess, sys
m, s = pty.openpty()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=s)
os.close(s)
out = b""
while True:
    try:
        b = os.read(m, 4096)
    except OSError:
        break
    if not b:
        break
    out += b
p.wait()
sys.stdout.buffer.write(out)
sys.exit(p.returncode)
' "$@"
}
slow_feed | run on_tty "$ENCCACHE" "${C[@]}" import
[ "$rc" -eq 0 ] || fail "import on a terminal: exit $rc"
grep -aq $'\rimport: [0-9]* entries, [0-9]*/s\033\\[K' "$T/out" ||
	fail "no progress line on a terminal: $(od -c "$T/out" | head)"
grep -aq $'\r\033\\[Kimport: saved 30 entries' "$T/out" ||
	fail "the progress line is not erased before the summary"
slow_feed | run on_tty "$ENCCACHE" "${C[@]}" --quiet import
[ "$rc" -eq 0 ] && [ ! -s "$T/out" ] || fail "--quiet printed: $(cat "$T/out")"
slow_feed | run "$ENCCACHE" "${C[@]}" import
! grep -q $'\r' "$T/err" || fail "a progress line on a pipe"
grep -q "^import: saved 30 entries" "$T/err" || fail "no summary on a pipe"
# a tar archive is refused on a terminal, JSON lines are not
py 'import os, pty, subprocess, sys
m, s = pty.openpty()
r = subprocess.run(sys.argv[1:], stdout=s, stderr=subprocess.PIPE)
os.close(s)
sys.stderr.buffer.write(r.stderr)
sys.exit(r.returncode)
' "$ENCCACHE" "${C[@]}" export p/e01 2>"$T/err" && fail "tar to a terminal"
grep -q "^enccache: refusing to write a tar archive to a terminal" "$T/err" ||
	fail "export to a terminal: $(cat "$T/err")"

exit 0
