# badinput.sh: broken, hostile and misconfigured inputs.  Each failing
# command gives its exit code and one clear line on stderr, never crashes,
# never hangs, and writes nothing (the whole tree is checksummed around it).
. "$(dirname "$0")/../lib.sh"
require_python
require_cli

# Everything a command could write to: the cache dir, the link target dir
# and the configuration files.
D=$T/cache
O=$T/outside
E=$T/etc
mkdir -m 700 "$D" "$O" "$E"
make_secrets "$E/secrets.json" default "pw-default-1"
make_secrets "$E/other-secrets.json" default "not the password"
make_salt "$E/salt" 'badinput salt'
make_salt "$E/other-salt" 'some other salt'
S=(--secrets "$E/secrets.json" --salt-file "$E/salt")
C=(--dir "$D" "${S[@]}")

printf 'the secret data\n' >"$T/data"
run_ok ecref put good --data-file "$T/data" "${C[@]}"
run_ok ecref put wrongpw --data-file "$T/data" --dir "$D" \
	--secrets "$E/other-secrets.json" --salt-file "$E/salt"
run_ok ecref put wrongsalt --data-file "$T/data" --dir "$D" \
	--secrets "$E/secrets.json" --salt-file "$E/other-salt"
run_ok ecref put secret --data-file "$T/data" --dir "$O" "${S[@]}"
GOOD=$D/good.enc.json

# --- broken envelopes derived from the good one -----------------------------
mkdir -m 700 "$D/trunc" "$D/bad"
len=$(wc -c <"$GOOD")
for n in 0 1 2 20 60 $((len / 2)) $((len - 2)) $((len - 1)); do
	head -c "$n" "$GOOD" >"$D/trunc/p$n.enc.json"
done
gen_bytes "$D/bad/garbage.enc.json" 512 5
printf 'this is not json\n' >"$D/bad/notjson.enc.json"
printf '[1, 2]' >"$D/bad/array.enc.json"
printf '{}' >"$D/bad/empty-object.enc.json"
printf '\xef\xbb\xbf{"key": "default", "en\xffcrypted": 1}' \
	>"$D/bad/not-utf8.enc.json"
# edit SRC DST PYTHON: DST = json.dumps of f(envelope of SRC).
edit() {
	py 'import json, sys
env = json.load(open(sys.argv[1]))
tok = env["encrypted"]
mid = len(tok) // 2
exec(sys.argv[3])
with open(sys.argv[2], "w") as f:
    f.write(env if isinstance(env, str) else json.dumps(env))' "$@"
}
edit "$GOOD" "$D/bad/nokey.enc.json" 'del env["key"]'
edit "$GOOD" "$D/bad/notoken.enc.json" 'del env["encrypted"]'
edit "$GOOD" "$D/bad/keytype.enc.json" 'env["key"] = 5'
edit "$GOOD" "$D/bad/tokentype.enc.json" 'env["encrypted"] = None'
edit "$GOOD" "$D/tampered.enc.json" \
	'env["encrypted"] = (tok[:mid] + ("B" if tok[mid] == "A" else "A")
                    + tok[mid + 1:])'
edit "$GOOD" "$D/wrongkey.enc.json" 'env["key"] = "nosuch"'
edit "$GOOD" "$D/bad/shorttoken.enc.json" \
	'env["encrypted"] = tok[:len(tok) // 8 * 4]'
edit "$GOOD" "$D/bad/badchars.enc.json" \
	'env["encrypted"] = tok[:mid] + "!*" + tok[mid + 2:]'
edit "$GOOD" "$D/bad/hugekey.enc.json" 'env["key"] = "k" * 100000'
edit "$GOOD" "$D/bad/deep.enc.json" 'env = "[" * 100000 + "]" * 100000'
# Valid variants: no salt_sha256 (accepted), other key order and extra
# fields; no created_at (valid only under an infinite TTL).
edit "$GOOD" "$D/nosalt.enc.json" 'del env["salt_sha256"]'
edit "$GOOD" "$D/reordered.enc.json" \
	'env = dict(reversed(list(env.items()))); env["extra"] = [1, {"a": None}]'
