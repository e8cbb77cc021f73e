/*
 * fsmeta: the mount's bounded in-memory cache of per-entry metadata.
 *
 * Keyed by the identity of one version of a backing envelope file (device,
 * inode, size, mtime, ctime): when any of those changes, the key changes,
 * so an entry never needs invalidating; old versions age out (LRU).  Holds
 * what listing and stat need without reading the envelope again: the
 * state, the expiry, the rendered size and the extended attributes.  No
 * plaintext is kept here.  Thread-safe (one internal mutex, never held
 * while calling out).
 */
#ifndef EC_FSMETA_H
#define EC_FSMETA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "cache.h"

/* By default the cache is bounded by memory, not by a count: 1/32 of the
 * machine's, within these bounds (bytes).  An entry takes about 140. */
#define EC_FSMETA_MIN_BYTES (16u << 20)
#define EC_FSMETA_MAX_BYTES (512u << 20)

struct ec_fsmeta_key {
	uint64_t dev;
	uint64_t ino;
	int64_t size;
	int64_t mtime_ns;
	int64_t ctime_ns;
};

/* The key of st (no I/O). */
void ec_fsmeta_key_of(struct ec_fsmeta_key *k, const struct stat *st);
bool ec_fsmeta_key_equal(const struct ec_fsmeta_key *a,
			 const struct ec_fsmeta_key *b);

/* The fixed-size part of an entry (40 bytes: one is kept per entry in
 * the cache and one in every node). */
struct ec_fsmeta_info {
	int reason;		/* code that set a bad state, else 0 */
	enum ec_state state : 8;	/* as loaded (a stale entry stays
					   stale) */
	bool is_bplist;		/* data is a binary plist */
	int64_t created_us;	/* EC_TIME_NONE when absent */
	int64_t expires_us;	/* last valid instant (EC_STATE_VALID only) */
	uint64_t size;		/* rendered length (EC_STATE_VALID only) */
	uint64_t digest;	/* ec_fsmeta_digest() of the envelope bytes */
};

/*
 * A 64-bit digest of an envelope's bytes (BLAKE2b), to tell two versions
 * apart that share a key: an envelope rewritten in place within one
 * mtime tick keeps its size and times.  No I/O.
 */
uint64_t ec_fsmeta_digest(const void *buf, size_t len);

/* One extended attribute to store with an entry (copied by put). */
struct ec_fsmeta_xattr {
	const char *name;
	const char *value;	/* text, stored without its NUL */
};

struct ec_fsmeta;

/* A cache of at most max entries, or (max 0) of as many as fit in the
 * default budget (see EC_FSMETA_MIN_BYTES), growing as it fills.  *out:
 * free with ec_fsmeta_free().  -ENOMEM. */
int ec_fsmeta_new(size_t max, struct ec_fsmeta **out)
	__attribute__((warn_unused_result));
void ec_fsmeta_free(struct ec_fsmeta *m);

/* Copy k's info into *info and mark it recently used; false on a miss. */
bool ec_fsmeta_get(struct ec_fsmeta *m, const struct ec_fsmeta_key *k,
		   struct ec_fsmeta_info *info);

/* Insert (or replace) k with info and nx extended attributes, evicting the
 * least recently used entry when full.  -ENOMEM (the cache is unchanged). */
int ec_fsmeta_put(struct ec_fsmeta *m, const struct ec_fsmeta_key *k,
		  const struct ec_fsmeta_info *info,
		  const struct ec_fsmeta_xattr *x, size_t nx)
	__attribute__((warn_unused_result));

/*
 * Remember from's entry (info and attributes) under to as well: for a
 * version whose content is known to be the same (an envelope renamed,
 * which changes only its ctime).  -ENOENT when from is not cached (the
 * cache is unchanged), -ENOMEM.
 */
int ec_fsmeta_copy(struct ec_fsmeta *m, const struct ec_fsmeta_key *from,
		   const struct ec_fsmeta_key *to)
	__attribute__((warn_unused_result));

/*
 * Extended attribute name of k into buf, getxattr(2)-style: with size 0
 * returns the value's length; else copies it and returns its length, or
 * -ERANGE when buf is too small.  -ENODATA when k has no such attribute,
 * -ENOENT when k is not cached (load it and put it first).
 */
int ec_fsmeta_getxattr(struct ec_fsmeta *m, const struct ec_fsmeta_key *k,
		       const char *name, char *buf, size_t size);

/* The NUL-separated list of k's attribute names, listxattr(2)-style
 * (size 0: the length needed).  -ERANGE, -ENOENT as above. */
int ec_fsmeta_listxattr(struct ec_fsmeta *m, const struct ec_fsmeta_key *k,
			char *buf, size_t size);

/*
 * true the first time it is asked about (dev, ino, ctime_ns, what), false
 * afterwards: for logging a problem once per file version.  Remembers the
 * last 4,096 questions.
 */
bool ec_fsmeta_once(struct ec_fsmeta *m, uint64_t dev, uint64_t ino,
		    int64_t ctime_ns, unsigned what);

/* Entries held now, and bytes of memory they use (approximately). */
size_t ec_fsmeta_count(struct ec_fsmeta *m);
size_t ec_fsmeta_memory(struct ec_fsmeta *m);

#endif
