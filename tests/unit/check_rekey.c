/* Unit tests for rekey: the save over the version read
 * (ec_store_replace_with) and src/cache_rekey.c. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache.h"
#include "error.h"
#include "rekey.h"
#include "secure.h"
#include "store.h"
#include "unit_cache.h"

static char *tmp;

static const char *tpath(const char *rel)
{
	return ec_test_path(tmp, rel);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static size_t count_temps(const char *dir)
{
	char cmd[PATH_MAX + 64];
	FILE *p;
	size_t n = 0;
	int c;

	snprintf(cmd, sizeof(cmd), "find '%s' -name '.ec-tmp-*'", dir);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	while ((c = fgetc(p)) != EOF)
		n += c == '\n';
	pclose(p);
	return n;
}

/* --- ec_store_replace_with ---------------------------------------------- */

static struct ec_store st;

static void store_setup(void)
{
	tmp = ec_test_tmpdir("ec-rekey-store");
	ck_assert_int_eq(ec_store_open(&st, tmp, NULL), 0);
}

static void store_teardown(void)
{
	ec_store_release(&st);
	ec_test_tmpdir_free(&tmp);
}

struct job {
	const char *text;	/* what fill writes */
	const char *meanwhile;	/* written over the entry while filling */
	const char *after_check;	/* saved over the entry right after
					   check() accepts it */
	pid_t opener;		/* when -1, fill forks one that opens the temp
				   file in a/ (the spare, under its lease) */
	struct stat seen;	/* the version the caller read */
	int check_calls;
	bool had_fd;
};

/* The one temp file in dir, its path into buf. */
static void temp_in(const char *dir, char *buf, size_t size)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	ck_assert_ptr_nonnull(d);
	buf[0] = '\0';
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, EC_STORE_TMP_PREFIX,
			     strlen(EC_STORE_TMP_PREFIX)))
			snprintf(buf, size, "%s/%s", dir, de->d_name);
	closedir(d);
	ck_assert(buf[0]);
}

static int fill(void *ctx, int fd)
{
	struct job *j = ctx;

	if (j->opener == -1) {	/* someone opens the temp file meanwhile */
		char path[PATH_MAX];

		temp_in(tpath("a"), path, sizeof(path));
		j->opener = fork();
		ck_assert_int_ge(j->opener, 0);
		if (j->opener == 0) {	/* its open waits for the lease to go;
					   exec'd: not holding the file */
			int null = open("/dev/null", O_WRONLY);

			if (null < 0 || dup2(null, 1) < 0)
				_exit(2);
			execl("/bin/cat", "cat", path, (char *)NULL);
			_exit(3);
		}
		usleep(200000);	/* its open is waiting now */
	}
	if (j->meanwhile)	/* another writer's save, during ours */
		ck_assert_int_eq(ec_store_write(&st, "a/e", j->meanwhile,
						strlen(j->meanwhile), 0), 0);
	return write(fd, j->text, strlen(j->text)) ==
		(ssize_t)strlen(j->text) ? 0 : -EIO;
}

static int check(void *ctx, int fd, const struct stat *s)
{
	struct job *j = ctx;

	j->check_calls++;
	j->had_fd = fd >= 0;
	if (fd < 0)
		return -ENOENT;
	if (s->st_ino != j->seen.st_ino ||
	    s->st_mtim.tv_nsec != j->seen.st_mtim.tv_nsec ||
	    s->st_ctim.tv_nsec != j->seen.st_ctim.tv_nsec)
		return -ESTALE;
	if (j->after_check)	/* a writer between check and rename */
		ck_assert_int_eq(ec_store_write(&st, "a/e", j->after_check,
						strlen(j->after_check), 0), 0);
	return 0;
}

static char *read_entry(const char *id)
{
	char *buf = NULL;
	size_t len = 0;

	ck_assert_int_eq(ec_store_read(&st, id, 1 << 20, &buf, &len, NULL), 0);
	return buf;
}

