/* Unit tests for src/cache.c: the golden cache, the six load states,
 * saving, metadata rewrites, listing and hashed file names. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "error.h"
#include "fernet.h"
#include "secure.h"
#include "unit_cache.h"


static char *tmp;

static void mk_tmp(void)
{
	tmp = ec_test_tmpdir("ec-cache");
}

static void rm_tmp(void)
{
	ec_test_tmpdir_free(&tmp);
}

static const char *tpath(const char *rel)
{
	return ec_test_path(tmp, rel);
}

static struct ec_ttl inf(void)
{
	struct ec_ttl t = { EC_TTL_INFINITE, 0 };

	return t;
}

/* --- the golden cache written by the Python module -------------------- */

/* An absolute expiry at t. */
static struct ec_ttl until(int64_t t)
{
	struct ec_ttl ttl = { EC_TTL_ABSOLUTE, t };

	return ttl;
}

static struct ec_cache *golden;

static void golden_setup(void)
{
	struct ec_cache_options o = {
		.dir = EC_GOLDEN "/cache", .ttl = { EC_TTL_INFINITE, 0 },
		.oldest_valid_us = EC_TIME_NONE,
	};
	struct ec_secrets s;
	size_t saltlen;
	char *salt = ec_test_slurp(EC_GOLDEN "/salt.bin", &saltlen);
	char *sj;

	o.salt = (const uint8_t *)salt;
	o.salt_len = saltlen;
	/* git keeps secrets.json 0644, which ec_secrets_read_file rightly
	 * refuses: parse its text instead. */
	sj = ec_test_slurp(EC_GOLDEN "/secrets.json", NULL);
	ck_assert_int_eq(ec_secrets_parse(sj, strlen(sj), &s), 0);
	free(sj);
	ck_assert_int_eq(ec_cache_open(&o, &s, &golden), 0);
	free(salt);
}

static void golden_teardown(void)
{
	ec_cache_free(golden);
}

START_TEST(test_golden_entries)
{
	char *text = ec_test_slurp(EC_GOLDEN "/expected.json", NULL);
	struct json_object *root = json_tokener_parse(text);
	struct json_object *entries;
	size_t i, n;

	ck_assert_ptr_nonnull(root);
	ck_assert(json_object_object_get_ex(root, "entries", &entries));
	n = json_object_array_length(entries);
	ck_assert_uint_ge(n, 7);
	ck_assert_str_eq(ec_cache_fingerprint(golden), "ca8ba314b473754d");
	for (i = 0; i < n; i++) {
		struct json_object *x = json_object_array_get_idx(entries, i);
		struct json_object *f;
		const char *id, *b64;
		unsigned char *want;
		size_t wantlen, cap;
		struct ec_entry e;

		ck_assert(json_object_object_get_ex(x, "cache_id", &f));
		id = json_object_get_string(f);
		ck_assert(json_object_object_get_ex(x, "data_b64", &f));
		b64 = json_object_get_string(f);
		cap = strlen(b64) + 1;
		want = malloc(cap);
		ck_assert_int_eq(sodium_base642bin(want, cap, b64, strlen(b64),
						   NULL, &wantlen, NULL,
						   sodium_base64_VARIANT_ORIGINAL),
				 0);
		ck_assert_int_eq(ec_cache_load(golden, id, EC_LOAD_DATA,
					       ec_clock_now_us(), &e), 0);
		ck_assert_msg(e.state == EC_STATE_VALID, "%s: %s (%s)", id,
			      ec_state_name(e.state), ec_strerror(e.reason));
		ck_assert_uint_eq(e.len, wantlen);
		ck_assert(e.data != NULL);
		ck_assert(wantlen == 0 || memcmp(e.data, want, wantlen) == 0);
		ck_assert(json_object_object_get_ex(x, "key", &f));
		ck_assert_str_eq(e.env.key, json_object_get_string(f));
		ck_assert(json_object_object_get_ex(x, "comment", &f));
		if (f)
			ck_assert_str_eq(e.env.comment,
					 json_object_get_string(f));
		else
			ck_assert_ptr_null(e.env.comment);
		ck_assert(json_object_object_get_ex(x, "validasof_datetime",
						    &f));
		if (f)
			ck_assert_str_eq(e.validasof,
					 json_object_get_string(f));
		else
			ck_assert_ptr_null(e.validasof);
		ck_assert_int_ne(e.created_us, EC_TIME_NONE);
		ck_assert(e.expires_us == EC_TIME_NEVER);
		ec_entry_release(&e);
		free(want);
	}
	json_object_put(root);
	free(text);
}
END_TEST

START_TEST(test_golden_default_ttl)
{
	struct ec_entry e;
	int64_t created;

	/* Under 5 days the golden entries expire 5 days after created_at. */
	ck_assert_int_eq(ec_time_parse_iso("2026-11-22T00:05:55.260814+00:00",
					   &created), 0);
	ck_assert_int_eq(ec_cache_load(golden, "raw/hello", 0,
				       created, &e), 0);
	ck_assert_int_eq(e.state, EC_STATE_VALID);
	ck_assert_ptr_null(e.data);	/* not asked for */
	ck_assert_uint_eq(e.len, 13);
	ec_entry_release(&e);
}
END_TEST

/* --- states ------------------------------------------------------------ */

static struct ec_cache *tc_cache;	/* secrets default+other, salt "s1" */
#define SECRETS2 "{\"default\": \"pw-default\", \"other\": \"pw-\\u00f6ther\"}"

