/* Unit tests for src/fsmeta.c: keys, hits and misses, LRU eviction,
 * extended attributes, log-once, concurrency. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsmeta.h"
#include "ttl.h"
#include "unit.h"

static struct ec_fsmeta *m;

static void setup(void)
{
	ck_assert_int_eq(ec_fsmeta_new(3, &m), 0);
}

static void teardown(void)
{
	ec_fsmeta_free(m);
	m = NULL;
}

static struct ec_fsmeta_key key(uint64_t ino)
{
	struct ec_fsmeta_key k = { 1, ino, 100, 2000, 3000 };

	return k;
}

static struct ec_fsmeta_info info(uint64_t size)
{
	struct ec_fsmeta_info i = { .state = EC_STATE_VALID, .created_us = 10,
				     .expires_us = 20, .size = size,
				     .is_bplist = true, .digest = 7 };

	return i;
}

static void put(uint64_t ino, uint64_t size)
{
	struct ec_fsmeta_key k = key(ino);
	struct ec_fsmeta_info i = info(size);

	ck_assert_int_eq(ec_fsmeta_put(m, &k, &i, NULL, 0), 0);
}

static bool has(uint64_t ino)
{
	struct ec_fsmeta_key k = key(ino);
	struct ec_fsmeta_info i;

	return ec_fsmeta_get(m, &k, &i);
}

/* --- keys --------------------------------------------------------------- */

START_TEST(test_key_of_stat)
{
	struct stat st;
	struct ec_fsmeta_key k;

	memset(&st, 0, sizeof(st));
	st.st_dev = 7;
	st.st_ino = 8;
	st.st_size = 9;
	st.st_mtim.tv_sec = 1;
	st.st_mtim.tv_nsec = 2;
	st.st_ctim.tv_sec = 3;
	st.st_ctim.tv_nsec = 4;
	ec_fsmeta_key_of(&k, &st);
	ck_assert_uint_eq(k.dev, 7);
	ck_assert_uint_eq(k.ino, 8);
	ck_assert_int_eq(k.size, 9);
	ck_assert_int_eq(k.mtime_ns, 1000000002);
	ck_assert_int_eq(k.ctime_ns, 3000000004);
}
END_TEST

START_TEST(test_key_equal_each_field)
{
	struct ec_fsmeta_key a = key(5), b;

	b = a;
	ck_assert(ec_fsmeta_key_equal(&a, &b));
	b = a; b.dev++;
	ck_assert(!ec_fsmeta_key_equal(&a, &b));
	b = a; b.ino++;
	ck_assert(!ec_fsmeta_key_equal(&a, &b));
	b = a; b.size++;
	ck_assert(!ec_fsmeta_key_equal(&a, &b));
	b = a; b.mtime_ns++;
	ck_assert(!ec_fsmeta_key_equal(&a, &b));
	b = a; b.ctime_ns++;
	ck_assert(!ec_fsmeta_key_equal(&a, &b));
}
END_TEST

/* --- get and put -------------------------------------------------------- */

/* The digest tells two envelopes apart and is kept with the info. */
START_TEST(test_digest)
{
	struct ec_fsmeta_key k = key(9);
	struct ec_fsmeta_info in = info(1), out;
	uint64_t a = ec_fsmeta_digest("abc", 3), b = ec_fsmeta_digest("abd", 3);

	ck_assert(a != b);
	ck_assert(a == ec_fsmeta_digest("abc", 3));
	ck_assert(ec_fsmeta_digest("", 0) != a);
	in.digest = a;
	ck_assert_int_eq(ec_fsmeta_put(m, &k, &in, NULL, 0), 0);
	ck_assert(ec_fsmeta_get(m, &k, &out));
	ck_assert(out.digest == a);
}
END_TEST

