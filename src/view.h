/*
 * view: how an entry's data is presented as file content, and back.
 * No crypto, no files.  Data that is a binary plist can be shown as JSON
 * (lossless, with $date/$data/$uid tags) or as an XML plist.
 */
#ifndef EC_VIEW_H
#define EC_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ec_view { EC_VIEW_AUTO, EC_VIEW_RAW, EC_VIEW_JSON, EC_VIEW_XML };

/* "auto", "raw", "json", "xml" -> *v; -EINVAL otherwise. */
int ec_view_parse(const char *name, enum ec_view *v)
	__attribute__((warn_unused_result));
const char *ec_view_name(enum ec_view v);

/* Whether data is a binary plist that libplist parses. */
bool ec_view_is_bplist(const uint8_t *data, size_t len);

/*
 * Present data under view v.  *out is ec_secure_alloc'd (ec_secure_free),
 * *outlen its length; *is_bplist (when not NULL) tells whether data was a
 * binary plist.  raw: the bytes.  json/auto: a bplist as pretty UTF-8
 * JSON with a trailing newline, other data raw.  xml: a bplist as an XML
 * plist, other data raw.
 */
int ec_view_render(enum ec_view v, const uint8_t *data, size_t len,
		   uint8_t **out, size_t *outlen, bool *is_bplist)
	__attribute__((warn_unused_result));

/*
 * The inverse, for writes: text written under view v becomes the data to
 * store.  was_bplist tells whether the entry being overwritten is a bplist
 * (false for a new entry).  raw: the bytes.  json: JSON -> bplist, -EINVAL
 * for invalid JSON or a top-level null.  auto: as json when was_bplist;
 * else JSON -> bplist when text parses as JSON, raw bytes otherwise.
 * xml: XML plist -> bplist (-EINVAL when not one).  *out ec_secure_alloc'd.
 */
int ec_view_parse_content(enum ec_view v, bool was_bplist,
			  const uint8_t *text, size_t len,
			  uint8_t **out, size_t *outlen)
	__attribute__((warn_unused_result));

#endif
