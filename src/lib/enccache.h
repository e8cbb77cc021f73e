/*
 * enccache.h: libenccache, the encrypted cache of the Python
 * encrypted_cache module, for C programs.
 *
 * A cache is a directory of JSON envelope files, one per entry, each
 * holding a Fernet token (AES-128-CBC + HMAC-SHA256) under a key derived
 * from a named password and a salt (PBKDF2-HMAC-SHA256, 480,000 rounds).
 * Entries written here load in Python and the other way round.  The names
 * follow the module: EncryptedCache(secrets, salt, suffix, directory, ttl)
 * is enccache_open(), and save, load, load_entry, exists,
 * execute_cached and get_hashed_filename keep their names.
 *
 * Conventions (see libenccache(3)):
 *
 *  - Every function that can fail returns an int: 0 (or a documented
 *    positive value) on success, a negative code on failure.  A code is
 *    either one of ENCCACHE_E* below or a negative errno value from the
 *    system (-ENOENT, -EINVAL, -ENOMEM, -EACCES, -ENOSPC, ...).
 *    enccache_strerror() names both.  NULL where a pointer is required,
 *    and other invalid arguments, give -EINVAL; nothing crashes on them.
 *  - Ownership: every buffer the library returns (data, text) is yours,
 *    in guarded memory (mlocked, guard pages, no core dumps), and is
 *    freed with enccache_free(), which wipes it.  Structures have their
 *    own free function.  Borrowed pointers are const and say until when
 *    they are valid.
 *  - Text is UTF-8 and NUL-terminated.  Times are microseconds since
 *    1970-01-01 UTC, as int64_t.
 *  - TTL arguments are text, as the module accepts them: "5 days",
 *    "3d 2h 30m", "inf" / "infinite" / "forever" (never expires; the
 *    module's None), "0" (always stale), or an ISO-8601 date-time (an
 *    absolute expiry).  NULL means "omitted": the cache's default TTL.
 *    oldest_valid arguments are ISO-8601 text or NULL (unset): entries
 *    created before it are stale.
 *  - Threads: an open cache may be used from several threads at once,
 *    except enccache_set_durable() and enccache_close().
 */
#ifndef ENCCACHE_H
#define ENCCACHE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define ENCCACHE_MUST_CHECK __attribute__((warn_unused_result))
#else
#define ENCCACHE_MUST_CHECK
#endif

#define ENCCACHE_VERSION "0.1.0"

/* The library's version text, e.g. "0.1.0" (static storage). */
const char *enccache_version(void);

/* ---- errors ------------------------------------------------------------ */

/* The library's own codes.  They are below -5000, outside errno's range. */
enum enccache_error {
	/* The entry exists and authenticates, but is stale under the TTL
	 * (or was created before oldest_valid). */
	ENCCACHE_ESTALE = -5001,
	/* The entry was written with another salt (its salt_sha256). */
	ENCCACHE_ESALT = -5002,
	/* A key name that is not among the secrets: the entry's, or the
	 * one asked for (or none was asked for and there is no default). */
	ENCCACHE_EKEY = -5003,
	/* The token failed authentication: the password for its key name
	 * is not the one it was written with, or the token was modified.
	 * (Fernet cannot tell these two apart.) */
	ENCCACHE_EAUTH = -5004,
	/* Not a complete envelope: truncated or half-written, not JSON,
	 * a missing field, a malformed token, bad padding, a payload that
	 * is not a binary plist, an unparsable created_at. */
	ENCCACHE_ECORRUPT = -5005,
	/* Text is not a TTL. */
	ENCCACHE_ETTL = -5006,
	/* Text is not an ISO-8601 date-time (oldest_valid, validasof). */
	ENCCACHE_ETIME = -5007,
	/* A cache id that is empty, absolute, or has an empty, "." or ".."
	 * component (or a NUL). */
	ENCCACHE_EID = -5008,
	/* Secrets: none, a repeated name, or a secrets file that is not a
	 * JSON object of name -> password strings. */
	ENCCACHE_ESECRETS = -5009,
	/* The secrets file may be read or written by group or others, or
	 * belongs to another user (refused, as ssh refuses keys). */
	ENCCACHE_ELOOSE = -5010,
	/* Text that must be UTF-8 is not. */
	ENCCACHE_EUTF8 = -5011,
	/* Not JSON the plist conversion accepts (see
	 * enccache_json_to_plist()). */
	ENCCACHE_EJSON = -5012,
	/* Data that must be a binary plist is not. */
	ENCCACHE_ENOTPLIST = -5013,
	/* Over a size limit (an envelope over 512 MiB, a secrets file
	 * over 1 MiB, JSON nested too deep). */
	ENCCACHE_ETOOBIG = -5014,
	/* An execute_cached() callback returned a positive value. */
	ENCCACHE_ECALLBACK = -5015,
};

