/*
 * kdf_int: between kdf.c and kdf_shani.c (PBKDF2's rounds with the CPU's
 * SHA extensions).  Not installed, not for other modules.
 */
#ifndef EC_KDF_INT_H
#define EC_KDF_INT_H

#include <stdbool.h>
#include <stdint.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define EC_KDF_HAVE_SHANI 1
#else
#define EC_KDF_HAVE_SHANI 0
#endif

#define EC_KDF_WORDS 8	/* a SHA-256 state or digest, in 32-bit words */

/*
 * One PBKDF2-HMAC-SHA256 block under way, as 32-bit words (A to H, the
 * digest's big-endian words as numbers).  Secret: the caller wipes it.
 */
struct ec_kdf_chain {
	uint32_t ipad[EC_KDF_WORDS];	/* SHA-256 state after key ^ ipad */
	uint32_t opad[EC_KDF_WORDS];	/* and after key ^ opad */
	uint32_t u[EC_KDF_WORDS];	/* U_1 in; the last U_r out */
	uint32_t t[EC_KDF_WORDS];	/* U_1 in; T = U_1 ^ ... ^ U_c out */
};

/* Whether this CPU has the SHA extensions (and SSE4.1) that
 * ec_kdf_shani_rounds needs. */
bool ec_kdf_shani_usable(void);

/* Rounds 2 to iterations of c (none when iterations is 1).  Only where
 * ec_kdf_shani_usable() said yes. */
void ec_kdf_shani_rounds(struct ec_kdf_chain *c, unsigned iterations);
/* The same for two chains of as many rounds, interleaved. */
void ec_kdf_shani_rounds2(struct ec_kdf_chain *a, struct ec_kdf_chain *b,
			  unsigned iterations);

#endif
