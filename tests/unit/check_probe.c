/* Unit tests for src/probe.c: does a cache open with our keys and salt. */
#include "config.h"

#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cache.h"
#include "error.h"
#include "probe.h"
#include "secure.h"
#include "unit.h"

#define FAST 1000	/* PBKDF2 iterations for caches made by the tests */
#define RIGHT "{\"default\": \"pw\", \"api\": \"pw-api\"}"
#define WRONG "{\"default\": \"pw\", \"api\": \"not the password\"}"

static char *tmp;

static void mk_tmp(void)
{
	tmp = ec_test_tmpdir("ec-probe");
}

static void rm_tmp(void)
{
	ec_test_rm_rf(tmp);
	free(tmp);
	tmp = NULL;
}

static struct ec_cache *open_cache(const char *secrets_json, const char *salt)
{
	struct ec_cache_options o = {
		.dir = tmp, .salt = (const uint8_t *)salt,
		.salt_len = strlen(salt), .ttl = ec_ttl_default(),
		.oldest_valid_us = EC_TIME_NONE, .iterations = FAST,
	};
	struct ec_secrets s;
	struct ec_cache *c;

	ck_assert_int_eq(ec_secrets_parse(secrets_json, strlen(secrets_json),
					  &s), 0);
	ck_assert_int_eq(ec_cache_open(&o, &s, &c), 0);
	return c;
}

static void put(struct ec_cache *c, const char *id, const char *key)
{
	struct ec_save_options o = { .key = key, .created_us = EC_TIME_NONE };

	ck_assert_int_eq(ec_cache_save(c, id, (const uint8_t *)"x", 1, &o), 0);
}

/* The verdict of a probe of c, and its text (static). */
static int verdict(struct ec_cache *c, bool *complete, const char **text)
{
	static char buf[512];
	struct ec_probe p;
	size_t len = 99;
	int err;

	ck_assert_int_eq(ec_probe_cache(c, ec_clock_now_us(), &p), 0);
	if (complete)
		*complete = p.complete;
	err = ec_probe_verdict(c, &p, buf, sizeof(buf), &len);
	ck_assert_uint_eq(strlen(buf), len);
	ec_probe_release(&p);
	if (text)
		*text = buf;
	return err;
}

/* A file below the cache dir with these bytes. */
static void spit(const char *rel, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_empty_and_right)
{
	struct ec_cache *c = open_cache(RIGHT, "salt");
	const char *text;
	bool complete;

	/* an empty cache, or one of only other files, is fine */
	ck_assert_int_eq(verdict(c, &complete, &text), 0);
	ck_assert_str_eq(text, "");
	ck_assert(complete);
	spit("notes.txt", "not an envelope");
	spit("half.enc.json", "{\"key\": \"api\", \"encr");
	ck_assert_int_eq(verdict(c, NULL, NULL), 0);
	put(c, "a/1", "api");
	put(c, "a/2", "api");
	put(c, "b/1", "default");
	put(c, "b/2", "default");
	ck_assert_int_eq(verdict(c, &complete, &text), 0);
	ck_assert_str_eq(text, "");
	/* both keys opened one envelope each: the walk stopped at b/1 */
	ck_assert(!complete);
	ec_cache_free(c);
}
END_TEST

START_TEST(test_wrong_password)
{
	struct ec_cache *c = open_cache(RIGHT, "salt");
	const char *text;
	bool complete;
	int i;

	for (i = 0; i < 12; i++) {
		char id[16];

		snprintf(id, sizeof(id), "p/%02d", i);
		put(c, id, "api");
	}
	put(c, "d", "default");
	ec_cache_free(c);
	c = open_cache(WRONG, "salt");
	ck_assert_int_eq(verdict(c, &complete, &text), -EC_EHMAC);
	ck_assert_str_eq(text, "password for key 'api' does not open any of "
			 "its 12 entries");
	ck_assert(complete);
	ec_cache_free(c);

	/* one entry that opens is enough: a tampered one alone never
	 * refuses the cache */
	c = open_cache(WRONG, "salt");
	put(c, "p/99", "api");
	ck_assert_int_eq(verdict(c, NULL, &text), 0);
	ck_assert_str_eq(text, "");
	ec_cache_free(c);
}
END_TEST