edit "$GOOD" "$D/nocreated.enc.json" 'del env["created_at"]'
# Links out of the cache dir, and things that are not regular files.
ln -s "$O/secret.enc.json" "$D/link.enc.json"
ln -s "$O" "$D/linkdir"
mkdir -m 700 "$D/adir.enc.json"
mkfifo -m 600 "$D/fifo.enc.json"
find "$D" -type f -exec chmod 600 {} +

# --- helpers ----------------------------------------------------------------
# nowrite CODE REGEX CMD...: expect_err, and the trees are unchanged.
sums() {
	tree_sum "$D" && tree_sum "$O" && tree_sum "$E"
}
nowrite() {
	sums >"$T/before"
	expect_err "$@"
	sums >"$T/after"
	cmp -s "$T/before" "$T/after" ||
		fail "something was written by: $* [$(diff "$T/before" "$T/after" | head -5)]"
}

# bad_get ID CODE REASON_REGEX [OPTIONS...]
bad_get() {
	local id=$1 code=$2 re=$3
	shift 3
	nowrite "$code" "^enccache: cannot get '$id': ($re)" \
		timeout 60 "$ENCCACHE" "${C[@]}" "$@" get "$id"
}

# --- get: entries that are not valid (exit 1) ------------------------------
run_ok "$ENCCACHE" "${C[@]}" get good
same_file "$T/out" "$T/data" "get good"
bad_get missing 1 'no such entry'
bad_get nodir/missing 1 'no such entry'
for f in "$D"/trunc/*.enc.json "$D"/bad/*.enc.json; do
	id=${f#"$D/"}
	id=${id%.enc.json}
	case $id in
	bad/shorttoken | bad/badchars) bad_get "$id" 1 'corrupt|tampered' ;;
	bad/hugekey) bad_get "$id" 1 'corrupt|unknown key name' ;;
	*) bad_get "$id" 1 'corrupt' ;;
	esac
done
bad_get tampered 1 "does not open with key 'default' \\(the wrong password, or tampered with\\)"
bad_get wrongpw 1 "does not open with key 'default'"
bad_get wrongkey 1 "unknown key name 'nosuch'"
bad_get wrongsalt 1 'salt mismatch'
bad_get nocreated 1 'stale'
bad_get link 1 '.+'
bad_get linkdir/secret 1 '.+'
bad_get adir 1 '.+'
bad_get fifo 1 '.+'
bad_get good 1 'stale' --ttl 0

for id in nosalt reordered; do
	run_ok "$ENCCACHE" "${C[@]}" get "$id"
	same_file "$T/out" "$T/data" "get $id"
done
run_ok "$ENCCACHE" "${C[@]}" --ttl inf get nocreated
same_file "$T/out" "$T/data" "get nocreated --ttl inf"

# ls --all lists every state and does not crash or follow links.
run_ok timeout 60 "$ENCCACHE" "${C[@]}" ls --all --json
py 'import json, sys
states = {o["id"]: o["state"] for o in json.load(open(sys.argv[1]))}
want = {"good": "valid", "nosalt": "valid", "reordered": "valid",
        "nocreated": "stale", "tampered": "tampered", "wrongpw": "tampered",
        "wrongkey": "unknown-key", "wrongsalt": "salt-mismatch"}
for i, s in want.items():
    assert states.get(i) == s, (i, states.get(i), s)
for i, s in states.items():
    if i.startswith("trunc/") or i.startswith("bad/"):
        assert s in ("corrupt", "tampered", "unknown-key"), (i, s)
    if i.startswith("link") or i in ("fifo", "adir"):
        assert s != "valid", (i, s)
assert len([i for i in states if i.startswith("trunc/")]) == 8, states
' "$T/out" || fail "ls --all --json states: $(cat "$T/out")"
run_ok "$ENCCACHE" "${C[@]}" ls
grep -q '^good[[:space:]]' "$T/out" || fail "ls does not list good"
! grep -Eq '^(link|fifo|tampered|trunc)' "$T/out" ||
	fail "ls lists invalid entries without --all: $(cat "$T/out")"

# --- configuration errors (exit 3) ----------------------------------------
cp "$E/secrets.json" "$E/loose.json"
chmod 644 "$E/loose.json"
nowrite 3 'permission' "$ENCCACHE" --dir "$D" --secrets "$E/loose.json" \
	--salt-file "$E/salt" get good
chmod 640 "$E/loose.json"
nowrite 3 'permission' "$ENCCACHE" --dir "$D" --secrets "$E/loose.json" \
	--salt-file "$E/salt" ls
nowrite 3 'permission' "$ENCCACHE" --dir "$D" --secrets "$E/loose.json" \
	--salt-file "$E/salt" put new <"$T/data"
nowrite 3 'nosuch\.json' "$ENCCACHE" --dir "$D" --secrets "$E/nosuch.json" \
	--salt-file "$E/salt" get good
for body in 'not json' '["a"]' '{"default": 5}' '{"default": "a"' ''; do
	printf '%s' "$body" >"$E/malformed.json"
	chmod 600 "$E/malformed.json"
	nowrite 3 'malformed\.json' "$ENCCACHE" --dir "$D" \
		--secrets "$E/malformed.json" --salt-file "$E/salt" get good
done
nowrite 3 'nosalt' "$ENCCACHE" --dir "$D" --secrets "$E/secrets.json" \
	--salt-file "$E/nosalt" get good
nowrite 3 'nodir' "$ENCCACHE" --dir "$T/nodir" "${S[@]}" get good
nowrite 3 'nodir' "$ENCCACHE" --dir "$T/nodir" "${S[@]}" put good <"$T/data"
nowrite 3 'nosuchkey' "$ENCCACHE" "${C[@]}" put new --key nosuchkey <"$T/data"

# --- usage errors (exit 2) -------------------------------------------------
nowrite 2 'bogus' "$ENCCACHE" "${C[@]}" --ttl bogus get good
nowrite 2 'parsecs' "$ENCCACHE" "${C[@]}" --ttl '5 parsecs' get good
nowrite 2 '.+' "$ENCCACHE" "${C[@]}" --ttl '' ls
nowrite 2 'yesterday' "$ENCCACHE" "${C[@]}" --oldest-valid yesterday get good
nowrite 2 'notadate' "$ENCCACHE" "${C[@]}" put good --validasof notadate \
	<"$T/data"
nowrite 2 'frobnicate' "$ENCCACHE" "${C[@]}" --frobnicate get good
nowrite 2 '.+' "$ENCCACHE" "${C[@]}" get
nowrite 2 'frobnicate' "$ENCCACHE" "${C[@]}" frobnicate
for id in ../escape ../outside/secret /abs a/../good a//b a/ ./good ''; do
	nowrite 2 '.+' "$ENCCACHE" "${C[@]}" get "$id"
	nowrite 2 '.+' "$ENCCACHE" "${C[@]}" put "$id" <"$T/data"
done
nowrite 2 '.+' "$ENCCACHE" hash text --length 7
nowrite 2 '.+' "$ENCCACHE" hash text --length 65

# --- other exit-1 cases ---------------------------------------------------
nowrite 1 'no such entry' "$ENCCACHE" "${C[@]}" rm missing
for f in trunc/p0 trunc/p60 bad/garbage bad/notjson bad/array bad/nokey; do
	nowrite 1 '.+' "$ENCCACHE" inspect "$D/$f.enc.json"
done
nowrite 1 '.+' "$ENCCACHE" inspect "$T/nosuchfile"

# rm of a link may remove the link itself, never what it points to.
run "$ENCCACHE" "${C[@]}" rm link
[ "$rc" -le 1 ] || fail "rm link: exit $rc"
run "$ENCCACHE" "${C[@]}" rm linkdir/secret
[ "$rc" -eq 1 ] || [ "$rc" -eq 4 ] || fail "rm linkdir/secret: exit $rc"
[ -f "$O/secret.enc.json" ] || fail "rm removed the target of a link"

exit 0
