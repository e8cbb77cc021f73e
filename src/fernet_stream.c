/*
 * fernet_stream: Fernet tokens opened and sealed in pieces, for entries
 * too big to hold three or four times over (see fernet.h).  The format is
 * fernet.c's; the bulk work goes to OpenSSL (EVP_MAC HMAC-SHA256 and
 * AES-128-CBC, which use SHA-NI and AES-NI where the CPU has them).
 *
 * Opening decrypts each block as it arrives, into the caller's one
 * buffer, and checks the MAC at the end: the plaintext is given out only
 * after that check, and wiped when it fails, so an unauthenticated byte
 * never leaves this module.  (fernet.c checks the MAC before decrypting,
 * which needs the whole raw token in memory as well.)  A token of
 * PIPE_MIN bytes or more is opened on two threads: the caller's decodes
 * the text and copies the ciphertext into the buffer, a helper MACs it
 * there, and the caller decrypts it in place behind the helper (CBC
 * decrypts in place; the MAC needs the ciphertext, so no block is
 * decrypted before the helper has MACed it).  HMAC-SHA256 is the
 * slowest of the three, so the load takes about as long as the MAC.
 * Once the helper runs, the text is decoded straight into the buffer, in
 * its place behind the ciphertext already posted ("direct"): the bytes
 * held back (the token's last block and MAC may be among them) wait
 * there, and posting them copies nothing.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>

#include "error.h"
#include "fernet.h"
#include "secure.h"

#define TOKEN_VERSION 0x80
#define HDR_LEN (1 + 8 + EC_FERNET_IVBYTES)	/* version, time, IV */
#define BLOCK 16
#define SIGN_KEYBYTES 16
#define B64_VARIANT sodium_base64_VARIANT_URLSAFE
#define TEXT_SLICE (64u << 10)			/* text chars per step */
#define RAW_SLICE (TEXT_SLICE / 4 * 3)		/* their raw bytes */
#define HOLD (EC_FERNET_MACBYTES + BLOCK)	/* most bytes held back */
#define PIPE_MIN ((size_t)4 << 20)		/* MAC on a helper thread */
#define PIPE_STEP ((size_t)256 << 10)		/* bytes it MACs at a time */

