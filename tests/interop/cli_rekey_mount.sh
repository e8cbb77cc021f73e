# cli_rekey_mount.sh: enccache rekey while enccachefs has the cache
# mounted with the old keys and a reader reads every file through the
# mount: each read gives the entry's data or, once it was rekeyed, no
# such file (the old keys no longer open it), never an error or other
# bytes; the daemon logs nothing unexpected and unmounts cleanly.  The
# same cache mounted with the new keys then shows every file as before,
# and the Python reference loads them with the new keys.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../integration/mountlib.sh"
require_cli

make_secrets "$T/secrets.json" default "pw-before"
make_salt "$T/salt" 'salt before'
make_secrets "$T/new.json" default "pw-after"
make_salt "$T/new-salt" 'salt after'
OLD=(--dir "$C" --secrets "$T/secrets.json" --salt-file "$T/salt")

mkdir -p "$T/plain"
for i in $(seq 0 299); do
	mkdir -p "$T/plain/d$((i % 6))"
	printf 'entry %d %0*d\n' "$i" $((i % 97)) 0 >"$T/plain/d$((i % 6))/e$i"
done
run_ok "$ENCCACHE" "${OLD[@]}" put --from-dir "$T/plain" -q
fs_start "view=raw"
diff -r "$MNT" "$T/plain" >/dev/null || fail "the mount before rekey"

# the reader: every file, over and over, until told to stop
py 'import errno, os, sys
mnt, plain, stop = sys.argv[1:4]
files = sorted(os.path.relpath(os.path.join(r, f), plain)
               for r, _, fs in os.walk(plain) for f in fs)
passes = gone = 0
while not os.path.exists(stop) or passes == 0:
    for f in files:
        want = open(os.path.join(plain, f), "rb").read()
        try:
            got = open(os.path.join(mnt, f), "rb").read()
        except FileNotFoundError:
            gone += 1
            continue
        except OSError as e:
            sys.exit("reader: %s: %s" % (f, e))
        if got != want:
            sys.exit("reader: %s: other bytes" % f)
    passes += 1
print(passes, gone)' "$MNT" "$T/plain" "$T/stop" >"$T/reader" 2>&1 &
reader=$!
sleep 0.2
run_ok "$ENCCACHE" "${OLD[@]}" rekey --new-secrets "$T/new.json" \
	--new-salt-file "$T/new-salt" --json
py 'import json, sys
j = json.load(open(sys.argv[1]))
assert j["ok"] and j["rekeyed"] == 300, j' "$T/out" ||
	fail "rekey under the mount: $(cat "$T/out")"
touch "$T/stop"
wait $reader || fail "the reader through the mount: $(cat "$T/reader")"
note "reader passes, files gone: $(cat "$T/reader")"
# with the old keys, the mount now shows no entry
[ -z "$(find "$MNT" -type f)" ] || fail "the old mount still shows rekeyed entries"
fs_stop

cp "$T/new.json" "$T/secrets.json"
cp "$T/new-salt" "$T/salt"
fs_start "view=raw"
diff -r "$MNT" "$T/plain" >/dev/null || fail "the mount with the new keys"
fs_stop
run_ok ecref get d3/e123 --ttl inf --dir "$C" --secrets "$T/new.json" \
	--salt-file "$T/new-salt"
same_file "$T/out" "$T/plain/d3/e123" "Python with the new keys"
exit 0
