/*
 * Unit tests for view (src/view.c, view_plist.c, view_render.c): names,
 * telling a bplist from other data (and from shapes libplist 2.2 cannot
 * take), and presenting data as JSON, XML or raw.  Known answers are in
 * view_test.h.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>
#include <plist/plist.h>

#include "error.h"
#include "secure.h"
#include "unit.h"
#include "view.h"
#include "view_test.h"

/* --- helpers ------------------------------------------------------------- */

/* libplist's own XML of a bplist. */
static char *libplist_xml(const struct bytes *b, uint32_t *n)
{
	plist_t root = NULL;
	char *xml = NULL;

	plist_from_bin((const char *)b->p, (uint32_t)b->len, &root);
	ck_assert_ptr_nonnull(root);
	plist_to_xml(root, &xml, n);
	plist_free(root);
	ck_assert_ptr_nonnull(xml);
	return xml;
}

/* --- a bplist builder for shapes Python cannot make ---------------------- */

struct bp {
	uint8_t buf[1 << 18];
	size_t len;
	uint64_t off[32768];
	size_t nobj;
};

static void bp_init(struct bp *b)
{
	memcpy(b->buf, "bplist00", 8);
	b->len = 8;
	b->nobj = 0;
}

static void bp_obj(struct bp *b, const uint8_t *o, size_t n)
{
	ck_assert(b->len + n < sizeof(b->buf) - 4 * 32768 - 32);
	ck_assert(b->nobj < 32768);
	b->off[b->nobj++] = b->len;
	memcpy(b->buf + b->len, o, n);
	b->len += n;
}

static void put_be(uint8_t *p, uint64_t v, unsigned n)
{
	while (n-- > 0) {
		p[n] = (uint8_t)v;
		v >>= 8;
	}
}

/* Offset table (4-byte offsets) and trailer; top object 0. */
static struct bytes bp_finish(struct bp *b, unsigned ref_size)
{
	struct bytes r;
	uint64_t otab = b->len;
	size_t i;
	uint8_t *t;

	for (i = 0; i < b->nobj; i++) {
		put_be(b->buf + b->len, b->off[i], 4);
		b->len += 4;
	}
	t = b->buf + b->len;
	memset(t, 0, 32);
	t[6] = 4;
	t[7] = (uint8_t)ref_size;
	put_be(t + 8, b->nobj, 8);
	put_be(t + 24, otab, 8);
	b->len += 32;
	r.p = malloc(b->len);
	ck_assert_ptr_nonnull(r.p);
	memcpy(r.p, b->buf, b->len);
	r.len = b->len;
	return r;
}

/* depth arrays nested in one another, the innermost empty. */
static struct bytes nested_arrays(unsigned depth)
{
	static struct bp b;
	uint8_t o[3];
	unsigned i;

	bp_init(&b);
	for (i = 0; i + 1 < depth; i++) {
		o[0] = 0xA1;
		put_be(o + 1, i + 1, 2);
		bp_obj(&b, o, 3);
	}
	o[0] = 0xA0;
	bp_obj(&b, o, 1);
	return bp_finish(&b, 2);
}

/* depth dicts {"$date": {"$date": ... {}}}: each needs a $dict wrapper. */
static struct bytes nested_tag_dicts(unsigned depth)
{
	static struct bp b;
	uint8_t o[6];
	unsigned i;

	bp_init(&b);
	/* object i < depth: dict; object depth: the key "$date" */
	for (i = 0; i + 1 < depth; i++) {
		o[0] = 0xD1;
		put_be(o + 1, depth, 2);
		put_be(o + 3, i + 1, 2);
		bp_obj(&b, o, 5);
	}
	o[0] = 0xD0;
	bp_obj(&b, o, 1);
	bp_obj(&b, (const uint8_t *)"\x55$date", 6);
	return bp_finish(&b, 2);
}

static char *nested_json_arrays(unsigned depth)
{
	char *s = malloc(2 * depth + 2);
	unsigned i;

	ck_assert_ptr_nonnull(s);
	for (i = 0; i < depth; i++) {
		s[i] = '[';
		s[depth + i] = ']';
	}
	s[2 * depth] = '\n';
	s[2 * depth + 1] = '\0';
	return s;
}

/* --- names --------------------------------------------------------------- */

