/*
 * fernet: Fernet tokens (version 0x80) over a 32-byte key.
 * No files, JSON, plist, clock or logging: time and IV come from the caller.
 */
#ifndef EC_FERNET_H
#define EC_FERNET_H

#include <stddef.h>
#include <stdint.h>

#include "kdf.h"

#define EC_FERNET_IVBYTES 16
#define EC_FERNET_MACBYTES 32
/* version + timestamp + IV + one block + HMAC */
#define EC_FERNET_MIN_RAW (1 + 8 + EC_FERNET_IVBYTES + 16 + EC_FERNET_MACBYTES)

/*
 * Encrypt pt into a token: url-safe base64 with padding, NUL-terminated,
 * malloc'd into *token (free() it; it is not secret), length in *toklen.
 * 0, -ENOMEM, or -EIO (the crypto library failed).  pt may be NULL when
 * ptlen is 0.
 */
int ec_fernet_seal(const uint8_t key[EC_KEYBYTES],
		   const uint8_t *pt, size_t ptlen, uint64_t timestamp,
		   const uint8_t iv[EC_FERNET_IVBYTES],
		   char **token, size_t *toklen)
	__attribute__((warn_unused_result));

/*
 * Verify the HMAC in constant time, then decrypt.  On success *pt is
 * ec_secure_alloc'd (ec_secure_free it), *ptlen its length, and *timestamp
 * (when not NULL) the token's time.  On failure nothing is output and the
 * code says why: -EC_EBASE64, -EC_EVERSION, -EC_ELENGTH, -EC_EHMAC,
 * -EC_EPADDING, -ENOMEM, or -EIO (the crypto library failed).  Base64 is
 * strict: padding required, no whitespace, only the url-safe alphabet.
 */
int ec_fernet_open(const uint8_t key[EC_KEYBYTES],
		   const char *token, size_t toklen,
		   uint8_t **pt, size_t *ptlen, uint64_t *timestamp)
	__attribute__((warn_unused_result));

/* ---- streaming (fernet_stream.c): big tokens in one pass ------------- */

/*
 * Opening a token whose text arrives in pieces: every piece is checked
 * against the alphabet, decoded, fed to the HMAC and decrypted into one
 * guarded buffer of the caller's capacity, so the plaintext exists once
 * and the raw token never in whole.  Nothing of the plaintext is given
 * out before ec_fernet_dec_final() has checked the MAC (in constant
 * time); on any failure the buffer is wiped.  Codes as ec_fernet_open(),
 * plus -EC_ETOOBIG when the plaintext would pass the capacity.
 */
struct ec_fernet_dec;

/* cap: the most plaintext bytes expected (e.g. 3/4 of the text's length).
 * *out: free with ec_fernet_dec_free().  -ENOMEM, -EIO. */
int ec_fernet_dec_new(const uint8_t key[EC_KEYBYTES], size_t cap,
		      struct ec_fernet_dec **out)
	__attribute__((warn_unused_result));
/* The next n characters of the token text (any split). */
int ec_fernet_dec_update(struct ec_fernet_dec *d, const char *text, size_t n)
	__attribute__((warn_unused_result));
/* The end of the text: check lengths, MAC and padding; then *pt (the
 * buffer, ec_secure_alloc'd, ec_secure_free it) holds *ptlen bytes. */
int ec_fernet_dec_final(struct ec_fernet_dec *d, uint8_t **pt, size_t *ptlen,
			uint64_t *timestamp) __attribute__((warn_unused_result));
void ec_fernet_dec_free(struct ec_fernet_dec *d);

/*
 * Sealing plaintext that arrives in pieces: the token text is handed to
 * emit(ctx, text, n) as it is made (in pieces of up to a few hundred
 * KiB), so neither the ciphertext nor the token is ever whole in memory.
 * emit returns 0 or a negative code, which stops the sealing.  The text
 * is exactly what ec_fernet_seal() makes for the same input.
 */
typedef int (*ec_fernet_emit)(void *ctx, const char *text, size_t n);
struct ec_fernet_enc;

int ec_fernet_enc_new(const uint8_t key[EC_KEYBYTES], uint64_t timestamp,
		      const uint8_t iv[EC_FERNET_IVBYTES], ec_fernet_emit emit,
		      void *ctx, struct ec_fernet_enc **out)
	__attribute__((warn_unused_result));
int ec_fernet_enc_update(struct ec_fernet_enc *e, const uint8_t *pt,
			 size_t n) __attribute__((warn_unused_result));
/* Pad, MAC and the last of the text. */
int ec_fernet_enc_final(struct ec_fernet_enc *e)
	__attribute__((warn_unused_result));
void ec_fernet_enc_free(struct ec_fernet_enc *e);

/* The length of the token text for ptlen bytes of plaintext. */
size_t ec_fernet_token_len(size_t ptlen);

/* Base64url (fernet_b64.c: by table, with AVX2 where the CPU has it),
 * shared by fernet.c and fernet_stream.c for the bulk of a token (no I/O;
 * the text is ciphertext, so no constant time).
 * decode: whole groups of 4 characters, none '=', into 3 bytes each; the
 * number of bytes, or -1 at a character outside the alphabet.  encode: n
 * bytes (a multiple of 3) into 4n/3 characters (no NUL). */
long ec_fernet_b64_decode(const char *t, size_t n, uint8_t *out);
void ec_fernet_b64_encode(const uint8_t *p, size_t n, char *out);
/* For tests: on = 0 makes both coders use the table alone, on = 1 the
 * CPU's vector instructions where it has them; returns the previous
 * setting (1 only when they are in use).  Not thread-safe: call it before
 * coding starts. */
int ec_fernet_b64_simd(int on);

#endif
