/* Unit tests for the streaming paths: src/fernet_stream.c (tokens opened
 * and sealed in pieces, the same bytes as fernet.c), the payload frame and
 * locate of src/envelope.c, and big envelopes saved and loaded through
 * src/cache_stream.c, with every way a big envelope can be bad. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cache.h"
#include "envelope.h"
#include "error.h"
#include "fernet.h"
#include "secure.h"
#include "unit.h"

static uint8_t key[EC_KEYBYTES];
static const uint8_t iv[EC_FERNET_IVBYTES] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };

static void setup(void)
{
	ck_assert_int_eq(ec_secure_init(), 0);
	randombytes_buf(key, sizeof(key));
}

static uint8_t *random_bytes(size_t n)
{
	uint8_t *p = malloc(n ? n : 1);

	ck_assert_ptr_nonnull(p);
	randombytes_buf(p, n);
	return p;
}

/* Sealed text gathered in memory. */
struct text {
	char *p;
	size_t n;
};

static int gather(void *ctx, const char *t, size_t n)
{
	struct text *x = ctx;

	x->p = realloc(x->p, x->n + n + 1);
	ck_assert_ptr_nonnull(x->p);
	memcpy(x->p + x->n, t, n);
	x->n += n;
	x->p[x->n] = '\0';
	return 0;
}

/* Fails once it has been given more than 1 MiB of text. */
static int gather_short(void *ctx, const char *t, size_t n)
{
	struct text *x = ctx;

	if (x->n + n > ((size_t)1 << 20))
		return -ENOSPC;
	return gather(ctx, t, n);
}

/* Seal pt in pieces of step bytes. */
static struct text seal_stream(const uint8_t *pt, size_t n, size_t step)
{
	struct text t = { NULL, 0 };
	struct ec_fernet_enc *e;
	size_t i;

	ck_assert_int_eq(ec_fernet_enc_new(key, 1700000000, iv, gather, &t, &e),
			 0);
	for (i = 0; i < n; i += step)
		ck_assert_int_eq(ec_fernet_enc_update(e, pt + i, n - i < step ?
						      n - i : step), 0);
	ck_assert_int_eq(ec_fernet_enc_final(e), 0);
	ec_fernet_enc_free(e);
	return t;
}

/* Open text in pieces of step characters, for at most cap bytes of
 * plaintext: 0 and the plaintext, or the code. */
static int open_stream_cap(const char *t, size_t n, size_t step, size_t cap,
			   uint8_t **pt, size_t *ptlen)
{
	struct ec_fernet_dec *d;
	size_t i;
	int err = 0;

	ck_assert_int_eq(ec_fernet_dec_new(key, cap, &d), 0);
	for (i = 0; !err && i < n; i += step)
		err = ec_fernet_dec_update(d, t + i, n - i < step ? n - i : step);
	if (!err)
		err = ec_fernet_dec_final(d, pt, ptlen, NULL);
	ec_fernet_dec_free(d);
	return err;
}

static int open_stream(const char *t, size_t n, size_t step, uint8_t **pt,
		       size_t *ptlen)
{
	return open_stream_cap(t, n, step, n / 4 * 3, pt, ptlen);
}

/* The same text as ec_fernet_seal, whatever the pieces; opens back. */
START_TEST(test_same_bytes)
{
	static const size_t sizes[] = { 0, 1, 15, 16, 17, 1000, 65536,
					200001 };
	static const size_t steps[] = { 1, 7, 4096, 1 << 20 };
	size_t i, j;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint8_t *pt = random_bytes(sizes[i]), *back = NULL;
		char *tok = NULL;
		size_t toklen = 0, blen = 0;

		ck_assert_int_eq(ec_fernet_seal(key, pt, sizes[i], 1700000000,
						iv, &tok, &toklen), 0);
		ck_assert_uint_eq(ec_fernet_token_len(sizes[i]), toklen);
		for (j = 0; j < sizeof(steps) / sizeof(steps[0]); j++) {
			struct text t;

			if (sizes[i] > 70000 && steps[j] < 4096)
				continue;	/* slow, and nothing new */
			t = seal_stream(pt, sizes[i], steps[j]);
			ck_assert_uint_eq(t.n, toklen);
			ck_assert_mem_eq(t.p, tok, toklen);
			ck_assert_int_eq(open_stream(tok, toklen, steps[j] + 3,
						     &back, &blen), 0);
			ck_assert_uint_eq(blen, sizes[i]);
			if (blen)
				ck_assert_mem_eq(back, pt, blen);
			ec_secure_free(back);
			free(t.p);
		}
		free(tok);
		free(pt);
	}
}
END_TEST

