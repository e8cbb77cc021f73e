/*
 * Robustness of view: mutated bplists (seeded from the known answers in
 * view_test.h) under every view, and mutated JSON and XML text written
 * back.  Never a crash, and JSON views read back to themselves.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <plist/plist.h>

#include "error.h"
#include "secure.h"
#include "unit.h"
#include "view.h"
#include "view_test.h"

static uint64_t rng_state;

static uint32_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

/* Whether a tree has a dict that repeats a key (Python never writes one;
 * JSON keeps the last value, in the first place). */
static bool has_dup_key(plist_t node)
{
	plist_type type = plist_get_node_type(node);
	plist_t val = NULL;
	void *it = NULL;
	char *keys[256];
	size_t n = 0, i, j;
	bool dup = false;

	if (type != PLIST_ARRAY && type != PLIST_DICT)
		return false;
	if (type == PLIST_ARRAY)
		plist_array_new_iter(node, &it);
	else
		plist_dict_new_iter(node, &it);
	for (;;) {
		char *key = NULL;

		val = NULL;
		if (type == PLIST_ARRAY)
			plist_array_next_item(node, it, &val);
		else
			plist_dict_next_item(node, it, &key, &val);
		if (val == NULL)
			break;
		dup = dup || has_dup_key(val);
		if (key != NULL && n < 256)
			keys[n++] = key;
		else
			free(key);
	}
	free(it);
	for (i = 0; i < n; i++) {
		for (j = i + 1; j < n; j++)
			dup = dup || strcmp(keys[i], keys[j]) == 0;
		free(keys[i]);
	}
	return dup;
}

static bool bplist_has_dup_key(const uint8_t *d, size_t n)
{
	plist_t root = NULL;
	bool dup;

	plist_from_bin((const char *)d, (uint32_t)n, &root);
	ck_assert_ptr_nonnull(root);
	dup = has_dup_key(root);
	plist_free(root);
	return dup;
}

static void fixed_point(const uint8_t *json, size_t n)
{
	struct bytes back = { NULL, 0 };
	char *text = malloc(n + 1);

	ck_assert_ptr_nonnull(text);
	memcpy(text, json, n);
	text[n] = '\0';
	ck_assert_int_eq(parse(EC_VIEW_JSON, true, text, &back), 0);
	render_is(EC_VIEW_JSON, back.p, back.len, json, n, true);
	free(back.p);
	free(text);
}

/*
 * Render under every view; a JSON rendering must read back to itself,
 * except where a string holds U+0000 (no plist string can be made so) or
 * a dict repeats a key: then the text read back renders to itself, or
 * fails as a lone repeated tag-named key reads as a tag.
 */
static void check_any(const uint8_t *d, size_t n)
{
	uint8_t *out = NULL, *again = NULL;
	size_t outlen = 0, againlen = 0;
	bool isb = false, json;
	struct bytes back = { NULL, 0 };
	char *text;
	int ret;

	ck_assert_int_eq(ec_view_render(EC_VIEW_XML, d, n, &out, &outlen,
					&isb), 0);
	ec_secure_free(out);
	ck_assert_int_eq(ec_view_render(EC_VIEW_JSON, d, n, &out, &outlen,
					&isb), 0);
	ck_assert(isb == ec_view_is_bplist(d, n));
	json = isb && !(outlen == n && memcmp(out, d, n) == 0);
	if (json) {
		text = malloc(outlen + 1);
		ck_assert_ptr_nonnull(text);
		memcpy(text, out, outlen);
		text[outlen] = '\0';
		ck_assert_uint_eq(strlen(text), outlen);
		ret = parse(EC_VIEW_JSON, true, text, &back);
		if (ret == 0) {
			ck_assert_int_eq(ec_view_render(EC_VIEW_JSON, back.p,
							back.len, &again,
							&againlen, NULL), 0);
			if (againlen != outlen ||
			    memcmp(again, out, outlen) != 0) {
				ck_assert(bplist_has_dup_key(d, n));
				fixed_point(again, againlen);
			}
			ec_secure_free(again);
			free(back.p);
		} else {
			ck_assert_int_eq(ret, -EINVAL);
			ck_assert(strstr(text, "\\u0000") != NULL ||
				  bplist_has_dup_key(d, n));
		}
		free(text);
	}
	ec_secure_free(out);
}

