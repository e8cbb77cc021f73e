/*
 * view: an entry's data as file content (raw, JSON or XML), and back.
 * Pure transforms over memory: no crypto, no files, no clock.  This file
 * holds the entry points of view.h and what the other view*.c share: the
 * JSON form's tags, its base64 and UTF-8 (view_int.h lists the files).
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
 * plist_to_bin and read its marker and payload (view_plist.c).  Its
 * binary parser recurses without a depth limit, expands shared containers
 * and asserts on some keys, so view_plist.c walks the object graph first.
 * Its binary writer is quadratic, so view_bplist.c is our own.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "secure.h"
#include "ttl.h"
#include "view.h"
#include "view_int.h"

static const char *const view_names[] = {
	[EC_VIEW_AUTO] = "auto",
	[EC_VIEW_RAW] = "raw",
	[EC_VIEW_JSON] = "json",
	[EC_VIEW_XML] = "xml",
};

static const char *const tag_names[] = {
	"$date", "$data", "$uid", "$real", "$dict",
};

static const char b64_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

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

/* ------------------------------------------------------------------ */
/* The JSON form: UTF-8, base64, tags                                  */

size_t ec_view_utf8_len(const unsigned char *s, size_t n)
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

bool ec_view_is_utf8(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	while (n > 0) {
		size_t k = ec_view_utf8_len(p, n);

		if (k == 0)
			return false;
		p += k;
		n -= k;
	}
	return true;
}

/* Into b a chunk at a time, wiping the chunk. */
int ec_view_b64_encode(struct ec_sbuf *b, const uint8_t *s, size_t n)
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
			ret = ec_sbuf_append(b, chunk, k);
			k = 0;
		}
	}
	if (ret == 0)
		ret = ec_sbuf_append(b, chunk, k);
	ec_secure_wipe(chunk, sizeof(chunk));
	return ret;
}

int ec_view_b64_decode(const char *s, size_t n, struct ec_sbuf *out,
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

bool ec_view_is_tag(const char *key)
{
	size_t i;

	for (i = 0; i < sizeof(tag_names) / sizeof(tag_names[0]); i++)
		if (strcmp(key, tag_names[i]) == 0)
			return true;
	return false;
}

enum ec_view_tag ec_view_tag_of(struct json_object *o,
				struct json_object **val)
{
	enum ec_view_tag t = EC_VIEW_TAG_NONE;

	*val = NULL;
	if (json_object_object_length(o) != 1)
		return EC_VIEW_TAG_NONE;
	json_object_object_foreach(o, key, v) {
		if (strcmp(key, "$date") == 0)
			t = EC_VIEW_TAG_DATE;
		else if (strcmp(key, "$data") == 0)
			t = EC_VIEW_TAG_DATA;
		else if (strcmp(key, "$uid") == 0)
			t = EC_VIEW_TAG_UID;
		else if (strcmp(key, "$real") == 0)
			t = EC_VIEW_TAG_REAL;
		else if (strcmp(key, "$dict") == 0)
			t = EC_VIEW_TAG_DICT;
		*val = v;
	}
	return t;
}

int ec_view_tag_date(struct json_object *val, int64_t *us)
{
	if (!json_object_is_type(val, json_type_string) ||
	    ec_time_parse_iso(json_object_get_string(val), us) < 0)
		return -EINVAL;
	*us -= EPOCH_2001_US;
	return 0;
}

int ec_view_tag_real(struct json_object *val, double *d)
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

int ec_view_tag_uid(struct json_object *val, uint32_t *uid)
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

/* ------------------------------------------------------------------ */
/* Entry points                                                        */

bool ec_view_is_bplist(const uint8_t *data, size_t len)
{
	plist_t root = NULL;
	bool yes;

	if (data == NULL)
		return false;
	ec_view_plist_load(data, len, &root);
	yes = root != NULL;
	ec_view_plist_release(&root);
	return yes;
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
		ec_view_plist_load(data, len, &root);
	if (is_bplist != NULL)
		*is_bplist = root != NULL;
	if (root != NULL && (v == EC_VIEW_JSON || v == EC_VIEW_AUTO)) {
		ret = ec_view_render_json(&b, root);
		if (ret == UNRENDERABLE) {
			ec_sbuf_release(&b);
			ret = 0;
			ec_view_plist_release(&root);	/* shown raw below */
		}
	} else if (root != NULL && v == EC_VIEW_XML) {
		ret = ec_view_render_xml(&b, root);
	} else {
		ec_view_plist_release(&root);
	}
	if (ret == 0 && root == NULL)
		ret = ec_sbuf_append(&b, data, len);
	if (ret == 0)
		ret = sbuf_finish(&b, out, outlen);
	ec_view_plist_release(&root);
	ec_sbuf_release(&b);
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
		ret = ec_view_json_to_bplist(text, len, &b);
		break;
	case EC_VIEW_AUTO:
		ret = ec_view_json_to_bplist(text, len, &b);
		if (!was_bplist && ret < 0 && ret != -ENOMEM) {
			/* Not JSON a plist can hold: keep the bytes. */
			ec_sbuf_release(&b);
			ret = ec_sbuf_append(&b, text, len);
		}
		break;
	case EC_VIEW_XML:
		ret = ec_view_xml_to_bplist(text, len, &b);
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