START_TEST(test_names)
{
	static const char *const names[] = { "auto", "raw", "json", "xml" };
	static const enum ec_view views[] = {
		EC_VIEW_AUTO, EC_VIEW_RAW, EC_VIEW_JSON, EC_VIEW_XML
	};
	enum ec_view v;
	size_t i;

	for (i = 0; i < 4; i++) {
		v = views[(i + 1) % 4];
		ck_assert_int_eq(ec_view_parse(names[i], &v), 0);
		ck_assert_int_eq(v, views[i]);
		ck_assert_str_eq(ec_view_name(views[i]), names[i]);
	}
}
END_TEST

START_TEST(test_names_bad)
{
	enum ec_view v = EC_VIEW_XML;

	ck_assert_int_eq(ec_view_parse("JSON", &v), -EINVAL);
	ck_assert_int_eq(ec_view_parse("", &v), -EINVAL);
	ck_assert_int_eq(ec_view_parse("yaml", &v), -EINVAL);
	ck_assert_int_eq(ec_view_parse("json ", &v), -EINVAL);
	ck_assert_int_eq(ec_view_parse(NULL, &v), -EINVAL);
	ck_assert_int_eq(v, EC_VIEW_XML);
}
END_TEST

/* --- detection ------------------------------------------------------------ */

START_TEST(test_detect)
{
	struct bytes b;
	size_t i;

	for (i = 0; i < NGOLDEN; i++) {
		b = b64(goldens[i].b64);
		ck_assert(ec_view_is_bplist(b.p, b.len));
		/* truncated: the trailer is gone */
		ck_assert(!ec_view_is_bplist(b.p, b.len - 1));
		ck_assert(!ec_view_is_bplist(b.p, 8));
		free(b.p);
	}
	for (i = 0; i < NPY; i++) {
		b = b64(py_cases[i].b64);
		ck_assert(ec_view_is_bplist(b.p, b.len));
		free(b.p);
	}
	ck_assert(!ec_view_is_bplist((const uint8_t *)"hello, world\n", 13));
	ck_assert(!ec_view_is_bplist((const uint8_t *)"", 0));
	ck_assert(!ec_view_is_bplist(NULL, 0));
	ck_assert(!ec_view_is_bplist((const uint8_t *)"bplist00", 8));
}
END_TEST

START_TEST(test_detect_version)
{
	struct bytes b = b64(weather_b64);

	b.p[7] = '1';		/* bplist01 */
	ck_assert(!ec_view_is_bplist(b.p, b.len));
	free(b.p);
}
END_TEST

/* Shapes that would make libplist 2.2 recurse or expand without bound. */
START_TEST(test_detect_cycle)
{
	static struct bp bp;
	struct bytes b;

	bp_init(&bp);
	bp_obj(&bp, (const uint8_t *)"\xA1\x00", 2);	/* [itself] */
	b = bp_finish(&bp, 1);
	ck_assert(!ec_view_is_bplist(b.p, b.len));
	render_is(EC_VIEW_JSON, b.p, b.len, b.p, b.len, false);
	free(b.p);
}
END_TEST

START_TEST(test_detect_expansion)
{
	static struct bp bp;
	struct bytes b;
	uint8_t o[3];
	unsigned i;

	/* 40 levels of [x, x]: 2^40 nodes from a 200-byte file */
	bp_init(&bp);
	for (i = 0; i < 40; i++) {
		o[0] = 0xA2;
		o[1] = (uint8_t)(i + 1);
		o[2] = (uint8_t)(i + 1);
		bp_obj(&bp, o, 3);
	}
	bp_obj(&bp, (const uint8_t *)"\x10\x01", 2);
	b = bp_finish(&bp, 1);
	ck_assert(!ec_view_is_bplist(b.p, b.len));
	render_is(EC_VIEW_AUTO, b.p, b.len, b.p, b.len, false);
	free(b.p);

	/* 8 levels (256 leaves) is a fine shared-container plist */
	bp_init(&bp);
	for (i = 0; i < 8; i++) {
		o[0] = 0xA2;
		o[1] = (uint8_t)(i + 1);
		o[2] = (uint8_t)(i + 1);
		bp_obj(&bp, o, 3);
	}
	bp_obj(&bp, (const uint8_t *)"\x10\x01", 2);
	b = bp_finish(&bp, 1);
	ck_assert(ec_view_is_bplist(b.p, b.len));
	free(b.p);
}
END_TEST