static EVP_MAC_CTX *hmac_new(const uint8_t key[EC_KEYBYTES])
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[2];

	EVP_MAC_free(mac);
	if (!ctx)
		return NULL;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
						     (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(ctx, key, SIGN_KEYBYTES, params) != 1) {
		EVP_MAC_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* ---- opening ------------------------------------------------------------ */

struct ec_fernet_dec {
	const uint8_t *key;	/* borrowed */
	EVP_MAC_CTX *mac;
	EVP_CIPHER_CTX *aes;
	char quad[4];		/* text not yet a whole group */
	size_t nquad;
	bool ended;		/* the padded last group was seen */
	uint8_t hdr[HDR_LEN];
	size_t nhdr;
	uint8_t raw[HOLD + RAW_SLICE];	/* held back, then the new bytes */
	size_t nraw;		/* bytes held back (in raw, or direct) */
	bool direct;		/* held at out + outlen, not in raw */
	size_t rawtotal;
	uint8_t *out;		/* ec_secure_alloc'd, cap + BLOCK + HOLD
				   bytes (direct: the MAC lands there) */
	size_t cap, outlen;
	int err;		/* sticky */
	/* The MAC helper (piped): out[0, outlen) is ciphertext copied in,
	 * [0, macd) of it MACed by the helper, [0, dec) decrypted in place
	 * by the caller (dec <= macd).  mu guards ready, macd, ended_in,
	 * stop and mac_err; the helper alone uses mac while it runs, and
	 * reads out only below ready. */
	bool piped;
	pthread_t helper;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t ready, macd, dec;
	bool ended_in, stop;
	int mac_err;
};

int ec_fernet_dec_new(const uint8_t key[EC_KEYBYTES], size_t cap,
		      struct ec_fernet_dec **out)
{
	struct ec_fernet_dec *d = calloc(1, sizeof(*d));

	*out = NULL;
	if (!d)
		return -ENOMEM;
	d->key = key;
	d->cap = cap;
	d->out = ec_secure_alloc(cap + BLOCK + HOLD);
	d->mac = hmac_new(key);
	d->aes = EVP_CIPHER_CTX_new();
	if (!d->out || !d->mac || !d->aes) {
		ec_fernet_dec_free(d);
		return -ENOMEM;
	}
	*out = d;
	return 0;
}

/* The helper: MAC the ciphertext as the caller copies it in. */
static void *mac_helper(void *arg)
{
	struct ec_fernet_dec *d = arg;
	size_t from, to;

	pthread_mutex_lock(&d->mu);
	for (;;) {
		while (!d->stop && !d->mac_err && d->macd == d->ready &&
		       !d->ended_in)
			pthread_cond_wait(&d->cv, &d->mu);
		if (d->stop || d->mac_err || d->macd == d->ready)
			break;		/* stopped, failed, or all done */
		from = d->macd;
		to = d->ready - from > PIPE_STEP ? from + PIPE_STEP : d->ready;
		pthread_mutex_unlock(&d->mu);
		if (EVP_MAC_update(d->mac, d->out + from, to - from) != 1) {
			pthread_mutex_lock(&d->mu);
			d->mac_err = -EIO;
			break;
		}
		pthread_mutex_lock(&d->mu);
		d->macd = to;
	}
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

/* Start the helper once the header is MACed; without it (too small, or
 * no thread to be had) the caller MACs every block itself. */
static void pipe_start(struct ec_fernet_dec *d)
{
	if (d->cap < PIPE_MIN)
		return;
	if (pthread_mutex_init(&d->mu, NULL) != 0)
		return;
	if (pthread_cond_init(&d->cv, NULL) != 0) {
		pthread_mutex_destroy(&d->mu);
		return;
	}
	if (pthread_create(&d->helper, NULL, mac_helper, d) != 0) {
		pthread_cond_destroy(&d->cv);
		pthread_mutex_destroy(&d->mu);
		return;
	}
	d->piped = true;
}

/* Wait for the helper to MAC everything posted (all: it has stopped),
 * or only stop it (the token is refused).  Returns its error. */
static int pipe_end(struct ec_fernet_dec *d, bool stop)
{
	int err;

	if (!d->piped)
		return 0;
	pthread_mutex_lock(&d->mu);
	d->ended_in = true;
	d->stop = stop;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	pthread_join(d->helper, NULL);
	err = d->mac_err;
	if (!err && !stop && d->macd != d->outlen)
		err = -EIO;
	pthread_cond_destroy(&d->cv);
	pthread_mutex_destroy(&d->mu);
	d->piped = false;
	return err;
}

/* Decrypt in place the ciphertext the helper has MACed (upto, or what
 * it has done by now when upto is 0). */
static int decrypt_behind(struct ec_fernet_dec *d, size_t upto)
{
	int outl = 0;

	if (!upto) {
		pthread_mutex_lock(&d->mu);
		upto = d->macd;
		pthread_mutex_unlock(&d->mu);
	}
	if (upto <= d->dec)
		return 0;
	while (d->dec < upto) {
		size_t n = upto - d->dec > PIPE_MIN ? PIPE_MIN : upto - d->dec;

		if (EVP_DecryptUpdate(d->aes, d->out + d->dec, &outl,
				      d->out + d->dec, (int)n) != 1 ||
		    outl != (int)n)
			return -EIO;
		d->dec += n;
	}
	return 0;
}

void ec_fernet_dec_free(struct ec_fernet_dec *d)
{
	if (!d)
		return;
	(void)pipe_end(d, true);
	ec_secure_free(d->out);		/* wipes */
	EVP_MAC_CTX_free(d->mac);
	EVP_CIPHER_CTX_free(d->aes);	/* cleanses the key schedule */
	sodium_memzero(d, sizeof(*d));
	free(d);
}

/* The header: version, then the cipher keyed with the token's IV. */
static int take_header(struct ec_fernet_dec *d)
{
	if (d->hdr[0] != TOKEN_VERSION)
		return -EC_EVERSION;
	if (EVP_DecryptInit_ex(d->aes, EVP_aes_128_cbc(), NULL,
			       d->key + SIGN_KEYBYTES, d->hdr + 1 + 8) != 1 ||
	    EVP_CIPHER_CTX_set_padding(d->aes, 0) != 1 ||
	    EVP_MAC_update(d->mac, d->hdr, HDR_LEN) != 1)
		return -EIO;
	pipe_start(d);
	return 0;
}

/* MAC and decrypt n bytes of ciphertext (whole blocks) at p. */
static int take_blocks(struct ec_fernet_dec *d, const uint8_t *p, size_t n)
{
	int outl = 0;

	if (n == 0)
		return 0;
	if (d->outlen + n > d->cap + BLOCK)
		return -EC_ETOOBIG;
	if (d->piped) {
		if (p != d->out + d->outlen)	/* (direct: in place) */
			memcpy(d->out + d->outlen, p, n);
		d->outlen += n;
		pthread_mutex_lock(&d->mu);
		d->ready = d->outlen;
		pthread_cond_broadcast(&d->cv);
		pthread_mutex_unlock(&d->mu);
		return decrypt_behind(d, 0);
	}
	if (EVP_MAC_update(d->mac, p, n) != 1 ||
	    EVP_DecryptUpdate(d->aes, d->out + d->outlen, &outl, p,
			      (int)n) != 1 || outl < 0)
		return -EIO;
	d->outlen += (size_t)outl;
	return 0;
}

/* Where the nraw bytes held back are, and how many more fit there. */
static uint8_t *held(struct ec_fernet_dec *d)
{
	return d->direct ? d->out + d->outlen : d->raw;
}

static size_t room(const struct ec_fernet_dec *d)
{
	if (!d->direct)
		return sizeof(d->raw) - d->nraw;
	return d->cap + BLOCK + HOLD - d->outlen - d->nraw;
}

/* nraw bytes are held: use all whole blocks but the last HOLD bytes'
 * worth, keep the rest (at raw's front, or in place when direct). */
static int take_raw(struct ec_fernet_dec *d)
{
	uint8_t *h = held(d);
	size_t skip = 0, n;
	int err;

	if (d->nhdr < HDR_LEN) {	/* (never direct) */
		skip = HDR_LEN - d->nhdr < d->nraw ? HDR_LEN - d->nhdr :
		       d->nraw;
		memcpy(d->hdr + d->nhdr, h, skip);
		d->nhdr += skip;
		if (d->nhdr == HDR_LEN && (err = take_header(d)) != 0)
			return err;
	}
	n = d->nraw - skip;
	if (n > EC_FERNET_MACBYTES) {
		n = (n - EC_FERNET_MACBYTES) / BLOCK * BLOCK;
		err = take_blocks(d, h + skip, n);
		if (err)
			return err;
		skip += n;
	}
	d->nraw -= skip;
	if (d->direct)
		return 0;	/* outlen moved past what was posted */
	memmove(d->raw, d->raw + skip, d->nraw);
	if (d->piped && d->nhdr == HDR_LEN) {
		/* From now on decode in place (fewer than HOLD bytes are
		 * held, and outlen is within cap + BLOCK). */
		memcpy(d->out + d->outlen, d->raw, d->nraw);
		d->direct = true;
	}
	return 0;
}

/* Decode n characters, whole groups (a padded one only at the very end
 * of the text, decoded by libsodium, which checks its padding). */
static int take_text(struct ec_fernet_dec *d, const char *t, size_t n)
{
	size_t plain = n, got = 0;
	long r;

	if (n == 0)
		return 0;
	if (d->ended)
		return -EC_EBASE64;	/* text after the padding */
	if (t[n - 1] == '=') {
		d->ended = true;
		plain = n - 4;
	}
	if (plain / 4 * 3 > room(d))
		return -EC_ETOOBIG;	/* (direct: past the capacity) */
	r = ec_fernet_b64_decode(t, plain, held(d) + d->nraw);
	if (r < 0)
		return -EC_EBASE64;
	d->nraw += (size_t)r;
	if (plain < n) {
		if (room(d) < 3)
			return -EC_ETOOBIG;
		if (sodium_base642bin(held(d) + d->nraw, room(d), t + plain,
				      4, NULL, &got, NULL, B64_VARIANT) != 0)
			return -EC_EBASE64;
		d->nraw += got;
	}
	d->rawtotal += (size_t)r + got;
	return take_raw(d);
}

int ec_fernet_dec_update(struct ec_fernet_dec *d, const char *text, size_t n)
{
	/* First the group begun in an earlier piece. */
	while (!d->err && n && d->nquad) {
		d->quad[d->nquad++] = *text++;
		n--;
		if (d->nquad == 4) {
			d->nquad = 0;
			d->err = take_text(d, d->quad, 4);
		}
	}
	while (!d->err && n >= 4) {
		size_t k = n / 4 * 4 < TEXT_SLICE ? n / 4 * 4 : TEXT_SLICE;

		/* '=' is not in the table: it passes only in a last group,
		 * where libsodium checks the padding (take_text). */
		d->err = take_text(d, text, k);
		text += k;
		n -= k;
	}
	while (!d->err && n) {
		d->quad[d->nquad++] = *text++;
		n--;
	}
	return d->err;
}

/* The PKCS#7 padding of the plaintext, after the MAC checked out. */
static int unpad(const struct ec_fernet_dec *d, size_t *ptlen)
{
	size_t pad, i;

	pad = d->out[d->outlen - 1];
	if (pad == 0 || pad > BLOCK)
		return -EC_EPADDING;
	for (i = 1; i <= pad; i++)
		if (d->out[d->outlen - i] != pad)
			return -EC_EPADDING;
	*ptlen = d->outlen - pad;
	return 0;
}

int ec_fernet_dec_final(struct ec_fernet_dec *d, uint8_t **pt, size_t *ptlen,
			uint64_t *timestamp)
{
	uint8_t mac[EC_FERNET_MACBYTES], want[EC_FERNET_MACBYTES];
	size_t maclen = 0, i;
	int outl = 0, err = d->err;

	*pt = NULL;
	*ptlen = 0;
	if (!err && d->nquad)
		err = -EC_EBASE64;	/* not whole groups: padding missing */
	if (!err && d->nhdr < HDR_LEN)
		err = d->rawtotal ? -EC_ELENGTH : -EC_EBASE64;
	if (!err && (d->rawtotal < EC_FERNET_MIN_RAW ||
		     d->nraw < EC_FERNET_MACBYTES ||
		     (d->nraw - EC_FERNET_MACBYTES) % BLOCK != 0))
		err = -EC_ELENGTH;
	if (!err) {
		memcpy(want, held(d) + d->nraw - EC_FERNET_MACBYTES,
		       sizeof(want));
		err = take_blocks(d, held(d), d->nraw - EC_FERNET_MACBYTES);
	}
	if (d->piped) {
		int perr = pipe_end(d, err != 0);

		err = err ? err : perr;
		if (!err)
			err = decrypt_behind(d, d->outlen);
	}
	if (!err && (EVP_MAC_final(d->mac, mac, &maclen, sizeof(mac)) != 1 ||
		     maclen != sizeof(mac) ||
		     EVP_DecryptFinal_ex(d->aes, d->out + d->outlen,
					 &outl) != 1 || outl != 0))
		err = -EIO;
	if (!err && ec_secure_memcmp(mac, want, sizeof(mac)) != 0)
		err = -EC_EHMAC;
	if (!err)
		err = unpad(d, ptlen);
	sodium_memzero(mac, sizeof(mac));
	if (err) {
		d->err = err;
		sodium_memzero(d->out, d->outlen);
		*ptlen = 0;
		return err;
	}
	if (timestamp) {
		*timestamp = 0;
		for (i = 0; i < 8; i++)
			*timestamp = *timestamp << 8 | d->hdr[1 + i];
	}
	*pt = d->out;	/* handed over */
	d->out = NULL;
	return 0;
}

/* ---- sealing -------------------------------------------------------------- */

struct ec_fernet_enc {
	EVP_MAC_CTX *mac;
	EVP_CIPHER_CTX *aes;
	ec_fernet_emit emit;
	void *ctx;
	uint8_t raw[RAW_SLICE + 2 * BLOCK + EC_FERNET_MACBYTES + 2];
	size_t nraw;		/* raw bytes not yet in base64 */
	char text[TEXT_SLICE + 64];
	int err;
};

size_t ec_fernet_token_len(size_t ptlen)
{
	size_t raw = HDR_LEN + (ptlen / BLOCK + 1) * BLOCK +
		     EC_FERNET_MACBYTES;

	return (raw + 2) / 3 * 4;
}

/* Encode the raw bytes pending: all of them at the end, else whole groups
 * of three (no padding inside the text). */
static int flush_text(struct ec_fernet_enc *e, bool last)
{
	size_t n = last ? e->nraw : e->nraw / 3 * 3, len;

	if (n == 0)
		return 0;
	if (last) {
		sodium_bin2base64(e->text, sizeof(e->text), e->raw, n,
				  B64_VARIANT);
		len = sodium_base64_encoded_len(n, B64_VARIANT) - 1;
	} else {
		ec_fernet_b64_encode(e->raw, n, e->text);
		len = n / 3 * 4;
	}
	memmove(e->raw, e->raw + n, e->nraw - n);
	e->nraw -= n;
	return e->emit(e->ctx, e->text, len);
}

/* n bytes of ciphertext (or header, or MAC) become part of the token. */
static int put_raw(struct ec_fernet_enc *e, const uint8_t *p, size_t n,
		   bool macd)
{
	if (macd && EVP_MAC_update(e->mac, p, n) != 1)
		return -EIO;
	memcpy(e->raw + e->nraw, p, n);
	e->nraw += n;
	return 0;
}

int ec_fernet_enc_new(const uint8_t key[EC_KEYBYTES], uint64_t timestamp,
		      const uint8_t iv[EC_FERNET_IVBYTES], ec_fernet_emit emit,
		      void *ctx, struct ec_fernet_enc **out)
{
	struct ec_fernet_enc *e = calloc(1, sizeof(*e));
	uint8_t hdr[HDR_LEN];
	int i, err;

	*out = NULL;
	if (!e)
		return -ENOMEM;
	e->emit = emit;
	e->ctx = ctx;
	e->mac = hmac_new(key);
	e->aes = EVP_CIPHER_CTX_new();
	if (!e->mac || !e->aes) {
		ec_fernet_enc_free(e);
		return -ENOMEM;
	}
	if (EVP_EncryptInit_ex(e->aes, EVP_aes_128_cbc(), NULL,
			       key + SIGN_KEYBYTES, iv) != 1) {
		ec_fernet_enc_free(e);
		return -EIO;
	}
	hdr[0] = TOKEN_VERSION;
	for (i = 0; i < 8; i++)
		hdr[1 + i] = (uint8_t)(timestamp >> (56 - 8 * i));
	memcpy(hdr + 9, iv, EC_FERNET_IVBYTES);
	err = put_raw(e, hdr, sizeof(hdr), true);
	if (err) {
		ec_fernet_enc_free(e);
		return err;
	}
	*out = e;
	return 0;
}

/* The sealing of one big piece on two threads (enc_piped): the caller
 * encrypts into a ring of slots, a helper MACs each slot, encodes it and
 * hands the text to emit, in order.  Only the helper touches the MAC,
 * raw, text and emit while it runs.  mu guards the ring's counts, done
 * and err. */
#define ENC_SLOTS 4
#define ENC_SLOT ((size_t)512 << 10)	/* plaintext bytes a slot */

struct enc_pipe {
	struct ec_fernet_enc *e;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint8_t *ct[ENC_SLOTS];		/* ENC_SLOT + BLOCK bytes each */
	size_t len[ENC_SLOTS];
	unsigned head, tail, filled;	/* next to fill, next to send */
	bool done;
	int err;
};

/* Feed n bytes of ciphertext (MACed already) into the text. */
static int send_ct(struct ec_fernet_enc *e, const uint8_t *p, size_t n)
{
	int err = 0;

	while (!err && n) {
		size_t k = n < RAW_SLICE - BLOCK ? n : RAW_SLICE - BLOCK;

		err = put_raw(e, p, k, false);
		if (!err)
			err = flush_text(e, false);
		p += k;
		n -= k;
	}
	return err;
}

static void *enc_helper(void *arg)
{
	struct enc_pipe *q = arg;
	struct ec_fernet_enc *e = q->e;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		unsigned i;
		int err = 0;

		while (!q->filled && !q->done)
			pthread_cond_wait(&q->cv, &q->mu);
		if (!q->filled)
			break;
		i = q->tail;
		pthread_mutex_unlock(&q->mu);
		if (!q->err) {	/* read without mu: only this thread sets it */
			if (EVP_MAC_update(e->mac, q->ct[i], q->len[i]) != 1)
				err = -EIO;
			else
				err = send_ct(e, q->ct[i], q->len[i]);
		}
		pthread_mutex_lock(&q->mu);
		if (err && !q->err)
			q->err = err;
		q->tail = (q->tail + 1) % ENC_SLOTS;
		q->filled--;
		pthread_cond_broadcast(&q->cv);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

/* 1 when the pipe could not be set up (the caller goes on alone). */
static int enc_piped(struct ec_fernet_enc *e, const uint8_t *pt, size_t n)
{
	struct enc_pipe q = { .e = e };
	pthread_t helper;
	int i, err = 0, started = 0;

	for (i = 0; i < ENC_SLOTS; i++)
		if (!(q.ct[i] = malloc(ENC_SLOT + BLOCK)))
			goto out;	/* ciphertext: not secret */
	if (pthread_mutex_init(&q.mu, NULL) != 0)
		goto out;
	if (pthread_cond_init(&q.cv, NULL) != 0) {
		pthread_mutex_destroy(&q.mu);
		goto out;
	}
	if (pthread_create(&helper, NULL, enc_helper, &q) != 0) {
		pthread_cond_destroy(&q.cv);
		pthread_mutex_destroy(&q.mu);
		goto out;
	}
	started = 1;
	while (n) {
		size_t step = n < ENC_SLOT ? n : ENC_SLOT;
		unsigned h;
		int outl = 0;

		pthread_mutex_lock(&q.mu);
		while (q.filled == ENC_SLOTS && !q.err)
			pthread_cond_wait(&q.cv, &q.mu);
		err = q.err;
		h = q.head;
		pthread_mutex_unlock(&q.mu);
		if (err)
			break;
		if (EVP_EncryptUpdate(e->aes, q.ct[h], &outl, pt, (int)step) !=
		    1 || outl < 0) {
			err = -EIO;
			break;
		}
		pthread_mutex_lock(&q.mu);
		q.len[h] = (size_t)outl;
		q.head = (h + 1) % ENC_SLOTS;
		q.filled++;
		pthread_cond_broadcast(&q.cv);
		pthread_mutex_unlock(&q.mu);
		pt += step;
		n -= step;
	}
	pthread_mutex_lock(&q.mu);
	q.done = true;
	pthread_cond_broadcast(&q.cv);
	pthread_mutex_unlock(&q.mu);
	pthread_join(helper, NULL);
	if (!err)
		err = q.err;
	pthread_cond_destroy(&q.cv);
	pthread_mutex_destroy(&q.mu);
	e->err = err;
out:
	for (i = 0; i < ENC_SLOTS; i++)
		free(q.ct[i]);
	return started ? 0 : 1;
}

int ec_fernet_enc_update(struct ec_fernet_enc *e, const uint8_t *pt,
			 size_t n)
{
	if (!e->err && n >= PIPE_MIN && enc_piped(e, pt, n) == 0)
		return e->err;
	while (!e->err && n) {
		uint8_t ct[RAW_SLICE + BLOCK];
		size_t step = n < RAW_SLICE - BLOCK ? n : RAW_SLICE - BLOCK;
		int outl = 0;

		if (EVP_EncryptUpdate(e->aes, ct, &outl, pt, (int)step) != 1 ||
		    outl < 0)
			e->err = -EIO;
		else
			e->err = put_raw(e, ct, (size_t)outl, true);
		if (!e->err)
			e->err = flush_text(e, false);
		sodium_memzero(ct, sizeof(ct));
		pt += step;
		n -= step;
	}
	return e->err;
}

int ec_fernet_enc_final(struct ec_fernet_enc *e)
{
	uint8_t ct[BLOCK], mac[EC_FERNET_MACBYTES];
	size_t maclen = 0;
	int outl = 0;

	if (!e->err && (EVP_EncryptFinal_ex(e->aes, ct, &outl) != 1 ||
			outl != BLOCK))
		e->err = -EIO;
	if (!e->err)
		e->err = put_raw(e, ct, BLOCK, true);
	if (!e->err && (EVP_MAC_final(e->mac, mac, &maclen, sizeof(mac)) != 1 ||
			maclen != sizeof(mac)))
		e->err = -EIO;
	if (!e->err)
		e->err = put_raw(e, mac, sizeof(mac), false);
	if (!e->err)
		e->err = flush_text(e, true);
	sodium_memzero(ct, sizeof(ct));
	return e->err;
}

void ec_fernet_enc_free(struct ec_fernet_enc *e)
{
	if (!e)
		return;
	EVP_MAC_CTX_free(e->mac);
	EVP_CIPHER_CTX_free(e->aes);
	sodium_memzero(e, sizeof(*e));
	free(e);
}
