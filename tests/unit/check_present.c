/* Unit tests for src/fs/present.c: what the kernel is told about a node
 * (attributes, the one decision whether a reply may be cached and for how
 * long), which entries are shown, and loading envelope bytes with their
 * digest (how open tells a rewritten-in-place version apart). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs.h"
#include "secure.h"
#include "ttl.h"
#include "unit.h"

#define FAST 1000	/* PBKDF2 iterations for the test's cache */

static char *tmp;
static struct ecfs fs;

static void setup(void)
{
	const char *sj = "{\"default\": \"pw\"}";
	struct ec_cache_options o = {
		.salt = (const uint8_t *)"salt", .salt_len = 4,
		.ttl = { EC_TTL_DURATION, 3600 * 1000000LL },
		.oldest_valid_us = EC_TIME_NONE, .iterations = FAST,
	};
	struct ec_secrets s;

	ck_assert_int_eq(ec_secure_init(), 0);
	tmp = ec_test_tmpdir("ec-present");
	o.dir = tmp;
	memset(&fs, 0, sizeof(fs));
	ck_assert_int_eq(ec_secrets_parse(sj, strlen(sj), &s), 0);
	ck_assert_int_eq(ec_cache_open(&o, &s, &fs.cache), 0);
	fs.store = ec_cache_store(fs.cache);
	fs.view = EC_VIEW_AUTO;
	fs.timeout = 60;
	fs.uid = 1234;
	fs.gid = 5678;
	pthread_mutex_init(&fs.lock, NULL);
	ck_assert_int_eq(ec_nodes_init(&fs.nodes), 0);
	ck_assert_int_eq(ec_fsmeta_new(0, &fs.meta), 0);
}

static void teardown(void)
{
	ec_nodes_release(&fs.nodes);
	ec_fsmeta_free(fs.meta);
	ec_cache_free(fs.cache);
	pthread_mutex_destroy(&fs.lock);
	ec_test_rm_rf(tmp);
	free(tmp);
}

static void save(const char *id, const char *data)
{
	struct ec_save_options o = { .created_us = EC_TIME_NONE };

	ck_assert_int_eq(ec_cache_save(fs.cache, id, (const uint8_t *)data,
				       strlen(data), &o), 0);
}

static struct node *entry_node(const char *name, int64_t expires_us)
{
	struct node *n = ec_node_new(&fs.nodes, &fs.nodes.root, name, false);

	ck_assert_ptr_nonnull(n);
	n->info.state = EC_STATE_VALID;
	n->info.expires_us = expires_us;
	n->info.created_us = 1700000000LL * 1000000;
	n->info.size = 11;
	return n;
}

START_TEST(attributes)
{
	struct node *n = entry_node("e", EC_TIME_NEVER);
	struct stat a;

	ec_present_attr(&fs, n, &a);
	ck_assert_uint_eq(a.st_mode, S_IFREG | 0600);
	ck_assert_uint_eq(a.st_uid, 1234);
	ck_assert_uint_eq(a.st_gid, 5678);
	ck_assert_int_eq(a.st_size, 11);
	ck_assert_int_eq(a.st_mtim.tv_sec, 1700000000);
	ck_assert_uint_eq(a.st_ino, n->ino);
	/* While a writer has unsaved changes, its length shows. */
	n->ndirty = 1;
	n->wlen = 3;
	n->wtime_us = 1800000000LL * 1000000;
	ec_present_attr(&fs, n, &a);
	ck_assert_int_eq(a.st_size, 3);
	ck_assert_int_eq(a.st_mtim.tv_sec, 1800000000);
	ec_present_attr(&fs, &fs.nodes.root, &a);
	ck_assert_uint_eq(a.st_mode, S_IFDIR | 0700);
}
END_TEST

START_TEST(timeouts)
{
	int64_t now = 1700000000LL * 1000000;
	struct node *n = entry_node("e", EC_TIME_NEVER);
	struct node *x = entry_node("x", now + 5 * 1000000);
	struct node *gone = entry_node("g", now - 1);

	ck_assert(ec_present_timeout(&fs, n, now, true) == 60);
	ck_assert(ec_present_timeout(&fs, n, now, false) == 0);
	/* Never past the entry's expiry instant, never negative. */
	ck_assert(ec_present_timeout(&fs, x, now, true) == 5);
	ck_assert(ec_present_timeout(&fs, gone, now, true) == 0);
	/* Never while it is written or being created. */
	n->nwriters = 1;
	ck_assert(ec_present_timeout(&fs, n, now, true) == 0);
	n->nwriters = 0;
	n->pending = true;
	ck_assert(ec_present_timeout(&fs, n, now, true) == 0);
	ck_assert(ec_present_timeout(&fs, &fs.nodes.root, now, true) == 60);
	fs.timeout = 0;
	ck_assert(ec_present_timeout(&fs, &fs.nodes.root, now, true) == 0);
}
END_TEST

START_TEST(shown)
{
	int64_t t0 = 1700000000LL * 1000000, hour = 3600LL * 1000000;
	struct ec_fsmeta_info mi = { .state = EC_STATE_VALID,
				     .created_us = t0,
				     .expires_us = t0 + hour };

	/* The cache's TTL (an hour) from created_at decides. */
	ck_assert(ec_present_shown(&fs, &mi, t0 + hour));
	ck_assert(!ec_present_shown(&fs, &mi, t0 + hour + 1));
	mi.state = EC_STATE_TAMPERED;
	ck_assert(!ec_present_shown(&fs, &mi, t0));
	mi.state = EC_STATE_STALE;
	ck_assert(!ec_present_shown(&fs, &mi, t0));
	mi.state = EC_STATE_CORRUPT;	/* e.g. a view that cannot render */
	ck_assert(!ec_present_shown(&fs, &mi, t0));
}
END_TEST

