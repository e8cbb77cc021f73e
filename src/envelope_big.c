/*
 * envelope_big: the envelope module's part for big entries (envelope.h):
 * the bplist payload framed around data that is never copied, found in a
 * decrypted payload in place, the JSON around a token written in a
 * stream, and the tag of a version.  No I/O, no crypto but the tag.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "envelope.h"
#include "error.h"
#include "secure.h"

/* ---- big payloads and envelopes, without copies --------------------------- */

int ec_envelope_serialize_split(const struct ec_envelope *env, char **head,
				size_t *headlen, char **tail, size_t *taillen)
{
	static const char member[] = "\"encrypted\": \"\"";
	struct ec_envelope e = *env;
	char *all = NULL, *at;
	size_t len = 0, h;
	int ret;

	*head = *tail = NULL;
	e.encrypted = (char *)"";
	ret = ec_envelope_serialize(&e, &all, &len);
	if (ret)
		return ret;
	/* Values are escaped strings: the bare member occurs only as it. */
	at = strstr(all, member);
	if (!at) {
		free(all);
		return -EIO;
	}
	h = (size_t)(at - all) + sizeof(member) - 2;	/* up to the '"' */
	*head = strndup(all, h);
	*tail = strdup(all + h);
	free(all);
	if (!*head || !*tail) {
		free(*head);
		free(*tail);
		*head = *tail = NULL;
		return -ENOMEM;
	}
	*headlen = h;
	*taillen = len - h;
	return 0;
}

/* A bplist length or count: in the marker when short, else an int. */
static size_t put_count(uint8_t *p, uint8_t kind, uint64_t n)
{
	int bytes, i;

	if (n < 15) {
		p[0] = (uint8_t)(kind | n);
		return 1;
	}
	p[0] = kind | 0x0f;
	bytes = n <= 0xff ? 1 : n <= 0xffff ? 2 : n <= 0xffffffffu ? 4 : 8;
	p[1] = (uint8_t)(0x10 | (bytes == 1 ? 0 : bytes == 2 ? 1 :
				 bytes == 4 ? 2 : 3));
	for (i = 0; i < bytes; i++)
		p[2 + i] = (uint8_t)(n >> (8 * (bytes - 1 - i)));
	return (size_t)2 + (size_t)bytes;
}

static size_t put_ascii(uint8_t *p, const char *s)
{
	size_t n = strlen(s), k = put_count(p, 0x50, n);

	memcpy(p + k, s, n);
	return k + n;
}

static void put_be(uint8_t *p, uint64_t v, int bytes)
{
	int i;

	for (i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
}

/*
 * Objects: 0 the dict, 1 "data", [2 "validasof_datetime"], then the data,
 * [then the validasof string], as plistlib numbers them (keys, then
 * values); one-byte references, offsets as wide as the largest needs.
 */
int ec_payload_frame(size_t len, const char *validasof, uint8_t *pre,
		     size_t *prelen, uint8_t *post, size_t *postlen)
{
	uint64_t off[5];
	size_t n = 0, q = 0, nobj = validasof ? 5 : 3, i, datastart;
	int osize;

	if (len > EC_ENVELOPE_MAX * (size_t)64)
		return -EC_ETOOBIG;
	if (validasof) {
		for (i = 0; validasof[i]; i++)
			if ((unsigned char)validasof[i] >= 0x80)
				return -EAGAIN;
		if (i > 100)
			return -EAGAIN;
	}
	memcpy(pre, "bplist00", 8);
	n = 8;
	off[0] = n;
	pre[n++] = (uint8_t)(0xd0 | (validasof ? 2 : 1));
	pre[n++] = 1;			/* key "data" */
	if (validasof)
		pre[n++] = 2;		/* key "validasof_datetime" */
	pre[n++] = validasof ? 3 : 2;	/* the data */
	if (validasof)
		pre[n++] = 4;		/* the text */
	off[1] = n;
	n += put_ascii(pre + n, "data");
	if (validasof) {
		off[2] = n;
		n += put_ascii(pre + n, "validasof_datetime");
	}
	off[validasof ? 3 : 2] = n;
	n += put_count(pre + n, 0x40, len);
	datastart = n;
	if (validasof) {
		off[4] = datastart + len;
		q += put_ascii(post + q, validasof);
	}
	/* The offset table follows the last object. */
	{
		uint64_t table = datastart + len + q;

		osize = table <= 0xff ? 1 : table <= 0xffff ? 2 :
			table <= 0xffffffffu ? 4 : 8;
		for (i = 0; i < nobj; i++, q += (size_t)osize)
			put_be(post + q, off[i], osize);
		memset(post + q, 0, 6);
		post[q + 6] = (uint8_t)osize;
		post[q + 7] = 1;		/* reference size */
		put_be(post + q + 8, nobj, 8);
		put_be(post + q + 16, 0, 8);	/* top object */
		put_be(post + q + 24, table, 8);
		q += 32;
	}
	*prelen = n;
	*postlen = q;
	return 0;
}

static uint64_t get_be(const uint8_t *p, unsigned bytes)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < bytes; i++)
		v = v << 8 | p[i];
	return v;
}

