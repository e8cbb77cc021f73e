/*
 * Unit tests for libenccache through its public header only, linked
 * against the shared library as a user's program is: bad arguments,
 * secrets, save/load round trips, each way an entry can be invalid (each
 * with its own code), TTL rules per call, listing with states,
 * execute_cached, one handle shared by threads, the helpers and the
 * error texts.
 *
 * The caches are opened once in main() (PBKDF2 at the real 480,000
 * rounds, so what these tests write is what Python reads); every test
 * uses ids of its own below them.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "enccache.h"
#include "unit.h"

static char *tmp;		/* the test directory */
static char dir[PATH_MAX / 2];	/* the main cache directory */
static char listdir[PATH_MAX / 2];	/* the listing test's own cache directory */

static enccache *main_c;	/* default: "pw", other: "pw2"; salt "salt" */
static enccache *wrong_pw;	/* default: "wrong"; salt "salt" */
static enccache *wrong_salt;	/* default: "pw", other: "pw2"; salt "pepper" */
static enccache *third;		/* third: "pw3"; salt "salt" */
static enccache *list_c;	/* default: "pw"; salt "salt", in listdir */

static const char *path_of(const char *d, const char *id)
{
	static char buf[4][PATH_MAX];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s.enc.json", d, id);
	return buf[k];
}

