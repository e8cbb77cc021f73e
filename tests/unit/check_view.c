/*
 * Unit tests for view: bplist <-> JSON / XML presentation.
 *
 * Known answers: the golden entries written by the Python module
 * (EC_GOLDEN/expected.json), and bplists made once by Python 3.11's
 * plistlib.dumps(obj, fmt=plistlib.FMT_BINARY) (the object is in the
 * comment above each constant).  Every expected JSON text was written by
 * hand and equals Python's json.dumps(tagged, indent=2, ensure_ascii=False)
 * + "\n" of the tagged object.
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
#include <sodium.h>

#include "error.h"
#include "secure.h"
#include "unit.h"
#include "view.h"

/* --- helpers ------------------------------------------------------------- */

struct bytes {
	uint8_t *p;
	size_t len;
};

/* Standard base64 -> malloc'd bytes (test data, not secret). */
static struct bytes b64(const char *text)
{
	struct bytes b;
	size_t cap = strlen(text) / 4 * 3 + 1;

	b.p = malloc(cap);
	ck_assert_ptr_nonnull(b.p);
	ck_assert_int_eq(sodium_base642bin(b.p, cap, text, strlen(text),
					   NULL, &b.len, NULL,
					   sodium_base64_VARIANT_ORIGINAL), 0);
	return b;
}

static void out_eq(const uint8_t *out, size_t outlen, const void *want,
		   size_t wantlen)
{
	ck_assert_msg(outlen == wantlen && memcmp(out, want, outlen) == 0,
		      "got %zu bytes:\n%.*s\nwant %zu bytes:\n%.*s", outlen,
		      (int)outlen, (const char *)out, wantlen, (int)wantlen,
		      (const char *)want);
}

/* Render data under v, expect text and the bplist flag. */
static void render_is(enum ec_view v, const uint8_t *d, size_t n,
		      const void *want, size_t wantlen, bool want_bplist)
{
	uint8_t *out = NULL;
	size_t outlen = 99;
	bool isb = !want_bplist;

	ck_assert_int_eq(ec_view_render(v, d, n, &out, &outlen, &isb), 0);
	ck_assert_ptr_nonnull(out);
	ck_assert(isb == want_bplist);
	out_eq(out, outlen, want, wantlen);
	ec_secure_free(out);
}

static void render_json_is(const struct bytes *b, const char *want)
{
	render_is(EC_VIEW_JSON, b->p, b->len, want, strlen(want), true);
	render_is(EC_VIEW_AUTO, b->p, b->len, want, strlen(want), true);
}

/* Text -> data under v; returns the code, *out (if 0) for the caller. */
static int parse(enum ec_view v, bool was_bplist, const char *text,
		 struct bytes *res)
{
	uint8_t *out = NULL;
	size_t outlen = 0;
	int ret;

	ret = ec_view_parse_content(v, was_bplist, (const uint8_t *)text,
				    strlen(text), &out, &outlen);
	if (ret == 0) {
		ck_assert_ptr_nonnull(out);
		res->p = malloc(outlen + 1);
		ck_assert_ptr_nonnull(res->p);
		memcpy(res->p, out, outlen);
		res->len = outlen;
		ec_secure_free(out);
	} else {
		ck_assert_ptr_null(out);
		ck_assert_uint_eq(outlen, 0);
	}
	return ret;
}

static int json_err(const char *text)
{
	struct bytes b = { NULL, 0 };
	int ret = parse(EC_VIEW_JSON, true, text, &b);

	free(b.p);
	return ret;
}

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

/* --- known answers ------------------------------------------------------- */

/* Golden entries of EC_GOLDEN/expected.json: data_b64 and the JSON view. */
static const char weather_b64[] =
	"YnBsaXN0MDDUAQIDBAUGBwhSb2tXc3RhdGlvblZ0ZW1wX2NYd2luZF9rbWgJWVRl"
	"bXBlbGhvZiNADAAAAAAAABAMCBEUHCMsLTdAAAAAAAAAAQEAAAAAAAAACQAAAAAA"
	"AAAAAAAAAAAAAEI=";
