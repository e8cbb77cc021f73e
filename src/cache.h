/*
 * cache: the core API the front ends use.  Holds the keyring, the store
 * and the TTL rules; loads an entry into one of six states and saves
 * entries in the format of FORMAT.md.  Never prints, keeps no globals.
 */
#ifndef EC_CACHE_H
#define EC_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "envelope.h"
#include "kdf.h"
#include "secrets.h"
#include "store.h"
#include "ttl.h"
#include "ttlrules.h"

struct ec_cache_options {
	const char *dir;		/* the cache directory (must exist) */
	const char *suffix;		/* NULL: EC_SUFFIX_DEFAULT */
	const uint8_t *salt;		/* exact bytes */
	size_t salt_len;
	struct ec_ttl ttl;		/* e.g. ec_ttl_default() */
	int64_t oldest_valid_us;	/* EC_TIME_NONE when unset */
	const char *default_key;	/* NULL: "default", or the only secret */
	unsigned iterations;		/* 0: EC_KDF_ITERATIONS */
	bool durable;			/* fsync every save */
	/* Derive each key at its first use instead of all at open (the
	 * CLI: a command pays only for the keys it needs), and look keys up
	 * in / store them into key_source (NULL: none; borrowed until
	 * ec_cache_free()). */
	bool lazy_keys;
	const struct ec_key_source *key_source;
	const struct ec_ttl_rules *rules;	/* NULL: none; copied */
};

struct ec_cache;

/* Envelopes (and data) from this size on are read and written in a
 * stream (cache_stream.c): the plaintext is held once, never the
 * envelope, the raw token or the ciphertext as well. */
#define EC_STREAM_MIN ((size_t)1 << 20)

/*
 * Derive the keys (in parallel; with lazy_keys, at their first use) and
 * open the store.  *secrets is wiped and released on every path.  -EC_EKEY
 * when default_key names no secret.  *out: free with ec_cache_free().
 */
int ec_cache_open(const struct ec_cache_options *o, struct ec_secrets *secrets,
		  struct ec_cache **out) __attribute__((warn_unused_result));
void ec_cache_free(struct ec_cache *c);

/* Re-lock the keys in memory after fork(2) (daemonizing); see
 * ec_keyring_lock(). */
int ec_cache_lock_keys(const struct ec_cache *c)
	__attribute__((warn_unused_result));

/* Borrowed views, valid until ec_cache_free(). */
const struct ec_store *ec_cache_store(const struct ec_cache *c);
const char *ec_cache_fingerprint(const struct ec_cache *c);
const char *ec_cache_default_key(const struct ec_cache *c);
const struct ec_ttl *ec_cache_ttl(const struct ec_cache *c);

/* How many keys (secrets) the cache was opened with. */
size_t ec_cache_key_count(const struct ec_cache *c);

/* The oldest_valid_us the cache was opened with (EC_TIME_NONE: unset). */
int64_t ec_cache_oldest_valid(const struct ec_cache *c);

/* The TTL rules the cache was opened with (n == 0: none).  Borrowed,
 * valid until ec_cache_free(). */
const struct ec_ttl_rules *ec_cache_rules(const struct ec_cache *c);

/* The rule that decides id's freshness: the first of the cache's rules
 * whose pattern matches id, or NULL for the global TTL and oldest_valid.
 * Borrowed, valid until ec_cache_free().  No I/O. */
const struct ec_ttl_rule *ec_cache_rule_for(const struct ec_cache *c,
					    const char *id);

/* ec_ttl_expiry() of an entry of id created at created_us (EC_TIME_NONE:
 * absent), under id's rule: the expiry a load of it gives.  No I/O. */
int64_t ec_cache_expiry(const struct ec_cache *c, const char *id,
			int64_t created_us);

/* The clock: microseconds since 1970 UTC (CLOCK_REALTIME). */
int64_t ec_clock_now_us(void);

enum ec_state {
	EC_STATE_VALID,
	EC_STATE_STALE,
	EC_STATE_SALT_MISMATCH,
	EC_STATE_UNKNOWN_KEY,
	EC_STATE_CORRUPT,	/* not an envelope, half-written, bad token form */
	EC_STATE_TAMPERED,	/* token failed authentication */
};
/* "valid", "stale", "salt-mismatch", "unknown-key", "corrupt", "tampered" */
const char *ec_state_name(enum ec_state s);

