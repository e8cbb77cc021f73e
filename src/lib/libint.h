/*
 * libint: what the two halves of libenccache share (src/lib/enccache.c:
 * errors, memory, secrets, the handle, helpers; src/lib/entries.c: the
 * entry functions).  Internal: never installed, never exported (the
 * version script libenccache.map exports enccache.h's functions only).
 */
#ifndef EC_LIBINT_H
#define EC_LIBINT_H

#include <stdbool.h>
#include <stdint.h>

#include "cache.h"
#include "secrets.h"
#include "secure.h"
#include "ttl.h"

#include "enccache.h"

struct enccache_secrets {
	struct ec_secrets s;
};

struct enccache {
	struct ec_cache *cache;
	struct ec_ttl ttl;	/* the default TTL */
	bool durable;
	char **names;		/* the secrets' key names (not secret),
				   malloc'd, so that a save can be refused
				   before its data is computed */
	size_t nnames;
};

/* Whether c has a secret named name.  No I/O. */
bool ec_lib_has_key(const enccache *c, const char *name);

struct enccache_buf {
	struct ec_sbuf b;
};

/* The TTL and oldest_valid one call judges entries by. */
struct ec_lib_rule {
	struct ec_ttl ttl;
	int64_t oldest_us;	/* EC_TIME_NONE: unset */
};

/*
 * A libcore code as the public one: -EC_ESALT -> ENCCACHE_ESALT and so
 * on; every malformed-envelope code -> ENCCACHE_ECORRUPT; -EC_EHMAC ->
 * ENCCACHE_EAUTH; errno values and 0 unchanged.  No I/O.
 */
int ec_lib_code(int err);

/*
 * ttl (NULL: c's default) and oldest_valid (NULL: unset) into *r.
 * ENCCACHE_ETTL, ENCCACHE_ETIME.  No I/O.
 */
int ec_lib_rule_parse(const enccache *c, const char *ttl,
		      const char *oldest_valid, struct ec_lib_rule *r)
	__attribute__((warn_unused_result));

/* A copy of n bytes at p in guarded memory with a NUL after them (not
 * counted); NULL when out of memory.  ec_secure_free() it. */
char *ec_lib_secure_dup(const void *p, size_t n);

#endif
