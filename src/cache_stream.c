/*
 * cache_stream: big envelopes (EC_STREAM_MIN bytes and more) read and
 * written in one pass, so that an entry's plaintext is held once, never
 * the envelope, the raw token or the ciphertext as well.
 *
 * Reading: the file is read in pieces.  A small JSON scanner copies every
 * byte but the token's characters into a skeleton (the envelope with
 * "encrypted": ""), which ec_envelope_parse() checks as for any envelope,
 * and feeds the token's characters to the streaming Fernet decoder
 * (fernet_stream.c) as they come, once the key is known: the skeleton so
 * far, closed with "\"}", names it (json.dump writes "key" first).  When
 * it does not (another key order), the token is read again after the
 * scan.  The decoder gives out the plaintext only once the MAC checked
 * out; the file's identity (size, mtime, ctime) is compared before and
 * after, so an envelope rewritten in place while it was read is "corrupt"
 * for now (the daemon reads it again), never a mix.
 *
 * Writing: the payload is the data between two short frames (no copy),
 * sealed in pieces by the streaming encoder straight into the temp file,
 * between the envelope's JSON head and tail.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cache_int.h"
#include "error.h"
#include "fernet.h"
#include "secure.h"

#define PIECE ((size_t)1 << 20)	/* bytes read at a time */
#define SKELETON_MAX ((size_t)1 << 20)	/* the JSON around the token */

struct scan {
	const struct ec_cache *c;
	size_t cap;		/* most plaintext the file can hold */
	char *skel;		/* malloc'd; NUL-terminated */
	size_t slen, scap;
	int depth;
	bool in_str, esc;
	bool name_next;		/* depth 1: the next string is a name */
	bool in_name, name_enc;	/* reading a name; it is "encrypted" */
	size_t nlen;
	bool want_token;	/* after "encrypted": */
	bool in_token, had_token;
	uint64_t tok_off, tok_len;	/* where the token's text lies */
	char tail[EC_TAG_TAIL];	/* its last characters */
	size_t ntail;
	const struct ec_key *key;	/* known when the token began */
	struct ec_fernet_dec *dec;
	bool tag_only;		/* ec_cache_big_tag: nothing decoded */
	int err;
};

static int skel_put(struct scan *s, const char *p, size_t n)
{
	if (s->slen + n + 1 > s->scap) {
		size_t cap = s->scap ? s->scap * 2 : 4096;
		char *q;

		while (cap < s->slen + n + 1)
			cap *= 2;
		if (cap > SKELETON_MAX)
			return -EC_ETOOBIG;
		q = realloc(s->skel, cap);
		if (!q)
			return -ENOMEM;
		s->skel = q;
		s->scap = cap;
	}
	memcpy(s->skel + s->slen, p, n);
	s->slen += n;
	s->skel[s->slen] = '\0';
	return 0;
}

/* The token begins: find its key from the skeleton so far, closed. */
static void token_begins(struct scan *s)
{
	struct ec_envelope env;

	s->in_token = true;
	s->had_token = true;
	if (s->tag_only || skel_put(s, "\"}", 2) != 0)
		return;
	if (ec_envelope_parse(s->skel, s->slen, &env) == 0) {
		s->key = ec_keyring_find(&s->c->keys, env.key);
		ec_envelope_release(&env);
	}
	s->slen -= 2;
	s->skel[s->slen] = '\0';
	if (s->key && ec_fernet_dec_new(s->key->key, s->cap, &s->dec) != 0)
		s->key = NULL;
}

/* Token characters [p, p + n): to the decoder, and the last ones kept. */
static int token_text(struct scan *s, const char *p, size_t n)
{
	size_t keep;

	s->tok_len += n;
	if (n >= EC_TAG_TAIL) {
		memcpy(s->tail, p + n - EC_TAG_TAIL, EC_TAG_TAIL);
		s->ntail = EC_TAG_TAIL;
	} else {
		keep = s->ntail + n > EC_TAG_TAIL ? EC_TAG_TAIL - n : s->ntail;
		memmove(s->tail, s->tail + s->ntail - keep, keep);
		memcpy(s->tail + keep, p, n);
		s->ntail = keep + n;
	}
	return s->dec ? ec_fernet_dec_update(s->dec, p, n) : 0;
}

