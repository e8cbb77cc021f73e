/*
 * view_render: a plist tree as text.  JSON in the form view.h describes
 * (Python's json.dumps(tagged, indent=2, ensure_ascii=False) + "\n"),
 * written straight into guarded memory; XML as libplist writes it.  No
 * I/O.  Values JSON cannot carry losslessly give UNRENDERABLE, and the
 * caller shows the data raw.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <plist/plist.h>

#include "secure.h"
#include "ttl.h"
#include "view.h"
#include "view_int.h"

/* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z: Python's range. */
#define DATE_MIN_US (-62135596800LL * US_PER_SEC)
#define DATE_MAX_US (253402300800LL * US_PER_SEC - 1)

/* ------------------------------------------------------------------ */
/* Text pieces: indentation, strings, numbers                         */

static int put(struct ec_sbuf *b, const char *s, size_t n)
{
	return ec_sbuf_append(b, s, n);
}

static int put_str(struct ec_sbuf *b, const char *s)
{
	return ec_sbuf_append(b, s, strlen(s));
}

static int put_newline(struct ec_sbuf *b, unsigned indent)
{
	static const char spaces[] = "                                ";
	size_t n = 2 * (size_t)indent, k;
	int ret;

	ret = put(b, "\n", 1);
	while (ret == 0 && n > 0) {
		k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;
		ret = put(b, spaces, k);
		n -= k;
	}
	return ret;
}

/* After a container's members (ret: how they went): its closing line,
 * at indent. */
static int put_close(struct ec_sbuf *b, unsigned indent, char c, int ret)
{
	if (ret == 0)
		ret = put_newline(b, indent);
	if (ret == 0)
		ret = put(b, &c, 1);
	return ret;
}

/*
 * A JSON string: `"` and `\` escaped, control characters as \b \f \n \r
 * \t or \u00XX, UTF-8 kept as is; bytes that are not UTF-8 (a malformed
 * plist) become U+FFFD (as UTF-8, so that it reads back the same).
 */
static int put_json_string(struct ec_sbuf *b, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run = 0, k;
	char esc[8];
	int ret;

	ret = put(b, "\"", 1);
	while (ret == 0 && i < n) {
		unsigned char c = s[i];

		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0x80) {
			k = ec_view_utf8_len(s + i, n - i);
			if (k > 0) {
				i += k;
				continue;
			}
		}
		ret = put(b, str + run, i - run);
		if (ret < 0)
			break;
		switch (c) {
		case '"': strcpy(esc, "\\\""); break;
		case '\\': strcpy(esc, "\\\\"); break;
		case '\b': strcpy(esc, "\\b"); break;
		case '\f': strcpy(esc, "\\f"); break;
		case '\n': strcpy(esc, "\\n"); break;
		case '\r': strcpy(esc, "\\r"); break;
		case '\t': strcpy(esc, "\\t"); break;
		default:
			if (c < 0x20)
				snprintf(esc, sizeof(esc), "\\u%04x", c);
			else
				strcpy(esc, "\xef\xbf\xbd");	/* U+FFFD */
			break;
		}
		ret = put_str(b, esc);
		run = ++i;
	}
	if (ret == 0)
		ret = put(b, str + run, n - run);
	if (ret == 0)
		ret = put(b, "\"", 1);
	ec_secure_wipe(esc, sizeof(esc));
	return ret;
}

/* A member's name on its own line: newline, indent, "name": */
static int put_member_name(struct ec_sbuf *b, const char *name,
			   unsigned indent)
{
	int ret = put_newline(b, indent);

	if (ret == 0)
		ret = put_json_string(b, name, strlen(name));
	return ret == 0 ? put(b, ": ", 2) : ret;
}

/*
 * Python's repr() of a finite double: the fewest significant digits that
 * strtod reads back as d (%.0e to %.16e tried in turn), in fixed notation
 * when the decimal exponent is in -4..15 (with ".0" when it has no point),
 * else as d.ddde+XX.  So 42.0, 0.1, 1e-07, 1e+16.  `.` whatever the
 * locale.
 */
static void format_real(double d, char out[48])
{
	const char *dp = localeconv()->decimal_point;
	char *at;
	int prec, exp10;

	for (prec = 0;; prec++) {
		snprintf(out, 48, "%.*e", prec, d);
		if (prec == 16 || strtod(out, NULL) == d)
			break;	/* 17 digits always read back */
	}
	exp10 = atoi(strchr(out, 'e') + 1);
	if (exp10 >= -4 && exp10 < 16)
		snprintf(out, 48, "%.*f", prec - exp10 > 0 ? prec - exp10 : 0,
			 d);
	if (dp != NULL && dp[0] != '\0' && strcmp(dp, ".") != 0) {
		at = strstr(out, dp);
		if (at != NULL) {
			*at = '.';
			memmove(at + 1, at + strlen(dp),
				strlen(at + strlen(dp)) + 1);
		}
	}
	if (strpbrk(out, ".e") == NULL)
		strcat(out, ".0");
}

