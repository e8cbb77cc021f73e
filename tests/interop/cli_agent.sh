# cli_agent.sh: enccache's key agent (derived keys in the kernel keyring).
# A second get takes its key from the agent (no derivation: counted by
# the -v lines, not by timing); forget drops them; --no-agent and
# ENCCACHE_NO_AGENT never store; a changed password, salt or secrets
# file never finds an old key; keys expire after --agent-timeout; a
# command derives only the keys it uses; what it writes, Python reads.
# Skipped (77) when the kernel keyring cannot be used here, or takes no
# more keys (a user's quota, /proc/key-users, is 200 keys).
. "$(dirname "$0")/../lib.sh"
require_python
require_cli
unset ENCCACHE_NO_AGENT ENCCACHE_AGENT_TIMEOUT

D=$T/cache
mkdir -m 700 "$D"
make_secrets "$T/secrets.json" default "pw-agent" other "pw-other"
# a salt of this run only: never meets another run's (or a user's) keys
make_salt "$T/salt" "agent salt $$ $RANDOM $(date +%s%N)"
C=(--dir "$D" --secrets "$T/secrets.json" --salt-file "$T/salt")
forget_ours() { "$ENCCACHE" --salt-file "$T/salt" forget -q || :; }
trap 'rc_=$?; forget_ours; _lib_cleanup $rc_' EXIT

# derived: how many keys the last command derived; fetched: from the agent
derived() { grep -c "^enccache: key '.*': derived (PBKDF2)" "$T/err" || :; }
fetched() { grep -c "^enccache: key '.*': from the key agent$" "$T/err" || :; }

printf 'hello agent' >"$T/data"
run "$ENCCACHE" "${C[@]}" -v put a <"$T/data"
grep -q '^enccache: key agent unavailable' "$T/err" &&
	skip "kernel keyring unavailable: $(head -1 "$T/err")"
[ "$rc" -eq 0 ] || fail "put: exit $rc: $(cat "$T/err")"
grep -q 'not kept: cannot store it in the key agent' "$T/err" &&
	skip "the kernel keyring takes no more keys (a full quota?): $(cat "$T/err")"
[ "$(derived)" -eq 1 ] || fail "put derived $(derived) keys: $(cat "$T/err")"
grep -q "key 'default': derived (PBKDF2), kept in the key agent for 900 s" \
	"$T/err" || fail "put -v: $(cat "$T/err")"

# --- get twice: the second derives nothing ---------------------------------
run_ok "$ENCCACHE" "${C[@]}" -v get a
same_file "$T/out" "$T/data" "get a (first)"
[ "$(derived)" -eq 0 ] && [ "$(fetched)" -eq 1 ] ||
	fail "get after put: $(cat "$T/err")"
run_ok "$ENCCACHE" "${C[@]}" -v get a
same_file "$T/out" "$T/data" "get a (second)"
[ "$(derived)" -eq 0 ] && [ "$(fetched)" -eq 1 ] ||
	fail "second get: $(cat "$T/err")"
# without -v nothing is said
run_ok "$ENCCACHE" "${C[@]}" get a
[ ! -s "$T/err" ] || fail "get without -v printed: $(cat "$T/err")"
# Python loads what was written with the agent's key
run_ok ecref get a "${C[@]}"
same_file "$T/out" "$T/data" "ecref get a"

# --- only the keys a command uses ----------------------------------------
# two secrets, entries of one key: get, ls and fsck touch only that key
run_ok "$ENCCACHE" "${C[@]}" -v ls
grep -q "key 'other'" "$T/err" && fail "ls made key 'other': $(cat "$T/err")"
run_ok "$ENCCACHE" "${C[@]}" -v fsck
grep -q "key 'other'" "$T/err" && fail "fsck made key 'other': $(cat "$T/err")"
printf 'by other' | run_ok "$ENCCACHE" "${C[@]}" -v put b --key other
grep -q "key 'other': derived" "$T/err" || fail "put --key other: $(cat "$T/err")"
grep -q "key 'default'" "$T/err" && fail "put --key other made 'default'"