struct ec_entry {
	enum ec_state state;
	int reason;		/* 0, or the code that set a bad state */
	struct ec_envelope env;	/* key, comment, created_at as stored; empty
				   when the file is not an envelope */
	int64_t created_us;	/* EC_TIME_NONE when absent or unparsable */
	int64_t expires_us;	/* ec_ttl_expiry() under rule (below);
				   meaningful when the envelope
				   authenticated */
	char *validasof;	/* malloc'd or NULL; set once the token
				   authenticated */
	uint8_t *data;		/* ec_secure_alloc'd or NULL (EC_LOAD_DATA) */
	size_t len;
	struct stat st;		/* fstat of the envelope file as read */
	uint64_t tag;		/* ec_envelope_tag() of the version read */
	const struct ec_ttl_rule *rule;	/* the rule that matched the id
				   (ec_cache_rule_for(), borrowed from the
				   cache), NULL: the global TTL */
};

enum {
	/* Decrypt and unpack the payload into data/validasof.  Without it
	 * the token is still authenticated (HMAC), so states are exact. */
	EC_LOAD_DATA = 1u << 0,
	/* Keep loading a stale entry's data (for --stale-ok). */
	EC_LOAD_STALE_OK = 1u << 1,
};

/*
 * Read and classify id's envelope at time now.  Returns 0 when the file
 * was read (e->state says what it is), -ENOENT when there is none, -EC_EID
 * for a bad id, -errno for I/O errors.  Data is only decrypted for a valid
 * entry (or a stale one with EC_LOAD_STALE_OK).  e need not be
 * initialised; release it with ec_entry_release() after a 0 return.
 */
int ec_cache_load(const struct ec_cache *c, const char *id, unsigned flags,
		  int64_t now, struct ec_entry *e)
	__attribute__((warn_unused_result));

/*
 * The tag (ec_entry.tag) a load of id's big envelope (EC_STREAM_MIN bytes
 * and more) would give, found by reading the file through without
 * decoding or decrypting its token (about a tenth of a load's work), and
 * *st the file's stat: for telling whether a content decrypted a moment
 * ago is still the file's.  0; 1 when the envelope is small; -EC_EJSON
 * when it is not whole JSON or changed while read; -ENOENT, -errno.
 */
int ec_cache_big_tag(const struct ec_cache *c, const char *id,
		     struct stat *st, uint64_t *tag)
	__attribute__((warn_unused_result));

/* Classify an envelope already in memory (no I/O); for inspect and
 * fuzzing.  Judged under the global TTL: see ec_cache_classify_id(). */
void ec_cache_classify(const struct ec_cache *c, const char *buf, size_t len,
		       unsigned flags, int64_t now, struct ec_entry *e);

/* The same for the envelope of id (NULL: as ec_cache_classify()), judged
 * under id's rule as ec_cache_load() judges it.  No I/O. */
void ec_cache_classify_id(const struct ec_cache *c, const char *id,
			  const char *buf, size_t len, unsigned flags,
			  int64_t now, struct ec_entry *e);

void ec_entry_release(struct ec_entry *e);

/*
 * The one answer to "what is e at now, and why": e's state and reason as
 * loaded, except that a VALID entry past its expiry at now (e->expires_us,
 * which the load computed under the TTL and oldest_valid of the id's rule,
 * or the cache's global ones) is STALE, reason 0.  A STALE entry
 * stays stale.  *reason (may be NULL) gets 0 for VALID and STALE, else the
 * code that set the state (e.g. -EC_ESALT, -EC_EKEY, -EC_EHMAC, -errno).
 * c is the cache that loaded e.  No I/O, no clock.
 */
enum ec_state ec_entry_verdict(const struct ec_cache *c,
			       const struct ec_entry *e, int64_t now,
			       int *reason);