/* One structural byte outside any string: nesting and member names. */
static int scan_byte(struct scan *s, char ch)
{
	switch (ch) {
	case '{':
	case '[':
		s->depth++;
		s->name_next = s->depth == 1 && ch == '{';
		break;
	case '}':
	case ']':
		s->depth--;
		break;
	case ',':
		s->name_next = s->depth == 1;
		s->want_token = false;
		break;
	case ':':
		break;
	case '"':
		s->in_str = true;
		s->in_name = s->name_next;
		s->name_next = false;
		s->nlen = 0;
		s->name_enc = s->in_name;
		if (!s->in_name && s->want_token) {
			if (s->had_token)
				return -EC_EJSON;	/* two tokens */
			token_begins(s);
		}
		s->want_token = false;
		break;
	default:
		break;
	}
	return 0;
}

/* Within a string other than the token (names, other values). */
static void scan_str_byte(struct scan *s, char ch)
{
	static const char enc[] = "encrypted";

	if (s->esc) {
		s->esc = false;
		s->name_enc = false;
		return;
	}
	if (ch == '\\') {
		s->esc = true;
		return;
	}
	if (ch == '"') {
		s->in_str = false;
		if (s->in_name && s->name_enc && s->nlen == sizeof(enc) - 1)
			s->want_token = s->depth == 1;
		s->in_name = false;
		return;
	}
	if (s->in_name && s->name_enc) {
		if (s->nlen >= sizeof(enc) - 1 || enc[s->nlen] != ch)
			s->name_enc = false;
		s->nlen++;
	}
}

/* A piece of the file at offset off.  The token's characters are found
 * with memchr (it is nearly all of the file) and are not copied. */
static int scan_piece(struct scan *s, const char *p, size_t n, uint64_t off)
{
	size_t i = 0, from = 0;
	int err = 0;

	while (!err && i < n) {
		if (s->in_token) {
			const char *q = memchr(p + i, '"', n - i);
			size_t end = q ? (size_t)(q - p) : n;

			if (memchr(p + i, '\\', end - i))
				return -EC_EBASE64;	/* escapes: not ours */
			if (s->tok_len == 0)
				s->tok_off = off + i;
			err = token_text(s, p + i, end - i);
			i = end;
			from = i;
			if (q)
				s->in_token = false;	/* '"' is copied */
			continue;
		}
		if (s->in_str)
			scan_str_byte(s, p[i]);
		else
			err = scan_byte(s, p[i]);
		i++;
		if (!err && s->in_token) {
			err = skel_put(s, p + from, i - from);
			from = i;
		}
	}
	if (!err && !s->in_token && i > from)
		err = skel_put(s, p + from, i - from);
	return err;
}

/* The token again, from the file (its key was not known in time). */
static int read_token(struct scan *s, int fd, char *buf)
{
	uint64_t off = s->tok_off, left = s->tok_len;
	int err = ec_fernet_dec_new(s->key->key, s->tok_len / 4 * 3, &s->dec);

	while (!err && left) {
		size_t want = left < PIECE ? (size_t)left : PIECE, got = 0;

		err = ec_store_pread_all(fd, buf, want, off, &got);
		if (!err && got != want)
			err = -EC_EJSON;	/* shorter now: rewritten */
		if (!err)
			err = ec_fernet_dec_update(s->dec, buf, got);
		off += got;
		left -= got;
	}
	return err;
}

/* Pass over the whole file: skeleton, token range, maybe the token. */
static int scan_file(struct scan *s, int fd, char *buf)
{
	uint64_t off = 0;
	int err = 0;

	for (;;) {
		size_t got = 0;

		err = ec_store_pread_all(fd, buf, PIECE, off, &got);
		if (err || got == 0)
			break;
		err = scan_piece(s, buf, got, off);
		if (err)
			break;
		off += got;
	}
	if (!err && (s->in_str || s->depth != 0 || !s->had_token))
		err = -EC_EJSON;	/* cut short (half-written) */
	return err;
}

/* The tag of a streamed version: its JSON without the token (given in
 * one or two parts), then the token's last characters. */
static uint64_t tag_of(const char *a, size_t alen, const char *b, size_t blen,
		       const char *tail, size_t ntail)
{
	crypto_generichash_state st;
	unsigned char h[crypto_generichash_BYTES_MIN];
	uint64_t d = 0;
	size_t i;

	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const unsigned char *)a, alen);
	crypto_generichash_update(&st, (const unsigned char *)b, blen);
	crypto_generichash_update(&st, (const unsigned char *)tail, ntail);
	crypto_generichash_final(&st, h, sizeof(h));
	for (i = 0; i < 8; i++)
		d = d << 8 | h[i];
	return d;
}

