/*
 * Unit tests for view_parse (src/view_parse.c): text written under the
 * json, auto, raw and xml views read back into data, and the text that
 * must be refused.  Known answers are in view_test.h.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "error.h"
#include "secure.h"
#include "unit.h"
#include "view.h"
#include "view_test.h"

/* --- helpers ------------------------------------------------------------- */

/* JSON text -> bplist -> JSON: the same text again. */
static void roundtrip(const char *json)
{
	struct bytes b = { NULL, 0 };

	ck_assert_msg(parse(EC_VIEW_JSON, true, json, &b) == 0,
		      "does not parse: %s", json);
	ck_assert(ec_view_is_bplist(b.p, b.len));
	render_is(EC_VIEW_JSON, b.p, b.len, json, strlen(json), true);
	free(b.p);
}

/* An XML plist of depth nested arrays; free() it. */
static char *xml_nested(size_t depth)
{
	size_t i, n = strlen(xml_head);
	char *text = malloc(n + depth * 15 + 16);

	ck_assert_ptr_nonnull(text);
	memcpy(text, xml_head, n);
	for (i = 0; i < depth; i++, n += 7)
		memcpy(text + n, "<array>", 7);
	for (i = 0; i < depth; i++, n += 8)
		memcpy(text + n, "</array>", 8);
	strcpy(text + n, "</plist>\n");
	return text;
}

/* --- parsing JSON -------------------------------------------------------- */

START_TEST(test_roundtrip_known)
{
	size_t i;

	for (i = 0; i < NGOLDEN; i++)
		roundtrip(goldens[i].json);
	for (i = 0; i < NPY; i++)
		roundtrip(py_cases[i].json);
}
END_TEST

START_TEST(test_roundtrip_scalars)
{
	static const char *const texts[] = {
		"0\n", "-1\n", "18446744073709551615\n",
		"9223372036854775808\n", "9223372036854775807\n",
		"-9223372036854775808\n", "true\n", "false\n", "\"\"\n",
		"\"x\"\n", "0.0\n", "-0.0\n", "1e-07\n", "2.5\n", "{}\n",
		"[]\n", "{\n  \"$data\": \"\"\n}\n",
		"{\n  \"$date\": \"2026-02-07T12:00:00Z\"\n}\n",
		"{\n  \"$date\": \"1970-01-01T00:00:00.000001Z\"\n}\n",
		"{\n  \"$uid\": 4294967295\n}\n",
		"{\n  \"$uid\": 300\n}\n", "{\n  \"$uid\": 70000\n}\n",
		"{\n  \"a\": \"a\",\n  \"b\": [\n    \"a\",\n    {\n"
		"      \"a\": \"b\"\n    }\n  ]\n}\n",
		"[\n  255,\n  256,\n  65535,\n  65536,\n  4294967296,\n"
		"  -255\n]\n",
		"{\n  \"$real\": \"inf\"\n}\n",
		"{\n  \"$dict\": {\n    \"$real\": {\n      \"$real\": "
		"\"-inf\"\n    }\n  }\n}\n",
		"{\n  \"$dict\": {\n    \"$dict\": {}\n  }\n}\n",
		"{\n  \"z\": 1,\n  \"a\": [\n    {},\n"
		"    \"\\u001b\"\n  ]\n}\n",
	};
	size_t i;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		roundtrip(texts[i]);
}
END_TEST

/* Compact or oddly spaced input comes back in the pretty form. */
START_TEST(test_parse_normalises)
{
	struct bytes b = { NULL, 0 };

	ck_assert_int_eq(parse(EC_VIEW_JSON, true,
			       " {\"price\":42.0}\r\n\t ", &b), 0);
	render_json_is(&b, py_price_json);
	free(b.p);

	ck_assert_int_eq(parse(EC_VIEW_JSON, true,
			       "{\"s\":\"\\u00fc\\ud83d\\ude00\\/\","
			       "\"t\":{\"$date\":"
			       "\"2026-02-07T13:00:00+01:00\"},\"n\":1E2,"
			       "\"m\":-0,\"d\":{\"$dict\":{\"a\":1}}}",
			       &b), 0);
	render_json_is(&b,
		       "{\n"
		       "  \"s\": \"\xc3\xbc\xf0\x9f\x98\x80/\",\n"
		       "  \"t\": {\n"
		       "    \"$date\": \"2026-02-07T12:00:00Z\"\n"
		       "  },\n"
		       "  \"n\": 100.0,\n"
		       "  \"m\": 0,\n"
		       "  \"d\": {\n"
		       "    \"a\": 1\n"
		       "  }\n"
		       "}\n");
	free(b.p);
}
END_TEST

