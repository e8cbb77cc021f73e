/*
 * fernet_b64: base64url (no padding) for the bulk of a token's text, by
 * table, and with AVX2 where the CPU has it (32 characters a step: about
 * ten times the table's speed, which left the decoding of a big entry's
 * text most of its load).  The text is ciphertext, not a secret, so the
 * coders need not run in constant time.  No I/O.
 *
 * The AVX2 steps follow the published method (W. Mula, D. Lemire, "Faster
 * Base64 Encoding and Decoding Using AVX2 Instructions", 2018), with the
 * url-safe alphabet's ranges; each is checked against the table in
 * check_fernet.
 */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_B64_AVX2 1
#endif

#include "fernet.h"

static const char enc_table[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static uint8_t dec_table[256];
static int use_avx2;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init_once(void)
{
	int i;

	memset(dec_table, 0xff, sizeof(dec_table));
	for (i = 0; i < 64; i++)
		dec_table[(unsigned char)enc_table[i]] = (uint8_t)i;
#ifdef HAVE_B64_AVX2
	__builtin_cpu_init();
	use_avx2 = __builtin_cpu_supports("avx2");
#endif
}

#ifdef HAVE_B64_AVX2
/*
 * Decode 32 characters a step while at least 44 are left (each step
 * stores 32 bytes of which 24 count: the 8 after them are written over by
 * the next step or the table's tail, never past the output's end).
 * Returns the characters done (a multiple of 32), or -1 at a character
 * outside the alphabet.
 */
__attribute__((target("avx2")))
static long dec_avx2(const unsigned char *t, size_t n, uint8_t *out)
{
	const __m256i pack1 = _mm256_set1_epi32(0x01400140);
	const __m256i pack2 = _mm256_set1_epi32(0x00011000);
	const __m256i shuf = _mm256_setr_epi8(
		2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1,
		2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
	const __m256i perm = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 3, 7);
	size_t i = 0;

	for (; i + 44 <= n; i += 32) {
		__m256i c = _mm256_loadu_si256((const __m256i *)(t + i));
		__m256i up = _mm256_and_si256(
			_mm256_cmpgt_epi8(c, _mm256_set1_epi8('A' - 1)),
			_mm256_cmpgt_epi8(_mm256_set1_epi8('Z' + 1), c));
		__m256i lo = _mm256_and_si256(
			_mm256_cmpgt_epi8(c, _mm256_set1_epi8('a' - 1)),
			_mm256_cmpgt_epi8(_mm256_set1_epi8('z' + 1), c));
		__m256i dg = _mm256_and_si256(
			_mm256_cmpgt_epi8(c, _mm256_set1_epi8('0' - 1)),
			_mm256_cmpgt_epi8(_mm256_set1_epi8('9' + 1), c));
		__m256i da = _mm256_cmpeq_epi8(c, _mm256_set1_epi8('-'));
		__m256i us = _mm256_cmpeq_epi8(c, _mm256_set1_epi8('_'));
		__m256i ok = _mm256_or_si256(_mm256_or_si256(up, lo),
					     _mm256_or_si256(dg,
						_mm256_or_si256(da, us)));
		__m256i off, v;

		if (_mm256_movemask_epi8(ok) != -1)
			return -1;
		off = _mm256_or_si256(
			_mm256_or_si256(
				_mm256_and_si256(up, _mm256_set1_epi8(-65)),
				_mm256_and_si256(lo, _mm256_set1_epi8(-71))),
			_mm256_or_si256(
				_mm256_and_si256(dg, _mm256_set1_epi8(4)),
				_mm256_or_si256(
					_mm256_and_si256(da,
						_mm256_set1_epi8(62 - '-')),
					_mm256_and_si256(us,
						_mm256_set1_epi8(63 - '_')))));
		v = _mm256_add_epi8(c, off);		/* 6-bit values */
		v = _mm256_maddubs_epi16(v, pack1);	/* 12 bits a pair */
		v = _mm256_madd_epi16(v, pack2);	/* 24 bits a group */
		v = _mm256_shuffle_epi8(v, shuf);
		v = _mm256_permutevar8x32_epi32(v, perm);
		_mm256_storeu_si256((__m256i *)(out + i / 4 * 3), v);
	}
	return (long)i;
}

/*
 * Encode 24 bytes a step while at least 28 are left (each step loads 16
 * bytes at p + 12).  Returns the bytes done (a multiple of 24).
 */
__attribute__((target("avx2")))
static size_t enc_avx2(const uint8_t *p, size_t n, char *out)
{
	const __m256i shuf = _mm256_setr_epi8(
		1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10,
		1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10);
	/* added to an index by its class: 26..51, 52..61, 62, 63, 0..25 */
	const __m256i lut = _mm256_setr_epi8(
		'a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
		'0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '-' - 62,
		'_' - 63, 'A', 0, 0,
		'a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
		'0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '-' - 62,
		'_' - 63, 'A', 0, 0);
	size_t i = 0;

	for (; i + 28 <= n; i += 24) {
		__m256i in = _mm256_inserti128_si256(
			_mm256_castsi128_si256(
				_mm_loadu_si128((const __m128i *)(p + i))),
			_mm_loadu_si128((const __m128i *)(p + i + 12)), 1);
		__m256i t0, t1, t2, t3, idx, cls;

		in = _mm256_shuffle_epi8(in, shuf);
		t0 = _mm256_and_si256(in, _mm256_set1_epi32(0x0fc0fc00));
		t1 = _mm256_mulhi_epu16(t0, _mm256_set1_epi32(0x04000040));
		t2 = _mm256_and_si256(in, _mm256_set1_epi32(0x003f03f0));
		t3 = _mm256_mullo_epi16(t2, _mm256_set1_epi32(0x01000010));
		idx = _mm256_or_si256(t1, t3);
		cls = _mm256_subs_epu8(idx, _mm256_set1_epi8(51));
		cls = _mm256_or_si256(cls, _mm256_and_si256(
			_mm256_cmpgt_epi8(_mm256_set1_epi8(26), idx),
			_mm256_set1_epi8(13)));
		idx = _mm256_add_epi8(idx, _mm256_shuffle_epi8(lut, cls));
		_mm256_storeu_si256((__m256i *)(out + i / 3 * 4), idx);
	}
	return i;
}
#endif

int ec_fernet_b64_simd(int on)
{
	int was;

	pthread_once(&once, init_once);
	was = use_avx2;
#ifdef HAVE_B64_AVX2
	use_avx2 = on && __builtin_cpu_supports("avx2");
#else
	(void)on;
#endif
	return was;
}

long ec_fernet_b64_decode(const char *t, size_t n, uint8_t *out)
{
	const unsigned char *u = (const unsigned char *)t;
	uint8_t *o = out;
	size_t i = 0;

	pthread_once(&once, init_once);
#ifdef HAVE_B64_AVX2
	if (use_avx2) {
		long r = dec_avx2(u, n, out);

		if (r < 0)
			return -1;
		i = (size_t)r;
		o = out + i / 4 * 3;
	}
#endif
	for (; i + 4 <= n; i += 4) {
		uint32_t a = dec_table[u[i]], b = dec_table[u[i + 1]],
			 c = dec_table[u[i + 2]], d = dec_table[u[i + 3]];

		if ((a | b | c | d) & 0x80)
			return -1;
		a = a << 18 | b << 12 | c << 6 | d;
		o[0] = (uint8_t)(a >> 16);
		o[1] = (uint8_t)(a >> 8);
		o[2] = (uint8_t)a;
		o += 3;
	}
	return (long)(o - out);
}

void ec_fernet_b64_encode(const uint8_t *p, size_t n, char *out)
{
	size_t i = 0;

	pthread_once(&once, init_once);
#ifdef HAVE_B64_AVX2
	if (use_avx2) {
		i = enc_avx2(p, n, out);
		out += i / 3 * 4;
	}
#endif
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 |
			     p[i + 2];

		*out++ = enc_table[v >> 18];
		*out++ = enc_table[(v >> 12) & 63];
		*out++ = enc_table[(v >> 6) & 63];
		*out++ = enc_table[v & 63];
	}
}
