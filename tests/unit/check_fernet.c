/* Unit tests for fernet: known answers, round trips, every error. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <sodium.h>

#include "error.h"
#include "fernet.h"
#include "secure.h"
#include "unit.h"

/* The Fernet spec's known-answer vector (generate.json / verify.json). */
#define SPEC_KEY_B64 "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4="
#define SPEC_TS 499162800u
#define SPEC_TOKEN \
	"gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhu" \
	"VUPgJobwOz7JcbmrR64jVmpU4IwqDA=="
/* Same key, time and IV (python cryptography's _encrypt_from_parts) */
#define EMPTY_TOKEN \
	"gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAkyKTyMbYmiNsw2" \
	"aOq718ErZlYQbIORRvp9giNbObzxmg=="
#define BLOCK_PT "0123456789abcdef"
#define BLOCK_TOKEN \
	"gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0OD1xYxWk-FnTVkOLqDQyotg1f_5l_C34LZuLm" \
	"vvtMaTZB3CDmVlr7MWdCvETl7qadRnd3qN_Y9sP0W4vztgNggwo="

/* Valid HMAC over a ciphertext whose PKCS#7 padding is wrong (python:
 * AES-CBC without padding of the block shown, then HMAC). */
static const char *const bad_padding[] = {
	/* 15 x 'A', 0x00 */
	"gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0OD1VsJ4ZTr-jDEnpxV5WurBJKBFqmsKUQzuAq"
	"eD6Indkm97K69Z_AvmkBsitl9b2rsA==",
	/* 15 x 'A', 0x11 */
	"gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0OD4Cyhl9iNimMpiz-g7eDusbfkPJ5G5mvpDKR"
	"_fzhgUB2S_jqpVQ6SadcQI6xUcLi5A==",
	/* 14 x 'A', 0x03, 0x02 */
	"gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0OD9Wig-inH5OUMaDWRxFx_mxE0bZUmoAY17VS"
	"faRL4hHSidebo0eeHG3gT8O5XXxMtQ==",
	/* 16 x 'A', 0x11, 15 x 0x10 */
	"gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODzPLvwiBzvzr7AhKnwbRI8VfPCEkVR7ElbE2"
	"bK6aPPYiWMHjRk6vcz4bWSeKje1yySgl8iNAXwQXsCs0QwXxAVA=",
};

/* Golden envelope cache/raw/hello.enc.json, written by the Python module */
#define HELLO_TOKEN \
	"gAAAAABrAjHjYxPlV7T6yxkcumUEErZOL-RWmxLPbWLIZ47KKIch34Gv96QiOo231MeK" \
	"ZXCa6D8MMJwe35YQlyM5yrM43hQ83nd87U8cCZa03vUp-ZU3lIPZEwLdGsq6FZ1Ol6_X" \
	"oxnllQaR15jGOSqxt7CtpWx0zXd0Da02B2dcVBOBD96XIYM="
#define HELLO_TS 1795305955u
/* PBKDF2-SHA256(secrets.json password, salt.bin, 480000, 32), hashlib */
#define GOLDEN_DEFAULT \
	"3556a2854cb1d471b3650d1c5b07e57a8ebd8c272bfe427ffdbb703d7048e524"
#define GOLDEN_REPORTS \
	"ba8cc56480751110429b40ea9dd2c8a2073d8bad5b34436119e76c9a02dc2662"

static uint8_t spec_key[EC_KEYBYTES];
static uint8_t spec_iv[EC_FERNET_IVBYTES];

static void setup_keys(void)
{
	size_t len, i;

	ck_assert_int_eq(sodium_base642bin(spec_key, sizeof(spec_key),
					   SPEC_KEY_B64, strlen(SPEC_KEY_B64),
					   NULL, &len, NULL,
					   sodium_base64_VARIANT_URLSAFE), 0);
	ck_assert_uint_eq(len, EC_KEYBYTES);
	for (i = 0; i < EC_FERNET_IVBYTES; i++)
		spec_iv[i] = (uint8_t)i;
}

/* Token text -> raw bytes (malloc'd) with libsodium, for tampering. */
static uint8_t *raw_of(const char *token, size_t *len)
{
	uint8_t *raw = malloc(strlen(token));

	ck_assert_ptr_nonnull(raw);
	ck_assert_int_eq(sodium_base642bin(raw, strlen(token), token,
					   strlen(token), NULL, len, NULL,
					   sodium_base64_VARIANT_URLSAFE), 0);
	return raw;
}

