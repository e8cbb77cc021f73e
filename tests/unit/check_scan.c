/* Unit tests for src/scan.c (ordered parallel loads) and src/store_tidy.c
 * (temp files walked and removed, entries removed only while unchanged). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "error.h"
#include "scan.h"
#include "secure.h"
#include "store.h"
#include "unit.h"

#define FAST 1000	/* PBKDF2 iterations for caches made by the tests */
#define NENTRIES 300

static char *tmp;
static struct ec_cache *cache;

static const char *at(const char *rel)
{
	static char buf[4][PATH_MAX];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", tmp, rel);
	return buf[k];
}

static void put_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

static void setup(void)
{
	struct ec_cache_options o = {
		.salt = (const uint8_t *)"scan salt", .salt_len = 9,
		.ttl = { EC_TTL_INFINITE, 0 }, .oldest_valid_us = EC_TIME_NONE,
		.iterations = FAST,
	};
	static const char sj[] = "{\"default\": \"pw\"}";
	struct ec_secrets s;

	tmp = ec_test_tmpdir("ec-scan");
	o.dir = tmp;
	ck_assert_int_eq(ec_secrets_parse(sj, strlen(sj), &s), 0);
	ck_assert_int_eq(ec_cache_open(&o, &s, &cache), 0);
}

static void teardown(void)
{
	ec_cache_free(cache);
	cache = NULL;
	ec_test_rm_rf(tmp);
	free(tmp);
	tmp = NULL;
}

/* NENTRIES entries d<i%7>/e<i> holding "v<i>", and a few bad files. */
static void fill(void)
{
	struct ec_save_options so = { .created_us = EC_TIME_NONE };
	char id[64], data[64];
	int i;

	for (i = 0; i < NENTRIES; i++) {
		snprintf(id, sizeof(id), "d%d/e%03d", i % 7, i);
		snprintf(data, sizeof(data), "v%d", i);
		ck_assert_int_eq(ec_cache_save(cache, id, (const uint8_t *)data,
					       strlen(data), &so), 0);
	}
	put_file(at("d0/bad.enc.json"), "not json");
	put_file(at("d1/notanentry"), "x");
}

/* --- the ids and the loads ------------------------------------------- */

struct seen {
	char **ids;
	enum ec_state *states;
	size_t n;
};

static int list_cb(void *ctx, const char *id, struct ec_entry *e)
{
	struct seen *s = ctx;

	s->ids = realloc(s->ids, (s->n + 1) * sizeof(*s->ids));
	s->states = realloc(s->states, (s->n + 1) * sizeof(*s->states));
	ck_assert_ptr_nonnull(s->ids);
	ck_assert_ptr_nonnull(s->states);
	s->ids[s->n] = strdup(id);
	s->states[s->n++] = e->state;
	return 0;
}

struct check {
	const struct seen *want;
	const struct ec_scan_ids *ids;
	size_t next;
	size_t stop_at;		/* return 7 there (SIZE_MAX: never) */
};

static int load_cb(void *ctx, size_t i, int err, struct ec_entry *e)
{
	struct check *c = ctx;
	char want[64];

	ck_assert_uint_eq(i, c->next);	/* in order, each once */
	c->next++;
	ck_assert_int_eq(err, 0);
	ck_assert_int_eq(e->state, c->want->states[i]);
	if (e->state == EC_STATE_VALID) {
		snprintf(want, sizeof(want), "v%d",
			 atoi(strrchr(c->ids->ids[i], 'e') + 1));
		ck_assert_uint_eq(e->len, strlen(want));
		ck_assert(memcmp(e->data, want, e->len) == 0);
	}
	return i == c->stop_at ? 7 : 0;
}