START_TEST(test_miss_then_hit)
{
	struct ec_fsmeta_key k = key(1);
	struct ec_fsmeta_info i, want = info(42);

	ck_assert(!ec_fsmeta_get(m, &k, &i));
	ck_assert_int_eq(ec_fsmeta_put(m, &k, &want, NULL, 0), 0);
	memset(&i, 0xaa, sizeof(i));
	ck_assert(ec_fsmeta_get(m, &k, &i));
	ck_assert_int_eq(i.state, EC_STATE_VALID);
	ck_assert_uint_eq(i.size, 42);
	ck_assert_int_eq(i.created_us, 10);
	ck_assert_int_eq(i.expires_us, 20);
	ck_assert(i.is_bplist);
	ck_assert_uint_eq(ec_fsmeta_count(m), 1);
}
END_TEST

START_TEST(test_other_version_misses)
{
	struct ec_fsmeta_key k = key(1);
	struct ec_fsmeta_info i;

	put(1, 42);
	k.ctime_ns++;		/* the file changed */
	ck_assert(!ec_fsmeta_get(m, &k, &i));
}
END_TEST

START_TEST(test_replace_same_key)
{
	struct ec_fsmeta_key k = key(1);
	struct ec_fsmeta_info i;

	put(1, 42);
	put(1, 43);
	ck_assert(ec_fsmeta_get(m, &k, &i));
	ck_assert_uint_eq(i.size, 43);
	ck_assert_uint_eq(ec_fsmeta_count(m), 1);
}
END_TEST

START_TEST(test_bad_states_kept)
{
	struct ec_fsmeta_key k = key(9);
	struct ec_fsmeta_info i = { .state = EC_STATE_TAMPERED,
				    .reason = -4099,
				    .created_us = EC_TIME_NONE,
				    .expires_us = EC_TIME_NONE }, got;

	ck_assert_int_eq(ec_fsmeta_put(m, &k, &i, NULL, 0), 0);
	ck_assert(ec_fsmeta_get(m, &k, &got));
	ck_assert_int_eq(got.state, EC_STATE_TAMPERED);
	ck_assert_int_eq(got.reason, -4099);
}
END_TEST

/* --- eviction ----------------------------------------------------------- */

START_TEST(test_lru_evicts_least_recent)
{
	put(1, 1);
	put(2, 2);
	put(3, 3);
	ck_assert(has(1));	/* 1 is now the most recent; 2 the least */
	put(4, 4);
	ck_assert_uint_eq(ec_fsmeta_count(m), 3);
	ck_assert(!has(2));
	ck_assert(has(1));
	ck_assert(has(3));
	ck_assert(has(4));
}
END_TEST

START_TEST(test_many_stays_bounded)
{
	uint64_t i;

	for (i = 0; i < 1000; i++)
		put(i, i);
	ck_assert_uint_eq(ec_fsmeta_count(m), 3);
	ck_assert(has(999));
	ck_assert(has(998));
	ck_assert(has(997));
	ck_assert(!has(996));
}
END_TEST

/* The default cache is bounded by memory, not at 65,536 entries as it
 * was: 66,000 listed entries (with the attributes the daemon stores for
 * each) all stay, at under 160 bytes each. */
START_TEST(test_default_max)
{
	char created[EC_TIME_ISO_MAX], expires[EC_TIME_ISO_MAX];
	char v[EC_TIME_ISO_MAX];
	struct ec_fsmeta_xattr typical[] = {
		{ "user.enccache.key", "default" },
		{ "user.enccache.created_at", created },
		{ "user.enccache.expires_at", expires },
		{ "user.enccache.format", "bplist" },
	};
	struct ec_fsmeta *d;
	uint64_t i;

	/* As present.c writes them for info()'s times and format: kept
	 * as codes, the values rebuilt from the info. */
	ec_time_format_iso(10, created);
	ec_time_format_iso(20, expires);
	ck_assert_int_eq(ec_fsmeta_new(0, &d), 0);
	for (i = 0; i < 66000; i++) {
		struct ec_fsmeta_key k = key(i);
		struct ec_fsmeta_info in = info(i);

		ck_assert_int_eq(ec_fsmeta_put(d, &k, &in, typical, 4), 0);
	}
	ck_assert_uint_eq(ec_fsmeta_count(d), 66000);
	for (i = 0; i < 66000; i += 997) {
		struct ec_fsmeta_key k = key(i);
		struct ec_fsmeta_info in;

		ck_assert(ec_fsmeta_get(d, &k, &in));
		ck_assert_int_eq(ec_fsmeta_getxattr(d, &k, "user.enccache.format",
						    v, sizeof(v)), 6);
		ck_assert(memcmp(v, "bplist", 6) == 0);
		ck_assert_int_eq(ec_fsmeta_getxattr(d, &k,
						    "user.enccache.expires_at",
						    v, sizeof(v)),
				 (int)strlen(expires));
		ck_assert(memcmp(v, expires, strlen(expires)) == 0);
	}
	/* The figure quoted in the man page. */
	ck_assert_uint_lt(ec_fsmeta_memory(d) / 66000, 160);
	ec_fsmeta_free(d);
}
END_TEST

