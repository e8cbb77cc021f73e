/*
 * kdf_shani: PBKDF2-HMAC-SHA256's rounds with the CPU's SHA extensions
 * (SHA-NI), for kdf.c.  Our own compression, not OpenSSL's, because no
 * library offers what this loop needs: the chaining state kept in the
 * form the SHA instructions use from one round to the next, and the
 * padding words and their schedule known.  Through SHA256_Transform every
 * compression is a call that loads and stores the state, and every round
 * turns the digest into bytes and back; here one key's 480,000 rounds
 * took 0.049-0.057 s against 0.063-0.081 s that way (the "two
 * compressions a round" is all that is left).  The instruction sequence
 * is the one Intel documents for these instructions; the results are
 * checked against the RFC 7914 / Python vectors, the golden files and the
 * portable loop in check_kdf.  Registers and the stack of this function
 * are not wiped, as OpenSSL's are not; the caller wipes the chain.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "kdf_int.h"

#if EC_KDF_HAVE_SHANI
#include <immintrin.h>

static const uint32_t k256[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b,
	0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
	0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7,
	0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
	0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152,
	0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
	0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
	0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
	0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define SHANI __attribute__((target("sha,sse4.1")))
#define SHANI_INLINE SHANI __attribute__((always_inline)) static inline

/* Four rounds (i to i + 3) with their message words m. */
#define ROUNDS4(s0, s1, m, i)                                               \
	do {                                                                \
		__m128i w_ = _mm_add_epi32(                                 \
			m, _mm_loadu_si128((const __m128i *)&k256[i]));     \
		s1 = _mm_sha256rnds2_epu32(s1, s0, w_);                    \
		w_ = _mm_shuffle_epi32(w_, 0x0E);                           \
		s0 = _mm_sha256rnds2_epu32(s0, s1, w_);                    \
	} while (0)

/* The next four message words into m0, from the sixteen before (m0 the
 * oldest four, m3 the newest). */
#define SCHEDULE(m0, m1, m2, m3)                                            \
	do {                                                                \
		m0 = _mm_sha256msg1_epu32(m0, m1);                          \
		m0 = _mm_add_epi32(m0, _mm_alignr_epi8(m3, m2, 4));         \
		m0 = _mm_sha256msg2_epu32(m0, m3);                          \
	} while (0)

/*
 * One compression of the block m0..m3 (message words, the first in the
 * low lane) into the state s0, s1 (the instructions' order: A, B, E, F
 * and C, D, G, H from the high lane down).
 */
SHANI_INLINE void compress(__m128i *s0, __m128i *s1, __m128i m0, __m128i m1,
			   __m128i m2, __m128i m3)
{
	__m128i a = *s0, b = *s1;
	int i;

	ROUNDS4(a, b, m0, 0);
	ROUNDS4(a, b, m1, 4);
	ROUNDS4(a, b, m2, 8);
	ROUNDS4(a, b, m3, 12);
	for (i = 16; i < 64; i += 16) {
		SCHEDULE(m0, m1, m2, m3);
		ROUNDS4(a, b, m0, i);
		SCHEDULE(m1, m2, m3, m0);
		ROUNDS4(a, b, m1, i + 4);
		SCHEDULE(m2, m3, m0, m1);
		ROUNDS4(a, b, m2, i + 8);
		SCHEDULE(m3, m0, m1, m2);
		ROUNDS4(a, b, m3, i + 12);
	}
	*s0 = _mm_add_epi32(*s0, a);
	*s1 = _mm_add_epi32(*s1, b);
}

/* Words h[0..7] (A to H) into the instructions' order. */
SHANI_INLINE void load_state(const uint32_t h[EC_KDF_WORDS], __m128i *s0,
			     __m128i *s1)
{
	__m128i dcba = _mm_loadu_si128((const __m128i *)h);
	__m128i hgfe = _mm_loadu_si128((const __m128i *)(h + 4));

	dcba = _mm_shuffle_epi32(dcba, 0xB1);		/* C D A B */
	hgfe = _mm_shuffle_epi32(hgfe, 0x1B);		/* E F G H */
	*s0 = _mm_alignr_epi8(dcba, hgfe, 8);		/* A B E F */
	*s1 = _mm_blend_epi16(hgfe, dcba, 0xF0);	/* C D G H */
}

