/*
 * Unit tests for envelope: JSON envelope parsing and writing, and the
 * inner bplist payload.  Known answers come from Python (json.dumps,
 * plistlib, and the golden cache written by encrypted_cache itself).
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "envelope.h"
#include "error.h"
#include "secure.h"
#include "unit.h"

/* ---- helpers ----------------------------------------------------------- */

/* A malloc'd copy of exactly n bytes, no NUL after: valgrind and ASan then
 * catch any read past the length we pass. */
static char *dup_exact(const void *p, size_t n)
{
	char *q = malloc(n ? n : 1);

	ck_assert_ptr_nonnull(q);
	if (n)
		memcpy(q, p, n);
	return q;
}

static int parse_bytes(const void *p, size_t n, struct ec_envelope *env)
{
	char *q = dup_exact(p, n);
	int ret = ec_envelope_parse(q, n, env);

	free(q);
	return ret;
}

static int parse_str(const char *s, struct ec_envelope *env)
{
	return parse_bytes(s, strlen(s), env);
}

static void assert_empty(const struct ec_envelope *e)
{
	ck_assert_ptr_null(e->key);
	ck_assert_ptr_null(e->salt_sha256);
	ck_assert_ptr_null(e->created_at);
	ck_assert_ptr_null(e->encrypted);
	ck_assert_uint_eq(e->encrypted_len, 0);
	ck_assert_ptr_null(e->comment);
}

static void assert_str_or_null(const char *got, const char *want)
{
	if (want)
		ck_assert_str_eq(got, want);
	else
		ck_assert_ptr_null(got);
}

/* A small deterministic generator (xorshift64) for the fuzz loops. */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

/* ---- parsing: the golden envelopes ------------------------------------- */

#define GOLDEN_CACHE EC_GOLDEN "/cache/"
#define GOLDEN_SALT "ca8ba314b473754d"

static const struct golden_env {
	const char *file;
	const char *key;
	const char *created_at;
	size_t encrypted_len;
	const char *comment;
} golden_envs[] = {
	{ "weather/berlin.enc.json", "default",
	  "2026-11-22T00:05:55.257841+00:00", 312, NULL },
	{ "catalog/items.enc.json", "reports",
	  "2026-11-22T00:05:55.259415+00:00", 332, NULL },
	{ "blob/thumbnail.enc.json", "default",
	  "2026-11-22T00:05:55.260013+00:00", 268, NULL },
	{ "scalar/big.enc.json", "default",
	  "2026-11-22T00:05:55.260530+00:00", 228, NULL },
	{ "raw/hello.enc.json", "default",
	  "2026-11-22T00:05:55.260814+00:00", 184, NULL },
	{ "raw/zeros.enc.json", "reports",
	  "2026-11-22T00:05:55.261012+00:00", 5708, "all zero page" },
	{ "raw/empty.enc.json", "default",
	  "2026-11-22T00:05:55.262484+00:00", 164, NULL },
};
#define N_GOLDEN_ENVS (sizeof(golden_envs) / sizeof(golden_envs[0]))

static char *golden_file(size_t i, size_t *len)
{
	char path[512];

	snprintf(path, sizeof(path), "%s%s", GOLDEN_CACHE, golden_envs[i].file);
	return ec_test_slurp(path, len);
}

START_TEST(test_parse_golden)
{
	const struct golden_env *g = &golden_envs[_i];
	struct ec_envelope e;
	size_t len;
	char *buf = golden_file(_i, &len);

	ck_assert_int_eq(parse_bytes(buf, len, &e), 0);
	ck_assert_str_eq(e.key, g->key);
	ck_assert_str_eq(e.salt_sha256, GOLDEN_SALT);
	ck_assert_str_eq(e.created_at, g->created_at);
	ck_assert_uint_eq(e.encrypted_len, g->encrypted_len);
	ck_assert_uint_eq(strlen(e.encrypted), g->encrypted_len);
	ck_assert(strncmp(e.encrypted, "gAAAAA", 6) == 0);
	assert_str_or_null(e.comment, g->comment);
	ec_envelope_release(&e);
	assert_empty(&e);
	free(buf);
}
END_TEST

/* Python writes in place: every prefix of a file is something a reader can
 * see.  None of them is a complete object. */
START_TEST(test_parse_every_prefix)
{
	struct ec_envelope e;
	size_t len, n;
	char *buf = golden_file(_i, &len);

	for (n = 0; n < len; n++) {
		ck_assert_msg(parse_bytes(buf, n, &e) == -EC_EJSON,
			      "prefix of %zu bytes of %s", n,
			      golden_envs[_i].file);
		assert_empty(&e);
	}
	ck_assert_int_eq(parse_bytes(buf, len, &e), 0);
	ec_envelope_release(&e);
	free(buf);
}
END_TEST

/* ---- parsing: fields ---------------------------------------------------- */

START_TEST(test_parse_any_order_unknown_fields)
{
	struct ec_envelope e;

	ck_assert_int_eq(parse_str(
		"{\"comment\": \"c\", \"extra\": {\"a\": [1, 2.5, true, "
		"false, null, \"s\", {}]}, \"encrypted\": \"tok\", "
		"\"created_at\": \"2026-02-07T12:00:00+00:00\", "
		"\"n\": -1e300, \"salt_sha256\": \"0123456789abcdef\", "
		"\"key\": \"api\", \"z\": null}", &e), 0);
	ck_assert_str_eq(e.key, "api");
	ck_assert_str_eq(e.salt_sha256, "0123456789abcdef");
	ck_assert_str_eq(e.created_at, "2026-02-07T12:00:00+00:00");
	ck_assert_str_eq(e.encrypted, "tok");
	ck_assert_uint_eq(e.encrypted_len, 3);
	ck_assert_str_eq(e.comment, "c");
	ec_envelope_release(&e);
}
END_TEST

START_TEST(test_parse_optional_absent_or_null)
{
	struct ec_envelope e;

	ck_assert_int_eq(parse_str("{\"key\":\"k\",\"encrypted\":\"t\"}", &e),
			 0);
	ck_assert_str_eq(e.key, "k");
	ck_assert_str_eq(e.encrypted, "t");
	ck_assert_ptr_null(e.salt_sha256);
	ck_assert_ptr_null(e.created_at);
	ck_assert_ptr_null(e.comment);
	ec_envelope_release(&e);

	ck_assert_int_eq(parse_str("{\"key\": \"k\", \"encrypted\": \"t\", "
				   "\"salt_sha256\": null, \"created_at\": "
				   "null, \"comment\": null}", &e), 0);
	ck_assert_str_eq(e.key, "k");
	ck_assert_ptr_null(e.salt_sha256);
	ck_assert_ptr_null(e.created_at);
	ck_assert_ptr_null(e.comment);
	ec_envelope_release(&e);
}
END_TEST

