/*
 * view: an entry's data as file content (raw, JSON or XML), and back.
 * Pure transforms over memory: no crypto, no files, no clock.
 *
 * Plaintext copies.  Everything we hand out lives in ec_secure_alloc
 * memory.  libplist and json-c keep their own copies on the ordinary heap
 * (their trees, the XML and binary buffers they return, json-c's tokener
 * scratch buffer).  We keep those short-lived and wipe what their public
 * APIs let us reach before freeing: plist string and data values, json-c
 * strings, keys and number texts, and the buffers they return.  Dict keys
 * inside libplist trees and the tokener's scratch buffer stay out of reach.
 *
 * libplist 2.2 gaps, worked around with public API only.  It has no
 * getter for an integer's sign (2^63..2^64-1 are stored as unsigned
 * 16-byte integers, negative numbers as 8-byte ones, and both read back
 * through plist_get_uint_val) and its date getter truncates to int32
 * seconds plus microseconds: we serialise the single node with
 * plist_to_bin and read its marker and payload.  Its binary parser
 * recurses without a depth limit, expands shared containers and asserts
 * on some keys, so bplist_shape_ok() walks the object graph first.  Its
 * binary writer is quadratic, so write_bplist() is our own.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <plist/plist.h>

#include "error.h"
#include "secure.h"
#include "ttl.h"
#include "view.h"

#define BPLIST_MAGIC "bplist00"
#define BPLIST_HEAD 8
#define BPLIST_TRAILER 32
/* One object of at most 17 bytes: marker plus a 16-byte integer. */
#define OBJ_MAX 17

#define MARK_INT8 0x13		/* 8-byte integer: signed */
#define MARK_INT16 0x14		/* 16-byte integer: unsigned here */
#define MARK_DATE 0x33		/* 8-byte double, seconds since 2001 */
#define MARK_REAL 0x23		/* 8-byte double */

/* JSON nesting that still maps to EC_VIEW_MAX_DEPTH containers: each
 * container may sit in a $dict wrapper, and a leaf may be a tag object. */
#define JSON_MAX_DEPTH (2 * EC_VIEW_MAX_DEPTH + 2)

#define US_PER_SEC 1000000LL
#define EPOCH_2001_US (978307200LL * US_PER_SEC)
/* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z: Python's range. */
#define DATE_MIN_US (-62135596800LL * US_PER_SEC)
#define DATE_MAX_US (253402300800LL * US_PER_SEC - 1)

/* Rendering gave up on a value JSON cannot carry losslessly (a date out
 * of range, an unknown node type): the caller shows the data raw. */
#define UNRENDERABLE (-EDOM)

static const char *const view_names[] = {
	[EC_VIEW_AUTO] = "auto",
	[EC_VIEW_RAW] = "raw",
	[EC_VIEW_JSON] = "json",
	[EC_VIEW_XML] = "xml",
};

static const char *const tag_names[] = {
	"$date", "$data", "$uid", "$real", "$dict",
};