START_TEST(test_replace_same_version)
{
	struct job j = { .text = "new" };
	char *got;

	ck_assert_int_eq(ec_store_write(&st, "a/e", "old", 3, 0), 0);
	ck_assert_int_eq(ec_store_stat_entry(&st, "a/e", &j.seen), 0);
	ck_assert_int_eq(ec_store_replace_with(&st, "a/e", 0, fill, check, &j),
			 0);
	ck_assert_int_eq(j.check_calls, 1);
	ck_assert(j.had_fd);
	got = read_entry("a/e");
	ck_assert_str_eq(got, "new");
	free(got);
	ck_assert_uint_eq(count_temps(tmp), 0);
}
END_TEST

START_TEST(test_replace_newer_save_kept)
{
	struct job j = { .text = "rekeyed old", .meanwhile = "newer" };
	char *got;

	ck_assert_int_eq(ec_store_write(&st, "a/e", "old", 3, 0), 0);
	ck_assert_int_eq(ec_store_stat_entry(&st, "a/e", &j.seen), 0);
	ck_assert_int_eq(ec_store_replace_with(&st, "a/e", 0, fill, check, &j),
			 -ESTALE);
	got = read_entry("a/e");
	ck_assert_str_eq(got, "newer");	/* not our older content */
	free(got);
	ck_assert_uint_eq(count_temps(tmp), 0);
}
END_TEST

START_TEST(test_replace_removed)
{
	struct job j = { .text = "new" };

	/* the entry is gone: nothing made, its directory neither */
	ck_assert_int_eq(ec_store_write(&st, "a/e", "old", 3, 0), 0);
	ck_assert_int_eq(ec_store_stat_entry(&st, "a/e", &j.seen), 0);
	ck_assert_int_eq(ec_store_remove(&st, "a/e"), 0);
	ck_assert_int_eq(ec_store_replace_with(&st, "a/e", 0, fill, check, &j),
			 -ENOENT);
	ck_assert(!j.had_fd);
	ck_assert(!exists(tpath("a/e.enc.json")));
	ck_assert_uint_eq(count_temps(tmp), 0);
	j.check_calls = 0;
	ck_assert_int_eq(ec_store_replace_with(&st, "b/e", 0, fill, check, &j),
			 -ENOENT);
	ck_assert_int_eq(j.check_calls, 0);
	ck_assert(!exists(tpath("b")));
}
END_TEST

/* --- ec_store_replace_spare --------------------------------------------- */

static ino_t ino_of(const char *id)
{
	struct stat s;

	ck_assert_int_eq(ec_store_stat_entry(&st, id, &s), 0);
	return s.st_ino;
}

/* id saved as text with sp, over the version there now (opener: as in
 * struct job). */
static int replace_opened(const char *id, const char *text,
			  struct ec_store_spare *sp, pid_t opener)
{
	struct job j = { .text = text, .opener = opener };
	int rc, status;

	ck_assert_int_eq(ec_store_stat_entry(&st, id, &j.seen), 0);
	rc = ec_store_replace_spare(&st, id, 0, fill, check, &j, sp);
	if (opener == -1) {
		ck_assert_int_eq(waitpid(j.opener, &status, 0), j.opener);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	return rc;
}

static int replace(const char *id, const char *text,
		   struct ec_store_spare *sp)
{
	struct job j = { .text = text };