START_TEST(test_detect_depth)
{
	struct bytes b;
	uint8_t *out = NULL;
	size_t outlen = 0;
	bool isb = false;
	char *want;

	b = nested_arrays(EC_VIEW_MAX_DEPTH);
	ck_assert(ec_view_is_bplist(b.p, b.len));
	ck_assert_int_eq(ec_view_render(EC_VIEW_JSON, b.p, b.len, &out,
					&outlen, &isb), 0);
	ck_assert(isb);
	ck_assert(outlen > 2 * EC_VIEW_MAX_DEPTH);
	ck_assert(out[0] == '[' && out[outlen - 1] == '\n');
	ec_secure_free(out);
	free(b.p);

	b = nested_arrays(EC_VIEW_MAX_DEPTH + 1);
	ck_assert(!ec_view_is_bplist(b.p, b.len));
	render_is(EC_VIEW_JSON, b.p, b.len, b.p, b.len, false);
	free(b.p);

	/* 100000 levels crash libplist 2.2 itself */
	b = nested_arrays(20000);
	ck_assert(!ec_view_is_bplist(b.p, b.len));
	render_is(EC_VIEW_XML, b.p, b.len, b.p, b.len, false);
	free(b.p);

	/* JSON nesting up to the same depth parses */
	want = nested_json_arrays(EC_VIEW_MAX_DEPTH);
	ck_assert_int_eq(json_err(want), 0);
	free(want);
	want = nested_json_arrays(EC_VIEW_MAX_DEPTH + 1);
	ck_assert_int_eq(json_err(want), -EC_ETOOBIG);
	free(want);
	want = nested_json_arrays(5000);
	ck_assert_int_eq(json_err(want), -EC_ETOOBIG);
	free(want);
}
END_TEST

/* The deepest plist, each dict wrapped: its JSON still reads back. */
START_TEST(test_depth_wrapped)
{
	struct bytes b = nested_tag_dicts(EC_VIEW_MAX_DEPTH), back = { 0 };
	uint8_t *out = NULL, *again = NULL;
	size_t outlen = 0, againlen = 0;
	char *text;

	ck_assert(ec_view_is_bplist(b.p, b.len));
	ck_assert_int_eq(ec_view_render(EC_VIEW_JSON, b.p, b.len, &out,
					&outlen, NULL), 0);
	ck_assert(outlen > 10 && memcmp(out, "{\n  \"$dict\": {\n", 15) == 0);
	text = malloc(outlen + 1);
	ck_assert_ptr_nonnull(text);
	memcpy(text, out, outlen);
	text[outlen] = '\0';
	ck_assert_int_eq(parse(EC_VIEW_JSON, true, text, &back), 0);
	ck_assert_int_eq(ec_view_render(EC_VIEW_JSON, back.p, back.len,
					&again, &againlen, NULL), 0);
	out_eq(again, againlen, out, outlen);
	ec_secure_free(again);
	ec_secure_free(out);
	free(text);
	free(back.p);
	free(b.p);
}
END_TEST

/* --- rendering ----------------------------------------------------------- */

START_TEST(test_golden_json)
{
	size_t i;
	struct bytes b;

	for (i = 0; i < NGOLDEN; i++) {
		b = b64(goldens[i].b64);
		render_json_is(&b, goldens[i].json);
		free(b.p);
	}
}
END_TEST

START_TEST(test_golden_xml)
{
	size_t i;
	struct bytes b;
	char *xml;
	uint32_t n = 0;

	for (i = 0; i < NGOLDEN; i++) {
		b = b64(goldens[i].b64);
		xml = libplist_xml(&b, &n);
		render_is(EC_VIEW_XML, b.p, b.len, xml, n, true);
		ck_assert(n > strlen(xml_head) &&
			  memcmp(xml, xml_head, strlen(xml_head)) == 0);
		free(xml);
		free(b.p);
	}
}
END_TEST

/* Python's XML of each golden object, written back under the xml view,
 * shows the same JSON as the stored bplist. */
START_TEST(test_golden_xml_write)
{
	char text[2048];
	struct bytes b = { NULL, 0 };
	size_t i;

	for (i = 0; i < NGOLDEN; i++) {
		snprintf(text, sizeof(text), "%s%s", xml_head,
			 goldens[i].xml_body);
		ck_assert_int_eq(parse(EC_VIEW_XML, true, text, &b), 0);
		render_json_is(&b, goldens[i].json);
		free(b.p);
	}
}
END_TEST