START_TEST(test_scan_matches_list)
{
	static const unsigned threads[] = { 1, 2, 3, 8, 0 };
	struct seen want = { 0 };
	struct ec_scan_ids ids;
	size_t i, t;

	fill();
	ck_assert_int_eq(ec_cache_list(cache, 0, 0, list_cb, &want), 0);
	ck_assert_uint_eq(want.n, NENTRIES + 1);
	ck_assert_int_eq(ec_scan_list(cache, &ids), 0);
	ck_assert_uint_eq(ids.n, want.n);
	for (i = 0; i < ids.n; i++) {
		ck_assert_str_eq(ids.ids[i], want.ids[i]);
		ck_assert(S_ISREG(ids.st[i].st_mode));
	}
	for (t = 0; t < sizeof(threads) / sizeof(*threads); t++) {
		struct ec_scan_options o = { EC_LOAD_DATA, 0, threads[t] };
		struct check c = { &want, &ids, 0, SIZE_MAX };

		ck_assert_int_eq(ec_scan_load(cache,
					      (const char *const *)ids.ids,
					      ids.n, &o, load_cb, &c), 0);
		ck_assert_uint_eq(c.next, ids.n);
	}
	/* a callback's non-zero return stops the scan and is returned;
	 * entries loaded ahead are released (the sanitizer build checks) */
	for (t = 0; t < sizeof(threads) / sizeof(*threads); t++) {
		struct ec_scan_options o = { EC_LOAD_DATA, 0, threads[t] };
		struct check c = { &want, &ids, 0, 10 };

		ck_assert_int_eq(ec_scan_load(cache,
					      (const char *const *)ids.ids,
					      ids.n, &o, load_cb, &c), 7);
		ck_assert_uint_eq(c.next, 11);
	}
	ec_scan_ids_release(&ids);
	ck_assert_uint_eq(ids.n, 0);
	for (i = 0; i < want.n; i++)
		free(want.ids[i]);
	free(want.ids);
	free(want.states);
}
END_TEST

static int err_cb(void *ctx, size_t i, int err, struct ec_entry *e)
{
	int *errs = ctx;

	errs[i] = err;
	ck_assert(err ? e == NULL : e != NULL);
	return 0;
}

START_TEST(test_scan_errors)
{
	const char *ids[] = { "d0/e000", "nosuch", "../up", "d0" };
	struct ec_scan_options o = { 0, 0, 2 };
	int errs[4] = { 1, 1, 1, 1 };
	struct ec_scan_ids none;

	fill();
	ck_assert_int_eq(ec_scan_load(cache, ids, 4, &o, err_cb, errs), 0);
	ck_assert_int_eq(errs[0], 0);
	ck_assert_int_eq(errs[1], -ENOENT);
	ck_assert_int_eq(errs[2], -EC_EID);
	ck_assert_int_eq(errs[3], -ENOENT);	/* a directory, no entry */
	/* nothing to load */
	ck_assert_int_eq(ec_scan_load(cache, ids, 0, &o, err_cb, errs), 0);
	/* an empty cache lists nothing */
	ec_test_rm_rf(at("d0"));
	ec_test_rm_rf(at("d1"));
	ec_test_rm_rf(at("d2"));
	ec_test_rm_rf(at("d3"));
	ec_test_rm_rf(at("d4"));
	ec_test_rm_rf(at("d5"));
	ec_test_rm_rf(at("d6"));
	ck_assert_int_eq(ec_scan_list(cache, &none), 0);
	ck_assert_uint_eq(none.n, 0);
	ec_scan_ids_release(&none);
}
END_TEST

/* --- temp files -------------------------------------------------------- */

#define TMPA EC_STORE_TMP_PREFIX "00112233445566778899aabbccddeeff"
#define TMPB EC_STORE_TMP_PREFIX "0123456789ab"

struct paths {
	char *p[8];
	struct stat st[8];
	size_t n;
};

static int temp_cb(void *ctx, const char *path, const struct stat *st)
{
	struct paths *ps = ctx;

	ck_assert_uint_lt(ps->n, 8);
	ps->st[ps->n] = *st;
	ps->p[ps->n++] = strdup(path);
	return 0;
}

static void paths_free(struct paths *ps)
{
	size_t i;

	for (i = 0; i < ps->n; i++)
		free(ps->p[i]);
	ps->n = 0;
}

