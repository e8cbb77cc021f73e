/*
 * secure: guarded memory for secrets, wiping, constant-time compare, and a
 * growable buffer in guarded memory.  A thin layer over libsodium; no I/O.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sodium.h>

#include "secure.h"

/* sodium_malloc() takes whole pages anyway: start a buffer at one. */
#define SBUF_MIN_CAP 4096

/*
 * A pool of guarded blocks.  Each sodium_malloc()/sodium_free() pair costs
 * an mmap, three mprotects, an mlock and an munmap (about 17 us here), and
 * the mount decrypts and renders each entry through several short-lived
 * buffers.  So blocks of up to POOL_MAX bytes come in page-multiple
 * classes; a freed one is wiped and kept (at most POOL_BYTES per class)
 * for the next allocation of its class.  Kept blocks are still guarded,
 * locked and excluded from core dumps.  The pool is the one piece of
 * process-wide state in libcore (an allocator cache, like malloc's), and
 * it is behind one mutex.  Under AddressSanitizer it is off, so that a use
 * after free still faults.
 */
#define POOL_MIN 4096u
#define POOL_CLASSES 5			/* 4, 8, 16, 32, 64 KiB */
#define POOL_MAX (POOL_MIN << (POOL_CLASSES - 1))
#define POOL_BYTES (256u * 1024)	/* kept per class */
#if defined(__SANITIZE_ADDRESS__)
#define POOL_ON 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_ON 0
#endif
#endif
#ifndef POOL_ON
#define POOL_ON 1
#define BIG_ON 1
#endif
#ifndef BIG_ON
#define BIG_ON 0	/* sanitizers: sodium_malloc's guard pages for all */
#endif

struct slot {
	void *p;		/* NULL: empty; TOMB: deleted */
	unsigned cls;
	bool ro;		/* made read-only (ec_secure_readonly) */
};

static struct {
	pthread_mutex_t mu;
	struct slot *tab;	/* every live pooled-class block: p -> class */
	size_t cap, used, live;	/* used counts tombstones too */
	void **kept[POOL_CLASSES];
	size_t nkept[POOL_CLASSES];
} pool = { .mu = PTHREAD_MUTEX_INITIALIZER };

static char tomb_;
#define TOMB ((void *)&tomb_)

static size_t class_size(unsigned cls)
{
	return (size_t)POOL_MIN << cls;
}

static size_t class_cap(unsigned cls)
{
	return POOL_BYTES / class_size(cls);
}