	ck_assert_int_eq(ec_store_stat_entry(&st, id, &j.seen), 0);
	return ec_store_replace_spare(&st, id, 0, fill, check, &j, sp);
}

START_TEST(test_spare_reused)
{
	struct ec_store_spare *sp;
	ino_t old1, old2;
	char *got;

	ck_assert_int_eq(ec_store_write(&st, "a/e1", "old one", 7, 0), 0);
	ck_assert_int_eq(ec_store_write(&st, "a/e2", "old two", 7, 0), 0);
	ck_assert_int_eq(ec_store_write(&st, "b/e3", "old three", 9, 0), 0);
	old1 = ino_of("a/e1");
	old2 = ino_of("a/e2");
	ck_assert_int_eq(ec_store_spare_new(&sp), 0);
	ck_assert_int_eq(replace("a/e1", "new one", sp), 0);
	ck_assert_uint_eq(count_temps(tmp), 1);	/* the old envelope */
	/* the next save is written into the old envelope's inode, cut to
	 * its own length; one in another directory too */
	ck_assert_int_eq(replace("a/e2", "2", sp), 0);
	ck_assert_uint_eq(ino_of("a/e2"), old1);
	ck_assert_int_eq(replace("b/e3", "new three", sp), 0);
	ck_assert_uint_eq(ino_of("b/e3"), old2);
	got = read_entry("a/e1");
	ck_assert_str_eq(got, "new one");
	free(got);
	got = read_entry("a/e2");
	ck_assert_str_eq(got, "2");
	free(got);
	got = read_entry("b/e3");
	ck_assert_str_eq(got, "new three");
	free(got);
	ck_assert_uint_eq(count_temps(tpath("b")), 1);
	ck_assert_uint_eq(count_temps(tmp), 1);
	ec_store_spare_free(sp);
	ck_assert_uint_eq(count_temps(tmp), 0);
}
END_TEST

START_TEST(test_spare_open_by_a_reader)
{
	struct ec_store_spare *sp;
	char buf[32] = "";
	int fd;

	/* a reader opened the old envelope before the save: it reads the
	 * old one whole, after the next save too, which writes a new file */
	ck_assert_int_eq(ec_store_write(&st, "a/e1", "old one", 7, 0), 0);
	ck_assert_int_eq(ec_store_write(&st, "a/e2", "old two", 7, 0), 0);
	fd = open(tpath("a/e1.enc.json"), O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ec_store_spare_new(&sp), 0);
	ck_assert_int_eq(replace("a/e1", "new one", sp), 0);
	ck_assert_int_eq(replace("a/e2", "new two", sp), 0);
	ck_assert_int_eq(pread(fd, buf, sizeof(buf) - 1, 0), 7);
	ck_assert_str_eq(buf, "old one");
	close(fd);
	ec_store_spare_free(sp);
	ck_assert_uint_eq(count_temps(tmp), 0);
}
END_TEST

START_TEST(test_spare_opened_while_written)
{
	struct ec_store_spare *sp;
	char *got;

	/* an open of the spare while it is written (a backup tool walking
	 * the directory) waits for it, and the lease break signal does not
	 * end this process (SIGIO's default) */
	ck_assert_int_eq(ec_store_write(&st, "a/e1", "old one", 7, 0), 0);
	ck_assert_int_eq(ec_store_write(&st, "a/e2", "old two", 7, 0), 0);
	ck_assert_int_eq(ec_store_spare_new(&sp), 0);
	ck_assert_int_eq(replace("a/e1", "new one", sp), 0);
	ck_assert_int_eq(replace_opened("a/e2", "new two", sp, -1), 0);
	got = read_entry("a/e2");
	ck_assert_str_eq(got, "new two");
	free(got);
	ec_store_spare_free(sp);
	ck_assert_uint_eq(count_temps(tmp), 0);
}
END_TEST

START_TEST(test_spare_newer_save_after_check)
{
	struct job j = { .text = "rekeyed old", .after_check = "newer" };
	struct ec_store_spare *sp;
	char *got;

	/* a save that got in between check() and the exchange is seen after
	 * it and put back: never overwritten */
	ck_assert_int_eq(ec_store_write(&st, "a/e", "old", 3, 0), 0);
	ck_assert_int_eq(ec_store_stat_entry(&st, "a/e", &j.seen), 0);
	ck_assert_int_eq(ec_store_spare_new(&sp), 0);
	ck_assert_int_eq(ec_store_replace_spare(&st, "a/e", 0, fill, check, &j,
						sp), -ESTALE);
	got = read_entry("a/e");
	ck_assert_str_eq(got, "newer");
	free(got);
	ck_assert_uint_eq(count_temps(tmp), 0);
	ec_store_spare_free(sp);
}
END_TEST

/* --- cache_rekey -------------------------------------------------------- */

static struct ec_cache *from, *to;

static struct ec_cache *open_cache(const char *secrets, const char *salt)
{
	struct ec_ttl inf = { EC_TTL_INFINITE, 0 };

