/*
 * fsmeta: bounded LRU cache of per-entry metadata for the mount.
 *
 * A chained hash table over the key plus a doubly linked LRU list, under
 * one mutex.  Extended attributes of an entry live in one malloc'd block
 * of "name\0value\0" pairs, so an entry costs two allocations.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "fsmeta.h"

#define ONCE_MAX 4096u

struct meta {
	struct ec_fsmeta_key key;
	struct ec_fsmeta_info info;
	char *xattrs;		/* "name\0value\0"... or NULL */
	size_t xlen;		/* bytes in xattrs */
	unsigned nx;
	struct meta *hnext;	/* hash chain */
	struct meta *prev, *next;	/* LRU list, most recent first */
};

struct once {
	uint64_t dev, ino;
	int64_t ctime_ns;
	unsigned what;
};

struct ec_fsmeta {
	pthread_mutex_t lock;
	size_t max, n, nbuckets;
	size_t xbytes;		/* sum of xlen */
	struct meta **buckets;
	struct meta *head, *tail;
	struct once once[ONCE_MAX];	/* ring of questions asked */
	size_t once_n, once_pos;
};

void ec_fsmeta_key_of(struct ec_fsmeta_key *k, const struct stat *st)
{
	memset(k, 0, sizeof(*k));
	k->dev = st->st_dev;
	k->ino = st->st_ino;
	k->size = st->st_size;
	k->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 +
		      st->st_mtim.tv_nsec;
	k->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 +
		      st->st_ctim.tv_nsec;
}

uint64_t ec_fsmeta_digest(const void *buf, size_t len)
{
	return ec_envelope_tag(buf, len);
}

