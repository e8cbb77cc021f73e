/*
 * archive: export records as pax tar members or JSON lines (writing;
 * archive_read.c reads them back).
 *
 * Tar follows POSIX.1-2001 (pax): a typeflag 'x' header whose records
 * ("<len> <keyword>=<value>\n") carry the path and our metadata, then a
 * ustar header and the data in 512-byte blocks.  The reader takes what
 * GNU tar, bsdtar and Python's tarfile write: pax 'x' and 'g' headers, GNU
 * long names ('L'), base-256 sizes; directories are skipped.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "error.h"
#include "ttl.h"
#include "view.h"

#define BLOCK 512
#define XATTR "SCHILY.xattr.user.enccache."
#define USTAR_SIZE_MAX 077777777777ULL	/* 11 octal digits */

void ec_record_release(struct ec_record *r)
{
	free(r->id);
	free(r->key);
	free(r->created_at);
	free(r->comment);
	free(r->validasof);
	ec_secure_free(r->data);
	memset(r, 0, sizeof(*r));
}

int ec_archive_format_parse(const char *name, int allow_auto,
			    enum ec_archive_format *f)
{
	if (!strcmp(name, "tar"))
		*f = EC_ARCHIVE_TAR;
	else if (!strcmp(name, "jsonl"))
		*f = EC_ARCHIVE_JSONL;
	else if (allow_auto && !strcmp(name, "auto"))
		*f = EC_ARCHIVE_AUTO;
	else
		return -EINVAL;
	return 0;
}

/* ---- tar: writing ----------------------------------------------------- */

/* One pax record "<len> key=value\n", len counting itself. */
static int pax_add(struct ec_sbuf *pax, const char *key, const char *val)
{
	size_t body = 1 + strlen(key) + 1 + strlen(val) + 1, len = body, d;
	char num[32];
	int n, err;

	/* len = digits(len) + body: at most two tries settle it */
	for (d = 1;; d++) {
		n = snprintf(num, sizeof(num), "%zu", body + d);
		if ((size_t)n == d)
			break;
	}
	len = body + d;
	n = snprintf(num, sizeof(num), "%zu ", len);
	err = ec_sbuf_append(pax, num, (size_t)n);
	if (!err)
		err = ec_sbuf_append(pax, key, strlen(key));
	if (!err)
		err = ec_sbuf_append(pax, "=", 1);
	if (!err)
		err = ec_sbuf_append(pax, val, strlen(val));
	if (!err)
		err = ec_sbuf_append(pax, "\n", 1);
	return err;
}

/* An octal field of width w (w - 1 digits and a NUL). */
static void octal(char *field, size_t w, uint64_t v)
{
	snprintf(field, w, "%0*" PRIo64, (int)(w - 1), v);
}

/* A ustar header for name (truncated; pax carries the whole one). */
static void header(uint8_t block[BLOCK], const char *name, uint64_t size,
		   uint64_t mtime, char type)
{
	char *h = (char *)block;
	unsigned sum = 0;
	size_t i, n = strlen(name);

	memset(block, 0, BLOCK);
	memcpy(h, name, n < 100 ? n : 100);
	octal(h + 100, 8, 0600);
	octal(h + 108, 8, 0);
	octal(h + 116, 8, 0);
	octal(h + 124, 12, size);
	octal(h + 136, 12, mtime > 077777777777ULL ? 077777777777ULL : mtime);
	h[156] = type;
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8);
	for (i = 0; i < BLOCK; i++)
		sum += block[i];
	snprintf(h + 148, 8, "%06o", sum);	/* then NUL and ' ' */
	h[155] = ' ';
}

static int pad(struct ec_sbuf *out, size_t n)
{
	static const uint8_t zero[BLOCK];

	n %= BLOCK;
	return n ? ec_sbuf_append(out, zero, BLOCK - n) : 0;
}

/* mtime as pax text: seconds with a fraction when there is one. */
static void pax_time(int64_t us, char buf[40])
{
	int64_t sec = us / 1000000, frac = us % 1000000;

	if (frac < 0) {
		frac += 1000000;
		sec--;
	}
	if (frac)
		snprintf(buf, 40, "%" PRId64 ".%06" PRId64, sec, frac);
	else
		snprintf(buf, 40, "%" PRId64, sec);
}

