/*
 * fernet: seal and open Fernet tokens (version 0x80).  No files, JSON,
 * plist, clock or logging: the caller gives the time and the IV.
 *
 * Raw token: 0x80 | timestamp (8, big-endian) | IV (16) | ciphertext
 * (AES-128-CBC, PKCS#7) | HMAC-SHA256 over all preceding bytes (32).
 * Key: bytes 0..15 sign, bytes 16..31 encrypt.  The token text is
 * url-safe base64 with padding, which we require exactly.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "error.h"
#include "fernet.h"
#include "secure.h"

#define TOKEN_VERSION 0x80
#define TS_OFF 1
#define IV_OFF (TS_OFF + 8)
#define CT_OFF (IV_OFF + EC_FERNET_IVBYTES)
#define BLOCK 16
#define SIGN_KEYBYTES 16
#define B64_VARIANT sodium_base64_VARIANT_URLSAFE
/* EVP takes int lengths: feed it whole blocks at most this long at once */
#define CHUNK ((size_t)1 << 30)

/*
 * Only the url-safe alphabet and '='.  libsodium 1.0.18's decoder takes
 * bytes >= 0x80 for letters, so we check the characters it decodes (the
 * last group) ourselves; this also refuses NUL and whitespace.  The token
 * is not secret.
 */
static int b64_alphabet(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '='))
			return 0;
	}
	return 1;
}

/*
 * What OpenSSL fetches once for every token: HMAC (its SHA-256 uses the
 * CPU's SHA instructions, about three times libsodium's portable one)
 * and AES-128-CBC (EVP_aes_128_cbc() would be looked up at every init).
 */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static EVP_MAC *hmac_alg;
static EVP_CIPHER *aes_alg;

static void init_once(void)
{
	hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
	aes_alg = EVP_CIPHER_fetch(NULL, "AES-128-CBC", NULL);
}

/* HMAC-SHA256 of msg under the signing half of key.  0 or -EIO. */
static int sign(const uint8_t key[EC_KEYBYTES], const uint8_t *msg,
		size_t len, uint8_t mac[EC_FERNET_MACBYTES])
{
	OSSL_PARAM params[2];
	EVP_MAC_CTX *ctx;
	size_t maclen = 0;
	int rc = -EIO;

	pthread_once(&once, init_once);
	ctx = hmac_alg ? EVP_MAC_CTX_new(hmac_alg) : NULL;
	if (!ctx)
		return -EIO;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
						     (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(ctx, key, SIGN_KEYBYTES, params) != 1 ||
	    EVP_MAC_update(ctx, msg, len) != 1 ||
	    EVP_MAC_final(ctx, mac, &maclen, EC_FERNET_MACBYTES) != 1 ||
	    maclen != EC_FERNET_MACBYTES)
		goto out;
	rc = 0;
out:
	EVP_MAC_CTX_free(ctx);	/* cleanses the key-derived pads */
	return rc;
}

/* The AES-128-CBC cipher (fetched once), or NULL. */
static const EVP_CIPHER *aes_cbc(void)
{
	pthread_once(&once, init_once);
	return aes_alg;
}

/*
 * Run n bytes of in through ctx (already initialised) into out, then
 * finalise; *outlen is the total written.  0 or -EIO.
 */
static int cipher_all(EVP_CIPHER_CTX *ctx, int enc, const uint8_t *in,
		      size_t n, uint8_t *out, size_t *outlen)
{
	size_t done = 0, total = 0, step;
	int outl;

	while (done < n) {
		step = n - done < CHUNK ? n - done : CHUNK;
		if ((enc ? EVP_EncryptUpdate(ctx, out + total, &outl,
					     in + done, (int)step)
			 : EVP_DecryptUpdate(ctx, out + total, &outl,
					     in + done, (int)step)) != 1 ||
		    outl < 0)
			return -EIO;
		done += step;
		total += (size_t)outl;
	}
	if ((enc ? EVP_EncryptFinal_ex(ctx, out + total, &outl)
		 : EVP_DecryptFinal_ex(ctx, out + total, &outl)) != 1 ||
	    outl < 0)
		return -EIO;
	total += (size_t)outl;
	*outlen = total;
	return 0;
}