/* The constants above are what expected.json holds. */
START_TEST(test_golden_file)
{
	struct json_object *root, *entries, *e, *v;
	size_t i, j, found = 0;

	root = json_object_from_file(EC_GOLDEN "/expected.json");
	ck_assert_ptr_nonnull(root);
	ck_assert(json_object_object_get_ex(root, "entries", &entries));
	for (i = 0; i < json_object_array_length(entries); i++) {
		e = json_object_array_get_idx(entries, i);
		ck_assert(json_object_object_get_ex(e, "cache_id", &v));
		for (j = 0; j < NGOLDEN; j++) {
			if (strcmp(json_object_get_string(v),
				   goldens[j].id) != 0)
				continue;
			found++;
			ck_assert(json_object_object_get_ex(e, "data_b64", &v));
			ck_assert_str_eq(json_object_get_string(v),
					 goldens[j].b64);
			ck_assert(json_object_object_get_ex(
				e, "object_xml_plist", &v));
			ck_assert_int_eq(strncmp(json_object_get_string(v),
						 xml_head, strlen(xml_head)),
					 0);
			ck_assert_str_eq(json_object_get_string(v) +
					 strlen(xml_head), goldens[j].xml_body);
			break;
		}
	}
	ck_assert_uint_eq(found, NGOLDEN);
	json_object_put(root);
}
END_TEST

START_TEST(test_python_json)
{
	struct bytes b = b64(py_cases[_i].b64);

	render_json_is(&b, py_cases[_i].json);
	free(b.p);
}
END_TEST

START_TEST(test_python_xml)
{
	struct bytes b = b64(py_cases[_i].b64);
	char *xml;
	uint32_t n = 0;

	xml = libplist_xml(&b, &n);
	render_is(EC_VIEW_XML, b.p, b.len, xml, n, true);
	free(xml);
	free(b.p);
}
END_TEST

START_TEST(test_raw_view)
{
	struct bytes b = b64(weather_b64);

	render_is(EC_VIEW_RAW, b.p, b.len, b.p, b.len, true);
	free(b.p);
	render_is(EC_VIEW_RAW, (const uint8_t *)"abc", 3, "abc", 3, false);
}
END_TEST

START_TEST(test_raw_view_no_flag)
{
	uint8_t *out = NULL;
	size_t outlen = 0;

	ck_assert_int_eq(ec_view_render(EC_VIEW_RAW,
					(const uint8_t *)"x\0y", 3, &out,
					&outlen, NULL), 0);
	out_eq(out, outlen, "x\0y", 3);
	ec_secure_free(out);
}
END_TEST

/* Data that is not a bplist is shown raw under every view. */
START_TEST(test_not_bplist_raw)
{
	static const char *const texts[] = {
		"hello, world\n", "{\"a\": 1}\n", "bplist00", "bplist00garbage",
		"<?xml version=\"1.0\"?><plist version=\"1.0\"><true/></plist>",
	};
	static const enum ec_view views[] = {
		EC_VIEW_AUTO, EC_VIEW_JSON, EC_VIEW_XML, EC_VIEW_RAW
	};
	uint8_t zeros[1024] = { 0 };
	size_t i, j;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		for (j = 0; j < 4; j++)
			render_is(views[j], (const uint8_t *)texts[i],
				  strlen(texts[i]), texts[i], strlen(texts[i]),
				  false);
	for (j = 0; j < 4; j++) {
		render_is(views[j], zeros, sizeof(zeros), zeros, sizeof(zeros),
			  false);
		render_is(views[j], (const uint8_t *)"", 0, "", 0, false);
		render_is(views[j], NULL, 0, "", 0, false);
	}
}
END_TEST