/*
 * One line of English for err (sign as returned: negative), never NULL,
 * static storage, e.g. "salt mismatch" or "No such file or directory".
 * Thread-safe.
 */
const char *enccache_strerror(int err);

/* ---- memory ------------------------------------------------------------ */

/* Wipe and free a buffer the library returned (data or text).  NULL is a
 * no-op.  Never pass it memory from elsewhere. */
void enccache_free(void *p);

/* ---- secrets ------------------------------------------------------------ */

/* Key names -> passwords, kept in guarded memory.  Opaque. */
typedef struct enccache_secrets enccache_secrets;

/* An empty set.  *out: free with enccache_secrets_free(). */
int enccache_secrets_new(enccache_secrets **out) ENCCACHE_MUST_CHECK;

/*
 * Add a key name and its password (both UTF-8, NUL-terminated; the
 * password is copied into guarded memory, so wipe your copy).
 * ENCCACHE_ESECRETS when name is already there, ENCCACHE_EUTF8.
 */
int enccache_secrets_add(enccache_secrets *s, const char *name,
			 const char *password) ENCCACHE_MUST_CHECK;

/*
 * Read a secrets file as enccache(1) and enccachefs(1) do: a JSON object
 * of key names to passwords, {"default": "pw", "reports": "other"}, read
 * straight into guarded memory.  ENCCACHE_ELOOSE when group or others
 * may access it or another user owns it, ENCCACHE_ESECRETS when it is
 * not such an object (or is empty, or repeats a name), ENCCACHE_EUTF8,
 * ENCCACHE_ETOOBIG, -ENOENT, -ELOOP (a symlink), -EINVAL (not a regular
 * file), -errno.  *out: free with enccache_secrets_free().
 */
int enccache_secrets_read_file(const char *path, enccache_secrets **out)
	ENCCACHE_MUST_CHECK;

/* Wipe the passwords and free s.  NULL is a no-op. */
void enccache_secrets_free(enccache_secrets *s);

/* ---- the cache ------------------------------------------------------------ */

typedef struct enccache enccache;

/*
 * Open the cache in dir, created (mode 0700, parents too) when missing.
 * Derives one key per secret (PBKDF2, 480,000 rounds: about a quarter of
 * a second each, in parallel threads), so open once and keep the handle.
 * secrets is borrowed: free it right after, the handle keeps only the
 * derived keys.  salt: salt_len bytes (text: its UTF-8 bytes).
 * ttl: the default TTL (NULL: "5 days").  suffix: the envelope files'
 * suffix (NULL: ".enc.json").  ENCCACHE_ESECRETS for no secret,
 * ENCCACHE_ETTL, -ENOTDIR, -EACCES, -errno.  *out: close with
 * enccache_close().
 */
int enccache_open(const char *dir, const enccache_secrets *secrets,
		  const void *salt, size_t salt_len, const char *ttl,
		  const char *suffix, enccache **out) ENCCACHE_MUST_CHECK;

/* Wipe the keys and free c.  NULL is a no-op. */
void enccache_close(enccache *c);

/* Non-zero: every save also fsyncs the file and its directory, so it
 * survives a power loss (slower).  Off by default.  -EINVAL for NULL. */
int enccache_set_durable(enccache *c, int durable);

/* ---- entries ------------------------------------------------------------ */

/*
 * Encrypt len bytes of data and save them as entry id (e.g.
 * "prices/latest", the file <dir>/prices/latest.enc.json), atomically:
 * a reader sees the old entry or the new one, and on any error the old
 * one is left intact.  key_name: the secret to encrypt with; NULL: the
 * one named "default", or the only one.  comment (NULL: none) is stored
 * in clear text; validasof (NULL: none) is ISO-8601 text stored inside
 * the token.  ENCCACHE_EKEY, ENCCACHE_EID, ENCCACHE_ETIME,
 * ENCCACHE_EUTF8 (comment), -EISDIR (a directory is in the way), -errno.
 */
int enccache_save(const enccache *c, const char *key_name, const void *data,
		  size_t len, const char *id, const char *comment,
		  const char *validasof) ENCCACHE_MUST_CHECK;

/*
 * Decrypt entry id, if it is valid under ttl and oldest_valid (see the
 * conventions above), into *data (guarded memory, *len bytes; free with
 * enccache_free()).  -ENOENT when there is none; ENCCACHE_ESTALE,
 * ENCCACHE_ESALT, ENCCACHE_EKEY, ENCCACHE_EAUTH, ENCCACHE_ECORRUPT when
 * it is not valid; ENCCACHE_ETTL, ENCCACHE_ETIME, ENCCACHE_EID, -errno.
 * On failure *data is NULL and *len 0.
 */