/* A state back as words A to H from the low lane: the digest's words,
 * which are the next block's first eight message words. */
SHANI_INLINE void state_words(__m128i s0, __m128i s1, __m128i *w0,
			      __m128i *w1)
{
	__m128i feba = _mm_shuffle_epi32(s0, 0x1B);
	__m128i dchg = _mm_shuffle_epi32(s1, 0xB1);

	*w0 = _mm_blend_epi16(feba, dchg, 0xF0);	/* D C B A */
	*w1 = _mm_alignr_epi8(dchg, feba, 8);		/* H G F E */
}

/*
 * Rounds 2 to iterations of n chains (1 or 2, a constant where it is
 * inlined, so the loops over them unroll and everything stays in
 * registers).  Two chains' compressions do not wait for each other, so
 * the core overlaps them: two keys took 0.084-0.092 s here against
 * 0.049-0.057 s for one.
 */
SHANI_INLINE void rounds_n(struct ec_kdf_chain *const *c, int n,
			   unsigned iterations)
{
	/* A 32-byte message after a 64-byte block: 0x80, zeros, and the
	 * length in bits (768) in the last word. */
	const __m128i pad0 = _mm_set_epi32(0, 0, 0, (int)0x80000000u);
	const __m128i pad1 = _mm_set_epi32(0x300, 0, 0, 0);
	__m128i i0[2], i1[2], o0[2], o1[2], u0[2], u1[2], t0[2], t1[2];
	__m128i s0[2], s1[2];
	unsigned r;
	int k;

	for (k = 0; k < n; k++) {
		load_state(c[k]->ipad, &i0[k], &i1[k]);
		load_state(c[k]->opad, &o0[k], &o1[k]);
		u0[k] = _mm_loadu_si128((const __m128i *)c[k]->u);
		u1[k] = _mm_loadu_si128((const __m128i *)(c[k]->u + 4));
		t0[k] = _mm_loadu_si128((const __m128i *)c[k]->t);
		t1[k] = _mm_loadu_si128((const __m128i *)(c[k]->t + 4));
	}
	for (r = 1; r < iterations; r++) {
		for (k = 0; k < n; k++) {
			s0[k] = i0[k];
			s1[k] = i1[k];
			compress(&s0[k], &s1[k], u0[k], u1[k], pad0, pad1);
		}
		for (k = 0; k < n; k++) {
			state_words(s0[k], s1[k], &u0[k], &u1[k]);
			s0[k] = o0[k];
			s1[k] = o1[k];
			compress(&s0[k], &s1[k], u0[k], u1[k], pad0, pad1);
		}
		for (k = 0; k < n; k++) {
			state_words(s0[k], s1[k], &u0[k], &u1[k]);
			t0[k] = _mm_xor_si128(t0[k], u0[k]);
			t1[k] = _mm_xor_si128(t1[k], u1[k]);
		}
	}
	for (k = 0; k < n; k++) {
		_mm_storeu_si128((__m128i *)c[k]->u, u0[k]);
		_mm_storeu_si128((__m128i *)(c[k]->u + 4), u1[k]);
		_mm_storeu_si128((__m128i *)c[k]->t, t0[k]);
		_mm_storeu_si128((__m128i *)(c[k]->t + 4), t1[k]);
	}
}

SHANI void ec_kdf_shani_rounds(struct ec_kdf_chain *c, unsigned iterations)
{
	struct ec_kdf_chain *const v[1] = { c };

	rounds_n(v, 1, iterations);
}

SHANI void ec_kdf_shani_rounds2(struct ec_kdf_chain *a,
				struct ec_kdf_chain *b, unsigned iterations)
{
	struct ec_kdf_chain *const v[2] = { a, b };

	rounds_n(v, 2, iterations);
}

bool ec_kdf_shani_usable(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("sha") &&
	       __builtin_cpu_supports("sse4.1");
}

#else

/* Never called: ec_kdf_shani_usable() says no. */
void ec_kdf_shani_rounds(struct ec_kdf_chain *c, unsigned iterations)
{
	(void)c;
	(void)iterations;
	abort();
}

void ec_kdf_shani_rounds2(struct ec_kdf_chain *a, struct ec_kdf_chain *b,
			  unsigned iterations)
{
	(void)a;
	(void)b;
	(void)iterations;
	abort();
}

bool ec_kdf_shani_usable(void)
{
	return false;
}

#endif