/* Raw bytes -> token text (malloc'd). */
static char *token_of(const uint8_t *raw, size_t len)
{
	size_t n = sodium_base64_encoded_len(len,
					     sodium_base64_VARIANT_URLSAFE);
	char *t = malloc(n);

	ck_assert_ptr_nonnull(t);
	sodium_bin2base64(t, n, raw, len, sodium_base64_VARIANT_URLSAFE);
	return t;
}

/* Open must fail with want and output nothing. */
static void open_fails_len(const uint8_t *key, const char *token,
			   size_t toklen, int want)
{
	uint8_t sentinel;
	uint8_t *pt = &sentinel;
	size_t ptlen = 12345;
	uint64_t ts = 777;
	int rc;

	rc = ec_fernet_open(key, token, toklen, &pt, &ptlen, &ts);
	ck_assert_msg(rc == want, "'%.*s': got %d (%s), want %d (%s)",
		      (int)toklen, token, rc, ec_strerror(rc), want,
		      ec_strerror(want));
	ck_assert_ptr_eq(pt, &sentinel);
	ck_assert_uint_eq(ptlen, 12345);
	ck_assert_uint_eq(ts, 777);
}

static void open_fails(const uint8_t *key, const char *token, int want)
{
	open_fails_len(key, token, strlen(token), want);
}

/* Re-encode raw after tampering and check the code. */
static void raw_fails(const uint8_t *raw, size_t len, int want)
{
	char *t = token_of(raw, len);

	open_fails(spec_key, t, want);
	free(t);
}

static void check_open(const uint8_t *key, const char *token,
		       const void *want, size_t wantlen, uint64_t wantts)
{
	uint8_t *pt = NULL;
	size_t ptlen = 0;
	uint64_t ts = 0;

	ck_assert_int_eq(ec_fernet_open(key, token, strlen(token), &pt,
					&ptlen, &ts), 0);
	ck_assert_ptr_nonnull(pt);
	ck_assert_uint_eq(ptlen, wantlen);
	if (wantlen > 0)
		ck_assert_mem_eq(pt, want, wantlen);
	ck_assert_uint_eq(ts, wantts);
	ec_secure_free(pt);
}

static void check_seal(const void *pt, size_t ptlen, const char *want)
{
	char *tok = NULL;
	size_t toklen = 0;

	ck_assert_int_eq(ec_fernet_seal(spec_key, pt, ptlen, SPEC_TS, spec_iv,
					&tok, &toklen), 0);
	ck_assert_str_eq(tok, want);
	ck_assert_uint_eq(toklen, strlen(want));
	free(tok);
}

/* --- known answers ------------------------------------------------------- */

START_TEST(test_spec_key)
{
	uint8_t want[EC_KEYBYTES];

	ec_test_hex("730ff4c7af3d46923e8ed451ee813c87"
		    "f790b0a226bc96a92de49b5e9c05e1ee", want, sizeof(want));
	ck_assert_mem_eq(spec_key, want, EC_KEYBYTES);
}
END_TEST

START_TEST(test_spec_seal)
{
	check_seal("hello", 5, SPEC_TOKEN);
}
END_TEST

START_TEST(test_spec_open)
{
	uint8_t *pt = NULL;
	size_t ptlen = 0;

	check_open(spec_key, SPEC_TOKEN, "hello", 5, SPEC_TS);
	/* the timestamp is optional */
	ck_assert_int_eq(ec_fernet_open(spec_key, SPEC_TOKEN,
					strlen(SPEC_TOKEN), &pt, &ptlen,
					NULL), 0);
	ck_assert_uint_eq(ptlen, 5);
	ck_assert_mem_eq(pt, "hello", 5);
	ec_secure_free(pt);
}
END_TEST

START_TEST(test_empty)
{
	check_seal("", 0, EMPTY_TOKEN);
	check_seal(NULL, 0, EMPTY_TOKEN);
	check_open(spec_key, EMPTY_TOKEN, "", 0, SPEC_TS);
}
END_TEST

START_TEST(test_block_multiple)
{
	check_seal(BLOCK_PT, 16, BLOCK_TOKEN);
	check_open(spec_key, BLOCK_TOKEN, BLOCK_PT, 16, SPEC_TS);
}
END_TEST

/* --- round trips --------------------------------------------------------- */

