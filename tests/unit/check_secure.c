/* Unit tests for secure (guarded memory, wipe, compare, sbuf) and error. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <sodium.h>

#include "error.h"
#include "secure.h"
#include "unit.h"

static int all_zero(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

/* --- init ---------------------------------------------------------------- */

START_TEST(test_init_idempotent)
{
	ck_assert_int_eq(ec_secure_init(), 0);
	ck_assert_int_eq(ec_secure_init(), 0);
}
END_TEST

/* --- alloc --------------------------------------------------------------- */

START_TEST(test_alloc_zero)
{
	void *p = ec_secure_alloc(0);

	ck_assert_ptr_nonnull(p);
	ec_secure_free(p);
}
END_TEST

START_TEST(test_alloc_use)
{
	uint8_t *p = ec_secure_alloc(5000);
	size_t i;

	ck_assert_ptr_nonnull(p);
	for (i = 0; i < 5000; i++)
		p[i] = (uint8_t)i;
	for (i = 0; i < 5000; i++)
		ck_assert_uint_eq(p[i], (uint8_t)i);
	ec_secure_free(p);
}
END_TEST

START_TEST(test_alloc_huge_fails)
{
	ck_assert_ptr_null(ec_secure_alloc(SIZE_MAX));
	ck_assert_ptr_null(ec_secure_alloc(SIZE_MAX / 2));
}
END_TEST

START_TEST(test_free_null)
{
	ec_secure_free(NULL);
}
END_TEST

/* --- wipe and compare ---------------------------------------------------- */

START_TEST(test_wipe)
{
	uint8_t buf[64];

	memset(buf, 0xa5, sizeof(buf));
	ec_secure_wipe(buf + 8, 40);
	ck_assert_uint_eq(buf[7], 0xa5);
	ck_assert(all_zero(buf + 8, 40));
	ck_assert_uint_eq(buf[48], 0xa5);
	ec_secure_wipe(NULL, 0);
}
END_TEST

START_TEST(test_memcmp)
{
	static const uint8_t a[] = "0123456789abcdef";
	static const uint8_t b[] = "0123456789abcdeF";
	static const uint8_t c[] = "x123456789abcdef";

	ck_assert_int_eq(ec_secure_memcmp(a, a, 16), 0);
	ck_assert_int_eq(ec_secure_memcmp(a, b, 16), -1);
	ck_assert_int_eq(ec_secure_memcmp(a, c, 16), -1);
	ck_assert_int_eq(ec_secure_memcmp(a, b, 15), 0);
	ck_assert_int_eq(ec_secure_memcmp(a, c, 0), 0);
}
END_TEST

/* --- the pool of guarded blocks ------------------------------------------ */

START_TEST(test_pool_reuse_wiped)
{
	uint8_t *p, *q;
	size_t i;

	if (!ec_secure_pooled())
		return;
	p = ec_secure_alloc(100);
	ck_assert_ptr_nonnull(p);
	memset(p, 0xab, 100);
	ec_secure_free(p);
	q = ec_secure_alloc(4000);	/* same class: the same block back */
	ck_assert_ptr_eq(q, p);
	for (i = 0; i < 4096; i++)
		ck_assert_uint_eq(q[i], 0);	/* wiped when freed */
	p = ec_secure_alloc(5000);	/* another class */
	ck_assert_ptr_ne(p, q);
	ec_secure_free(p);
	ec_secure_free(q);
	p = ec_secure_alloc(200000);	/* too large: never pooled */
	ck_assert_ptr_nonnull(p);
	p[199999] = 1;
	ec_secure_free(p);
}
END_TEST

/* A key block made read-only (ec_secure_readonly) can still go back to
 * the pool. */
START_TEST(test_pool_readonly_block)
{
	uint8_t *p, *q;

	p = ec_secure_alloc(32);
	ck_assert_ptr_nonnull(p);
	memset(p, 7, 32);
	ck_assert_int_eq(ec_secure_readonly(p), 0);
	ec_secure_free(p);
	q = ec_secure_alloc(32);
	ck_assert_ptr_nonnull(q);
	memset(q, 1, 32);		/* writable again */
	if (ec_secure_pooled())
		ck_assert_ptr_eq(q, p);
	ec_secure_free(q);
}
END_TEST

