/*
 * view_bplist: our own binary plist writer, from a json-c tree in the
 * JSON form of view.h (tags read back), laid out as Python's plistlib
 * writes one.  Linear in the size of the tree; libplist 2.2's
 * plist_to_bin is not (see ec_view_bplist_write).  No I/O.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "secure.h"
#include "view.h"
#include "view_int.h"

/* ------------------------------------------------------------------ */
/* Writer state: object offsets, strings written once                 */

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

/* ------------------------------------------------------------------ */
/* Objects, children before their container                           */

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

	*len = ec_view_utf8_len(s, n);
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

/* A tag object's value, or a dict: its objects, as emit_node(). */
static int emit_object(struct bwriter *w, struct json_object *o,
		       uint64_t *id)
{
	struct json_object *val;
	const char *s;
	size_t dlen = 0;
	int64_t us = 0;
	uint32_t uid = 0;
	double d = 0;
	int ret;

	switch (ec_view_tag_of(o, &val)) {
	case EC_VIEW_TAG_DATE:
		ret = ec_view_tag_date(val, &us);
		obj_begin(w, id);
		/* Correctly rounded seconds, as Python's total_seconds(). */
		if (ret == 0)
			ret = put_double(w->out, MARK_DATE,
					 (double)us / (double)US_PER_SEC);
		return ret;
	case EC_VIEW_TAG_DATA:
		s = json_object_get_string(val);
		ret = ec_view_b64_decode(s,
				(size_t)json_object_get_string_len(val),
				NULL, &dlen);
		obj_begin(w, id);
		if (ret == 0)
			ret = put_count(w->out, 0x40, dlen);
		if (ret == 0)
			ret = ec_view_b64_decode(s,
				(size_t)json_object_get_string_len(val),
				w->out, NULL);
		return ret;
	case EC_VIEW_TAG_UID:
		ret = ec_view_tag_uid(val, &uid);
		obj_begin(w, id);
		if (ret == 0 && uid < 1u << 8)
			ret = put_marked(w->out, 0x80, uid, 1);
		else if (ret == 0 && uid < 1u << 16)
			ret = put_marked(w->out, 0x81, uid, 2);
		else if (ret == 0)
			ret = put_marked(w->out, 0x83, uid, 4);
		return ret;
	case EC_VIEW_TAG_REAL:
		ret = ec_view_tag_real(val, &d);
		obj_begin(w, id);
		if (ret == 0)
			ret = put_double(w->out, MARK_REAL, d);
		return ret;
	case EC_VIEW_TAG_DICT:
		return emit_dict(w, val, id);
	case EC_VIEW_TAG_NONE:
	default:
		return emit_dict(w, o, id);
	}
}

/* Pass 2: write o's objects, children first; *id gets o's object. */
static int emit_node(struct bwriter *w, struct json_object *o, uint64_t *id)
{
	uint8_t m;

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
		return emit_object(w, o, id);
	default:
		abort();	/* pass 1 let it through */
	}
}

/* ------------------------------------------------------------------ */
/* The file: header, objects, offset table, trailer                   */

/*
 * Our own bplist writer, laid out as Python's plistlib writes one: ASCII
 * or UTF-16BE strings, the smallest integer that holds a value, 8-byte
 * reals and dates, equal strings (keys too) as one object.  Each
 * container follows its elements, so the top object is the last.
 * (libplist 2.2's plist_to_bin takes time quadratic in the number of
 * objects, and would need the plaintext in a second heap tree.)  The bytes
 * go straight into out.  Pass 1, in view_parse.c, checked jo and counted
 * its objects.
 */
int ec_view_bplist_write(struct json_object *jo, uint64_t count,
			 struct ec_sbuf *out)
{
	struct bwriter w = { out, out->len, NULL, 0, 0, 0, NULL, 0, 0 };
	uint8_t buf[BPLIST_TRAILER];
	uint64_t top = 0, otab, i;
	unsigned osz;
	int ret;

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