static void roundtrip(const uint8_t *pt, size_t ptlen, uint64_t ts)
{
	uint8_t key[EC_KEYBYTES], iv[EC_FERNET_IVBYTES];
	uint8_t *out = NULL;
	size_t toklen, outlen;
	uint64_t outts;
	char *tok = NULL;

	randombytes_buf(key, sizeof(key));
	randombytes_buf(iv, sizeof(iv));
	ck_assert_int_eq(ec_fernet_seal(key, pt, ptlen, ts, iv, &tok,
					&toklen), 0);
	/* 57 bytes of frame, the padded text, base64 with padding */
	ck_assert_uint_eq(toklen, ((57 + (ptlen / 16 + 1) * 16) + 2) / 3 * 4);
	ck_assert_uint_eq(strlen(tok), toklen);
	ck_assert_int_eq(ec_fernet_open(key, tok, toklen, &out, &outlen,
					&outts), 0);
	ck_assert_uint_eq(outlen, ptlen);
	if (ptlen > 0)
		ck_assert_mem_eq(out, pt, ptlen);
	ck_assert_uint_eq(outts, ts);
	ec_secure_free(out);
	free(tok);
}

/* Every padding length, and timestamps at the edges. */
START_TEST(test_roundtrip_sizes)
{
	uint8_t pt[40];
	size_t n;

	randombytes_buf(pt, sizeof(pt));
	for (n = 0; n <= sizeof(pt); n++)
		roundtrip(pt, n, 1700000000u + n);
	roundtrip(pt, 3, 0);
	roundtrip(pt, 3, UINT64_MAX);
}
END_TEST

START_TEST(test_roundtrip_1mb)
{
	size_t n = 1u << 20;
	uint8_t *pt = malloc(n);

	ck_assert_ptr_nonnull(pt);
	randombytes_buf(pt, n);
	roundtrip(pt, n, 1795305955u);
	roundtrip(pt, n - 1, 1795305955u);
	free(pt);
}
END_TEST

START_TEST(test_seal_errors)
{
	char *tok = (char *)"untouched";
	size_t toklen = 9;

	ck_assert_int_eq(ec_fernet_seal(spec_key, NULL, 1, 0, spec_iv, &tok,
					&toklen), -EINVAL);
	ck_assert_int_eq(ec_fernet_seal(spec_key, (const uint8_t *)"x",
					SIZE_MAX, 0, spec_iv, &tok, &toklen),
			 -ENOMEM);
	ck_assert_str_eq(tok, "untouched");
	ck_assert_uint_eq(toklen, 9);
}
END_TEST

/* --- errors -------------------------------------------------------------- */

START_TEST(test_err_base64)
{
	char t[sizeof(SPEC_TOKEN) + 8];
	size_t len = strlen(SPEC_TOKEN);

	open_fails(spec_key, "!!!!", -EC_EBASE64);
	open_fails(spec_key, "gA", -EC_EBASE64);
	/* missing padding */
	memcpy(t, SPEC_TOKEN, len - 2);
	t[len - 2] = '\0';
	open_fails(spec_key, t, -EC_EBASE64);
	t[len - 2] = '=';
	t[len - 1] = '\0';
	open_fails(spec_key, t, -EC_EBASE64);
	/* padding where none belongs, or too much */
	open_fails(spec_key, SPEC_TOKEN "====", -EC_EBASE64);
	open_fails(spec_key, "gA==gAAA", -EC_EBASE64);
	/* whitespace */
	open_fails(spec_key, SPEC_TOKEN "\n", -EC_EBASE64);
	open_fails(spec_key, " " SPEC_TOKEN "   ", -EC_EBASE64);
	strcpy(t, SPEC_TOKEN);
	t[10] = ' ';
	open_fails(spec_key, t, -EC_EBASE64);
	t[10] = '\n';
	open_fails(spec_key, t, -EC_EBASE64);
	/* characters outside the url-safe alphabet */
	t[10] = '*';
	open_fails(spec_key, t, -EC_EBASE64);
	t[10] = '+';
	open_fails(spec_key, t, -EC_EBASE64);
	t[10] = '/';
	open_fails(spec_key, t, -EC_EBASE64);
	t[10] = '\xc3';	/* libsodium 1.0.18 alone takes these */
	open_fails(spec_key, t, -EC_EBASE64);
	t[10] = '\x80';
	open_fails(spec_key, t, -EC_EBASE64);
	t[10] = '\xff';
	open_fails(spec_key, t, -EC_EBASE64);
	t[10] = SPEC_TOKEN[10];
	t[len - 1] = '\xbd';
	open_fails(spec_key, t, -EC_EBASE64);
	t[len - 1] = '=';
	t[10] = '.';
	open_fails(spec_key, t, -EC_EBASE64);
	/* a NUL inside the given length */
	t[10] = '\0';
	open_fails_len(spec_key, t, len, -EC_EBASE64);
	/* non-zero bits after the last byte ("DA==" -> "DB==") */
	strcpy(t, SPEC_TOKEN);
	t[len - 3] = 'B';
	open_fails(spec_key, t, -EC_EBASE64);
}
END_TEST

