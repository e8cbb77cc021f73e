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
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
 * bytes >= 0x80 for letters, so we check the characters ourselves; this
 * also refuses NUL and whitespace.  The token is not secret.
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

/* HMAC-SHA256 of msg under the signing half of key.  0 or -EIO. */
static int sign(const uint8_t key[EC_KEYBYTES], const uint8_t *msg,
		size_t len, uint8_t mac[EC_FERNET_MACBYTES])
{
	crypto_auth_hmacsha256_state st;
	int rc = -EIO;

	if (crypto_auth_hmacsha256_init(&st, key, SIGN_KEYBYTES) != 0 ||
	    crypto_auth_hmacsha256_update(&st, msg, len) != 0 ||
	    crypto_auth_hmacsha256_final(&st, mac) != 0)
		goto out;
	rc = 0;
out:
	sodium_memzero(&st, sizeof(st));	/* holds key-derived pads */
	return rc;
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
	size_t ctlen, rawlen, b64size, outlen;
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
	if (EVP_EncryptInit_ex(ctx, EVP_aes_128_cbc(), NULL,
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
	sodium_bin2base64(b64, b64size, raw, rawlen, B64_VARIANT);
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
	size_t rawmax, rawlen, bodylen, ctlen, outlen, pad, i;
	uint64_t ts;
	int rc;

	if (token == NULL) {
		if (toklen > 0) {
			rc = -EINVAL;
			goto out;
		}
		token = "";
	}
	/* Padding is required, so the text is whole 4-char groups; sodium
	 * then checks the padding and that everything is consumed. */
	if (toklen % 4 != 0 || !b64_alphabet(token, toklen)) {
		rc = -EC_EBASE64;
		goto out;
	}
	rawmax = toklen / 4 * 3;
	raw = malloc(rawmax > 0 ? rawmax : 1);
	if (raw == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if (sodium_base642bin(raw, rawmax, token, toklen, NULL, &rawlen, NULL,
			      B64_VARIANT) != 0) {
		rc = -EC_EBASE64;
		goto out;
	}
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
	if (EVP_DecryptInit_ex(ctx, EVP_aes_128_cbc(), NULL,
			       key + SIGN_KEYBYTES, raw + IV_OFF) != 1 ||
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