/*
 * Why e is not valid at now (its ec_entry_verdict()), as one line of
 * text, the reason enccache's get and ls --all print:
 *   "stale (expired <ISO expiry>)"
 *   "stale (created before --oldest-valid <ISO>)"
 *   "stale (created before oldest_valid <ISO> of rule '<pattern>')"
 *   "stale (ttl 0)", "stale (no created_at)", "stale"
 *   "salt mismatch"
 *   "unknown key name '<key>'"  ("unknown key name " with no key)
 *   "corrupt" or "corrupt: <error text>" (ec_startup_errtext() of the
 *     reason; "corrupt: created_at is not an ISO-8601 date-time")
 *   "does not open with key '<key>' (the wrong password, or tampered
 *     with)" for a token that fails authentication
 * and "" for a valid entry.  The key name is quoted as stored: escape
 * control characters before a terminal or log sees it.  Like snprintf:
 * writes at most size bytes into buf (NUL-terminated when size > 0; buf
 * may be NULL when size is 0) and returns the length of the whole text,
 * so a caller can size a buffer (EC_REASON_MAX holds every text but a
 * long key name).  No I/O, no clock.
 */
#define EC_REASON_MAX 512
size_t ec_entry_reason_text(const struct ec_cache *c,
			    const struct ec_entry *e, int64_t now, char *buf,
			    size_t size);

struct ec_save_options {
	const char *key;	/* NULL: the default key */
	const char *comment;	/* NULL: none */
	const char *validasof;	/* NULL: none; ISO-8601, checked */
	int64_t created_us;	/* EC_TIME_NONE: now */
	bool durable;		/* fsync file and directory (or per cache) */
	bool noreplace;		/* -EEXIST when the entry exists */
	struct ec_save_result *result;	/* NULL, or filled on success */
};

/* What a save wrote, for a caller that would otherwise read it back. */
struct ec_save_result {
	int64_t created_us;	/* the envelope's created_at */
	const char *key;	/* the key name (valid until ec_cache_free) */
	bool streamed;		/* a big save: tag below is the version's */
	uint64_t tag;		/* ec_entry.tag a load of it would give (a big
				   save's, or a small one's with st) */
	struct stat st;		/* a small save linked in whole: the stat of
				   the version written (ec_store_write_st),
				   else st_ino 0 */
};

/*
 * Encrypt data and save it as id atomically.  -EC_EKEY for an unknown key
 * name, -EC_ETIME for bad validasof, -EC_EUTF8 for a comment that is not
 * UTF-8, -EC_EID, -errno (ENOSPC...) with the old entry left intact.
 */
int ec_cache_save(const struct ec_cache *c, const char *id,
		  const uint8_t *data, size_t len,
		  const struct ec_save_options *o)
	__attribute__((warn_unused_result));

/*
 * Rewrite only the cleartext of a valid entry's envelope: comment (NULL
 * removes it) and/or created_at.  The token is kept as it is.
 */
enum { EC_META_COMMENT = 1u << 0, EC_META_CREATED = 1u << 1 };
int ec_cache_set_meta(const struct ec_cache *c, const char *id,
		      unsigned which, const char *comment, int64_t created_us)
	__attribute__((warn_unused_result));

int ec_cache_remove(const struct ec_cache *c, const char *id)
	__attribute__((warn_unused_result));

/*
 * Call cb for every envelope below the cache dir (sorted ids), loaded with
 * flags at now.  e is borrowed for the callback.  cb returns non-zero to
 * stop.  I/O errors on one file are reported through its entry
 * (EC_STATE_CORRUPT, reason -errno), never stop the listing.
 */
int ec_cache_list(const struct ec_cache *c, unsigned flags, int64_t now,
		  int (*cb)(void *ctx, const char *id, struct ec_entry *e),
		  void *ctx) __attribute__((warn_unused_result));

/*
 * Python's get_hashed_filename(text, length, prefix): the first length
 * (8..64) hex chars of SHA-256(text), after "<prefix>-" when prefix is not
 * NULL (lower-cased, runs outside [a-z0-9_-] folded to one '-', '-'
 * stripped at both ends).  *out malloc'd.  -EINVAL for a bad length or a
 * prefix that folds to nothing.  No I/O.
 */
int ec_hashed_filename(const char *text, unsigned length, const char *prefix,
		       char **out) __attribute__((warn_unused_result));

/*
 * Read any envelope file by path (no keys needed) for inspection.
 * *token_ts gets the token's timestamp when its first bytes decode, else
 * stays untouched and *has_ts is false.  env as ec_envelope_parse().
 */
int ec_inspect_file(const char *path, struct ec_envelope *env,
		    struct stat *st, uint64_t *token_ts, bool *has_ts)
	__attribute__((warn_unused_result));

#endif