/* A length after marker m at p (object bounds: end); 0 on a bad one. */
static bool get_count(const uint8_t *p, const uint8_t *end, uint64_t *n,
		      size_t *hdr)
{
	unsigned bytes;

	if (p >= end)
		return false;
	if ((p[0] & 0x0f) != 0x0f) {
		*n = p[0] & 0x0f;
		*hdr = 1;
		return true;
	}
	if (end - p < 2 || (p[1] & 0xf0) != 0x10 || (p[1] & 0x0f) > 3)
		return false;
	bytes = 1u << (p[1] & 0x0f);
	if ((size_t)(end - p) < 2 + bytes)
		return false;
	*n = get_be(p + 2, bytes);
	*hdr = 2 + bytes;
	return true;
}

/* Object ref's start in pt, or NULL when out of bounds. */
static const uint8_t *object_at(const uint8_t *pt, size_t ptlen,
				const uint8_t *table, unsigned osize,
				uint64_t nobj, uint64_t ref)
{
	uint64_t o;

	if (ref >= nobj)
		return NULL;
	o = get_be(table + ref * osize, osize);
	return o >= 8 && o < ptlen ? pt + o : NULL;
}

int ec_payload_locate(const uint8_t *pt, size_t ptlen, size_t *off,
		      size_t *len, char **validasof)
{
	const uint8_t *tr, *table, *end = pt + ptlen, *dict, *o;
	uint64_t nobj, top, toff, count, n;
	unsigned osize, rsize, i;
	size_t hdr, dhdr;
	bool got = false;

	*validasof = NULL;
	if (ptlen < 8 + 32 || memcmp(pt, "bplist00", 8) != 0)
		return -EC_EPLIST;
	tr = end - 32;
	osize = tr[6];
	rsize = tr[7];
	nobj = get_be(tr + 8, 8);
	top = get_be(tr + 16, 8);
	toff = get_be(tr + 24, 8);
	if (rsize != 1 || (osize != 1 && osize != 2 && osize != 4 &&
			   osize != 8) || nobj > 16 || toff < 8 ||
	    toff > ptlen - 32 || nobj * osize > ptlen - 32 - toff)
		return -EAGAIN;
	table = pt + toff;
	dict = object_at(pt, ptlen, table, osize, nobj, top);
	if (!dict || (dict[0] & 0xf0) != 0xd0 ||
	    !get_count(dict, tr, &count, &dhdr) || count > 8 ||
	    (size_t)(tr - dict) < dhdr + 2 * count)
		return -EAGAIN;
	for (i = 0; i < count; i++) {
		const uint8_t *k = object_at(pt, ptlen, table, osize, nobj,
					     dict[dhdr + i]);
		const uint8_t *v = object_at(pt, ptlen, table, osize, nobj,
					     dict[dhdr + count + i]);

		if (!k || !v || (k[0] & 0xf0) != 0x50 ||
		    !get_count(k, tr, &n, &hdr) || hdr + n > (size_t)(tr - k))
			goto other;
		if (n == 4 && !memcmp(k + hdr, "data", 4)) {
			if ((v[0] & 0xf0) != 0x40 ||
			    !get_count(v, tr, &n, &hdr) ||
			    n > (uint64_t)(tr - v) - hdr)
				goto other;
			*off = (size_t)(v - pt) + hdr;
			*len = (size_t)n;
			got = true;
		} else if (n == 18 && !memcmp(k + hdr, "validasof_datetime",
					       18)) {
			if ((v[0] & 0xf0) != 0x50 ||
			    !get_count(v, tr, &n, &hdr) ||
			    n > (uint64_t)(tr - v) - hdr)
				goto other;
			for (o = v + hdr; o < v + hdr + n; o++)
				if (*o == 0 || *o >= 0x80)
					goto other;
			free(*validasof);
			*validasof = strndup((const char *)v + hdr, (size_t)n);
			if (!*validasof)
				return -ENOMEM;
		}
	}
	if (got)
		return 0;
other:
	free(*validasof);
	*validasof = NULL;
	return -EAGAIN;
}

int ec_payload_take(uint8_t *pt, size_t ptlen, uint8_t **data, size_t *len,
		    char **validasof)
{
	size_t off = 0, n = 0;
	int err = ec_payload_locate(pt, ptlen, &off, &n, validasof);

	if (err == -EAGAIN) {
		err = ec_payload_unpack(pt, ptlen, data, len, validasof);
		ec_secure_free(pt);
		return err;
	}
	if (err) {
		ec_secure_free(pt);
		*data = NULL;
		*len = 0;
		return err;
	}
	ec_secure_wipe(pt + off + n, ptlen - off - n);
	*data = ec_secure_drop_front(pt, off, off + n);
	*len = n;
	return 0;
}

uint64_t ec_envelope_tag(const void *buf, size_t len)
{
	unsigned char h[crypto_generichash_BYTES_MIN];
	uint64_t d = 0;
	size_t i;

	crypto_generichash(h, sizeof(h), buf, len, NULL, 0);
	for (i = 0; i < 8; i++)	/* (16 bytes is BLAKE2b's least) */
		d = d << 8 | h[i];
	return d;
}