START_TEST(test_walk_and_remove_temps)
{
	const struct ec_store *s = ec_cache_store(cache);
	struct paths ps = { { 0 }, { { 0 } }, 0 };
	char out[PATH_MAX];
	struct timespec ts[2] = { { 1000, 0 }, { 1000, 0 } };

	ck_assert_int_eq(mkdir(at("b"), 0700), 0);
	ck_assert_int_eq(mkdir(at("b/c"), 0700), 0);
	put_file(at(TMPB), "1");
	put_file(at("b/c/" TMPA), "2");
	put_file(at("b/" TMPA ".enc.json"), "not a temp");
	put_file(at("b/x" TMPB), "not a temp");
	snprintf(out, sizeof(out), "%s-outside", tmp);
	ck_assert_int_eq(mkdir(out, 0700), 0);
	snprintf(out, sizeof(out), "%s-outside/" TMPA, tmp);
	put_file(out, "outside");
	snprintf(out, sizeof(out), "%s-outside", tmp);
	ck_assert_int_eq(symlink(out, at("link")), 0);

	ck_assert_int_eq(ec_store_walk_temps(s, temp_cb, &ps), 0);
	ck_assert_uint_eq(ps.n, 2);
	ck_assert_str_eq(ps.p[0], TMPB);	/* '.' sorts before 'b' */
	ck_assert_str_eq(ps.p[1], "b/c/" TMPA);

	/* changed since seen: kept */
	ck_assert_int_eq(utimensat(AT_FDCWD, at("b/c/" TMPA), ts, 0), 0);
	ck_assert_int_eq(ec_store_remove_temp(s, ps.p[1], &ps.st[1]), -ESTALE);
	ck_assert_int_eq(access(at("b/c/" TMPA), F_OK), 0);
	/* not a temp name: refused */
	ck_assert_int_eq(ec_store_remove_temp(s, "b/x" TMPB, &ps.st[0]),
			 -EINVAL);
	/* through a symlink: never */
	ck_assert_int_lt(ec_store_remove_temp(s, "link/" TMPA, &ps.st[1]), 0);
	snprintf(out, sizeof(out), "%s-outside/" TMPA, tmp);
	ck_assert_int_eq(access(out, F_OK), 0);
	/* unchanged: removed */
	ck_assert_int_eq(ec_store_remove_temp(s, ps.p[0], &ps.st[0]), 0);
	ck_assert_int_ne(access(at(TMPB), F_OK), 0);
	ck_assert_int_eq(ec_store_remove_temp(s, ps.p[0], &ps.st[0]), -ENOENT);
	paths_free(&ps);

	snprintf(out, sizeof(out), "%s-outside", tmp);
	ec_test_rm_rf(out);
}
END_TEST

/* --- removing an entry only while unchanged ---------------------------- */

static void save(const char *id, const char *data)
{
	struct ec_save_options so = { .created_us = EC_TIME_NONE };

	ck_assert_int_eq(ec_cache_save(cache, id, (const uint8_t *)data,
				       strlen(data), &so), 0);
}

static int count_files(const char *dir)
{
	char cmd[PATH_MAX + 64];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "find '%s' -type f | wc -l", dir);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(fscanf(p, "%d", &n), 1);
	pclose(p);
	return n;
}

START_TEST(test_remove_version)
{
	const struct ec_store *s = ec_cache_store(cache);
	struct stat seen, now;
	char *buf;
	size_t len;
	int fd;

	save("a/x", "one");
	ck_assert_int_eq(lstat(at("a/x.enc.json"), &seen), 0);
	ck_assert_int_eq(ec_store_remove_version(s, "a/x", &seen), 0);
	ck_assert_int_ne(access(at("a/x.enc.json"), F_OK), 0);
	ck_assert_int_eq(count_files(tmp), 0);	/* no temp left */
	ck_assert_int_eq(ec_store_remove_version(s, "a/x", &seen), -ENOENT);

	/* replaced by a save (a new file): kept */
	save("a/y", "one");
	ck_assert_int_eq(lstat(at("a/y.enc.json"), &seen), 0);
	save("a/y", "two");
	ck_assert_int_eq(ec_store_remove_version(s, "a/y", &seen), -ESTALE);
	ck_assert_int_eq(access(at("a/y.enc.json"), F_OK), 0);

	/* rewritten in place (as Python writes), later than the file
	 * system's timestamp granularity: kept, content intact */
	ck_assert_int_eq(lstat(at("a/y.enc.json"), &seen), 0);
	nanosleep(&(struct timespec){ 0, 30 * 1000 * 1000 }, NULL);
	ck_assert_int_eq(ec_store_read(s, "a/y", 1 << 20, &buf, &len, NULL), 0);
	fd = open(at("a/y.enc.json"), O_WRONLY | O_TRUNC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
	close(fd);
	ck_assert_int_eq(ec_store_remove_version(s, "a/y", &seen), -ESTALE);
	ck_assert_int_eq(lstat(at("a/y.enc.json"), &now), 0);
	ck_assert_uint_eq(now.st_ino, seen.st_ino);
	ck_assert_int_eq(count_files(tmp), 1);
	free(buf);

	/* bad ids, and never through a symlink */
	ck_assert_int_eq(ec_store_remove_version(s, "../a", &seen), -EC_EID);
	ck_assert_int_eq(symlink(at("a"), at("l")), 0);
	ck_assert_int_lt(ec_store_remove_version(s, "l/y", &now), 0);
	ck_assert_int_eq(access(at("a/y.enc.json"), F_OK), 0);
}
END_TEST

static Suite *scan_suite(void)
{
	Suite *s = suite_create("scan");
	TCase *tc = tcase_create("scan");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_scan_matches_list);
	tcase_add_test(tc, test_scan_errors);
	suite_add_tcase(s, tc);
	tc = tcase_create("tidy");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_walk_and_remove_temps);
	tcase_add_test(tc, test_remove_version);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ec_test_run(scan_suite());
}