static void states_setup(void)
{
	mk_tmp();
	tc_cache = ec_test_cache(tmp, SECRETS2, "s1", ec_ttl_default(),
				 EC_TIME_NONE);
}

static void states_teardown(void)
{
	ec_cache_free(tc_cache);
	rm_tmp();
}

static void save_at(struct ec_cache *c, const char *id, const char *data,
		    int64_t created)
{
	ec_test_save(c, id, data, strlen(data), created);
}

static enum ec_state state_of(struct ec_cache *c, const char *id,
			      int64_t now, int *reason)
{
	struct ec_entry e;
	enum ec_state s;

	ck_assert_int_eq(ec_cache_load(c, id, EC_LOAD_DATA, now, &e), 0);
	s = e.state;
	if (reason)
		*reason = e.reason;
	if (s == EC_STATE_VALID)
		ck_assert(e.data != NULL);
	else
		ck_assert_ptr_null(e.data);
	ec_entry_release(&e);
	return s;
}

START_TEST(test_save_load_roundtrip)
{
	static const uint8_t bin[] = { 0, 1, 2, 0, 255, 'x', 0 };
	struct ec_save_options o = {
		.key = "other", .comment = "caf\xc3\xa9 \"quoted\"",
		.validasof = "2026-02-07T12:00:00+00:00",
		.created_us = 1770465600000000 + 123456,
	};
	struct ec_entry e;
	struct stat sb;
	char *file;

	ck_assert_int_eq(ec_cache_save(tc_cache, "a/b", bin, sizeof(bin), &o),
			 0);
	ck_assert_int_eq(stat(tpath("a/b.enc.json"), &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	ck_assert_int_eq(stat(tpath("a"), &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0700);
	file = ec_test_slurp(tpath("a/b.enc.json"), NULL);
	ck_assert_msg(strncmp(file, "{\"key\": \"other\", \"salt_sha256\": \"",
			      33) == 0, "%s", file);
	ck_assert_ptr_nonnull(strstr(file, "\"created_at\": \"2026-02-07T12:00:"
				     "00.123456+00:00\", \"encrypted\": \"gAAAAA"));
	ck_assert_ptr_nonnull(strstr(file, "\", \"comment\": \"caf\\u00e9 "
				     "\\\"quoted\\\"\"}"));
	free(file);
	ck_assert_int_eq(ec_cache_load(tc_cache, "a/b", EC_LOAD_DATA,
				       o.created_us, &e), 0);
	ck_assert_int_eq(e.state, EC_STATE_VALID);
	ck_assert_uint_eq(e.len, sizeof(bin));
	ck_assert_mem_eq(e.data, bin, sizeof(bin));
	ck_assert_str_eq(e.env.key, "other");
	ck_assert_str_eq(e.env.comment, o.comment);
	ck_assert_str_eq(e.validasof, o.validasof);
	ck_assert_int_eq(e.created_us, o.created_us);
	ck_assert_int_eq(e.expires_us, o.created_us + 5LL * 86400 * 1000000);
	ck_assert_int_eq(e.st.st_size > 0, 1);
	ec_entry_release(&e);
	/* default key, empty data */
	ck_assert_int_eq(ec_cache_save(tc_cache, "empty", NULL, 0, NULL), 0);
	ck_assert_int_eq(ec_cache_load(tc_cache, "empty", EC_LOAD_DATA,
				       ec_clock_now_us(), &e), 0);
	ck_assert_int_eq(e.state, EC_STATE_VALID);
	ck_assert_uint_eq(e.len, 0);
	ck_assert_str_eq(e.env.key, "default");
	ck_assert_ptr_null(e.env.comment);
	ck_assert_ptr_null(e.validasof);
	ec_entry_release(&e);
}
END_TEST

/* What a small save tells of what it wrote: the tag a load gives, and,
 * linked in whole (a new entry), the stat of exactly that version; an
 * overwrite (a temp file renamed over it) tells no stat. */
START_TEST(test_save_result)
{
	struct ec_save_result r;
	struct ec_save_options o = { .created_us = EC_TIME_NONE, .result = &r };
	struct ec_entry e;
	struct stat sb;
	int i;

	for (i = 0; i < 2; i++) {
		memset(&r, 0xff, sizeof(r));
		ck_assert_int_eq(ec_cache_save(tc_cache, "r/new",
					       (const uint8_t *)"abc", 3, &o), 0);
		ck_assert(!r.streamed);
		ck_assert_int_eq(ec_cache_load(tc_cache, "r/new", EC_LOAD_DATA,
					       ec_clock_now_us(), &e), 0);
		ck_assert_uint_eq(r.tag, e.tag);
		ec_entry_release(&e);
		ck_assert_int_eq(stat(tpath("r/new.enc.json"), &sb), 0);
		if (i == 1 || !r.st.st_ino) {
			ck_assert_uint_eq(r.st.st_ino, 0);
			continue;	/* (no O_TMPFILE here) */
		}
		ck_assert_uint_eq(r.st.st_ino, sb.st_ino);
		ck_assert_int_eq(r.st.st_size, sb.st_size);
		ck_assert_int_eq(r.st.st_mtim.tv_nsec, sb.st_mtim.tv_nsec);
		ck_assert_int_eq(r.st.st_ctim.tv_sec, sb.st_ctim.tv_sec);
		ck_assert_int_eq(r.st.st_ctim.tv_nsec, sb.st_ctim.tv_nsec);
	}
}
END_TEST

START_TEST(test_ttl_boundary)
{
	int64_t t0 = 1770465600000000, d5 = 5LL * 86400 * 1000000;

	save_at(tc_cache, "t", "x", t0);
	ck_assert_int_eq(state_of(tc_cache, "t", t0 + d5, NULL),
			 EC_STATE_VALID);
	ck_assert_int_eq(state_of(tc_cache, "t", t0 + d5 + 1, NULL),
			 EC_STATE_STALE);
}
END_TEST

START_TEST(test_stale_ok)
{
	int64_t t0 = 1770465600000000;
	struct ec_entry e;

	save_at(tc_cache, "old", "data", t0);
	ck_assert_int_eq(ec_cache_load(tc_cache, "old",
				       EC_LOAD_DATA | EC_LOAD_STALE_OK,
				       t0 + 6LL * 86400 * 1000000, &e), 0);
	ck_assert_int_eq(e.state, EC_STATE_STALE);
	ck_assert_uint_eq(e.len, 4);
	ck_assert_mem_eq(e.data, "data", 4);
	ec_entry_release(&e);
}
END_TEST

START_TEST(test_oldest_valid)
{
	int64_t t0 = 1770465600000000;
	struct ec_cache *c;

	save_at(tc_cache, "o1", "x", t0);
	save_at(tc_cache, "o2", "x", t0 - 1);
	c = ec_test_cache(tmp, SECRETS2, "s1", inf(), t0);
	ck_assert_int_eq(state_of(c, "o1", t0, NULL), EC_STATE_VALID);
	ck_assert_int_eq(state_of(c, "o2", t0, NULL), EC_STATE_STALE);
	ec_cache_free(c);
}
END_TEST

START_TEST(test_salt_mismatch_and_unknown_key)
{
	struct ec_cache *c;
	int reason;

	save_at(tc_cache, "k", "x", EC_TIME_NONE);
	c = ec_test_cache(tmp, SECRETS2, "s2", inf(), EC_TIME_NONE);
	ck_assert_int_eq(state_of(c, "k", ec_clock_now_us(), &reason),
			 EC_STATE_SALT_MISMATCH);
	ck_assert_int_eq(reason, -EC_ESALT);
	ec_cache_free(c);
	c = ec_test_cache(tmp, "{\"another\": \"pw-default\"}", "s1", inf(),
			  EC_TIME_NONE);
	ck_assert_int_eq(state_of(c, "k", ec_clock_now_us(), &reason),
			 EC_STATE_UNKNOWN_KEY);
	ck_assert_int_eq(reason, -EC_EKEY);
	ec_cache_free(c);
	/* same key name, other password: authentication fails */
	c = ec_test_cache(tmp, "{\"default\": \"wrong\"}", "s1", inf(),
			  EC_TIME_NONE);
	ck_assert_int_eq(state_of(c, "k", ec_clock_now_us(), &reason),
			 EC_STATE_TAMPERED);
	ck_assert_int_eq(reason, -EC_EHMAC);
	ec_cache_free(c);
}
END_TEST

START_TEST(test_tampered_and_corrupt)
{
	size_t len, i;
	char *env, *tok;
	int reason;
	int64_t now = ec_clock_now_us();

	save_at(tc_cache, "v", "some data", EC_TIME_NONE);
	env = ec_test_slurp(tpath("v.enc.json"), &len);
	/* flip one token character in the middle */
	tok = strstr(env, "\"encrypted\": \"") + 14;
	tok[40] = tok[40] == 'A' ? 'B' : 'A';
	ec_test_write(tpath("t.enc.json"), env, len);
	ck_assert_int_eq(state_of(tc_cache, "t", now, &reason),
			 EC_STATE_TAMPERED);
	ck_assert_int_eq(reason, -EC_EHMAC);
	tok[40] = '!';	/* not base64 */
	ec_test_write(tpath("t.enc.json"), env, len);
	ck_assert_int_eq(state_of(tc_cache, "t", now, &reason),
			 EC_STATE_CORRUPT);
	ck_assert_int_eq(reason, -EC_EBASE64);
	free(env);
	env = ec_test_slurp(tpath("v.enc.json"), &len);
	/* every prefix of an envelope (a half-written file) is corrupt */
	for (i = 0; i < len; i++) {
		ec_test_write(tpath("h.enc.json"), env, i);
		ck_assert_int_eq(state_of(tc_cache, "h", now, NULL),
				 EC_STATE_CORRUPT);
	}
	ec_test_write(tpath("h.enc.json"), env, len);
	ck_assert_int_eq(state_of(tc_cache, "h", now, NULL), EC_STATE_VALID);
	free(env);
	ec_test_write(tpath("g.enc.json"), "\x00\xff garbage", 10);
	ck_assert_int_eq(state_of(tc_cache, "g", now, &reason),
			 EC_STATE_CORRUPT);
	ck_assert_int_eq(reason, -EC_EJSON);
	ec_test_write(tpath("f.enc.json"), "{\"key\": \"default\"}", 18);
	ck_assert_int_eq(state_of(tc_cache, "f", now, &reason),
			 EC_STATE_CORRUPT);
	ck_assert_int_eq(reason, -EC_EFIELD);
}
END_TEST

/* An envelope that authenticates but whose payload is not a plist. */
START_TEST(test_bad_payload_and_created_at)
{
	struct ec_secrets s;
	struct ec_keyring kr;
	uint8_t iv[EC_FERNET_IVBYTES] = { 0 };
	char *tok, buf[1024];
	size_t toklen;
	int reason, n;
	int64_t now = ec_clock_now_us();

	ck_assert_int_eq(ec_secrets_parse(SECRETS2, strlen(SECRETS2), &s), 0);
	ck_assert_int_eq(ec_keyring_derive(&kr, &s, (const uint8_t *)"s1", 2,
					   EC_TEST_ITERATIONS), 0);
	ck_assert_int_eq(ec_fernet_seal(kr.keys[0].key,
					(const uint8_t *)"not a plist", 11,
					0, iv, &tok, &toklen), 0);
	n = snprintf(buf, sizeof(buf), "{\"key\": \"default\", \"encrypted\": "
		     "\"%s\"}", tok);
	ec_test_write(tpath("p.enc.json"), buf, (size_t)n);
	ck_assert_int_eq(state_of(tc_cache, "p", now, &reason),
			 EC_STATE_CORRUPT);
	ck_assert_int_eq(reason, -EC_EPLIST);
	free(tok);
	ec_keyring_release(&kr);

	/* no created_at: stale under a finite TTL, valid under inf;
	 * no salt_sha256: accepted */
	save_at(tc_cache, "nc", "x", EC_TIME_NONE);
	{
		size_t len;
		char *env = ec_test_slurp(tpath("nc.enc.json"), &len);
		char *tokp = strstr(env, "\"encrypted\": ");
		struct ec_cache *c;

		n = snprintf(buf, sizeof(buf), "{\"key\": \"default\", %.*s",
			     (int)(strchr(tokp + 14, '"') - tokp + 1), tokp);
		buf[n++] = '}';
		ec_test_write(tpath("nc.enc.json"), buf, (size_t)n);
		ck_assert_int_eq(state_of(tc_cache, "nc", now, NULL),
				 EC_STATE_STALE);
		c = ec_test_cache(tmp, SECRETS2, "s1", inf(), EC_TIME_NONE);
		ck_assert_int_eq(state_of(c, "nc", now, NULL), EC_STATE_VALID);
		ec_cache_free(c);
		/* no created_at with oldest_valid set: still valid under
		 * inf and an absolute expiry (FORMAT.md, Validity) */
		c = ec_test_cache(tmp, SECRETS2, "s1", inf(), now - 1000000);
		ck_assert_int_eq(state_of(c, "nc", now, NULL), EC_STATE_VALID);
		ec_cache_free(c);
		c = ec_test_cache(tmp, SECRETS2, "s1", until(now + 1000000),
				  now - 1000000);
		ck_assert_int_eq(state_of(c, "nc", now, NULL), EC_STATE_VALID);
		ck_assert_int_eq(state_of(c, "nc", now + 2000000, NULL),
				 EC_STATE_STALE);
		ec_cache_free(c);
		/* an unparsable created_at: not valid under a duration
		 * (the module raises), ... */
		n = snprintf(buf, sizeof(buf), "{\"key\": \"default\", "
			     "\"created_at\": \"yesterday\", %.*s}",
			     (int)(strchr(tokp + 14, '"') - tokp + 1), tokp);
		ec_test_write(tpath("nc.enc.json"), buf, (size_t)n);
		ck_assert_int_eq(state_of(tc_cache, "nc", now, &reason),
				 EC_STATE_CORRUPT);
		ck_assert_int_eq(reason, -EC_ETIME);
		/* ... nor with oldest_valid set, ... */
		c = ec_test_cache(tmp, SECRETS2, "s1", inf(), now - 1000000);
		ck_assert_int_eq(state_of(c, "nc", now, &reason),
				 EC_STATE_CORRUPT);
		ck_assert_int_eq(reason, -EC_ETIME);
		ec_cache_free(c);
		/* ... but valid where the module never reads it: a TTL
		 * that never expires, an absolute expiry until it passes */
		c = ec_test_cache(tmp, SECRETS2, "s1", inf(), EC_TIME_NONE);
		ck_assert_int_eq(state_of(c, "nc", now, &reason),
				 EC_STATE_VALID);
		ck_assert_int_eq(reason, 0);
		ec_cache_free(c);
		c = ec_test_cache(tmp, SECRETS2, "s1", until(now + 1000000),
				  EC_TIME_NONE);
		ck_assert_int_eq(state_of(c, "nc", now, NULL), EC_STATE_VALID);
		ck_assert_int_eq(state_of(c, "nc", now + 2000000, NULL),
				 EC_STATE_STALE);
		ec_cache_free(c);
		free(env);
	}
}
END_TEST

START_TEST(test_load_errors)
{
	struct ec_entry e;

	ck_assert_int_eq(ec_cache_load(tc_cache, "none", 0, 0, &e), -ENOENT);
	ck_assert_int_eq(ec_cache_load(tc_cache, "../x", 0, 0, &e), -EC_EID);
	ck_assert_int_eq(symlink("/etc/hostname", tpath("l.enc.json")), 0);
	ck_assert_int_eq(ec_cache_load(tc_cache, "l", 0, 0, &e), -ELOOP);
}
END_TEST

static int count_entries(void)
{
	char cmd[PATH_MAX + 32];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "find '%s' -type f | wc -l", tmp);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(fscanf(p, "%d", &n), 1);
	pclose(p);
	return n;
}

START_TEST(test_save_errors)
{
	struct ec_save_options o = { .created_us = EC_TIME_NONE };
	struct ec_cache *c;

	o.key = "nope";
	ck_assert_int_eq(ec_cache_save(tc_cache, "x", (const uint8_t *)"d", 1,
				       &o), -EC_EKEY);
	o.key = NULL;
	o.validasof = "not a time";
	ck_assert_int_eq(ec_cache_save(tc_cache, "x", (const uint8_t *)"d", 1,
				       &o), -EC_ETIME);
	o.validasof = NULL;
	o.comment = "bad \xff utf8";
	ck_assert_int_eq(ec_cache_save(tc_cache, "x", (const uint8_t *)"d", 1,
				       &o), -EC_EUTF8);
	o.comment = NULL;
	ck_assert_int_eq(ec_cache_save(tc_cache, "/x", (const uint8_t *)"d", 1,
				       &o), -EC_EID);
	ck_assert_int_eq(count_entries(), 0);
	/* two secrets, none named "default": no default key */
	c = ec_test_cache(tmp, "{\"a\": \"1\", \"b\": \"2\"}", "s1", inf(),
			  EC_TIME_NONE);
	ck_assert_ptr_null(ec_cache_default_key(c));
	ck_assert_int_eq(ec_cache_save(c, "x", (const uint8_t *)"d", 1, NULL),
			 -EC_EKEY);
	ec_cache_free(c);
	c = ec_test_cache(tmp, "{\"only\": \"1\"}", "s1", inf(), EC_TIME_NONE);
	ck_assert_str_eq(ec_cache_default_key(c), "only");
	ec_cache_free(c);
	ck_assert_int_eq(count_entries(), 0);
}
END_TEST

START_TEST(test_open_errors)
{
	struct ec_cache_options o = {
		.dir = "/nonexistent", .salt = (const uint8_t *)"s",
		.salt_len = 1, .ttl = ec_ttl_default(),
		.oldest_valid_us = EC_TIME_NONE,
		.iterations = EC_TEST_ITERATIONS,
	};
	struct ec_secrets s;
	struct ec_cache *c = (struct ec_cache *)1;

	ck_assert_int_eq(ec_secrets_parse(SECRETS2, strlen(SECRETS2), &s), 0);
	ck_assert_int_eq(ec_cache_open(&o, &s, &c), -ENOENT);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(ec_secrets_parse(SECRETS2, strlen(SECRETS2), &s), 0);
	o.dir = tmp;
	o.default_key = "missing";
	ck_assert_int_eq(ec_cache_open(&o, &s, &c), -EC_EKEY);
}
END_TEST

START_TEST(test_set_meta)
{
	char *before, *after, *tb, *ta;
	struct ec_entry e;
	int64_t t = 946684800000000;	/* 2000-01-01 */

	save_at(tc_cache, "m", "payload", EC_TIME_NONE);
	before = ec_test_slurp(tpath("m.enc.json"), NULL);
	ck_assert_int_eq(ec_cache_set_meta(tc_cache, "m", EC_META_COMMENT,
					   "new note", 0), 0);
	after = ec_test_slurp(tpath("m.enc.json"), NULL);
	tb = strstr(before, "\"encrypted\"");
	ta = strstr(after, "\"encrypted\"");
	/* token unchanged, comment appended in json.dump's order */
	ck_assert_int_eq(strncmp(tb, ta, strlen(tb) - 1), 0);
	ck_assert_ptr_nonnull(strstr(after, "\", \"comment\": \"new note\"}"));
	free(after);
	ck_assert_int_eq(ec_cache_set_meta(tc_cache, "m", EC_META_CREATED,
					   NULL, t), 0);
	ck_assert_int_eq(ec_cache_load(tc_cache, "m", EC_LOAD_DATA,
				       ec_clock_now_us(), &e), 0);
	ck_assert_int_eq(e.state, EC_STATE_STALE);
	ck_assert_str_eq(e.env.created_at, "2000-01-01T00:00:00+00:00");
	ck_assert_str_eq(e.env.comment, "new note");
	ec_entry_release(&e);
	ck_assert_int_eq(ec_cache_set_meta(tc_cache, "m", EC_META_COMMENT,
					   NULL, 0), 0);
	after = ec_test_slurp(tpath("m.enc.json"), NULL);
	ck_assert_ptr_null(strstr(after, "comment"));
	free(after);
	/* a tampered envelope is not rewritten */
	ec_test_write(tpath("bad.enc.json"),
		      "{\"key\": \"default\", \"encrypted\": \"gAAAAAA\"}", 42);
	ck_assert_int_ne(ec_cache_set_meta(tc_cache, "bad", EC_META_COMMENT,
					   "x", 0), 0);
	after = ec_test_slurp(tpath("bad.enc.json"), NULL);
	ck_assert_ptr_null(strstr(after, "comment"));
	free(after);
	ck_assert_int_eq(ec_cache_set_meta(tc_cache, "gone", EC_META_COMMENT,
					   "x", 0), -ENOENT);
	free(before);
}
END_TEST

struct listed {
	char text[512];
};

static int on_entry(void *ctx, const char *id, struct ec_entry *e)
{
	struct listed *l = ctx;

	strcat(l->text, id);
	strcat(l->text, "=");
	strcat(l->text, ec_state_name(e->state));
	strcat(l->text, " ");
	return 0;
}

START_TEST(test_list)
{
	struct listed l = { "" };

	save_at(tc_cache, "b/x", "1", EC_TIME_NONE);
	save_at(tc_cache, "a", "1", 0);
	ec_test_write(tpath("b/y.enc.json"), "{", 1);
	ec_test_write(tpath("b/readme.txt"), "x", 1);
	ck_assert_int_eq(ec_cache_list(tc_cache, 0, ec_clock_now_us(),
				       on_entry, &l), 0);
	ck_assert_str_eq(l.text, "a=stale b/x=valid b/y=corrupt ");
	ck_assert_int_eq(ec_cache_remove(tc_cache, "a"), 0);
	ck_assert_int_eq(ec_cache_remove(tc_cache, "a"), -ENOENT);
}
END_TEST

/* --- verdicts and reason texts ----------------------------------------- */

/* Load id at load_now, then ask for its verdict and reason text at now;
 * checks the snprintf contract of the text.  The text is malloc'd. */
static char *verdict_of(struct ec_cache *c, const char *id, int64_t load_now,
			int64_t now, enum ec_state *state, int *reason)
{
	struct ec_entry e;
	size_t n;
	char *text;

	ck_assert_int_eq(ec_cache_load(c, id, 0, load_now, &e), 0);
	*state = ec_entry_verdict(c, &e, now, reason);
	n = ec_entry_reason_text(c, &e, now, NULL, 0);
	text = malloc(n + 1);
	ck_assert_ptr_nonnull(text);
	memset(text, 'X', n + 1);
	ck_assert_uint_eq(ec_entry_reason_text(c, &e, now, text, n + 1), n);
	ck_assert_uint_eq(strlen(text), n);
	ec_entry_release(&e);
	return text;
}

static void expect_verdict(struct ec_cache *c, const char *id,
			   int64_t load_now, int64_t now, enum ec_state want,
			   int want_reason, const char *want_text)
{
	enum ec_state state;
	int reason = 12345;
	char *text = verdict_of(c, id, load_now, now, &state, &reason);

	ck_assert_msg(state == want, "%s: %s, not %s", id,
		      ec_state_name(state), ec_state_name(want));
	ck_assert_int_eq(reason, want_reason);
	ck_assert_str_eq(text, want_text);
	free(text);
}

/* Rewrite id's envelope without its created_at (token kept). */
static void drop_created_at(const char *id)
{
	char path[PATH_MAX], *env, *tok, *end, *out;
	int n;

	snprintf(path, sizeof(path), "%s/%s.enc.json", tmp, id);
	env = ec_test_slurp(path, NULL);
	tok = strstr(env, "\"encrypted\": \"");
	ck_assert_ptr_nonnull(tok);
	end = strchr(tok + 14, '"');
	n = asprintf(&out, "{\"key\": \"default\", %.*s}",
		     (int)(end - tok + 1), tok);
	ck_assert_int_gt(n, 0);
	ec_test_write(path, out, (size_t)n);
	free(out);
	free(env);
}

START_TEST(test_verdict_valid_and_expiry)
{
	int64_t t0 = 1770465600000000, d5 = 5LL * 86400 * 1000000;
	const struct ec_ttl *ttl = ec_cache_ttl(tc_cache);

	ck_assert_int_eq(ttl->kind, EC_TTL_DURATION);
	ck_assert_int_eq(ttl->us, d5);
	ck_assert_int_eq(ec_cache_oldest_valid(tc_cache), EC_TIME_NONE);
	save_at(tc_cache, "t", "x", t0);
	/* valid while now <= expiry; the text of a valid entry is empty */
	expect_verdict(tc_cache, "t", t0, t0, EC_STATE_VALID, 0, "");
	expect_verdict(tc_cache, "t", t0, t0 + d5, EC_STATE_VALID, 0, "");
	/* loaded valid, asked later: stale from the first microsecond after */
	expect_verdict(tc_cache, "t", t0, t0 + d5 + 1, EC_STATE_STALE, 0,
		       "stale (expired 2026-02-12T12:00:00+00:00)");
	/* loaded stale, stays stale even if asked "earlier" */
	expect_verdict(tc_cache, "t", t0 + d5 + 1, t0 + d5 + 1,
		       EC_STATE_STALE, 0,
		       "stale (expired 2026-02-12T12:00:00+00:00)");
	expect_verdict(tc_cache, "t", t0 + d5 + 1, t0, EC_STATE_STALE, 0,
		       "stale (expired 2026-02-12T12:00:00+00:00)");
}
END_TEST

START_TEST(test_verdict_stale_texts)
{
	int64_t t0 = 1770465600000000;
	struct ec_ttl zero = { EC_TTL_ZERO, 0 };
	struct ec_ttl at = { EC_TTL_ABSOLUTE, 946684800000000 };
	struct ec_cache *c;
	struct ec_entry e;
	char buf[EC_REASON_MAX];

	save_at(tc_cache, "o1", "x", t0);
	save_at(tc_cache, "o2", "x", t0 - 1);
	save_at(tc_cache, "nc", "x", t0);
	drop_created_at("nc");

	c = ec_test_cache(tmp, SECRETS2, "s1", inf(), t0);
	ck_assert_int_eq(ec_cache_oldest_valid(c), t0);
	ck_assert_int_eq(ec_cache_ttl(c)->kind, EC_TTL_INFINITE);
	expect_verdict(c, "o1", t0, t0 + 1, EC_STATE_VALID, 0, "");
	expect_verdict(c, "o2", t0, t0, EC_STATE_STALE, 0,
		       "stale (created before --oldest-valid "
		       "2026-02-07T12:00:00+00:00)");
	/* oldest-valid set and no created_at: valid (FORMAT.md) */
	expect_verdict(c, "nc", t0, t0, EC_STATE_VALID, 0, "");
	ec_cache_free(c);

	c = ec_test_cache(tmp, SECRETS2, "s1", zero, EC_TIME_NONE);
	expect_verdict(c, "o1", t0, t0, EC_STATE_STALE, 0, "stale (ttl 0)");
	expect_verdict(c, "nc", t0, t0, EC_STATE_STALE, 0, "stale (ttl 0)");
	ec_cache_free(c);

	/* a finite duration and no created_at */
	expect_verdict(tc_cache, "nc", t0, t0, EC_STATE_STALE, 0,
		       "stale (no created_at)");

	/* an absolute expiry: created_at does not matter */
	c = ec_test_cache(tmp, SECRETS2, "s1", at, EC_TIME_NONE);
	expect_verdict(c, "o1", t0, t0, EC_STATE_STALE, 0,
		       "stale (expired 2000-01-01T00:00:00+00:00)");
	expect_verdict(c, "nc", t0, t0, EC_STATE_STALE, 0,
		       "stale (expired 2000-01-01T00:00:00+00:00)");
	/* ...valid up to that instant, then stale */
	expect_verdict(c, "o1", 946684800000000, 946684800000000,
		       EC_STATE_VALID, 0, "");
	expect_verdict(c, "o1", 946684800000000, 946684800000001,
		       EC_STATE_STALE, 0,
		       "stale (expired 2000-01-01T00:00:00+00:00)");
	ec_cache_free(c);

	/* stale with no rule left to name (never expires, known created_at):
	 * plain "stale" */
	c = ec_test_cache(tmp, SECRETS2, "s1", inf(), EC_TIME_NONE);
	memset(&e, 0, sizeof(e));
	e.state = EC_STATE_STALE;
	e.created_us = t0;
	e.expires_us = EC_TIME_NEVER;
	ck_assert_int_eq(ec_entry_verdict(c, &e, t0, NULL), EC_STATE_STALE);
	ck_assert_uint_eq(ec_entry_reason_text(c, &e, t0, buf, sizeof(buf)),
			  5);
	ck_assert_str_eq(buf, "stale");
	ec_cache_free(c);
}
END_TEST

START_TEST(test_verdict_bad_states)
{
	int64_t now = ec_clock_now_us();
	struct ec_cache *c;
	struct ec_entry e;
	char buf[EC_REASON_MAX], small[8], *env, *tok;
	size_t len;

	save_at(tc_cache, "k", "x", EC_TIME_NONE);
	/* bad states keep their reason at any time */
	c = ec_test_cache(tmp, SECRETS2, "s2", inf(), EC_TIME_NONE);
	expect_verdict(c, "k", now, now, EC_STATE_SALT_MISMATCH, -EC_ESALT,
		       "salt mismatch");
	ec_cache_free(c);
	c = ec_test_cache(tmp, "{\"another\": \"pw-default\"}", "s1", inf(),
			  EC_TIME_NONE);
	expect_verdict(c, "k", now, now + 1000000, EC_STATE_UNKNOWN_KEY,
		       -EC_EKEY, "unknown key name 'default'");
	ec_cache_free(c);

	env = ec_test_slurp(tpath("k.enc.json"), &len);
	tok = strstr(env, "\"encrypted\": \"") + 14;
	tok[40] = tok[40] == 'A' ? 'B' : 'A';
	ec_test_write(tpath("t.enc.json"), env, len);
	expect_verdict(tc_cache, "t", now, now, EC_STATE_TAMPERED, -EC_EHMAC,
		       "does not open with key 'default' (the wrong "
		       "password, or tampered with)");
	tok[40] = '!';
	ec_test_write(tpath("t.enc.json"), env, len);
	expect_verdict(tc_cache, "t", now, now, EC_STATE_CORRUPT, -EC_EBASE64,
		       "corrupt: token is not valid base64");
	free(env);
	ec_test_write(tpath("g.enc.json"), "garbage", 7);
	expect_verdict(tc_cache, "g", now, now, EC_STATE_CORRUPT, -EC_EJSON,
		       "corrupt: not a JSON envelope (corrupt or half-written)");
	env = ec_test_slurp(tpath("k.enc.json"), &len);
	tok = strstr(env, "\"created_at\": \"") + 15;
	memcpy(tok, "yesterday", 9);
	ec_test_write(tpath("y.enc.json"), env, len);
	expect_verdict(tc_cache, "y", now, now, EC_STATE_CORRUPT, -EC_ETIME,
		       "corrupt: created_at is not an ISO-8601 date-time");
	free(env);

	/* entries as a listing reports them: errno texts are lower-cased;
	 * no reason, no key */
	memset(&e, 0, sizeof(e));
	e.created_us = EC_TIME_NONE;
	e.expires_us = EC_TIME_NONE;
	e.state = EC_STATE_CORRUPT;
	e.reason = -EACCES;
	ck_assert_int_eq(ec_entry_verdict(tc_cache, &e, now, NULL),
			 EC_STATE_CORRUPT);
	ec_entry_reason_text(tc_cache, &e, now, buf, sizeof(buf));
	ck_assert_str_eq(buf, "corrupt: permission denied");
	e.reason = 0;
	ec_entry_reason_text(tc_cache, &e, now, buf, sizeof(buf));
	ck_assert_str_eq(buf, "corrupt");
	e.state = EC_STATE_UNKNOWN_KEY;
	e.reason = -EC_EKEY;
	ec_entry_reason_text(tc_cache, &e, now, buf, sizeof(buf));
	ck_assert_str_eq(buf, "unknown key name ");
	e.env.key = (char *)"caf\xc3\xa9\x01";	/* quoted as stored */
	ec_entry_reason_text(tc_cache, &e, now, buf, sizeof(buf));
	ck_assert_str_eq(buf, "unknown key name 'caf\xc3\xa9\x01'");

	/* snprintf contract: truncated and terminated, whole length back */
	ck_assert_uint_eq(ec_entry_reason_text(tc_cache, &e, now, small,
					       sizeof(small)), 25);
	ck_assert_str_eq(small, "unknown");
	ck_assert_uint_eq(ec_entry_reason_text(tc_cache, &e, now, small, 1),
			  25);
	ck_assert_str_eq(small, "");
	ck_assert_uint_eq(ec_entry_reason_text(tc_cache, &e, now, NULL, 0),
			  25);
}
END_TEST

/* --- hashed file names (values from Python's hashlib) ------------------ */

START_TEST(test_hashed_filename)
{
	static const struct {
		const char *text;
		unsigned len;
		const char *prefix, *want;
	} v[] = {
		{ "get_prices(date=2026-02-07)", 32, NULL,
		  "06c4bc991b73101dc00ac6661d399574" },
		{ "get_prices(date=2026-02-07)", 32, "prices",
		  "prices-06c4bc991b73101dc00ac6661d399574" },
		{ "get_prices(date=2026-02-07)", 8, "My Prices!!",
		  "my-prices-06c4bc99" },
		{ "", 64, NULL, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934"
		  "ca495991b7852b855" },
		{ "h\xc3\xa9llo", 10, "--\xc3\x9cn\xc3\xaf--", "n-3c48591d8d" },
		{ "", 8, "\xe2\x84\xaa_a--b", "k_a--b-e3b0c442" },
		{ "", 8, "\xc4\xb0x", "i-x-e3b0c442" },
	};
	size_t i;
	char *out;

	for (i = 0; i < sizeof(v) / sizeof(*v); i++) {
		ck_assert_int_eq(ec_hashed_filename(v[i].text, v[i].len,
						    v[i].prefix, &out), 0);
		ck_assert_str_eq(out, v[i].want);
		free(out);
	}
	ck_assert_int_eq(ec_hashed_filename("x", 7, NULL, &out), -EINVAL);
	ck_assert_int_eq(ec_hashed_filename("x", 65, NULL, &out), -EINVAL);
	ck_assert_int_eq(ec_hashed_filename("x", 32, "!!!", &out), -EINVAL);
	ck_assert_int_eq(ec_hashed_filename("x", 32, "", &out), -EINVAL);
}
END_TEST

START_TEST(test_inspect)
{
	struct ec_envelope env;
	struct stat sb;
	uint64_t ts = 0;
	bool has;

	ck_assert_int_eq(ec_inspect_file(EC_GOLDEN "/cache/raw/zeros.enc.json",
					 &env, &sb, &ts, &has), 0);
	ck_assert(has);
	ck_assert_str_eq(env.key, "reports");
	ck_assert_str_eq(env.comment, "all zero page");
	ck_assert_str_eq(env.salt_sha256, "ca8ba314b473754d");
	/* the token was made within a second of created_at */
	ck_assert_uint_ge(ts, 1795305955 - 1);
	ck_assert_uint_le(ts, 1795305955 + 1);
	ec_envelope_release(&env);
	ck_assert_int_eq(ec_inspect_file("/nonexistent", &env, &sb, &ts, &has),
			 -ENOENT);
	ck_assert_int_eq(ec_inspect_file("/tmp", &env, &sb, &ts, &has),
			 -EISDIR);
	ck_assert_int_eq(ec_inspect_file(EC_GOLDEN "/salt.bin", &env, &sb, &ts,
					 &has), -EC_EJSON);
}
END_TEST

static Suite *cache_suite(void)
{
	Suite *s = suite_create("cache");
	TCase *tc;

	tc = tcase_create("golden");
	tcase_add_unchecked_fixture(tc, golden_setup, golden_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_golden_entries);
	tcase_add_test(tc, test_golden_default_ttl);
	tcase_add_test(tc, test_inspect);
	suite_add_tcase(s, tc);

	tc = tcase_create("states");
	tcase_add_checked_fixture(tc, states_setup, states_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_save_result);
	tcase_add_test(tc, test_save_load_roundtrip);
	tcase_add_test(tc, test_ttl_boundary);
	tcase_add_test(tc, test_stale_ok);
	tcase_add_test(tc, test_oldest_valid);
	tcase_add_test(tc, test_salt_mismatch_and_unknown_key);
	tcase_add_test(tc, test_tampered_and_corrupt);
	tcase_add_test(tc, test_bad_payload_and_created_at);
	tcase_add_test(tc, test_load_errors);
	tcase_add_test(tc, test_save_errors);
	tcase_add_test(tc, test_open_errors);
	tcase_add_test(tc, test_set_meta);
	tcase_add_test(tc, test_list);
	tcase_add_test(tc, test_verdict_valid_and_expiry);
	tcase_add_test(tc, test_verdict_stale_texts);
	tcase_add_test(tc, test_verdict_bad_states);
	suite_add_tcase(s, tc);

	tc = tcase_create("names");
	tcase_add_test(tc, test_hashed_filename);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (ec_secure_init() != 0)
		return 99;
	return ec_test_run(cache_suite());
}