/* --- extended attributes ------------------------------------------------ */

static const struct ec_fsmeta_xattr xa[] = {
	{ "user.enccache.key", "default" },
	{ "user.enccache.comment", "" },
	{ "user.enccache.format", "bplist" },
};

static void put_x(void)
{
	struct ec_fsmeta_key k = key(1);
	struct ec_fsmeta_info i = info(1);

	ck_assert_int_eq(ec_fsmeta_put(m, &k, &i, xa, 3), 0);
}

START_TEST(test_getxattr)
{
	struct ec_fsmeta_key k = key(1);
	char buf[16];

	put_x();
	ck_assert_int_eq(ec_fsmeta_getxattr(m, &k, "user.enccache.key", NULL,
					    0), 7);
	memset(buf, 'x', sizeof(buf));
	ck_assert_int_eq(ec_fsmeta_getxattr(m, &k, "user.enccache.key", buf,
					    sizeof(buf)), 7);
	ck_assert_mem_eq(buf, "defaultx", 8);	/* no NUL written */
	ck_assert_int_eq(ec_fsmeta_getxattr(m, &k, "user.enccache.format",
					    buf, 6), 6);
	ck_assert_mem_eq(buf, "bplist", 6);
	ck_assert_int_eq(ec_fsmeta_getxattr(m, &k, "user.enccache.comment",
					    buf, sizeof(buf)), 0);
}
END_TEST

/* A name the daemon does not use is stored whole, beside coded ones. */
START_TEST(test_xattr_other_name)
{
	static const struct ec_fsmeta_xattr x[] = {
		{ "user.enccache.key", "k" },
		{ "user.custom.thing", "value" },
		{ "user.enccache.format", "raw" },
	};
	static const char want[] = "user.enccache.key\0user.custom.thing\0"
				   "user.enccache.format";
	struct ec_fsmeta_key k = key(5);
	struct ec_fsmeta_info i = info(5);
	char buf[64];

	ck_assert_int_eq(ec_fsmeta_put(m, &k, &i, x, 3), 0);
	ck_assert_int_eq(ec_fsmeta_getxattr(m, &k, "user.custom.thing", buf,
					    sizeof(buf)), 5);
	ck_assert_mem_eq(buf, "value", 5);
	ck_assert_int_eq(ec_fsmeta_getxattr(m, &k, "user.enccache.format", buf,
					    sizeof(buf)), 3);
	ck_assert_mem_eq(buf, "raw", 3);
	ck_assert_int_eq(ec_fsmeta_listxattr(m, &k, NULL, 0), sizeof(want));
	ck_assert_int_eq(ec_fsmeta_listxattr(m, &k, buf, sizeof(buf)),
			 sizeof(want));
	ck_assert_mem_eq(buf, want, sizeof(want));
}
END_TEST

START_TEST(test_getxattr_errors)
{
	struct ec_fsmeta_key k = key(1), other = key(2);
	char buf[16];

	put_x();
	ck_assert_int_eq(ec_fsmeta_getxattr(m, &k, "user.enccache.key", buf, 3),
			 -ERANGE);
	ck_assert_int_eq(ec_fsmeta_getxattr(m, &k, "user.other", buf,
					    sizeof(buf)), -ENODATA);
	ck_assert_int_eq(ec_fsmeta_getxattr(m, &k, "user.enccache.ke", buf,
					    sizeof(buf)), -ENODATA);
	ck_assert_int_eq(ec_fsmeta_getxattr(m, &other, "user.enccache.key",
					    buf, sizeof(buf)), -ENOENT);
}
END_TEST

