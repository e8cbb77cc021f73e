# mount_ttlrules.sh: enccachefs -o ttl_rules=FILE: each entry lives as long
# as the first rule matching its id says (the global ttl= for the rest).
#   A. the user.enccache.expires_at xattr is created_at + the rule's TTL
#      ("never" under inf), for entries written by Python and through the
#      mount; an entry past the global TTL but under an inf rule is shown.
#   B. liveness per rule: an entry under a 4 s rule, written through the
#      mount and by Python while mounted, is listed, then gone on time.
#   C. enccache --ttl-rules with the same file agrees with the mount.
#   E. renamed through the mount under another rule (a file, a directory):
#      judged by the new id's rule at once, kernel caches notwithstanding.
#   F. an unparseable created_at counts as missing under an inf rule (the
#      module never reads it there) though the global ttl= reads it: the
#      entry is shown and read, also when its content is decrypted at the
#      read, long after the lookup (not kept from it).
#   D. a bad rules file: one line naming FILE:LINE, nothing mounted.
. "$(dirname "$0")/../lib.sh"
C=$T/cache
MNT=$T/mnt
. "$(dirname "$0")/mountlib.sh"
command -v getfattr >/dev/null 2>&1 ||
	hard_error "getfattr is needed (Debian package attr)"
make_secrets "$T/secrets.json" default pw-rules
make_salt "$T/salt" 'mount rules salt'

SLACK=1.0		# seconds allowed for an expiry to show
[ "${EC_SANITIZED:-no}" = yes ] && SLACK=2.0

