/*
 * cache_int: what the files of the cache module share (cache.c, the small
 * envelopes and everything else; cache_rules.c, the TTL rules, expiry,
 * verdicts and their words; cache_stream.c, the big envelopes).
 * Internal: only src/cache*.c include it.
 */
#ifndef EC_CACHE_INT_H
#define EC_CACHE_INT_H

#include "cache.h"

struct ec_cache {
	struct ec_store store;
	struct ec_keyring keys;
	struct ec_ttl ttl;
	int64_t oldest_us;
	char *default_key;	/* malloc'd, or NULL when none can be chosen */
	bool durable;
	struct ec_ttl_rules rules;	/* a copy of the options' */
};

/* The TTL and oldest_valid that judge an entry under rule (NULL: the
 * cache's global ones).  No I/O. */
void ec_cache_rule_ttl(const struct ec_cache *c,
		       const struct ec_ttl_rule *rule,
		       const struct ec_ttl **ttl, int64_t *oldest_us);

/* e emptied (no allocation), states as set by the loaders. */
void ec_entry_init(struct ec_entry *e);
void ec_entry_set_state(struct ec_entry *e, enum ec_state s, int reason);

/* classify()'s two halves around opening the token: see cache.c. */
const struct ec_key *ec_cache_check_head(const struct ec_cache *c,
					 struct ec_entry *e);
void ec_cache_finish(const struct ec_cache *c, struct ec_entry *e,
		     uint8_t *pt, size_t ptlen, unsigned flags, int64_t now);

/* cache_stream.c: load the big envelope open on fd (fstat in e->st), and
 * save data as id in a stream.  As ec_cache_load and ec_cache_save. */
int ec_cache_load_stream(const struct ec_cache *c, int fd, unsigned flags,
			 int64_t now, struct ec_entry *e);
int ec_cache_save_stream(const struct ec_cache *c, const char *id,
			 const struct ec_envelope *env,
			 const struct ec_key *k, int64_t created_us,
			 const uint8_t *data, size_t len,
			 const char *validasof, unsigned store_flags,
			 uint64_t *tag);
/* The same over only the version check accepts: ec_store_replace_with()
 * (for rekey, cache_rekey.c). */
int ec_cache_save_stream_if(const struct ec_cache *c, const char *id,
			    const struct ec_envelope *env,
			    const struct ec_key *k, int64_t created_us,
			    const uint8_t *data, size_t len,
			    const char *validasof, unsigned store_flags,
			    int (*check)(void *ctx, int fd,
					 const struct stat *st),
			    void *check_ctx, uint64_t *tag);

#endif
