#!/usr/bin/env python3
"""ecref: an independent reference implementation of FORMAT.md.

Written from the format description only (no code shared with the C
sources) so that the interop tests compare two implementations.  It needs
Python 3.11+ and the `cryptography` package (Fernet, PBKDF2HMAC).

Subcommands (all take --dir, --secrets, --salt-file/--salt, --suffix):
  put ID [--key K] [--comment C] [--validasof ISO] [--created-at ISO]
         (--data-file F | --obj-json J)
  get ID [--ttl T] [--oldest-valid ISO] [--ttl-rules FILE]
                                          data bytes -> stdout
  fresh ID... [--ttl T] [--oldest-valid ISO] [--ttl-rules FILE]
                                          "<id> <state> <rule line|->" per id
                                          (state: valid, stale, or bad)
  load-obj ID...                          JSON of plistlib.loads(data),
                                          one line per id
  meta ID...                              JSON of the entry's metadata
                                          (key, created_at, comment,
                                          validasof, salt_sha256, size)
  envelope-bytes --key K --created-at ISO --token T [--comment C]
                                          json.dump's exact bytes
  layout-check FILE...                    each FILE is exactly what
                                          envelope-bytes makes of its fields
  verify-all                              "<id> <sha256 of data>" per entry

Exit codes: 0 ok, 1 entry missing / stale / not valid, 2 usage error,
3 configuration error (secrets, salt, cache dir).

Object JSON (--obj-json, load-obj output) tags the plist types JSON lacks:
{"$date": "ISO"} is a datetime, {"$data": "base64"} is bytes.
"""

import argparse
import base64
import binascii
import datetime as dt
import hashlib
import json
import os
import plistlib
import re
import sys

try:
    from cryptography.fernet import Fernet, InvalidToken
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
except ImportError:  # pragma: no cover - the test scripts check this first
    sys.stderr.write("ecref: python3 'cryptography' package is missing\n")
    sys.exit(3)

ITERATIONS = 480000
DEFAULT_SUFFIX = ".enc.json"
DEFAULT_TTL = "5 days"
UTC = dt.timezone.utc


class EntryError(Exception):
    """The entry is missing, stale or not valid (exit 1)."""


class ConfigError(Exception):
    """Bad secrets, salt or cache directory (exit 3)."""


class UsageError(Exception):
    """Bad command-line text (exit 2)."""


# --- keys ------------------------------------------------------------------

def salt_fingerprint(salt):
    return hashlib.sha256(salt).hexdigest()[:16]


class Keyring:
    """Secrets + salt; Fernet keys are derived lazily (PBKDF2 is slow)."""

    def __init__(self, secrets, salt):
        self.secrets = secrets
        self.salt = salt
        self._fernets = {}

    def fernet(self, name):
        if name not in self.secrets:
            raise EntryError("unknown key name %r" % name)
        if name not in self._fernets:
            kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32,
                             salt=self.salt, iterations=ITERATIONS)
            raw = kdf.derive(self.secrets[name].encode("utf-8"))
            self._fernets[name] = Fernet(base64.urlsafe_b64encode(raw))
        return self._fernets[name]

    def default_key(self):
        if len(self.secrets) == 1:
            return next(iter(self.secrets))
        return "default"


def load_salt(args, required=True):
    if args.salt_file is not None:
        try:
            with open(args.salt_file, "rb") as f:
                return f.read()
        except OSError as e:
            raise ConfigError("cannot read salt file %r: %s"
                              % (args.salt_file, e.strerror))
    if args.salt is not None:
        return args.salt.encode("utf-8")
    if required:
        raise ConfigError("a salt is required (--salt-file or --salt)")
    return None


def load_keyring(args):
    if args.secrets is None:
        raise ConfigError("--secrets FILE is required")
    try:
        with open(args.secrets, "rb") as f:
            secrets = json.loads(f.read().decode("utf-8"))
    except OSError as e:
        raise ConfigError("cannot read secrets file %r: %s"
                          % (args.secrets, e.strerror))
    except (ValueError, UnicodeDecodeError):
        raise ConfigError("secrets file %r is not JSON" % args.secrets)
    if not isinstance(secrets, dict) or not all(
            isinstance(k, str) and isinstance(v, str)
            for k, v in secrets.items()):
        raise ConfigError("secrets file %r must map names to strings"
                          % args.secrets)
    return Keyring(secrets, load_salt(args))


# --- times and TTL ---------------------------------------------------------

