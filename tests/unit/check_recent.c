/* Unit tests for src/fs/recent.c: contents kept a moment after a
 * metadata load, taken once, by version and digest, bounded in age, size
 * and count. */
#include "config.h"

#include <check.h>
#include <string.h>
#include <time.h>

#include "recent.h"
#include "secure.h"
#include "unit.h"

static uint8_t *content(const char *s)
{
	uint8_t *p = ec_secure_alloc(strlen(s));

	ck_assert_ptr_nonnull(p);
	memcpy(p, s, strlen(s));
	return p;
}

START_TEST(test_take_once)
{
	struct ec_fsmeta_key k = { 1, 2, 3, 4, 5 }, other = { 1, 2, 3, 4, 6 };
	struct ec_recent *r;
	uint8_t *got = NULL;
	size_t len = 0;

	ck_assert_int_eq(ec_secure_init(), 0);
	ck_assert_int_eq(ec_recent_new(&r), 0);
	ec_recent_put(r, &k, 7, content("hello"), 5, 1000);
	ck_assert(!ec_recent_take(r, &other, 7, 1000, &got, &len));
	ck_assert(!ec_recent_take(r, &k, 8, 1000, &got, &len));	/* digest */
	ck_assert(ec_recent_take(r, &k, 7, 1000 + EC_RECENT_US, &got, &len));
	ck_assert_uint_eq(len, 5);
	ck_assert_mem_eq(got, "hello", 5);
	ec_secure_free(got);
	ck_assert(!ec_recent_take(r, &k, 7, 1000, &got, &len));	/* once */
	/* Too old: gone. */
	ec_recent_put(r, &k, 7, content("x"), 1, 1000);
	ck_assert(!ec_recent_take(r, &k, 7, 1001 + EC_RECENT_US, &got, &len));
	/* One big one is kept, alone of its size: the last wins. */
	ec_recent_put(r, &k, 7, ec_secure_alloc(EC_RECENT_ENTRY_MAX + 1),
		      EC_RECENT_ENTRY_MAX + 1, 1000);
	ec_recent_put(r, &other, 9, ec_secure_alloc(EC_RECENT_ENTRY_MAX + 2),
		      EC_RECENT_ENTRY_MAX + 2, 1000);
	ck_assert(!ec_recent_take(r, &k, 7, 1000, &got, &len));
	ck_assert(ec_recent_take(r, &other, 9, 1000, &got, &len));
	ck_assert_uint_eq(len, EC_RECENT_ENTRY_MAX + 2);
	ec_secure_free(got);
	ec_recent_free(r);
}
END_TEST

/* The table turns round: the oldest goes first. */
START_TEST(test_bounded)
{
	struct ec_fsmeta_key k = { 1, 0, 0, 0, 0 };
	struct ec_recent *r;
	uint8_t *got;
	size_t len, i;

	ck_assert_int_eq(ec_recent_new(&r), 0);
	for (i = 0; i <= EC_RECENT_SLOTS; i++) {
		k.ino = i;
		ec_recent_put(r, &k, 1, content("y"), 1, 5000);
	}
	k.ino = 0;
	ck_assert(!ec_recent_take(r, &k, 1, 5000, &got, &len));
	k.ino = EC_RECENT_SLOTS;
	ck_assert(ec_recent_take(r, &k, 1, 5000, &got, &len));
	ec_secure_free(got);
	ec_recent_free(r);
	ec_recent_free(NULL);
}
END_TEST

/* A content of len bytes that tells i apart. */
static uint8_t *pattern(size_t i, size_t len)
{
	uint8_t *p = ec_secure_alloc(len);
	size_t j;

	ck_assert_ptr_nonnull(p);
	for (j = 0; j < len; j++)
		p[j] = (uint8_t)(i * 31 + j);
	return p;
}

static size_t len_of(size_t i)
{
	return 1 + i * 7919 % EC_RECENT_ENTRY_MAX;
}

/* The arena turns round, bounded in bytes: the newest stay whole, the
 * oldest go, taken ones make room as they pass. */