START_TEST(test_one_entry)
{
	struct ec_cache *c = open_cache(RIGHT, "salt");
	char buf[8];
	struct ec_probe p;
	size_t len;

	put(c, "only", "api");
	ec_cache_free(c);
	c = open_cache(WRONG, "salt");
	ck_assert_int_eq(ec_probe_cache(c, ec_clock_now_us(), &p), 0);
	/* snprintf contract: a short buffer keeps what fits */
	ck_assert_int_eq(ec_probe_verdict(c, &p, buf, sizeof(buf), &len),
			 -EC_EHMAC);
	ck_assert_uint_eq(len, strlen("password for key 'api' does not open "
				      "any of its 1 entry"));
	ck_assert_str_eq(buf, "passwor");
	ck_assert_int_eq(ec_probe_verdict(c, &p, NULL, 0, NULL), -EC_EHMAC);
	ec_probe_release(&p);
	ec_cache_free(c);
}
END_TEST

START_TEST(test_wrong_salt)
{
	struct ec_cache *c = open_cache(RIGHT, "salt");
	const char *text, *fp;
	char want[256];

	put(c, "a", "api");
	put(c, "b", "default");
	fp = ec_cache_fingerprint(c);
	snprintf(want, sizeof(want), "salt does not match any entry (the 2 "
		 "envelopes have salt fingerprint %s, ours is ", fp);
	ec_cache_free(c);
	c = open_cache(RIGHT, "another salt");
	ck_assert_int_eq(verdict(c, NULL, &text), -EC_ESALT);
	ck_assert(strncmp(text, want, strlen(want)) == 0);
	ck_assert(strncmp(text + strlen(want), ec_cache_fingerprint(c),
			  16) == 0);
	ck_assert_str_eq(text + strlen(want) + 16, ")");

	/* an envelope without a fingerprint is accepted by any salt, and
	 * then tells about the key */
	spit("nofp.enc.json", "{\"key\": \"api\", \"encrypted\": \"gAAAAA\"}");
	ck_assert_int_eq(verdict(c, NULL, &text), 0);
	ec_cache_free(c);
}
END_TEST

START_TEST(test_other_keys)
{
	struct ec_cache *c = open_cache("{\"theirs\": \"pw\"}", "salt");
	bool complete;

	/* envelopes of key names we have no secret for say nothing */
	put(c, "t1", "theirs");
	put(c, "t2", "theirs");
	ec_cache_free(c);
	c = open_cache(RIGHT, "salt");
	ck_assert_int_eq(verdict(c, &complete, NULL), 0);
	ck_assert(complete);
	/* one of our keys without envelopes: the whole cache is read */
	put(c, "mine", "api");
	ck_assert_int_eq(verdict(c, &complete, NULL), 0);
	ck_assert(complete);
	ec_cache_free(c);
}
END_TEST

START_TEST(test_look_max)
{
	struct ec_cache *c = open_cache(RIGHT, "salt");
	bool complete;
	int i;

	/* "api" has no envelope: the walk stops after EC_PROBE_LOOK_MAX
	 * envelopes of "default" instead of reading them all */
	for (i = 0; i < EC_PROBE_LOOK_MAX + 5; i++) {
		char id[32];

		snprintf(id, sizeof(id), "d%02d/%05d", i % 50, i);
		put(c, id, "default");
	}
	ck_assert_int_eq(verdict(c, &complete, NULL), 0);
	ck_assert(!complete);
	ec_cache_free(c);
	/* ... but not while a key has not opened: then every envelope */
	c = open_cache(WRONG, "salt");
	put(c, "zz/last", "default");
	ec_cache_free(c);
	c = open_cache("{\"default\": \"wrong\", \"api\": \"x\"}", "salt");
	ck_assert_int_eq(verdict(c, &complete, NULL), -EC_EHMAC);
	ck_assert(complete);
	ec_cache_free(c);
}
END_TEST

static Suite *probe_suite(void)
{
	Suite *s = suite_create("probe");
	TCase *tc = tcase_create("probe");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, mk_tmp, rm_tmp);
	tcase_add_test(tc, test_empty_and_right);
	tcase_add_test(tc, test_wrong_password);
	tcase_add_test(tc, test_one_entry);
	tcase_add_test(tc, test_wrong_salt);
	tcase_add_test(tc, test_other_keys);
	tcase_add_test(tc, test_look_max);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (ec_secure_init() < 0)
		return EXIT_FAILURE;
	return ec_test_run(probe_suite());
}