/* Every bad token gives the code ec_fernet_open gives, and nothing out. */
START_TEST(test_bad_tokens)
{
	uint8_t *pt = random_bytes(5000), *out = NULL, other[EC_KEYBYTES];
	char *tok = NULL, *bad;
	size_t toklen = 0, outlen = 0;

	ck_assert_int_eq(ec_fernet_seal(key, pt, 5000, 1, iv, &tok, &toklen),
			 0);
	bad = strdup(tok);
	bad[toklen / 2] = bad[toklen / 2] == 'A' ? 'B' : 'A';	/* tamper */
	ck_assert_int_eq(open_stream(bad, toklen, 100, &out, &outlen),
			 -EC_EHMAC);
	ck_assert_ptr_null(out);
	memcpy(bad, tok, toklen);
	bad[10] = '+';				/* not url-safe */
	ck_assert_int_eq(open_stream(bad, toklen, 100, &out, &outlen),
			 -EC_EBASE64);
	ck_assert_int_eq(open_stream(tok, toklen - 4, 100, &out, &outlen),
			 -EC_ELENGTH);		/* cut by whole groups */
	ck_assert_int_eq(open_stream(tok, toklen - 1, 100, &out, &outlen),
			 -EC_EBASE64);		/* cut mid-group */
	memcpy(bad, tok, toklen);
	bad[0] = 'A';				/* version byte */
	ck_assert_int_eq(open_stream(bad, toklen, 100, &out, &outlen),
			 -EC_EVERSION);
	memcpy(other, key, sizeof(key));
	randombytes_buf(key, sizeof(key));	/* another key */
	ck_assert_int_eq(open_stream(tok, toklen, 100, &out, &outlen),
			 -EC_EHMAC);
	memcpy(key, other, sizeof(key));
	ck_assert_int_eq(open_stream("", 0, 1, &out, &outlen), -EC_EBASE64);
	free(bad);
	free(tok);
	free(pt);
}
END_TEST

/* A token big enough to be MACed on the helper thread: the same bytes
 * back whatever the pieces, and every bad form refused with nothing out,
 * the helper stopped wherever the text went wrong. */