START_TEST(test_parse_invalid_json)
{
	static const char *const texts[] = {
		"", " ", "{", "[1,]", "{\"a\":1,}", "'a'", "{a: 1}", "01",
		"1.", ".5", "-", "+1", "1.e5", "1e", "1e+", "-.5", "[1.]",
		"{\"a\": 2.E3}", "tru", "\"abc", "{\"a\" 1}",
		"{\"a\":1} x", "{}{}", "1 2", "[1] /* c */", "/* c */ 1",
		"\"a\tb\"", "\"\\x\"", "\xef\xbb\xbf{}", "\"\xff\"",
		"\"\xc3\"", "NaN", "Infinity", "-Infinity", "nan", "1e400",
		"-1e400", "18446744073709551616", "-9223372036854775809",
		"99999999999999999999999", "[-18446744073709551615]",
		"\"a\\u0000b\"", "{\"a\\u0000b\": 1}", "[\"\\u0000\"]",
	};
	size_t i;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		ck_assert_msg(json_err(texts[i]) == -EINVAL, "accepted: %s",
			      texts[i]);
}
END_TEST

START_TEST(test_parse_nul_byte)
{
	uint8_t *out = NULL;
	size_t outlen = 0;

	ck_assert_int_eq(ec_view_parse_content(EC_VIEW_JSON, true,
					       (const uint8_t *)"1\0", 2,
					       &out, &outlen), -EINVAL);
	ck_assert_int_eq(ec_view_parse_content(EC_VIEW_JSON, true,
					       (const uint8_t *)"\"a\0b\"", 5,
					       &out, &outlen), -EINVAL);
	ck_assert_ptr_null(out);
}
END_TEST

START_TEST(test_parse_null)
{
	static const char *const texts[] = {
		"null", " null\n", "[null]", "[1, [null]]", "{\"a\": null}",
		"{\"$dict\": {\"a\": null}}", "{\"$date\": null}",
		"{\"$dict\": null}",
	};
	size_t i;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		ck_assert_msg(json_err(texts[i]) == -EINVAL, "accepted: %s",
			      texts[i]);
}
END_TEST

START_TEST(test_parse_bad_tags)
{
	static const char *const texts[] = {
		"{\"$date\": 5}", "{\"$date\": \"yesterday\"}",
		"{\"$date\": \"\"}", "{\"$date\": [\"2026-02-07\"]}",
		"{\"$date\": \"2026-02-30T00:00:00Z\"}",
		"{\"$data\": 5}", "{\"$data\": \"abc\"}",
		"{\"$data\": \"ab=c\"}", "{\"$data\": \"a===\"}",
		"{\"$data\": \"====\"}", "{\"$data\": \"iVBO Rw==\"}",
		"{\"$data\": \"iV-_\"}", "{\"$data\": \"AB==\"}",
		"{\"$data\": \"AAB=\"}", "{\"$data\": \"AA==AA==\"}",
		"{\"$uid\": -1}", "{\"$uid\": 1.5}", "{\"$uid\": \"7\"}",
		"{\"$uid\": 4294967296}", "{\"$uid\": true}",
		"{\"$real\": \"NaN\"}", "{\"$real\": \"Infinity\"}",
		"{\"$real\": 1.0}", "{\"$real\": \"1.5\"}", "{\"$real\": \"\"}",
		"{\"$dict\": 5}", "{\"$dict\": [1]}", "{\"$dict\": \"x\"}",
		"[{\"a\": {\"$uid\": -5}}]",
	};
	size_t i;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		ck_assert_msg(json_err(texts[i]) == -EINVAL, "accepted: %s",
			      texts[i]);
}
END_TEST

/* --- auto, raw and xml writes -------------------------------------------- */

START_TEST(test_parse_raw)
{
	struct bytes b = { NULL, 0 };
	uint8_t *out = NULL;
	size_t outlen = 7;

	ck_assert_int_eq(parse(EC_VIEW_RAW, true, "null {", &b), 0);
	out_eq(b.p, b.len, "null {", 6);
	free(b.p);
	ck_assert_int_eq(ec_view_parse_content(EC_VIEW_RAW, false, NULL, 0,
					       &out, &outlen), 0);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(outlen, 0);
	ec_secure_free(out);
}
END_TEST

