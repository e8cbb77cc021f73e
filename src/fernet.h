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

#endif
