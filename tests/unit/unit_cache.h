/*
 * unit_cache: helpers for the Check runners that open caches (cache,
 * ttlrules, rekey).  Test code only, in tests/unit/libunit.la beside
 * unit.c; only runners that link libcore may call them.  Every helper
 * fails the current test through ck_assert on any error.
 */
#ifndef EC_UNIT_CACHE_H
#define EC_UNIT_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "cache.h"
#include "unit.h"

/* PBKDF2 iterations for the caches the tests make (fast). */
#define EC_TEST_ITERATIONS 1000

/* A cache on dir (which exists) with the secrets of secrets_json (a JSON
 * object of name: password), the salt text salt, the global TTL ttl and
 * oldest_valid oldest_us (EC_TIME_NONE: none), and the TTL rules rules
 * (NULL: none; the cache copies them).  ec_cache_free() it. */
struct ec_cache *ec_test_cache_rules(const char *dir,
					  const char *secrets_json,
					  const char *salt, struct ec_ttl ttl,
					  int64_t oldest_us,
					  const struct ec_ttl_rules *rules);
/* The same without rules. */
struct ec_cache *ec_test_cache(const char *dir, const char *secrets_json,
				    const char *salt, struct ec_ttl ttl,
				    int64_t oldest_us);

/* Save the len bytes at data as id, created at created_us, under the
 * default key. */
void ec_test_save(const struct ec_cache *c, const char *id, const void *data,
		  size_t len, int64_t created_us);

#endif
