/*
 * archive_read: the reader of archive.h.  Tar as GNU tar, bsdtar and
 * Python's tarfile write it: pax 'x' headers (path, size and our
 * SCHILY.xattr.user.enccache.* records), 'g' headers (ignored), GNU long
 * names ('L'), base-256 sizes; directories are skipped.  JSON lines with
 * json-c, strictly (RFC 8259, UTF-8 checked).
 */
#include "config.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive.h"
#include "envelope.h"
#include "error.h"
#include "view.h"

#define BLOCK 512
#define READ_BUF (64u << 10)
#define PAX_MAX (16u << 20)		/* larger pax headers are refused */
#define LONGNAME_MAX (64u << 10)
#define XATTR "SCHILY.xattr.user.enccache."
/* A line holds at most the base64 of EC_ENVELOPE_MAX bytes, and a little. */
#define LINE_MAX_BYTES ((size_t)EC_ENVELOPE_MAX / 3 * 4 + (1u << 20))

/* ---- reading: the input ----------------------------------------------- */

struct ec_archive_reader {
	int fd;
	enum ec_archive_format format;
	uint8_t *buf;		/* READ_BUF bytes, guarded: data passes */
	size_t pos, end;
	bool eof;
	size_t position;	/* line or member number */
	const char *error;	/* after -EC_EARCHIVE */
	char msg[80];		/* room for an error naming a member */
	/* tar: from 'x' and 'L' headers, for the next member */
	char *pax_path;
	char *longname;
	struct ec_record pending;
	uint64_t pax_size;
	bool has_pax_size;
};

/* More input into the buffer (keeping unread bytes); 0 at EOF too. */
static int fill(struct ec_archive_reader *ar)
{
	ssize_t n;

	if (ar->pos > 0) {
		memmove(ar->buf, ar->buf + ar->pos, ar->end - ar->pos);
		ar->end -= ar->pos;
		ar->pos = 0;
	}
	while (!ar->eof && ar->end < READ_BUF) {
		n = read(ar->fd, ar->buf + ar->end, READ_BUF - ar->end);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			ar->eof = true;
		ar->end += (size_t)n;
		break;
	}
	return 0;
}

static int bad(struct ec_archive_reader *ar, const char *what)
{
	ar->error = what;
	return -EC_EARCHIVE;
}

/* Exactly n bytes into dst (NULL: skip them).  1 done, 0 when the input
 * ended before the first byte, <0 on error or a short read. */
static int take(struct ec_archive_reader *ar, void *dst, size_t n)
{
	size_t got = 0;
	int err;

	while (got < n) {
		size_t k;

		if (ar->pos == ar->end) {
			if (ar->eof)
				return got == 0 ? 0 :
					bad(ar, "truncated (input ends "
					    "inside a member)");
			err = fill(ar);
			if (err)
				return err;
			continue;
		}
		k = ar->end - ar->pos;
		if (k > n - got)
			k = n - got;
		if (dst)
			memcpy((uint8_t *)dst + got, ar->buf + ar->pos, k);
		ar->pos += k;
		got += k;
	}
	return 1;
}

int ec_archive_reader_new(int fd, enum ec_archive_format f,
			  struct ec_archive_reader **out)
{
	struct ec_archive_reader *ar = calloc(1, sizeof(*ar));

	*out = NULL;
	if (!ar)
		return -ENOMEM;
	ar->buf = ec_secure_alloc(READ_BUF);
	if (!ar->buf) {
		free(ar);
		return -ENOMEM;
	}
	ar->fd = fd;
	ar->format = f;
	ar->error = "";
	*out = ar;
	return 0;
}

static void clear_pending(struct ec_archive_reader *ar)
{
	free(ar->pax_path);
	free(ar->longname);
	ar->pax_path = ar->longname = NULL;
	ec_record_release(&ar->pending);
	ar->has_pax_size = false;
}

void ec_archive_reader_free(struct ec_archive_reader *ar)
{
	if (!ar)
		return;
	clear_pending(ar);
	ec_secure_free(ar->buf);
	free(ar);
}