START_TEST(test_parse_whitespace_around)
{
	struct ec_envelope e;

	ck_assert_int_eq(parse_str(" \t\r\n{ \"key\" :\"k\" ,\n\"encrypted\""
				   ":\t\"t\" }\n\r\t ", &e), 0);
	ck_assert_str_eq(e.key, "k");
	ck_assert_str_eq(e.encrypted, "t");
	ec_envelope_release(&e);
}
END_TEST

START_TEST(test_parse_escapes_decoded)
{
	struct ec_envelope e;

	ck_assert_int_eq(parse_str("{\"key\": \"gold\\u00e9n\", \"encrypted\":"
				   " \"t\", \"comment\": \"\\\"\\\\\\/\\b\\f\\n"
				   "\\r\\t\\u0001\\u007f\\ud83d\\ude00\\u2028"
				   "\303\274\"}", &e), 0);
	ck_assert_str_eq(e.key, "gold\303\251n");
	ck_assert_str_eq(e.comment, "\"\\/\b\f\n\r\t\001\177"
			 "\360\237\230\200\342\200\250\303\274");
	ec_envelope_release(&e);
}
END_TEST

/* json-c keeps the last of duplicate keys, as Python's json.load does. */
START_TEST(test_parse_duplicate_keys_last_wins)
{
	struct ec_envelope e;

	ck_assert_int_eq(parse_str("{\"key\": \"first\", \"encrypted\": \"t\", "
				   "\"key\": \"last\", \"comment\": 5, "
				   "\"comment\": \"ok\"}", &e), 0);
	ck_assert_str_eq(e.key, "last");
	ck_assert_str_eq(e.comment, "ok");
	ec_envelope_release(&e);

	/* ... so a later null removes an earlier value */
	ck_assert_int_eq(parse_str("{\"key\": \"k\", \"encrypted\": \"t\", "
				   "\"key\": null}", &e), -EC_EFIELD);
	assert_empty(&e);
	ck_assert_int_eq(parse_str("{\"key\": \"k\", \"encrypted\": \"t\", "
				   "\"comment\": \"c\", \"comment\": null}",
				   &e), 0);
	ck_assert_ptr_null(e.comment);
	ec_envelope_release(&e);
}
END_TEST

/* ---- parsing: errors ---------------------------------------------------- */

static const char *const efield_cases[] = {
	"{}",
	"{\"encrypted\": \"t\"}",
	"{\"key\": \"k\"}",
	"{\"key\": null, \"encrypted\": \"t\"}",
	"{\"key\": \"k\", \"encrypted\": null}",
	"{\"key\": 1, \"encrypted\": \"t\"}",
	"{\"key\": \"k\", \"encrypted\": [\"t\"]}",
	"{\"key\": \"k\", \"encrypted\": {}}",
	"{\"key\": true, \"encrypted\": \"t\"}",
	"{\"key\": \"k\", \"encrypted\": \"t\", \"salt_sha256\": 12}",
	"{\"key\": \"k\", \"encrypted\": \"t\", \"created_at\": false}",
	"{\"key\": \"k\", \"encrypted\": \"t\", \"created_at\": 1.5}",
	"{\"key\": \"k\", \"encrypted\": \"t\", \"comment\": {\"a\": 1}}",
	"{\"key\": \"k\", \"encrypted\": \"t\", \"comment\": []}",
	"{\"key\": \"k\\u0000x\", \"encrypted\": \"t\"}",
	"{\"key\": \"k\", \"encrypted\": \"t\\u0000\"}",
	"{\"key\": \"k\", \"encrypted\": \"t\", \"salt_sha256\": \"\\u0000\"}",
	"{\"key\": \"k\", \"encrypted\": \"t\", \"created_at\": \"a\\u0000\"}",
	"{\"key\": \"k\", \"encrypted\": \"t\", \"comment\": \"c\\u0000c\"}",
	"{\"KEY\": \"k\", \"encrypted\": \"t\"}",
};

START_TEST(test_parse_efield)
{
	struct ec_envelope e;

	ck_assert_msg(parse_str(efield_cases[_i], &e) == -EC_EFIELD,
		      "case %s", efield_cases[_i]);
	assert_empty(&e);
}
END_TEST

static const struct {
	const char *s;
	size_t len;		/* 0: strlen */
} ejson_cases[] = {
	{ "", 0 },
	{ " \n\t ", 0 },
	{ "[]", 0 },
	{ "[{\"key\": \"k\", \"encrypted\": \"t\"}]", 0 },
	{ "\"key\"", 0 },
	{ "42", 0 },
	{ "null", 0 },
	{ "true", 0 },
	{ "{", 0 },
	{ "}", 0 },
	{ "{\"key\": \"k\", \"encrypted\": \"t\"", 0 },
	{ "{\"key\": \"k\", \"encrypted\": \"t\",}", 0 },
	{ "{\"key\": \"k\", \"encrypted\": \"t\"}x", 0 },
	{ "{\"key\": \"k\", \"encrypted\": \"t\"},", 0 },
	{ "{\"key\": \"k\", \"encrypted\": \"t\"}{}", 0 },
	{ "{\"key\": \"k\", \"encrypted\": \"t\"} {}", 0 },
	{ "{\"key\": \"k\", \"encrypted\": \"t\"}\f", 0 },
	{ "\f{\"key\": \"k\", \"encrypted\": \"t\"}", 0 },
	/* a NUL after the object (json-c would stop there) */
	{ "{\"key\": \"k\", \"encrypted\": \"t\"}\0", 31 },
	{ "{\"key\": \"k\", \"encrypted\": \"t\"}\n\0\n", 33 },
	/* a raw NUL inside a string */
	{ "{\"key\": \"k\0\", \"encrypted\": \"t\"}", 31 },
	/* invalid UTF-8 in a string */
	{ "{\"key\": \"k\377\", \"encrypted\": \"t\"}", 0 },
	{ "{\"key\": \"k\", \"encrypted\": \"t\", \"comment\": \"\300\257\"}",
	  0 },
	{ "{\"key\": \"k\", \"encrypted\": \"t\", \"x\": \"\355\240\200\"}",
	  0 },
	/* syntax */
	{ "{\"key\" \"k\", \"encrypted\": \"t\"}", 0 },
	{ "{key: \"k\", \"encrypted\": \"t\"}", 0 },
	{ "{\"key\": \"k\", \"encrypted\": \"t\", \"x\": tru}", 0 },
	{ "{\"key\": \"k\", \"encrypted\": \"t\", \"x\": True}", 0 },
	{ "{\"key\": \"k\", \"encrypted\": \"t\", \"x\": 01}", 0 },
	{ "{\"key\": \"k\", \"encrypted\": \"t\", \"x\": \"\\x\"}", 0 },
	{ "{\"key\": \"k\", \"encrypted\": \"t\", \"x\": \"\\u12\"}", 0 },
	{ "{\"key\": \"k\", /* c */ \"encrypted\": \"t\"}", 0 },
	{ "{\"key\": \"k\", \"encrypted\": \"t\"} // c", 0 },
};

