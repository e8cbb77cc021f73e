# golden.sh: the envelopes written by the Python module itself.
#  A. ecref.py reads them (checks the reference implementation).
#  B. `enccache get` / `ls` read them: exact bytes, metadata and states.
. "$(dirname "$0")/../lib.sh"
require_python

G=$T/golden
setup_golden "$G"
C=(--dir "$G/cache" --secrets "$G/secrets.json" --salt-file "$G/salt.bin")

# Expected data per entry, and "id sha256" lines.
mkdir "$T/exp"
py 'import base64, hashlib, json, os, sys
exp = json.load(open(sys.argv[1]))
out = sys.argv[2]
with open(os.path.join(out, "ids"), "w") as ids, \
     open(os.path.join(out, "sums"), "w") as sums, \
     open(os.path.join(out, "exec_ids"), "w") as calls:
    for e in sorted(exp["entries"], key=lambda e: e["cache_id"]):
        data = base64.b64decode(e["data_b64"])
        name = e["cache_id"].replace("/", "__")
        with open(os.path.join(out, name + ".bin"), "wb") as f:
            f.write(data)
        ids.write(e["cache_id"] + "\n")
        if e["kind"] == "execute_cached":
            calls.write(e["cache_id"] + "\n")
        sums.write("%s %s\n"
                   % (e["cache_id"], hashlib.sha256(data).hexdigest()))
' "$G/expected.json" "$T/exp"
[ "$(wc -l <"$T/exp/ids")" -ge 5 ] ||
	hard_error "expected.json lists too few entries"

# --- A. the reference implementation ---------------------------------------
run_ok ecref verify-all "${C[@]}"
cmp -s "$T/out" "$T/exp/sums" ||
	fail "ecref verify-all differs from expected.json"

check_envelope_layout "$G/cache/raw/zeros.enc.json" "$G/salt.bin"
run_ok ecref layout-check --salt-file "$G/salt.bin" \
	$(sed "s|.*|$G/cache/&.enc.json|" "$T/exp/ids")
run_ok ecref meta $(cat "$T/exp/ids") "${C[@]}"
cp "$T/out" "$T/exp/meta"
run_ok ecref load-obj $(cat "$T/exp/exec_ids") "${C[@]}"
cp "$T/out" "$T/exp/obj"

py 'import json, plistlib, sys
sys.path.insert(0, sys.argv[3])
import ecref
exp = sorted(json.load(open(sys.argv[1]))["entries"],
             key=lambda e: e["cache_id"])
metas = [json.loads(l) for l in open(sys.argv[2] + "/meta")]
objs = [json.loads(l) for l in open(sys.argv[2] + "/obj")]
assert len(metas) == len(exp), metas
for e, meta in zip(exp, metas):
    want = {"id": e["cache_id"], "key": e["key"], "comment": e["comment"],
            "validasof": e["validasof_datetime"]}
    got = {k: meta[k] for k in want}
    assert got == want, (got, want)
calls = [e for e in exp if e["kind"] == "execute_cached"]
assert len(objs) == len(calls) > 0, objs
for e, obj in zip(calls, objs):
    ref = ecref.to_tagged(plistlib.loads(e["object_xml_plist"].encode()))
    assert obj == ref, (e["cache_id"], obj, ref)
' "$G/expected.json" "$T/exp" "$(dirname "$ECREF_PY")" ||
	fail "ecref meta/load-obj disagree with expected.json"

# --- B. the C command-line tool ---------------------------------------------
require_cli

while read -r id; do
	run_ok "$ENCCACHE" "${C[@]}" --ttl inf get "$id"
	same_file "$T/out" "$T/exp/${id//\//__}.bin" "enccache get $id"
done <"$T/exp/ids"

cat >"$T/check_ls.py" <<'EOF'
import datetime as dt, base64, json, sys

mode, ls_file, exp_file, cache = sys.argv[1:5]
oldest = sys.argv[5] if len(sys.argv) > 5 else None
UTC = dt.timezone.utc
now = dt.datetime.now(UTC)
listing = json.load(open(ls_file))
exp = {e["cache_id"]: e for e in json.load(open(exp_file))["entries"]}

def when(text):
    t = dt.datetime.fromisoformat(text)
    return t if t.tzinfo else t.replace(tzinfo=UTC)

def bad(msg):
    sys.exit("%s: %s" % (mode, msg))

if not isinstance(listing, list):
    bad("not a JSON array")