# --- forget ------------------------------------------------------------
run_ok "$ENCCACHE" --salt-file "$T/salt" forget
grep -q '^forget: dropped 2 keys$' "$T/err" || fail "forget: $(cat "$T/err")"
run_ok "$ENCCACHE" "${C[@]}" -v get a
[ "$(derived)" -eq 1 ] && [ "$(fetched)" -eq 0 ] ||
	fail "get after forget: $(cat "$T/err")"
run_ok "$ENCCACHE" --salt-file "$T/salt" forget --json
py 'import json, sys
r = json.load(open(sys.argv[1]))
assert r == {"dropped": 1, "agent": True}, r' "$T/out" ||
	fail "forget --json: $(cat "$T/out")"
expect_err 3 "^enccache: no salt: use --salt, --salt-file or set ENCCACHE_SALT_FILE" \
	"$ENCCACHE" forget

# --- --no-agent and ENCCACHE_NO_AGENT never store ---------------------------
run_ok "$ENCCACHE" "${C[@]}" -v --no-agent get a
grep -q "key 'default': derived (PBKDF2), not kept (--no-agent)" "$T/err" ||
	fail "--no-agent: $(cat "$T/err")"
ENCCACHE_NO_AGENT=1 run_ok "$ENCCACHE" "${C[@]}" -v get a
[ "$(derived)" -eq 1 ] || fail "ENCCACHE_NO_AGENT=1: $(cat "$T/err")"
run_ok "$ENCCACHE" --salt-file "$T/salt" forget
grep -q '^forget: dropped 0 keys$' "$T/err" ||
	fail "--no-agent stored a key: $(cat "$T/err")"
# ENCCACHE_NO_AGENT=0 is "no opt-out"
ENCCACHE_NO_AGENT=0 run_ok "$ENCCACHE" "${C[@]}" -v get a
grep -q "kept in the key agent" "$T/err" || fail "ENCCACHE_NO_AGENT=0: $(cat "$T/err")"

# --- a changed password, salt or secrets file finds no old key ---------------
make_secrets "$T/changed.json" default "pw-changed"
run "$ENCCACHE" --dir "$D" --secrets "$T/changed.json" --salt-file "$T/salt" \
	-v get a
[ "$rc" -eq 1 ] || fail "get with a changed password: exit $rc"
[ "$(derived)" -eq 1 ] && [ "$(fetched)" -eq 0 ] ||
	fail "a changed password found a cached key: $(cat "$T/err")"
grep -q "cannot get 'a': does not open with key 'default'" "$T/err" ||
	fail "changed password: $(cat "$T/err")"
[ ! -s "$T/out" ] || fail "changed password: data on stdout"
# again: the changed password's own key comes from the agent, still wrong
run "$ENCCACHE" --dir "$D" --secrets "$T/changed.json" --salt-file "$T/salt" \
	-v get a
[ "$rc" -eq 1 ] && [ "$(fetched)" -eq 1 ] || fail "changed password, again"
# the old password still gets the old key
run_ok "$ENCCACHE" "${C[@]}" -v get a
same_file "$T/out" "$T/data" "get a after the changed password"
[ "$(fetched)" -eq 1 ] || fail "old password: $(cat "$T/err")"
# another salt: derived, and the entry is a salt mismatch
make_salt "$T/salt2" "other $(cat "$T/salt")"
run "$ENCCACHE" --dir "$D" --secrets "$T/secrets.json" --salt-file "$T/salt2" \
	-v get a
[ "$rc" -eq 1 ] && [ "$(derived)" -eq 0 ] ||
	fail "changed salt: exit $rc: $(cat "$T/err")"
grep -q "salt mismatch" "$T/err" || fail "changed salt: $(cat "$T/err")"
run "$ENCCACHE" --dir "$D" --secrets "$T/secrets.json" --salt "x$$" \
	--agent-timeout 5s -v put c <"$T/data"