START_TEST(test_parse_ejson)
{
	struct ec_envelope e;
	const char *s = ejson_cases[_i].s;
	size_t len = ejson_cases[_i].len ? ejson_cases[_i].len : strlen(s);

	ck_assert_msg(parse_bytes(s, len, &e) == -EC_EJSON, "case %zu: %s",
		      (size_t)_i, s);
	assert_empty(&e);
}
END_TEST

START_TEST(test_parse_too_big)
{
	static const char small[] = "{\"key\": \"k\", \"encrypted\": \"t\"}";
	struct ec_envelope e;

	/* refused on the length alone: the buffer is never read */
	ck_assert_int_eq(ec_envelope_parse(small, (size_t)EC_ENVELOPE_MAX + 1,
					   &e), -EC_ETOOBIG);
	assert_empty(&e);
	ck_assert_int_eq(ec_envelope_parse(small, SIZE_MAX, &e), -EC_ETOOBIG);
	assert_empty(&e);
}
END_TEST

/* env need not be initialised, and is left empty on error. */
START_TEST(test_parse_error_leaves_empty)
{
	struct ec_envelope e;

	memset(&e, 0xa5, sizeof(e));
	ck_assert_int_eq(parse_str("{\"key\": \"k\", \"encrypted\": \"t\", "
				   "\"salt_sha256\": \"s\", \"created_at\": "
				   "\"c\", \"comment\": 7}", &e), -EC_EFIELD);
	assert_empty(&e);
	memset(&e, 0xa5, sizeof(e));
	ck_assert_int_eq(parse_str("{", &e), -EC_EJSON);
	assert_empty(&e);
	ec_envelope_release(&e);
	ec_envelope_release(NULL);
}
END_TEST

/* ---- parsing: nesting --------------------------------------------------- */

/* {"key": "k", "encrypted": "t", "x": <depth arrays>} */
static char *nested(size_t depth, size_t *len)
{
	static const char head[] = "{\"key\": \"k\", \"encrypted\": \"t\", "
				   "\"x\": ";
	size_t n = sizeof(head) - 1 + 2 * depth + 1, i;
	char *s = malloc(n);

	ck_assert_ptr_nonnull(s);
	memcpy(s, head, sizeof(head) - 1);
	for (i = 0; i < depth; i++) {
		s[sizeof(head) - 1 + i] = '[';
		s[sizeof(head) - 1 + depth + i] = ']';
	}
	s[n - 1] = '}';
	*len = n;
	return s;
}

START_TEST(test_parse_depth_limit)
{
	struct ec_envelope e;
	size_t len;
	char *s;

	/* json-c's default limit of 32 levels counts the envelope itself */
	s = nested(31, &len);
	ck_assert_int_eq(ec_envelope_parse(s, len, &e), 0);
	ec_envelope_release(&e);
	free(s);

	s = nested(32, &len);
	ck_assert_int_eq(ec_envelope_parse(s, len, &e), -EC_EJSON);
	assert_empty(&e);
	free(s);

	/* deep enough to overflow a recursive parser's stack */
	s = nested(1000000, &len);
	ck_assert_int_eq(ec_envelope_parse(s, len, &e), -EC_EJSON);
	assert_empty(&e);
	free(s);
}
END_TEST

/* ---- serialising -------------------------------------------------------- */

/* Expected bytes from Python 3: json.dumps({...}) with the keys in this
 * order and the defaults (ensure_ascii, ", " and ": "). */
static const struct ser_case {
	const char *name;
	const char *key;
	const char *salt_sha256;
	const char *created_at;
	const char *encrypted;
	const char *comment;
	const char *json;
} ser_cases[] = {
	{
		.name = "quotes",
		.key = "default",
		.salt_sha256 = "ca8ba314b473754d",
		.created_at = "2026-11-22T00:05:55.262484+00:00",
		.encrypted =
			"gAAAAABrAjHjL-BD1sU28SvS5x_FENDQJ_lJmcumq9AVw4CL-6Gb"
			"Gl6novR9dI7kv_aph3XmR96qKQvwaDXot7G9dwUfyV3mq9ATt0lN"
			"5O3GGifX-JeWwep3IE9cijutt453Id8bHjcGWAlI4rvB18JVc_67"
			"nAiYGQ==",
		.comment = "say \"hi\" \\ back\\slash",
		.json =
			"{\"key\": \"default\", \"salt_sha256\": \"ca8ba314b4"
			"73754d\", \"created_at\": \"2026-11-22T00:05:55.2624"
			"84+00:00\", \"encrypted\": \"gAAAAABrAjHjL-BD1sU28Sv"
			"S5x_FENDQJ_lJmcumq9AVw4CL-6GbGl6novR9dI7kv_aph3XmR96"
			"qKQvwaDXot7G9dwUfyV3mq9ATt0lN5O3GGifX-JeWwep3IE9ciju"
			"tt453Id8bHjcGWAlI4rvB18JVc_67nAiYGQ==\", \"comment\""
			": \"say \\\"hi\\\" \\\\ back\\\\slash\"}",
	},
	{
		.name = "controls",
		.key = "default",
		.encrypted = "t",
		.comment = "\001\037\010\014\012\015\011\013\036",
		.json =
			"{\"key\": \"default\", \"encrypted\": \"t\", \"comme"
			"nt\": \"\\u0001\\u001f\\b\\f\\n\\r\\t\\u000b\\u001e"
			"\"}",
	},
	{
		.name = "unicode",
		.key = "gold\303\251n",
		.created_at = "2026-02-07T12:00:00+00:00",
		.encrypted = "t",
		.comment =
			"\303\251 \360\237\230\200 \342\200\250 \342\200\251 "
			"\177 / \357\273\277 \357\277\277 \364\217\277\277 "
			"\303\274",
		.json =
			"{\"key\": \"gold\\u00e9n\", \"created_at\": \"2026-0"
			"2-07T12:00:00+00:00\", \"encrypted\": \"t\", \"comme"
			"nt\": \"\\u00e9 \\ud83d\\ude00 \\u2028 \\u2029 \\u00"
			"7f / \\ufeff \\uffff \\udbff\\udfff \\u00fc\"}",
	},
	{
		.name = "minimal",
		.key = "k",
		.encrypted = "t",
		.json =
			"{\"key\": \"k\", \"encrypted\": \"t\"}",
	},
	{
		.name = "empty",
		.key = "",
		.salt_sha256 = "",
		.created_at = "",
		.encrypted = "",
		.comment = "",
		.json =
			"{\"key\": \"\", \"salt_sha256\": \"\", \"created_at"
			"\": \"\", \"encrypted\": \"\", \"comment\": \"\"}",
	},
	{
		.name = "slash",
		.key = "a/b",
		.encrypted = "</script>",
		.comment = "http://x/y",
		.json =
			"{\"key\": \"a/b\", \"encrypted\": \"</script>\", \"c"
			"omment\": \"http://x/y\"}",
	},
};
#define N_SER_CASES (sizeof(ser_cases) / sizeof(ser_cases[0]))