START_TEST(test_listxattr)
{
	static const char want[] = "user.enccache.key\0user.enccache.comment\0"
				   "user.enccache.format";
	struct ec_fsmeta_key k = key(1);
	char buf[128];

	put_x();
	ck_assert_int_eq(ec_fsmeta_listxattr(m, &k, NULL, 0), sizeof(want));
	ck_assert_int_eq(ec_fsmeta_listxattr(m, &k, buf, sizeof(buf)),
			 sizeof(want));
	ck_assert_mem_eq(buf, want, sizeof(want));
	ck_assert_int_eq(ec_fsmeta_listxattr(m, &k, buf, sizeof(want) - 1),
			 -ERANGE);
}
END_TEST

START_TEST(test_listxattr_empty_and_missing)
{
	struct ec_fsmeta_key k = key(1), other = key(2);
	char buf[8];

	put(1, 1);
	ck_assert_int_eq(ec_fsmeta_listxattr(m, &k, NULL, 0), 0);
	ck_assert_int_eq(ec_fsmeta_listxattr(m, &k, buf, sizeof(buf)), 0);
	ck_assert_int_eq(ec_fsmeta_getxattr(m, &k, "user.enccache.key", buf,
					    sizeof(buf)), -ENODATA);
	ck_assert_int_eq(ec_fsmeta_listxattr(m, &other, buf, sizeof(buf)),
			 -ENOENT);
}
END_TEST

START_TEST(test_xattrs_die_with_entry)
{
	struct ec_fsmeta_key k = key(1);
	char buf[16];

	put_x();
	put(2, 2);
	put(3, 3);
	put(4, 4);		/* evicts 1 */
	ck_assert_int_eq(ec_fsmeta_getxattr(m, &k, "user.enccache.key", buf,
					    sizeof(buf)), -ENOENT);
}
END_TEST

START_TEST(test_copy)
{
	struct ec_fsmeta_key k = key(1), to = key(1), other = key(7);
	struct ec_fsmeta_info got;
	char buf[16];

	to.ctime_ns = 9999;	/* a rename changes only the ctime */
	put_x();
	ck_assert_int_eq(ec_fsmeta_copy(m, &k, &to), 0);
	ck_assert(ec_fsmeta_get(m, &to, &got));
	ck_assert_uint_eq(got.size, 1);
	ck_assert(ec_fsmeta_get(m, &k, &got));	/* the source stays */
	ck_assert_int_eq(ec_fsmeta_getxattr(m, &to, "user.enccache.key", buf,
					    sizeof(buf)), 7);
	ck_assert_mem_eq(buf, "default", 7);
	ck_assert_int_eq(ec_fsmeta_listxattr(m, &to, NULL, 0),
			 ec_fsmeta_listxattr(m, &k, NULL, 0));
	ck_assert_uint_eq(ec_fsmeta_count(m), 2);
	/* Copying onto itself, or again, changes nothing. */
	ck_assert_int_eq(ec_fsmeta_copy(m, &k, &k), 0);
	ck_assert_int_eq(ec_fsmeta_copy(m, &k, &to), 0);
	ck_assert_uint_eq(ec_fsmeta_count(m), 2);
	/* An uncached source: -ENOENT, nothing added. */
	ck_assert_int_eq(ec_fsmeta_copy(m, &other, &to), -ENOENT);
	ck_assert_int_eq(ec_fsmeta_copy(m, &other, &other), -ENOENT);
	ck_assert_uint_eq(ec_fsmeta_count(m), 2);
}
END_TEST

START_TEST(test_copy_stays_bounded)
{
	struct ec_fsmeta_key from = key(3), to = key(4);
	struct ec_fsmeta_info got;

	put(1, 1);
	put(2, 2);
	put(3, 3);		/* full (max 3) */
	ck_assert_int_eq(ec_fsmeta_copy(m, &from, &to), 0);
	ck_assert_uint_eq(ec_fsmeta_count(m), 3);
	ck_assert(!has(1));	/* least recently used */
	ck_assert(ec_fsmeta_get(m, &to, &got));
	ck_assert_uint_eq(got.size, 3);
	/* The source may be the one evicted: the copy survives it. */
	from = key(2);
	to = key(5);
	ck_assert_int_eq(ec_fsmeta_copy(m, &from, &to), 0);
	ck_assert_uint_eq(ec_fsmeta_count(m), 3);
	ck_assert(ec_fsmeta_get(m, &to, &got));
	ck_assert_uint_eq(got.size, 2);
}
END_TEST