cat >"$T/rules" <<'EOF'
# mount_ttlrules.sh's rules
fast/**      4s
hour/*       1h     # '*' stays in one directory
forever/**   inf
EOF
printf 'data\n' >"$T/v"
mkdir -m 700 "$C/fast" "$C/hour" "$C/hour/deep" "$C/forever"
ec put --data-file "$T/v" hour/a
ec put --data-file "$T/v" hour/deep/b
ec put --data-file "$T/v" --created-at "$(iso -864000)" forever/old
ec put --data-file "$T/v" --created-at "$(iso -864000)" gone/old
ec put --data-file "$T/v" plain
ec put --data-file "$T/v" --created-at "$(iso -60)" hour/r
ec put --data-file "$T/v" --created-at "$(iso -60)" keep/d/e
ec put --data-file "$T/v" forever/badtime
py 'import json, sys
e = json.load(open(sys.argv[1]))
e["created_at"] = "yesterday"
json.dump(e, open(sys.argv[1], "w"))' "$C/forever/badtime.enc.json"

# xattr FILE NAME: the value of user.enccache.NAME of FILE in the mount.
xattr() {
	getfattr --absolute-names --only-values -n "user.enccache.$2" "$MNT/$1"
}
# expect_expiry FILE SECONDS: expires_at = created_at + SECONDS.
expect_expiry() {
	py 'import datetime as d, sys
c = d.datetime.fromisoformat(sys.argv[1])
e = d.datetime.fromisoformat(sys.argv[2])
sys.exit(abs((e - c).total_seconds() - float(sys.argv[3])) > 1e-6)' \
		"$(xattr "$1" created_at)" "$(xattr "$1" expires_at)" "$2" ||
		fail "$1: expires_at $(xattr "$1" expires_at), created_at" \
			"$(xattr "$1" created_at), expected +$2 s"
}
absent() { [ ! -e "$MNT/$1" ]; }

fs_start "ttl=5 days,ttl_rules=$T/rules"

# --- A: the rule's expiry in the xattr; the rule decides what shows --------
expect_expiry hour/a 3600
expect_expiry hour/deep/b 432000	# not hour/*: the global 5 days
expect_expiry plain 432000
[ "$(xattr forever/old expires_at)" = never ] ||
	fail "forever/old: expires_at $(xattr forever/old expires_at)"
[ -e "$MNT/forever/old" ] || fail "forever/old (10 days, rule inf) is hidden"
[ ! -e "$MNT/gone/old" ] || fail "gone/old (10 days, global 5 days) is shown"
cmp -s "$MNT/forever/old" "$T/v" || fail "forever/old content"

# --- B: a 4 s entry disappears on time ---------------------------------------
# wait_gone FILE: listed and readable until created_at + 4 s, then gone
# within SLACK, however warm the kernel's cache of it is kept.  (Each
# check before the expiry counts only when it ran before it: on a loaded
# machine the Python calls between can take seconds.)
wait_gone() {
	local f=$1 expiry t0
	expect_expiry "$f" 4
	expiry=$(py 'import datetime as d, sys
print(d.datetime.fromisoformat(sys.argv[1]).timestamp() + 4)' \
		"$(xattr "$f" created_at)")
	t0=$(now_s)
	if ! ls "$MNT/$(dirname "$f")" | grep -qx "$(basename "$f")"; then
		py 'import sys; sys.exit(float(sys.argv[1]) < float(sys.argv[2]) - 0.05)' \
			"$t0" "$expiry" || fail "$f not listed before its expiry"
		note "$f: the listing came after its expiry (a loaded machine): not checked"
	fi
	while py 'import sys; sys.exit(float(sys.argv[1]) >= float(sys.argv[2]) - 0.05)' \
		"$(now_s)" "$expiry"; do
		stat "$MNT/$f" >/dev/null 2>&1 || break
		sleep 0.1
	done
	py 'import sys; sys.exit(float(sys.argv[1]) < float(sys.argv[2]) - 0.05)' \
		"$(now_s)" "$expiry" || fail "$f disappeared before its expiry"
	within "$SLACK" absent "$f"
	! ls "$MNT/$(dirname "$f")" | grep -qx "$(basename "$f")" ||
		fail "$f still listed after its expiry"
	cat "$MNT/$f" >/dev/null 2>&1 && fail "$f readable after its expiry"
	return 0
}
printf 'written through the mount\n' >"$MNT/fast/x"
wait_gone fast/x
ec put --data-file "$T/v" fast/y	# by Python, while mounted
within "$SLACK" test -e "$MNT/fast/y"
wait_gone fast/y
# the others stay
[ -e "$MNT/hour/a" ] && [ -e "$MNT/plain" ] && [ -e "$MNT/forever/old" ] ||
	fail "an entry under a longer rule went too"

# --- C: enccache with the same rules sees what the mount shows --------------
run_ok "$ENCCACHE" --dir "$C" --secrets "$T/secrets.json" --salt-file "$T/salt" \
	--ttl '5 days' --ttl-rules "$T/rules" ls --all --json
py 'import json, sys
m = {o["id"]: (o["state"], o["rule"]) for o in json.load(open(sys.argv[1]))}
want = {"fast/x": ("stale", "fast/**"), "fast/y": ("stale", "fast/**"),
        "hour/a": ("valid", "hour/*"), "hour/deep/b": ("valid", None),
        "forever/old": ("valid", "forever/**"), "gone/old": ("stale", None),
        "plain": ("valid", None), "hour/r": ("valid", "hour/*"),
        "keep/d/e": ("valid", None), "forever/badtime": ("valid", "forever/**")}
sys.exit(0 if m == want else "enccache ls: %r" % m)' "$T/out" ||
	fail "enccache and the mount disagree"

# --- E: a rename moves an entry under another rule -------------------------
# Both are a minute old: valid where they are, stale under fast/**.
stat "$MNT/hour/r" "$MNT/keep/d/e" >/dev/null || fail "hour/r, keep/d/e not shown"
mv "$MNT/hour/r" "$MNT/fast/r" || fail "mv hour/r fast/r"
within "$SLACK" absent fast/r
mv "$MNT/keep/d" "$MNT/fast/d" || fail "mv keep/d fast/d"
within "$SLACK" absent fast/d/e
[ -e "$C/fast/r.enc.json" ] && [ -e "$C/fast/d/e.enc.json" ] ||
	fail "the renamed envelopes are not in the cache"
mv "$C/fast/r.enc.json" "$C/hour/r.enc.json"	# back, from outside
within "$SLACK" test -e "$MNT/hour/r"

# --- F: created_at read only where the rule reads it --------------------------
[ "$(xattr forever/badtime expires_at)" = never ] ||
	fail "forever/badtime: expires_at $(xattr forever/badtime expires_at)"
sleep 2.2	# past what the lookup's load keeps of the content (recent.h)
cmp -s "$MNT/forever/badtime" "$T/v" || fail "forever/badtime unreadable"
fs_stop

# --- D: bad rules files --------------------------------------------------------
S="secrets=$T/secrets.json,salt_file=$T/salt"
printf 'ok/** 1h\n\nbad/** 2 fortnights\n' >"$T/bad1"
fs_refuses "^enccachefs: $T/bad1:3: bad ttl '2 fortnights': not a TTL" \
	-o "$S,ttl_rules=$T/bad1" "$C" "$MNT"
printf '[x 1h\n' >"$T/bad2"
fs_refuses "^enccachefs: $T/bad2:1: bad pattern '\[x': unterminated '\['\$" \
	-o "$S,ttl_rules=$T/bad2" "$C" "$MNT"
printf 'x 1h oldest_valid=soon\n' >"$T/bad3"
fs_refuses "^enccachefs: $T/bad3:1: bad oldest_valid 'soon': not an ISO-8601 date-time\$" \
	-o "$S,ttl_rules=$T/bad3" "$C" "$MNT"
fs_refuses "^enccachefs: cannot read ttl rules file '$T/nope': no such file or directory\$" \
	-o "$S,ttl_rules=$T/nope" "$C" "$MNT"
exit 0
