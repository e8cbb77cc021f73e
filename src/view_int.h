/*
 * view_int: what the files of the view module share.  Internal: only
 * src/view*.c include it (the daemon and the CLI use view.h).
 *
 *   view.c         the entry points of view.h, and the JSON form's
 *                  vocabulary: tags, base64, UTF-8
 *   view_plist.c   libplist 2.2 guards: the shape check before its binary
 *                  parser, depth checks, scrubbing trees, one node's bytes
 *   view_render.c  plist tree -> JSON text (the form in view.h) or XML
 *   view_parse.c   JSON or XML text -> a checked json-c tree -> bplist
 *   view_bplist.c  our own bplist writer, linear (libplist's is not)
 *
 * No function here does I/O.  Every int function returns 0 or a negative
 * errno (-ENOMEM, -EINVAL, -EC_ETOOBIG, UNRENDERABLE as stated).
 */
#ifndef EC_VIEW_INT_H
#define EC_VIEW_INT_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <plist/plist.h>

#include "secure.h"
#include "view.h"

struct json_object;

#define BPLIST_MAGIC "bplist00"
#define BPLIST_HEAD 8
#define BPLIST_TRAILER 32
/* One object of at most 17 bytes: marker plus a 16-byte integer. */
#define OBJ_MAX 17

#define MARK_INT8 0x13		/* 8-byte integer: signed */
#define MARK_INT16 0x14		/* 16-byte integer: unsigned here */
#define MARK_DATE 0x33		/* 8-byte double, seconds since 2001 */
#define MARK_REAL 0x23		/* 8-byte double */

#define US_PER_SEC 1000000LL
#define EPOCH_2001_US (978307200LL * US_PER_SEC)

/* Rendering gave up on a value JSON cannot carry losslessly (a date out
 * of range, an unknown node type): the caller shows the data raw. */
#define UNRENDERABLE (-EDOM)

static inline uint64_t be_read(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	while (n-- > 0)
		v = v << 8 | *p++;
	return v;
}

static inline void be_write(uint8_t *p, uint64_t v, unsigned n)
{
	while (n-- > 0) {
		p[n] = (uint8_t)v;
		v >>= 8;
	}
}

/* --- view.c: the JSON form's vocabulary --------------------------------- */

/* ec_view_utf8_len() and the base64 of $data: see view.h. */

enum ec_view_tag {
	EC_VIEW_TAG_NONE, EC_VIEW_TAG_DATE, EC_VIEW_TAG_DATA, EC_VIEW_TAG_UID,
	EC_VIEW_TAG_REAL, EC_VIEW_TAG_DICT,
};

/* Whether key is one of the five tag names ("$date", ...). */
bool ec_view_is_tag(const char *key);

/* Which tag object o (a json-c object) is ({"$tag": value}, its only
 * key), and *val its value (borrowed from o; NULL for EC_VIEW_TAG_NONE). */
enum ec_view_tag ec_view_tag_of(struct json_object *o,
				struct json_object **val);

/* A $date value: the instant, in microseconds since 2001.  -EINVAL. */
int ec_view_tag_date(struct json_object *val, int64_t *us)
	__attribute__((warn_unused_result));
/* A $real value: NaN or an infinity.  -EINVAL. */
int ec_view_tag_real(struct json_object *val, double *d)
	__attribute__((warn_unused_result));
/* A $uid value: 0..2^32-1 (libplist 2.2 reads no larger UID).  -EINVAL. */
int ec_view_tag_uid(struct json_object *val, uint32_t *uid)
	__attribute__((warn_unused_result));

/* --- view_plist.c: libplist 2.2 guards ---------------------------------- */

/* A bplist's tree, or *root NULL when data is not one libplist parses
 * (or not one it can parse safely).  Release it with
 * ec_view_plist_release(). */
void ec_view_plist_load(const uint8_t *d, size_t len, plist_t *root);

/* Wipe what we can reach of *node (string and data values), free it and
 * set *node NULL; NULL is a no-op. */
void ec_view_plist_release(plist_t *node);

/* Whether containers nest at most EC_VIEW_MAX_DEPTH deep below a node at
 * nesting level `depth` (its parent's count of enclosing containers). */
bool ec_view_plist_depth_ok(plist_t node, unsigned depth);

/* The one object plist_to_bin writes for a scalar node: marker byte and
 * payload, *n bytes of obj (at most OBJ_MAX).  -ENOMEM, -EIO. */
int ec_view_plist_node_object(plist_t node, uint8_t obj[OBJ_MAX], size_t *n)
	__attribute__((warn_unused_result));

/* --- view_render.c ------------------------------------------------------ */

/* root as JSON text (the form in view.h, with its final newline),
 * appended to b.  UNRENDERABLE, -ENOMEM.  Recursion is bounded by
 * EC_VIEW_MAX_DEPTH: pass trees from ec_view_plist_load() or checked with
 * ec_view_plist_depth_ok(). */
int ec_view_render_json(struct ec_sbuf *b, plist_t root)
	__attribute__((warn_unused_result));

/* root as libplist's XML plist, appended to b.  -ENOMEM. */
int ec_view_render_xml(struct ec_sbuf *b, plist_t root)
	__attribute__((warn_unused_result));

/* --- view_parse.c ------------------------------------------------------- */

/* JSON text (the form in view.h) -> bplist appended to out.  -EINVAL,
 * -EC_ETOOBIG, -ENOMEM (as ec_view_parse_content says). */
int ec_view_json_to_bplist(const uint8_t *text, size_t len,
			   struct ec_sbuf *out)
	__attribute__((warn_unused_result));

/* XML plist text -> bplist appended to out, by way of its JSON view, so
 * that one writer makes every bplist we store.  -EINVAL, -EC_ETOOBIG,
 * -ENOMEM. */
int ec_view_xml_to_bplist(const uint8_t *text, size_t len,
			  struct ec_sbuf *out)
	__attribute__((warn_unused_result));

/* --- view_bplist.c ------------------------------------------------------ */

/*
 * jo as a bplist, appended to out.  jo must have passed view_parse.c's
 * checks, which also counted the objects it becomes: at most count of
 * them (a tree that breaks either is a bug: abort()).  -ENOMEM.
 */
int ec_view_bplist_write(struct json_object *jo, uint64_t count,
			 struct ec_sbuf *out)
	__attribute__((warn_unused_result));

#endif