static struct ec_envelope ser_env(const struct ser_case *c)
{
	struct ec_envelope e = {
		.key = (char *)c->key,
		.salt_sha256 = (char *)c->salt_sha256,
		.created_at = (char *)c->created_at,
		.encrypted = (char *)c->encrypted,
		.encrypted_len = strlen(c->encrypted),
		.comment = (char *)c->comment,
	};

	return e;
}

START_TEST(test_serialize_python_bytes)
{
	const struct ser_case *c = &ser_cases[_i];
	struct ec_envelope e = ser_env(c);
	char *out = NULL;
	size_t len = 0;

	ck_assert_int_eq(ec_envelope_serialize(&e, &out, &len), 0);
	ck_assert_msg(len == strlen(c->json) && memcmp(out, c->json, len) == 0,
		      "%s: got %s", c->name, out);
	ck_assert_int_eq(out[len], '\0');
	free(out);
}
END_TEST

/* Parsing Python's bytes gives back the same fields. */
START_TEST(test_serialize_parse_round_trip)
{
	const struct ser_case *c = &ser_cases[_i];
	struct ec_envelope e;
	char *out = NULL;
	size_t len = 0;

	ck_assert_int_eq(parse_str(c->json, &e), 0);
	ck_assert_str_eq(e.key, c->key);
	assert_str_or_null(e.salt_sha256, c->salt_sha256);
	assert_str_or_null(e.created_at, c->created_at);
	ck_assert_str_eq(e.encrypted, c->encrypted);
	ck_assert_uint_eq(e.encrypted_len, strlen(c->encrypted));
	assert_str_or_null(e.comment, c->comment);
	ck_assert_int_eq(ec_envelope_serialize(&e, &out, &len), 0);
	ck_assert_uint_eq(len, strlen(c->json));
	ck_assert(memcmp(out, c->json, len) == 0);
	free(out);
	ec_envelope_release(&e);
}
END_TEST

/* Every golden file, parsed and written again, is the same bytes. */
static size_t reserialized;

static int reserialize_one(const char *path, const struct stat *st,
			   int type, struct FTW *ftw)
{
	static const char suffix[] = ".enc.json";
	size_t plen = strlen(path), len, outlen = 0;
	struct ec_envelope e;
	char *buf, *out = NULL;

	(void)st;
	(void)ftw;
	if (type != FTW_F || plen < sizeof(suffix) ||
	    strcmp(path + plen - (sizeof(suffix) - 1), suffix) != 0)
		return 0;
	buf = ec_test_slurp(path, &len);
	ck_assert_msg(ec_envelope_parse(buf, len, &e) == 0, "parse %s", path);
	ck_assert_int_eq(ec_envelope_serialize(&e, &out, &outlen), 0);
	ck_assert_msg(outlen == len && memcmp(out, buf, len) == 0,
		      "%s differs: %s", path, out);
	free(out);
	ec_envelope_release(&e);
	free(buf);
	reserialized++;
	return 0;
}

START_TEST(test_serialize_golden_files)
{
	reserialized = 0;
	ck_assert_int_eq(nftw(GOLDEN_CACHE, reserialize_one, 8, FTW_PHYS), 0);
	ck_assert_uint_ge(reserialized, N_GOLDEN_ENVS);
}
END_TEST

static const char *const bad_utf8[] = {
	"\200",			/* lone continuation byte */
	"a\277b",
	"\300\257",		/* overlong '/' */
	"\301\277",
	"\340\200\257",		/* overlong, 3 bytes */
	"\360\200\200\257",	/* overlong, 4 bytes */
	"\355\240\200",		/* U+D800, a surrogate */
	"\355\277\277",		/* U+DFFF */
	"\364\220\200\200",	/* U+110000 */
	"\365\200\200\200",
	"\370\210\200\200\200",	/* 5-byte form */
	"\376",
	"\377",
	"\303",			/* truncated */
	"\342\202",
	"\360\237\230",
	"\303a",		/* bad continuation */
	"\342\202a",
	"ok \360\237\230\200 then \342\202",
};
#define N_BAD_UTF8 (sizeof(bad_utf8) / sizeof(bad_utf8[0]))

START_TEST(test_serialize_bad_utf8)
{
	const char *bad = bad_utf8[_i % N_BAD_UTF8];
	struct ec_envelope e = {
		.key = (char *)"k",
		.salt_sha256 = (char *)"s",
		.created_at = (char *)"c",
		.encrypted = (char *)"t",
		.encrypted_len = 1,
		.comment = (char *)"ok \303\251",
	};
	char *out = (char *)"x";
	size_t len = 99;

	switch (_i / N_BAD_UTF8) {
	case 0: e.key = (char *)bad; break;
	case 1: e.salt_sha256 = (char *)bad; break;
	case 2: e.created_at = (char *)bad; break;
	case 3: e.encrypted = (char *)bad; break;
	default: e.comment = (char *)bad; break;
	}
	ck_assert_int_eq(ec_envelope_serialize(&e, &out, &len), -EC_EUTF8);
	ck_assert_ptr_null(out);
	ck_assert_uint_eq(len, 0);
}
END_TEST