static const char weather_json[] =
	"{\n"
	"  \"ok\": true,\n"
	"  \"station\": \"Tempelhof\",\n"
	"  \"temp_c\": 3.5,\n"
	"  \"wind_kmh\": 12\n"
	"}\n";

static const char catalog_b64[] =
	"YnBsaXN0MDCiAQjTAgMEBQYHVXByaWNlU3F0eVNza3UjQCP64UeuFHsQAFNBLTHT"
	"AgMECQoLIz561/KavK9IE//////////9ZABCAPwALQAyCAsSGBwgKSsvNj9IAAAA"
	"AAAAAQEAAAAAAAAADAAAAAAAAAAAAAAAAAAAAFE=";
static const char catalog_json[] =
	"[\n"
	"  {\n"
	"    \"price\": 9.99,\n"
	"    \"qty\": 0,\n"
	"    \"sku\": \"A-1\"\n"
	"  },\n"
	"  {\n"
	"    \"price\": 1e-07,\n"
	"    \"qty\": -3,\n"
	"    \"sku\": \"B\xc3\xbc-2\"\n"
	"  }\n"
	"]\n";

static const char thumbnail_b64[] =
	"YnBsaXN0MDDSAQIDBFNwbmdVdGFrZW5KiVBORw0KGgoAADNBx4L4P4AAAAgNERci"
	"AAAAAAAAAQEAAAAAAAAABQAAAAAAAAAAAAAAAAAAACs=";
static const char thumbnail_json[] =
	"{\n"
	"  \"png\": {\n"
	"    \"$data\": \"iVBORw0KGgoAAA==\"\n"
	"  },\n"
	"  \"taken\": {\n"
	"    \"$date\": \"2025-12-31T23:59:59Z\"\n"
	"  }\n"
	"}\n";

static const char big_b64[] =
	"YnBsaXN0MDATgAAAAAAAAAAIAAAAAAAAAQEAAAAAAAAAAQAAAAAAAAAAAAAAAAAA"
	"ABE=";
static const char big_json[] = "-9223372036854775808\n";

