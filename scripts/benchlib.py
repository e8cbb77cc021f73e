#!/usr/bin/env python3
"""Helpers for scripts/bench (not a test, not installed).

  benchlib.py gen CACHE PLAIN N DIRS SIZE
      Write N entries of SIZE random bytes in DIRS directories d000...: an
      envelope CACHE/dXXX/eNNNNN.enc.json (Python `cryptography` Fernet, the
      key derived once, password "bench-password", salt "bench-salt") and the
      same bytes as PLAIN/dXXX/eNNNNN.

  benchlib.py rekey CACHE OLDSALT OLDPASSWORD NEWSALT NEWPASSWORD
      Rekey every envelope of CACHE (key "default") as a script over the
      Python module would: derive both keys, then load and save each entry
      (in place, as the module saves) with the new salt and password;
      print how many.

  benchlib.py mounttime MNT LOG CMD...
      Start CMD (a FUSE daemon in the foreground, output to LOG), print the
      seconds from starting it until MNT is a mount point that answers
      stat(2) (polled every millisecond), then unmount it with fusermount3 -u
      and require the daemon to exit 0.
"""
import base64
import datetime
import hashlib
import json
import os
import plistlib
import subprocess
import sys
import time


def gen(cache, plain, n, ndirs, size):
    # Imported here: `mounttime` must not pay for it.
    from cryptography.fernet import Fernet
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

    salt, password = b"bench-salt", "bench-password"
    key = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt,
                     iterations=480000).derive(password.encode())
    fernet = Fernet(base64.urlsafe_b64encode(key))
    fp = hashlib.sha256(salt).hexdigest()[:16]
    created = datetime.datetime.now(datetime.timezone.utc).isoformat()
    for d in range(ndirs):
        os.mkdir(os.path.join(cache, "d%03d" % d), 0o700)
        os.mkdir(os.path.join(plain, "d%03d" % d), 0o700)
    for i in range(n):
        rel = os.path.join("d%03d" % (i % ndirs), "e%05d" % i)
        data = os.urandom(size)
        payload = plistlib.dumps({"data": data}, fmt=plistlib.FMT_BINARY,
                                 sort_keys=True)
        env = {"key": "default", "salt_sha256": fp, "created_at": created,
               "encrypted": fernet.encrypt(payload).decode("ascii")}
        fd = os.open(os.path.join(cache, rel + ".enc.json"),
                     os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, json.dumps(env).encode())
        os.close(fd)
        with open(os.path.join(plain, rel), "wb") as f:
            f.write(data)


def rekey(cache, old_salt, old_pw, new_salt, new_pw):
    """What the Python module does to rekey: one instance with the old
    keys, one with the new ones (a key derived for each), then every entry
    loaded (read, Fernet-decrypted, its plist read) and saved again (plist
    written, encrypted, json.dump'd in place, as the module saves)."""
    from cryptography.fernet import Fernet
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

    def fernet(salt, password):
        key = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt,
                         iterations=480000).derive(password.encode())
        return Fernet(base64.urlsafe_b64encode(key))

    old = fernet(old_salt.encode(), old_pw)
    new = fernet(new_salt.encode(), new_pw)
    fp = hashlib.sha256(new_salt.encode()).hexdigest()[:16]
    n = 0
    for root, dirs, files in os.walk(cache):
        dirs.sort()
        for name in sorted(files):
            if not name.endswith(".enc.json"):
                continue
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                env = json.loads(f.read().decode("utf-8"))
            inner = plistlib.loads(old.decrypt(env["encrypted"].encode()),
                                   fmt=plistlib.FMT_BINARY)
            payload = plistlib.dumps(inner, fmt=plistlib.FMT_BINARY,
                                     sort_keys=True)
            out = {"key": env["key"], "salt_sha256": fp,
                   "created_at": env["created_at"],
                   "encrypted": new.encrypt(payload).decode("ascii")}
            if env.get("comment") is not None:
                out["comment"] = env["comment"]
            with open(path, "w", encoding="utf-8") as f:
                json.dump(out, f)
            n += 1
    print(n)


def mounttime(mnt, log, cmd):
    with open(log, "wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=out)
        while not os.path.ismount(mnt):
            if proc.poll() is not None:
                sys.exit("benchlib: '%s' exited %d before mounting (see %s)"
                         % (cmd[0], proc.returncode, log))
            if time.perf_counter() - t0 > 120:
                proc.kill()
                sys.exit("benchlib: '%s' did not mount in 120 s" % cmd[0])
            time.sleep(0.001)
        seconds = time.perf_counter() - t0
        # A mount that has just appeared can be busy for a moment (go-fuse
        # looks a file up on its own mount right after mounting, and an
        # unmount then fails with EBUSY): try again for up to 5 s.
        for tries in range(100):
            if subprocess.run(["fusermount3", "-u", "-q", mnt]).returncode == 0:
                break
            time.sleep(0.05)
        else:
            subprocess.run(["fusermount3", "-u", mnt], check=True)
        if proc.wait() != 0:
            sys.exit("benchlib: '%s' exited %d after unmounting (see %s)"
                     % (cmd[0], proc.returncode, log))
    print("%.4f" % seconds)


def main(argv):
    if len(argv) == 7 and argv[1] == "gen":
        gen(argv[2], argv[3], *(int(a) for a in argv[4:7]))
    elif len(argv) == 7 and argv[1] == "rekey":
        rekey(*argv[2:7])
    elif len(argv) >= 5 and argv[1] == "mounttime":
        mounttime(argv[2], argv[3], argv[4:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