START_TEST(test_serialize_missing_required)
{
	struct ec_envelope e = { .key = (char *)"k", .encrypted = NULL };
	char *out = (char *)"x";
	size_t len = 99;

	ck_assert_int_eq(ec_envelope_serialize(&e, &out, &len), -EINVAL);
	ck_assert_ptr_null(out);
	ck_assert_uint_eq(len, 0);
	e.key = NULL;
	e.encrypted = (char *)"t";
	e.encrypted_len = 1;
	ck_assert_int_eq(ec_envelope_serialize(&e, &out, &len), -EINVAL);
	ck_assert_ptr_null(out);
}
END_TEST

/* Long strings (the output buffer grows many times). */
START_TEST(test_serialize_long)
{
	size_t n = 1u << 20, len = 0, i;
	char *tok = malloc(n + 1), *com = malloc(2 * n + 1), *out = NULL;
	struct ec_envelope e = { .key = (char *)"k" }, back;

	ck_assert_ptr_nonnull(tok);
	ck_assert_ptr_nonnull(com);
	memset(tok, 'A', n);
	tok[n] = '\0';
	for (i = 0; i < n; i++)
		memcpy(com + 2 * i, "\303\251", 2);
	com[2 * n] = '\0';
	e.encrypted = tok;
	e.encrypted_len = n;
	e.comment = com;
	ck_assert_int_eq(ec_envelope_serialize(&e, &out, &len), 0);
	/* {"key": "k", "encrypted": "A...", "comment": "\u00e9..."} */
	ck_assert_uint_eq(len, 27 + n + 15 + 6 * n + 2);
	ck_assert(memcmp(out + len - 8, "\\u00e9\"}", 8) == 0);
	ck_assert_int_eq(ec_envelope_parse(out, len, &back), 0);
	ck_assert_str_eq(back.encrypted, tok);
	ck_assert_str_eq(back.comment, com);
	ec_envelope_release(&back);
	free(out);
	free(com);
	free(tok);
}
END_TEST

/* ---- payload: golden plaintexts ---------------------------------------- */

/* Fernet plaintexts of golden entries, decrypted once in Python
 * (cryptography's Fernet, PBKDF2-HMAC-SHA256 with 480000 iterations over
 * secrets.json and salt.bin): raw/hello, raw/empty, blob/thumbnail, and
 * raw/zeros, whose 4096 zero bytes of data sit between head and tail. */
static const uint8_t pt_raw_hello[65] = {
	0x62, 0x70, 0x6c, 0x69, 0x73, 0x74, 0x30, 0x30, 0xd1, 0x01, 0x02,
	0x54, 0x64, 0x61, 0x74, 0x61, 0x4d, 0x68, 0x65, 0x6c, 0x6c, 0x6f,
	0x2c, 0x20, 0x77, 0x6f, 0x72, 0x6c, 0x64, 0x0a, 0x08, 0x0b, 0x10,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1e,
};
static const uint8_t pt_raw_empty[52] = {
	0x62, 0x70, 0x6c, 0x69, 0x73, 0x74, 0x30, 0x30, 0xd1, 0x01, 0x02,
	0x54, 0x64, 0x61, 0x74, 0x61, 0x40, 0x08, 0x0b, 0x10, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x11,
};
static const uint8_t pt_blob_thumbnail[134] = {
	0x62, 0x70, 0x6c, 0x69, 0x73, 0x74, 0x30, 0x30, 0xd1, 0x01, 0x02,
	0x54, 0x64, 0x61, 0x74, 0x61, 0x4f, 0x10, 0x50, 0x62, 0x70, 0x6c,
	0x69, 0x73, 0x74, 0x30, 0x30, 0xd2, 0x01, 0x02, 0x03, 0x04, 0x53,
	0x70, 0x6e, 0x67, 0x55, 0x74, 0x61, 0x6b, 0x65, 0x6e, 0x4a, 0x89,
	0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x33, 0x41,
	0xc7, 0x82, 0xf8, 0x3f, 0x80, 0x00, 0x00, 0x08, 0x0d, 0x11, 0x17,
	0x22, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2b,
	0x08, 0x0b, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x63,
};
static const uint8_t pt_zeros_head[43] = {
	0x62, 0x70, 0x6c, 0x69, 0x73, 0x74, 0x30, 0x30, 0xd2, 0x01, 0x02,
	0x03, 0x04, 0x54, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x10, 0x12, 0x76,
	0x61, 0x6c, 0x69, 0x64, 0x61, 0x73, 0x6f, 0x66, 0x5f, 0x64, 0x61,
	0x74, 0x65, 0x74, 0x69, 0x6d, 0x65, 0x4f, 0x11, 0x10, 0x00,
};
static const uint8_t pt_zeros_tail[70] = {
	0x5f, 0x10, 0x19, 0x32, 0x30, 0x32, 0x36, 0x2d, 0x30, 0x31, 0x2d,
	0x30, 0x31, 0x54, 0x30, 0x30, 0x3a, 0x30, 0x30, 0x3a, 0x30, 0x30,
	0x2d, 0x30, 0x35, 0x3a, 0x30, 0x30, 0x00, 0x08, 0x00, 0x0d, 0x00,
	0x12, 0x00, 0x27, 0x10, 0x2b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x02, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x10, 0x47,
};
static const uint8_t data_thumbnail[80] = {
	0x62, 0x70, 0x6c, 0x69, 0x73, 0x74, 0x30, 0x30, 0xd2, 0x01, 0x02,
	0x03, 0x04, 0x53, 0x70, 0x6e, 0x67, 0x55, 0x74, 0x61, 0x6b, 0x65,
	0x6e, 0x4a, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00,
	0x00, 0x33, 0x41, 0xc7, 0x82, 0xf8, 0x3f, 0x80, 0x00, 0x00, 0x08,
	0x0d, 0x11, 0x17, 0x22, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x2b,
};
#define ZEROS_LEN 4096

static uint8_t *zeros_plaintext(size_t *len)
{
	size_t n = sizeof(pt_zeros_head) + ZEROS_LEN + sizeof(pt_zeros_tail);
	uint8_t *p = calloc(1, n);

	ck_assert_ptr_nonnull(p);
	memcpy(p, pt_zeros_head, sizeof(pt_zeros_head));
	memcpy(p + sizeof(pt_zeros_head) + ZEROS_LEN, pt_zeros_tail,
	       sizeof(pt_zeros_tail));
	*len = n;
	return p;
}