/* object_xml_plist of the same entries (written by Python). */
static const char xml_head[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
	"\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
	"<plist version=\"1.0\">\n";
static const char weather_xml[] =
	"<dict>\n\t<key>ok</key>\n\t<true/>\n\t<key>station</key>\n"
	"\t<string>Tempelhof</string>\n\t<key>temp_c</key>\n"
	"\t<real>3.5</real>\n\t<key>wind_kmh</key>\n\t<integer>12</integer>\n"
	"</dict>\n</plist>\n";
static const char catalog_xml[] =
	"<array>\n\t<dict>\n\t\t<key>price</key>\n\t\t<real>9.99</real>\n"
	"\t\t<key>qty</key>\n\t\t<integer>0</integer>\n\t\t<key>sku</key>\n"
	"\t\t<string>A-1</string>\n\t</dict>\n\t<dict>\n"
	"\t\t<key>price</key>\n\t\t<real>1e-07</real>\n\t\t<key>qty</key>\n"
	"\t\t<integer>-3</integer>\n\t\t<key>sku</key>\n"
	"\t\t<string>B\xc3\xbc-2</string>\n\t</dict>\n</array>\n</plist>\n";
static const char thumbnail_xml[] =
	"<dict>\n\t<key>png</key>\n\t<data>\n\tiVBORw0KGgoAAA==\n\t</data>\n"
	"\t<key>taken</key>\n\t<date>2025-12-31T23:59:59Z</date>\n"
	"</dict>\n</plist>\n";
static const char big_xml[] =
	"<integer>-9223372036854775808</integer>\n</plist>\n";

struct golden {
	const char *id;
	const char *b64;
	const char *json;
	const char *xml_body;
};

static const struct golden goldens[] = {
	{ "weather/berlin", weather_b64, weather_json, weather_xml },
	{ "catalog/items", catalog_b64, catalog_json, catalog_xml },
	{ "blob/thumbnail", thumbnail_b64, thumbnail_json, thumbnail_xml },
	{ "scalar/big", big_b64, big_json, big_xml },
};
#define NGOLDEN (sizeof(goldens) / sizeof(goldens[0]))

/*
 * {"bool_f": False, "bool_t": True, "bytes": b"\x00\x01\xfe\xff",
 *  "date": datetime(2026, 2, 7, 12, 0, 0),
 *  "date_us": datetime(2026, 2, 7, 12, 0, 0, 123456),
 *  "empty_dict": {}, "empty_list": [], "float": 0.1, "huge": 1e300,
 *  "whole": 42.0, "int": 5, "neg": -1, "big": 2**64 - 1, "min": -2**63,
 *  "max": 2**63 - 1, "two63": 2**63,
 *  "list": [1, "two", [3.5, []], {"k": "v"}], "str": "Zo\u00eb \U0001F600"}
 */
static const char py_nested_b64[] =
	"YnBsaXN0MDDfEBIBAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4nKCkqKyxT"
	"YmlnVmJvb2xfZlZib29sX3RVYnl0ZXNUZGF0ZVdkYXRlX3VzWmVtcHR5X2RpY3Ra"
	"ZW1wdHlfbGlzdFVmbG9hdFRodWdlU2ludFRsaXN0U21heFNtaW5TbmVnU3N0clV0"
	"d282M1V3aG9sZRQAAAAAAAAAAP//////////CAlEAAH+/zNBx5uwYAAAADNBx5uw"
	"YA/NaNCgIz+5mZmZmZmaI3435DyIAHWcEAWkHyAhJBABU3R3b6IiIyNADAAAAAAA"
	"AKDRJSZRa1F2E3//////////E4AAAAAAAAAAE///////////ZgBaAG8A6wAg2D3e"
	"ABQAAAAAAAAAAIAAAAAAAAAAI0BFAAAAAAAAAAgALwAzADoAQQBHAEwAVABfAGoA"
	"cAB1AHkAfgCCAIYAigCOAJQAmgCrAKwArQCyALsAxADFAMYAzwDYANoA3wDhAOUA"
	"6ADxAPIA9QD3APkBAgELARQBIQEyAAAAAAAAAgEAAAAAAAAALQAAAAAAAAAAAAAA"
	"AAAAATs=";
static const char py_nested_json[] =
	"{\n"
	"  \"big\": 18446744073709551615,\n"
	"  \"bool_f\": false,\n"
	"  \"bool_t\": true,\n"
	"  \"bytes\": {\n"
	"    \"$data\": \"AAH+/w==\"\n"
	"  },\n"
	"  \"date\": {\n"
	"    \"$date\": \"2026-02-07T12:00:00Z\"\n"
	"  },\n"
	"  \"date_us\": {\n"
	"    \"$date\": \"2026-02-07T12:00:00.123456Z\"\n"
	"  },\n"
	"  \"empty_dict\": {},\n"
	"  \"empty_list\": [],\n"
	"  \"float\": 0.1,\n"
	"  \"huge\": 1e+300,\n"
	"  \"int\": 5,\n"
	"  \"list\": [\n"
	"    1,\n"
	"    \"two\",\n"
	"    [\n"
	"      3.5,\n"
	"      []\n"
	"    ],\n"
	"    {\n"
	"      \"k\": \"v\"\n"
	"    }\n"
	"  ],\n"
	"  \"max\": 9223372036854775807,\n"
	"  \"min\": -9223372036854775808,\n"
	"  \"neg\": -1,\n"
	"  \"str\": \"Zo\xc3\xab \xf0\x9f\x98\x80\",\n"
	"  \"two63\": 9223372036854775808,\n"
	"  \"whole\": 42.0\n"
	"}\n";

/* "q\" b\\ n\n t\t r\r bs\b ff\f c\x01 e\x1f del\x7f
 *  \u00e9\u20ac\U0001F600\u2028/" */
static const char py_escapes_b64[] =
	"YnBsaXN0MDBvECgAcQAiACAAYgBcACAAbgAKACAAdAAJACAAcgANACAAYgBzAAgA"
	"IABmAGYADAAgAGMAAQAgAGUAHwAgAGQAZQBsAH8AIADpIKzYPd4AICgALwgAAAAA"
	"AAABAQAAAAAAAAABAAAAAAAAAAAAAAAAAAAAWw==";
static const char py_escapes_json[] =
	"\"q\\\" b\\\\ n\\n t\\t r\\r bs\\b ff\\f c\\u0001 e\\u001f "
	"del\x7f \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xe2\x80\xa8/\"\n";

/* [nan, inf, -inf, -0.0, 5e-324, 1.7976931348623157e308, 123456789.0,
 *  1e16, 1e15, 0.5, 100.0, -2.5e-10, 1/3] */
static const char py_reals_b64[] =
	"YnBsaXN0MDCtAQIDBAUGBwgJCgsMDSN/+AAAAAAAACN/8AAAAAAAACP/8AAAAAAA"
	"ACOAAAAAAAAAACMAAAAAAAAAASN/7////////yNBnW80VAAAACNDQcN5N+CAACND"
	"DGv1JjQAACM/4AAAAAAAACNAWQAAAAAAACO98S4L6CbWlSM/1VVVVVVVVQgWHygx"
	"OkNMVV5ncHmCAAAAAAAAAQEAAAAAAAAADgAAAAAAAAAAAAAAAAAAAIs=";
static const char py_reals_json[] =
	"[\n"
	"  {\n"
	"    \"$real\": \"nan\"\n"
	"  },\n"
	"  {\n"
	"    \"$real\": \"inf\"\n"
	"  },\n"
	"  {\n"
	"    \"$real\": \"-inf\"\n"
	"  },\n"
	"  -0.0,\n"
	"  5e-324,\n"
	"  1.7976931348623157e+308,\n"
	"  123456789.0,\n"
	"  1e+16,\n"
	"  1000000000000000.0,\n"
	"  0.5,\n"
	"  100.0,\n"
	"  -2.5e-10,\n"
	"  0.3333333333333333\n"
	"]\n";

/* [{"$date": "x"}, {"$data": 1}, {"$dict": {"a": 1}}, {"$real": 1.0},
 *  {"$uid": 2}, {"$date": 1, "z": 2}, {"$other": 1}] */
static const char py_tags_b64[] =
	"YnBsaXN0MDCnAQQHCw4RE9ECA1UkZGF0ZVF40QUGVSRkYXRhEAHRCAlVJGRpY3TR"
	"CgZRYdEMDVUkcmVhbCM/8AAAAAAAANEPEFQkdWlkEALSAhIGEFF60RQGViRvdGhl"
	"cggQExkbHiQmKS8yNDc9RklOUFVXWgAAAAAAAAEBAAAAAAAAABUAAAAAAAAAAAAA"
	"AAAAAABh";
static const char py_tags_json[] =
	"[\n"
	"  {\n"
	"    \"$dict\": {\n"
	"      \"$date\": \"x\"\n"
	"    }\n"
	"  },\n"
	"  {\n"
	"    \"$dict\": {\n"
	"      \"$data\": 1\n"
	"    }\n"
	"  },\n"
	"  {\n"
	"    \"$dict\": {\n"
	"      \"$dict\": {\n"
	"        \"a\": 1\n"
	"      }\n"
	"    }\n"
	"  },\n"
	"  {\n"
	"    \"$dict\": {\n"
	"      \"$real\": 1.0\n"
	"    }\n"
	"  },\n"
	"  {\n"
	"    \"$dict\": {\n"
	"      \"$uid\": 2\n"
	"    }\n"
	"  },\n"
	"  {\n"
	"    \"$date\": 1,\n"
	"    \"z\": 2\n"
	"  },\n"
	"  {\n"
	"    \"$other\": 1\n"
	"  }\n"
	"]\n";

/* [datetime(1999, 12, 31, 23, 59, 59, 500000),
 *  datetime(2000, 12, 31, 23, 59, 59, 999999),
 *  datetime(2026, 2, 7, 12, 0, 0, 1), datetime(1900, 1, 1),
 *  datetime(2100, 1, 1), datetime(1, 1, 1),
 *  datetime(9999, 12, 31, 23, 59, 59)]
 * (outside libplist 2.2's int32 seconds, or its microsecond rounding) */
static const char py_dates_b64[] =
	"YnBsaXN0MDCnAQIDBAUGBzPBfihQCAAAADO+sMb3oLXtjTNBx5uwYAAACDPB579I"
	"4AAAADNB50bR0AAAADPCLWPDfwAAADNCTWLSPH+AAAgQGSIrND1GAAAAAAAAAQEA"
	"AAAAAAAACAAAAAAAAAAAAAAAAAAAAE8=";
static const char py_dates_json[] =
	"[\n"
	"  {\n"
	"    \"$date\": \"1999-12-31T23:59:59.500000Z\"\n"
	"  },\n"
	"  {\n"
	"    \"$date\": \"2000-12-31T23:59:59.999999Z\"\n"
	"  },\n"
	"  {\n"
	"    \"$date\": \"2026-02-07T12:00:00.000001Z\"\n"
	"  },\n"
	"  {\n"
	"    \"$date\": \"1900-01-01T00:00:00Z\"\n"
	"  },\n"
	"  {\n"
	"    \"$date\": \"2100-01-01T00:00:00Z\"\n"
	"  },\n"
	"  {\n"
	"    \"$date\": \"0001-01-01T00:00:00Z\"\n"
	"  },\n"
	"  {\n"
	"    \"$date\": \"9999-12-31T23:59:59Z\"\n"
	"  }\n"
	"]\n";

/* [UID(0), UID(7), UID(4294967295)] */
static const char py_uids_b64[] =
	"YnBsaXN0MDCjAQIDgACAB4P/////CAwOEAAAAAAAAAEBAAAAAAAAAAQAAAAAAAAA"
	"AAAAAAAAAAAV";
static const char py_uids_json[] =
	"[\n"
	"  {\n"
	"    \"$uid\": 0\n"
	"  },\n"
	"  {\n"
	"    \"$uid\": 7\n"
	"  },\n"
	"  {\n"
	"    \"$uid\": 4294967295\n"
	"  }\n"
	"]\n";

/* {"\u043a\u043b\u044e\u0447":
 *      "\u0437\u043d\u0430\u0447\u0435\u043d\u0438\u0435",
 *  "\u65e5\u672c": ["\u8a9e"]} */
static const char py_unicode_b64[] =
	"YnBsaXN0MDDSAQIDBGQEOgQ7BE4ER2Jl5WcsaAQ3BD0EMARHBDUEPQQ4BDWhBWGK"
	"nggNFhssLgAAAAAAAAEBAAAAAAAAAAYAAAAAAAAAAAAAAAAAAAAx";
static const char py_unicode_json[] =
	"{\n"
	"  \"\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87\": "
	"\"\xd0\xb7\xd0\xbd\xd0\xb0\xd1\x87"
	"\xd0\xb5\xd0\xbd\xd0\xb8\xd0\xb5\",\n"
	"  \"\xe6\x97\xa5\xe6\x9c\xac\": [\n"
	"    \"\xe8\xaa\x9e\"\n"
	"  ]\n"
	"}\n";

/* {"price": 42.0} */
static const char py_price_b64[] =
	"YnBsaXN0MDDRAQJVcHJpY2UjQEUAAAAAAAAICxEAAAAAAAABAQAAAAAAAAADAAAA"
	"AAAAAAAAAAAAAAAAGg==";
static const char py_price_json[] =
	"{\n"
	"  \"price\": 42.0\n"
	"}\n";

struct known {
	const char *b64;
	const char *json;
};

static const struct known py_cases[] = {
	{ py_nested_b64, py_nested_json },
	{ py_escapes_b64, py_escapes_json },
	{ py_reals_b64, py_reals_json },
	{ py_tags_b64, py_tags_json },
	{ py_dates_b64, py_dates_json },
	{ py_uids_b64, py_uids_json },
	{ py_unicode_b64, py_unicode_json },
	{ py_price_b64, py_price_json },
};
#define NPY (sizeof(py_cases) / sizeof(py_cases[0]))

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

/* --- robustness ---------------------------------------------------------- */

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

	tc = tcase_create("parse_json");
	tcase_add_test(tc, test_roundtrip_known);
	tcase_add_test(tc, test_roundtrip_scalars);
	tcase_add_test(tc, test_parse_normalises);
	tcase_add_test(tc, test_parse_real_stays_real);
	tcase_add_test(tc, test_parse_int_forms);
	tcase_add_test(tc, test_parse_layout);
	tcase_add_test(tc, test_parse_string_forms);
	tcase_add_test(tc, test_parse_tag_types);
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
	return ec_test_run(view_suite());
}