def fromiso(text):
    """datetime.fromisoformat, also taking a trailing "Z" before 3.11."""
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    return dt.datetime.fromisoformat(text)


def parse_iso(text, what):
    """ISO-8601 text -> aware datetime (naive means UTC)."""
    try:
        t = fromiso(text.strip())
    except (ValueError, AttributeError):
        raise UsageError("bad %s %r: not an ISO-8601 date-time"
                         % (what, text))
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t


_UNITS = {
    "d": 86400, "day": 86400, "days": 86400,
    "h": 3600, "hour": 3600, "hours": 3600,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
}
_UNIT_RE = "|".join(sorted(_UNITS, key=len, reverse=True))
_TOKEN = re.compile(r"\s*(\d+)\s*(%s)(?![a-z])" % _UNIT_RE)


def parse_duration(text):
    pos, total, n = 0, 0, 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            return None
        total += int(m.group(1)) * _UNITS[m.group(2)]
        pos, n = m.end(), n + 1
    if n == 0:
        return None
    return dt.timedelta(seconds=total)


def parse_ttl(text):
    """-> ("inf", None) | ("zero", None) | ("abs", dt) | ("dur", td)."""
    if text is None or text.strip().lower() in ("infinite", "inf",
                                                "forever"):
        return ("inf", None)
    if text.strip() == "0":
        return ("zero", None)
    try:
        t = fromiso(text.strip())
    except ValueError:
        t = None
    if t is not None:
        if t.tzinfo is None:
            t = t.replace(tzinfo=UTC)
        return ("abs", t)
    d = parse_duration(text)
    if d is None:
        raise UsageError("bad TTL %r" % text)
    return ("dur", d)


def check_fresh(env, ttl, oldest_valid, now):
    created = None
    if isinstance(env.get("created_at"), str):
        try:
            created = fromiso(env["created_at"])
            if created.tzinfo is None:
                created = created.replace(tzinfo=UTC)
        except ValueError:
            created = None
    kind, val = ttl
    if kind == "zero":
        raise EntryError("stale (ttl 0)")
    if kind == "abs" and now > val:
        raise EntryError("stale (expired %s)" % val.isoformat())
    if kind == "dur":
        if created is None:
            raise EntryError("stale (no created_at)")
        if now > created + val:
            raise EntryError("stale (expired %s)"
                             % (created + val).isoformat())
    if oldest_valid is not None:
        if created is None or created < oldest_valid:
            raise EntryError("stale (created before %s)"
                             % oldest_valid.isoformat())


# --- TTL rules (enccache --ttl-rules, enccachefs -o ttl_rules=) ------------
#
# Written from the format as enccache(1) describes it: one rule a line,
# "PATTERN TTL [oldest_valid=ISO|none] [# comment]"; the first rule whose
# glob matches the whole id wins, the global TTL and oldest_valid for the
# rest.  Globs: * and ? stop at /, ** crosses it, **/ at a component's start
# may match no component, [...] classes, \ escapes.

def glob_regex(pat):
    out, i, n = [], 0, len(pat)
    while i < n:
        c = pat[i]
        if c == "\\":
            out.append(re.escape(pat[i + 1]))
            i += 2
        elif pat.startswith("**", i):
            at_start = i == 0 or pat[i - 1] == "/"
            if at_start and pat.startswith("**/", i):
                out.append("(?:.*/)?")
                i += 3
            else:
                out.append(".*")
                i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            j = i + 1
            neg = j < n and pat[j] in "!^"
            if neg:
                j += 1
            items, first = [], True
            while j < n and (first or pat[j] != "]"):
                first = False
                if pat[j] == "\\":
                    j += 1
                lo = pat[j]
                j += 1
                if j + 1 < n and pat[j] == "-" and pat[j + 1] != "]":
                    hi = pat[j + 1] if pat[j + 1] != "\\" else pat[j + 2]
                    j += 2 if pat[j + 1] != "\\" else 3
                    items.append(re.escape(lo) + "-" + re.escape(hi))
                else:
                    items.append(re.escape(lo))
            if j >= n:
                raise UsageError("bad pattern %r" % pat)
            body = "".join(items)
            out.append("(?![/])[^%s]" % body if neg else "(?![/])[%s]" % body)
            i = j + 1
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out), re.S)


