/*
 * secure: memory for secrets (keys, passwords, plaintext).
 *
 * Backed by libsodium's guarded allocations: guard pages, mlock where the
 * limit allows, excluded from core dumps, wiped on free.  Use it for every
 * buffer that holds a key, a password or decrypted data we own.
 */
#ifndef EC_SECURE_H
#define EC_SECURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Initialise libsodium; call once before anything else.  0 or -EIO. */
int ec_secure_init(void) __attribute__((warn_unused_result));

/* Guarded allocation of n bytes (n may be 0).  NULL on failure.
 * Free with ec_secure_free(). */
void *ec_secure_alloc(size_t n) __attribute__((malloc));

/* Whether ec_secure_free() keeps small blocks for reuse (wiped, still
 * guarded and locked); false in AddressSanitizer builds. */
bool ec_secure_pooled(void);

/* Make block p (from ec_secure_alloc, below the big size) read-only
 * until it is freed.  0, or -EIO when the system refused (the block is
 * then as it was). */
int ec_secure_readonly(void *p) __attribute__((warn_unused_result));

/* Wipe and free; NULL is a no-op. */
void ec_secure_free(void *p);

/* Drop the first off of the len bytes of block p (from ec_secure_alloc):
 * they are wiped, and the rest is at the pointer returned, which stands
 * for the block from then on (ec_secure_free, ec_sbuf growth).  A big
 * block's bytes stay where they are (the pointer moves into it); a
 * smaller block's move down to p. */
void *ec_secure_drop_front(void *p, size_t off, size_t len);

/* Wipe n bytes (cannot be optimised out). */
void ec_secure_wipe(void *p, size_t n);

/* Constant-time comparison: 0 when equal, -1 otherwise. */
int ec_secure_memcmp(const void *a, const void *b, size_t n);

/* A growable buffer in guarded memory.  Zero-initialise (or
 * EC_SBUF_INIT), fill with the functions below, release with
 * ec_sbuf_release().  Growing copies into a new guarded block and wipes
 * the old one, so no stale copy of the contents is left behind. */
struct ec_sbuf {
	uint8_t *p;
	size_t len;
	size_t cap;
};
#define EC_SBUF_INIT { NULL, 0, 0 }

int ec_sbuf_reserve(struct ec_sbuf *b, size_t cap)
	__attribute__((warn_unused_result));
int ec_sbuf_append(struct ec_sbuf *b, const void *data, size_t n)
	__attribute__((warn_unused_result));
/* Set the length to n, growing (zero-filled) or shrinking (wiping). */
int ec_sbuf_resize(struct ec_sbuf *b, size_t n)
	__attribute__((warn_unused_result));
/* Hand the contents over: *p (ec_secure_free) and *len; b is empty after.
 * *p is NULL (and *len 0) when nothing was ever reserved. */
void ec_sbuf_detach(struct ec_sbuf *b, uint8_t **p, size_t *len);
void ec_sbuf_release(struct ec_sbuf *b);

#endif
