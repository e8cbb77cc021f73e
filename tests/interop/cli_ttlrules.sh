# cli_ttlrules.sh: --ttl-rules gives each entry the TTL (and oldest_valid)
# of the first rule whose pattern matches its id, the global ones
# otherwise.  ls shows which rule applied (RULE column, JSON rule and
# rule_line); ls, stats, fsck and prune agree on what is fresh, and so does
# the Python reference (ecref fresh, its own reading of the rules file); a
# bad rules file is one line naming the file and the line, exit 3, and
# nothing is touched.
. "$(dirname "$0")/../lib.sh"
require_python
require_cli

D=$T/cache
mkdir -m 700 "$D"
make_secrets "$T/secrets.json" default "pw-rules"
make_salt "$T/salt" 'rules salt'
S=(--secrets "$T/secrets.json" --salt-file "$T/salt")
C=(--dir "$D" "${S[@]}")

ago() { date -u -d "$1 ago" +%FT%TZ; }
mid=$(ago '5 days')
global_oldest=$(ago '10 days')
G=(--ttl '5 days' --oldest-valid "$global_oldest")
cat >"$T/rules" <<EOF
# the test's rules: first match wins
prices/**        2h
prices/keep/*    inf                 # never used: prices/** comes first
docs/*.json      3d
old/**           inf oldest_valid=$mid
free/**          inf  oldest_valid=none
zero             0
a\ b/*           1 day
[xy]/?           30m
EOF

printf 'v\n' >"$T/v"
# ID CREATED RULE-LINE STATE: written by the Python module's reference,
# and what each must be under the rules (- : no rule, the global TTL).
cat >"$T/expect" <<EOF
prices/eur		$(ago '1 hour')		2	valid
prices/usd		$(ago '3 hours')	2	stale
prices/keep/x		$(ago '3 hours')	2	stale
docs/a.json		$(ago '2 days')		4	valid
docs/b.json		$(ago '4 days')		4	stale
docs/sub/c.json		$(ago '4 days')		-	valid
old/new			$(ago '4 days')		5	valid
old/older		$(ago '6 days')		5	stale
free/ancient		$(ago '20 days')	6	valid
zero			$(ago '1 second')	7	stale
a b/x			$(ago '2 hours')	8	valid
x/1			$(ago '10 minutes')	9	valid
y/2			$(ago '40 minutes')	9	stale
x/12			$(ago '40 minutes')	-	valid
other/young		$(ago '1 day')		-	valid
other/old		$(ago '6 days')		-	stale
EOF
while IFS=$'\t' read -r id created _; do
	[ -n "$id" ] || continue
	run_ok ecref put "$id" --data-file "$T/v" --created-at "$created" \
		"${C[@]}"
done < <(sed 's/\t\+/\t/g' "$T/expect")
sed 's/\t\+/\t/g' "$T/expect" | awk -F'\t' '{print $1 "\t" $3 "\t" $4}' |
	sort >"$T/want"

# --- ls: the rule of every entry, and its state ------------------------------
run_ok "$ENCCACHE" "${C[@]}" "${G[@]}" --ttl-rules "$T/rules" ls --all --json
py 'import json, sys
for o in json.load(open(sys.argv[1])):
    assert (o["rule"] is None) == (o["rule_line"] is None), o
    print("%s\t%s\t%s" % (o["id"], "-" if o["rule_line"] is None
                          else o["rule_line"], o["state"]))' "$T/out" |
	sort >"$T/got"
diff "$T/want" "$T/got" >&2 || fail "ls --all --json: rules or states differ"
# the pattern is shown as written
py 'import json, sys
m = {o["id"]: o for o in json.load(open(sys.argv[1]))}
assert m["a b/x"]["rule"] == "a\\ b/*", m["a b/x"]
assert m["prices/keep/x"]["rule"] == "prices/**", m["prices/keep/x"]
assert m["prices/usd"]["reason"].startswith("stale (expired "), m["prices/usd"]
assert "of rule \x27old/**\x27" in m["old/older"]["reason"], m["old/older"]
' "$T/out" || fail "ls --json: patterns or reasons: $(cat "$T/out")"

# the table: a RULE column after EXPIRES, "-" for the global TTL; only the
# valid entries without --all
run_ok "$ENCCACHE" "${C[@]}" "${G[@]}" --ttl-rules "$T/rules" ls
head -n 1 "$T/out" | grep -Eq '^ID +CREATED +EXPIRES +RULE +KEY +SIZE +COMMENT$' ||
	fail "ls: no RULE column: $(head -n 1 "$T/out")"
grep -Eq '^docs/a\.json .* docs/\*\.json +default ' "$T/out" ||
	fail "ls: docs/a.json's rule: $(cat "$T/out")"
grep -Eq '^other/young .* - +default ' "$T/out" ||
	fail "ls: other/young's rule: $(cat "$T/out")"
[ "$(($(wc -l <"$T/out") - 1))" -eq "$(grep -c 'valid$' "$T/want")" ] ||
	fail "ls lists $(($(wc -l <"$T/out") - 1)) entries: $(cat "$T/out")"
# without rules: no RULE column, and everything under the global TTL
run_ok "$ENCCACHE" "${C[@]}" "${G[@]}" ls
! head -n 1 "$T/out" | grep -q RULE || fail "ls without rules shows RULE"
grep -q '^prices/usd ' "$T/out" || fail "ls without rules: prices/usd"

# --- the Python reference reads the same rules the same way -----------------
mapfile -t ids < <(cut -f1 "$T/want")
run_ok ecref fresh "${ids[@]}" "${C[@]}" "${G[@]}" --ttl-rules "$T/rules"
py 'import sys
for line in open(sys.argv[1]):
    i, state, rule = line.rstrip("\n").rsplit(" ", 2)
    print("%s\t%s\t%s" % (i, rule, state))' "$T/out" | sort >"$T/py"
diff "$T/want" "$T/py" >&2 || fail "ecref fresh disagrees with the rules"
# ecref get under the rules: a stale one is refused, a valid one read
run ecref get prices/usd "${C[@]}" "${G[@]}" --ttl-rules "$T/rules"
[ "$rc" -eq 1 ] || fail "ecref get prices/usd: exit $rc"
run_ok ecref get free/ancient "${C[@]}" "${G[@]}" --ttl-rules "$T/rules"
same_file "$T/out" "$T/v" "ecref get free/ancient"
run_ok "$ENCCACHE" "${C[@]}" "${G[@]}" --ttl-rules "$T/rules" get free/ancient
same_file "$T/out" "$T/v" "enccache get free/ancient"
run "$ENCCACHE" "${C[@]}" "${G[@]}" --ttl-rules "$T/rules" get docs/b.json
[ "$rc" -eq 1 ] || fail "get docs/b.json (stale by its rule): exit $rc"

# --- stats and fsck count by the rules ----------------------------------------
nvalid=$(grep -c 'valid$' "$T/want")
nstale=$(grep -c 'stale$' "$T/want")
run_ok "$ENCCACHE" "${C[@]}" "${G[@]}" --ttl-rules "$T/rules" stats --json
py 'import json, sys
s = json.load(open(sys.argv[1]))["states"]
assert s["valid"]["entries"] == int(sys.argv[2]), s
assert s["stale"]["entries"] == int(sys.argv[3]), s' "$T/out" "$nvalid" "$nstale" ||
	fail "stats: $(cat "$T/out")"
run_ok "$ENCCACHE" "${C[@]}" "${G[@]}" --ttl-rules "$T/rules" fsck --json
py 'import json, sys
s = json.load(open(sys.argv[1]))["states"]
assert (s["valid"], s["stale"]) == (int(sys.argv[2]), int(sys.argv[3])), s
' "$T/out" "$nvalid" "$nstale" || fail "fsck: $(cat "$T/out")"

# --- prune removes exactly what is stale under its rule ---------------------
run_ok "$ENCCACHE" "${C[@]}" "${G[@]}" --ttl-rules "$T/rules" prune --dry-run --json
py 'import json, sys
print("\n".join(sorted(o["id"] for o in json.load(open(sys.argv[1]))["removed"])))' \
	"$T/out" >"$T/pruned"
grep 'stale$' "$T/want" | cut -f1 | sort >"$T/stale"
diff "$T/stale" "$T/pruned" >&2 || fail "prune --dry-run does not list the stale set"
# without the rules, free/ancient (20 days old) would go
run_ok "$ENCCACHE" "${C[@]}" "${G[@]}" prune --dry-run --json
grep -q '"free/ancient"' "$T/out" || fail "without rules free/ancient is kept"
run_ok "$ENCCACHE" "${C[@]}" "${G[@]}" --ttl-rules "$T/rules" --quiet prune
while IFS=$'\t' read -r id _ state; do
	if [ "$state" = stale ]; then
		[ ! -e "$D/$id.enc.json" ] || fail "prune kept stale $id"
	else
		[ -e "$D/$id.enc.json" ] || fail "prune removed valid $id"
	fi
done <"$T/want"
grep 'valid$' "$T/want" | cut -f1 >"$T/valid"
mapfile -t ids <"$T/valid"
run_ok ecref fresh "${ids[@]}" "${C[@]}" "${G[@]}" --ttl-rules "$T/rules"
! grep -v ' valid ' "$T/out" || fail "after prune, ecref: $(cat "$T/out")"

# --- a bad rules file: one line naming FILE:LINE, exit 3, nothing written ---
sum=$(tree_sum "$D")
bad() {		# TEXT REGEX: the rules TEXT is refused with REGEX
	printf '%b' "$1" >"$T/bad"
	for cmd in ls prune fsck stats; do
		expect_err 3 "$2" "$ENCCACHE" "${C[@]}" --ttl-rules "$T/bad" $cmd
	done
}
B=$T/bad
bad 'ok/** 1h\n\n[oops 2h\n' "^enccache: $B:3: bad pattern '\[oops': unterminated '\['\$"
bad '/abs 1h\n' "^enccache: $B:1: bad pattern '/abs': starts with '/'"
bad '# c\nok 2 fortnights\n' "^enccache: $B:2: bad ttl '2 fortnights': not a TTL"
bad 'ok 1h oldest_valid=yesterday\n' "^enccache: $B:1: bad oldest_valid 'yesterday': not an ISO-8601 date-time\$"
bad 'ok 1h\nno/ttl\n' "^enccache: $B:2: pattern 'no/ttl' has no ttl\$"
bad 'ok 1h expires=2h\n' "^enccache: $B:1: unknown field 'expires'"
expect_err 3 "^enccache: cannot read ttl rules file '$T/none': no such file or directory\$" \
	"$ENCCACHE" "${C[@]}" --ttl-rules "$T/none" ls
expect_err 3 "^enccache: cannot read ttl rules file '$T': is a directory\$" \
	"$ENCCACHE" "${C[@]}" --ttl-rules "$T" ls
if [ "$(id -u)" -ne 0 ]; then	# root reads a mode 000 file
	printf 'ok 1h\n' >"$T/locked"
	chmod 000 "$T/locked"
	expect_err 3 "^enccache: cannot read ttl rules file '$T/locked': permission denied\$" \
		"$ENCCACHE" "${C[@]}" --ttl-rules "$T/locked" ls
fi
[ "$(tree_sum "$D")" = "$sum" ] || fail "a bad rules file changed the cache"
exit 0