def load_rules(path):
    """-> [(line, regex, ttl, oldest)], oldest "global" when not given."""
    rules = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            words = []
            m = re.match(r"\s*((?:\\.|\S)+)(.*)$", line.rstrip("\r\n"))
            if not m or m.group(1).startswith("#"):
                continue
            for w in m.group(2).split():
                if w.startswith("#"):
                    break
                words.append(w)
            ttl_words = [w for w in words if "=" not in w]
            fields = dict(w.split("=", 1) for w in words if "=" in w)
            oldest = "global"
            if "oldest_valid" in fields:
                v = fields["oldest_valid"]
                oldest = None if v == "none" else parse_iso(v, "oldest_valid")
            rules.append((lineno, glob_regex(m.group(1)),
                          parse_ttl(" ".join(ttl_words)), oldest))
    return rules


def rule_for(rules, cache_id, ttl, oldest):
    """-> (line or None, ttl, oldest) that judge cache_id."""
    for lineno, rx, rttl, roldest in rules:
        if rx.fullmatch(cache_id):
            return lineno, rttl, oldest if roldest == "global" else roldest
    return None, ttl, oldest


# --- paths -----------------------------------------------------------------

def check_id(cache_id):
    if (not cache_id or cache_id.startswith("/")
            or ".." in cache_id.split("/")):
        raise UsageError("bad cache id %r" % cache_id)


def entry_path(args, cache_id):
    check_id(cache_id)
    if args.dir is None:
        raise ConfigError("--dir is required")
    if not os.path.isdir(args.dir):
        raise ConfigError("cache dir %r does not exist" % args.dir)
    return os.path.join(args.dir, cache_id + args.suffix)


# --- envelopes -------------------------------------------------------------

def envelope_bytes(key, fingerprint, created_at, token, comment):
    env = {"key": key, "salt_sha256": fingerprint,
           "created_at": created_at, "encrypted": token}
    if comment is not None:
        env["comment"] = comment
    # json.dump with default separators, no indent, ensure_ascii.
    return json.dumps(env).encode("ascii")


def read_envelope(path):
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise EntryError("no such entry")
    except OSError as e:
        raise EntryError("cannot read: %s" % e.strerror)
    return parse_envelope(raw)


def parse_envelope(raw):
    """An envelope's bytes as its JSON object, checked as read_envelope."""
    try:
        env = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise EntryError("corrupt: not a JSON envelope")
    if not isinstance(env, dict):
        raise EntryError("corrupt: not a JSON envelope")
    for field in ("key", "encrypted"):
        if not isinstance(env.get(field), str):
            raise EntryError("corrupt: missing field %r" % field)
    return env


def open_envelope(ring, env):
    """Checks salt and key, decrypts; returns the inner plist dict."""
    fp = env.get("salt_sha256")
    if fp is not None and fp != salt_fingerprint(ring.salt):
        raise EntryError("salt mismatch")
    fernet = ring.fernet(env["key"])
    try:
        token = env["encrypted"].encode("ascii")
        plain = fernet.decrypt(token)
    except (InvalidToken, UnicodeEncodeError, binascii.Error, ValueError):
        raise EntryError("tampered: token failed authentication")
    try:
        inner = plistlib.loads(plain, fmt=plistlib.FMT_BINARY)
    except Exception:
        raise EntryError("corrupt: payload is not a binary plist")
    if not isinstance(inner, dict) or not isinstance(inner.get("data"),
                                                     bytes):
        raise EntryError("corrupt: payload has no data")
    return inner


def load_entry(args, ring, cache_id, ttl=("inf", None), oldest_valid=None):
    env = read_envelope(entry_path(args, cache_id))
    inner = open_envelope(ring, env)
    check_fresh(env, ttl, oldest_valid, dt.datetime.now(UTC))
    return env, inner


def mkdirs_0700(top, rel_dir):
    path = top
    for part in [p for p in rel_dir.split("/") if p]:
        path = os.path.join(path, part)
        try:
            os.mkdir(path, 0o700)
            os.chmod(path, 0o700)
        except FileExistsError:
            pass


def save_entry(args, ring, cache_id, data, key, comment, validasof,
               created_at):
    path = entry_path(args, cache_id)
    inner = {"data": data}
    if validasof is not None:
        inner["validasof_datetime"] = validasof
    payload = plistlib.dumps(inner, fmt=plistlib.FMT_BINARY, sort_keys=True)
    token = ring.fernet(key).encrypt(payload).decode("ascii")
    body = envelope_bytes(key, salt_fingerprint(ring.salt), created_at,
                          token, comment)
    mkdirs_0700(args.dir, os.path.dirname(cache_id))
    # In place, like the module: open with truncate, then write.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(body)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