bool ec_fsmeta_key_equal(const struct ec_fsmeta_key *a,
			 const struct ec_fsmeta_key *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

static size_t key_hash(const struct ec_fsmeta_key *k)
{
	uint64_t h = 1469598103934665603ull;	/* FNV-1a over the fields */
	const uint64_t f[5] = { k->dev, k->ino, (uint64_t)k->size,
				(uint64_t)k->mtime_ns, (uint64_t)k->ctime_ns };
	size_t i;

	for (i = 0; i < 5; i++) {
		h ^= f[i];
		h *= 1099511628211ull;
		h ^= h >> 29;
	}
	return (size_t)h;
}

int ec_fsmeta_new(size_t max, struct ec_fsmeta **out)
{
	struct ec_fsmeta *m;
	size_t nb = 16;
	int err;

	*out = NULL;
	if (max == 0)
		max = EC_FSMETA_DEFAULT_MAX;
	while (nb < max)
		nb <<= 1;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->buckets = calloc(nb, sizeof(*m->buckets));
	if (!m->buckets) {
		free(m);
		return -ENOMEM;
	}
	err = pthread_mutex_init(&m->lock, NULL);
	if (err) {
		free(m->buckets);
		free(m);
		return -err;
	}
	m->max = max;
	m->nbuckets = nb;
	*out = m;
	return 0;
}

static void meta_destroy(struct meta *e)
{
	free(e->xattrs);
	free(e);
}

void ec_fsmeta_free(struct ec_fsmeta *m)
{
	struct meta *e, *next;

	if (!m)
		return;
	for (e = m->head; e; e = next) {
		next = e->next;
		meta_destroy(e);
	}
	free(m->buckets);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static struct meta **find_slot(struct ec_fsmeta *m,
			       const struct ec_fsmeta_key *k)
{
	struct meta **pp = &m->buckets[key_hash(k) & (m->nbuckets - 1)];

	while (*pp && !ec_fsmeta_key_equal(&(*pp)->key, k))
		pp = &(*pp)->hnext;
	return pp;
}

static void lru_unlink(struct ec_fsmeta *m, struct meta *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		m->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		m->tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push(struct ec_fsmeta *m, struct meta *e)
{
	e->prev = NULL;
	e->next = m->head;
	if (m->head)
		m->head->prev = e;
	m->head = e;
	if (!m->tail)
		m->tail = e;
}

/* Unhash, unlink and free e.  Lock held. */
static void meta_remove(struct ec_fsmeta *m, struct meta *e)
{
	struct meta **pp = find_slot(m, &e->key);

	if (*pp != e)
		abort();	/* the table and the list disagree */
	*pp = e->hnext;
	lru_unlink(m, e);
	m->n--;
	m->xbytes -= e->xlen;
	meta_destroy(e);
}

bool ec_fsmeta_get(struct ec_fsmeta *m, const struct ec_fsmeta_key *k,
		   struct ec_fsmeta_info *info)
{
	struct meta *e;

	pthread_mutex_lock(&m->lock);
	e = *find_slot(m, k);
	if (e) {
		*info = e->info;
		if (m->head != e) {
			lru_unlink(m, e);
			lru_push(m, e);
		}
	}
	pthread_mutex_unlock(&m->lock);
	return e != NULL;
}

int ec_fsmeta_put(struct ec_fsmeta *m, const struct ec_fsmeta_key *k,
		  const struct ec_fsmeta_info *info,
		  const struct ec_fsmeta_xattr *x, size_t nx)
{
	struct meta *e, **pp;
	size_t i, xlen = 0;
	char *p;

	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->key = *k;
	e->info = *info;
	for (i = 0; i < nx; i++)
		xlen += strlen(x[i].name) + 1 + strlen(x[i].value) + 1;
	if (xlen) {
		e->xattrs = malloc(xlen);
		if (!e->xattrs) {
			free(e);
			return -ENOMEM;
		}
	}
	e->xlen = xlen;
	e->nx = (unsigned)nx;
	for (p = e->xattrs, i = 0; i < nx; i++) {
		size_t nl = strlen(x[i].name) + 1, vl = strlen(x[i].value) + 1;

		memcpy(p, x[i].name, nl);
		p += nl;
		memcpy(p, x[i].value, vl);
		p += vl;
	}

	pthread_mutex_lock(&m->lock);
	pp = find_slot(m, k);
	if (*pp)
		meta_remove(m, *pp);
	while (m->n >= m->max && m->tail)
		meta_remove(m, m->tail);
	pp = find_slot(m, k);
	e->hnext = NULL;
	*pp = e;
	lru_push(m, e);
	m->n++;
	m->xbytes += xlen;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

int ec_fsmeta_copy(struct ec_fsmeta *m, const struct ec_fsmeta_key *from,
		   const struct ec_fsmeta_key *to)
{
	struct meta *e, *src, **pp;

	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	pthread_mutex_lock(&m->lock);
	src = *find_slot(m, from);
	if (!src) {
		pthread_mutex_unlock(&m->lock);
		free(e);
		return -ENOENT;
	}
	if (ec_fsmeta_key_equal(from, to)) {
		pthread_mutex_unlock(&m->lock);
		free(e);
		return 0;
	}
	if (src->xlen) {
		/* Under the lock, so that src cannot be evicted meanwhile; a
		 * small copy. */
		e->xattrs = malloc(src->xlen);
		if (!e->xattrs) {
			pthread_mutex_unlock(&m->lock);
			free(e);
			return -ENOMEM;
		}
		memcpy(e->xattrs, src->xattrs, src->xlen);
	}
	e->key = *to;
	e->info = src->info;
	e->xlen = src->xlen;
	e->nx = src->nx;
	pp = find_slot(m, to);
	if (*pp)
		meta_remove(m, *pp);
	pp = find_slot(m, to);
	e->hnext = NULL;
	*pp = e;
	lru_push(m, e);
	m->n++;
	m->xbytes += e->xlen;
	/* Evict after inserting: src may go too, it has been copied. */
	while (m->n > m->max && m->tail && m->tail != e)
		meta_remove(m, m->tail);
	pthread_mutex_unlock(&m->lock);
	return 0;
}

int ec_fsmeta_getxattr(struct ec_fsmeta *m, const struct ec_fsmeta_key *k,
		       const char *name, char *buf, size_t size)
{
	struct meta *e;
	const char *p;
	unsigned i;
	int r = -ENODATA;

	pthread_mutex_lock(&m->lock);
	e = *find_slot(m, k);
	if (!e) {
		r = -ENOENT;
		goto out;
	}
	for (p = e->xattrs, i = 0; i < e->nx; i++) {
		const char *v = p + strlen(p) + 1;
		size_t vl = strlen(v);

		if (strcmp(p, name) == 0) {
			if (vl > (size_t)INT32_MAX)
				r = -E2BIG;
			else if (size == 0)
				r = (int)vl;
			else if (size < vl)
				r = -ERANGE;
			else {
				memcpy(buf, v, vl);
				r = (int)vl;
			}
			break;
		}
		p = v + vl + 1;
	}
out:
	pthread_mutex_unlock(&m->lock);
	return r;
}

int ec_fsmeta_listxattr(struct ec_fsmeta *m, const struct ec_fsmeta_key *k,
			char *buf, size_t size)
{
	struct meta *e;
	const char *p;
	size_t need = 0;
	unsigned i;
	int r;

	pthread_mutex_lock(&m->lock);
	e = *find_slot(m, k);
	if (!e) {
		r = -ENOENT;
		goto out;
	}
	for (p = e->xattrs, i = 0; i < e->nx; i++) {
		size_t nl = strlen(p) + 1;
		const char *v = p + nl;

		if (size) {
			if (need + nl > size) {
				r = -ERANGE;
				goto out;
			}
			memcpy(buf + need, p, nl);
		}
		need += nl;
		p = v + strlen(v) + 1;
	}
	r = (int)need;
out:
	pthread_mutex_unlock(&m->lock);
	return r;
}

bool ec_fsmeta_once(struct ec_fsmeta *m, uint64_t dev, uint64_t ino,
		    int64_t ctime_ns, unsigned what)
{
	bool first = true;
	size_t i;

	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->once_n; i++) {
		const struct once *o = &m->once[i];

		if (o->dev == dev && o->ino == ino &&
		    o->ctime_ns == ctime_ns && o->what == what) {
			first = false;
			break;
		}
	}
	if (first) {
		struct once *o = &m->once[m->once_pos];

		o->dev = dev;
		o->ino = ino;
		o->ctime_ns = ctime_ns;
		o->what = what;
		m->once_pos = (m->once_pos + 1) % ONCE_MAX;
		if (m->once_n < ONCE_MAX)
			m->once_n++;
	}
	pthread_mutex_unlock(&m->lock);
	return first;
}

size_t ec_fsmeta_count(struct ec_fsmeta *m)
{
	size_t n;

	pthread_mutex_lock(&m->lock);
	n = m->n;
	pthread_mutex_unlock(&m->lock);
	return n;
}

size_t ec_fsmeta_memory(struct ec_fsmeta *m)
{
	size_t b;

	/* malloc adds about 16 bytes per block and rounds to 16 */
	pthread_mutex_lock(&m->lock);
	b = sizeof(*m) + m->nbuckets * sizeof(*m->buckets) +
	    m->n * (((sizeof(struct meta) + 16 + 15) & ~(size_t)15) + 32) +
	    m->xbytes;
	pthread_mutex_unlock(&m->lock);
	return b;
}