/* The guard page right after a pooled block's class size still faults.
 * (Registered only when pooling is on: ASan builds take SIGSEGV over.) */
START_TEST(test_pool_guard_page)
{
	volatile uint8_t *p = ec_secure_alloc(100);

	ck_assert_ptr_nonnull((void *)p);
	p[4096] = 1;
}
END_TEST

/* Many blocks of every class: more than the pool keeps. */
START_TEST(test_pool_many)
{
	enum { N = 300 };
	static const size_t sizes[] = { 1, 4096, 4097, 20000, 65536, 65537 };
	uint8_t *v[N];
	size_t i, j;

	for (j = 0; j < sizeof(sizes) / sizeof(*sizes); j++) {
		for (i = 0; i < N; i++) {
			v[i] = ec_secure_alloc(sizes[j]);
			ck_assert_ptr_nonnull(v[i]);
			memset(v[i], (int)i, sizes[j]);
		}
		for (i = 0; i < N; i++) {
			ck_assert_uint_eq(v[i][sizes[j] - 1], (uint8_t)i);
			ec_secure_free(v[i]);
		}
	}
}
END_TEST

static void *pool_worker(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	int i;

	for (i = 0; i < 3000; i++) {
		size_t n = 1 + (size_t)rand_r(&seed) % 70000;
		uint8_t *p = ec_secure_alloc(n);
		uint8_t tag = (uint8_t)(uintptr_t)arg;

		if (!p)
			return (void *)1;
		memset(p, tag, n);
		sched_yield();
		if (p[0] != tag || p[n - 1] != tag)
			return (void *)1;
		ec_secure_free(p);
	}
	return NULL;
}

START_TEST(test_pool_threads)
{
	pthread_t t[4];
	void *ret;
	uintptr_t i;

	for (i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, pool_worker,
						(void *)(i + 1)), 0);
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(pthread_join(t[i], &ret), 0);
		ck_assert_ptr_null(ret);
	}
}
END_TEST

/* --- sbuf ---------------------------------------------------------------- */

START_TEST(test_sbuf_append)
{
	struct ec_sbuf b = EC_SBUF_INIT;

	ck_assert_int_eq(ec_sbuf_append(&b, "abc", 3), 0);
	ck_assert_int_eq(ec_sbuf_append(&b, NULL, 0), 0);
	ck_assert_int_eq(ec_sbuf_append(&b, "defg", 4), 0);
	ck_assert_uint_eq(b.len, 7);
	ck_assert_uint_ge(b.cap, 7);
	ck_assert_mem_eq(b.p, "abcdefg", 7);
	ec_sbuf_release(&b);
	ck_assert_ptr_null(b.p);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, 0);
	ec_sbuf_release(&b);	/* twice is fine */
}
END_TEST

/* Byte-by-byte appends keep the contents and reallocate O(log n) times. */
START_TEST(test_sbuf_growth)
{
	struct ec_sbuf b = EC_SBUF_INIT;
	uint8_t *last = NULL;
	size_t i, moves = 0;

	for (i = 0; i < 100000; i++) {
		uint8_t c = (uint8_t)(i * 7);

		ck_assert_int_eq(ec_sbuf_append(&b, &c, 1), 0);
		if (b.p != last) {
			moves++;
			last = b.p;
		}
	}
	ck_assert_uint_eq(b.len, 100000);
	ck_assert_uint_le(moves, 20);
	for (i = 0; i < 100000; i++)
		ck_assert_uint_eq(b.p[i], (uint8_t)(i * 7));
	ec_sbuf_release(&b);
}
END_TEST

START_TEST(test_sbuf_reserve)
{
	struct ec_sbuf b = EC_SBUF_INIT;
	uint8_t *p;

	ck_assert_int_eq(ec_sbuf_reserve(&b, 0), 0);
	ck_assert_ptr_null(b.p);
	ck_assert_int_eq(ec_sbuf_reserve(&b, 1000), 0);
	ck_assert_uint_ge(b.cap, 1000);
	ck_assert_uint_eq(b.len, 0);
	p = b.p;
	ck_assert_int_eq(ec_sbuf_reserve(&b, 10), 0);	/* no shrink */
	ck_assert_ptr_eq(b.p, p);
	ec_sbuf_release(&b);
}
END_TEST