START_TEST(test_piped)
{
	const size_t n = ((size_t)6 << 20) + 17;
	static const size_t steps[] = { 4099, (1 << 20) + 3 };
	uint8_t *pt = random_bytes(n), *back = NULL;
	char *tok = NULL, *bad;
	size_t toklen = 0, blen = 0, j;
	size_t at[4];

	ck_assert_int_eq(ec_fernet_seal(key, pt, n, 1700000000, iv, &tok,
					&toklen), 0);
	for (j = 0; j < sizeof(steps) / sizeof(steps[0]); j++) {
		ck_assert_int_eq(open_stream(tok, toklen, steps[j], &back,
					     &blen), 0);
		ck_assert_uint_eq(blen, n);
		ck_assert_mem_eq(back, pt, n);
		ec_secure_free(back);
		back = NULL;
	}
	/* Sealed through the helper (a piece of 4 MiB or more): the same
	 * text, whatever comes before and after the big piece. */
	{
		struct text t = { NULL, 0 }, u = { NULL, 0 };
		struct ec_fernet_enc *e;

		t = seal_stream(pt, n, n);
		ck_assert_uint_eq(t.n, toklen);
		ck_assert_mem_eq(t.p, tok, toklen);
		free(t.p);
		t = (struct text){ NULL, 0 };
		ck_assert_int_eq(ec_fernet_enc_new(key, 1700000000, iv, gather,
						   &t, &e), 0);
		ck_assert_int_eq(ec_fernet_enc_update(e, pt, 5), 0);
		ck_assert_int_eq(ec_fernet_enc_update(e, pt + 5, n - 10), 0);
		ck_assert_int_eq(ec_fernet_enc_update(e, pt + n - 5, 5), 0);
		ck_assert_int_eq(ec_fernet_enc_final(e), 0);
		ec_fernet_enc_free(e);
		ck_assert_uint_eq(t.n, toklen);
		ck_assert_mem_eq(t.p, tok, toklen);
		free(t.p);
		/* emit failing midway stops it with that code */
		ck_assert_int_eq(ec_fernet_enc_new(key, 1700000000, iv,
						   gather_short, &u, &e), 0);
		ck_assert_int_eq(ec_fernet_enc_update(e, pt, n), -ENOSPC);
		ck_assert_int_eq(ec_fernet_enc_final(e), -ENOSPC);
		ec_fernet_enc_free(e);
		free(u.p);
	}
	bad = malloc(toklen);
	at[0] = 60;			/* first blocks of ciphertext */
	at[1] = toklen / 2;
	at[2] = toklen - 100;		/* the last blocks */
	at[3] = toklen - 10;		/* the MAC */
	for (j = 0; j < 4; j++) {
		memcpy(bad, tok, toklen);
		bad[at[j]] = bad[at[j]] == 'A' ? 'B' : 'A';
		ck_assert_int_eq(open_stream(bad, toklen, steps[1], &back,
					     &blen), -EC_EHMAC);
		ck_assert_ptr_null(back);
	}
	memcpy(bad, tok, toklen);
	bad[toklen / 2] = '+';		/* refused midway */
	ck_assert_int_eq(open_stream(bad, toklen, 4099, &back, &blen),
			 -EC_EBASE64);
	ck_assert_ptr_null(back);
	/* Cut short by whole groups: a length or a MAC that fails. */
	ck_assert_int_lt(open_stream(tok, toklen - 4000, steps[1], &back,
				     &blen), 0);
	ck_assert_ptr_null(back);
	/* The plaintext's own size is room enough; less is refused, both
	 * while the text is decoded in place (5 MiB) and at its last
	 * blocks (the padded ciphertext one byte past cap + 16). */
	ck_assert_int_eq(open_stream_cap(tok, toklen, steps[1], n, &back,
					 &blen), 0);
	ck_assert_uint_eq(blen, n);
	ck_assert_mem_eq(back, pt, n);
	ec_secure_free(back);
	back = NULL;
	for (j = 0; j < 2; j++) {
		size_t cap = j ? n - 17 : (size_t)5 << 20;

		ck_assert_int_eq(open_stream_cap(tok, toklen, steps[j], cap,
						 &back, &blen), -EC_ETOOBIG);
		ck_assert_ptr_null(back);
	}
	free(bad);
	free(tok);
	free(pt);
}
END_TEST

/* The frame around data makes a payload libplist reads as ours, and
 * locate finds the data in it without a copy. */
