/*
 * envelope: the JSON envelope file and the inner binary-plist payload.
 * No I/O: bytes in, bytes out.
 *
 * Reading checks UTF-8, then uses json-c's tokener in strict mode with its
 * nesting limit; writing is by hand, since json-c spaces and escapes
 * differently from Python's json.dump.  The payload goes through libplist
 * 2.2, whose nodes are ordinary heap: the data buffers we can reach are
 * wiped before libplist frees them, but copies its writer made while
 * growing its output (realloc) are beyond our reach.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <json-c/json.h>
#include <plist/plist.h>

#include "envelope.h"
#include "error.h"
#include "secure.h"
#include "ttl.h"

/* json-c's default nesting limit: deeper unknown fields are -EC_EJSON. */
#define EC_ENVELOPE_DEPTH JSON_TOKENER_DEFAULT_DEPTH

/* Seconds from 1970-01-01 to 2001-01-01, the plist date epoch. */
#define PLIST_EPOCH_UNIX 978307200LL

/* ---- UTF-8 ------------------------------------------------------------- */

/*
 * Decode one code point from s[0..n) (n >= 1) into *cp; return its length,
 * or 0 when s does not start with a well-formed UTF-8 sequence (overlong
 * forms, surrogates and values above U+10FFFF are ill-formed).
 */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c = s[0], min;
	size_t len, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		c &= 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		c &= 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

static bool utf8_valid_n(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t k;
	uint32_t cp;

	while (n) {
		k = utf8_decode(p, n, &cp);
		if (!k)
			return false;
		p += k;
		n -= k;
	}
	return true;
}

static bool utf8_valid(const char *s)
{
	return utf8_valid_n(s, strlen(s));
}

/* ---- reading ----------------------------------------------------------- */