static size_t hash_ptr(const void *p, size_t cap)
{
	uint64_t h = (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ull;

	return (size_t)(h >> 17) & (cap - 1);
}

/* The slot holding p, or NULL.  Caller holds pool.mu. */
static struct slot *slot_find(const void *p)
{
	size_t i;

	if (!pool.cap)
		return NULL;
	for (i = hash_ptr(p, pool.cap);; i = (i + 1) & (pool.cap - 1)) {
		if (pool.tab[i].p == p)
			return &pool.tab[i];
		if (!pool.tab[i].p)
			return NULL;
	}
}

/* Rebuild the table with room for twice the live blocks.  Holds mu. */
static int slot_rehash(void)
{
	size_t ncap = 64, i;
	struct slot *nt;

	while (ncap < 4 * (pool.live + 1))
		ncap *= 2;
	nt = calloc(ncap, sizeof(*nt));
	if (!nt)
		return -ENOMEM;
	for (i = 0; i < pool.cap; i++) {
		void *p = pool.tab[i].p;
		size_t j;

		if (!p || p == TOMB)
			continue;
		for (j = hash_ptr(p, ncap); nt[j].p; j = (j + 1) & (ncap - 1))
			;
		nt[j] = pool.tab[i];
	}
	free(pool.tab);
	pool.tab = nt;
	pool.cap = ncap;
	pool.used = pool.live;
	return 0;
}

/* Record a new block.  Holds mu. */
static int slot_add(void *p, unsigned cls)
{
	size_t i;

	if (2 * (pool.used + 1) > pool.cap && slot_rehash() < 0)
		return -ENOMEM;
	for (i = hash_ptr(p, pool.cap); pool.tab[i].p && pool.tab[i].p != TOMB;
	     i = (i + 1) & (pool.cap - 1))
		;
	if (!pool.tab[i].p)
		pool.used++;
	pool.tab[i].p = p;
	pool.tab[i].cls = cls;
	pool.tab[i].ro = false;
	pool.live++;
	return 0;
}

static void *pool_alloc(size_t n)
{
	unsigned cls = 0;
	void *p = NULL;

	while (class_size(cls) < n)
		cls++;
	pthread_mutex_lock(&pool.mu);
	if (pool.nkept[cls])
		p = pool.kept[cls][--pool.nkept[cls]];
	pthread_mutex_unlock(&pool.mu);
	if (p)
		return p;
	p = sodium_malloc(class_size(cls));
	if (!p)
		return NULL;
	pthread_mutex_lock(&pool.mu);
	if (slot_add(p, cls) < 0) {
		pthread_mutex_unlock(&pool.mu);
		sodium_free(p);
		return NULL;
	}
	pthread_mutex_unlock(&pool.mu);
	return p;
}

/* Keep p when it is a pooled block and its class has room: true.  Else
 * forget it (false): the caller sodium_free()s it. */
static bool pool_keep(void *p)
{
	struct slot *sl;
	bool kept = false;
	unsigned cls;

	pthread_mutex_lock(&pool.mu);
	sl = slot_find(p);
	if (!sl)
		goto out;
	cls = sl->cls;
	if (!pool.kept[cls]) {
		pool.kept[cls] = calloc(class_cap(cls), sizeof(void *));
		if (!pool.kept[cls])
			goto forget;
	}
	if (pool.nkept[cls] < class_cap(cls)) {
		/* Only a block made read-only needs its rights back: an
		 * mprotect each free costs about 11 us with two threads. */
		if (sl->ro)
			sodium_mprotect_readwrite(p);
		sl->ro = false;
		sodium_memzero(p, class_size(cls));
		pool.kept[cls][pool.nkept[cls]++] = p;
		kept = true;
		goto out;
	}
forget:
	sl->p = TOMB;
	pool.live--;
out:
	pthread_mutex_unlock(&pool.mu);
	return kept;
}

/*
 * Big blocks (BIG_MIN bytes and more: an entry's plaintext) are anonymous
 * mappings of their own, locked where the limit allows and kept out of
 * core dumps (MADV_DONTDUMP), wiped on free, like sodium_malloc's but
 * without its guard pages, so that a growing buffer can be moved with
 * mremap(2): no second copy of a 256 MiB entry ever exists.  A locked
 * block is resident whole, capacity and all (an unlocked one only where
 * written), hence big_cap.  A small table remembers them (there are
 * few).
 */
#define BIG_MIN ((size_t)1 << 20)
#define BIG_SLOTS 256

static struct {
	pthread_mutex_t mu;
	struct {
		void *p;
		size_t len;	/* mapped bytes (a page multiple) */
	} v[BIG_SLOTS];
} big = { .mu = PTHREAD_MUTEX_INITIALIZER };

static size_t page_round(size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	return (n + pg - 1) / pg * pg;
}

/*
 * Huge pages where the kernel gives them on request (transparent huge
 * pages in "madvise" mode, Debian's default): locking 256 MiB in 4 KiB
 * pages faults and clears 65,536 pages before the first byte is decoded,
 * 75 ms here, 23 ms in 2 MiB pages (and a first touch of memory the
 * host has not yet given this machine was 57% of a big read's profile).
 * Only the advice: where huge pages are off, the block is as it was.
 */
#define HUGE ((size_t)2 << 20)

static void big_protect(void *p, size_t len)
{
	(void)madvise(p, len, MADV_DONTDUMP);
#ifdef MADV_HUGEPAGE
	(void)madvise(p, len, MADV_HUGEPAGE);
#endif
	(void)mlock(p, len);	/* best effort, as sodium_malloc's */
}

/* A mapping of len bytes starting on a huge page: mapped HUGE - page
 * bytes larger, and the ends around the aligned start given back. */
static void *big_map(size_t len)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), extra = HUGE - pg;
	uint8_t *p = mmap(NULL, len + extra, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t head;

	if (p == MAP_FAILED)
		return NULL;
	head = (HUGE - (uintptr_t)p % HUGE) % HUGE;
	if (head)
		munmap(p, head);
	if (extra - head)
		munmap(p + head + len, extra - head);
	return p + head;
}

/* Record p; false when the table is full (the caller unmaps). */
static bool big_add(void *p, size_t len)
{
	int i;

	pthread_mutex_lock(&big.mu);
	for (i = 0; i < BIG_SLOTS && big.v[i].p; i++)
		;
	if (i < BIG_SLOTS) {
		big.v[i].p = p;
		big.v[i].len = len;
	}
	pthread_mutex_unlock(&big.mu);
	return i < BIG_SLOTS;
}

/* The slot of the big block p lies in (held: big.mu), or -1.  p is its
 * start, or where ec_secure_drop_front() moved it to. */
static int big_find(const void *p)
{
	uintptr_t q = (uintptr_t)p;
	int i;

	for (i = 0; i < BIG_SLOTS; i++)
		if (big.v[i].p && q >= (uintptr_t)big.v[i].p &&
		    q - (uintptr_t)big.v[i].p < big.v[i].len)
			return i;
	return -1;
}

