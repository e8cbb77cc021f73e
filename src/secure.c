/*
 * secure: guarded memory for secrets, wiping, constant-time compare, and a
 * growable buffer in guarded memory.  A thin layer over libsodium; no I/O.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "secure.h"

#define SBUF_MIN_CAP 64

int ec_secure_init(void)
{
	/* 0 the first time, 1 when already done, -1 on failure. */
	return sodium_init() < 0 ? -EIO : 0;
}

void *ec_secure_alloc(size_t n)
{
	/*
	 * sodium_malloc() needs sodium_init() (it learns the page size
	 * there).  Calling it again is cheap and thread-safe, and it keeps a
	 * caller that forgot ec_secure_init() from getting broken guards.
	 */
	if (sodium_init() < 0)
		return NULL;
	return sodium_malloc(n);
}

void ec_secure_free(void *p)
{
	sodium_free(p);		/* NULL is a no-op; wipes the whole block */
}

void ec_secure_wipe(void *p, size_t n)
{
	if (n == 0)
		return;
	sodium_memzero(p, n);
}

int ec_secure_memcmp(const void *a, const void *b, size_t n)
{
	if (n == 0)
		return 0;
	return sodium_memcmp(a, b, n) == 0 ? 0 : -1;
}

int ec_sbuf_reserve(struct ec_sbuf *b, size_t cap)
{
	uint8_t *np;
	size_t ncap;

	if (cap <= b->cap)
		return 0;
	/* Amortised doubling; fall back to the exact size on overflow. */
	ncap = b->cap < SBUF_MIN_CAP ? SBUF_MIN_CAP : b->cap;
	while (ncap < cap && ncap <= SIZE_MAX / 2)
		ncap *= 2;
	if (ncap < cap)
		ncap = cap;
	np = ec_secure_alloc(ncap);
	if (np == NULL && ncap > cap) {
		ncap = cap;
		np = ec_secure_alloc(ncap);
	}
	if (np == NULL)
		return -ENOMEM;
	if (b->len > 0)
		memcpy(np, b->p, b->len);
	ec_secure_free(b->p);	/* wipes the old copy */
	b->p = np;
	b->cap = ncap;
	return 0;
}

int ec_sbuf_append(struct ec_sbuf *b, const void *data, size_t n)
{
	int rc;

	if (n == 0)
		return 0;
	if (n > SIZE_MAX - b->len)
		return -ENOMEM;
	rc = ec_sbuf_reserve(b, b->len + n);
	if (rc < 0)
		return rc;
	memcpy(b->p + b->len, data, n);
	b->len += n;
	return 0;
}

int ec_sbuf_resize(struct ec_sbuf *b, size_t n)
{
	int rc;

	if (n > b->len) {
		rc = ec_sbuf_reserve(b, n);
		if (rc < 0)
			return rc;
		memset(b->p + b->len, 0, n - b->len);
	} else if (n < b->len) {
		ec_secure_wipe(b->p + n, b->len - n);
	}
	b->len = n;
	return 0;
}

void ec_sbuf_detach(struct ec_sbuf *b, uint8_t **p, size_t *len)
{
	*p = b->p;
	*len = b->len;
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
}

void ec_sbuf_release(struct ec_sbuf *b)
{
	ec_secure_free(b->p);
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
}