START_TEST(test_err_version)
{
	size_t len;
	uint8_t *raw = raw_of(SPEC_TOKEN, &len);

	raw[0] = 0x81;
	raw_fails(raw, len, -EC_EVERSION);
	raw[0] = 0x00;
	raw_fails(raw, len, -EC_EVERSION);
	raw[0] = 0x00;
	raw_fails(raw, 1, -EC_EVERSION);	/* checked before the length */
	free(raw);
}
END_TEST

START_TEST(test_err_length)
{
	uint8_t big[200];
	size_t len;
	uint8_t *raw = raw_of(SPEC_TOKEN, &len);

	ck_assert_uint_eq(len, EC_FERNET_MIN_RAW);	/* one block */
	open_fails(spec_key, "", -EC_ELENGTH);
	open_fails(spec_key, "gA==", -EC_ELENGTH);
	raw_fails(raw, EC_FERNET_MIN_RAW - 1, -EC_ELENGTH);
	raw_fails(raw, 9 + 16 + 32, -EC_ELENGTH);	/* no ciphertext */
	/* ciphertext not whole blocks: one byte more, one less, half */
	memset(big, 0, sizeof(big));
	memcpy(big, raw, len);
	raw_fails(big, len + 1, -EC_ELENGTH);
	raw_fails(big, len + 8, -EC_ELENGTH);
	raw_fails(big, len + 15, -EC_ELENGTH);
	free(raw);
	/* truncated text: a whole 4-char group off the end */
	open_fails_len(spec_key, SPEC_TOKEN, strlen(SPEC_TOKEN) - 4,
		       -EC_ELENGTH);
}
END_TEST

/* Byte offsets: ts 1..8, IV 9..24, ciphertext 25..40, HMAC 41..72 */
static const size_t flips[] = { 1, 4, 8, 9, 16, 24, 25, 33, 40, 41, 60, 72 };

START_TEST(test_err_hmac_flip)
{
	size_t len;
	uint8_t *raw = raw_of(SPEC_TOKEN, &len);

	raw[flips[_i]] ^= 0x01;
	raw_fails(raw, len, -EC_EHMAC);
	raw[flips[_i]] ^= 0x81;
	raw_fails(raw, len, -EC_EHMAC);
	free(raw);
}
END_TEST

START_TEST(test_err_wrong_key)
{
	uint8_t key[EC_KEYBYTES];
	size_t i;

	for (i = 0; i < 16; i++) {	/* the signing half */
		memcpy(key, spec_key, sizeof(key));
		key[i] ^= 0x10;
		open_fails(key, SPEC_TOKEN, -EC_EHMAC);
	}
	ec_test_hex(GOLDEN_DEFAULT, key, sizeof(key));
	open_fails(key, SPEC_TOKEN, -EC_EHMAC);
	open_fails(key, bad_padding[0], -EC_EHMAC);
}
END_TEST

START_TEST(test_err_padding)
{
	open_fails(spec_key, bad_padding[_i], -EC_EPADDING);
}
END_TEST

/* --- golden envelope ----------------------------------------------------- */

START_TEST(test_golden_hello)
{
	static const char bplist_data[] = "hello, world\n";
	uint8_t key[EC_KEYBYTES];
	uint8_t *pt = NULL;
	size_t ptlen = 0;
	uint64_t ts = 0;

	ec_test_hex(GOLDEN_DEFAULT, key, sizeof(key));
	ck_assert_int_eq(ec_fernet_open(key, HELLO_TOKEN, strlen(HELLO_TOKEN),
					&pt, &ptlen, &ts), 0);
	ck_assert_uint_eq(ts, HELLO_TS);
	ck_assert_uint_eq(ptlen, 65);
	ck_assert_mem_eq(pt, "bplist00", 8);
	ck_assert_ptr_nonnull(memmem(pt, ptlen, bplist_data,
				     sizeof(bplist_data) - 1));
	ec_secure_free(pt);

	ec_test_hex(GOLDEN_REPORTS, key, sizeof(key));	/* the other key */
	open_fails(key, HELLO_TOKEN, -EC_EHMAC);
}
END_TEST