static void *big_alloc(size_t n)
{
	size_t len;
	void *p;

	if (n > SIZE_MAX - HUGE)
		return NULL;	/* more than can be mapped */
	len = page_round(n);
	p = big_map(len);
	if (!p)
		return NULL;
	big_protect(p, len);
	if (!big_add(p, len)) {
		munmap(p, len);
		return NULL;
	}
	return p;
}

/* Free p when it is (in) a big block: true. */
static bool big_free(void *p)
{
	void *base = NULL;
	size_t len = 0;
	int i;

	pthread_mutex_lock(&big.mu);
	i = big_find(p);
	if (i >= 0) {
		base = big.v[i].p;
		len = big.v[i].len;
		big.v[i].p = NULL;
	}
	pthread_mutex_unlock(&big.mu);
	if (i < 0)
		return false;
	sodium_memzero(base, len);
	munlock(base, len);
	munmap(base, len);
	return true;
}

/* Whether p is (in) a big block. */
static bool big_holds(const void *p)
{
	int i;

	pthread_mutex_lock(&big.mu);
	i = big_find(p);
	pthread_mutex_unlock(&big.mu);
	return i >= 0;
}

/* Grow the big block p is in so that n bytes from p fit, moving its
 * pages, not copying them; the new p, or NULL when p is in none (or on
 * failure, p left as it was). */
static void *big_grow(void *p, size_t n)
{
	size_t len = 0, old = 0, off = 0;
	void *np = MAP_FAILED;
	int i;

	pthread_mutex_lock(&big.mu);
	i = big_find(p);
	if (i >= 0) {
		off = (size_t)((uint8_t *)p - (uint8_t *)big.v[i].p);
		old = big.v[i].len;
		if (n <= SIZE_MAX - HUGE - off)
			len = page_round(off + n);
		if (len && len <= old)
			np = big.v[i].p;	/* fits already */
		else if (len)
			np = mremap(big.v[i].p, old, len, MREMAP_MAYMOVE);
		if (np != MAP_FAILED && len > old) {
			big.v[i].p = np;
			big.v[i].len = len;
		}
	}
	pthread_mutex_unlock(&big.mu);
	if (np == MAP_FAILED)
		return NULL;
	if (len > old)
		big_protect((uint8_t *)np + old, len - old);
	return (uint8_t *)np + off;
}

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
	if (POOL_ON && n <= POOL_MAX)
		return pool_alloc(n);
	if (BIG_ON && n >= BIG_MIN)
		return big_alloc(n);
	return sodium_malloc(n);
}

bool ec_secure_pooled(void)
{
	return POOL_ON;
}

void ec_secure_free(void *p)
{
	if (!p)
		return;
	if (POOL_ON && pool_keep(p))
		return;
	if (BIG_ON && big_free(p))
		return;
	sodium_free(p);		/* wipes the whole block */
}

int ec_secure_readonly(void *p)
{
	struct slot *sl;

	if (POOL_ON) {
		pthread_mutex_lock(&pool.mu);
		sl = slot_find(p);
		if (sl)
			sl->ro = true;
		pthread_mutex_unlock(&pool.mu);
	}
	return sodium_mprotect_readonly(p) == 0 ? 0 : -EIO;
}

/* secure.h.  A big block is not moved down (256 MiB would take 28 ms
 * here): the pointer moves into it, which big_find, big_free and
 * big_grow take. */
void *ec_secure_drop_front(void *p, size_t off, size_t len)
{
	if (off == 0)
		return p;
	sodium_memzero(p, off);
	if (BIG_ON && big_holds(p))
		return (uint8_t *)p + off;
	memmove(p, (uint8_t *)p + off, len - off);
	sodium_memzero((uint8_t *)p + len - off, off);
	return p;
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

/*
 * The capacity of a big buffer of old bytes that must hold cap: a big
 * block grows without a copy (big_grow), so it need not double, and all
 * of it is locked, so resident: it grows by a sixteenth at least, in
 * whole huge pages.  A 300 MiB entry written through the mount took 512
 * MiB when it doubled; now at most a sixteenth and 2 MiB more.
 */
static size_t big_cap(size_t old, size_t cap)
{
	size_t want = old + old / 16;

	if (want < cap)
		want = cap;
	if (want <= SIZE_MAX - HUGE)
		want = (want + HUGE - 1) / HUGE * HUGE;
	return want;
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
	if (BIG_ON && ncap >= BIG_MIN)
		ncap = big_cap(b->cap, cap);
	/* A big block grows in place (or its pages move): no copy. */
	if (BIG_ON && b->p && b->cap >= BIG_MIN) {
		np = big_grow(b->p, ncap);
		if (np == NULL && ncap > cap)
			np = big_grow(b->p, ncap = cap);
		if (np) {
			b->p = np;
			b->cap = ncap;
			return 0;
		}
	}
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
