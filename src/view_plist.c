/*
 * view_plist: guards around libplist 2.2, which the rest of the view
 * module goes through.  No I/O.
 *
 * Its binary parser recurses without a depth limit, expands shared
 * containers without bound and asserts on some dict keys, so we walk the
 * object graph ourselves, iteratively, before handing it a buffer
 * (bplist_shape_ok).  It has no getter for an integer's sign and its date
 * getter truncates to int32 seconds, so the renderer reads a scalar node's
 * own bytes (ec_view_plist_node_object).  Trees are wiped, as far as its
 * API reaches, before they are freed.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <plist/plist.h>

#include "secure.h"
#include "view.h"
#include "view_int.h"

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

void ec_view_plist_release(plist_t *node)
{
	if (*node == NULL)
		return;
	plist_scrub(*node, 0);
	plist_free(*node);
	*node = NULL;
}

bool ec_view_plist_depth_ok(plist_t node, unsigned depth)
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
		ok = ec_view_plist_depth_ok(child, depth + 1);
	}
	free(it);
	return ok;
}

/*
 * The one object plist_to_bin writes for a scalar node: marker byte and
 * payload, n bytes of obj (at most OBJ_MAX).  A one-object bplist holds
 * it right after the 8-byte header.
 */
int ec_view_plist_node_object(plist_t node, uint8_t obj[OBJ_MAX], size_t *n)
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

void ec_view_plist_load(const uint8_t *d, size_t len, plist_t *root)
{
	*root = NULL;
	if (len > UINT32_MAX || !bplist_shape_ok(d, len))
		return;
	plist_from_bin((const char *)d, (uint32_t)len, root);
}