/* After the scan: the skeleton's fields, the key, the token's end. */
static int finish_token(struct scan *s, struct ec_entry *e, int fd, char *buf,
			uint8_t **pt, size_t *ptlen)
{
	const struct ec_key *k;
	int err;

	err = ec_envelope_parse(s->skel, s->slen, &e->env);
	if (err)
		return err;
	k = ec_cache_check_head(s->c, e);
	if (!k)
		return 1;	/* e's state says why */
	if (k != s->key) {
		/* The key was not known when the token began (or a later
		 * "key" member won): read the token again. */
		ec_fernet_dec_free(s->dec);
		s->dec = NULL;
		s->key = k;
		err = read_token(s, fd, buf);
		if (err)
			return err;
	}
	return ec_fernet_dec_final(s->dec, pt, ptlen, NULL);
}

int ec_cache_load_stream(const struct ec_cache *c, int fd, unsigned flags,
			 int64_t now, struct ec_entry *e)
{
	struct scan s = { .c = c, .cap = (size_t)e->st.st_size / 4 * 3 };
	struct stat after;
	uint8_t *pt = NULL;
	size_t ptlen = 0;
	char *buf = malloc(PIECE);	/* envelope text: not secret */
	int err;

	err = buf ? scan_file(&s, fd, buf) : -ENOMEM;
	if (!err && (fstat(fd, &after) < 0 || !ec_store_same_file(&e->st, &after)))
		err = -EC_EJSON;	/* changed while read */
	if (!err) {
		e->tag = tag_of(s.skel, s.slen, "", 0, s.tail, s.ntail);
		err = finish_token(&s, e, fd, buf, &pt, &ptlen);
	}
	if (err == 1) {
		err = 0;	/* salt, key or created_at: state set */
	} else if (err == -ENOMEM) {
		/* as it is */
	} else if (err) {
		ec_entry_set_state(e, err == -EC_EHMAC ? EC_STATE_TAMPERED :
				   EC_STATE_CORRUPT, err);
		err = 0;
	} else {
		ec_cache_finish(c, e, pt, ptlen, flags, now);
	}
	ec_fernet_dec_free(s.dec);
	free(s.skel);
	free(buf);
	return err;
}

int ec_cache_big_tag(const struct ec_cache *c, const char *id,
		     struct stat *st, uint64_t *tag)
{
	struct scan s = { .c = c, .tag_only = true };
	struct stat after;
	char *buf = NULL;
	int fd = -1, err;

	err = ec_store_open_entry(&c->store, id, &fd, st);
	if (err)
		return err;
	if ((size_t)st->st_size < EC_STREAM_MIN) {
		err = 1;	/* not streamed: its tag is made otherwise */
		goto out;
	}
	buf = malloc(PIECE);	/* envelope text: not secret */
	err = buf ? scan_file(&s, fd, buf) : -ENOMEM;
	if (!err && (fstat(fd, &after) < 0 || !ec_store_same_file(st, &after)))
		err = -EC_EJSON;	/* changed while read */
	if (!err)
		*tag = tag_of(s.skel, s.slen, "", 0, s.tail, s.ntail);
out:
	free(s.skel);
	free(buf);
	close(fd);
	return err;
}

/* ---- writing ----------------------------------------------------------- */

/* Token text, gathered into big writes to the temp file. */
struct sink {
	int fd;
	char *buf;
	size_t n;
	char tail[EC_TAG_TAIL];	/* the last characters sent */
	size_t ntail;
};

/* Keep the last EC_TAG_TAIL characters of the text written. */
static void sink_tail(struct sink *k, const char *t, size_t n)
{
	size_t keep;

	if (n >= EC_TAG_TAIL) {
		memcpy(k->tail, t + n - EC_TAG_TAIL, EC_TAG_TAIL);
		k->ntail = EC_TAG_TAIL;
		return;
	}
	keep = k->ntail + n > EC_TAG_TAIL ? EC_TAG_TAIL - n : k->ntail;
	memmove(k->tail, k->tail + k->ntail - keep, keep);
	memcpy(k->tail + keep, t, n);
	k->ntail = keep + n;
}