/* ------------------------------------------------------------------ */
/* Scalars, tags                                                      */

/* {"tag": value} where value is JSON text already (quoted if need be). */
static int put_tag(struct ec_sbuf *b, const char *tag, const char *value,
		   unsigned indent)
{
	int ret;

	ret = put(b, "{", 1);
	if (ret == 0)
		ret = put_member_name(b, tag, indent + 1);
	if (ret == 0)
		ret = put_str(b, value);
	return put_close(b, indent, '}', ret);
}

static int put_real(struct ec_sbuf *b, double d, unsigned indent)
{
	char text[48];
	int ret;

	if (isnan(d))
		return put_tag(b, "$real", "\"nan\"", indent);
	if (isinf(d))
		return put_tag(b, "$real", d > 0 ? "\"inf\"" : "\"-inf\"",
			       indent);
	format_real(d, text);
	ret = put_str(b, text);
	ec_secure_wipe(text, sizeof(text));
	return ret;
}

static int put_int(struct ec_sbuf *b, plist_t node)
{
	uint8_t obj[OBJ_MAX];
	size_t n = 0;
	uint64_t u = 0;
	char text[24];
	int ret;

	plist_get_uint_val(node, &u);
	if (u <= INT64_MAX) {
		snprintf(text, sizeof(text), "%" PRIu64, u);
	} else {
		/* Above INT64_MAX: the 16-byte form is unsigned, the
		 * 8-byte one a negative number. */
		ret = ec_view_plist_node_object(node, obj, &n);
		if (ret < 0)
			return ret;
		if (n >= 17 && obj[0] == MARK_INT16)
			snprintf(text, sizeof(text), "%" PRIu64, u);
		else if (n >= 9 && obj[0] == MARK_INT8)
			snprintf(text, sizeof(text), "-%" PRIu64,
				 UINT64_MAX - u + 1);
		else
			return UNRENDERABLE;
	}
	ret = put_str(b, text);
	ec_secure_wipe(text, sizeof(text));
	return ret;
}

static int put_date(struct ec_sbuf *b, plist_t node, unsigned indent)
{
	uint8_t obj[OBJ_MAX];
	char iso[EC_TIME_ISO_MAX], text[EC_TIME_ISO_MAX + 2];
	size_t n = 0;
	uint64_t bits;
	double d, us;
	int ret;

	ret = ec_view_plist_node_object(node, obj, &n);
	if (ret < 0)
		return ret;
	if (n < 9 || obj[0] != MARK_DATE)
		return UNRENDERABLE;
	bits = be_read(obj + 1, 8);
	memcpy(&d, &bits, sizeof(d));
	/* Microseconds rounded half to even, as Python's timedelta does. */
	us = rint(d * (double)US_PER_SEC);
	if (!(us >= (double)(DATE_MIN_US - EPOCH_2001_US) &&
	      us <= (double)(DATE_MAX_US - EPOCH_2001_US)))
		return UNRENDERABLE;
	ec_time_format_iso_z((int64_t)us + EPOCH_2001_US, iso);
	snprintf(text, sizeof(text), "\"%s\"", iso);
	ret = put_tag(b, "$date", text, indent);
	ec_secure_wipe(iso, sizeof(iso));
	ec_secure_wipe(text, sizeof(text));
	return ret;
}

static int put_data(struct ec_sbuf *b, plist_t node, unsigned indent)
{
	const char *p;
	uint64_t n = 0;
	int ret;

	p = plist_get_data_ptr(node, &n);
	if (p == NULL && n > 0)
		return UNRENDERABLE;
	ret = put(b, "{", 1);
	if (ret == 0)
		ret = put_newline(b, indent + 1);
	if (ret == 0)
		ret = put_str(b, "\"$data\": \"");
	if (ret == 0)
		ret = ec_view_b64_encode(b, (const uint8_t *)p, (size_t)n);
	if (ret == 0)
		ret = put(b, "\"", 1);
	return put_close(b, indent, '}', ret);
}

/* ------------------------------------------------------------------ */
/* Containers, and the tree                                           */

static int put_node(struct ec_sbuf *b, plist_t node, unsigned indent);

static int put_array(struct ec_sbuf *b, plist_t node, unsigned indent)
{
	plist_t item = NULL;
	void *it = NULL;
	bool first = true;
	int ret;

	if (plist_array_get_size(node) == 0)
		return put(b, "[]", 2);
	plist_array_new_iter(node, &it);
	if (it == NULL)
		return -ENOMEM;
	ret = put(b, "[", 1);
	while (ret == 0) {
		item = NULL;
		plist_array_next_item(node, it, &item);
		if (item == NULL)
			break;
		if (!first)
			ret = put(b, ",", 1);
		first = false;
		if (ret == 0)
			ret = put_newline(b, indent + 1);
		if (ret == 0)
			ret = put_node(b, item, indent + 1);
	}
	free(it);
	return put_close(b, indent, ']', ret);
}