START_TEST(test_arena)
{
	struct ec_fsmeta_key k = { 3, 0, 0, 0, 0 };
	size_t i, n, kept = 0, bytes = 0;
	struct ec_recent *r;
	uint8_t *got;
	size_t len;

	ck_assert_int_eq(ec_recent_new(&r), 0);
	for (n = 0; bytes < 3 * EC_RECENT_BYTES; n++) {
		k.ino = n;
		ec_recent_put(r, &k, n, pattern(n, len_of(n)), len_of(n), 7000);
		bytes += len_of(n);
		if (n % 5 == 4) {	/* taken at once, whole */
			uint8_t *want = pattern(n, len_of(n));

			ck_assert(ec_recent_take(r, &k, n, 7000, &got, &len));
			ck_assert_uint_eq(len, len_of(n));
			ck_assert_mem_eq(got, want, len);
			ec_secure_free(want);
			ec_secure_free(got);
		}
	}
	/* From the newest back: whole while they fit, then none. */
	bytes = 0;
	for (i = n; i-- > 0;) {
		if (i % 5 == 4)
			continue;
		k.ino = i;
		bytes += len_of(i);
		if (ec_recent_take(r, &k, i, 7000, &got, &len)) {
			uint8_t *want = pattern(i, len_of(i));

			ck_assert_uint_eq(len, len_of(i));
			ck_assert_mem_eq(got, want, len);
			ec_secure_free(want);
			ec_secure_free(got);
			kept++;
			ck_assert_uint_le(bytes, EC_RECENT_BYTES);
		} else {
			ck_assert_uint_ge(bytes, EC_RECENT_BYTES / 2);
		}
	}
	ck_assert_uint_ge(kept, 100);
	/* Expired: all go (and the arena with them). */
	k.ino = n;
	ec_recent_put(r, &k, 1, content("z"), 1, 7000);
	ck_assert(!ec_recent_take(r, &k, 1, 7001 + EC_RECENT_US, &got, &len));
	ec_recent_free(r);
}
END_TEST

/* A new ring holding one big content for k (digest 3), put at 1000. */
static struct ec_recent *with_big(const struct ec_fsmeta_key *k)
{
	struct ec_recent *r;

	ck_assert_int_eq(ec_recent_new(&r), 0);
	ec_recent_put(r, k, 3, ec_secure_alloc(EC_RECENT_ENTRY_MAX + 1),
		      EC_RECENT_ENTRY_MAX + 1, 1000);
	return r;
}

/* The big one is kept EC_RECENT_US from when it came, however long
 * before that its read began (a 256 MiB decryption on a loaded machine
 * takes seconds), and tells that instant. */
START_TEST(test_big_from_put)
{
	struct ec_fsmeta_key k = { 5, 0, 0, 0, 0 };
	struct ec_recent *r = with_big(&k);
	uint8_t *got = NULL;
	size_t len = 0;
	int64_t at = 0;

	ck_assert(!ec_recent_take_big(r, &k, 4, 1000 + 5 * EC_RECENT_US,
				      &got, &len, &at));	/* digest */
	ck_assert(ec_recent_take_big(r, &k, 3, 1000 + 5 * EC_RECENT_US, &got,
				     &len, &at));
	ck_assert_uint_eq(len, EC_RECENT_ENTRY_MAX + 1);
	ck_assert(at == 1000);
	ec_secure_free(got);
	ck_assert(!ec_recent_take_big(r, &k, 3, 1000, &got, &len, &at));
	ec_recent_free(r);
}
END_TEST

/* A writer truncating the version drops its big one at once (any digest);
 * another version's stays. */
START_TEST(test_drop_big)
{
	struct ec_fsmeta_key k = { 5, 0, 0, 0, 0 }, other = { 6, 0, 0, 0, 0 };
	struct ec_recent *r = with_big(&k);
	uint8_t *got = NULL;
	size_t len = 0;
	int64_t at = 0;

	ec_recent_drop_big(r, &other);
	ck_assert(ec_recent_take_big(r, &k, 3, 1000, &got, &len, &at));
	ec_secure_free(got);
	ec_recent_free(r);
	r = with_big(&k);
	ec_recent_drop_big(r, &k);
	ck_assert(!ec_recent_take_big(r, &k, 3, 1000, &got, &len, &at));
	ec_recent_free(r);
}
END_TEST

/* Nobody asks again: the reaper still wipes it once it is due, by the
 * callers' clock as it runs on. */
START_TEST(test_reaper)
{
	struct ec_fsmeta_key k = { 4, 0, 0, 0, 0 };
	struct timespec ts = { EC_RECENT_US / 1000000,
			       EC_RECENT_US % 1000000 * 1000 + 300000000 };
	struct ec_recent *r;
	uint8_t *got;
	size_t len;

	ck_assert_int_eq(ec_recent_new(&r), 0);
	ec_recent_put(r, &k, 1, content("w"), 1, 9000);
	ec_recent_put(r, &k, 2, ec_secure_alloc(EC_RECENT_ENTRY_MAX + 1),
		      EC_RECENT_ENTRY_MAX + 1, 9000);
	while (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	nanosleep(&ts, NULL);
	/* Asked as of the instant they came: gone all the same. */
	ck_assert(!ec_recent_take(r, &k, 1, 9000, &got, &len));
	ck_assert(!ec_recent_take(r, &k, 2, 9000, &got, &len));
	ec_recent_free(r);
}
END_TEST

static Suite *recent_suite(void)
{
	Suite *s = suite_create("recent");
	TCase *tc = tcase_create("recent");

	tcase_add_test(tc, test_take_once);
	tcase_add_test(tc, test_bounded);
	tcase_add_test(tc, test_arena);
	tcase_add_test(tc, test_reaper);
	tcase_add_test(tc, test_big_from_put);
	tcase_add_test(tc, test_drop_big);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ec_test_run(recent_suite());
}