static int sink_emit(void *ctx, const char *text, size_t n)
{
	struct sink *k = ctx;
	int err = 0;

	sink_tail(k, text, n);
	if (k->n + n > PIECE) {
		err = ec_store_write_all(k->fd, k->buf, k->n);
		k->n = 0;
	}
	if (!err && n > PIECE)
		return ec_store_write_all(k->fd, text, n);
	if (!err) {
		memcpy(k->buf + k->n, text, n);
		k->n += n;
	}
	return err;
}

struct save_job {
	char out_tail[EC_TAG_TAIL];	/* out: the token's last characters */
	size_t out_ntail;
	const struct ec_key *k;
	uint64_t timestamp;
	const char *head, *tail;
	size_t headlen, taillen;
	const uint8_t *data;
	size_t len;
	const char *validasof;
	int (*check)(void *ctx, int fd, const struct stat *st);
	void *check_ctx;
};

/* check() for ec_store_replace_with: the caller's. */
static int check_job(void *ctx, int fd, const struct stat *st)
{
	struct save_job *j = ctx;

	return j->check(j->check_ctx, fd, st);
}

/* fill() for ec_store_write_with: head, token, tail into the temp file. */
static int fill(void *ctx, int fd)
{
	struct save_job *j = ctx;
	uint8_t pre[EC_PAYLOAD_FRAME_MAX], post[EC_PAYLOAD_FRAME_MAX];
	uint8_t iv[EC_FERNET_IVBYTES];
	size_t prelen = 0, postlen = 0;
	struct sink k = { .fd = fd, .buf = malloc(PIECE) };
	struct ec_fernet_enc *enc = NULL;
	int err;

	if (!k.buf)
		return -ENOMEM;
	err = ec_payload_frame(j->len, j->validasof, pre, &prelen, post,
			       &postlen);
	randombytes_buf(iv, sizeof(iv));
	if (!err)
		err = sink_emit(&k, j->head, j->headlen);
	if (!err)
		err = ec_fernet_enc_new(j->k->key, j->timestamp, iv, sink_emit,
					&k, &enc);
	if (!err)
		err = ec_fernet_enc_update(enc, pre, prelen);
	if (!err)
		err = ec_fernet_enc_update(enc, j->data, j->len);
	if (!err)
		err = ec_fernet_enc_update(enc, post, postlen);
	if (!err)
		err = ec_fernet_enc_final(enc);
	memcpy(j->out_tail, k.tail, k.ntail);	/* the token's last ones */
	j->out_ntail = k.ntail;
	if (!err)
		err = sink_emit(&k, j->tail, j->taillen);
	if (!err)
		err = ec_store_write_all(k.fd, k.buf, k.n);
	ec_fernet_enc_free(enc);
	free(k.buf);
	return err;
}

int ec_cache_save_stream(const struct ec_cache *c, const char *id,
			 const struct ec_envelope *env,
			 const struct ec_key *k, int64_t created_us,
			 const uint8_t *data, size_t len,
			 const char *validasof, unsigned store_flags,
			 uint64_t *tag)
{
	return ec_cache_save_stream_if(c, id, env, k, created_us, data, len,
				       validasof, store_flags, NULL, NULL,
				       tag);
}

int ec_cache_save_stream_if(const struct ec_cache *c, const char *id,
			    const struct ec_envelope *env,
			    const struct ec_key *k, int64_t created_us,
			    const uint8_t *data, size_t len,
			    const char *validasof, unsigned store_flags,
			    int (*check)(void *ctx, int fd,
					 const struct stat *st),
			    void *check_ctx, uint64_t *tag)
{
	struct save_job j = {
		.k = k, .data = data, .len = len, .validasof = validasof,
		.timestamp = created_us < 0 ? 0 :
			(uint64_t)(created_us / 1000000),
	};
	char *head = NULL, *tail = NULL;
	int err;

	err = ec_envelope_serialize_split(env, &head, &j.headlen, &tail,
					  &j.taillen);
	if (err)
		return err;
	j.head = head;
	j.tail = tail;
	j.check = check;
	j.check_ctx = check_ctx;
	err = check ? ec_store_replace_with(&c->store, id, store_flags, fill,
					    check_job, &j) :
		ec_store_write_with(&c->store, id, store_flags, fill, &j);
	if (!err && tag)
		*tag = tag_of(head, j.headlen, tail, j.taillen, j.out_tail,
			      j.out_ntail);
	free(head);
	free(tail);
	return err;
}