int enccache_load(const enccache *c, const char *id, const char *ttl,
		  const char *oldest_valid, uint8_t **data, size_t *len)
	ENCCACHE_MUST_CHECK;

/* An entry with its metadata, as the module's load_entry() returns it.
 * Made only by the library; free with enccache_entry_free(). */
struct enccache_entry {
	uint8_t *data;		/* guarded memory; to keep it past
				   enccache_entry_free(), take it and set
				   data to NULL, then enccache_free() it */
	size_t len;
	const char *key;	/* the key name it was written with */
	const char *created_at;	/* ISO-8601 as stored, or NULL */
	const char *comment;	/* NULL when none */
	const char *validasof;	/* ISO-8601 as stored, or NULL */
	int64_t created_at_us;	/* ENCCACHE_TIME_NONE when absent */
	int64_t expires_at_us;	/* last valid instant under the TTL used:
				   ENCCACHE_TIME_NEVER, or ENCCACHE_TIME_NONE
				   under TTL "0" */
};
#define ENCCACHE_TIME_NONE INT64_MIN
#define ENCCACHE_TIME_NEVER INT64_MAX

/* enccache_load() with the metadata.  Errors as enccache_load(); *out is
 * NULL on failure. */
int enccache_load_entry(const enccache *c, const char *id, const char *ttl,
			const char *oldest_valid,
			struct enccache_entry **out) ENCCACHE_MUST_CHECK;

/*
 * The same for an envelope you hold in memory (len bytes, e.g. a copy of
 * an entry's file fetched from elsewhere): checked against c's salt and
 * keys, ttl and oldest_valid as enccache_load_entry() does.  No I/O.
 */
int enccache_decode(const enccache *c, const void *envelope, size_t len,
		    const char *ttl, const char *oldest_valid,
		    struct enccache_entry **out) ENCCACHE_MUST_CHECK;

/* Wipe the data and free e.  NULL is a no-op. */
void enccache_entry_free(struct enccache_entry *e);

/* 1 when entry id's envelope file exists (valid or not), 0 when not;
 * ENCCACHE_EID, -errno. */
int enccache_exists(const enccache *c, const char *id) ENCCACHE_MUST_CHECK;

/* Remove entry id.  -ENOENT when there is none; ENCCACHE_EID, -errno. */
int enccache_remove(const enccache *c, const char *id) ENCCACHE_MUST_CHECK;

/* ---- listing ------------------------------------------------------------ */

enum enccache_state {
	ENCCACHE_VALID,
	ENCCACHE_STALE,
	ENCCACHE_SALT_MISMATCH,
	ENCCACHE_UNKNOWN_KEY,
	ENCCACHE_CORRUPT,	/* also: a file that could not be read */
	ENCCACHE_TAMPERED,	/* failed authentication */
};

/* "valid", "stale", "salt-mismatch", "unknown-key", "corrupt",
 * "tampered" (as `enccache ls --all` prints them); "?" otherwise. */
const char *enccache_state_name(int state);

/* One listed entry.  Made by the library and borrowed by the callback:
 * valid until it returns. */
struct enccache_item {
	const char *id;
	int state;		/* enum enccache_state */
	int error;		/* 0 when valid, else what enccache_load()
				   returns for it (ENCCACHE_ESTALE, ...,
				   or -errno when it could not be read) */
	const char *key;	/* as stored; NULL when not an envelope */
	const char *created_at;	/* as stored, or NULL */
	const char *comment;	/* NULL when none */
	int64_t created_at_us;	/* ENCCACHE_TIME_NONE when absent */
	int64_t expires_at_us;	/* as in enccache_entry, when the token
				   authenticated; else ENCCACHE_TIME_NONE */
	size_t size;		/* data bytes when it authenticated, else 0 */
};

/* Return 0 to go on, non-zero to stop the listing. */
typedef int enccache_list_callback(void *arg, const struct enccache_item *it);

/*
 * Call cb for every envelope below the cache directory, in id order
 * (each directory's names sorted by bytes), judged under ttl and
 * oldest_valid.  Every envelope is authenticated (no data is returned).
 * One unreadable file never stops the listing: it is reported with state
 * ENCCACHE_CORRUPT and its -errno.  Returns 0, cb's non-zero return
 * when it stopped the listing, ENCCACHE_ETTL, ENCCACHE_ETIME, -errno.
 */
int enccache_list(const enccache *c, const char *ttl,
		  const char *oldest_valid, enccache_list_callback *cb,
		  void *arg) ENCCACHE_MUST_CHECK;