/* The vector coders against the table, every length and alignment up to a
 * few steps, bytes of every value; a bad character anywhere is refused. */
START_TEST(test_b64_simd)
{
	static const char ok[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		"0123456789-_";
	enum { MAXRAW = 600 };
	uint8_t raw[MAXRAW + 8], back1[MAXRAW + 8], back2[MAXRAW + 8];
	char t1[MAXRAW / 3 * 4 + 8], t2[MAXRAW / 3 * 4 + 8];
	size_t n, i, off;

	for (i = 0; i < sizeof(raw); i++)
		raw[i] = (uint8_t)(i * 167 + 13);
	for (n = 0; n <= MAXRAW; n += 3) {
		for (off = 0; off < 4; off++) {
			size_t tl = n / 3 * 4;
			long r1, r2;

			ec_fernet_b64_simd(0);
			ec_fernet_b64_encode(raw + off, n, t1);
			ec_fernet_b64_simd(1);
			ec_fernet_b64_encode(raw + off, n, t2);
			ck_assert(memcmp(t1, t2, tl) == 0);
			for (i = 0; i < tl; i++)
				ck_assert(strchr(ok, t1[i]) != NULL);
			r1 = ec_fernet_b64_decode(t2, tl, back2);
			ck_assert_int_eq(r1, (long)n);
			ck_assert(memcmp(back2, raw + off, n) == 0);
			ec_fernet_b64_simd(0);
			r2 = ec_fernet_b64_decode(t2, tl, back1);
			ck_assert_int_eq(r2, (long)n);
			ck_assert(memcmp(back1, raw + off, n) == 0);
		}
	}
	/* Every character of the alphabet at every place of a step. */
	n = 96;
	for (i = 0; i < 64; i++) {
		for (off = 0; off < n; off++)
			t1[off] = ok[(i + off) % 64];
		ec_fernet_b64_simd(0);
		ck_assert_int_eq(ec_fernet_b64_decode(t1, n, back1), 72);
		ec_fernet_b64_simd(1);
		ck_assert_int_eq(ec_fernet_b64_decode(t1, n, back2), 72);
		ck_assert(memcmp(back1, back2, 72) == 0);
	}
	/* Any byte outside the alphabet, anywhere, is refused by both. */
	for (i = 0; i < 256; i++) {
		if (i && strchr(ok, (int)i))
			continue;
		for (off = 0; off < n; off += 7) {
			memset(t1, 'A', n);
			t1[off] = (char)i;
			ec_fernet_b64_simd(1);
			ck_assert_int_eq(ec_fernet_b64_decode(t1, n, back2), -1);
			ec_fernet_b64_simd(0);
			ck_assert_int_eq(ec_fernet_b64_decode(t1, n, back1), -1);
		}
	}
	ec_fernet_b64_simd(1);
}
END_TEST

static Suite *fernet_suite(void)
{
	Suite *s = suite_create("fernet");
	TCase *tc;

	tc = tcase_create("known_answers");
	tcase_add_checked_fixture(tc, setup_keys, NULL);
	tcase_add_test(tc, test_spec_key);
	tcase_add_test(tc, test_spec_seal);
	tcase_add_test(tc, test_spec_open);
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_block_multiple);
	suite_add_tcase(s, tc);

	tc = tcase_create("roundtrip");
	tcase_add_checked_fixture(tc, setup_keys, NULL);
	tcase_add_test(tc, test_roundtrip_sizes);
	tcase_add_test(tc, test_roundtrip_1mb);
	tcase_add_test(tc, test_seal_errors);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup_keys, NULL);
	tcase_add_test(tc, test_err_base64);
	tcase_add_test(tc, test_err_version);
	tcase_add_test(tc, test_err_length);
	tcase_add_loop_test(tc, test_err_hmac_flip, 0,
			    (int)(sizeof(flips) / sizeof(flips[0])));
	tcase_add_test(tc, test_err_wrong_key);
	tcase_add_loop_test(tc, test_err_padding, 0,
			    (int)(sizeof(bad_padding) /
				  sizeof(bad_padding[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("base64");
	tcase_add_test(tc, test_b64_simd);
	/* Every length and offset through both codecs: seconds under ASan
	 * on a loaded machine, past Check's default 4 s (seen in CI). */
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("golden");
	tcase_add_test(tc, test_golden_hello);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (ec_secure_init() < 0)
		return EXIT_FAILURE;
	return ec_test_run(fernet_suite());
}
