/*
 * view_parse: text written under the json or xml view, read back into
 * the data to store.  JSON must be strict RFC 8259 and hold only what a
 * plist can (view.h lists the rules); json-c parses it, we check what
 * json-c lets through, then view_bplist.c writes the tree.  XML goes
 * through libplist and its JSON view.  No I/O.  json-c's and libplist's
 * trees are wiped (as far as their APIs reach) before they are freed.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <plist/plist.h>

#include "error.h"
#include "secure.h"
#include "view.h"
#include "view_int.h"

/* JSON nesting that still maps to EC_VIEW_MAX_DEPTH containers: each
 * container may sit in a $dict wrapper, and a leaf may be a tag object. */
#define JSON_MAX_DEPTH (2 * EC_VIEW_MAX_DEPTH + 2)

/* ------------------------------------------------------------------ */
/* Checks on the text and the tree                                     */

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
 * Pass 1 of writing a bplist (ec_view_bplist_write() is pass 2): check
 * that o is JSON a plist can hold and count the objects it becomes at
 * most (one per value and per dict key).  depth: containers around o.
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
		switch (ec_view_tag_of(o, &val)) {
		case EC_VIEW_TAG_DATE:
			ret = ec_view_tag_date(val, &us);
			break;
		case EC_VIEW_TAG_DATA:
			if (!json_object_is_type(val, json_type_string))
				return -EINVAL;
			ret = ec_view_b64_decode(json_object_get_string(val),
				(size_t)json_object_get_string_len(val),
				NULL, NULL);
			break;
		case EC_VIEW_TAG_UID:
			ret = ec_view_tag_uid(val, &uid);
			break;
		case EC_VIEW_TAG_REAL:
			ret = ec_view_tag_real(val, &d);
			break;
		case EC_VIEW_TAG_DICT:
			if (!json_object_is_type(val, json_type_object))
				return -EINVAL;
			return count_dict(val, depth, n);
		case EC_VIEW_TAG_NONE:
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

/* ------------------------------------------------------------------ */
/* Text -> bplist                                                      */

int ec_view_json_to_bplist(const uint8_t *text, size_t len,
			   struct ec_sbuf *out)
{
	struct ec_sbuf src = EC_SBUF_INIT;
	struct json_tokener *tok = NULL;
	struct json_object *jo = NULL;
	enum json_tokener_error jerr;
	uint64_t count = 0;
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
		ret = count_node(jo, 0, &count);
	if (ret == 0)
		ret = ec_view_bplist_write(jo, count, out);
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

int ec_view_xml_to_bplist(const uint8_t *text, size_t len,
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
	if (!ec_view_plist_depth_ok(root, 0)) {
		ret = -EC_ETOOBIG;
		goto out;
	}
	ret = ec_view_render_json(&json, root);
	if (ret == UNRENDERABLE)
		ret = -EINVAL;
	if (ret == 0)
		ret = ec_view_json_to_bplist(json.p, json.len, out);
out:
	ec_view_plist_release(&root);
	ec_sbuf_release(&json);
	ec_sbuf_release(&src);
	return ret;
}