enum ec_archive_format ec_archive_reader_format(
	const struct ec_archive_reader *ar)
{
	return ar->format;
}

const char *ec_archive_error(const struct ec_archive_reader *ar)
{
	return ar->error;
}

size_t ec_archive_position(const struct ec_archive_reader *ar)
{
	return ar->position;
}

/* Decide AUTO by the first bytes. */
static int detect(struct ec_archive_reader *ar)
{
	size_t i;
	int err;

	while (!ar->eof && ar->end - ar->pos < BLOCK) {
		size_t before = ar->end - ar->pos;

		err = fill(ar);
		if (err)
			return err;
		if (ar->end - ar->pos == before && ar->eof)
			break;
	}
	for (i = ar->pos; i < ar->end; i++)
		if (!strchr(" \t\r\n", ar->buf[i]))
			break;
	if (i == ar->end || ar->buf[i] == '{') {
		ar->format = EC_ARCHIVE_JSONL;
		return 0;
	}
	if (ar->end - ar->pos >= BLOCK) {
		const uint8_t *b = ar->buf + ar->pos;
		bool zero = true;

		for (i = 0; i < BLOCK && zero; i++)
			zero = b[i] == 0;
		if (zero || memcmp(b + 257, "ustar", 5) == 0) {
			ar->format = EC_ARCHIVE_TAR;
			return 0;
		}
	}
	return bad(ar, "neither a tar archive nor JSON lines");
}


/* ---- tar -------------------------------------------------------------- */