static void check_unpack(const uint8_t *pt, size_t ptlen, const void *want,
			 size_t wantlen, const char *want_va)
{
	uint8_t *data = NULL;
	size_t len = 0;
	char *va = NULL;

	ck_assert_int_eq(ec_payload_unpack(pt, ptlen, &data, &len, &va), 0);
	ck_assert_ptr_nonnull(data);
	ck_assert_uint_eq(len, wantlen);
	ck_assert(len == 0 || memcmp(data, want, len) == 0);
	assert_str_or_null(va, want_va);
	ec_secure_free(data);
	free(va);
}

START_TEST(test_unpack_golden)
{
	static const uint8_t zeros[ZEROS_LEN];
	uint8_t *pt;
	size_t ptlen;

	check_unpack(pt_raw_hello, sizeof(pt_raw_hello), "hello, world\n", 13,
		     NULL);
	check_unpack(pt_raw_empty, sizeof(pt_raw_empty), "", 0, NULL);
	check_unpack(pt_blob_thumbnail, sizeof(pt_blob_thumbnail),
		     data_thumbnail, sizeof(data_thumbnail), NULL);
	pt = zeros_plaintext(&ptlen);
	ck_assert_uint_eq(ptlen, 4209);
	check_unpack(pt, ptlen, zeros, sizeof(zeros),
		     "2026-01-01T00:00:00-05:00");
	free(pt);
}
END_TEST

/* libplist writes a dict without validasof exactly as plistlib does. */
START_TEST(test_pack_matches_python)
{
	uint8_t *out = NULL;
	size_t len = 0;

	ck_assert_int_eq(ec_payload_pack((const uint8_t *)"hello, world\n", 13,
					 NULL, &out, &len), 0);
	ck_assert_uint_eq(len, sizeof(pt_raw_hello));
	ck_assert(memcmp(out, pt_raw_hello, len) == 0);
	ec_secure_free(out);

	ck_assert_int_eq(ec_payload_pack(NULL, 0, NULL, &out, &len), 0);
	ck_assert_uint_eq(len, sizeof(pt_raw_empty));
	ck_assert(memcmp(out, pt_raw_empty, len) == 0);
	ec_secure_free(out);
}
END_TEST

/* With validasof, libplist orders its objects differently from plistlib;
 * these bytes were checked once with Python: plistlib.loads gives
 * {"data": b"\x00\x01", "validasof_datetime": "2026-01-01T00:00:00+01:00
 * \u00e9"}, keys in that order. */
static const char pack_va_hex[] =
	"62706c6973743030d20103020454646174614200015f101276616c696461736f"
	"665f6461746574696d656f101b0032003000320036002d00300031002d003000"
	"31005400300030003a00300030003a00300030002b00300031003a0030003000"
	"2000e9080d12152a000000000000010100000000000000050000000000000000"
	"0000000000000063";

START_TEST(test_pack_known_answer_validasof)
{
	uint8_t *out = NULL, *want;
	size_t len = 0, wantlen;

	want = ec_test_hex_dup(pack_va_hex, &wantlen);
	ck_assert_int_eq(ec_payload_pack((const uint8_t *)"\0\1", 2,
					 "2026-01-01T00:00:00+01:00 \303\251",
					 &out, &len), 0);
	ck_assert_uint_eq(len, wantlen);
	ck_assert(memcmp(out, want, len) == 0);
	ec_secure_free(out);
	free(want);
}
END_TEST

/* ---- payload: round trips ---------------------------------------------- */

static void round_trip(const uint8_t *data, size_t len, const char *va)
{
	uint8_t *pt = NULL, *back = NULL;
	size_t ptlen = 0, backlen = 0;
	char *backva = NULL;

	ck_assert_int_eq(ec_payload_pack(data, len, va, &pt, &ptlen), 0);
	ck_assert_uint_ge(ptlen, 8);
	ck_assert(memcmp(pt, "bplist00", 8) == 0);
	ck_assert_int_eq(ec_payload_unpack(pt, ptlen, &back, &backlen,
					   &backva), 0);
	ck_assert_uint_eq(backlen, len);
	ck_assert(len == 0 || memcmp(back, data, len) == 0);
	assert_str_or_null(backva, va);
	ec_secure_free(back);
	free(backva);
	ec_secure_free(pt);
}

START_TEST(test_round_trip_small)
{
	static const uint8_t bin[] = { 0, 1, 0, 0xff, 0x80, 0, '\n', 0 };

	round_trip(NULL, 0, NULL);
	round_trip((const uint8_t *)"", 0, "2026-02-07T12:00:00+00:00");
	round_trip(bin, sizeof(bin), NULL);
	round_trip(bin, sizeof(bin), "2026-11-21T23:47:39.814634+00:00");
	round_trip(bin, sizeof(bin), "");
	round_trip(bin, 1, "\303\251\360\237\230\200 U+2028 \342\200\250");
	round_trip((const uint8_t *)"bplist00", 8, NULL);
}
END_TEST

START_TEST(test_round_trip_3mb)
{
	size_t n = 3u << 20, i;
	uint8_t *big = malloc(n);
	uint64_t s = 0x9e3779b97f4a7c15ULL;

	ck_assert_ptr_nonnull(big);
	for (i = 0; i < n; i++)
		big[i] = (uint8_t)(i % 7 == 0 ? 0 : rng_next(&s));
	round_trip(big, n, NULL);
	round_trip(big, n, "2026-01-01T00:00:00-05:00");
	free(big);
}
END_TEST

/* ---- payload: dates ----------------------------------------------------- */

/* plistlib.dumps({"data": b"", "validasof_datetime": datetime(...)},
 * fmt=FMT_BINARY): only the 8-byte big-endian double (seconds since
 * 2001-01-01) differs between them. */
#define DATE_HEX(d)						\
	"62706c6973743030d20102030454646174615f101276616c69"	\
	"6461736f665f6461746574696d654033" d "080d122728000000"	\
	"000000010100000000000000050000000000000000000000000000"	\
	"0031"

static const struct {
	const char *hex;
	const char *iso;	/* NULL: refused */
} date_cases[] = {
	{ DATE_HEX("0000000000000000"), "2001-01-01T00:00:00+00:00" },
	{ DATE_HEX("41c782f840200000"), "2026-01-01T00:00:00.250000+00:00" },
	{ DATE_HEX("bff8000000000000"), "2000-12-31T23:59:58.500000+00:00" },
	{ DATE_HEX("c1cd27e440000000"), "1970-01-01T00:00:00+00:00" },
	/* 2317: beyond what libplist 2.2's int32 seconds can give */
	{ DATE_HEX("4202a05f20000000"), NULL },
};