static bool is_json_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * Copy the string member `name` of obj into *out (malloc'd), or leave
 * *out NULL when the member is absent or JSON null.  A JSON null member
 * is stored by json-c as a NULL value, which json_object_is_type() calls
 * json_type_null.
 */
static int get_string(struct json_object *obj, const char *name,
		      bool required, char **out, size_t *outlen)
{
	struct json_object *v = NULL;
	const char *s;
	int n;
	char *copy;

	*out = NULL;
	if (!json_object_object_get_ex(obj, name, &v) ||
	    json_object_is_type(v, json_type_null))
		return required ? -EC_EFIELD : 0;
	if (!json_object_is_type(v, json_type_string))
		return -EC_EFIELD;
	s = json_object_get_string(v);
	n = json_object_get_string_len(v);
	if (!s || n < 0 || memchr(s, '\0', (size_t)n))
		return -EC_EFIELD;
	copy = malloc((size_t)n + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, s, (size_t)n);
	copy[n] = '\0';
	*out = copy;
	if (outlen)
		*outlen = (size_t)n;
	return 0;
}

int ec_envelope_parse(const char *buf, size_t len, struct ec_envelope *env)
{
	struct json_tokener *tok = NULL;
	struct json_object *root = NULL;
	struct ec_envelope e = { 0 };
	size_t end;
	int ret;

	memset(env, 0, sizeof(*env));
	if (len > EC_ENVELOPE_MAX)
		return -EC_ETOOBIG;
	/* JSON text is UTF-8.  json-c's own check (JSON_TOKENER_VALIDATE_UTF8)
	 * lets overlong forms and surrogates through: use ours. */
	if (len == 0 || !utf8_valid_n(buf, len))
		return -EC_EJSON;

	tok = json_tokener_new_ex(EC_ENVELOPE_DEPTH);
	if (!tok)
		return -ENOMEM;
	/* Strict: no comments, trailing commas, garbage after the value or
	 * loose literals.  It still takes single-quoted strings and NaN. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	/* len <= EC_ENVELOPE_MAX < INT_MAX.  A prefix of a valid document
	 * gives NULL with json_tokener_continue: not complete, so invalid. */
	root = json_tokener_parse_ex(tok, buf, (int)len);
	if (!root || json_tokener_get_error(tok) != json_tokener_success) {
		ret = -EC_EJSON;
		goto out;
	}
	/* Strict mode stops at a NUL byte and reports success: check that
	 * only JSON white space follows the value ourselves. */
	for (end = json_tokener_get_parse_end(tok); end < len; end++) {
		if (!is_json_ws(buf[end])) {
			ret = -EC_EJSON;
			goto out;
		}
	}
	if (!json_object_is_type(root, json_type_object)) {
		ret = -EC_EJSON;
		goto out;
	}

	/* Duplicate keys: json-c replaces the earlier value, so the last
	 * one wins, as with Python's json.load. */
	ret = get_string(root, "key", true, &e.key, NULL);
	if (ret)
		goto out;
	ret = get_string(root, "encrypted", true, &e.encrypted,
			 &e.encrypted_len);
	if (ret)
		goto out;
	ret = get_string(root, "salt_sha256", false, &e.salt_sha256, NULL);
	if (ret)
		goto out;
	ret = get_string(root, "created_at", false, &e.created_at, NULL);
	if (ret)
		goto out;
	ret = get_string(root, "comment", false, &e.comment, NULL);
	if (ret)
		goto out;
	*env = e;
	memset(&e, 0, sizeof(e));
out:
	ec_envelope_release(&e);
	json_object_put(root);
	json_tokener_free(tok);
	return ret;
}

void ec_envelope_release(struct ec_envelope *env)
{
	if (!env)
		return;
	free(env->key);
	free(env->salt_sha256);
	free(env->created_at);
	free(env->encrypted);
	free(env->comment);
	memset(env, 0, sizeof(*env));
}

/* ---- writing ----------------------------------------------------------- */

struct obuf {
	char *p;
	size_t len;
	size_t cap;
};

static int ob_put(struct obuf *b, const char *s, size_t n)
{
	size_t cap;
	char *np;

	if (n + 1 > b->cap - b->len || !b->p) {
		cap = b->cap ? b->cap : 256;
		while (cap - b->len < n + 1) {
			if (cap > SIZE_MAX / 2)
				return -ENOMEM;
			cap *= 2;
		}
		np = realloc(b->p, cap);
		if (!np)
			return -ENOMEM;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static int ob_puts(struct obuf *b, const char *s)
{
	return ob_put(b, s, strlen(s));
}

static int ob_put_u16(struct obuf *b, uint32_t u)
{
	static const char hex[] = "0123456789abcdef";
	char e[6] = { '\\', 'u', hex[(u >> 12) & 0xf], hex[(u >> 8) & 0xf],
		      hex[(u >> 4) & 0xf], hex[u & 0xf] };

	return ob_put(b, e, sizeof(e));
}

/*
 * Append s as a JSON string the way Python's json.dump writes it with
 * ensure_ascii=True: printable ASCII (0x20..0x7e) as is, except `"` and
 * `\`; the short escapes \" \\ \n \r \t \b \f; everything else (other
 * control characters, DEL, non-ASCII) as \uXXXX in lower-case hex, with a
 * surrogate pair above U+FFFF.  `/` is not escaped.
 */
static int ob_put_json_string(struct obuf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), k, run;
	uint32_t cp;
	const char *esc;
	int ret;

	ret = ob_put(b, "\"", 1);
	while (!ret && n) {
		/* copy a run of characters that need no escape in one go */
		for (run = 0; run < n && p[run] >= 0x20 && p[run] < 0x7f &&
			      p[run] != '"' && p[run] != '\\'; run++)
			;
		if (run) {
			ret = ob_put(b, (const char *)p, run);
			p += run;
			n -= run;
			continue;
		}
		k = utf8_decode(p, n, &cp);
		if (!k)
			return -EC_EUTF8;
		p += k;
		n -= k;
		switch (cp) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		default: esc = NULL; break;
		}
		if (esc) {
			ret = ob_puts(b, esc);
		} else if (cp >= 0x10000) {
			cp -= 0x10000;
			ret = ob_put_u16(b, 0xd800 | (cp >> 10));
			if (!ret)
				ret = ob_put_u16(b, 0xdc00 | (cp & 0x3ff));
		} else {
			ret = ob_put_u16(b, cp);
		}
	}
	if (!ret)
		ret = ob_put(b, "\"", 1);
	return ret;
}

static int ob_put_member(struct obuf *b, bool first, const char *name,
			 const char *value)
{
	int ret = 0;

	if (!first)
		ret = ob_put(b, ", ", 2);
	if (!ret)
		ret = ob_put_json_string(b, name);
	if (!ret)
		ret = ob_put(b, ": ", 2);
	if (!ret)
		ret = ob_put_json_string(b, value);
	return ret;
}

int ec_envelope_serialize(const struct ec_envelope *env, char **out,
			  size_t *outlen)
{
	const struct {
		const char *name;
		const char *value;
	} fields[] = {
		{ "key", env->key },
		{ "salt_sha256", env->salt_sha256 },
		{ "created_at", env->created_at },
		{ "encrypted", env->encrypted },
		{ "comment", env->comment },
	};
	struct obuf b = { NULL, 0, 0 };
	bool first = true;
	size_t i;
	int ret;

	*out = NULL;
	*outlen = 0;
	if (!env->key || !env->encrypted)
		return -EINVAL;

	ret = ob_put(&b, "{", 1);
	for (i = 0; !ret && i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (!fields[i].value)
			continue;
		ret = ob_put_member(&b, first, fields[i].name, fields[i].value);
		first = false;
	}
	if (!ret)
		ret = ob_put(&b, "}", 1);
	if (ret)
		goto out;
	*out = b.p;
	*outlen = b.len;
	b.p = NULL;
out:
	free(b.p);
	return ret;
}

/* ---- payload ----------------------------------------------------------- */

/* Wipe the buffer of a PLIST_DATA node (libplist hands it out as const). */
static void wipe_data_node(plist_t node)
{
	const char *p;
	uint64_t n = 0;

	if (!node || plist_get_node_type(node) != PLIST_DATA)
		return;
	p = plist_get_data_ptr(node, &n);
	if (p && n)
		ec_secure_wipe((void *)(uintptr_t)p, (size_t)n);
}

int ec_payload_pack(const uint8_t *data, size_t len, const char *validasof,
		    uint8_t **out, size_t *outlen)
{
	plist_t dict = NULL, node;
	char *bin = NULL;
	uint32_t binlen = 0;
	uint8_t *res;
	int ret;

	*out = NULL;
	*outlen = 0;
	if (!data && len)
		return -EINVAL;
	if (len > EC_ENVELOPE_MAX)
		return -EC_ETOOBIG;
	if (validasof && !utf8_valid(validasof))
		return -EC_EUTF8;

	dict = plist_new_dict();
	if (!dict)
		return -ENOMEM;
	/* Keys go in sorted order: libplist writes them in insertion order. */
	node = plist_new_data(len ? (const char *)data : "", len);
	if (!node) {
		ret = -ENOMEM;
		goto out;
	}
	plist_dict_set_item(dict, "data", node);
	if (validasof) {
		node = plist_new_string(validasof);
		if (!node) {
			ret = -ENOMEM;
			goto out;
		}
		plist_dict_set_item(dict, "validasof_datetime", node);
	}
	plist_to_bin(dict, &bin, &binlen);
	if (!bin || binlen < 8) {
		ret = -ENOMEM;
		goto out;
	}
	res = ec_secure_alloc(binlen);
	if (!res) {
		ret = -ENOMEM;
		goto out;
	}
	memcpy(res, bin, binlen);
	*out = res;
	*outlen = binlen;
	ret = 0;
out:
	if (bin) {
		ec_secure_wipe(bin, binlen);
		plist_to_bin_free(bin);
	}
	wipe_data_node(plist_dict_get_item(dict, "data"));
	plist_free(dict);
	return ret;
}

/*
 * A plist date as ISO text.  libplist 2.2 gives whole seconds since
 * 2001-01-01 truncated toward zero and the fraction's magnitude, so a
 * date less than a second before the epoch reads as after it.  Dates it
 * cannot represent in an int32 (before 1933, after 2069) come back as
 * INT32_MIN: refused.
 */
static int date_to_iso(plist_t node, char **out)
{
	int32_t sec = 0, usec = 0;
	int64_t us;
	char text[EC_TIME_ISO_MAX];

	plist_get_date_val(node, &sec, &usec);
	if (sec == INT32_MIN || usec < 0 || usec > 999999)
		return -EC_EPLIST;
	us = ((int64_t)sec + PLIST_EPOCH_UNIX) * 1000000;
	us += sec < 0 ? -(int64_t)usec : (int64_t)usec;
	ec_time_format_iso(us, text);
	*out = strdup(text);
	return *out ? 0 : -ENOMEM;
}

static int get_validasof(plist_t node, char **out)
{
	const char *s;
	uint64_t n = 0;

	switch (plist_get_node_type(node)) {
	case PLIST_STRING:
		/* libplist 2.2 cuts a string at its first NUL (n is its
		 * strlen), so one holding a NUL reads as its prefix. */
		s = plist_get_string_ptr(node, &n);
		if (!s || memchr(s, '\0', (size_t)n) ||
		    !utf8_valid_n(s, (size_t)n))
			return -EC_EPLIST;
		*out = strndup(s, (size_t)n);
		return *out ? 0 : -ENOMEM;
	case PLIST_DATE:
		return date_to_iso(node, out);
	default:
		return -EC_EPLIST;
	}
}

int ec_payload_unpack(const uint8_t *pt, size_t ptlen, uint8_t **data,
		      size_t *len, char **validasof)
{
	plist_t root = NULL, dnode, vnode;
	const char *p;
	uint64_t n = 0;
	uint8_t *buf = NULL;
	char *va = NULL;
	int ret;

	*data = NULL;
	*len = 0;
	*validasof = NULL;
	if (ptlen > EC_ENVELOPE_MAX)
		return -EC_ETOOBIG;
	if (ptlen < 8 || memcmp(pt, "bplist00", 8) != 0)
		return -EC_EPLIST;

	plist_from_bin((const char *)pt, (uint32_t)ptlen, &root);
	if (!root || plist_get_node_type(root) != PLIST_DICT) {
		ret = -EC_EPLIST;
		goto out;
	}
	dnode = plist_dict_get_item(root, "data");
	if (!dnode || plist_get_node_type(dnode) != PLIST_DATA) {
		ret = -EC_EPLIST;
		goto out;
	}
	p = plist_get_data_ptr(dnode, &n);
	if (n > ptlen || (n && !p)) {	/* cannot be: it came from pt */
		ret = -EC_EPLIST;
		goto out;
	}
	buf = ec_secure_alloc((size_t)n);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	if (n)
		memcpy(buf, p, (size_t)n);

	vnode = plist_dict_get_item(root, "validasof_datetime");
	if (vnode) {
		ret = get_validasof(vnode, &va);
		if (ret)
			goto out;
	}
	*data = buf;
	*len = (size_t)n;
	*validasof = va;
	buf = NULL;
	va = NULL;
	ret = 0;
out:
	ec_secure_free(buf);
	free(va);
	if (root && plist_get_node_type(root) == PLIST_DICT)
		wipe_data_node(plist_dict_get_item(root, "data"));
	plist_free(root);
	return ret;
}