START_TEST(test_sbuf_overflow)
{
	struct ec_sbuf b = EC_SBUF_INIT;
	uint8_t *p;
	size_t cap;

	ck_assert_int_eq(ec_sbuf_append(&b, "0123456789", 10), 0);
	p = b.p;
	cap = b.cap;
	/* len + n overflows: refused before data is read */
	ck_assert_int_eq(ec_sbuf_append(&b, "x", SIZE_MAX - 5), -ENOMEM);
	/* too large to allocate */
	ck_assert_int_eq(ec_sbuf_reserve(&b, SIZE_MAX), -ENOMEM);
	ck_assert_int_eq(ec_sbuf_reserve(&b, SIZE_MAX / 2), -ENOMEM);
	ck_assert_int_eq(ec_sbuf_resize(&b, SIZE_MAX / 2), -ENOMEM);
	/* b is untouched by the failures */
	ck_assert_ptr_eq(b.p, p);
	ck_assert_uint_eq(b.cap, cap);
	ck_assert_uint_eq(b.len, 10);
	ck_assert_mem_eq(b.p, "0123456789", 10);
	ec_sbuf_release(&b);
}
END_TEST

START_TEST(test_sbuf_resize)
{
	struct ec_sbuf b = EC_SBUF_INIT;

	ck_assert_int_eq(ec_sbuf_resize(&b, 0), 0);
	ck_assert_int_eq(ec_sbuf_append(&b, "secret", 6), 0);
	ck_assert_int_eq(ec_sbuf_resize(&b, 200), 0);
	ck_assert_uint_eq(b.len, 200);
	ck_assert_mem_eq(b.p, "secret", 6);
	ck_assert(all_zero(b.p + 6, 194));
	memset(b.p, 'z', 200);
	ck_assert_int_eq(ec_sbuf_resize(&b, 2), 0);
	ck_assert_uint_eq(b.len, 2);
	ck_assert_mem_eq(b.p, "zz", 2);
	ck_assert(all_zero(b.p + 2, 198));	/* shrinking wiped the tail */
	ck_assert_int_eq(ec_sbuf_resize(&b, 2), 0);
	ck_assert_uint_eq(b.len, 2);
	ec_sbuf_release(&b);
}
END_TEST

START_TEST(test_sbuf_detach)
{
	struct ec_sbuf b = EC_SBUF_INIT;
	uint8_t *p = (uint8_t *)&b;	/* anything but NULL */
	size_t len = 99;

	ec_sbuf_detach(&b, &p, &len);
	ck_assert_ptr_null(p);
	ck_assert_uint_eq(len, 0);

	ck_assert_int_eq(ec_sbuf_append(&b, "hello", 5), 0);
	ec_sbuf_detach(&b, &p, &len);
	ck_assert_ptr_null(b.p);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, 0);
	ck_assert_uint_eq(len, 5);
	ck_assert_mem_eq(p, "hello", 5);
	ec_secure_free(p);
	ec_sbuf_release(&b);
}
END_TEST

/* --- error --------------------------------------------------------------- */

START_TEST(test_strerror)
{
	ck_assert_str_eq(ec_strerror(0), "success");
	ck_assert_str_eq(ec_strerror(-EC_EHMAC), ec_strerror(EC_EHMAC));
	ck_assert_ptr_nonnull(strstr(ec_strerror(-EC_EHMAC), "authentication"));
	ck_assert_str_eq(ec_strerror(-EC_EBASE64), "token is not valid base64");
	ck_assert_str_eq(ec_strerror(-ENOENT), strerror(ENOENT));
	ck_assert_ptr_nonnull(ec_strerror(-EC_ERR_END));
}
END_TEST

START_TEST(test_strerror_all_named)
{
	int e;

	for (e = EC_ERR_BASE; e < EC_ERR_END; e++) {
		ck_assert_ptr_nonnull(ec_strerror(-e));
		ck_assert_uint_gt(strlen(ec_strerror(-e)), 0);
	}
}
END_TEST