START_TEST(test_unpack_date)
{
	uint8_t *pt, *data = NULL;
	size_t ptlen, len = 0;
	char *va = NULL;
	int ret;

	pt = ec_test_hex_dup(date_cases[_i].hex, &ptlen);
	ck_assert_uint_eq(ptlen, 86);
	ret = ec_payload_unpack(pt, ptlen, &data, &len, &va);
	if (date_cases[_i].iso) {
		ck_assert_int_eq(ret, 0);
		ck_assert_uint_eq(len, 0);
		ck_assert_str_eq(va, date_cases[_i].iso);
	} else {
		ck_assert_int_eq(ret, -EC_EPLIST);
		ck_assert_ptr_null(data);
		ck_assert_ptr_null(va);
	}
	ec_secure_free(data);
	free(va);
	free(pt);
}
END_TEST

/* ---- payload: errors ---------------------------------------------------- */

/* All but the first few made with plistlib.dumps(..., fmt=FMT_BINARY). */
static const struct {
	const char *what;
	const char *hex;
} eplist_cases[] = {
	{ "empty", "" },
	{ "short", "62706c697374" },
	{ "magic only", "62706c6973743030" },
	{ "bplist01", "62706c6973743031d1010254646174614d68656c6c6f2c20776f72"
	  "6c640a080b10000000000000010100000000000000030000000000000000000"
	  "000000000001e" },
	{ "xml", "3c3f786d6c2076657273696f6e3d22312e30223f3e" },
	{ "{\"data\": \"x\"}", "62706c6973743030d1010254646174615178080b1000"
	  "0000000000010100000000000000030000000000000000000000000000001"
	  "2" },
	{ "{\"dat\": b\"x\"}", "62706c6973743030d10102536461744178080b0f0000"
	  "0000000001010000000000000003000000000000000000000000000000"
	  "11" },
	{ "[b\"x\"]", "62706c6973743030a1014178080a00000000000001010000000000"
	  "0000020000000000000000000000000000000c" },
	{ "validasof 5", "62706c6973743030d20102030454646174615f101276616c69"
	  "6461736f665f6461746574696d6541781005080d1227290000000000000101"
	  "00000000000000050000000000000000000000000000002b" },
	/* an ASCII string (type 0x5) holding a byte over 0x7f */
	{ "validasof \"a\\xffb\"", "62706c6973743030d20102030454646174615f10"
	  "1276616c696461736f665f6461746574696d65405361ff62080d12272800000"
	  "0000000010100000000000000050000000000000000000000000000002c" },
};

/* libplist 2.2 cuts a plist string at its first NUL (it reports strlen as
 * the length), so validasof "a\0b" reads as "a".  Pinned here so that a
 * libplist that keeps the NUL, which we would refuse, shows up. */
static const char va_nul_hex[] =
	"62706c6973743030d20102030454646174615f101276616c696461736f665f64"
	"61746574696d654053610062080d122728000000000000010100000000000000"
	"050000000000000000000000000000002c";

START_TEST(test_unpack_validasof_nul)
{
	uint8_t *pt, *data = NULL;
	size_t ptlen, len = 0;
	char *va = NULL;

	pt = ec_test_hex_dup(va_nul_hex, &ptlen);
	ck_assert_int_eq(ec_payload_unpack(pt, ptlen, &data, &len, &va), 0);
	ck_assert_uint_eq(len, 0);
	ck_assert_str_eq(va, "a");
	ec_secure_free(data);
	free(va);
	free(pt);
}
END_TEST

START_TEST(test_unpack_eplist)
{
	uint8_t *pt, *data = (uint8_t *)"x";
	size_t ptlen, len = 99;
	char *va = (char *)"x";

	pt = ec_test_hex_dup(eplist_cases[_i].hex, &ptlen);
	ck_assert_msg(ec_payload_unpack(pt, ptlen, &data, &len, &va) ==
		      -EC_EPLIST, "case %s", eplist_cases[_i].what);
	ck_assert_ptr_null(data);
	ck_assert_uint_eq(len, 0);
	ck_assert_ptr_null(va);
	free(pt);
}
END_TEST

/* Stored objects of golden entries are bplists too, but not payloads:
 * scalar/big's is an integer, blob/thumbnail's a dict without `data`. */
static const char scalar_big_hex[] =
	"62706c6973743030138000000000000000080000000000000101000000000000"
	"000100000000000000000000000000000011";

START_TEST(test_unpack_not_payload)
{
	uint8_t *pt, *data = NULL;
	size_t ptlen, len = 0;
	char *va = NULL;

	pt = ec_test_hex_dup(scalar_big_hex, &ptlen);
	ck_assert_int_eq(ec_payload_unpack(pt, ptlen, &data, &len, &va),
			 -EC_EPLIST);
	ck_assert_ptr_null(data);
	free(pt);
	ck_assert_int_eq(ec_payload_unpack(data_thumbnail,
					   sizeof(data_thumbnail), &data, &len,
					   &va), -EC_EPLIST);
	ck_assert_ptr_null(data);
	ck_assert_ptr_null(va);
}
END_TEST

START_TEST(test_unpack_every_prefix)
{
	uint8_t *pt, *data, *cut;
	size_t ptlen, len, n;
	char *va;

	pt = zeros_plaintext(&ptlen);
	for (n = 0; n < ptlen; n += (n < 64 || n > ptlen - 64) ? 1 : 61) {
		cut = (uint8_t *)dup_exact(pt, n);
		ck_assert_msg(ec_payload_unpack(cut, n, &data, &len, &va) ==
			      -EC_EPLIST, "prefix of %zu bytes", n);
		ck_assert_ptr_null(data);
		ck_assert_ptr_null(va);
		free(cut);
	}
	for (n = 0; n < sizeof(pt_raw_hello); n++) {
		cut = (uint8_t *)dup_exact(pt_raw_hello, n);
		ck_assert_msg(ec_payload_unpack(cut, n, &data, &len, &va) ==
			      -EC_EPLIST, "prefix of %zu bytes", n);
		free(cut);
	}
	free(pt);
}
END_TEST

START_TEST(test_unpack_too_big)
{
	uint8_t *data = NULL;
	size_t len = 0;
	char *va = NULL;

	/* refused on the length alone: the buffer is never read */
	ck_assert_int_eq(ec_payload_unpack(pt_raw_hello,
					   (size_t)EC_ENVELOPE_MAX + 1, &data,
					   &len, &va), -EC_ETOOBIG);
	ck_assert_ptr_null(data);
}
END_TEST