static void spit(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static enccache_secrets *secrets_of(const char *n1, const char *p1,
				    const char *n2, const char *p2)
{
	enccache_secrets *s;

	ck_assert_int_eq(enccache_secrets_new(&s), 0);
	ck_assert_int_eq(enccache_secrets_add(s, n1, p1), 0);
	if (n2)
		ck_assert_int_eq(enccache_secrets_add(s, n2, p2), 0);
	return s;
}

static enccache *open_at(const char *d, const char *n1, const char *p1,
			 const char *n2, const char *p2, const char *salt)
{
	enccache_secrets *s = secrets_of(n1, p1, n2, p2);
	enccache *c;

	ck_assert_int_eq(enccache_open(d, s, salt, strlen(salt), NULL, NULL,
				       &c), 0);
	enccache_secrets_free(s);
	return c;
}

static void save(enccache *c, const char *id, const char *text)
{
	ck_assert_int_eq(enccache_save(c, NULL, text, strlen(text), id, NULL,
				       NULL), 0);
}

/* The text of field in the envelope at path replaced by value. */
static void set_field(const char *path, const char *field, const char *value)
{
	char key[64], *text, *p, *q, *out;
	size_t len;

	text = ec_test_slurp(path, &len);
	snprintf(key, sizeof(key), "\"%s\": \"", field);
	p = strstr(text, key);
	ck_assert_ptr_nonnull(p);
	p += strlen(key);
	q = strchr(p, '"');
	ck_assert_ptr_nonnull(q);
	out = malloc(len + strlen(value) + 1);
	ck_assert_ptr_nonnull(out);
	memcpy(out, text, (size_t)(p - text));
	strcpy(out + (p - text), value);
	strcat(out, q);
	spit(path, out, strlen(out));
	free(out);
	free(text);
}

/* Flip one character in the middle of the token (to another base64
 * character, so the text stays well-formed). */
static void tamper_token(const char *path)
{
	char *text, *p;
	size_t len;

	text = ec_test_slurp(path, &len);
	p = strstr(text, "\"encrypted\": \"");
	ck_assert_ptr_nonnull(p);
	p += strlen("\"encrypted\": \"") + 60;
	*p = *p == 'A' ? 'B' : 'A';
	spit(path, text, len);
	free(text);
}

static int load_code(enccache *c, const char *id, const char *ttl,
		     const char *oldest)
{
	uint8_t *data = (uint8_t *)"x";
	size_t len = 99;
	int err;

	err = enccache_load(c, id, ttl, oldest, &data, &len);
	if (err) {
		ck_assert_ptr_null(data);
		ck_assert_uint_eq(len, 0);
	}
	enccache_free(data);
	return err;
}

/* --- bad arguments ------------------------------------------------------- */

static int never_cb(void *arg, enccache_buf *out)
{
	(void)arg;
	(void)out;
	ck_abort_msg("callback called");
	return 0;
}

static int no_item(void *arg, const struct enccache_item *it)
{
	(void)arg;
	(void)it;
	return 0;
}

START_TEST(test_null_arguments)
{
	enccache_secrets *s = secrets_of("default", "pw", NULL, NULL);
	enccache_secrets *none = (void *)1;
	struct enccache_entry *e = (void *)1;
	uint8_t *d = (void *)1, *p;
	size_t n = 1;
	char *t;
	enccache *c = (void *)1;

	ck_assert_int_eq(enccache_secrets_new(NULL), -EINVAL);
	ck_assert_int_eq(enccache_secrets_add(NULL, "a", "b"), -EINVAL);
	ck_assert_int_eq(enccache_secrets_add(s, NULL, "b"), -EINVAL);
	ck_assert_int_eq(enccache_secrets_add(s, "a", NULL), -EINVAL);
	ck_assert_int_eq(enccache_secrets_read_file(NULL, &none), -EINVAL);
	ck_assert_ptr_null(none);
	ck_assert_int_eq(enccache_secrets_read_file("x", NULL), -EINVAL);

	ck_assert_int_eq(enccache_open(dir, s, "salt", 4, NULL, NULL, NULL),
			 -EINVAL);
	ck_assert_int_eq(enccache_open(NULL, s, "salt", 4, NULL, NULL, &c),
			 -EINVAL);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(enccache_open("", s, "salt", 4, NULL, NULL, &c),
			 -EINVAL);
	ck_assert_int_eq(enccache_open(dir, NULL, "salt", 4, NULL, NULL, &c),
			 -EINVAL);
	ck_assert_int_eq(enccache_open(dir, s, NULL, 4, NULL, NULL, &c),
			 -EINVAL);
	ck_assert_int_eq(enccache_set_durable(NULL, 1), -EINVAL);

	ck_assert_int_eq(enccache_save(NULL, NULL, "x", 1, "a", NULL, NULL),
			 -EINVAL);
	ck_assert_int_eq(enccache_save(main_c, NULL, NULL, 1, "a", NULL, NULL),
			 -EINVAL);
	ck_assert_int_eq(enccache_save(main_c, NULL, "x", 1, NULL, NULL, NULL),
			 -EINVAL);
	ck_assert_int_eq(enccache_load(NULL, "a", NULL, NULL, &d, &n), -EINVAL);
	ck_assert_ptr_null(d);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(enccache_load(main_c, NULL, NULL, NULL, &d, &n),
			 -EINVAL);
	ck_assert_int_eq(enccache_load(main_c, "a", NULL, NULL, NULL, &n),
			 -EINVAL);
	ck_assert_int_eq(enccache_load(main_c, "a", NULL, NULL, &d, NULL),
			 -EINVAL);
	ck_assert_int_eq(enccache_load_entry(NULL, "a", NULL, NULL, &e),
			 -EINVAL);
	ck_assert_ptr_null(e);
	ck_assert_int_eq(enccache_load_entry(main_c, NULL, NULL, NULL, &e),
			 -EINVAL);
	ck_assert_int_eq(enccache_load_entry(main_c, "a", NULL, NULL, NULL),
			 -EINVAL);
	ck_assert_int_eq(enccache_decode(NULL, "{}", 2, NULL, NULL, &e),
			 -EINVAL);
	ck_assert_int_eq(enccache_decode(main_c, NULL, 2, NULL, NULL, &e),
			 -EINVAL);
	ck_assert_int_eq(enccache_decode(main_c, "{}", 2, NULL, NULL, NULL),
			 -EINVAL);
	ck_assert_int_eq(enccache_exists(NULL, "a"), -EINVAL);
	ck_assert_int_eq(enccache_exists(main_c, NULL), -EINVAL);
	ck_assert_int_eq(enccache_remove(NULL, "a"), -EINVAL);
	ck_assert_int_eq(enccache_remove(main_c, NULL), -EINVAL);
	ck_assert_int_eq(enccache_list(NULL, NULL, NULL, no_item, NULL),
			 -EINVAL);
	ck_assert_int_eq(enccache_list(main_c, NULL, NULL, NULL, NULL),
			 -EINVAL);
	ck_assert_int_eq(enccache_buf_append(NULL, "x", 1), -EINVAL);
	ck_assert_int_eq(enccache_execute_cached(NULL, NULL, never_cb, NULL,
						 "a", 0, NULL, NULL, &d, &n),
			 -EINVAL);
	ck_assert_int_eq(enccache_execute_cached(main_c, NULL, NULL, NULL,
						 "a", 0, NULL, NULL, &d, &n),
			 -EINVAL);
	ck_assert_int_eq(enccache_execute_cached(main_c, NULL, never_cb, NULL,
						 NULL, 0, NULL, NULL, &d, &n),
			 -EINVAL);
	/* data without len, and the other way round */
	ck_assert_int_eq(enccache_execute_cached(main_c, NULL, never_cb, NULL,
						 "a", 0, NULL, NULL, &d, NULL),
			 -EINVAL);
	ck_assert_int_eq(enccache_execute_cached(main_c, NULL, never_cb, NULL,
						 "a", 0, NULL, NULL, NULL, &n),
			 -EINVAL);
	ck_assert_int_eq(enccache_execute_cached(main_c, NULL, never_cb, NULL,
						 "a", 1u << 7, NULL, NULL, &d,
						 &n), -EINVAL);
	ck_assert_int_eq(enccache_get_hashed_filename(NULL, 0, NULL, &t),
			 -EINVAL);
	ck_assert_int_eq(enccache_get_hashed_filename("x", 0, NULL, NULL),
			 -EINVAL);
	ck_assert_int_eq(enccache_json_to_plist("1", 1, NULL, &n), -EINVAL);
	ck_assert_int_eq(enccache_json_to_plist(NULL, 1, &p, &n), -EINVAL);
	ck_assert_int_eq(enccache_plist_to_json("x", 1, NULL, &n), -EINVAL);
	ck_assert_int_eq(enccache_plist_to_json(NULL, 1, &t, &n), -EINVAL);

	/* Freeing nothing is fine. */
	enccache_free(NULL);
	enccache_entry_free(NULL);
	enccache_secrets_free(NULL);
	enccache_close(NULL);
	enccache_secrets_free(s);
}
END_TEST

START_TEST(test_invalid_arguments)
{
	enccache_secrets *s = secrets_of("default", "pw", NULL, NULL);
	enccache_secrets *none;
	struct enccache_entry *e;
	uint8_t *d;
	size_t n;
	char *t;
	enccache *c;

	ck_assert_int_eq(enccache_secrets_new(&none), 0);
	ck_assert_int_eq(enccache_open(dir, none, "s", 1, NULL, NULL, &c),
			 ENCCACHE_ESECRETS);
	enccache_secrets_free(none);
	ck_assert_int_eq(enccache_open(dir, s, "s", 1, "soon", NULL, &c),
			 ENCCACHE_ETTL);
	ck_assert_int_eq(enccache_open(dir, s, "s", 1, NULL, "", &c), -EINVAL);
	ck_assert_int_eq(enccache_open(dir, s, "s", 1, NULL, "a/b", &c),
			 -EINVAL);
	/* A file where the directory should be. */
	spit(path_of(tmp, "plainfile"), "x", 1);
	ck_assert_int_eq(enccache_open(path_of(tmp, "plainfile"), s, "s", 1,
				       NULL, NULL, &c), -ENOTDIR);
	ck_assert_ptr_null(c);
	enccache_secrets_free(s);

	ck_assert_int_eq(load_code(main_c, "../x", NULL, NULL), ENCCACHE_EID);
	ck_assert_int_eq(load_code(main_c, "/abs", NULL, NULL), ENCCACHE_EID);
	ck_assert_int_eq(load_code(main_c, "", NULL, NULL), ENCCACHE_EID);
	ck_assert_int_eq(load_code(main_c, "a//b", NULL, NULL), ENCCACHE_EID);
	ck_assert_int_eq(load_code(main_c, "args/a", "sometime", NULL),
			 ENCCACHE_ETTL);
	ck_assert_int_eq(load_code(main_c, "args/a", NULL, "yesterday"),
			 ENCCACHE_ETIME);
	ck_assert_int_eq(enccache_save(main_c, NULL, "x", 1, "../x", NULL,
				       NULL), ENCCACHE_EID);
	ck_assert_int_eq(enccache_save(main_c, "nope", "x", 1, "args/a", NULL,
				       NULL), ENCCACHE_EKEY);
	ck_assert_int_eq(enccache_save(main_c, NULL, "x", 1, "args/a", NULL,
				       "not a time"), ENCCACHE_ETIME);
	ck_assert_int_eq(enccache_save(main_c, NULL, "x", 1, "args/a",
				       "\xff\xfe", NULL), ENCCACHE_EUTF8);
	ck_assert_int_eq(enccache_exists(main_c, "args/a"), 0);
	ck_assert_int_eq(enccache_exists(main_c, "a/../b"), ENCCACHE_EID);
	ck_assert_int_eq(enccache_remove(main_c, ".."), ENCCACHE_EID);
	ck_assert_int_eq(enccache_remove(main_c, "args/none"), -ENOENT);
	ck_assert_int_eq(enccache_load_entry(main_c, "args/none", NULL, NULL,
					     &e), -ENOENT);
	ck_assert_ptr_null(e);
	ck_assert_int_eq(enccache_list(main_c, "never", NULL, no_item, NULL),
			 ENCCACHE_ETTL);
	ck_assert_int_eq(enccache_list(main_c, NULL, "x", no_item, NULL),
			 ENCCACHE_ETIME);
	ck_assert_int_eq(enccache_execute_cached(main_c, "nope", never_cb, NULL,
						 "args/a", 0, NULL, NULL, &d,
						 &n), ENCCACHE_EKEY);
	ck_assert_int_eq(enccache_execute_cached(main_c, NULL, never_cb, NULL,
						 "../a", 0, NULL, NULL, &d,
						 &n), ENCCACHE_EID);
	ck_assert_int_eq(enccache_execute_cached(main_c, NULL, never_cb, NULL,
						 "args/a", 0, "x", NULL, &d,
						 &n), ENCCACHE_ETTL);
	ck_assert_int_eq(enccache_get_hashed_filename("x", 7, NULL, &t),
			 -EINVAL);
	ck_assert_ptr_null(t);
	ck_assert_int_eq(enccache_get_hashed_filename("x", 65, NULL, &t),
			 -EINVAL);
	ck_assert_int_eq(enccache_get_hashed_filename("x", 0, "--!!--", &t),
			 -EINVAL);
}
END_TEST

/* --- secrets ------------------------------------------------------------- */

START_TEST(test_secrets_add)
{
	enccache_secrets *s;

	ck_assert_int_eq(enccache_secrets_new(&s), 0);
	ck_assert_int_eq(enccache_secrets_add(s, "a", "pw"), 0);
	ck_assert_int_eq(enccache_secrets_add(s, "a", "other"),
			 ENCCACHE_ESECRETS);
	ck_assert_int_eq(enccache_secrets_add(s, "b\xc3", "pw"), ENCCACHE_EUTF8);
	ck_assert_int_eq(enccache_secrets_add(s, "b", "\xed\xa0\x80"),
			 ENCCACHE_EUTF8);	/* a surrogate */
	ck_assert_int_eq(enccache_secrets_add(s, "b", "\xc0\xaf"),
			 ENCCACHE_EUTF8);	/* overlong */
	ck_assert_int_eq(enccache_secrets_add(s, "r\xc3\xa9ports", "p\xc3\xa9"),
			 0);
	enccache_secrets_free(s);
}
END_TEST

START_TEST(test_secrets_file)
{
	static const char text[] = "{\"default\": \"pw\", \"other\": \"pw2\"}";
	char good[PATH_MAX], loose[PATH_MAX], bad[PATH_MAX], link[PATH_MAX];
	enccache_secrets *s = (void *)1;
	enccache *c;
	uint8_t *d;
	size_t n;

	snprintf(good, sizeof(good), "%s/secrets-good", tmp);
	snprintf(loose, sizeof(loose), "%s/secrets-loose", tmp);
	snprintf(bad, sizeof(bad), "%s/secrets-bad", tmp);
	snprintf(link, sizeof(link), "%s/secrets-link", tmp);

	spit(good, text, strlen(text));
	ck_assert_int_eq(chmod(good, 0600), 0);
	spit(loose, text, strlen(text));
	ck_assert_int_eq(chmod(loose, 0644), 0);
	spit(bad, "[\"default\"]", 11);
	ck_assert_int_eq(chmod(bad, 0600), 0);
	unlink(link);
	ck_assert_int_eq(symlink(good, link), 0);

	ck_assert_int_eq(enccache_secrets_read_file(loose, &s), ENCCACHE_ELOOSE);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(enccache_secrets_read_file(bad, &s), ENCCACHE_ESECRETS);
	ck_assert_int_eq(enccache_secrets_read_file(link, &s), -ELOOP);
	ck_assert_int_eq(enccache_secrets_read_file(tmp, &s), -EINVAL);
	ck_assert_int_eq(enccache_secrets_read_file(path_of(tmp, "none"), &s),
			 -ENOENT);
	/* The file's keys are the keys main_c writes with. */
	ck_assert_int_eq(enccache_secrets_read_file(good, &s), 0);
	ck_assert_int_eq(enccache_open(dir, s, "salt", 4, NULL, NULL, &c), 0);
	enccache_secrets_free(s);
	ck_assert_int_eq(enccache_save(main_c, "other", "hi", 2, "sec/file",
				       NULL, NULL), 0);
	ck_assert_int_eq(enccache_load(c, "sec/file", NULL, NULL, &d, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_mem_eq(d, "hi", 2);
	enccache_free(d);
	enccache_close(c);
}
END_TEST

START_TEST(test_open_creates_dir)
{
	enccache_secrets *s = secrets_of("default", "pw", NULL, NULL);
	char sub[PATH_MAX];
	struct stat st;
	enccache *c;

	snprintf(sub, sizeof(sub), "%s/new/deeper/cache", tmp);
	ck_assert_int_eq(enccache_open(sub, s, "salt", 4, "1 day", ".x", &c),
			 0);
	enccache_secrets_free(s);
	ck_assert_int_eq(stat(sub, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	ck_assert_int_eq(enccache_save(c, NULL, "v", 1, "id", NULL, NULL), 0);
	snprintf(sub, sizeof(sub), "%s/new/deeper/cache/id.x", tmp);
	ck_assert_int_eq(stat(sub, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	enccache_close(c);
}
END_TEST

/* --- round trips --------------------------------------------------------- */

START_TEST(test_save_load)
{
	static const uint8_t bin[] = { 0, 1, 2, 0xff, 0, 'x' };
	uint8_t *d;
	size_t n;

	ck_assert_int_eq(enccache_save(main_c, NULL, bin, sizeof(bin),
				       "rt/bin", NULL, NULL), 0);
	ck_assert_int_eq(enccache_exists(main_c, "rt/bin"), 1);
	ck_assert_int_eq(enccache_load(main_c, "rt/bin", NULL, NULL, &d, &n),
			 0);
	ck_assert_uint_eq(n, sizeof(bin));
	ck_assert_mem_eq(d, bin, sizeof(bin));
	enccache_free(d);

	/* Empty data: a buffer all the same. */
	ck_assert_int_eq(enccache_save(main_c, NULL, NULL, 0, "rt/empty", NULL,
				       NULL), 0);
	ck_assert_int_eq(enccache_load(main_c, "rt/empty", NULL, NULL, &d, &n),
			 0);
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(n, 0);
	enccache_free(d);

	/* Overwrite, with durability on. */
	ck_assert_int_eq(enccache_set_durable(main_c, 1), 0);
	save(main_c, "rt/bin", "second");
	ck_assert_int_eq(enccache_set_durable(main_c, 0), 0);
	ck_assert_int_eq(enccache_load(main_c, "rt/bin", NULL, NULL, &d, &n),
			 0);
	ck_assert_uint_eq(n, 6);
	ck_assert_mem_eq(d, "second", 6);
	enccache_free(d);

	ck_assert_int_eq(enccache_remove(main_c, "rt/bin"), 0);
	ck_assert_int_eq(enccache_exists(main_c, "rt/bin"), 0);
	ck_assert_int_eq(load_code(main_c, "rt/bin", NULL, NULL), -ENOENT);
	/* A directory with the entry's file name is no envelope. */
	ck_assert_int_eq(mkdir(path_of(dir, "rt/dir"), 0700), 0);
	ck_assert_int_eq(enccache_exists(main_c, "rt/dir"), 0);
}
END_TEST

START_TEST(test_load_entry)
{
	struct enccache_entry *e;
	uint8_t *d;

	ck_assert_int_eq(enccache_save(main_c, "other", "abc", 3, "rt/meta",
				       "daily refresh",
				       "2026-02-07T12:00:00+00:00"), 0);
	ck_assert_int_eq(enccache_load_entry(main_c, "rt/meta", NULL, NULL, &e),
			 0);
	ck_assert_uint_eq(e->len, 3);
	ck_assert_mem_eq(e->data, "abc", 3);
	ck_assert_str_eq(e->key, "other");
	ck_assert_str_eq(e->comment, "daily refresh");
	ck_assert_str_eq(e->validasof, "2026-02-07T12:00:00+00:00");
	ck_assert_ptr_nonnull(e->created_at);
	ck_assert_int_ne(e->created_at_us, ENCCACHE_TIME_NONE);
	/* Default TTL: five days after creation. */
	ck_assert(e->expires_at_us == e->created_at_us + 5ll * 86400000000ll);
	/* Take the data over. */
	d = e->data;
	e->data = NULL;
	enccache_entry_free(e);
	ck_assert_mem_eq(d, "abc", 3);
	enccache_free(d);

	ck_assert_int_eq(enccache_load_entry(main_c, "rt/meta", "inf", NULL,
					     &e), 0);
	ck_assert(e->expires_at_us == ENCCACHE_TIME_NEVER);
	enccache_entry_free(e);

	save(main_c, "rt/plain", "x");
	ck_assert_int_eq(enccache_load_entry(main_c, "rt/plain", NULL, NULL,
					     &e), 0);
	ck_assert_str_eq(e->key, "default");
	ck_assert_ptr_null(e->comment);
	ck_assert_ptr_null(e->validasof);
	enccache_entry_free(e);
}
END_TEST

START_TEST(test_decode)
{
	struct enccache_entry *e = (void *)1;
	char *text;
	size_t len;

	save(main_c, "rt/decode", "payload");
	text = ec_test_slurp(path_of(dir, "rt/decode"), &len);
	ck_assert_int_eq(enccache_decode(main_c, text, len, NULL, NULL, &e), 0);
	ck_assert_uint_eq(e->len, 7);
	ck_assert_mem_eq(e->data, "payload", 7);
	enccache_entry_free(e);
	ck_assert_int_eq(enccache_decode(wrong_salt, text, len, NULL, NULL, &e),
			 ENCCACHE_ESALT);
	ck_assert_ptr_null(e);
	ck_assert_int_eq(enccache_decode(main_c, text, len / 2, NULL, NULL, &e),
			 ENCCACHE_ECORRUPT);
	ck_assert_int_eq(enccache_decode(main_c, "", 0, NULL, NULL, &e),
			 ENCCACHE_ECORRUPT);
	ck_assert_int_eq(enccache_decode(main_c, NULL, 0, NULL, NULL, &e),
			 ENCCACHE_ECORRUPT);
	ck_assert_int_eq(enccache_decode(main_c, text, len, "0", NULL, &e),
			 ENCCACHE_ESTALE);
	free(text);
}
END_TEST

/* --- each kind of invalid entry ----------------------------------------- */

START_TEST(test_bad_entries)
{
	int wrong_secret, wrong_salt_c, unknown, tampered, truncated, garbage;
	const char *p;
	char *text;
	size_t len;

	save(main_c, "bad/secret", "s");
	wrong_secret = load_code(wrong_pw, "bad/secret", NULL, NULL);
	ck_assert_int_eq(wrong_secret, ENCCACHE_EAUTH);

	save(main_c, "bad/salt", "s");
	wrong_salt_c = load_code(wrong_salt, "bad/salt", NULL, NULL);
	ck_assert_int_eq(wrong_salt_c, ENCCACHE_ESALT);

	save(main_c, "bad/key", "s");
	unknown = load_code(third, "bad/key", NULL, NULL);
	ck_assert_int_eq(unknown, ENCCACHE_EKEY);

	save(main_c, "bad/tampered", "secret data that is long enough");
	tamper_token(path_of(dir, "bad/tampered"));
	tampered = load_code(main_c, "bad/tampered", NULL, NULL);
	ck_assert_int_eq(tampered, ENCCACHE_EAUTH);

	save(main_c, "bad/truncated", "s");
	p = path_of(dir, "bad/truncated");
	text = ec_test_slurp(p, &len);
	spit(p, text, len / 2);
	free(text);
	truncated = load_code(main_c, "bad/truncated", NULL, NULL);
	ck_assert_int_eq(truncated, ENCCACHE_ECORRUPT);

	spit(path_of(dir, "bad/garbage"), "\x00\x01garbage", 9);
	garbage = load_code(main_c, "bad/garbage", NULL, NULL);
	ck_assert_int_eq(garbage, ENCCACHE_ECORRUPT);

	/* A renamed key name in the clear text is unknown, or fails
	 * authentication under the other key. */
	save(main_c, "bad/renamed", "s");
	set_field(path_of(dir, "bad/renamed"), "key", "other");
	ck_assert_int_eq(load_code(main_c, "bad/renamed", NULL, NULL),
			 ENCCACHE_EAUTH);
	set_field(path_of(dir, "bad/renamed"), "key", "nobody");
	ck_assert_int_eq(load_code(main_c, "bad/renamed", NULL, NULL),
			 ENCCACHE_EKEY);
	/* An unparsable created_at is the envelope's fault. */
	save(main_c, "bad/created", "s");
	set_field(path_of(dir, "bad/created"), "created_at", "yesterday");
	ck_assert_int_eq(load_code(main_c, "bad/created", NULL, NULL),
			 ENCCACHE_ECORRUPT);

	/* Distinct codes, each with its own text. */
	ck_assert_int_ne(wrong_salt_c, wrong_secret);
	ck_assert_int_ne(wrong_salt_c, truncated);
	ck_assert_int_ne(tampered, truncated);
	ck_assert_int_ne(unknown, tampered);
	ck_assert_int_ne(unknown, wrong_salt_c);
	ck_assert_str_ne(enccache_strerror(tampered),
			 enccache_strerror(truncated));
}
END_TEST

/* --- TTL and oldest_valid per call -------------------------------------- */

START_TEST(test_ttl_rules)
{
	save(main_c, "ttl/now", "n");
	ck_assert_int_eq(load_code(main_c, "ttl/now", NULL, NULL), 0);
	ck_assert_int_eq(load_code(main_c, "ttl/now", "0", NULL),
			 ENCCACHE_ESTALE);
	ck_assert_int_eq(load_code(main_c, "ttl/now", "1h", NULL), 0);
	ck_assert_int_eq(load_code(main_c, "ttl/now", "2000-01-01T00:00:00",
				   NULL), ENCCACHE_ESTALE);
	ck_assert_int_eq(load_code(main_c, "ttl/now", "9999-01-01T00:00:00Z",
				   NULL), 0);
	ck_assert_int_eq(load_code(main_c, "ttl/now", NULL,
				   "9999-01-01T00:00:00+00:00"),
			 ENCCACHE_ESTALE);
	ck_assert_int_eq(load_code(main_c, "ttl/now", "inf",
				   "2000-01-01T00:00:00Z"), 0);

	/* created_at is clear text: set back, the entry is stale under a
	 * duration, valid forever under "inf". */
	save(main_c, "ttl/old", "o");
	set_field(path_of(dir, "ttl/old"), "created_at",
		  "2000-01-01T00:00:00+00:00");
	ck_assert_int_eq(load_code(main_c, "ttl/old", NULL, NULL),
			 ENCCACHE_ESTALE);
	ck_assert_int_eq(load_code(main_c, "ttl/old", "forever", NULL), 0);
	ck_assert_int_eq(load_code(main_c, "ttl/old", "  INF ", NULL), 0);
	ck_assert_int_eq(load_code(main_c, "ttl/old", "30000 days", NULL), 0);
}
END_TEST

START_TEST(test_default_ttl)
{
	enccache_secrets *s = secrets_of("default", "pw", NULL, NULL);
	enccache *zero, *inf;

	ck_assert_int_eq(enccache_open(dir, s, "salt", 4, "0", NULL, &zero), 0);
	ck_assert_int_eq(enccache_open(dir, s, "salt", 4, "infinite", NULL,
				       &inf), 0);
	enccache_secrets_free(s);
	save(main_c, "ttl/default", "d");
	set_field(path_of(dir, "ttl/default"), "created_at",
		  "2001-01-01T00:00:00+00:00");
	ck_assert_int_eq(load_code(zero, "ttl/default", NULL, NULL),
			 ENCCACHE_ESTALE);
	ck_assert_int_eq(load_code(inf, "ttl/default", NULL, NULL), 0);
	/* The call's TTL wins over the cache's. */
	ck_assert_int_eq(load_code(zero, "ttl/default", "inf", NULL), 0);
	ck_assert_int_eq(load_code(inf, "ttl/default", "1 day", NULL),
			 ENCCACHE_ESTALE);
	enccache_close(zero);
	enccache_close(inf);
}
END_TEST

/* --- listing -------------------------------------------------------------- */

struct seen {
	char ids[16][64];
	int states[16];
	int errors[16];
	size_t sizes[16];
	char keys[16][16];
	int n;
	int stop_after;		/* 0: never */
};

static int record(void *arg, const struct enccache_item *it)
{
	struct seen *s = arg;

	ck_assert_int_lt(s->n, 16);
	snprintf(s->ids[s->n], sizeof(s->ids[0]), "%s", it->id);
	snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s",
		 it->key ? it->key : "(none)");
	s->states[s->n] = it->state;
	s->errors[s->n] = it->error;
	s->sizes[s->n] = it->size;
	s->n++;
	return s->stop_after && s->n == s->stop_after ? 42 : 0;
}

/* Write id with c into the main dir, then move it into listdir. */
static void plant(enccache *c, const char *id, const char *text)
{
	char *buf;
	size_t len;

	save(c, id, text);
	buf = ec_test_slurp(path_of(dir, id), &len);
	spit(path_of(listdir, id), buf, len);
	free(buf);
	ck_assert_int_eq(enccache_remove(c, id), 0);
}

START_TEST(test_list_states)
{
	struct seen s = { .n = 0 };
	char sub[PATH_MAX];

	snprintf(sub, sizeof(sub), "%s/d", listdir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	plant(main_c, "a-valid", "12345");
	plant(main_c, "b-stale", "x");
	set_field(path_of(listdir, "b-stale"), "created_at",
		  "2000-01-01T00:00:00+00:00");
	plant(wrong_salt, "c-salt", "x");
	plant(third, "d/e-unknown", "x");
	spit(path_of(listdir, "f-corrupt"), "{\"key\": ", 8);
	plant(main_c, "g-tampered", "some data, long enough for the token");
	tamper_token(path_of(listdir, "g-tampered"));
	snprintf(sub, sizeof(sub), "%s/not-an-entry.txt", listdir);
	spit(sub, "x", 1);

	ck_assert_int_eq(enccache_list(list_c, NULL, NULL, record, &s), 0);
	ck_assert_int_eq(s.n, 6);
	ck_assert_str_eq(s.ids[0], "a-valid");
	ck_assert_int_eq(s.states[0], ENCCACHE_VALID);
	ck_assert_int_eq(s.errors[0], 0);
	ck_assert_uint_eq(s.sizes[0], 5);
	ck_assert_str_eq(s.keys[0], "default");
	ck_assert_str_eq(s.ids[1], "b-stale");
	ck_assert_int_eq(s.states[1], ENCCACHE_STALE);
	ck_assert_int_eq(s.errors[1], ENCCACHE_ESTALE);
	ck_assert_uint_eq(s.sizes[1], 1);
	ck_assert_str_eq(s.ids[2], "c-salt");
	ck_assert_int_eq(s.states[2], ENCCACHE_SALT_MISMATCH);
	ck_assert_int_eq(s.errors[2], ENCCACHE_ESALT);
	ck_assert_str_eq(s.ids[3], "d/e-unknown");
	ck_assert_int_eq(s.states[3], ENCCACHE_UNKNOWN_KEY);
	ck_assert_int_eq(s.errors[3], ENCCACHE_EKEY);
	ck_assert_str_eq(s.keys[3], "third");
	ck_assert_str_eq(s.ids[4], "f-corrupt");
	ck_assert_int_eq(s.states[4], ENCCACHE_CORRUPT);
	ck_assert_int_eq(s.errors[4], ENCCACHE_ECORRUPT);
	ck_assert_str_eq(s.keys[4], "(none)");
	ck_assert_str_eq(s.ids[5], "g-tampered");
	ck_assert_int_eq(s.states[5], ENCCACHE_TAMPERED);
	ck_assert_int_eq(s.errors[5], ENCCACHE_EAUTH);
	ck_assert_uint_eq(s.sizes[5], 0);

	/* Under "inf" the stale one is valid. */
	s.n = 0;
	ck_assert_int_eq(enccache_list(list_c, "inf", NULL, record, &s), 0);
	ck_assert_int_eq(s.states[1], ENCCACHE_VALID);

	/* The callback stops the listing; its value comes back. */
	s.n = 0;
	s.stop_after = 2;
	ck_assert_int_eq(enccache_list(list_c, NULL, NULL, record, &s), 42);
	ck_assert_int_eq(s.n, 2);

	ck_assert_str_eq(enccache_state_name(ENCCACHE_VALID), "valid");
	ck_assert_str_eq(enccache_state_name(ENCCACHE_SALT_MISMATCH),
			 "salt-mismatch");
	ck_assert_str_eq(enccache_state_name(ENCCACHE_TAMPERED), "tampered");
	ck_assert_str_eq(enccache_state_name(99), "?");
	ck_assert_str_eq(enccache_state_name(-1), "?");
}
END_TEST

/* --- execute_cached ------------------------------------------------------- */

struct job {
	int calls;
	const char *result;
	int ret;
};

static int compute(void *arg, enccache_buf *out)
{
	struct job *j = arg;

	j->calls++;
	if (j->result) {
		/* In two pieces, as a producer would. */
		size_t half = strlen(j->result) / 2;

		ck_assert_int_eq(enccache_buf_append(out, j->result, half), 0);
		ck_assert_int_eq(enccache_buf_append(out, j->result + half,
						     strlen(j->result) - half),
				 0);
	}
	return j->ret;
}

static int exec(enccache *c, struct job *j, const char *id, unsigned flags,
		const char *ttl, char **text)
{
	uint8_t *d;
	size_t n;
	int r;

	r = enccache_execute_cached(c, NULL, compute, j, id, flags, ttl, NULL,
				    &d, &n);
	if (r < 0) {
		ck_assert_ptr_null(d);
		*text = NULL;
		return r;
	}
	*text = malloc(n + 1);
	memcpy(*text, d, n);
	(*text)[n] = '\0';
	enccache_free(d);
	return r;
}

START_TEST(test_execute_raw)
{
	struct job j = { 0, "computed bytes", 0 };
	char *t;

	ck_assert_int_eq(exec(main_c, &j, "ex/raw", 0, NULL, &t),
			 ENCCACHE_COMPUTED);
	ck_assert_str_eq(t, "computed bytes");
	free(t);
	j.result = "other";
	ck_assert_int_eq(exec(main_c, &j, "ex/raw", 0, NULL, &t), ENCCACHE_HIT);
	ck_assert_str_eq(t, "computed bytes");
	free(t);
	ck_assert_int_eq(j.calls, 1);
	/* rerun */
	ck_assert_int_eq(exec(main_c, &j, "ex/raw", ENCCACHE_RERUN, NULL, &t),
			 ENCCACHE_COMPUTED);
	ck_assert_str_eq(t, "other");
	free(t);
	ck_assert_int_eq(j.calls, 2);
	/* ttl 0: always recomputed */
	ck_assert_int_eq(exec(main_c, &j, "ex/raw", 0, "0", &t),
			 ENCCACHE_COMPUTED);
	free(t);
	ck_assert_int_eq(j.calls, 3);
	/* Only make the entry. */
	ck_assert_int_eq(enccache_execute_cached(main_c, "other", compute, &j,
						 "ex/warm", 0, NULL, NULL,
						 NULL, NULL),
			 ENCCACHE_COMPUTED);
	ck_assert_int_eq(enccache_execute_cached(main_c, "other", compute, &j,
						 "ex/warm", 0, NULL, NULL,
						 NULL, NULL), ENCCACHE_HIT);
	ck_assert_int_eq(j.calls, 4);
}
END_TEST

START_TEST(test_execute_recomputes)
{
	struct job j = { 0, "fresh", 0 };
	char *t;

	/* Stale (created_at set back) */
	save(main_c, "ex/stale", "old");
	set_field(path_of(dir, "ex/stale"), "created_at",
		  "2000-01-01T00:00:00+00:00");
	ck_assert_int_eq(exec(main_c, &j, "ex/stale", 0, NULL, &t),
			 ENCCACHE_COMPUTED);
	ck_assert_str_eq(t, "fresh");
	free(t);
	/* Written with another salt: recomputed, as the module does. */
	save(wrong_salt, "ex/salt", "theirs");
	ck_assert_int_eq(exec(main_c, &j, "ex/salt", 0, NULL, &t),
			 ENCCACHE_COMPUTED);
	free(t);
	ck_assert_int_eq(load_code(main_c, "ex/salt", NULL, NULL), 0);
	ck_assert_int_eq(j.calls, 2);
}
END_TEST

START_TEST(test_execute_keeps_bad_entries)
{
	struct job j = { 0, "fresh", 0 };
	char *before, *after, *t;
	size_t n1, n2;

	save(main_c, "ex/tampered", "mine, long enough to tamper with");
	tamper_token(path_of(dir, "ex/tampered"));
	before = ec_test_slurp(path_of(dir, "ex/tampered"), &n1);
	ck_assert_int_eq(exec(main_c, &j, "ex/tampered", 0, NULL, &t),
			 ENCCACHE_EAUTH);
	save(third, "ex/unknown", "theirs");
	ck_assert_int_eq(exec(main_c, &j, "ex/unknown", 0, NULL, &t),
			 ENCCACHE_EKEY);
	spit(path_of(dir, "ex/corrupt"), "{", 1);
	ck_assert_int_eq(exec(main_c, &j, "ex/corrupt", 0, NULL, &t),
			 ENCCACHE_ECORRUPT);
	ck_assert_int_eq(j.calls, 0);
	after = ec_test_slurp(path_of(dir, "ex/tampered"), &n2);
	ck_assert_uint_eq(n1, n2);
	ck_assert_mem_eq(before, after, n1);
	free(before);
	free(after);
	/* rerun replaces it */
	ck_assert_int_eq(exec(main_c, &j, "ex/tampered", ENCCACHE_RERUN, NULL,
			      &t), ENCCACHE_COMPUTED);
	free(t);
	ck_assert_int_eq(load_code(main_c, "ex/tampered", NULL, NULL), 0);
}
END_TEST

START_TEST(test_execute_callback_fails)
{
	struct job j = { 0, "partial", -EPIPE };
	char *t;

	ck_assert_int_eq(exec(main_c, &j, "ex/fail", 0, NULL, &t), -EPIPE);
	ck_assert_int_eq(enccache_exists(main_c, "ex/fail"), 0);
	j.ret = 7;
	ck_assert_int_eq(exec(main_c, &j, "ex/fail", 0, NULL, &t),
			 ENCCACHE_ECALLBACK);
	ck_assert_int_eq(enccache_exists(main_c, "ex/fail"), 0);
	/* A failure keeps the old entry. */
	save(main_c, "ex/keep", "old");
	ck_assert_int_eq(exec(main_c, &j, "ex/keep", ENCCACHE_RERUN, NULL, &t),
			 ENCCACHE_ECALLBACK);
	ck_assert_int_eq(load_code(main_c, "ex/keep", NULL, NULL), 0);
	ck_assert_int_eq(j.calls, 3);
}
END_TEST

START_TEST(test_execute_json)
{
	static const char pretty[] =
		"{\n  \"price\": 42.0,\n  \"currency\": \"EUR\"\n}\n";
	struct job j = { 0, "{\"price\": 42.0, \"currency\": \"EUR\"}", 0 };
	uint8_t *d;
	size_t n;
	char *t;

	ck_assert_int_eq(exec(main_c, &j, "ex/json", ENCCACHE_JSON, NULL, &t),
			 ENCCACHE_COMPUTED);
	ck_assert_str_eq(t, pretty);
	free(t);
	ck_assert_int_eq(exec(main_c, &j, "ex/json", ENCCACHE_JSON, NULL, &t),
			 ENCCACHE_HIT);
	ck_assert_str_eq(t, pretty);
	free(t);
	ck_assert_int_eq(j.calls, 1);
	/* Stored as a binary plist, what the module's execute_cached
	 * stores. */
	ck_assert_int_eq(enccache_load(main_c, "ex/json", NULL, NULL, &d, &n),
			 0);
	ck_assert_uint_ge(n, 8);
	ck_assert_mem_eq(d, "bplist00", 8);
	enccache_free(d);

	/* Not JSON: nothing saved. */
	j.result = "{not json";
	ck_assert_int_eq(exec(main_c, &j, "ex/json-bad", ENCCACHE_JSON, NULL,
			      &t), ENCCACHE_EJSON);
	ck_assert_int_eq(enccache_exists(main_c, "ex/json-bad"), 0);
	/* A raw entry is not what a JSON caller wants. */
	save(main_c, "ex/raw-entry", "raw bytes");
	ck_assert_int_eq(exec(main_c, &j, "ex/raw-entry", ENCCACHE_JSON, NULL,
			      &t), ENCCACHE_ENOTPLIST);
}
END_TEST

/* --- threads -------------------------------------------------------------- */

#define THREADS 4
#define ROUNDS 40

static int json_cb(void *arg, enccache_buf *out)
{
	(void)arg;
	return enccache_buf_append(out, "{\"n\": 1}", 8);
}

/* Saves and loads of its own ids, and execute_cached of one shared id,
 * all on the one handle.  Returns the first failure's code, or 0. */
static void *worker(void *arg)
{
	long k = (long)arg;
	char id[64], text[64];
	uint8_t *d;
	size_t n;
	int i, err = 0;

	for (i = 0; i < ROUNDS && !err; i++) {
		snprintf(id, sizeof(id), "thr/%ld/%d", k, i % 5);
		snprintf(text, sizeof(text), "thread %ld round %d", k, i);
		err = enccache_save(main_c, NULL, text, strlen(text), id, NULL,
				    NULL);
		if (!err)
			err = enccache_load(main_c, id, NULL, NULL, &d, &n);
		if (!err) {
			if (n != strlen(text) || memcmp(d, text, n) != 0)
				err = -EBADMSG;
			enccache_free(d);
		}
		if (!err) {
			err = enccache_execute_cached(main_c, NULL, json_cb,
						      NULL, "thr/shared",
						      ENCCACHE_JSON, NULL, NULL,
						      &d, &n);
			if (err >= 0) {
				err = strcmp((const char *)d,
					     "{\n  \"n\": 1\n}\n") ? -EBADMSG : 0;
				enccache_free(d);
			}
		}
	}
	return (void *)(long)err;
}

START_TEST(test_threads)
{
	pthread_t t[THREADS];
	void *ret;
	long k;

	for (k = 0; k < THREADS; k++)
		ck_assert_int_eq(pthread_create(&t[k], NULL, worker, (void *)k),
				 0);
	for (k = 0; k < THREADS; k++) {
		ck_assert_int_eq(pthread_join(t[k], &ret), 0);
		ck_assert_int_eq((int)(long)ret, 0);
	}
}
END_TEST

/* --- helpers -------------------------------------------------------------- */

START_TEST(test_hashed_filename)
{
	/* SHA-256("abc") */
	static const char abc[] =
		"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
	char *t;

	ck_assert_int_eq(enccache_get_hashed_filename("abc", 0, NULL, &t), 0);
	ck_assert_uint_eq(strlen(t), 32);
	ck_assert_int_eq(strncmp(t, abc, 32), 0);
	enccache_free(t);
	ck_assert_int_eq(enccache_get_hashed_filename("abc", 64, NULL, &t), 0);
	ck_assert_str_eq(t, abc);
	enccache_free(t);
	ck_assert_int_eq(enccache_get_hashed_filename("abc", 8, " Hello, World! ",
						      &t), 0);
	ck_assert_str_eq(t, "hello-world-ba7816bf");
	enccache_free(t);
}
END_TEST

START_TEST(test_json_plist)
{
	static const char json[] = "{\"b\": [1, true, \"x\"], \"a\": "
				   "{\"$data\": \"AAE=\"}}";
	uint8_t *p;
	size_t n, m;
	char *t;

	ck_assert_int_eq(enccache_json_to_plist(json, strlen(json), &p, &n), 0);
	ck_assert_mem_eq(p, "bplist00", 8);
	ck_assert_int_eq(enccache_plist_to_json(p, n, &t, &m), 0);
	ck_assert_uint_eq(strlen(t), m);
	ck_assert_str_eq(t, "{\n  \"b\": [\n    1,\n    true,\n    \"x\"\n  ],\n"
			 "  \"a\": {\n    \"$data\": \"AAE=\"\n  }\n}\n");
	enccache_free(t);
	/* A truncated plist is no plist. */
	ck_assert_int_eq(enccache_plist_to_json(p, n - 3, &t, &m),
			 ENCCACHE_ENOTPLIST);
	ck_assert_ptr_null(t);
	enccache_free(p);

	ck_assert_int_eq(enccache_json_to_plist("null", 4, &p, &n),
			 ENCCACHE_EJSON);
	ck_assert_ptr_null(p);
	ck_assert_int_eq(enccache_json_to_plist("[1,", 3, &p, &n),
			 ENCCACHE_EJSON);
	ck_assert_int_eq(enccache_json_to_plist("", 0, &p, &n), ENCCACHE_EJSON);
	/* an overlong '5' inside a string: not UTF-8, so not JSON */
	ck_assert_int_eq(enccache_json_to_plist("[\"\xc0\xb5\"]", 6, &p, &n),
			 ENCCACHE_EJSON);
	ck_assert_int_eq(enccache_plist_to_json("hello", 5, &t, &m),
			 ENCCACHE_ENOTPLIST);
	ck_assert_int_eq(enccache_plist_to_json(NULL, 0, &t, &m),
			 ENCCACHE_ENOTPLIST);
}
END_TEST

START_TEST(test_strerror)
{
	int codes[] = {
		ENCCACHE_ESTALE, ENCCACHE_ESALT, ENCCACHE_EKEY, ENCCACHE_EAUTH,
		ENCCACHE_ECORRUPT, ENCCACHE_ETTL, ENCCACHE_ETIME, ENCCACHE_EID,
		ENCCACHE_ESECRETS, ENCCACHE_ELOOSE, ENCCACHE_EUTF8,
		ENCCACHE_EJSON, ENCCACHE_ENOTPLIST, ENCCACHE_ETOOBIG,
		ENCCACHE_ECALLBACK,
	};
	size_t i, k, n = sizeof(codes) / sizeof(codes[0]);

	for (i = 0; i < n; i++) {
		ck_assert_int_lt(codes[i], -4095);
		ck_assert_str_ne(enccache_strerror(codes[i]), "unknown error");
		for (k = 0; k < i; k++)
			ck_assert_str_ne(enccache_strerror(codes[i]),
					 enccache_strerror(codes[k]));
	}
	ck_assert_str_eq(enccache_strerror(0), "success");
	ck_assert_str_eq(enccache_strerror(ENCCACHE_COMPUTED), "success");
	ck_assert_str_eq(enccache_strerror(-ENOENT), "No such file or directory");
	ck_assert_str_eq(enccache_strerror(-5000), "unknown error");
	ck_assert_str_eq(enccache_strerror(-5016), "unknown error");
	ck_assert_str_eq(enccache_strerror(-99999), "unknown error");
	ck_assert_str_eq(enccache_strerror(-2147483647 - 1), "unknown error");
	ck_assert_str_eq(enccache_version(), ENCCACHE_VERSION);
}
END_TEST

static void setup_once(void);
static void teardown_last(void);

static Suite *lib_suite(void)
{
	Suite *s = suite_create("lib");
	TCase *tc;

	tc = tcase_create("arguments");
	tcase_add_unchecked_fixture(tc, setup_once, NULL);
	tcase_add_test(tc, test_null_arguments);
	tcase_add_test(tc, test_invalid_arguments);
	suite_add_tcase(s, tc);

	tc = tcase_create("secrets");
	tcase_add_unchecked_fixture(tc, setup_once, NULL);
	tcase_add_test(tc, test_secrets_add);
	tcase_add_test(tc, test_secrets_file);
	tcase_add_test(tc, test_open_creates_dir);
	suite_add_tcase(s, tc);

	tc = tcase_create("entries");
	tcase_add_unchecked_fixture(tc, setup_once, NULL);
	tcase_add_test(tc, test_save_load);
	tcase_add_test(tc, test_load_entry);
	tcase_add_test(tc, test_decode);
	tcase_add_test(tc, test_bad_entries);
	tcase_add_test(tc, test_ttl_rules);
	tcase_add_test(tc, test_default_ttl);
	suite_add_tcase(s, tc);

	tc = tcase_create("list");
	tcase_add_unchecked_fixture(tc, setup_once, NULL);
	tcase_add_test(tc, test_list_states);
	suite_add_tcase(s, tc);

	tc = tcase_create("execute_cached");
	tcase_add_unchecked_fixture(tc, setup_once, NULL);
	tcase_add_test(tc, test_execute_raw);
	tcase_add_test(tc, test_execute_recomputes);
	tcase_add_test(tc, test_execute_keeps_bad_entries);
	tcase_add_test(tc, test_execute_callback_fails);
	tcase_add_test(tc, test_execute_json);
	suite_add_tcase(s, tc);

	tc = tcase_create("threads");
	tcase_add_unchecked_fixture(tc, setup_once, NULL);
	tcase_add_test(tc, test_threads);
	suite_add_tcase(s, tc);

	tc = tcase_create("helpers");
	tcase_add_unchecked_fixture(tc, setup_once, teardown_last);
	tcase_add_test(tc, test_hashed_filename);
	tcase_add_test(tc, test_json_plist);
	tcase_add_test(tc, test_strerror);
	suite_add_tcase(s, tc);
	return s;
}

/*
 * Open the caches once, in the runner's process (an unchecked fixture of
 * every TCase: the first one does the work), so that forked tests
 * inherit them.  ck_assert works here, unlike in main().
 */
static void setup_once(void)
{
	if (main_c)
		return;
	tmp = ec_test_tmpdir("ec-lib");
	snprintf(dir, sizeof(dir), "%s/cache", tmp);
	snprintf(listdir, sizeof(listdir), "%s/list", tmp);
	main_c = open_at(dir, "default", "pw", "other", "pw2", "salt");
	wrong_pw = open_at(dir, "default", "wrong", NULL, NULL, "salt");
	wrong_salt = open_at(dir, "default", "pw", "other", "pw2", "pepper");
	third = open_at(dir, "third", "pw3", NULL, NULL, "salt");
	list_c = open_at(listdir, "default", "pw", NULL, NULL, "salt");
}

/* Runs once, after the last TCase (the suite's order is fixed). */
static void teardown_last(void)
{
	enccache_close(main_c);
	enccache_close(wrong_pw);
	enccache_close(wrong_salt);
	enccache_close(third);
	enccache_close(list_c);
	main_c = wrong_pw = wrong_salt = third = list_c = NULL;
	ec_test_rm_rf(tmp);
	free(tmp);
	tmp = NULL;
}

int main(void)
{
	return ec_test_run(lib_suite());
}