START_TEST(test_errno_map)
{
	ck_assert_int_eq(ec_errno(-EC_EHMAC), -EBADMSG);
	ck_assert_int_eq(ec_errno(EC_EHMAC), EBADMSG);
	ck_assert_int_eq(ec_errno(-EC_EBASE64), -EBADMSG);
	ck_assert_int_eq(ec_errno(-EC_EPADDING), -EBADMSG);
	ck_assert_int_eq(ec_errno(-EC_EKEY), -ENOKEY);
	ck_assert_int_eq(ec_errno(-EC_ETOOBIG), -EFBIG);
	ck_assert_int_eq(ec_errno(-EC_ELOOSE), -EPERM);
	ck_assert_int_eq(ec_errno(-EC_ESECRETS), -EINVAL);
	ck_assert_int_eq(ec_errno(-EC_EUTF8), -EINVAL);
	ck_assert_int_eq(ec_errno(-ENOENT), -ENOENT);
	ck_assert_int_eq(ec_errno(0), 0);
}
END_TEST

/* Big buffers grow without a second copy and keep their content. */
START_TEST(test_big_sbuf)
{
	struct ec_sbuf b = EC_SBUF_INIT;
	size_t i, n = (size_t)3 << 20;
	uint8_t *p;

	for (i = 0; i < n; i += 4096)
		ck_assert_int_eq(ec_sbuf_append(&b, &i, sizeof(i)), 0);
	ck_assert_int_eq(ec_sbuf_resize(&b, (size_t)64 << 20), 0);
	for (i = 0; i < n; i += 4096) {
		size_t v;

		memcpy(&v, b.p + i / 4096 * sizeof(i), sizeof(v));
		ck_assert_uint_eq(v, i);
	}
	ck_assert_uint_eq(b.p[((size_t)64 << 20) - 1], 0);	/* zero-filled */
	ec_sbuf_release(&b);
	p = ec_secure_alloc((size_t)5 << 20);
	ck_assert_ptr_nonnull(p);
	memset(p, 0xab, (size_t)5 << 20);
	ec_secure_free(p);
}
END_TEST

/* A big buffer grown by appends holds little more than its content (all
 * of a big block is locked, so resident): within a sixteenth and a huge
 * page, where doubling took 64 MiB for 33. */
START_TEST(test_big_sbuf_cap)
{
	struct ec_sbuf b = EC_SBUF_INIT;
	static uint8_t chunk[128 << 10];
	size_t n = ((size_t)33 << 20) + 1, i;

	memset(chunk, 0x33, sizeof(chunk));
	for (i = 0; i + sizeof(chunk) <= n; i += sizeof(chunk))
		ck_assert_int_eq(ec_sbuf_append(&b, chunk, sizeof(chunk)), 0);
	ck_assert_int_eq(ec_sbuf_append(&b, chunk, n - i), 0);
	ck_assert_uint_eq(b.len, n);
	ck_assert_uint_ge(b.cap, n);
	if (ec_secure_pooled())	/* not under the sanitizers */
		ck_assert_uint_le(b.cap, n + n / 16 + ((size_t)2 << 20));
	ck_assert_uint_eq(b.p[0], 0x33);
	ck_assert_uint_eq(b.p[n - 1], 0x33);
	ec_sbuf_release(&b);
}
END_TEST

/* A big block starts on a 2 MiB boundary, so that the kernel can back it
 * with huge pages, and all of an odd size is usable; twice, so that the
 * ends given back around the first do not break the second. */
START_TEST(test_big_aligned)
{
	size_t n = ((size_t)7 << 20) + 12345;
	int i;

	for (i = 0; i < 2; i++) {
		uint8_t *p = ec_secure_alloc(n);

		ck_assert_ptr_nonnull(p);
		if (ec_secure_pooled())	/* not under the sanitizers */
			ck_assert_uint_eq((uintptr_t)p % ((size_t)2 << 20), 0);
		memset(p, 0x5a, n);
		ck_assert_uint_eq(p[n - 1], 0x5a);
		ec_secure_free(p);
	}
}
END_TEST