/* Loading remembers the version with its digest; the bytes of another
 * version have another digest; torn bytes are corrupt. */
START_TEST(load_and_digest)
{
	struct ec_fsmeta_key key, k2;
	struct ec_fsmeta_info mi, got;
	uint8_t *content = NULL;
	size_t clen = 0, envlen;
	char path[PATH_MAX];
	struct stat st;
	char *env;

	save("a/b", "hello world");
	ck_assert_int_eq(ec_present_load(&fs, "a/b", ec_clock_now_us(), NULL,
					 &key, &mi, &content, &clen), 0);
	ck_assert_int_eq(mi.state, EC_STATE_VALID);
	ck_assert_uint_eq(mi.size, 11);
	ck_assert_uint_eq(clen, 11);
	ck_assert_mem_eq(content, "hello world", 11);
	ec_secure_free(content);
	snprintf(path, sizeof(path), "%s/a/b.enc.json", tmp);
	env = ec_test_slurp(path, &envlen);
	ck_assert(ec_fsmeta_digest(env, envlen) == mi.digest);
	ck_assert(ec_fsmeta_get(fs.meta, &key, &got));
	ck_assert(got.digest == mi.digest);

	/* Rewritten: another digest. */
	save("a/b", "hello world");
	ck_assert_int_eq(ec_present_load(&fs, "a/b", ec_clock_now_us(), NULL,
					 &k2, &got, NULL, NULL), 0);
	ck_assert(got.digest != mi.digest);

	/* Cut short (as while the Python module writes in place). */
	ck_assert_int_eq(stat(path, &st), 0);
	ec_present_bytes(&fs, "a/b", env, envlen / 2, &st, ec_clock_now_us(),
			 EC_LOAD_DATA, &got, &content, &clen);
	ck_assert_int_eq(got.state, EC_STATE_CORRUPT);
	ck_assert_ptr_null(content);
	free(env);
	ck_assert_int_eq(ec_present_load(&fs, "nope", 0, NULL, &key, &mi,
					 NULL, NULL), -ENOENT);
}
END_TEST

/* Metadata from the cache when the version is known, loaded otherwise. */
START_TEST(meta_cached)
{
	struct ec_fsmeta_key key, k2;
	struct ec_fsmeta_info mi, m2;
	struct stat st;

	save("m", "x");
	ck_assert_int_eq(ec_store_stat_entry(fs.store, "m", &st), 0);
	ck_assert_int_eq(ec_present_meta(&fs, "m", &st, ec_clock_now_us(),
					 &key, &mi), 0);
	ck_assert_uint_eq(ec_fsmeta_count(fs.meta), 1);
	ck_assert_int_eq(ec_present_meta(&fs, "m", NULL, ec_clock_now_us(),
					 &k2, &m2), 0);
	ck_assert(ec_fsmeta_key_equal(&key, &k2));
	ck_assert_uint_eq(m2.size, 1);
	ck_assert_uint_eq(ec_fsmeta_count(fs.meta), 1);
}
END_TEST

/* A lookup's node: the same for the same version, a new one (and the old
 * one off the name) for another. */
START_TEST(file_nodes_follow_versions)
{
	struct ec_fsmeta_key k1 = { 1, 2, 3, 4, 5 }, k2 = { 1, 2, 3, 4, 6 };
	struct ec_fsmeta_info mi = { .state = EC_STATE_VALID };
	struct node *a, *b;

	pthread_mutex_lock(&fs.lock);
	a = ec_present_file_node(&fs, &fs.nodes.root, "f", &k1, &mi);
	ck_assert_ptr_eq(ec_present_file_node(&fs, &fs.nodes.root, "f", &k1,
					      &mi), a);
	b = ec_present_file_node(&fs, &fs.nodes.root, "f", &k2, &mi);
	ck_assert_ptr_ne(a, b);
	ck_assert(!a->hashed);
	ck_assert_ptr_eq(ec_node_child(&fs.nodes, &fs.nodes.root, "f"), b);
	ck_assert(!a->reversioned && !b->reversioned);
	pthread_mutex_unlock(&fs.lock);
}
END_TEST

/* A node that handles follow (a writer open) takes the version found in
 * place, and is marked as having held another (no pages stored ahead for
 * it: the kernel may hold the other's pages and size). */
START_TEST(followed_node_takes_version)
{
	struct ec_fsmeta_key k1 = { 1, 2, 3, 4, 5 }, k2 = { 1, 2, 3, 4, 6 };
	struct ec_fsmeta_info mi = { .state = EC_STATE_VALID };
	struct node *a;

	pthread_mutex_lock(&fs.lock);
	a = ec_present_file_node(&fs, &fs.nodes.root, "f", &k1, &mi);
	a->nopen = a->nwriters = 1;
	ck_assert_ptr_eq(ec_present_file_node(&fs, &fs.nodes.root, "f", &k2,
					      &mi), a);
	ck_assert(ec_fsmeta_key_equal(&a->key, &k2));
	ck_assert(a->reversioned);
	a->nopen = a->nwriters = 0;
	pthread_mutex_unlock(&fs.lock);
}
END_TEST

static Suite *present_suite(void)
{
	Suite *s = suite_create("present");
	TCase *tc = tcase_create("present");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, attributes);
	tcase_add_test(tc, timeouts);
	tcase_add_test(tc, shown);
	tcase_add_test(tc, load_and_digest);
	tcase_add_test(tc, meta_cached);
	tcase_add_test(tc, file_nodes_follow_versions);
	tcase_add_test(tc, followed_node_takes_version);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ec_test_run(present_suite());
}