static bool all_zero(const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* A numeric field: octal digits (spaces and NULs around them), or GNU's
 * base-256 (high bit of the first byte set, positive only). */
static int number(const uint8_t *f, size_t w, uint64_t *v)
{
	size_t i = 0;
	bool digits = false;

	*v = 0;
	if (f[0] & 0x80) {
		if (f[0] != 0x80)
			return -1;	/* negative, or too big */
		for (i = 1; i < w; i++) {
			if (*v >> 56)
				return -1;
			*v = *v << 8 | f[i];
		}
		return 0;
	}
	while (i < w && f[i] == ' ')
		i++;
	for (; i < w && f[i] >= '0' && f[i] <= '7'; i++) {
		if (*v >> 61)
			return -1;
		*v = *v << 3 | (uint64_t)(f[i] - '0');
		digits = true;
	}
	for (; i < w; i++)
		if (f[i] != ' ' && f[i] != '\0')
			return -1;
	return digits ? 0 : -1;
}

/* The header checksum: the unsigned sum (or, for old writers, the signed
 * one) of the block with the checksum field taken as spaces. */
static bool checksum_ok(const uint8_t *b)
{
	uint64_t want;
	unsigned long u = 0;
	long s = 0;
	size_t i;

	if (number(b + 148, 8, &want) < 0)
		return false;
	for (i = 0; i < BLOCK; i++) {
		uint8_t c = i >= 148 && i < 156 ? ' ' : b[i];

		u += c;
		s += (signed char)c;
	}
	return want == u || (long)want == s;
}

/* size bytes of an extended header (and its padding) into *out, malloc'd
 * and NUL-terminated.  max: the largest accepted. */
static int read_blob(struct ec_archive_reader *ar, uint64_t size,
		     size_t max, char **out)
{
	char *p;
	int rc;

	*out = NULL;
	if (size > max)
		return -EC_ETOOBIG;
	p = malloc((size_t)size + 1);
	if (!p)
		return -ENOMEM;
	rc = take(ar, p, (size_t)size);
	if (rc == 1)
		rc = take(ar, NULL, (BLOCK - size % BLOCK) % BLOCK);
	if (rc == 0)
		rc = bad(ar, "truncated (input ends inside a member)");
	if (rc < 0) {
		free(p);
		return rc;
	}
	p[size] = '\0';
	*out = p;
	return 0;
}

static int set_string(struct ec_archive_reader *ar, char **dst,
		      const char *val, size_t n)
{
	if (memchr(val, '\0', n))
		return bad(ar, "a pax record holds a NUL byte");
	free(*dst);
	*dst = strndup(val, n);
	return *dst ? 0 : -ENOMEM;
}

/* One pax keyword=value for the next member. */
static int pax_one(struct ec_archive_reader *ar, const char *key,
		   const char *val, size_t n)
{
	static const char *const names[] = {
		"key", "created_at", "comment", "validasof",
	};
	char **dst[] = {
		&ar->pending.key, &ar->pending.created_at,
		&ar->pending.comment, &ar->pending.validasof,
	};
	size_t i;

	if (!strcmp(key, "path"))
		return set_string(ar, &ar->pax_path, val, n);
	if (!strcmp(key, "size")) {
		uint64_t v = 0;

		for (i = 0; i < n; i++) {
			if (val[i] < '0' || val[i] > '9' || v > UINT64_MAX / 10)
				return bad(ar, "a pax size is not a number");
			v = v * 10 + (uint64_t)(val[i] - '0');
		}
		if (n == 0)
			return bad(ar, "a pax size is not a number");
		ar->pax_size = v;
		ar->has_pax_size = true;
		return 0;
	}
	if (strncmp(key, XATTR, sizeof(XATTR) - 1) != 0)
		return 0;	/* mtime, uname, other vendors': not ours */
	for (i = 0; i < sizeof(names) / sizeof(*names); i++)
		if (!strcmp(key + sizeof(XATTR) - 1, names[i]))
			return set_string(ar, dst[i], val, n);
	return 0;
}

/* Records "<len> <keyword>=<value>\n" of a pax header p[0..n). */
static int pax_parse(struct ec_archive_reader *ar, char *p, size_t n)
{
	while (n > 0) {
		size_t len = 0, i = 0;
		char *kv, *eq;
		int err;

		while (i < n && i < 20 && p[i] >= '0' && p[i] <= '9')
			len = len * 10 + (size_t)(p[i++] - '0');
		if (i == 0 || i >= n || p[i] != ' ' || len <= i + 1 ||
		    len > n || p[len - 1] != '\n')
			return bad(ar, "a malformed pax header");
		kv = p + i + 1;
		p[len - 1] = '\0';
		eq = memchr(kv, '=', (size_t)(p + len - 1 - kv));
		if (!eq || eq == kv)
			return bad(ar, "a malformed pax header");
		*eq = '\0';
		err = pax_one(ar, kv, eq + 1, (size_t)(p + len - 1 - (eq + 1)));
		if (err)
			return err;
		p += len;
		n -= len;
	}
	return 0;
}

/* The member's name: pax path, else GNU long name, else prefix/name. */
static char *member_name(struct ec_archive_reader *ar, const uint8_t *h)
{
	const char *n = (const char *)h;
	char buf[256 + 1];
	size_t nl = strnlen(n, 100), pl = 0;

	if (ar->pax_path)
		return strdup(ar->pax_path);
	if (ar->longname)
		return strdup(ar->longname);
	if (memcmp(h + 257, "ustar", 5) == 0)
		pl = strnlen(n + 345, 155);
	if (pl)
		snprintf(buf, sizeof(buf), "%.*s/%.*s", (int)pl, n + 345,
			 (int)nl, n);
	else
		snprintf(buf, sizeof(buf), "%.*s", (int)nl, n);
	return strdup(buf);
}

/* A leading "./" (any number) is not part of the id. */
static void strip_dot(char *name)
{
	size_t k = 0;

	while (name[k] == '.' && name[k + 1] == '/') {
		k += 2;
		while (name[k] == '/')
			k++;
	}
	memmove(name, name + k, strlen(name + k) + 1);
}

/* The data of a regular member into r (ids and metadata taken from the
 * pending pax state). */
static int tar_entry(struct ec_archive_reader *ar, char *name, uint64_t size,
		     struct ec_record *r)
{
	int rc;

	if (size > EC_ENVELOPE_MAX) {
		free(name);
		return -EC_ETOOBIG;
	}
	*r = ar->pending;
	memset(&ar->pending, 0, sizeof(ar->pending));
	r->id = name;
	r->len = (size_t)size;
	r->data = ec_secure_alloc(r->len);
	if (!r->data) {
		ec_record_release(r);
		return -ENOMEM;
	}
	rc = take(ar, r->data, r->len);
	if (rc == 1)
		rc = take(ar, NULL, (BLOCK - size % BLOCK) % BLOCK);
	if (rc == 0)
		rc = bad(ar, "truncated (input ends inside a member)");
	if (rc < 0) {
		ec_record_release(r);
		return rc;
	}
	return 1;
}

/* What a member of this type is after its header block h. */
static int tar_member(struct ec_archive_reader *ar, const uint8_t *h,
		      struct ec_record *r)
{
	char type = (char)h[156], *blob = NULL, *name;
	uint64_t size;
	size_t nlen;
	int err;

	if (number(h + 124, 12, &size) < 0)
		return bad(ar, "a member's size is not a number");
	if (type == 'x' || type == 'g' || type == 'L' || type == 'K') {
		err = read_blob(ar, size, type == 'L' || type == 'K' ?
				LONGNAME_MAX : PAX_MAX, &blob);
		if (err)
			return err;
		if (type == 'x')
			err = pax_parse(ar, blob, (size_t)size);
		if (type == 'L') {
			free(ar->longname);
			ar->longname = blob;
			blob = NULL;
		}
		free(blob);
		return err ? err : 3;	/* not a member: go on */
	}
	ar->position++;
	if (ar->has_pax_size)
		size = ar->pax_size;
	name = member_name(ar, h);
	if (!name)
		return -ENOMEM;
	strip_dot(name);
	nlen = strlen(name);
	if (type == '0' || type == '\0' || type == '7') {
		if (nlen > 0 && name[nlen - 1] != '/') {
			err = tar_entry(ar, name, size, r);
			clear_pending(ar);
			return err;
		}
		type = '5';	/* an old-style directory */
	}
	/* Not an entry: skip its data (none for links and devices). */
	if (type == '1' || type == '2' || type == '3' || type == '4' ||
	    type == '6')
		size = 0;
	err = take(ar, NULL, (size_t)((size + BLOCK - 1) / BLOCK * BLOCK));
	clear_pending(ar);
	if (err == 0)
		err = bad(ar, "truncated (input ends inside a member)");
	if (err < 0) {
		free(name);
		return err;
	}
	if (type == '5' || nlen == 0) {
		free(name);
		return 3;
	}
	r->id = name;
	return 2;
}

static int tar_next(struct ec_archive_reader *ar, struct ec_record *r)
{
	uint8_t h[BLOCK];

	for (;;) {
		int rc = take(ar, h, BLOCK);

		if (rc < 0)
			return rc;
		if (rc == 0)
			return bad(ar, "truncated (no end-of-archive marker)");
		if (all_zero(h, BLOCK)) {
			clear_pending(ar);
			return 0;	/* the end; a second zero block may follow */
		}
		if (!checksum_ok(h))
			return bad(ar, "a header's checksum is wrong (not a "
				   "tar archive, or damaged)");
		rc = tar_member(ar, h, r);
		if (rc != 3)
			return rc;
	}
}

/* ---- jsonl ------------------------------------------------------------ */

/* The next line (without its '\n') into line.  1, 0 at the end, <0. */
static int read_line(struct ec_archive_reader *ar, struct ec_sbuf *line)
{
	int err;

	line->len = 0;
	for (;;) {
		const uint8_t *nl;
		size_t k;

		if (ar->pos == ar->end) {
			if (ar->eof)
				return line->len > 0;
			err = fill(ar);
			if (err)
				return err;
			continue;
		}
		nl = memchr(ar->buf + ar->pos, '\n', ar->end - ar->pos);
		k = nl ? (size_t)(nl - (ar->buf + ar->pos)) : ar->end - ar->pos;
		if (line->len + k > LINE_MAX_BYTES)
			return -EC_ETOOBIG;
		err = ec_sbuf_append(line, ar->buf + ar->pos, k);
		if (err)
			return err;
		ar->pos += k + (nl ? 1 : 0);
		if (nl)
			return 1;
	}
}

/* A string member (absent or null: NULL). */
static int jfield(struct ec_archive_reader *ar, struct json_object *o,
		  const char *name, bool required, char **out)
{
	struct json_object *v = NULL;

	*out = NULL;
	if (!json_object_object_get_ex(o, name, &v) || !v) {
		if (!required)
			return 0;
		snprintf(ar->msg, sizeof(ar->msg), "no \"%s\" string", name);
		return bad(ar, ar->msg);
	}
	if (!json_object_is_type(v, json_type_string) ||
	    memchr(json_object_get_string(v), '\0',
		   (size_t)json_object_get_string_len(v))) {
		snprintf(ar->msg, sizeof(ar->msg), "\"%s\" is not a string",
			 name);
		return bad(ar, ar->msg);
	}
	*out = strdup(json_object_get_string(v));
	return *out ? 0 : -ENOMEM;
}

/* data (base64) and size (when present, its length) into r. */
static int jdata(struct ec_archive_reader *ar, struct json_object *o,
		 struct ec_record *r)
{
	struct ec_sbuf d = EC_SBUF_INIT;
	struct json_object *v = NULL, *sz = NULL;
	size_t dlen = 0;
	int err;

	if (!json_object_object_get_ex(o, "data", &v) ||
	    !json_object_is_type(v, json_type_string))
		return bad(ar, "no \"data\" string");
	err = ec_view_b64_decode(json_object_get_string(v),
				 (size_t)json_object_get_string_len(v), &d,
				 &dlen);
	if (err == -EINVAL)
		return bad(ar, "\"data\" is not base64");
	if (err)
		return err;
	if (json_object_object_get_ex(o, "size", &sz) && sz &&
	    (!json_object_is_type(sz, json_type_int) ||
	     json_object_get_int64(sz) < 0 ||
	     (uint64_t)json_object_get_int64(sz) != dlen)) {
		ec_sbuf_release(&d);
		return bad(ar, "\"size\" is not the length of \"data\"");
	}
	ec_sbuf_detach(&d, &r->data, &r->len);
	r->len = dlen;
	return 0;
}

static int jsonl_record(struct ec_archive_reader *ar, const uint8_t *p,
			size_t n, struct ec_record *r)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o = NULL;
	size_t end;
	int err = -ENOMEM;

	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
			       JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, (const char *)p, (int)n);
	end = o ? json_tokener_get_parse_end(tok) : 0;
	while (o && end < n && strchr(" \t\r", p[end]))
		end++;
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    end != n || !json_object_is_type(o, json_type_object)) {
		err = bad(ar, "not a JSON object");
		goto out;
	}
	err = jfield(ar, o, "id", true, &r->id);
	if (!err)
		err = jfield(ar, o, "key", false, &r->key);
	if (!err)
		err = jfield(ar, o, "created_at", false, &r->created_at);
	if (!err)
		err = jfield(ar, o, "comment", false, &r->comment);
	if (!err)
		err = jfield(ar, o, "validasof", false, &r->validasof);
	if (!err)
		err = jdata(ar, o, r);
out:
	json_object_put(o);	/* the base64 text: ordinary heap */
	json_tokener_free(tok);
	if (err)
		ec_record_release(r);
	return err ? err : 1;
}

static int jsonl_next(struct ec_archive_reader *ar, struct ec_record *r)
{
	struct ec_sbuf line = EC_SBUF_INIT;
	int rc;

	for (;;) {
		size_t i;

		rc = read_line(ar, &line);
		if (rc <= 0)
			break;
		ar->position++;
		for (i = 0; i < line.len && strchr(" \t\r", line.p[i]); i++)
			;
		if (i == line.len)
			continue;	/* a blank line */
		rc = jsonl_record(ar, line.p, line.len, r);
		break;
	}
	ec_sbuf_release(&line);
	return rc;
}

/* ---- both ------------------------------------------------------------- */

int ec_archive_next(struct ec_archive_reader *ar, struct ec_record *r)
{
	int err;

	memset(r, 0, sizeof(*r));
	ar->error = "";
	if (ar->format == EC_ARCHIVE_AUTO) {
		err = detect(ar);
		if (err)
			return err;
	}
	return ar->format == EC_ARCHIVE_TAR ? tar_next(ar, r) :
	       jsonl_next(ar, r);
}