static int pax_records(struct ec_sbuf *pax, const struct ec_record *r,
		       int64_t mtime_us)
{
	char t[40];
	int err;

	err = pax_add(pax, "path", r->id);
	if (!err && r->len > USTAR_SIZE_MAX) {
		snprintf(t, sizeof(t), "%zu", r->len);
		err = pax_add(pax, "size", t);
	}
	if (!err && mtime_us != EC_TIME_NONE) {
		pax_time(mtime_us, t);
		err = pax_add(pax, "mtime", t);
	}
	if (!err && r->key)
		err = pax_add(pax, XATTR "key", r->key);
	if (!err && r->created_at)
		err = pax_add(pax, XATTR "created_at", r->created_at);
	if (!err && r->comment)
		err = pax_add(pax, XATTR "comment", r->comment);
	if (!err && r->validasof)
		err = pax_add(pax, XATTR "validasof", r->validasof);
	return err;
}

int ec_archive_put_tar(struct ec_sbuf *out, const struct ec_record *r,
		       int64_t mtime_us)
{
	struct ec_sbuf pax = EC_SBUF_INIT;
	uint8_t block[BLOCK];
	char pname[100];
	const char *leaf;
	uint64_t mtime;
	int err;

	if (!r->id || !*r->id)
		return -EINVAL;
	err = pax_records(&pax, r, mtime_us);
	if (err)
		goto out;
	leaf = strrchr(r->id, '/');
	snprintf(pname, sizeof(pname), "PaxHeaders/%s", leaf ? leaf + 1 : r->id);
	mtime = mtime_us == EC_TIME_NONE || mtime_us < 0 ? 0 :
		(uint64_t)(mtime_us / 1000000);
	header(block, pname, pax.len, mtime, 'x');
	err = ec_sbuf_append(out, block, BLOCK);
	if (!err)
		err = ec_sbuf_append(out, pax.p, pax.len);
	if (!err)
		err = pad(out, pax.len);
	if (err)
		goto out;
	/* beyond 11 octal digits the pax size record says it */
	header(block, r->id, r->len > USTAR_SIZE_MAX ? 0 : r->len, mtime, '0');
	err = ec_sbuf_append(out, block, BLOCK);
	if (!err && r->len)
		err = ec_sbuf_append(out, r->data, r->len);
	if (!err)
		err = pad(out, r->len);
out:
	ec_sbuf_release(&pax);
	return err;
}

int ec_archive_put_tar_end(struct ec_sbuf *out)
{
	static const uint8_t zero[2 * BLOCK];

	return ec_sbuf_append(out, zero, sizeof(zero));
}

/* ---- jsonl: writing --------------------------------------------------- */

static bool utf8_or_null(const char *s)
{
	return !s || ec_view_is_utf8(s, strlen(s));
}

/* A json-c string, or null for NULL. */
static struct json_object *jstr(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

int ec_archive_put_jsonl(struct ec_sbuf *out, const struct ec_record *r)
{
	static const char tail[] = ", \"data\": \"";
	struct json_object *o;
	const char *text;
	size_t n;
	int err = -ENOMEM;

	if (!r->id || !utf8_or_null(r->id) || !utf8_or_null(r->key) ||
	    !utf8_or_null(r->created_at) || !utf8_or_null(r->comment) ||
	    !utf8_or_null(r->validasof))
		return -EC_EUTF8;
	o = json_object_new_object();
	if (!o)
		return -ENOMEM;
	if (json_object_object_add(o, "id", jstr(r->id)) ||
	    json_object_object_add(o, "key", jstr(r->key)) ||
	    json_object_object_add(o, "created_at", jstr(r->created_at)) ||
	    json_object_object_add(o, "comment", jstr(r->comment)) ||
	    json_object_object_add(o, "validasof", jstr(r->validasof)) ||
	    json_object_object_add(o, "size",
				   json_object_new_uint64(r->len)))
		goto out;
	/* The metadata through json-c, then the data's base64 spliced in
	 * before the closing brace: the plaintext stays in guarded memory. */
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_SPACED |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text)
		goto out;
	/* SPACED is "{ ... }": the line is '{', the members, the data */
	n = strlen(text);
	while (n > 0 && (text[n - 1] == '}' || text[n - 1] == ' '))
		n--;
	err = n < 2 ? -EINVAL : ec_sbuf_append(out, "{", 1);
	if (!err)
		err = ec_sbuf_append(out, text + 2, n - 2);
	if (!err)
		err = ec_sbuf_append(out, tail, sizeof(tail) - 1);
	if (!err)
		err = ec_view_b64_encode(out, r->data, r->len);
	if (!err)
		err = ec_sbuf_append(out, "\"}\n", 3);
out:
	json_object_put(o);
	return err;
}