	return ec_test_cache(tmp, secrets, salt, inf, EC_TIME_NONE);
}

static void cache_setup(void)
{
	ck_assert_int_ge(ec_secure_init(), 0);
	tmp = ec_test_tmpdir("ec-rekey");
	from = open_cache("{\"default\": \"pw\", \"old\": \"pw2\", "
			  "\"same\": \"pw3\"}", "salt-a");
	to = open_cache("{\"default\": \"new-pw\", \"renamed\": \"pw4\", "
			"\"same\": \"pw3\"}", "salt-b");
}

static void cache_teardown(void)
{
	ec_cache_free(from);
	ec_cache_free(to);
	from = to = NULL;
	ec_test_tmpdir_free(&tmp);
}

static const struct ec_rekey_map to_renamed[] = { { "old", "renamed" } };

static struct ec_rekey *plan(const struct ec_cache *a,
			     const struct ec_cache *b)
{
	enum ec_rekey_problem why;
	const char *bad;
	struct ec_rekey *r = NULL;

	ck_assert_int_eq(ec_rekey_new(a, b, to_renamed, 1, &r, &why, &bad), 0);
	ck_assert_int_eq(why, EC_REKEY_PLAN_OK);
	return r;
}

static void save(const struct ec_cache *c, const char *id, const char *key,
		 const uint8_t *data, size_t len, const char *comment,
		 const char *validasof, int64_t created)
{
	struct ec_save_options o = {
		.key = key, .comment = comment, .validasof = validasof,
		.created_us = created,
	};

	ck_assert_int_eq(ec_cache_save(c, id, data, len, &o), 0);
}

static enum ec_rekey_outcome rekey(const struct ec_rekey *r, const char *id,
				   unsigned flags)
{
	enum ec_rekey_outcome out;
	struct ec_entry e;
	int err = -1;

	ck_assert_int_eq(ec_rekey_entry(r, id, flags, &e, &out, &err), 0);
	ck_assert_ptr_null(e.data);
	if (out != EC_REKEY_FAILED)
		ck_assert_int_eq(err, 0);
	ec_entry_release(&e);
	return out;
}

/* id opens with c: its data equals data, its cleartext as given. */
static void same_entry(const struct ec_cache *c, const char *id,
		       const char *key, const uint8_t *data, size_t len,
		       const char *created_at, const char *comment,
		       const char *validasof)
{
	struct ec_entry e;

	ck_assert_int_eq(ec_cache_load(c, id, EC_LOAD_DATA, 0, &e), 0);
	ck_assert_int_eq(e.state, EC_STATE_VALID);
	ck_assert_str_eq(e.env.key, key);
	ck_assert_str_eq(e.env.salt_sha256, ec_cache_fingerprint(c));
	ck_assert_uint_eq(e.len, len);
	ck_assert(len == 0 || memcmp(e.data, data, len) == 0);
	if (created_at)
		ck_assert_str_eq(e.env.created_at, created_at);
	else
		ck_assert_ptr_null(e.env.created_at);
	if (comment)
		ck_assert_str_eq(e.env.comment, comment);
	else
		ck_assert_ptr_null(e.env.comment);
	if (validasof)
		ck_assert_str_eq(e.validasof, validasof);
	else
		ck_assert_ptr_null(e.validasof);
	ec_entry_release(&e);
}

static enum ec_state state_with(const struct ec_cache *c, const char *id)
{
	struct ec_entry e;
	enum ec_state s;