[ "$(derived)" -eq 1 ] && [ "$(fetched)" -eq 0 ] ||
	fail "put under another salt found a cached key: $(cat "$T/err")"
"$ENCCACHE" --salt "x$$" forget -q
# a secrets file that names the password under another key name
make_secrets "$T/renamed.json" main "pw-agent"
run "$ENCCACHE" --dir "$D" --secrets "$T/renamed.json" --salt-file "$T/salt" \
	-v put d <"$T/data"
[ "$(derived)" -eq 1 ] && [ "$(fetched)" -eq 0 ] ||
	fail "a renamed key found a cached key: $(cat "$T/err")"
run_ok ecref get d --dir "$D" --secrets "$T/renamed.json" --salt-file "$T/salt"
same_file "$T/out" "$T/data" "ecref get d"

# --- no kernel keyring: the same results, one -v line ----------------------
# keyctl refused (as a seccomp profile does) through an LD_PRELOAD shim
cat >"$T/nokeyring.c" <<'EOF'
#include <errno.h>
#define NO { errno = ENOSYS; return -1; }
long keyctl_search(int r, const char *t, const char *d, int to) NO
long keyctl_read(int id, char *b, unsigned long n) NO
long keyctl_read_alloc(int id, void **b) NO
int add_key(const char *t, const char *d, const void *p, unsigned long n,
	    int r) NO
EOF
if "${CC:-cc}" -shared -fPIC -o "$T/nokeyring.so" "$T/nokeyring.c" 2>/dev/null; then
	nokr=(env LD_PRELOAD="$T/nokeyring.so"
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0")
	run_ok "${nokr[@]}" "$ENCCACHE" "${C[@]}" -v get a
	same_file "$T/out" "$T/data" "get without a kernel keyring"
	[ "$(wc -l <"$T/err")" -eq 2 ] &&
		grep -q "^enccache: key agent unavailable: function not implemented (keys are derived every time)$" "$T/err" &&
		grep -q "^enccache: key 'default': derived (PBKDF2), not kept (no key agent)$" "$T/err" ||
		fail "get without a kernel keyring: $(cat "$T/err")"
	printf 'x' | run_ok "${nokr[@]}" "$ENCCACHE" "${C[@]}" put e
	[ ! -s "$T/err" ] || fail "put without a kernel keyring printed: $(cat "$T/err")"
	run_ok "${nokr[@]}" "$ENCCACHE" --salt-file "$T/salt" forget
	grep -q '^forget: dropped 0 keys$' "$T/err" || fail "forget without a keyring: $(cat "$T/err")"
else
	note "no C compiler: the run without a kernel keyring is left out"
fi

# --- timeout ---------------------------------------------------------------
forget_ours
run_ok "$ENCCACHE" "${C[@]}" -v --agent-timeout 1s get a
grep -q "kept in the key agent for 1 s" "$T/err" || fail "--agent-timeout 1s: $(cat "$T/err")"
sleep 2.2
ENCCACHE_AGENT_TIMEOUT=1m run_ok "$ENCCACHE" "${C[@]}" -v get a
[ "$(derived)" -eq 1 ] || fail "the key outlived its timeout: $(cat "$T/err")"
grep -q "kept in the key agent for 60 s" "$T/err" ||
	fail "ENCCACHE_AGENT_TIMEOUT=1m: $(cat "$T/err")"
expect_err 2 "invalid --agent-timeout 'soon': must be a duration" \
	"$ENCCACHE" "${C[@]}" --agent-timeout soon get a
expect_err 2 "invalid --agent-timeout '0'" \
	"$ENCCACHE" "${C[@]}" --agent-timeout 0 get a
ENCCACHE_AGENT_TIMEOUT=inf expect_err 2 "invalid ENCCACHE_AGENT_TIMEOUT 'inf'" \
	"$ENCCACHE" "${C[@]}" get a
exit 0