int ec_fernet_seal(const uint8_t key[EC_KEYBYTES],
		   const uint8_t *pt, size_t ptlen, uint64_t timestamp,
		   const uint8_t iv[EC_FERNET_IVBYTES],
		   char **token, size_t *toklen)
{
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t *raw = NULL;
	char *b64 = NULL;
	size_t ctlen, rawlen, b64size, outlen, bulk;
	int i, rc;

	if (pt == NULL && ptlen > 0) {
		rc = -EINVAL;
		goto out;
	}
	/* Keeps ctlen, rawlen and the base64 length from overflowing. */
	if (ptlen > SIZE_MAX / 4) {
		rc = -ENOMEM;
		goto out;
	}
	ctlen = (ptlen / BLOCK + 1) * BLOCK;	/* PKCS#7 always pads */
	rawlen = CT_OFF + ctlen + EC_FERNET_MACBYTES;

	raw = malloc(rawlen);		/* ciphertext: not secret */
	if (raw == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	raw[0] = TOKEN_VERSION;
	for (i = 0; i < 8; i++)
		raw[TS_OFF + i] = (uint8_t)(timestamp >> (56 - 8 * i));
	memcpy(raw + IV_OFF, iv, EC_FERNET_IVBYTES);

	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if (!aes_cbc() || EVP_EncryptInit_ex(ctx, aes_cbc(), NULL,
					     key + SIGN_KEYBYTES, iv) != 1) {
		rc = -EIO;
		goto out;
	}
	rc = cipher_all(ctx, 1, pt, ptlen, raw + CT_OFF, &outlen);
	if (rc < 0)
		goto out;
	if (outlen != ctlen) {
		rc = -EIO;
		goto out;
	}
	rc = sign(key, raw, CT_OFF + ctlen, raw + CT_OFF + ctlen);
	if (rc < 0)
		goto out;

	b64size = sodium_base64_encoded_len(rawlen, B64_VARIANT); /* + NUL */
	b64 = malloc(b64size);
	if (b64 == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	/* Whole groups by table, the rest (padded) by libsodium. */
	bulk = rawlen / 3 * 3;
	ec_fernet_b64_encode(raw, bulk, b64);
	sodium_bin2base64(b64 + bulk / 3 * 4, b64size - bulk / 3 * 4,
			  raw + bulk, rawlen - bulk, B64_VARIANT);
	*token = b64;
	*toklen = b64size - 1;
	b64 = NULL;
	rc = 0;
out:
	free(b64);
	EVP_CIPHER_CTX_free(ctx);	/* cleanses the key schedule */
	free(raw);
	return rc;
}

int ec_fernet_open(const uint8_t key[EC_KEYBYTES],
		   const char *token, size_t toklen,
		   uint8_t **pt, size_t *ptlen, uint64_t *timestamp)
{
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t mac[EC_FERNET_MACBYTES];
	uint8_t *raw = NULL, *out = NULL;
	size_t rawmax, rawlen, bodylen, ctlen, outlen, pad, i, bulk;
	uint64_t ts;
	int rc;

	if (token == NULL) {
		if (toklen > 0) {
			rc = -EINVAL;
			goto out;
		}
		token = "";
	}
	/* Padding is required, so the text is whole 4-char groups: all but
	 * the last by table (no '=' there, nothing outside the alphabet),
	 * the last by sodium, which checks its padding and that everything
	 * is consumed. */
	if (toklen % 4 != 0 ||
	    !b64_alphabet(token + (toklen >= 4 ? toklen - 4 : 0),
			  toklen >= 4 ? 4 : toklen)) {
		rc = -EC_EBASE64;
		goto out;
	}
	rawmax = toklen / 4 * 3;
	raw = malloc(rawmax > 0 ? rawmax : 1);
	if (raw == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	bulk = toklen >= 4 ? toklen - 4 : 0;
	if (ec_fernet_b64_decode(token, bulk, raw) != (long)(bulk / 4 * 3) ||
	    sodium_base642bin(raw + bulk / 4 * 3, rawmax - bulk / 4 * 3,
			      token + bulk, toklen - bulk, NULL, &rawlen, NULL,
			      B64_VARIANT) != 0) {
		rc = -EC_EBASE64;
		goto out;
	}
	rawlen += bulk / 4 * 3;
	if (rawlen > 0 && raw[0] != TOKEN_VERSION) {
		rc = -EC_EVERSION;
		goto out;
	}
	if (rawlen < EC_FERNET_MIN_RAW ||
	    (rawlen - CT_OFF - EC_FERNET_MACBYTES) % BLOCK != 0) {
		rc = -EC_ELENGTH;
		goto out;
	}
	bodylen = rawlen - EC_FERNET_MACBYTES;
	ctlen = bodylen - CT_OFF;

	/* Authenticate before touching the ciphertext. */
	rc = sign(key, raw, bodylen, mac);
	if (rc < 0)
		goto out;
	if (ec_secure_memcmp(mac, raw + bodylen, EC_FERNET_MACBYTES) != 0) {
		rc = -EC_EHMAC;
		goto out;
	}

	out = ec_secure_alloc(ctlen);
	if (out == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	/* We strip the padding ourselves, to tell bad padding apart. */
	if (!aes_cbc() ||
	    EVP_DecryptInit_ex(ctx, aes_cbc(), NULL, key + SIGN_KEYBYTES,
			       raw + IV_OFF) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ctx, 0) != 1) {
		rc = -EIO;
		goto out;
	}
	rc = cipher_all(ctx, 0, raw + CT_OFF, ctlen, out, &outlen);
	if (rc < 0)
		goto out;
	if (outlen != ctlen) {
		rc = -EIO;
		goto out;
	}
	/* The token is authentic, so this check leaks nothing useful. */
	pad = out[ctlen - 1];
	if (pad == 0 || pad > BLOCK) {
		rc = -EC_EPADDING;
		goto out;
	}
	for (i = 1; i <= pad; i++) {
		if (out[ctlen - i] != pad) {
			rc = -EC_EPADDING;
			goto out;
		}
	}

	ts = 0;
	for (i = 0; i < 8; i++)
		ts = ts << 8 | raw[TS_OFF + i];
	if (timestamp != NULL)
		*timestamp = ts;
	*pt = out;
	*ptlen = ctlen - pad;
	out = NULL;
	rc = 0;
out:
	ec_secure_free(out);		/* wipes any plaintext left */
	EVP_CIPHER_CTX_free(ctx);
	sodium_memzero(mac, sizeof(mac));
	free(raw);
	return rc;
}