	ck_assert_int_eq(ec_cache_load(c, id, 0, 0, &e), 0);
	s = e.state;
	ec_entry_release(&e);
	return s;
}

START_TEST(test_rekey_keeps_everything)
{
	static const uint8_t bplist[] = "bplist00\xd1\x01\x02Qa\x10\x01\x08\x0b"
		"\x0d\0\0\0\0\0\0\x01\x01\0\0\0\0\0\0\0\x03\0\0\0\0\0\0\0\0\0"
		"\0\0\0\0\0\0\x0f";
	static const uint8_t raw[] = "raw \x00\xff bytes";
	struct ec_rekey *r = plan(from, to);
	int64_t created = 1700000000123456;

	save(from, "a/plist", "default", bplist, sizeof(bplist), "a comment",
	     "2026-02-07T12:00:00+00:00", created);
	save(from, "a/raw", "old", raw, sizeof(raw), NULL, NULL, created);
	save(from, "empty", NULL, NULL, 0, "", NULL, 0);
	ck_assert_uint_eq(ec_rekey_changed_keys(r), 3);	/* new salt */

	ck_assert_int_eq(rekey(r, "a/plist", EC_REKEY_DRY_RUN),
			 EC_REKEY_REKEYED);
	ck_assert_int_eq(state_with(from, "a/plist"), EC_STATE_VALID);

	ck_assert_int_eq(rekey(r, "a/plist", 0), EC_REKEY_REKEYED);
	ck_assert_int_eq(rekey(r, "a/raw", 0), EC_REKEY_REKEYED);
	ck_assert_int_eq(rekey(r, "empty", 0), EC_REKEY_REKEYED);
	same_entry(to, "a/plist", "default", bplist, sizeof(bplist),
		   "2023-11-14T22:13:20.123456+00:00", "a comment",
		   "2026-02-07T12:00:00+00:00");
	same_entry(to, "a/raw", "renamed", raw, sizeof(raw),
		   "2023-11-14T22:13:20.123456+00:00", NULL, NULL);
	same_entry(to, "empty", "default", NULL, 0,
		   "1970-01-01T00:00:00+00:00", "", NULL);
	ck_assert_int_eq(state_with(from, "a/plist"), EC_STATE_SALT_MISMATCH);

	/* a second run: each one opens with the new keys, none rewritten */
	ck_assert_int_eq(rekey(r, "a/plist", 0), EC_REKEY_ALREADY);
	ck_assert_int_eq(rekey(r, "a/raw", EC_REKEY_DRY_RUN),
			 EC_REKEY_ALREADY);
	ck_assert_int_eq(rekey(r, "gone", 0), EC_REKEY_GONE);
	/* the spare (an old envelope's inode, rekey.h), gone with the plan */
	ck_assert_uint_le(count_temps(tmp), 1);
	ec_rekey_free(r);
	ck_assert_uint_eq(count_temps(tmp), 0);
}
END_TEST

START_TEST(test_rekey_created_at_as_stored)
{
	/* Python's text, an offset other than UTC, no created_at at all */
	static const char *const texts[] = {
		"\"created_at\": \"2026-11-21T23:47:39.814634+00:00\", ",
		"\"created_at\": \"2026-11-22T01:47:39+02:00\", ",
		"",
	};
	struct ec_rekey *r = plan(from, to);
	struct ec_entry e;
	size_t i;

	for (i = 0; i < 3; i++) {
		char *buf = NULL, *p, *q, *env = NULL;
		size_t len = 0;
		const char *start = "\"created_at\": \"";

		save(from, "x", NULL, (const uint8_t *)"v", 1, NULL, NULL, 0);
		ck_assert_int_eq(ec_store_read(ec_cache_store(from), "x",
					       1 << 20, &buf, &len, NULL), 0);
		/* replace the created_at member by the text to test */
		p = strstr(buf, start);
		ck_assert_ptr_nonnull(p);
		q = strchr(p + strlen(start), '"') + 3;
		ck_assert_int_ge(asprintf(&env, "%.*s%s%s", (int)(p - buf),
					  buf, texts[i], q), 0);
		ck_assert_int_eq(ec_store_write(ec_cache_store(from), "x", env,
						strlen(env), 0), 0);
		ck_assert_int_eq(rekey(r, "x", 0), EC_REKEY_REKEYED);
		ck_assert_int_eq(ec_cache_load(to, "x", 0, 0, &e), 0);
		ck_assert_int_eq(e.state, EC_STATE_VALID);
		if (*texts[i])
			ck_assert(strstr(texts[i], e.env.created_at));
		else
			ck_assert_ptr_null(e.env.created_at);
		ec_entry_release(&e);
		free(buf);
		free(env);
	}
	ec_rekey_free(r);
}
END_TEST

START_TEST(test_rekey_big)
{
	size_t n = EC_STREAM_MIN + 12345, i;
	uint8_t *data = malloc(n);
	struct ec_rekey *r = plan(from, to);

	ck_assert_ptr_nonnull(data);
	for (i = 0; i < n; i++)
		data[i] = (uint8_t)(i * 7 + i / 251);
	save(from, "big", "old", data, n, "c", "2026-02-07T12:00:00+00:00",
	     1700000000000000);
	ck_assert_int_eq(rekey(r, "big", 0), EC_REKEY_REKEYED);
	same_entry(to, "big", "renamed", data, n, "2023-11-14T22:13:20+00:00",
		   "c", "2026-02-07T12:00:00+00:00");
	ck_assert_int_eq(rekey(r, "big", 0), EC_REKEY_ALREADY);
	ck_assert_uint_eq(count_temps(tmp), 0);
	free(data);
	ec_rekey_free(r);
}
END_TEST

START_TEST(test_rekey_unchanged_and_left)
{
	struct ec_cache *same = open_cache("{\"default\": \"pw\", \"old\": "
					   "\"pw2\", \"same\": \"pw3\"}",
					   "salt-a");
	struct ec_cache *other = open_cache("{\"default\": \"x\"}", "salt-c");
	struct ec_rekey *r = plan(from, to), *r2;
	enum ec_rekey_problem why;
	const char *bad;

	/* same salt, same password, same name: nothing to do */
	ck_assert_int_eq(ec_rekey_new(from, same, NULL, 0, &r2, &why, &bad), 0);
	ck_assert_uint_eq(ec_rekey_changed_keys(r2), 0);
	save(from, "s", "same", (const uint8_t *)"s", 1, NULL, NULL, 0);
	ck_assert_int_eq(rekey(r2, "s", 0), EC_REKEY_UNCHANGED);
	ec_rekey_free(r2);

	/* an envelope neither key set opens, and a file that is none */
	save(other, "o", NULL, (const uint8_t *)"o", 1, NULL, NULL, 0);
	ck_assert_int_eq(ec_store_write(ec_cache_store(from), "junk", "{", 1,
					0), 0);
	ck_assert_int_eq(rekey(r, "o", 0), EC_REKEY_LEFT);
	ck_assert_int_eq(rekey(r, "junk", 0), EC_REKEY_LEFT);
	ck_assert_int_eq(state_with(other, "o"), EC_STATE_VALID);
	ec_rekey_free(r);
	ec_cache_free(same);
	ec_cache_free(other);
}
END_TEST

START_TEST(test_rekey_plan_errors)
{
	static const struct {
		struct ec_rekey_map map[2];
		size_t n;
		enum ec_rekey_problem why;
		const char *bad;
	} cases[] = {
		{ { { "nope", "renamed" } }, 1, EC_REKEY_MAP_FROM, "nope" },
		{ { { "old", "nope" } }, 1, EC_REKEY_MAP_TO, "nope" },
		{ { { "old", "renamed" }, { "old", "same" } }, 2,
		  EC_REKEY_MAP_TWICE, "old" },
		{ { { "old", "default" }, { "default", "renamed" } }, 2,
		  EC_REKEY_MAP_CHAIN, "default" },
		{ { { "default", "same" } }, 1, EC_REKEY_NO_NEW_KEY, "old" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum ec_rekey_problem why;
		const char *bad = NULL;
		struct ec_rekey *r = (struct ec_rekey *)1;

		ck_assert_int_lt(ec_rekey_new(from, to, cases[i].map,
					      cases[i].n, &r, &why, &bad), 0);
		ck_assert_ptr_null(r);
		ck_assert_int_eq(why, cases[i].why);
		ck_assert_str_eq(bad, cases[i].bad);
	}
}
END_TEST

static Suite *rekey_suite(void)
{
	Suite *s = suite_create("rekey");
	TCase *tc;

	tc = tcase_create("replace");
	tcase_add_checked_fixture(tc, store_setup, store_teardown);
	tcase_add_test(tc, test_replace_same_version);
	tcase_add_test(tc, test_replace_newer_save_kept);
	tcase_add_test(tc, test_replace_removed);
	tcase_add_test(tc, test_spare_reused);
	tcase_add_test(tc, test_spare_open_by_a_reader);
	tcase_add_test(tc, test_spare_opened_while_written);
	tcase_add_test(tc, test_spare_newer_save_after_check);
	suite_add_tcase(s, tc);

	tc = tcase_create("rekey");
	tcase_add_checked_fixture(tc, cache_setup, cache_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_rekey_keeps_everything);
	tcase_add_test(tc, test_rekey_created_at_as_stored);
	tcase_add_test(tc, test_rekey_big);
	tcase_add_test(tc, test_rekey_unchanged_and_left);
	tcase_add_test(tc, test_rekey_plan_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ec_test_run(rekey_suite());
}