START_TEST(test_mutations)
{
	struct bytes seeds[NGOLDEN + NPY];
	uint8_t buf[2048];
	size_t nseeds = 0, i, n, k, len;
	unsigned iter;

	for (i = 0; i < NGOLDEN; i++)
		seeds[nseeds++] = b64(goldens[i].b64);
	for (i = 0; i < NPY; i++)
		seeds[nseeds++] = b64(py_cases[i].b64);
	rng_state = 0x9E3779B97F4A7C15ULL;
	for (iter = 0; iter < 3000; iter++) {
		const struct bytes *s = &seeds[rnd() % nseeds];

		len = s->len;
		ck_assert(len <= sizeof(buf));
		memcpy(buf, s->p, len);
		n = 1 + rnd() % 4;
		for (k = 0; k < n; k++) {
			switch (rnd() % 4) {
			case 0:		/* anywhere */
				buf[8 + rnd() % (len - 8)] = (uint8_t)rnd();
				break;
			case 1:		/* in the trailer */
				buf[len - 1 - rnd() % 32] = (uint8_t)rnd();
				break;
			case 2:		/* a bit */
				buf[8 + rnd() % (len - 8)] ^=
					(uint8_t)(1u << (rnd() % 8));
				break;
			default:	/* a marker-like value */
				buf[8 + rnd() % (len - 8)] =
					(uint8_t)(rnd() % 16 << 4 | 0xF);
				break;
			}
		}
		if (rnd() % 8 == 0)
			len = 8 + rnd() % (len - 8);
		check_any(buf, len);
	}
	for (iter = 0; iter < 500; iter++) {
		/* random bytes behind the magic */
		len = 8 + rnd() % 120;
		memcpy(buf, "bplist00", 8);
		for (i = 8; i < len; i++)
			buf[i] = (uint8_t)rnd();
		if (len > 40 && rnd() % 2 == 0) {
			/* a sane-looking trailer */
			memset(buf + len - 32, 0, 32);
			buf[len - 26] = 1;
			buf[len - 25] = 1;
			buf[len - 17] = (uint8_t)(1 + rnd() % 4);
			buf[len - 9] = (uint8_t)(rnd() % 2);
			buf[len - 1] = (uint8_t)(len - 32 - rnd() % 5);
		}
		check_any(buf, len);
	}
	for (i = 0; i < nseeds; i++)
		free(seeds[i].p);
}
END_TEST

/* Text written under v: never a crash; what is stored renders, and its
 * JSON view reads back to itself. */
static void check_text(enum ec_view v, const char *text)
{
	struct bytes b = { NULL, 0 };
	uint8_t *out = NULL;
	size_t outlen = 0;
	int ret;

	ret = parse(v, true, text, &b);
	if (ret < 0) {
		ck_assert(ret == -EINVAL || ret == -EC_ETOOBIG);
		return;
	}
	ck_assert(ec_view_is_bplist(b.p, b.len));
	ck_assert_int_eq(ec_view_render(EC_VIEW_JSON, b.p, b.len, &out,
					&outlen, NULL), 0);
	fixed_point(out, outlen);
	ec_secure_free(out);
	free(b.p);
}

static void mutate_text(char *buf, size_t *len, size_t cap)
{
	static const char alphabet[] =
		"{}[]\",: \n0123456789-+.eE\\u$abdtlnrfx<>/=&;#\x7f\xc3\xa9";
	size_t pos = *len > 0 ? rnd() % *len : 0;

	switch (rnd() % 3) {
	case 0:		/* replace */
		if (*len > 0)
			buf[pos] = alphabet[rnd() % (sizeof(alphabet) - 1)];
		break;
	case 1:		/* insert */
		if (*len + 1 < cap) {
			memmove(buf + pos + 1, buf + pos, *len - pos);
			buf[pos] = alphabet[rnd() % (sizeof(alphabet) - 1)];
			(*len)++;
		}
		break;
	default:	/* delete */
		if (*len > 0) {
			memmove(buf + pos, buf + pos + 1, *len - pos - 1);
			(*len)--;
		}
		break;
	}
	buf[*len] = '\0';
}

START_TEST(test_text_mutations)
{
	char buf[2048];
	const char *seed;
	size_t len, k, n;
	unsigned iter;

	rng_state = 0x2545F4914F6CDD1DULL;
	for (iter = 0; iter < 3000; iter++) {
		k = rnd() % (NGOLDEN + NPY);
		seed = k < NGOLDEN ? goldens[k].json :
			py_cases[k - NGOLDEN].json;
		len = strlen(seed);
		ck_assert(len < sizeof(buf));
		memcpy(buf, seed, len + 1);
		for (n = 1 + rnd() % 3; n > 0; n--)
			mutate_text(buf, &len, sizeof(buf));
		check_text(EC_VIEW_JSON, buf);
	}
	for (iter = 0; iter < 1000; iter++) {
		k = rnd() % NGOLDEN;
		len = (size_t)snprintf(buf, sizeof(buf), "%s%s", xml_head,
				       goldens[k].xml_body);
		for (n = 1 + rnd() % 3; n > 0; n--)
			mutate_text(buf, &len, sizeof(buf));
		check_text(EC_VIEW_XML, buf);
	}
}
END_TEST

static Suite *view_robust_suite(void)
{
	Suite *s = suite_create("view_robust");
	TCase *tc;

	tc = tcase_create("robustness");
	tcase_add_test(tc, test_mutations);
	tcase_add_test(tc, test_text_mutations);
	tcase_set_timeout(tc, 600);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (ec_secure_init() < 0)
		return EXIT_FAILURE;
	return ec_test_run(view_robust_suite());
}