/* A date JSON cannot carry (year 33658, NaN): the bplist is shown raw. */
START_TEST(test_unrenderable_date)
{
	static const uint8_t far[] = { 0x33, 0x42, 0x6d, 0x1a, 0x94, 0xa2,
				       0x00, 0x00, 0x00 };	/* 1e12 s */
	static const uint8_t nan[] = { 0x33, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0 };
	static struct bp bp;
	struct bytes b;
	char *xml;
	uint32_t n = 0;

	bp_init(&bp);
	bp_obj(&bp, far, sizeof(far));
	b = bp_finish(&bp, 1);
	ck_assert(ec_view_is_bplist(b.p, b.len));
	render_is(EC_VIEW_JSON, b.p, b.len, b.p, b.len, true);
	render_is(EC_VIEW_AUTO, b.p, b.len, b.p, b.len, true);
	xml = libplist_xml(&b, &n);
	render_is(EC_VIEW_XML, b.p, b.len, xml, n, true);
	free(xml);
	free(b.p);

	bp_init(&bp);
	bp_obj(&bp, (const uint8_t *)"\xA2\x01\x02", 3);
	bp_obj(&bp, (const uint8_t *)"\x10\x01", 2);
	bp_obj(&bp, nan, sizeof(nan));
	b = bp_finish(&bp, 1);
	render_is(EC_VIEW_JSON, b.p, b.len, b.p, b.len, true);
	free(b.p);
}
END_TEST

/* A string that is not UTF-8 (a malformed plist) still gives JSON. */
START_TEST(test_bad_utf8_string)
{
	static struct bp bp;
	struct bytes b;

	bp_init(&bp);
	bp_obj(&bp, (const uint8_t *)"\x55" "a\xff\xc3(b", 6);
	b = bp_finish(&bp, 1);
	render_json_is(&b, "\"a\xef\xbf\xbd\xef\xbf\xbd(b\"\n");
	free(b.p);
}
END_TEST

/* U+0000 in a UTF-16 string: fine as a value, but as a dict key libplist
 * 2.2 asserts when asked for it, so such a dict is not shown as a plist. */
START_TEST(test_nul_in_utf16)
{
	static const uint8_t str[] = { 0x63, 0, 'a', 0, 0, 0, 'b' };
	static struct bp bp;
	struct bytes b;

	bp_init(&bp);
	bp_obj(&bp, (const uint8_t *)"\xA1\x01", 2);
	bp_obj(&bp, str, sizeof(str));
	b = bp_finish(&bp, 1);
	render_json_is(&b, "[\n  \"a\\u0000b\"\n]\n");
	/* which cannot be written back */
	ck_assert_int_eq(json_err("[\n  \"a\\u0000b\"\n]\n"), -EINVAL);
	free(b.p);

	bp_init(&bp);
	bp_obj(&bp, (const uint8_t *)"\xD1\x01\x02", 3);
	bp_obj(&bp, str, sizeof(str));
	bp_obj(&bp, (const uint8_t *)"\x10\x01", 2);
	b = bp_finish(&bp, 1);
	ck_assert(!ec_view_is_bplist(b.p, b.len));
	render_is(EC_VIEW_JSON, b.p, b.len, b.p, b.len, false);
	render_is(EC_VIEW_XML, b.p, b.len, b.p, b.len, false);
	free(b.p);
}
END_TEST

static Suite *view_suite(void)
{
	Suite *s = suite_create("view");
	TCase *tc;

	tc = tcase_create("names");
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_names_bad);
	suite_add_tcase(s, tc);

	tc = tcase_create("detect");
	tcase_add_test(tc, test_detect);
	tcase_add_test(tc, test_detect_version);
	tcase_add_test(tc, test_detect_cycle);
	tcase_add_test(tc, test_detect_expansion);
	tcase_add_test(tc, test_detect_depth);
	tcase_add_test(tc, test_depth_wrapped);
	suite_add_tcase(s, tc);

	tc = tcase_create("golden");
	tcase_add_test(tc, test_golden_json);
	tcase_add_test(tc, test_golden_xml);
	tcase_add_test(tc, test_golden_xml_write);
	tcase_add_test(tc, test_golden_file);
	suite_add_tcase(s, tc);

	tc = tcase_create("render");
	tcase_add_loop_test(tc, test_python_json, 0, NPY);
	tcase_add_loop_test(tc, test_python_xml, 0, NPY);
	tcase_add_test(tc, test_raw_view);
	tcase_add_test(tc, test_raw_view_no_flag);
	tcase_add_test(tc, test_not_bplist_raw);
	tcase_add_test(tc, test_unrenderable_date);
	tcase_add_test(tc, test_bad_utf8_string);
	tcase_add_test(tc, test_nul_in_utf16);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (ec_secure_init() < 0)
		return EXIT_FAILURE;
	return ec_test_run(view_suite());
}
