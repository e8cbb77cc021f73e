/*
 * view_test: what the view runners (check_view*.c) share: small helpers
 * over the public API of view.h, and known answers.
 *
 * Known answers: the golden entries written by the Python module
 * (EC_GOLDEN/expected.json), and bplists made once by Python 3.11's
 * plistlib.dumps(obj, fmt=plistlib.FMT_BINARY) (the object is in the
 * comment above each constant).  Every expected JSON text was written by
 * hand and equals Python's json.dumps(tagged, indent=2, ensure_ascii=False)
 * + "\n" of the tagged object.
 *
 * Header only, as each runner uses a different part: the helpers are
 * static inline and the constants static const, so unused ones cost
 * nothing and raise no warning.
 */
#ifndef EC_VIEW_TEST_H
#define EC_VIEW_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <sodium.h>

#include "secure.h"
#include "view.h"

/* --- helpers ------------------------------------------------------------- */

struct bytes {
	uint8_t *p;
	size_t len;
};

/* Standard base64 -> malloc'd bytes (test data, not secret). */
static inline struct bytes b64(const char *text)
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

static inline void out_eq(const uint8_t *out, size_t outlen,
			  const void *want, size_t wantlen)
{
	ck_assert_msg(outlen == wantlen && memcmp(out, want, outlen) == 0,
		      "got %zu bytes:\n%.*s\nwant %zu bytes:\n%.*s", outlen,
		      (int)outlen, (const char *)out, wantlen, (int)wantlen,
		      (const char *)want);
}

/* Render data under v, expect text and the bplist flag. */
static inline void render_is(enum ec_view v, const uint8_t *d, size_t n,
			     const void *want, size_t wantlen,
			     bool want_bplist)
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

static inline void render_json_is(const struct bytes *b, const char *want)
{
	render_is(EC_VIEW_JSON, b->p, b->len, want, strlen(want), true);
	render_is(EC_VIEW_AUTO, b->p, b->len, want, strlen(want), true);
}

/* Text -> data under v; returns the code, *out (if 0) for the caller. */
static inline int parse(enum ec_view v, bool was_bplist, const char *text,
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

static inline int json_err(const char *text)
{
	struct bytes b = { NULL, 0 };
	int ret = parse(EC_VIEW_JSON, true, text, &b);

	free(b.p);
	return ret;
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

#endif