START_TEST(test_pack_errors)
{
	uint8_t *out = (uint8_t *)"x";
	size_t len = 99, i;

	ck_assert_int_eq(ec_payload_pack(NULL, 1, NULL, &out, &len), -EINVAL);
	ck_assert_ptr_null(out);
	ck_assert_uint_eq(len, 0);
	/* refused on the length alone: the buffer is never read */
	ck_assert_int_eq(ec_payload_pack((const uint8_t *)"x",
					 (size_t)EC_ENVELOPE_MAX + 1, NULL,
					 &out, &len), -EC_ETOOBIG);
	ck_assert_ptr_null(out);
	for (i = 0; i < N_BAD_UTF8; i++) {
		out = (uint8_t *)"x";
		ck_assert_int_eq(ec_payload_pack((const uint8_t *)"x", 1,
						 bad_utf8[i], &out, &len),
				 -EC_EUTF8);
		ck_assert_ptr_null(out);
	}
}
END_TEST

/* ---- payload: fuzzing -------------------------------------------------- */

static void fuzz_one(const uint8_t *p, size_t n)
{
	uint8_t *cut = (uint8_t *)dup_exact(p, n), *data = NULL;
	size_t len = 0;
	char *va = NULL;
	int ret;

	ret = ec_payload_unpack(cut, n, &data, &len, &va);
	ck_assert_msg(ret == 0 || ret == -EC_EPLIST, "ret %d", ret);
	if (ret == 0) {
		ck_assert_ptr_nonnull(data);
		ck_assert_uint_le(len, n);
	} else {
		ck_assert_ptr_null(data);
		ck_assert_ptr_null(va);
	}
	ec_secure_free(data);
	free(va);
	free(cut);
}

/* Random mutations of valid payloads, and random bytes after the magic:
 * refused or accepted, never a crash or a leak. */
START_TEST(test_unpack_mutations)
{
	const uint8_t *seeds[3];
	size_t seedlen[3], i, k, n, pos;
	uint8_t *va_pt, buf[512];
	uint64_t s = 0x2545f4914f6cdd1dULL, r;

	va_pt = ec_test_hex_dup(pack_va_hex, &seedlen[0]);
	seeds[0] = va_pt;
	seeds[1] = pt_raw_hello;
	seedlen[1] = sizeof(pt_raw_hello);
	seeds[2] = pt_blob_thumbnail;
	seedlen[2] = sizeof(pt_blob_thumbnail);
	for (i = 0; i < 20000; i++) {
		r = rng_next(&s);
		n = seedlen[r % 3];
		memcpy(buf, seeds[r % 3], n);
		for (k = 1 + (r >> 8) % 4; k; k--) {
			r = rng_next(&s);
			pos = 8 + r % (n - 8);	/* keep the magic */
			if ((r >> 32) & 1)
				buf[pos] = (uint8_t)(r >> 40);
			else
				buf[pos] ^= (uint8_t)(1u << (r >> 40) % 8);
		}
		if ((r >> 48) % 8 == 0)	/* and sometimes truncate */
			n -= (r >> 52) % n / 2;
		fuzz_one(buf, n);
	}
	for (i = 0; i < 5000; i++) {
		r = rng_next(&s);
		n = 8 + r % 120;
		memcpy(buf, "bplist00", 8);
		for (k = 8; k < n; k++)
			buf[k] = (uint8_t)rng_next(&s);
		fuzz_one(buf, n);
	}
	free(va_pt);
}
END_TEST

/* ---- runner ------------------------------------------------------------- */

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *envelope_suite(void)
{
	Suite *s = suite_create("envelope");
	TCase *tc;

	tc = tcase_create("parse_golden");
	tcase_add_loop_test(tc, test_parse_golden, 0, N_OF(golden_envs));
	tcase_add_loop_test(tc, test_parse_every_prefix, 0, N_OF(golden_envs));
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse_fields");
	tcase_add_test(tc, test_parse_any_order_unknown_fields);
	tcase_add_test(tc, test_parse_optional_absent_or_null);
	tcase_add_test(tc, test_parse_whitespace_around);
	tcase_add_test(tc, test_parse_escapes_decoded);
	tcase_add_test(tc, test_parse_duplicate_keys_last_wins);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse_errors");
	tcase_add_loop_test(tc, test_parse_efield, 0, N_OF(efield_cases));
	tcase_add_loop_test(tc, test_parse_ejson, 0, N_OF(ejson_cases));
	tcase_add_test(tc, test_parse_too_big);
	tcase_add_test(tc, test_parse_error_leaves_empty);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse_depth");
	tcase_add_test(tc, test_parse_depth_limit);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("serialize");
	tcase_add_loop_test(tc, test_serialize_python_bytes, 0,
			    N_OF(ser_cases));
	tcase_add_loop_test(tc, test_serialize_parse_round_trip, 0,
			    N_OF(ser_cases));
	tcase_add_test(tc, test_serialize_golden_files);
	tcase_add_test(tc, test_serialize_long);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("serialize_errors");
	tcase_add_loop_test(tc, test_serialize_bad_utf8, 0,
			    5 * N_OF(bad_utf8));
	tcase_add_test(tc, test_serialize_missing_required);
	suite_add_tcase(s, tc);

	tc = tcase_create("payload_golden");
	tcase_add_test(tc, test_unpack_golden);
	tcase_add_test(tc, test_pack_matches_python);
	tcase_add_test(tc, test_pack_known_answer_validasof);
	suite_add_tcase(s, tc);

	tc = tcase_create("payload_round_trip");
	tcase_add_test(tc, test_round_trip_small);
	tcase_add_test(tc, test_round_trip_3mb);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);

	tc = tcase_create("payload_dates");
	tcase_add_loop_test(tc, test_unpack_date, 0, N_OF(date_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("payload_errors");
	tcase_add_loop_test(tc, test_unpack_eplist, 0, N_OF(eplist_cases));
	tcase_add_test(tc, test_unpack_not_payload);
	tcase_add_test(tc, test_unpack_validasof_nul);
	tcase_add_test(tc, test_unpack_every_prefix);
	tcase_add_test(tc, test_unpack_too_big);
	tcase_add_test(tc, test_pack_errors);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("payload_fuzz");
	tcase_add_test(tc, test_unpack_mutations);
	tcase_set_timeout(tc, 600);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	if (ec_secure_init() != 0)
		return 99;
	return ec_test_run(envelope_suite());
}