int ec_view_parse(const char *name, enum ec_view *v)
{
	size_t i;

	if (name == NULL)
		return -EINVAL;
	for (i = 0; i < sizeof(view_names) / sizeof(view_names[0]); i++) {
		if (strcmp(name, view_names[i]) == 0) {
			*v = (enum ec_view)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *ec_view_name(enum ec_view v)
{
	if ((unsigned)v >= sizeof(view_names) / sizeof(view_names[0]))
		abort();
	return view_names[v];
}

static bool is_tag(const char *key)
{
	size_t i;

	for (i = 0; i < sizeof(tag_names) / sizeof(tag_names[0]); i++)
		if (strcmp(key, tag_names[i]) == 0)
			return true;
	return false;
}

static uint64_t be_read(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	while (n-- > 0)
		v = v << 8 | *p++;
	return v;
}

static void be_write(uint8_t *p, uint64_t v, unsigned n)
{
	while (n-- > 0) {
		p[n] = (uint8_t)v;
		v >>= 8;
	}
}

/* ------------------------------------------------------------------ */
/* libplist trees                                                      */

/* Wipe the string and data values of a tree (keys are out of reach). */
static void plist_scrub(plist_t node, unsigned depth)
{
	plist_t child = NULL;
	const char *p;
	uint64_t n = 0;
	void *it = NULL;

	switch (plist_get_node_type(node)) {
	case PLIST_STRING:
		p = plist_get_string_ptr(node, &n);
		if (p != NULL)
			ec_secure_wipe((char *)p, (size_t)n);
		break;
	case PLIST_DATA:
		p = plist_get_data_ptr(node, &n);
		if (p != NULL)
			ec_secure_wipe((char *)p, (size_t)n);
		break;
	case PLIST_ARRAY:
		if (depth >= EC_VIEW_MAX_DEPTH)
			break;
		plist_array_new_iter(node, &it);
		if (it == NULL)
			break;
		for (;;) {
			child = NULL;
			plist_array_next_item(node, it, &child);
			if (child == NULL)
				break;
			plist_scrub(child, depth + 1);
		}
		free(it);
		break;
	case PLIST_DICT:
		if (depth >= EC_VIEW_MAX_DEPTH)
			break;
		plist_dict_new_iter(node, &it);
		if (it == NULL)
			break;
		for (;;) {
			child = NULL;
			plist_dict_next_item(node, it, NULL, &child);
			if (child == NULL)
				break;
			plist_scrub(child, depth + 1);
		}
		free(it);
		break;
	default:
		break;
	}
}

static void plist_release(plist_t *node)
{
	if (*node == NULL)
		return;
	plist_scrub(*node, 0);
	plist_free(*node);
	*node = NULL;
}

/* Whether containers nest at most EC_VIEW_MAX_DEPTH deep below a node at
 * nesting level `depth` (its parent's count of enclosing containers). */
static bool plist_depth_ok(plist_t node, unsigned depth)
{
	plist_type type = plist_get_node_type(node);
	plist_t child = NULL;
	void *it = NULL;
	bool ok = true;

	if (type != PLIST_ARRAY && type != PLIST_DICT)
		return true;
	if (depth + 1 > EC_VIEW_MAX_DEPTH)
		return false;
	if (type == PLIST_ARRAY)
		plist_array_new_iter(node, &it);
	else
		plist_dict_new_iter(node, &it);
	if (it == NULL)
		return false;
	while (ok) {
		child = NULL;
		if (type == PLIST_ARRAY)
			plist_array_next_item(node, it, &child);
		else
			plist_dict_next_item(node, it, NULL, &child);
		if (child == NULL)
			break;
		ok = plist_depth_ok(child, depth + 1);
	}
	free(it);
	return ok;
}

/*
 * The one object plist_to_bin writes for a scalar node: marker byte and
 * payload, n bytes of obj (at most OBJ_MAX).  A one-object bplist holds
 * it right after the 8-byte header.
 */
static int node_object(plist_t node, uint8_t obj[OBJ_MAX], size_t *n)
{
	char *bin = NULL;
	uint32_t len = 0;
	size_t avail;
	int ret = -EIO;

	plist_to_bin(node, &bin, &len);
	if (bin == NULL)
		return -ENOMEM;
	if (len < BPLIST_HEAD + 1 + 1 + BPLIST_TRAILER ||
	    memcmp(bin, BPLIST_MAGIC, BPLIST_HEAD) != 0)
		goto out;
	avail = len - BPLIST_HEAD - 1 - BPLIST_TRAILER;
	*n = avail < OBJ_MAX ? avail : OBJ_MAX;
	memcpy(obj, bin + BPLIST_HEAD, *n);
	ret = 0;
out:
	ec_secure_wipe(bin, len);
	plist_to_bin_free(bin);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Binary plist detection                                              */

struct scan_frame {
	const uint8_t *ref;	/* next object reference */
	uint64_t left;		/* references left */
};

/* The element count of the object whose marker is at *p (its low nibble,
 * or an int object after it when that is 0xF); *p moves past them. */
static bool obj_count(const uint8_t **p, const uint8_t *end, uint64_t *count)
{
	const uint8_t *q = *p;
	unsigned nb;

	*count = *q++ & 0xF;
	if (*count == 0xF) {
		if (q >= end || (*q >> 4) != 0x1 || (*q & 0xF) > 3)
			return false;
		nb = 1u << (*q++ & 0xF);
		if ((uint64_t)(end - q) < nb)
			return false;
		*count = be_read(q, nb);
		q += nb;
	}
	*p = q;
	return true;
}

/*
 * Whether the object at offset table entry idx is a string libplist 2.2
 * can hand back as a dict key: a UTF-16 one must not hold U+0000 (its
 * plist_get_key_val() asserts that the length equals strlen()).  *budget
 * bounds the bytes scanned, as keys of shared dicts are seen many times.
 */
static bool key_ok(const uint8_t *d, uint64_t otab, unsigned osz,
		   uint64_t idx, uint64_t *budget)
{
	const uint8_t *p, *end = d + otab;
	uint64_t off, count, i;

	off = be_read(d + otab + idx * osz, osz);
	if (off < BPLIST_HEAD || off >= otab)
		return false;
	p = d + off;
	if (*p >> 4 == 0x5)
		return true;		/* ASCII: libplist cuts at a NUL */
	if (*p >> 4 != 0x6 || !obj_count(&p, end, &count) ||
	    count > (uint64_t)(end - p) / 2 || count > *budget)
		return false;
	*budget -= count;
	for (i = 0; i < count; i++)
		if (p[2 * i] == 0 && p[2 * i + 1] == 0)
			return false;
	return true;
}

/*
 * Walk the object graph from the top object the way libplist will, but
 * iteratively: true when the trailer and offset table are sane, every
 * reachable container's references lie in the object area, dict keys are
 * strings key_ok() accepts, containers nest at most EC_VIEW_MAX_DEPTH
 * deep (a cycle nests forever) and the expanded tree has at most 4 * len
 * + 4096 nodes (a tree without shared containers has at most one node per
 * reference byte).  Other leaf objects are left for libplist to check.
 */
static bool bplist_shape_ok(const uint8_t *d, size_t len)
{
	struct scan_frame st[EC_VIEW_MAX_DEPTH];
	const uint8_t *t, *end, *p;
	unsigned osz, rsz, depth = 0, type;
	uint64_t nobj, idx, otab, off, count, nref, i;
	uint64_t nodes = 0, limit = 4 * (uint64_t)len + 4096;
	uint64_t budget = limit;

	if (len < BPLIST_HEAD + BPLIST_TRAILER ||
	    memcmp(d, BPLIST_MAGIC, BPLIST_HEAD) != 0)
		return false;
	t = d + len - BPLIST_TRAILER;
	osz = t[6];
	rsz = t[7];
	nobj = be_read(t + 8, 8);
	idx = be_read(t + 16, 8);
	otab = be_read(t + 24, 8);
	if (osz < 1 || osz > 8 || rsz < 1 || rsz > 8 || nobj == 0 ||
	    idx >= nobj)
		return false;
	if (otab <= BPLIST_HEAD || otab >= len - BPLIST_TRAILER ||
	    nobj > (len - BPLIST_TRAILER - otab) / osz)
		return false;
	end = d + otab;		/* objects lie in [d + 8, end) */
	for (;;) {
		/* Visit object idx, at nesting level depth + 1. */
		if (++nodes > limit)
			return false;
		off = be_read(d + otab + idx * osz, osz);
		if (off < BPLIST_HEAD || off >= otab)
			return false;
		p = d + off;
		type = *p >> 4;
		if (type == 0xA || type == 0xC || type == 0xD) {
			if (!obj_count(&p, end, &count) ||
			    count > (uint64_t)(end - p))
				return false;
			nref = type == 0xD ? 2 * count : count;
			if (nref > (uint64_t)(end - p) / rsz ||
			    depth + 1 > EC_VIEW_MAX_DEPTH)
				return false;
			for (i = 0; type == 0xD && i < count; i++) {
				idx = be_read(p + i * rsz, rsz);
				if (idx >= nobj ||
				    !key_ok(d, otab, osz, idx, &budget))
					return false;
			}
			if (nref > 0) {
				st[depth].ref = p;
				st[depth].left = nref;
				depth++;
			}
		}
		/* Next reference: the top frame is the parent of idx. */
		while (depth > 0 && st[depth - 1].left == 0)
			depth--;
		if (depth == 0)
			return true;
		idx = be_read(st[depth - 1].ref, rsz);
		st[depth - 1].ref += rsz;
		st[depth - 1].left--;
		if (idx >= nobj)
			return false;
	}
}

/* A bplist's tree, or *root NULL when data is not one libplist parses
 * (or not one it can parse safely). */
static void bplist_load(const uint8_t *d, size_t len, plist_t *root)
{
	*root = NULL;
	if (len > UINT32_MAX || !bplist_shape_ok(d, len))
		return;
	plist_from_bin((const char *)d, (uint32_t)len, root);
}

bool ec_view_is_bplist(const uint8_t *data, size_t len)
{
	plist_t root = NULL;
	bool yes;

	if (data == NULL)
		return false;
	bplist_load(data, len, &root);
	yes = root != NULL;
	plist_release(&root);
	return yes;
}

/* ------------------------------------------------------------------ */
/* Rendering as JSON                                                   */

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

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xBF;
	size_t len, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		len = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		len = 4;
	else
		return 0;
	if (c == 0xE0)
		lo = 0xA0;
	else if (c == 0xED)
		hi = 0x9F;
	else if (c == 0xF0)
		lo = 0x90;
	else if (c == 0xF4)
		hi = 0x8F;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return len;
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
			k = utf8_len(s + i, n - i);
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

/* {"tag": value} where value is JSON text already (quoted if need be). */
static int put_tag(struct ec_sbuf *b, const char *tag, const char *value,
		   unsigned indent)
{
	int ret;

	ret = put(b, "{", 1);
	if (ret == 0)
		ret = put_newline(b, indent + 1);
	if (ret == 0)
		ret = put_json_string(b, tag, strlen(tag));
	if (ret == 0)
		ret = put(b, ": ", 2);
	if (ret == 0)
		ret = put_str(b, value);
	if (ret == 0)
		ret = put_newline(b, indent);
	if (ret == 0)
		ret = put(b, "}", 1);
	return ret;
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
		ret = node_object(node, obj, &n);
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

	ret = node_object(node, obj, &n);
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

static const char b64_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Standard base64 with padding, straight into b. */
static int put_base64(struct ec_sbuf *b, const uint8_t *s, size_t n)
{
	char chunk[64];
	size_t i, k = 0;
	uint32_t v;
	int ret = 0;

	for (i = 0; ret == 0 && i < n; i += 3) {
		v = (uint32_t)s[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		chunk[k++] = b64_chars[v >> 18 & 63];
		chunk[k++] = b64_chars[v >> 12 & 63];
		chunk[k++] = i + 1 < n ? b64_chars[v >> 6 & 63] : '=';
		chunk[k++] = i + 2 < n ? b64_chars[v & 63] : '=';
		if (k == sizeof(chunk)) {
			ret = put(b, chunk, k);
			k = 0;
		}
	}
	if (ret == 0)
		ret = put(b, chunk, k);
	ec_secure_wipe(chunk, sizeof(chunk));
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
		ret = put_base64(b, (const uint8_t *)p, (size_t)n);
	if (ret == 0)
		ret = put(b, "\"", 1);
	if (ret == 0)
		ret = put_newline(b, indent);
	if (ret == 0)
		ret = put(b, "}", 1);
	return ret;
}

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
	if (ret == 0)
		ret = put_newline(b, indent);
	if (ret == 0)
		ret = put(b, "]", 1);
	return ret;
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
		/* A lone tag-named key would read back as a tag. */
		key = dict_only_key(node);
		wrap = key != NULL && is_tag(key);
		free_key(key);
		key = NULL;
		if (wrap) {
			ret = put(b, "{", 1);
			if (ret == 0)
				ret = put_newline(b, indent + 1);
			if (ret == 0)
				ret = put_str(b, "\"$dict\": ");
			if (ret == 0)
				ret = put_dict(b, node, indent + 1, false);
			if (ret == 0)
				ret = put_newline(b, indent);
			if (ret == 0)
				ret = put(b, "}", 1);
			return ret;
		}
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
			ret = put_newline(b, indent + 1);
		if (ret == 0)
			ret = put_json_string(b, key, strlen(key));
		if (ret == 0)
			ret = put(b, ": ", 2);
		if (ret == 0)
			ret = put_node(b, val, indent + 1);
		free_key(key);
		key = NULL;
	}
	free_key(key);
	free(it);
	if (ret == 0)
		ret = put_newline(b, indent);
	if (ret == 0)
		ret = put(b, "}", 1);
	return ret;
}

/*
 * Recursion is bounded: trees rendered here passed bplist_shape_ok(), and
 * a $dict wrapper adds one level per container at most.
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

static int render_json(struct ec_sbuf *b, plist_t root)
{
	int ret;

	ret = put_node(b, root, 0);
	if (ret == 0)
		ret = put(b, "\n", 1);
	return ret;
}

static int render_xml(struct ec_sbuf *b, plist_t root)
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

/* Hand b over as *out / *outlen, never a NULL pointer. */
static int sbuf_finish(struct ec_sbuf *b, uint8_t **out, size_t *outlen)
{
	int ret;

	if (b->p == NULL) {
		ret = ec_sbuf_reserve(b, 1);
		if (ret < 0)
			return ret;
	}
	ec_sbuf_detach(b, out, outlen);
	return 0;
}

int ec_view_render(enum ec_view v, const uint8_t *data, size_t len,
		   uint8_t **out, size_t *outlen, bool *is_bplist)
{
	struct ec_sbuf b = EC_SBUF_INIT;
	plist_t root = NULL;
	int ret = 0;

	if ((unsigned)v > EC_VIEW_XML || (data == NULL && len > 0))
		abort();
	*out = NULL;
	*outlen = 0;
	if (data != NULL && (v != EC_VIEW_RAW || is_bplist != NULL))
		bplist_load(data, len, &root);
	if (is_bplist != NULL)
		*is_bplist = root != NULL;
	if (root != NULL && (v == EC_VIEW_JSON || v == EC_VIEW_AUTO)) {
		ret = render_json(&b, root);
		if (ret == UNRENDERABLE) {
			ec_sbuf_release(&b);
			ret = 0;
			plist_release(&root);	/* shown raw below */
		}
	} else if (root != NULL && v == EC_VIEW_XML) {
		ret = render_xml(&b, root);
	} else {
		plist_release(&root);
	}
	if (ret == 0 && root == NULL)
		ret = ec_sbuf_append(&b, data, len);
	if (ret == 0)
		ret = sbuf_finish(&b, out, outlen);
	plist_release(&root);
	ec_sbuf_release(&b);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Writing JSON as a bplist                                            */

enum tag { TAG_NONE, TAG_DATE, TAG_DATA, TAG_UID, TAG_REAL, TAG_DICT };

/* Which tag object o is ({"$tag": value}, its only key), and its value. */
static enum tag tag_of(struct json_object *o, struct json_object **val)
{
	enum tag t = TAG_NONE;

	*val = NULL;
	if (json_object_object_length(o) != 1)
		return TAG_NONE;
	json_object_object_foreach(o, key, v) {
		if (strcmp(key, "$date") == 0)
			t = TAG_DATE;
		else if (strcmp(key, "$data") == 0)
			t = TAG_DATA;
		else if (strcmp(key, "$uid") == 0)
			t = TAG_UID;
		else if (strcmp(key, "$real") == 0)
			t = TAG_REAL;
		else if (strcmp(key, "$dict") == 0)
			t = TAG_DICT;
		*val = v;
	}
	return t;
}

/*
 * Standard base64 with padding, canonical (unused bits zero), decoded
 * into out, or only checked when out is NULL; *dlen (when not NULL) gets
 * the decoded length.
 */
static int b64_decode(const char *s, size_t n, struct ec_sbuf *out,
		      size_t *dlen)
{
	uint8_t bytes[3];
	size_t i, j, pad = 0, k;
	uint32_t v;
	const char *c;
	int ret = 0;

	if (n % 4 != 0)
		return -EINVAL;
	if (n > 0 && s[n - 1] == '=')
		pad = n > 1 && s[n - 2] == '=' ? 2 : 1;
	if (dlen != NULL)
		*dlen = n / 4 * 3 - pad;
	for (i = 0; ret == 0 && i < n; i += 4) {
		v = 0;
		for (j = 0; j < 4; j++) {
			v <<= 6;
			if (i + j >= n - pad)
				continue;	/* padding */
			c = s[i + j] == '\0' ? NULL :
				strchr(b64_chars, s[i + j]);
			if (c == NULL) {
				ret = -EINVAL;
				break;
			}
			v |= (uint32_t)(c - b64_chars);
		}
		if (ret < 0)
			break;
		k = i + 4 < n ? 3 : 3 - pad;
		if ((pad == 1 && i + 4 == n && (v & 0xFF) != 0) ||
		    (pad == 2 && i + 4 == n && (v & 0xFFFF) != 0))
			ret = -EINVAL;	/* not canonical */
		bytes[0] = (uint8_t)(v >> 16);
		bytes[1] = (uint8_t)(v >> 8);
		bytes[2] = (uint8_t)v;
		if (ret == 0 && out != NULL)
			ret = ec_sbuf_append(out, bytes, k);
	}
	ec_secure_wipe(bytes, sizeof(bytes));
	return ret;
}

/* A $date value: the instant, in microseconds since 2001. */
static int date_value(struct json_object *val, int64_t *us)
{
	if (!json_object_is_type(val, json_type_string) ||
	    ec_time_parse_iso(json_object_get_string(val), us) < 0)
		return -EINVAL;
	*us -= EPOCH_2001_US;
	return 0;
}

/* A $real value: NaN or an infinity. */
static int real_value(struct json_object *val, double *d)
{
	const char *s;

	if (!json_object_is_type(val, json_type_string))
		return -EINVAL;
	s = json_object_get_string(val);
	if (strcmp(s, "nan") == 0)
		*d = NAN;
	else if (strcmp(s, "inf") == 0)
		*d = INFINITY;
	else if (strcmp(s, "-inf") == 0)
		*d = -INFINITY;
	else
		return -EINVAL;
	return 0;
}

/* A $uid value: 0..2^32-1 (libplist 2.2 reads no larger UID). */
static int uid_value(struct json_object *val, uint32_t *uid)
{
	int64_t v;

	if (!json_object_is_type(val, json_type_int))
		return -EINVAL;
	v = json_object_get_int64(val);
	if (v < 0 || v > (int64_t)UINT32_MAX)
		return -EINVAL;
	*uid = (uint32_t)v;
	return 0;
}

static int count_node(struct json_object *o, unsigned depth, uint64_t *n);

static int count_dict(struct json_object *o, unsigned depth, uint64_t *n)
{
	int ret = 0;

	if (depth + 1 > EC_VIEW_MAX_DEPTH)
		return -EC_ETOOBIG;
	*n += 1;
	json_object_object_foreach(o, key, val) {
		(void)key;
		*n += 1;
		ret = count_node(val, depth + 1, n);
		if (ret < 0)
			break;
	}
	return ret;
}

/*
 * Pass 1: check that o is JSON a plist can hold and count the objects it
 * becomes at most (one per value and per dict key).  depth: containers
 * around o.
 */
static int count_node(struct json_object *o, unsigned depth, uint64_t *n)
{
	struct json_object *val;
	size_t i, len;
	int64_t us;
	uint32_t uid;
	double d;
	int ret = 0;

	switch (json_object_get_type(o)) {
	case json_type_boolean:
	case json_type_int:	/* range checked on the text */
		break;
	case json_type_double:
		if (!isfinite(json_object_get_double(o)))
			return -EINVAL;	/* NaN, Infinity, 1e400 */
		break;
	case json_type_string:
		if (memchr(json_object_get_string(o), '\0',
			   (size_t)json_object_get_string_len(o)) != NULL)
			return -EINVAL;
		break;
	case json_type_array:
		if (depth + 1 > EC_VIEW_MAX_DEPTH)
			return -EC_ETOOBIG;
		len = json_object_array_length(o);
		for (i = 0; ret == 0 && i < len; i++)
			ret = count_node(json_object_array_get_idx(o, i),
					 depth + 1, n);
		break;
	case json_type_object:
		switch (tag_of(o, &val)) {
		case TAG_DATE:
			ret = date_value(val, &us);
			break;
		case TAG_DATA:
			if (!json_object_is_type(val, json_type_string))
				return -EINVAL;
			ret = b64_decode(json_object_get_string(val),
				(size_t)json_object_get_string_len(val),
				NULL, NULL);
			break;
		case TAG_UID:
			ret = uid_value(val, &uid);
			break;
		case TAG_REAL:
			ret = real_value(val, &d);
			break;
		case TAG_DICT:
			if (!json_object_is_type(val, json_type_object))
				return -EINVAL;
			return count_dict(val, depth, n);
		case TAG_NONE:
		default:
			return count_dict(o, depth, n);
		}
		break;
	case json_type_null:
	default:
		return -EINVAL;		/* a plist has no null */
	}
	if (ret == 0)
		*n += 1;
	return ret;
}

/* Bytes for an object count or offset, as Python's _count_to_size(). */
static unsigned size_for(uint64_t n)
{
	if (n < 1ULL << 8)
		return 1;
	if (n < 1ULL << 16)
		return 2;
	if (n < 1ULL << 32)
		return 4;
	return 8;
}

/* A string already written: json-c's own bytes (no copy) and its object. */
struct str_slot {
	const char *s;
	size_t n;
	uint64_t id;
};

struct bwriter {
	struct ec_sbuf *out;
	size_t base;		/* where the bplist starts in out */
	uint64_t *offs;		/* object offsets (not secret) */
	uint64_t n, cap;	/* objects written, at most (pass 1) */
	unsigned rsz;		/* object reference size */
	struct str_slot *strs;	/* open addressing, NULL s = free */
	size_t nstrs, strcap;	/* used slots, slots (a power of 2) */
};

static size_t str_hash(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a */
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 0x100000001b3ULL;
	return (size_t)(h ^ h >> 32);
}

/* The slot of string s, or the free slot where it belongs. */
static struct str_slot *str_find(struct bwriter *w, const char *s, size_t n)
{
	size_t i = str_hash(s, n) & (w->strcap - 1);

	while (w->strs[i].s != NULL &&
	       !(w->strs[i].n == n && memcmp(w->strs[i].s, s, n) == 0))
		i = (i + 1) & (w->strcap - 1);
	return &w->strs[i];
}

/* Room for one more string, keeping the table at most half full. */
static int str_reserve(struct bwriter *w)
{
	struct str_slot *old = w->strs, *slot;
	size_t oldcap = w->strcap, i;

	if (w->strs != NULL && 2 * (w->nstrs + 1) <= w->strcap)
		return 0;
	w->strcap = oldcap == 0 ? 64 : 2 * oldcap;
	w->strs = calloc(w->strcap, sizeof(*w->strs));
	if (w->strs == NULL) {
		w->strs = old;
		w->strcap = oldcap;
		return -ENOMEM;
	}
	for (i = 0; i < oldcap; i++) {
		if (old[i].s == NULL)
			continue;
		slot = str_find(w, old[i].s, old[i].n);
		*slot = old[i];
	}
	free(old);
	return 0;
}

static void obj_begin(struct bwriter *w, uint64_t *id)
{
	if (w->n >= w->cap)
		abort();	/* pass 1 counted wrong */
	*id = w->n;
	w->offs[w->n++] = w->out->len - w->base;
}

/* marker byte plus n big-endian bytes of v */
static int put_marked(struct ec_sbuf *b, uint8_t marker, uint64_t v,
		      unsigned n)
{
	uint8_t buf[9];

	buf[0] = marker;
	be_write(buf + 1, v, n);
	return ec_sbuf_append(b, buf, n + 1);
}

/* An integer 0..2^63-1 in the fewest of 1, 2, 4, 8 bytes. */
static int put_uint(struct ec_sbuf *b, uint64_t v)
{
	unsigned n = size_for(v);

	return put_marked(b, (uint8_t)(0x10 | (n == 1 ? 0 : n == 2 ? 1 :
						n == 4 ? 2 : 3)), v, n);
}

/* A marker with a count: in its low nibble, or 0xF and an integer. */
static int put_count(struct ec_sbuf *b, uint8_t token, uint64_t count)
{
	uint8_t m;
	int ret;

	if (count < 15) {
		m = (uint8_t)(token | count);
		return ec_sbuf_append(b, &m, 1);
	}
	m = token | 0xF;
	ret = ec_sbuf_append(b, &m, 1);
	if (ret == 0)
		ret = put_uint(b, count);
	return ret;
}

/* Decode the UTF-8 sequence at s (n bytes left); U+FFFD if invalid. */
static uint32_t utf8_next(const unsigned char *s, size_t n, size_t *len)
{
	uint32_t cp;
	size_t i;

	*len = utf8_len(s, n);
	if (*len == 0) {
		*len = 1;
		return 0xFFFD;
	}
	if (*len == 1)
		return s[0];
	cp = s[0] & (0x7F >> *len);
	for (i = 1; i < *len; i++)
		cp = cp << 6 | (s[i] & 0x3F);
	return cp;
}

/* A string object: ASCII as is, else UTF-16BE, as Python writes them. */
static int emit_string(struct bwriter *w, const char *str, size_t n,
		       uint64_t *id)
{
	const unsigned char *s = (const unsigned char *)str;
	uint8_t chunk[64];
	size_t i, k, units = 0, len;
	struct str_slot *slot;
	uint32_t cp;
	int ret;

	/* Equal strings share one object, as Python writes them. */
	ret = str_reserve(w);
	if (ret < 0)
		return ret;
	slot = str_find(w, str, n);
	if (slot->s != NULL) {
		*id = slot->id;
		return 0;
	}
	obj_begin(w, id);
	slot->s = str;
	slot->n = n;
	slot->id = *id;
	w->nstrs++;
	for (i = 0; i < n && s[i] < 0x80; i++)
		;
	if (i == n) {
		ret = put_count(w->out, 0x50, n);
		if (ret == 0)
			ret = ec_sbuf_append(w->out, str, n);
		return ret;
	}
	for (i = 0; i < n; i += len)
		units += utf8_next(s + i, n - i, &len) > 0xFFFF ? 2 : 1;
	ret = put_count(w->out, 0x60, units);
	for (i = 0, k = 0; ret == 0 && i < n; i += len) {
		cp = utf8_next(s + i, n - i, &len);
		if (cp > 0xFFFF) {
			cp -= 0x10000;
			be_write(chunk + k, 0xD800 | cp >> 10, 2);
			be_write(chunk + k + 2, 0xDC00 | (cp & 0x3FF), 2);
			k += 4;
		} else {
			be_write(chunk + k, cp, 2);
			k += 2;
		}
		if (k > sizeof(chunk) - 4 || i + len >= n) {
			ret = ec_sbuf_append(w->out, chunk, k);
			k = 0;
		}
	}
	ec_secure_wipe(chunk, sizeof(chunk));
	return ret;
}

static int emit_node(struct bwriter *w, struct json_object *o, uint64_t *id);

/* Container references, once its elements are written. */
static int put_refs(struct bwriter *w, const uint64_t *ids, uint64_t n)
{
	uint8_t buf[8];
	uint64_t i;
	int ret = 0;

	for (i = 0; ret == 0 && i < n; i++) {
		be_write(buf, ids[i], w->rsz);
		ret = ec_sbuf_append(w->out, buf, w->rsz);
	}
	return ret;
}

static int emit_dict(struct bwriter *w, struct json_object *o, uint64_t *id)
{
	uint64_t n = (uint64_t)json_object_object_length(o), i = 0;
	uint64_t *ids = malloc((size_t)(2 * n + 1) * sizeof(*ids));
	int ret = 0;

	if (ids == NULL)
		return -ENOMEM;
	json_object_object_foreach(o, key, val) {
		ret = emit_string(w, key, strlen(key), &ids[i]);
		if (ret == 0)
			ret = emit_node(w, val, &ids[n + i]);
		if (ret < 0)
			break;
		i++;
	}
	if (ret == 0) {
		obj_begin(w, id);
		ret = put_count(w->out, 0xD0, n);
	}
	if (ret == 0)
		ret = put_refs(w, ids, 2 * n);
	free(ids);
	return ret;
}

static int emit_array(struct bwriter *w, struct json_object *o, uint64_t *id)
{
	size_t n = json_object_array_length(o), i;
	uint64_t *ids = malloc((n + 1) * sizeof(*ids));
	int ret = 0;

	if (ids == NULL)
		return -ENOMEM;
	for (i = 0; ret == 0 && i < n; i++)
		ret = emit_node(w, json_object_array_get_idx(o, i), &ids[i]);
	if (ret == 0) {
		obj_begin(w, id);
		ret = put_count(w->out, 0xA0, n);
	}
	if (ret == 0)
		ret = put_refs(w, ids, n);
	free(ids);
	return ret;
}

static int emit_int(struct bwriter *w, struct json_object *o, uint64_t *id)
{
	int64_t v = json_object_get_int64(o);
	uint64_t u = v == INT64_MAX ? json_object_get_uint64(o) : 0;
	int ret;

	obj_begin(w, id);
	if (u > INT64_MAX) {
		/* 2^63..2^64-1: 16 bytes, high half 0 (read as unsigned) */
		ret = put_marked(w->out, MARK_INT16, 0, 8);
		if (ret == 0) {
			uint8_t lo[8];

			be_write(lo, u, 8);
			ret = ec_sbuf_append(w->out, lo, 8);
			ec_secure_wipe(lo, sizeof(lo));
		}
		return ret;
	}
	if (v < 0)
		return put_marked(w->out, MARK_INT8, (uint64_t)v, 8);
	return put_uint(w->out, (uint64_t)v);
}

static int put_double(struct ec_sbuf *b, uint8_t marker, double d)
{
	uint64_t bits;

	memcpy(&bits, &d, sizeof(bits));
	return put_marked(b, marker, bits, 8);
}

/* Pass 2: write o's objects, children first; *id gets o's object. */
static int emit_node(struct bwriter *w, struct json_object *o, uint64_t *id)
{
	struct json_object *val;
	const char *s;
	size_t dlen = 0;
	int64_t us = 0;
	uint32_t uid = 0;
	double d = 0;
	uint8_t m;
	int ret;

	switch (json_object_get_type(o)) {
	case json_type_boolean:
		obj_begin(w, id);
		m = json_object_get_boolean(o) ? 0x09 : 0x08;
		return ec_sbuf_append(w->out, &m, 1);
	case json_type_double:
		obj_begin(w, id);
		return put_double(w->out, MARK_REAL,
				  json_object_get_double(o));
	case json_type_int:
		return emit_int(w, o, id);
	case json_type_string:
		return emit_string(w, json_object_get_string(o),
				   (size_t)json_object_get_string_len(o), id);
	case json_type_array:
		return emit_array(w, o, id);
	case json_type_object:
		break;
	default:
		abort();	/* pass 1 let it through */
	}
	switch (tag_of(o, &val)) {
	case TAG_DATE:
		ret = date_value(val, &us);
		obj_begin(w, id);
		/* Correctly rounded seconds, as Python's total_seconds(). */
		if (ret == 0)
			ret = put_double(w->out, MARK_DATE,
					 (double)us / (double)US_PER_SEC);
		return ret;
	case TAG_DATA:
		s = json_object_get_string(val);
		ret = b64_decode(s, (size_t)json_object_get_string_len(val),
				 NULL, &dlen);
		obj_begin(w, id);
		if (ret == 0)
			ret = put_count(w->out, 0x40, dlen);
		if (ret == 0)
			ret = b64_decode(s,
				(size_t)json_object_get_string_len(val),
				w->out, NULL);
		return ret;
	case TAG_UID:
		ret = uid_value(val, &uid);
		obj_begin(w, id);
		if (ret == 0 && uid < 1u << 8)
			ret = put_marked(w->out, 0x80, uid, 1);
		else if (ret == 0 && uid < 1u << 16)
			ret = put_marked(w->out, 0x81, uid, 2);
		else if (ret == 0)
			ret = put_marked(w->out, 0x83, uid, 4);
		return ret;
	case TAG_REAL:
		ret = real_value(val, &d);
		obj_begin(w, id);
		if (ret == 0)
			ret = put_double(w->out, MARK_REAL, d);
		return ret;
	case TAG_DICT:
		return emit_dict(w, val, id);
	case TAG_NONE:
	default:
		return emit_dict(w, o, id);
	}
}

/*
 * Our own bplist writer, laid out as Python's plistlib writes one: ASCII
 * or UTF-16BE strings, the smallest integer that holds a value, 8-byte
 * reals and dates, equal strings (keys too) as one object.  Each
 * container follows its elements, so the top object is the last.
 * (libplist 2.2's plist_to_bin takes time quadratic in the number of
 * objects, and would need the plaintext in a second heap tree.)  The bytes
 * go straight into out.
 */
static int write_bplist(struct json_object *jo, struct ec_sbuf *out)
{
	struct bwriter w = { out, out->len, NULL, 0, 0, 0, NULL, 0, 0 };
	uint8_t buf[BPLIST_TRAILER];
	uint64_t count = 0, top = 0, otab, i;
	unsigned osz;
	int ret;

	ret = count_node(jo, 0, &count);
	if (ret < 0)
		return ret;
	w.offs = calloc((size_t)count, sizeof(*w.offs));
	if (w.offs == NULL)
		return -ENOMEM;
	w.cap = count;
	w.rsz = size_for(count);
	ret = ec_sbuf_append(out, BPLIST_MAGIC, BPLIST_HEAD);
	if (ret == 0)
		ret = emit_node(&w, jo, &top);
	if (ret < 0)
		goto out;
	otab = out->len - w.base;
	osz = size_for(otab);
	for (i = 0; ret == 0 && i < w.n; i++) {
		be_write(buf, w.offs[i], osz);
		ret = ec_sbuf_append(out, buf, osz);
	}
	memset(buf, 0, sizeof(buf));
	buf[6] = (uint8_t)osz;
	buf[7] = (uint8_t)w.rsz;
	be_write(buf + 8, w.n, 8);
	be_write(buf + 16, top, 8);
	be_write(buf + 24, otab, 8);
	if (ret == 0)
		ret = ec_sbuf_append(out, buf, sizeof(buf));
out:
	free(w.strs);
	free(w.offs);
	return ret;
}

/* Wipe the strings, keys and number texts of a json-c tree. */
static void json_scrub(struct json_object *o)
{
	char *ud;
	size_t i, n;

	switch (json_object_get_type(o)) {
	case json_type_string:
		ec_secure_wipe((char *)json_object_get_string(o),
			       (size_t)json_object_get_string_len(o));
		break;
	case json_type_double:
		/* json-c keeps the number's text as the userdata. */
		ud = json_object_get_userdata(o);
		if (ud != NULL)
			ec_secure_wipe(ud, strlen(ud));
		break;
	case json_type_array:
		n = json_object_array_length(o);
		for (i = 0; i < n; i++)
			json_scrub(json_object_array_get_idx(o, i));
		break;
	case json_type_object: {
		json_object_object_foreach(o, key, val) {
			json_scrub(val);
			ec_secure_wipe(key, strlen(key));
		}
		break;
	}
	default:
		break;
	}
}

static bool is_json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Whether decimal digits d (n of them, no sign or leading 0) exceed
 * limit. */
static bool digits_above(const char *d, size_t n, const char *limit)
{
	size_t ln = strlen(limit);

	return n > ln || (n == ln && memcmp(d, limit, n) > 0);
}

static size_t skip_digits(const char *s, size_t i, size_t n)
{
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++;
	return i;
}

/*
 * What json-c lets through, checked on text it has accepted as JSON:
 * numbers outside RFC 8259's grammar ("1.", "1e"), control characters
 * inside strings, integers outside
 * int64/uint64 (it saturates them) and \u0000 in strings or keys (a plist
 * string cannot hold NUL; json-c would cut keys there).
 */
static int check_json_text(const char *s, size_t n)
{
	size_t i = 0, start, ndig, k;
	bool neg, real;

	while (i < n) {
		if (s[i] == '"') {
			for (i++; i < n && s[i] != '"'; i++) {
				if ((unsigned char)s[i] < 0x20)
					return -EINVAL;	/* unescaped */
				if (s[i] != '\\')
					continue;
				if (n - i > 5 &&
				    memcmp(s + i + 1, "u0000", 5) == 0)
					return -EINVAL;
				i++;	/* the escaped character */
			}
			i++;
			continue;
		}
		if (s[i] != '-' && !(s[i] >= '0' && s[i] <= '9')) {
			i++;
			continue;
		}
		neg = s[i] == '-';
		if (neg)
			i++;
		start = i;
		i = skip_digits(s, i, n);
		ndig = i - start;
		if (ndig == 0 || (ndig > 1 && s[start] == '0'))
			return -EINVAL;
		real = false;
		if (i < n && s[i] == '.') {
			real = true;
			k = ++i;
			i = skip_digits(s, i, n);
			if (i == k)
				return -EINVAL;
		}
		if (i < n && (s[i] == 'e' || s[i] == 'E')) {
			real = true;
			i++;
			if (i < n && (s[i] == '+' || s[i] == '-'))
				i++;
			k = i;
			i = skip_digits(s, i, n);
			if (i == k)
				return -EINVAL;
		}
		if (!real && digits_above(s + start, ndig,
					  neg ? "9223372036854775808" :
						"18446744073709551615"))
			return -EINVAL;
	}
	return 0;
}

/* JSON text -> bplist appended to out. */
static int json_to_bplist(const uint8_t *text, size_t len,
			  struct ec_sbuf *out)
{
	struct ec_sbuf src = EC_SBUF_INIT;
	struct json_tokener *tok = NULL;
	struct json_object *jo = NULL;
	enum json_tokener_error jerr;
	size_t end;
	int ret;

	if (len >= INT32_MAX)
		return -EC_ETOOBIG;
	if (memchr(text, '\0', len) != NULL)
		return -EINVAL;	/* never JSON; also our end mark */
	/* A NUL-terminated copy: json-c needs the end mark to finish a
	 * top-level number. */
	ret = ec_sbuf_append(&src, text, len);
	if (ret == 0)
		ret = ec_sbuf_append(&src, "", 1);
	if (ret < 0)
		goto out;
	tok = json_tokener_new_ex(JSON_MAX_DEPTH);
	if (tok == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
			       JSON_TOKENER_VALIDATE_UTF8);
	jo = json_tokener_parse_ex(tok, (const char *)src.p, (int)len + 1);
	jerr = json_tokener_get_error(tok);
	if (jerr == json_tokener_error_depth) {
		ret = -EC_ETOOBIG;
		goto out;
	}
	if (jerr != json_tokener_success || jo == NULL) {
		ret = -EINVAL;	/* not JSON, or a top-level null */
		goto out;
	}
	for (end = json_tokener_get_parse_end(tok); end < len; end++) {
		if (!is_json_space((char)src.p[end])) {
			ret = -EINVAL;
			goto out;
		}
	}
	ret = check_json_text((const char *)src.p, len);
	if (ret == 0)
		ret = write_bplist(jo, out);
out:
	if (jo != NULL) {
		json_scrub(jo);
		json_object_put(jo);
	}
	if (tok != NULL)
		json_tokener_free(tok);
	ec_sbuf_release(&src);
	return ret;
}

/*
 * XML plist text -> bplist appended to out: by way of its JSON view, so
 * that one writer makes every bplist we store.
 */
static int xml_to_bplist(const uint8_t *text, size_t len,
			 struct ec_sbuf *out)
{
	struct ec_sbuf src = EC_SBUF_INIT, json = EC_SBUF_INIT;
	plist_t root = NULL;
	int ret;

	if (len >= UINT32_MAX)
		return -EC_ETOOBIG;
	/* XML has no NUL; libplist 2.2 could take one into a dict key,
	 * where reading the key back asserts. */
	if (len == 0 || memchr(text, '\0', len) != NULL)
		return -EINVAL;
	ret = ec_sbuf_append(&src, text, len);
	if (ret == 0)
		ret = ec_sbuf_append(&src, "", 1);
	if (ret < 0)
		goto out;
	plist_from_xml((const char *)src.p, (uint32_t)len, &root);
	if (root == NULL) {
		ret = -EINVAL;
		goto out;
	}
	if (!plist_depth_ok(root, 0)) {
		ret = -EC_ETOOBIG;
		goto out;
	}
	ret = render_json(&json, root);
	if (ret == UNRENDERABLE)
		ret = -EINVAL;
	if (ret == 0)
		ret = json_to_bplist(json.p, json.len, out);
out:
	plist_release(&root);
	ec_sbuf_release(&json);
	ec_sbuf_release(&src);
	return ret;
}

int ec_view_parse_content(enum ec_view v, bool was_bplist,
			  const uint8_t *text, size_t len,
			  uint8_t **out, size_t *outlen)
{
	struct ec_sbuf b = EC_SBUF_INIT;
	int ret;

	if ((unsigned)v > EC_VIEW_XML || (text == NULL && len > 0))
		abort();
	if (text == NULL)
		text = (const uint8_t *)"";
	*out = NULL;
	*outlen = 0;
	switch (v) {
	case EC_VIEW_JSON:
		ret = json_to_bplist(text, len, &b);
		break;
	case EC_VIEW_AUTO:
		ret = json_to_bplist(text, len, &b);
		if (!was_bplist && ret < 0 && ret != -ENOMEM) {
			/* Not JSON a plist can hold: keep the bytes. */
			ec_sbuf_release(&b);
			ret = ec_sbuf_append(&b, text, len);
		}
		break;
	case EC_VIEW_XML:
		ret = xml_to_bplist(text, len, &b);
		break;
	case EC_VIEW_RAW:
	default:
		ret = ec_sbuf_append(&b, text, len);
		break;
	}
	if (ret == 0)
		ret = sbuf_finish(&b, out, outlen);
	ec_sbuf_release(&b);
	return ret;
}