/* The one key of a dict, or NULL; free() it (after wiping). */
static char *dict_only_key(plist_t node)
{
	void *it = NULL;
	char *key = NULL;
	plist_t val = NULL;

	if (plist_dict_get_size(node) != 1)
		return NULL;
	plist_dict_new_iter(node, &it);
	if (it == NULL)
		return NULL;
	plist_dict_next_item(node, it, &key, &val);
	free(it);
	return key;
}

static void free_key(char *key)
{
	if (key == NULL)
		return;
	ec_secure_wipe(key, strlen(key));
	free(key);
}

static int put_dict(struct ec_sbuf *b, plist_t node, unsigned indent,
		    bool may_wrap);

/* A dict whose lone key is tag-named, which would read back as a tag:
 * {"$dict": {...}}. */
static int put_wrapped_dict(struct ec_sbuf *b, plist_t node, unsigned indent)
{
	int ret;

	ret = put(b, "{", 1);
	if (ret == 0)
		ret = put_newline(b, indent + 1);
	if (ret == 0)
		ret = put_str(b, "\"$dict\": ");
	if (ret == 0)
		ret = put_dict(b, node, indent + 1, false);
	return put_close(b, indent, '}', ret);
}

static int put_dict(struct ec_sbuf *b, plist_t node, unsigned indent,
		    bool may_wrap)
{
	plist_t val = NULL;
	void *it = NULL;
	char *key = NULL;
	bool first = true, wrap;
	int ret;

	if (plist_dict_get_size(node) == 0)
		return put(b, "{}", 2);
	if (may_wrap) {
		key = dict_only_key(node);
		wrap = key != NULL && ec_view_is_tag(key);
		free_key(key);
		key = NULL;
		if (wrap)
			return put_wrapped_dict(b, node, indent);
	}
	plist_dict_new_iter(node, &it);
	if (it == NULL)
		return -ENOMEM;
	ret = put(b, "{", 1);
	while (ret == 0) {
		key = NULL;
		val = NULL;
		plist_dict_next_item(node, it, &key, &val);
		if (val == NULL || key == NULL) {
			if (val != NULL)
				ret = UNRENDERABLE;
			break;
		}
		if (!first)
			ret = put(b, ",", 1);
		first = false;
		if (ret == 0)
			ret = put_member_name(b, key, indent + 1);
		if (ret == 0)
			ret = put_node(b, val, indent + 1);
		free_key(key);
		key = NULL;
	}
	free_key(key);
	free(it);
	return put_close(b, indent, '}', ret);
}

/*
 * Recursion is bounded: trees rendered here passed view_plist.c's shape
 * or depth check, and a $dict wrapper adds one level per container at
 * most.
 */
static int put_node(struct ec_sbuf *b, plist_t node, unsigned indent)
{
	const char *s;
	uint64_t n = 0;
	uint8_t bv = 0;
	double d = 0;
	char text[48];

	switch (plist_get_node_type(node)) {
	case PLIST_BOOLEAN:
		plist_get_bool_val(node, &bv);
		return put_str(b, bv ? "true" : "false");
	case PLIST_UINT:
		return put_int(b, node);
	case PLIST_REAL:
		plist_get_real_val(node, &d);
		return put_real(b, d, indent);
	case PLIST_STRING:
		s = plist_get_string_ptr(node, &n);
		if (s == NULL)
			return UNRENDERABLE;
		return put_json_string(b, s, (size_t)n);
	case PLIST_ARRAY:
		return put_array(b, node, indent);
	case PLIST_DICT:
		return put_dict(b, node, indent, true);
	case PLIST_DATE:
		return put_date(b, node, indent);
	case PLIST_DATA:
		return put_data(b, node, indent);
	case PLIST_UID:
		plist_get_uid_val(node, &n);
		snprintf(text, sizeof(text), "%" PRIu64, n);
		return put_tag(b, "$uid", text, indent);
	default:
		return UNRENDERABLE;
	}
}

int ec_view_render_json(struct ec_sbuf *b, plist_t root)
{
	int ret;

	ret = put_node(b, root, 0);
	if (ret == 0)
		ret = put(b, "\n", 1);
	return ret;
}

int ec_view_render_xml(struct ec_sbuf *b, plist_t root)
{
	char *xml = NULL;
	uint32_t n = 0;
	int ret;

	plist_to_xml(root, &xml, &n);
	if (xml == NULL)
		return -ENOMEM;
	ret = ec_sbuf_append(b, xml, n);
	ec_secure_wipe(xml, n);
	plist_to_xml_free(xml);
	return ret;
}