/* ---- execute_cached ------------------------------------------------------ */

/* Where a callback puts its result: guarded memory owned by the
 * library.  Opaque. */
typedef struct enccache_buf enccache_buf;

/* Append len bytes to b.  -ENOMEM, -EINVAL. */
int enccache_buf_append(enccache_buf *b, const void *data, size_t len)
	ENCCACHE_MUST_CHECK;

/* Compute the entry into out; return 0, or a negative code (yours or one
 * of ours) that execute_cached() returns as it is. */
typedef int enccache_callback(void *arg, enccache_buf *out);

enum {
	/* Call the callback even when the entry is valid (the module's
	 * rerun=True). */
	ENCCACHE_RERUN = 1u << 0,
	/* The callback writes JSON, stored as a binary plist, which is
	 * what the module's execute_cached() stores and returns as the
	 * same object; the data returned (computed or cached) is that
	 * plist as JSON text (see enccache_plist_to_json()). */
	ENCCACHE_JSON = 1u << 1,
};

/* What enccache_execute_cached() returns on success. */
#define ENCCACHE_HIT 0		/* the cached entry */
#define ENCCACHE_COMPUTED 1	/* the callback ran; its result saved */

/*
 * The module's execute_cached(key_name, callback, cache_id, rerun, ttl,
 * oldest_valid_cache_dt): when entry id is valid under ttl and
 * oldest_valid, its data; else (missing, stale, or written with another
 * salt) cb's result, saved with key_name (NULL: the default key) and
 * returned.  Returns ENCCACHE_HIT or ENCCACHE_COMPUTED.  Like the module,
 * it does not overwrite an entry that fails in another way:
 * ENCCACHE_EKEY, ENCCACHE_EAUTH and ENCCACHE_ECORRUPT are returned (as
 * are ENCCACHE_ENOTPLIST for a cached entry that is not a plist under
 * ENCCACHE_JSON, and ENCCACHE_EJSON for a callback result that is not
 * JSON); pass ENCCACHE_RERUN to replace it.  A callback's negative code
 * is returned as it is, a positive one as ENCCACHE_ECALLBACK, and
 * nothing is saved then.  *data (guarded memory, *len bytes; free with
 * enccache_free()) may be NULL with len NULL when you only want the
 * entry made.  Two processes may both compute a missing entry; the last
 * save wins, and neither sees a torn file.
 */
int enccache_execute_cached(const enccache *c, const char *key_name,
			    enccache_callback *cb, void *arg, const char *id,
			    unsigned flags, const char *ttl,
			    const char *oldest_valid, uint8_t **data,
			    size_t *len) ENCCACHE_MUST_CHECK;

/* ---- helpers (no cache, no I/O) ----------------------------------------- */

/*
 * The module's get_hashed_filename(text, length, prefix): the first
 * length (8..64; 0 means 32) lower-case hex digits of SHA-256(text),
 * after "<prefix>-" when prefix is not NULL (lower-cased, each run of
 * characters outside [a-z0-9_-] made one '-', '-' stripped at both
 * ends).  -EINVAL for a bad length or a prefix that leaves nothing.
 * *out: free with enccache_free().
 */
int enccache_get_hashed_filename(const char *text, unsigned length,
				 const char *prefix, char **out)
	ENCCACHE_MUST_CHECK;

/*
 * JSON text (len bytes) -> a binary plist as Python's plistlib writes
 * it, so plistlib.loads() gives the same object back: objects, arrays,
 * strings, numbers, true/false, and tagged {"$date": "ISO"},
 * {"$data": "<base64>"}, {"$uid": N}, {"$real": "nan"|"inf"|"-inf"},
 * {"$dict": {...}}.  ENCCACHE_EJSON for anything else (null, invalid
 * JSON, text that is not UTF-8, a bad tag), ENCCACHE_ETOOBIG past 256
 * levels of nesting.
 * *plist (guarded memory, *plist_len bytes): free with enccache_free().
 */
int enccache_json_to_plist(const char *json, size_t len, uint8_t **plist,
			   size_t *plist_len) ENCCACHE_MUST_CHECK;

/*
 * The inverse: a binary plist (len bytes) as pretty JSON text with the
 * tags above and a trailing newline, NUL-terminated (*json_len does not
 * count the NUL).  ENCCACHE_ENOTPLIST when it is not a binary plist (or
 * holds a date JSON cannot carry).  *json: free with enccache_free().
 */
int enccache_plist_to_json(const void *plist, size_t len, char **json,
			   size_t *json_len) ENCCACHE_MUST_CHECK;

#ifdef __cplusplus
}
#endif

#endif