ids = [o.get("id") for o in listing]
if ids != sorted(exp):
    bad("ids %r, expected %r (sorted)" % (ids, sorted(exp)))
fields = {"id", "state", "reason", "key", "created_at", "expires_at",
          "size", "comment", "validasof"}
for o in listing:
    e = exp[o["id"]]
    if not fields <= set(o):
        bad("%s lacks %r" % (o["id"], fields - set(o)))
    env = json.load(open("%s/%s" % (cache, e["file"])))
    if o["key"] != e["key"] or o["comment"] != e["comment"]:
        bad("%s: key/comment %r/%r" % (o["id"], o["key"], o["comment"]))
    if o["created_at"] != env["created_at"]:
        bad("%s: created_at %r" % (o["id"], o["created_at"]))
    size = len(base64.b64decode(e["data_b64"]))
    created = when(env["created_at"])
    if mode == "inf":
        want = "valid"
        if o["expires_at"] is not None:
            bad("%s: expires_at %r under ttl inf" % (o["id"], o["expires_at"]))
    elif mode == "zero":
        want = "stale"
    elif mode == "oldest":
        want = "stale" if created < when(oldest) else "valid"
    else:
        expiry = created + dt.timedelta(days=5)
        if abs((now - expiry).total_seconds()) < 120:
            continue                  # too close to call
        want = "valid" if now <= expiry else "stale"
        if o["expires_at"] is None or when(o["expires_at"]) != expiry:
            bad("%s: expires_at %r, expected %s"
                % (o["id"], o["expires_at"], expiry.isoformat()))
    if o["state"] != want:
        bad("%s: state %r, expected %r" % (o["id"], o["state"], want))
    if want == "valid":
        if o["reason"] is not None:
            bad("%s: reason %r for a valid entry" % (o["id"], o["reason"]))
        if o["size"] != size:
            bad("%s: size %r, expected %d" % (o["id"], o["size"], size))
        if o["validasof"] != e["validasof_datetime"]:
            bad("%s: validasof %r" % (o["id"], o["validasof"]))
    elif not isinstance(o["reason"], str) or "stale" not in o["reason"]:
        bad("%s: reason %r for a stale entry" % (o["id"], o["reason"]))
EOF

check_ls() {	# MODE [OLDEST_VALID]
	local mode=$1
	shift
	py "$(cat "$T/check_ls.py")" "$mode" "$T/out" "$G/expected.json" \
		"$G/cache" "$@" ||
		fail "enccache ls --json --all ($mode) disagrees with expected.json"
}

run_ok "$ENCCACHE" "${C[@]}" --ttl inf ls --json --all
check_ls inf
run_ok "$ENCCACHE" "${C[@]}" ls --all --json
check_ls default
run_ok "$ENCCACHE" "${C[@]}" ls --json --all --ttl 0
check_ls zero
# --oldest-valid at the median created_at: older entries are stale
# (created_at < oldest_valid), the rest valid: microseconds count.
mid=$(py 'import glob, json, sys
c = sorted(json.load(open(f))["created_at"]
           for f in glob.glob(sys.argv[1] + "/*/*.enc.json"))
print(c[len(c) // 2])' "$G/cache")
run_ok "$ENCCACHE" "${C[@]}" --ttl inf --oldest-valid "$mid" ls --json --all
check_ls oldest "$mid"

# Without --all only valid entries are listed.
run_ok "$ENCCACHE" "${C[@]}" --ttl 0 ls --json
py 'import json, sys; sys.exit(json.load(open(sys.argv[1])) != [])' "$T/out" ||
	fail "ls --json --ttl 0 lists entries: $(cat "$T/out")"
run_ok "$ENCCACHE" "${C[@]}" --ttl inf ls
while read -r id; do
	grep -q "^$id[[:space:]]" "$T/out" || fail "ls does not list $id"
done <"$T/exp/ids"

# A stale entry is refused, and returned with --stale-ok.
expect_err 1 "^enccache: cannot get 'raw/hello': stale" \
	"$ENCCACHE" "${C[@]}" --ttl 0 get raw/hello
run_ok "$ENCCACHE" "${C[@]}" --ttl 0 get raw/hello --stale-ok
same_file "$T/out" "$T/exp/raw__hello.bin" "get --stale-ok raw/hello"

# inspect needs no secrets.
run_ok "$ENCCACHE" inspect "$G/cache/raw/zeros.enc.json"
grep -q reports "$T/out" || fail "inspect does not show the key name"
grep -q "all zero page" "$T/out" || fail "inspect does not show the comment"

exit 0
