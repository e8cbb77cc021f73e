/*
 * Unit tests for view_bplist (src/view_bplist.c), our bplist writer: the
 * bytes it lays out for JSON written under the json view (as Python's
 * plistlib writes them), and the plist types libplist reads back.
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

/* The bplist of {"price": 42.0} holds a real, as Python loads it. */
START_TEST(test_parse_real_stays_real)
{
	struct bytes b = { NULL, 0 };
	plist_t root = NULL, v;
	double d = 0;

	ck_assert_int_eq(parse(EC_VIEW_JSON, false, "{\"price\": 42.0}", &b),
			 0);
	plist_from_bin((const char *)b.p, (uint32_t)b.len, &root);
	ck_assert_ptr_nonnull(root);
	v = plist_dict_get_item(root, "price");
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(plist_get_node_type(v), PLIST_REAL);
	plist_get_real_val(v, &d);
	ck_assert(d == 42.0);
	plist_free(root);
	free(b.p);
}
END_TEST

/* Integer widths as Python writes them: 8-byte signed, 16-byte above
 * INT64_MAX.  The object follows the 8-byte header of a lone scalar. */
START_TEST(test_parse_int_forms)
{
	static const uint8_t neg1[] = { 0x13, 0xff, 0xff, 0xff, 0xff, 0xff,
					0xff, 0xff, 0xff };
	static const uint8_t max[] = { 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0xff,
				       0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				       0xff };
	static const uint8_t min[] = { 0x13, 0x80, 0, 0, 0, 0, 0, 0, 0 };
	struct bytes b = { NULL, 0 };

	ck_assert_int_eq(parse(EC_VIEW_JSON, true, "-1", &b), 0);
	ck_assert(b.len > 8 + sizeof(neg1));
	ck_assert(memcmp(b.p + 8, neg1, sizeof(neg1)) == 0);
	free(b.p);
	ck_assert_int_eq(parse(EC_VIEW_JSON, true, "18446744073709551615",
			       &b), 0);
	ck_assert(b.len > 8 + sizeof(max));
	ck_assert(memcmp(b.p + 8, max, sizeof(max)) == 0);
	free(b.p);
	ck_assert_int_eq(parse(EC_VIEW_JSON, true, "-9223372036854775808",
			       &b), 0);
	ck_assert(memcmp(b.p + 8, min, sizeof(min)) == 0);
	/* and it is the golden scalar/big entry's value */
	render_is(EC_VIEW_JSON, b.p, b.len, big_json, strlen(big_json), true);
	free(b.p);
}
END_TEST

/* Our writer's layout: each container after its elements, the top object
 * last, equal strings shared; Python's plistlib loads it (checked once by
 * hand: {'price': 42.0}). */
START_TEST(test_parse_layout)
{
	static const uint8_t price[] = {
		'b', 'p', 'l', 'i', 's', 't', '0', '0',
		0x55, 'p', 'r', 'i', 'c', 'e',			/* @8 */
		0x23, 0x40, 0x45, 0, 0, 0, 0, 0, 0,		/* @14 */
		0xD1, 0x00, 0x01,				/* @23 */
		0x08, 0x0e, 0x17,				/* @26 */
		0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 3,
		0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 26,
	};
	struct bytes b = { NULL, 0 };

	ck_assert_int_eq(parse(EC_VIEW_JSON, false, "{\"price\": 42.0}", &b),
			 0);
	out_eq(b.p, b.len, price, sizeof(price));
	free(b.p);

	/* "a" and "x" once each, two dicts, the array: 5 objects */
	ck_assert_int_eq(parse(EC_VIEW_JSON, true,
			       "[{\"a\": \"x\"}, {\"a\": \"x\"}]", &b), 0);
	ck_assert(b.len > 32 && b.p[b.len - 17] == 5 && b.p[b.len - 9] == 4);
	free(b.p);
}
END_TEST

/* Strings as Python writes them: ASCII, or UTF-16BE with surrogate pairs;
 * counts of 15 and more as an integer object after the marker. */
START_TEST(test_parse_string_forms)
{
	static const uint8_t utf16[] = { 0x64, 0x00, 0xe9, 0xd8, 0x3d, 0xde,
					 0x00, 0x00, 'x' };
	static const uint8_t ascii15[] = { 0x5f, 0x10, 0x0f };
	struct bytes b = { NULL, 0 };
	char text[2048];
	size_t i;

	ck_assert_int_eq(parse(EC_VIEW_JSON, true,
			       "\"\\u00e9\\ud83d\\ude00x\"", &b), 0);
	ck_assert(b.len > 8 + sizeof(utf16));
	ck_assert(memcmp(b.p + 8, utf16, sizeof(utf16)) == 0);
	free(b.p);
	ck_assert_int_eq(parse(EC_VIEW_JSON, true, "\"0123456789abcde\"",
			       &b), 0);
	ck_assert(memcmp(b.p + 8, ascii15, sizeof(ascii15)) == 0);
	ck_assert(memcmp(b.p + 11, "0123456789abcde", 15) == 0);
	free(b.p);

	/* 300 distinct elements: 2-byte counts and references */
	strcpy(text, "[0");
	for (i = 1; i < 300; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
			 ",%zu", i);
	strcat(text, "]");
	ck_assert_int_eq(parse(EC_VIEW_JSON, true, text, &b), 0);
	ck_assert(ec_view_is_bplist(b.p, b.len));
	ck_assert_uint_eq(b.p[b.len - 25], 2);	/* reference size */
	free(b.p);
}
END_TEST

/* Tags read back to their plist types (checked through libplist). */
START_TEST(test_parse_tag_types)
{
	static const struct {
		const char *text;
		plist_type type;
	} cases[] = {
		{ "{\"$date\": \"2026-02-07\"}", PLIST_DATE },
		{ "{\"$data\": \"AA==\"}", PLIST_DATA },
		{ "{\"$uid\": 3}", PLIST_UID },
		{ "{\"$real\": \"nan\"}", PLIST_REAL },
		{ "{\"$dict\": {}}", PLIST_DICT },
		{ "{\"$Date\": 1}", PLIST_DICT },
		{ "{\"$date\": \"x\", \"y\": 1}", PLIST_DICT },
		{ "[]", PLIST_ARRAY },
		{ "\"s\"", PLIST_STRING },
		{ "7", PLIST_UINT },
		{ "7.0", PLIST_REAL },
		{ "false", PLIST_BOOLEAN },
	};
	struct bytes b = { NULL, 0 };
	plist_t root;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(parse(EC_VIEW_JSON, true, cases[i].text, &b),
				 0);
		root = NULL;
		plist_from_bin((const char *)b.p, (uint32_t)b.len, &root);
		ck_assert_ptr_nonnull(root);
		ck_assert_msg(plist_get_node_type(root) == cases[i].type,
			      "%s", cases[i].text);
		plist_free(root);
		free(b.p);
	}
}
END_TEST

static Suite *view_bplist_suite(void)
{
	Suite *s = suite_create("view_bplist");
	TCase *tc;

	tc = tcase_create("forms");
	tcase_add_test(tc, test_parse_int_forms);
	tcase_add_test(tc, test_parse_string_forms);
	tcase_add_test(tc, test_parse_layout);
	suite_add_tcase(s, tc);

	tc = tcase_create("types");
	tcase_add_test(tc, test_parse_real_stays_real);
	tcase_add_test(tc, test_parse_tag_types);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (ec_secure_init() < 0)
		return EXIT_FAILURE;
	return ec_test_run(view_bplist_suite());
}