/* --- log once ----------------------------------------------------------- */

START_TEST(test_once)
{
	uint64_t i;

	ck_assert(ec_fsmeta_once(m, 1, 2, 3, 1));
	ck_assert(!ec_fsmeta_once(m, 1, 2, 3, 1));
	ck_assert(ec_fsmeta_once(m, 1, 2, 3, 2));	/* another question */
	ck_assert(ec_fsmeta_once(m, 1, 2, 4, 1));	/* another version */
	ck_assert(ec_fsmeta_once(m, 1, 3, 3, 1));
	ck_assert(ec_fsmeta_once(m, 2, 2, 3, 1));
	/* Remembered for the last 4,096 questions only. */
	for (i = 0; i < 4096; i++)
		ck_assert(ec_fsmeta_once(m, 9, i, 0, 1));
	ck_assert(ec_fsmeta_once(m, 1, 2, 3, 1));
}
END_TEST

/* --- threads ------------------------------------------------------------ */

static void *hammer(void *arg)
{
	uint64_t base = (uintptr_t)arg, i;
	char buf[32];

	for (i = 0; i < 20000; i++) {
		struct ec_fsmeta_key k = key(base + i % 50);
		struct ec_fsmeta_info in = info(i), out;

		if (ec_fsmeta_put(m, &k, &in, xa, 3) != 0)
			return (void *)1;
		if (ec_fsmeta_get(m, &k, &out) && out.state != EC_STATE_VALID)
			return (void *)1;
		(void)ec_fsmeta_getxattr(m, &k, "user.enccache.key", buf,
					 sizeof(buf));
	}
	return NULL;
}

START_TEST(test_threads)
{
	pthread_t t[4];
	void *r;
	int i;

	ec_fsmeta_free(m);
	ck_assert_int_eq(ec_fsmeta_new(64, &m), 0);
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, hammer,
						(void *)(uintptr_t)(i * 25)),
				 0);
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(pthread_join(t[i], &r), 0);
		ck_assert_ptr_null(r);
	}
	ck_assert_uint_le(ec_fsmeta_count(m), 64);
}
END_TEST

static Suite *fsmeta_suite(void)
{
	Suite *s = suite_create("fsmeta");
	TCase *tc;

	tc = tcase_create("keys");
	tcase_add_test(tc, test_key_of_stat);
	tcase_add_test(tc, test_key_equal_each_field);
	suite_add_tcase(s, tc);

	tc = tcase_create("get_put");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_miss_then_hit);
	tcase_add_test(tc, test_digest);
	tcase_add_test(tc, test_other_version_misses);
	tcase_add_test(tc, test_replace_same_key);
	tcase_add_test(tc, test_bad_states_kept);
	suite_add_tcase(s, tc);

	tc = tcase_create("eviction");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_lru_evicts_least_recent);
	tcase_add_test(tc, test_many_stays_bounded);
	tcase_add_test(tc, test_default_max);
	tcase_set_timeout(tc, 30);	/* 66,000 puts under sanitizers */
	suite_add_tcase(s, tc);

	tc = tcase_create("xattrs");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_getxattr);
	tcase_add_test(tc, test_xattr_other_name);
	tcase_add_test(tc, test_getxattr_errors);
	tcase_add_test(tc, test_listxattr);
	tcase_add_test(tc, test_listxattr_empty_and_missing);
	tcase_add_test(tc, test_xattrs_die_with_entry);
	tcase_add_test(tc, test_copy);
	tcase_add_test(tc, test_copy_stays_bounded);
	suite_add_tcase(s, tc);

	tc = tcase_create("once");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_once);
	suite_add_tcase(s, tc);

	tc = tcase_create("threads");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_threads);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ec_test_run(fsmeta_suite());
}