START_TEST(test_frame_and_locate)
{
	static const size_t sizes[] = { 0, 14, 15, 255, 256, 70000 };
	static const char *const vas[] = { NULL,
					   "2026-02-07T12:00:00+00:00" };
	uint8_t pre[EC_PAYLOAD_FRAME_MAX], post[EC_PAYLOAD_FRAME_MAX];
	size_t i, v;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (v = 0; v < 2; v++) {
			uint8_t *d = random_bytes(sizes[i]), *pt, *got = NULL;
			size_t a = 0, b = 0, off = 0, len = 0, glen = 0;
			char *va = NULL;

			ck_assert_int_eq(ec_payload_frame(sizes[i], vas[v], pre,
							  &a, post, &b), 0);
			pt = ec_secure_alloc(a + sizes[i] + b);
			memcpy(pt, pre, a);
			memcpy(pt + a, d, sizes[i]);
			memcpy(pt + a + sizes[i], post, b);
			ck_assert_int_eq(ec_payload_unpack(pt, a + sizes[i] + b,
							   &got, &glen, &va),
					 0);
			ck_assert_uint_eq(glen, sizes[i]);
			if (glen)
				ck_assert_mem_eq(got, d, glen);
			if (vas[v])
				ck_assert_str_eq(va, vas[v]);
			else
				ck_assert_ptr_null(va);
			ec_secure_free(got);
			free(va);
			va = NULL;
			ck_assert_int_eq(ec_payload_locate(pt, a + sizes[i] + b,
							   &off, &len, &va),
					 0);
			ck_assert_uint_eq(off, a);
			ck_assert_uint_eq(len, sizes[i]);
			if (vas[v])
				ck_assert_str_eq(va, vas[v]);
			free(va);
			ec_secure_free(pt);
			free(d);
		}
	}
	/* What libplist itself writes is located too, or left to it. */
	{
		uint8_t *pt = NULL, *data = NULL;
		size_t plen = 0, off, len, dlen;
		char *va = NULL;
		int r;

		ck_assert_int_eq(ec_payload_pack((const uint8_t *)"hello", 5,
						 "2026-01-01T00:00:00+00:00",
						 &pt, &plen), 0);
		r = ec_payload_locate(pt, plen, &off, &len, &va);
		ck_assert(r == 0 || r == -EAGAIN);
		if (r == 0) {
			ck_assert_uint_eq(len, 5);
			ck_assert_mem_eq(pt + off, "hello", 5);
		}
		free(va);
		va = NULL;
		ck_assert_int_eq(ec_payload_take(pt, plen, &data, &dlen, &va),
				 0);
		ck_assert_uint_eq(dlen, 5);
		ck_assert_mem_eq(data, "hello", 5);
		ck_assert_str_eq(va, "2026-01-01T00:00:00+00:00");
		ec_secure_free(data);
		free(va);
	}
	ck_assert_int_eq(ec_payload_frame(1, "gr\xc3\xbc\xc3\x9f", pre, &(size_t){ 0 },
					  post, &(size_t){ 0 }), -EAGAIN);
	ck_assert_int_eq(ec_payload_locate((const uint8_t *)"nope", 4,
					   &(size_t){ 0 }, &(size_t){ 0 },
					   &(char *){ NULL }), -EC_EPLIST);
}
END_TEST

/* --- big envelopes through the cache ------------------------------------- */

static char *tmp;
static struct ec_cache *cache;

static void cache_setup(void)
{
	const char *sj = "{\"default\": \"pw\", \"other\": \"pw2\"}";
	struct ec_cache_options o = {
		.salt = (const uint8_t *)"salt", .salt_len = 4,
		.ttl = { EC_TTL_INFINITE, 0 }, .oldest_valid_us = EC_TIME_NONE,
		.iterations = 1000,
	};
	struct ec_secrets s;

	setup();
	tmp = ec_test_tmpdir("ec-stream");
	o.dir = tmp;
	ck_assert_int_eq(ec_secrets_parse(sj, strlen(sj), &s), 0);
	ck_assert_int_eq(ec_cache_open(&o, &s, &cache), 0);
}

static void cache_teardown(void)
{
	ec_cache_free(cache);
	ec_test_rm_rf(tmp);
	free(tmp);
}

static const char *tpath(const char *rel)
{
	static char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s/%s", tmp, rel);
	return buf;
}