/* Dropping a block's front: the rest reads the same at the pointer
 * returned, which frees and grows as the block (a big one is not moved:
 * the pointer moves into it); the dropped bytes are wiped. */
START_TEST(test_drop_front)
{
	size_t sizes[] = { 100, ((size_t)3 << 20) + 7 }, off = 37, i, k;
	size_t bad = 0;

	for (k = 0; k < 2; k++) {
		size_t n = sizes[k];
		struct ec_sbuf b = EC_SBUF_INIT;
		uint8_t *p = ec_secure_alloc(n), *q;

		ck_assert_ptr_nonnull(p);
		for (i = 0; i < n; i++)
			p[i] = (uint8_t)(i * 7 + 1);
		q = ec_secure_drop_front(p, off, n);
		if (k == 1 && ec_secure_pooled()) {	/* big, not sanitized */
			ck_assert_ptr_eq(q, p + off);
			for (i = 0; i < off; i++)
				bad += p[i] != 0;
		} else {
			ck_assert_ptr_eq(q, p);
		}
		for (i = 0; i < n - off; i++)
			bad += q[i] != (uint8_t)((i + off) * 7 + 1);
		ck_assert_uint_eq(bad, 0);
		/* Adopted as a buffer (as a handle adopts loaded content) and
		 * grown past the block: the content moves with it. */
		b.p = q;
		b.len = b.cap = n - off;
		ck_assert_int_eq(ec_sbuf_append(&b, "end", 3), 0);
		ck_assert_int_eq(ec_sbuf_resize(&b, (size_t)9 << 20), 0);
		for (i = 0; i < n - off; i++)
			bad += b.p[i] != (uint8_t)((i + off) * 7 + 1);
		ck_assert_uint_eq(bad, 0);
		ck_assert_int_eq(memcmp(b.p + n - off, "end", 3), 0);
		ck_assert_uint_eq(b.p[((size_t)9 << 20) - 1], 0);
		ec_sbuf_release(&b);
	}
	ck_assert_ptr_eq(ec_secure_drop_front(NULL, 0, 0), NULL);
}
END_TEST

static Suite *secure_suite(void)
{
	Suite *s = suite_create("secure");
	TCase *tc;

	tc = tcase_create("init");
	tcase_add_test(tc, test_init_idempotent);
	tcase_add_test(tc, test_big_sbuf);
	tcase_add_test(tc, test_big_aligned);
	tcase_add_test(tc, test_big_sbuf_cap);
	tcase_add_test(tc, test_drop_front);
	suite_add_tcase(s, tc);

	tc = tcase_create("alloc");
	tcase_add_test(tc, test_alloc_zero);
	tcase_add_test(tc, test_alloc_use);
	tcase_add_test(tc, test_alloc_huge_fails);
	tcase_add_test(tc, test_free_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("wipe_compare");
	tcase_add_test(tc, test_wipe);
	tcase_add_test(tc, test_memcmp);
	suite_add_tcase(s, tc);

	tc = tcase_create("pool");
	tcase_add_test(tc, test_pool_reuse_wiped);
	tcase_add_test(tc, test_pool_readonly_block);
	if (ec_secure_pooled())
		tcase_add_test_raise_signal(tc, test_pool_guard_page, SIGSEGV);
	tcase_add_test(tc, test_pool_many);
	tcase_add_test(tc, test_pool_threads);
	suite_add_tcase(s, tc);

	tc = tcase_create("sbuf");
	tcase_add_test(tc, test_sbuf_append);
	tcase_add_test(tc, test_sbuf_growth);
	tcase_add_test(tc, test_sbuf_reserve);
	tcase_add_test(tc, test_sbuf_overflow);
	tcase_add_test(tc, test_sbuf_resize);
	tcase_add_test(tc, test_sbuf_detach);
	suite_add_tcase(s, tc);

	tc = tcase_create("error");
	tcase_add_test(tc, test_strerror);
	tcase_add_test(tc, test_strerror_all_named);
	tcase_add_test(tc, test_errno_map);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (ec_secure_init() < 0)
		return EXIT_FAILURE;
	return ec_test_run(secure_suite());
}