START_TEST(test_parse_auto)
{
	struct bytes b = { NULL, 0 };
	static const char *const raw_texts[] = {
		"hello\n", "", "null", "[1, null]", "{\"$uid\": -1}",
		"1e400", "bplist00",
	};
	size_t i;

	/* a new entry: JSON becomes a bplist, anything else stays bytes */
	ck_assert_int_eq(parse(EC_VIEW_AUTO, false, "{\"price\": 42.0}\n",
			       &b), 0);
	render_json_is(&b, py_price_json);
	free(b.p);
	for (i = 0; i < sizeof(raw_texts) / sizeof(raw_texts[0]); i++) {
		ck_assert_int_eq(parse(EC_VIEW_AUTO, false, raw_texts[i], &b),
				 0);
		out_eq(b.p, b.len, raw_texts[i], strlen(raw_texts[i]));
		free(b.p);
	}
	/* over a bplist: it must be JSON */
	ck_assert_int_eq(parse(EC_VIEW_AUTO, true, "[1, 2]", &b), 0);
	render_json_is(&b, "[\n  1,\n  2\n]\n");
	free(b.p);
	ck_assert_int_eq(parse(EC_VIEW_AUTO, true, "hello\n", &b), -EINVAL);
	ck_assert_int_eq(parse(EC_VIEW_AUTO, true, "null", &b), -EINVAL);
	ck_assert_int_eq(parse(EC_VIEW_AUTO, true, "", &b), -EINVAL);
}
END_TEST

START_TEST(test_parse_xml_bad)
{
	static const char *const texts[] = {
		"", "hello", "{\"a\": 1}", "bplist00",
		"<plist version=\"1.0\"><foo/></plist>",
		"<plist version=\"1.0\"></plist>", "<x/>",
	};
	size_t i;
	struct bytes b = { NULL, 0 };

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		ck_assert_msg(parse(EC_VIEW_XML, true, texts[i], &b) == -EINVAL,
			      "accepted: %s", texts[i]);
		ck_assert_msg(parse(EC_VIEW_XML, false, texts[i], &b) ==
			      -EINVAL, "accepted: %s", texts[i]);
	}
}
END_TEST

START_TEST(test_parse_xml_deep)
{
	struct bytes b = { NULL, 0 };
	char *text;

	text = xml_nested(EC_VIEW_MAX_DEPTH + 1);
	ck_assert_int_eq(parse(EC_VIEW_XML, true, text, &b), -EC_ETOOBIG);
	free(text);
	text = xml_nested(20000);
	ck_assert_int_eq(parse(EC_VIEW_XML, true, text, &b), -EC_ETOOBIG);
	free(text);
	text = xml_nested(EC_VIEW_MAX_DEPTH);
	ck_assert_int_eq(parse(EC_VIEW_XML, true, text, &b), 0);
	ck_assert(ec_view_is_bplist(b.p, b.len));
	free(b.p);
	free(text);
}
END_TEST

START_TEST(test_parse_xml_types)
{
	struct bytes b = { NULL, 0 };
	char text[1024];

	snprintf(text, sizeof(text),
		 "%s<array><integer>18446744073709551615</integer>"
		 "<integer>-1</integer><real>42</real>"
		 "<date>2026-02-07T12:00:00Z</date><data>AAH+/w==</data>"
		 "<string>\xc3\xbc</string><false/><dict/></array></plist>\n",
		 xml_head);
	ck_assert_int_eq(parse(EC_VIEW_XML, true, text, &b), 0);
	render_json_is(&b,
		       "[\n  18446744073709551615,\n  -1,\n  42.0,\n"
		       "  {\n    \"$date\": \"2026-02-07T12:00:00Z\"\n  },\n"
		       "  {\n    \"$data\": \"AAH+/w==\"\n  },\n"
		       "  \"\xc3\xbc\",\n  false,\n  {}\n]\n");
	free(b.p);
}
END_TEST

static Suite *view_parse_suite(void)
{
	Suite *s = suite_create("view_parse");
	TCase *tc;

	tc = tcase_create("parse_json");
	tcase_add_test(tc, test_roundtrip_known);
	tcase_add_test(tc, test_roundtrip_scalars);
	tcase_add_test(tc, test_parse_normalises);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse_errors");
	tcase_add_test(tc, test_parse_invalid_json);
	tcase_add_test(tc, test_parse_nul_byte);
	tcase_add_test(tc, test_parse_null);
	tcase_add_test(tc, test_parse_bad_tags);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse_other_views");
	tcase_add_test(tc, test_parse_raw);
	tcase_add_test(tc, test_parse_auto);
	tcase_add_test(tc, test_parse_xml_bad);
	tcase_add_test(tc, test_parse_xml_deep);
	tcase_add_test(tc, test_parse_xml_types);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (ec_secure_init() < 0)
		return EXIT_FAILURE;
	return ec_test_run(view_parse_suite());
}
