/*
 * view: how an entry's data is presented as file content, and back.
 * No crypto, no files.  Data that is a binary plist can be shown as JSON
 * (lossless, with $date/$data/$uid/$real/$dict tags) or as an XML plist.
 *
 * JSON form: dict -> object (stored order), array, string, integer
 * (-2^63..2^64-1), real (shortest round-trip text, always with `.` or an
 * exponent; NaN and infinities as {"$real": "nan"|"inf"|"-inf"}), bool,
 * date -> {"$date": "2026-02-07T12:00:00Z"} (".ffffff" when non-zero),
 * data -> {"$data": "<base64, padded>"}, uid -> {"$uid": N}.  A dict whose
 * only key is one of the five tag names is wrapped: {"$dict": {...}}.
 * The text is exactly Python's json.dumps(tagged, indent=2,
 * ensure_ascii=False) + "\n" of the tagged object (reals as repr()).
 * A dict that repeats a key (never written by Python) shows every entry.
 */
#ifndef EC_VIEW_H
#define EC_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "secure.h"

enum ec_view { EC_VIEW_AUTO, EC_VIEW_RAW, EC_VIEW_JSON, EC_VIEW_XML };

/* Containers nest at most this deep (a top-level dict is 1).  A bplist
 * beyond it, or whose shared containers expand past 4 * its size + 4096
 * nodes, counts as not a bplist (libplist 2.2 would recurse or expand
 * without bound); text beyond it does not parse (-EC_ETOOBIG). */
#define EC_VIEW_MAX_DEPTH 256

/* "auto", "raw", "json", "xml" -> *v; -EINVAL otherwise. */
int ec_view_parse(const char *name, enum ec_view *v)
	__attribute__((warn_unused_result));
const char *ec_view_name(enum ec_view v);

/* Whether data is a binary plist that libplist parses (within the limits
 * above). */
bool ec_view_is_bplist(const uint8_t *data, size_t len);

/*
 * Present data under view v.  *out is ec_secure_alloc'd (ec_secure_free),
 * *outlen its length; *is_bplist (when not NULL) tells whether data was a
 * binary plist.  raw: the bytes.  json/auto: a bplist as pretty UTF-8
 * JSON with a trailing newline, other data raw (so is a bplist JSON cannot
 * carry losslessly: a date outside years 1..9999).  xml: a bplist as
 * libplist's XML plist, other data raw.  Errors: -ENOMEM.
 */
int ec_view_render(enum ec_view v, const uint8_t *data, size_t len,
		   uint8_t **out, size_t *outlen, bool *is_bplist)
	__attribute__((warn_unused_result));

/*
 * The inverse, for writes: text written under view v becomes the data to
 * store.  was_bplist tells whether the entry being overwritten is a bplist
 * (false for a new entry).  raw: the bytes.  json: JSON (the form above,
 * tags read back; strict RFC 8259, one value, surrounding white space
 * allowed) -> bplist, laid out as Python's plistlib writes one (dict order
 * as in the text), which plistlib loads as the same object.  -EINVAL for
 * invalid JSON, a null anywhere, a malformed tag value, an integer outside
 * -2^63..2^64-1, a non-finite number, \u0000 in a string or key, a $uid
 * above 2^32-1 (libplist 2.2 reads none); -EC_ETOOBIG past
 * EC_VIEW_MAX_DEPTH or 2 GiB.  auto: as json when was_bplist; else JSON ->
 * bplist when that succeeds, the raw bytes otherwise.  xml: XML plist ->
 * bplist (-EINVAL when not one).  *out ec_secure_alloc'd (ec_secure_free);
 * -ENOMEM as ever.
 */
int ec_view_parse_content(enum ec_view v, bool was_bplist,
			  const uint8_t *text, size_t len,
			  uint8_t **out, size_t *outlen)
	__attribute__((warn_unused_result));

/* --- the JSON form's vocabulary, for other JSON writers (export) ------- */

/* Length of the valid UTF-8 sequence at s (n > 0 bytes left), 0 if
 * invalid (overlong forms, surrogates and code points past U+10FFFF
 * are).  No I/O. */
size_t ec_view_utf8_len(const unsigned char *s, size_t n);

/* Whether the n bytes at s are valid UTF-8 (NUL bytes are). */
bool ec_view_is_utf8(const char *s, size_t n);

/* Standard base64 with padding of s[0..n), appended to b. */
int ec_view_b64_encode(struct ec_sbuf *b, const uint8_t *s, size_t n)
	__attribute__((warn_unused_result));

/*
 * Standard base64 with padding, canonical (unused bits zero), decoded
 * and appended to out, or only checked when out is NULL; *dlen (when not
 * NULL) gets the decoded length.  -EINVAL when s is not such base64.
 */
int ec_view_b64_decode(const char *s, size_t n, struct ec_sbuf *out,
		       size_t *dlen)
	__attribute__((warn_unused_result));

#endif