# --- tagged JSON <-> plist objects -----------------------------------------

def from_tagged(obj):
    if isinstance(obj, dict):
        if set(obj) == {"$date"}:
            t = fromiso(obj["$date"])
            if t.tzinfo is not None:
                t = t.astimezone(UTC).replace(tzinfo=None)
            return t
        if set(obj) == {"$data"}:
            return base64.b64decode(obj["$data"], validate=True)
        return {k: from_tagged(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [from_tagged(v) for v in obj]
    return obj


def to_tagged(obj):
    if isinstance(obj, dict):
        return {k: to_tagged(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_tagged(v) for v in obj]
    if isinstance(obj, (bytes, bytearray)):
        return {"$data": base64.b64encode(bytes(obj)).decode("ascii")}
    if isinstance(obj, dt.datetime):
        if obj.tzinfo is not None:
            obj = obj.astimezone(UTC).replace(tzinfo=None)
        return {"$date": obj.isoformat() + "Z"}
    return obj


# --- commands --------------------------------------------------------------

def out_bytes(b):
    sys.stdout.flush()
    sys.stdout.buffer.write(b)
    sys.stdout.buffer.flush()


def cmd_put(args):
    ring = load_keyring(args)
    key = args.key if args.key is not None else ring.default_key()
    if key not in ring.secrets:
        raise ConfigError("unknown key name %r" % key)
    if args.data_file is not None:
        with open(args.data_file, "rb") as f:
            data = f.read()
    else:
        try:
            obj = from_tagged(json.loads(args.obj_json))
        except (ValueError, binascii.Error) as e:
            raise UsageError("bad --obj-json: %s" % e)
        data = plistlib.dumps(obj, fmt=plistlib.FMT_BINARY, sort_keys=True)
    validasof = None
    if args.validasof is not None:
        validasof = parse_iso(args.validasof, "--validasof").isoformat()
    if args.created_at is not None:
        created = args.created_at
    else:
        created = dt.datetime.now(UTC).isoformat()
    save_entry(args, ring, args.id, data, key, args.comment, validasof,
               created)
    return 0


def cmd_get(args):
    ring = load_keyring(args)
    ttl = parse_ttl(args.ttl)
    oldest = None
    if args.oldest_valid is not None:
        oldest = parse_iso(args.oldest_valid, "--oldest-valid")
    if args.ttl_rules:
        _, ttl, oldest = rule_for(load_rules(args.ttl_rules), args.id, ttl,
                                  oldest)
    _, inner = load_entry(args, ring, args.id, ttl, oldest)
    out_bytes(inner["data"])
    return 0


def cmd_fresh(args):
    ring = load_keyring(args)
    ttl = parse_ttl(args.ttl)
    oldest = None
    if args.oldest_valid is not None:
        oldest = parse_iso(args.oldest_valid, "--oldest-valid")
    rules = load_rules(args.ttl_rules) if args.ttl_rules else []
    for cache_id in args.id:
        line, rttl, roldest = rule_for(rules, cache_id, ttl, oldest)
        try:
            load_entry(args, ring, cache_id, rttl, roldest)
            state = "valid"
        except EntryError as e:
            state = "stale" if str(e).startswith("stale") else "bad"
        out_bytes(("%s %s %s\n" % (cache_id, state,
                                    "-" if line is None else line))
                  .encode("utf-8"))
    return 0


def cmd_load_obj(args):
    ring = load_keyring(args)
    for cache_id in args.id:
        args.current_id = cache_id
        _, inner = load_entry(args, ring, cache_id)
        try:
            obj = plistlib.loads(inner["data"])
        except Exception:
            raise EntryError("data is not a plist")
        out_bytes(json.dumps(to_tagged(obj), sort_keys=True).encode("ascii")
                  + b"\n")
    return 0


def cmd_meta(args):
    ring = load_keyring(args)
    for cache_id in args.id:
        args.current_id = cache_id
        env, inner = load_entry(args, ring, cache_id)
        meta = {"id": cache_id, "key": env["key"],
                "created_at": env.get("created_at"),
                "comment": env.get("comment"),
                "validasof": inner.get("validasof_datetime"),
                "salt_sha256": env.get("salt_sha256"),
                "size": len(inner["data"])}
        out_bytes(json.dumps(meta, sort_keys=True).encode("ascii") + b"\n")
    return 0


def cmd_envelope_bytes(args):
    salt = load_salt(args)
    out_bytes(envelope_bytes(args.key, salt_fingerprint(salt),
                             args.created_at, args.token, args.comment))
    return 0


def cmd_layout_check(args):
    fingerprint = salt_fingerprint(load_salt(args))
    bad = 0
    for path in args.files:
        with open(path, "rb") as f:
            raw = f.read()
        try:
            env = json.loads(raw.decode("utf-8"))
            want = envelope_bytes(env["key"], fingerprint,
                                  env["created_at"], env["encrypted"],
                                  env.get("comment"))
        except (ValueError, KeyError, TypeError, AttributeError):
            want = None
        if raw != want:
            sys.stderr.write("ecref: %s: not json.dump's layout\n"
                             "  got:  %r\n  want: %r\n" % (path, raw, want))
            bad += 1
    return 1 if bad else 0


def cmd_verify_all(args):
    ring = load_keyring(args)
    if args.dir is None or not os.path.isdir(args.dir):
        raise ConfigError("cache dir %r does not exist" % args.dir)
    ids = []
    for root, dirs, files in os.walk(args.dir):
        dirs.sort()
        for name in files:
            if name.startswith(".ec-tmp-"):
                continue        # the C writer's temp files
            if name.endswith(args.suffix) and len(name) > len(args.suffix):
                rel = os.path.relpath(os.path.join(root, name), args.dir)
                ids.append(rel[:-len(args.suffix)])
    bad = 0
    for cache_id in sorted(ids):
        try:
            _, inner = load_entry(args, ring, cache_id)
        except EntryError as e:
            sys.stderr.write("ecref: %s: %s\n" % (cache_id, e))
            bad += 1
            continue
        digest = hashlib.sha256(inner["data"]).hexdigest()
        out_bytes(("%s %s\n" % (cache_id, digest)).encode("utf-8"))
    return 1 if bad else 0


def build_parser():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--dir")
    common.add_argument("--secrets")
    common.add_argument("--salt-file")
    common.add_argument("--salt")
    common.add_argument("--suffix", default=DEFAULT_SUFFIX)

    p = argparse.ArgumentParser(prog="ecref", description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("put", parents=[common])
    s.add_argument("id")
    s.add_argument("--key")
    s.add_argument("--comment")
    s.add_argument("--validasof")
    s.add_argument("--created-at")
    src = s.add_mutually_exclusive_group(required=True)
    src.add_argument("--data-file")
    src.add_argument("--obj-json")
    s.set_defaults(func=cmd_put)

    s = sub.add_parser("get", parents=[common])
    s.add_argument("id")
    s.add_argument("--ttl", default=DEFAULT_TTL)
    s.add_argument("--oldest-valid")
    s.add_argument("--ttl-rules")
    s.set_defaults(func=cmd_get)

    s = sub.add_parser("fresh", parents=[common])
    s.add_argument("id", nargs="+")
    s.add_argument("--ttl", default=DEFAULT_TTL)
    s.add_argument("--oldest-valid")
    s.add_argument("--ttl-rules")
    s.set_defaults(func=cmd_fresh)

    for name, func in (("load-obj", cmd_load_obj), ("meta", cmd_meta)):
        s = sub.add_parser(name, parents=[common])
        s.add_argument("id", nargs="+")
        s.set_defaults(func=func)

    s = sub.add_parser("layout-check", parents=[common])
    s.add_argument("files", nargs="+")
    s.set_defaults(func=cmd_layout_check)

    s = sub.add_parser("envelope-bytes", parents=[common])
    s.add_argument("--key", required=True)
    s.add_argument("--created-at", required=True)
    s.add_argument("--token", required=True)
    s.add_argument("--comment")
    s.set_defaults(func=cmd_envelope_bytes)

    s = sub.add_parser("verify-all", parents=[common])
    s.set_defaults(func=cmd_verify_all)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UsageError as e:
        sys.stderr.write("ecref: %s\n" % e)
        return 2
    except ConfigError as e:
        sys.stderr.write("ecref: %s\n" % e)
        return 3
    except EntryError as e:
        cache_id = getattr(args, "current_id", getattr(args, "id", "?"))
        sys.stderr.write("ecref: cannot get %r: %s\n" % (cache_id, e))
        return 1


if __name__ == "__main__":
    sys.exit(main())