static void spit(const char *path, const char *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

#define BIG ((size_t)5 << 20)	/* past fernet_stream's PIPE_MIN */

START_TEST(test_big_round_trip)
{
	struct ec_save_options o = { .created_us = EC_TIME_NONE,
				     .comment = "big \xc3\xa9",
				     .validasof = "2026-02-07T12:00:00+00:00" };
	uint8_t *d = random_bytes(BIG);
	struct ec_entry e, small;
	char *env;
	size_t envlen;

	ck_assert_int_eq(ec_cache_save(cache, "b/ig", d, BIG, &o), 0);
	ck_assert_int_eq(ec_cache_load(cache, "b/ig", EC_LOAD_DATA,
				       ec_clock_now_us(), &e), 0);
	ck_assert_int_eq(e.state, EC_STATE_VALID);
	ck_assert_uint_eq(e.len, BIG);
	ck_assert_mem_eq(e.data, d, BIG);
	ck_assert_str_eq(e.env.comment, "big \xc3\xa9");
	ck_assert_str_eq(e.validasof, "2026-02-07T12:00:00+00:00");
	ck_assert_str_eq(e.env.key, "default");
	/* The in-memory reader agrees on the file (and the tag differs
	 * only in how it is made: it is the version's own either way). */
	env = ec_test_slurp(tpath("b/ig.enc.json"), &envlen);
	ec_cache_classify(cache, env, envlen, EC_LOAD_DATA, ec_clock_now_us(),
			  &small);
	ck_assert_int_eq(small.state, EC_STATE_VALID);
	ck_assert_uint_eq(small.len, BIG);
	ck_assert_mem_eq(small.data, d, BIG);
	ec_entry_release(&small);
	ec_entry_release(&e);
	free(env);
	free(d);
}
END_TEST

/* The tag of a big envelope read through without decrypting is the one
 * a load gives, and another version's differs. */
START_TEST(test_big_tag)
{
	struct ec_save_options o = { .created_us = EC_TIME_NONE };
	uint8_t *d = random_bytes(BIG);
	struct ec_entry e;
	struct stat st;
	uint64_t tag = 0, first;
	char *env;
	size_t envlen;

	ck_assert_int_eq(ec_cache_save(cache, "t", d, BIG, &o), 0);
	ck_assert_int_eq(ec_cache_load(cache, "t", EC_LOAD_DATA, 0, &e), 0);
	ck_assert_int_eq(e.state, EC_STATE_VALID);
	ck_assert_int_eq(ec_cache_big_tag(cache, "t", &st, &tag), 0);
	ck_assert(tag == e.tag);
	ck_assert(st.st_ino == e.st.st_ino && st.st_size == e.st.st_size);
	ec_entry_release(&e);
	first = tag;
	d[0] ^= 1;
	ck_assert_int_eq(ec_cache_save(cache, "t", d, BIG, &o), 0);
	ck_assert_int_eq(ec_cache_big_tag(cache, "t", &st, &tag), 0);
	ck_assert(tag != first);
	env = ec_test_slurp(tpath("t.enc.json"), &envlen);
	spit(tpath("t.enc.json"), env, envlen - envlen / 3);	/* cut */
	ck_assert_int_eq(ec_cache_big_tag(cache, "t", &st, &tag), -EC_EJSON);
	ck_assert_int_eq(ec_cache_save(cache, "s", d, 100, &o), 0);
	ck_assert_int_eq(ec_cache_big_tag(cache, "s", &st, &tag), 1);
	ck_assert_int_eq(ec_cache_big_tag(cache, "none", &st, &tag), -ENOENT);
	free(env);
	free(d);
}
END_TEST

/* A stream of different bad forms of one big envelope. */
START_TEST(test_big_bad)
{
	struct ec_save_options o = { .created_us = EC_TIME_NONE };
	uint8_t *d = random_bytes(BIG);
	struct ec_entry e;
	char *env, *bad, *at;
	size_t envlen;

	ck_assert_int_eq(ec_cache_save(cache, "x", d, BIG, &o), 0);
	env = ec_test_slurp(tpath("x.enc.json"), &envlen);
	bad = malloc(envlen + 64);

	/* Tampered in the middle of the token. */
	memcpy(bad, env, envlen);
	bad[envlen / 2] = bad[envlen / 2] == 'A' ? 'B' : 'A';
	spit(tpath("x.enc.json"), bad, envlen);
	ck_assert_int_eq(ec_cache_load(cache, "x", EC_LOAD_DATA, 0, &e), 0);
	ck_assert_int_eq(e.state, EC_STATE_TAMPERED);
	ck_assert_ptr_null(e.data);
	ec_entry_release(&e);

	/* Cut short (half-written). */
	spit(tpath("x.enc.json"), env, envlen - envlen / 3);
	ck_assert_int_eq(ec_cache_load(cache, "x", EC_LOAD_DATA, 0, &e), 0);
	ck_assert_int_eq(e.state, EC_STATE_CORRUPT);
	ck_assert_int_eq(e.reason, -EC_EJSON);
	ec_entry_release(&e);

	/* Another key name than the one it was sealed with. */
	memcpy(bad, env, envlen);
	at = strstr(bad, "\"default\"");
	ck_assert_ptr_nonnull(at);
	memmove(at + 7, at + 9, envlen - (size_t)(at + 9 - bad));
	memcpy(at, "\"other\"", 7);
	spit(tpath("x.enc.json"), bad, envlen - 2);
	ck_assert_int_eq(ec_cache_load(cache, "x", EC_LOAD_DATA, 0, &e), 0);
	ck_assert_int_eq(e.state, EC_STATE_TAMPERED);
	ec_entry_release(&e);

	/* Trailing garbage. */
	memcpy(bad, env, envlen);
	memcpy(bad + envlen, "xx", 2);
	spit(tpath("x.enc.json"), bad, envlen + 2);
	ck_assert_int_eq(ec_cache_load(cache, "x", EC_LOAD_DATA, 0, &e), 0);
	ck_assert_int_eq(e.state, EC_STATE_CORRUPT);
	ec_entry_release(&e);

	/* An escape in the token: not read in a stream. */
	memcpy(bad, env, envlen);
	at = strstr(bad, "\"encrypted\": \"") + 20;
	*at = '\\';
	spit(tpath("x.enc.json"), bad, envlen);
	ck_assert_int_eq(ec_cache_load(cache, "x", EC_LOAD_DATA, 0, &e), 0);
	ck_assert_int_eq(e.state, EC_STATE_CORRUPT);
	ec_entry_release(&e);

	/* The token first, the key after it: read twice, still valid. */
	{
		const char *tok = strstr(env, "\"encrypted\": \"") + 14;
		const char *end = strchr(tok, '"');
		int n = snprintf(bad, envlen + 64, "{\"encrypted\": \"%.*s\", "
				 "\"key\": \"default\"}", (int)(end - tok), tok);

		spit(tpath("x.enc.json"), bad, (size_t)n);
		ck_assert_int_eq(ec_cache_load(cache, "x", EC_LOAD_DATA, 0,
					       &e), 0);
		ck_assert_int_eq(e.state, EC_STATE_VALID);
		ck_assert_uint_eq(e.len, BIG);
		ck_assert_mem_eq(e.data, d, BIG);
		ec_entry_release(&e);
	}
	free(bad);
	free(env);
	free(d);
}
END_TEST

static Suite *stream_suite(void)
{
	Suite *s = suite_create("stream");
	TCase *tc = tcase_create("fernet");
	TCase *cc = tcase_create("cache");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_same_bytes);
	tcase_add_test(tc, test_bad_tokens);
	tcase_add_test(tc, test_piped);
	tcase_add_test(tc, test_frame_and_locate);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(cc, cache_setup, cache_teardown);
	tcase_add_test(cc, test_big_round_trip);
	tcase_add_test(cc, test_big_bad);
	tcase_add_test(cc, test_big_tag);
	tcase_set_timeout(cc, 60);
	suite_add_tcase(s, cc);
	return s;
}

int main(void)
{
	return ec_test_run(stream_suite());
}
