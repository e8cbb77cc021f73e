/* Helpers for the runners that open caches; see unit_cache.h. */
#include "config.h"

#include <string.h>

#include "unit_cache.h"

struct ec_cache *ec_test_cache_rules(const char *dir,
					  const char *secrets_json,
					  const char *salt, struct ec_ttl ttl,
					  int64_t oldest_us,
					  const struct ec_ttl_rules *rules)
{
	struct ec_cache_options o = {
		.dir = dir, .salt = (const uint8_t *)salt,
		.salt_len = strlen(salt), .ttl = ttl,
		.oldest_valid_us = oldest_us, .iterations = EC_TEST_ITERATIONS,
		.rules = rules,
	};
	struct ec_secrets s;
	struct ec_cache *c = NULL;

	ck_assert_int_eq(ec_secrets_parse(secrets_json, strlen(secrets_json),
					  &s), 0);
	ck_assert_int_eq(ec_cache_open(&o, &s, &c), 0);
	return c;
}

struct ec_cache *ec_test_cache(const char *dir, const char *secrets_json,
				    const char *salt, struct ec_ttl ttl,
				    int64_t oldest_us)
{
	return ec_test_cache_rules(dir, secrets_json, salt, ttl,
					oldest_us, NULL);
}

void ec_test_save(const struct ec_cache *c, const char *id, const void *data,
		  size_t len, int64_t created_us)
{
	struct ec_save_options o = { .created_us = created_us };

	ck_assert_int_eq(ec_cache_save(c, id, data, len, &o), 0);
}
