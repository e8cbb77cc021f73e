/*
 * fsmeta: bounded LRU cache of per-entry metadata for the mount.
 *
 * A chained hash table over the key (doubled as the cache grows) plus a
 * doubly linked LRU list, under one mutex.  An entry is one allocation:
 * the fixed part, then its extended attributes packed behind it, each as
 * a one-byte code for one of the names the daemon uses (or NAME_OTHER and
 * the name, NUL-ended), then the value and a NUL; expires_at and format
 * (and created_at, mostly) are only a code when their value is what the
 * fixed part implies.  About 140 bytes for a listed entry.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "envelope.h"
#include "fsmeta.h"
#include "ttl.h"

#define ONCE_MAX 4096u

/* Attribute names stored as one byte (index here); 0 is not a code. */
static const char *const names[] = {
	NULL,
	"user.enccache.key",
	"user.enccache.created_at",
	"user.enccache.expires_at",
	"user.enccache.comment",
	"user.enccache.validasof",
	"user.enccache.format",
};
#define NAME_N (sizeof(names) / sizeof(names[0]))
#define NAME_CREATED 2u
#define NAME_EXPIRES 3u
#define NAME_FORMAT 6u
#define NAME_OTHER 0x7fu	/* followed by the name and a NUL */
/* Or'ed into a code: the value is what the entry's info says (created_at
 * when the envelope's text is ec_time_format_iso()'s, expires_at as the
 * daemon writes it, format), and is not stored. */
#define NAME_DERIVED 0x80u
#define CODES_MAX 8

struct meta {
	struct meta *hnext;	/* hash chain */
	struct meta *prev, *next;	/* LRU list, most recent first */
	struct ec_fsmeta_key key;
	struct ec_fsmeta_info info;
	uint32_t xlen;		/* bytes in x */
	char x[];		/* the packed attributes */
};

struct once {
	uint64_t dev, ino;
	int64_t ctime_ns;
	unsigned what;
};

struct ec_fsmeta {
	pthread_mutex_t lock;
	size_t max;		/* entries; 0: bounded by budget only */
	size_t budget;		/* bytes (approximately, see block()) */
	size_t n, nbuckets;
	size_t bytes;		/* sum of block() over the entries */
	struct meta **buckets;
	struct meta *head, *tail;
	struct once once[ONCE_MAX];	/* ring of questions asked */
	size_t once_n, once_pos;
};

/* What malloc takes for an entry with xlen bytes of attributes: its
 * request plus a size word, rounded to 16, and a pointer in the table
 * (at most one bucket per entry: two entries a bucket or more after the
 * first 2,048). */
static size_t block(size_t xlen)
{
	return ((offsetof(struct meta, x) + xlen + 8 + 15) & ~(size_t)15) +
	       sizeof(struct meta *);
}

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

/* The default budget: 1/32 of the machine's memory, within bounds. */
static size_t default_budget(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
	size_t b = EC_FSMETA_MIN_BYTES;

	if (pages > 0 && psize > 0 &&
	    (uint64_t)pages * (uint64_t)psize / 32 > b)
		b = (size_t)((uint64_t)pages * (uint64_t)psize / 32);
	return b > EC_FSMETA_MAX_BYTES ? EC_FSMETA_MAX_BYTES : b;
}

int ec_fsmeta_new(size_t max, struct ec_fsmeta **out)
{
	struct ec_fsmeta *m;
	size_t nb = 1024;
	int err;

	*out = NULL;
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
	m->budget = max ? SIZE_MAX : default_budget();
	m->nbuckets = nb;
	*out = m;
	return 0;
}

void ec_fsmeta_free(struct ec_fsmeta *m)
{
	struct meta *e, *next;

	if (!m)
		return;
	for (e = m->head; e; e = next) {
		next = e->next;
		free(e);
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
	m->bytes -= block(e->xlen);
	free(e);
}

/* Whether one more entry of xlen bytes would go over the bounds. */
static bool full(const struct ec_fsmeta *m, size_t xlen)
{
	return (m->max && m->n >= m->max) ||
	       m->bytes + block(xlen) > m->budget;
}

/* Double the table when it holds more than two entries a bucket (no-op
 * when memory for a larger one is short: the chains just get longer). */
static void grow(struct ec_fsmeta *m)
{
	size_t nb = m->nbuckets * 2, i;
	struct meta **b, *e, *next;

	if (m->n / 2 <= m->nbuckets || nb > SIZE_MAX / sizeof(*b))
		return;
	b = calloc(nb, sizeof(*b));
	if (!b)
		return;
	for (i = 0; i < m->nbuckets; i++)
		for (e = m->buckets[i]; e; e = next) {
			struct meta **pp = &b[key_hash(&e->key) & (nb - 1)];

			next = e->hnext;
			e->hnext = *pp;
			*pp = e;
		}
	free(m->buckets);
	m->buckets = b;
	m->nbuckets = nb;
}

/* Link e (not in the table) as the most recent entry, replacing one of
 * the same key, evicting the least recent ones over the bounds.  Lock
 * held. */
static void insert(struct ec_fsmeta *m, struct meta *e)
{
	struct meta **pp = find_slot(m, &e->key);

	if (*pp)
		meta_remove(m, *pp);
	while (m->tail && full(m, e->xlen))
		meta_remove(m, m->tail);
	pp = find_slot(m, &e->key);
	e->hnext = NULL;
	*pp = e;
	lru_push(m, e);
	m->n++;
	m->bytes += block(e->xlen);
	grow(m);
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

static unsigned name_code(const char *name);

/* The value of attribute code c (without NAME_DERIVED) that info implies
 * into buf; false when there is none. */
static bool derived(unsigned c, const struct ec_fsmeta_info *info,
		    char buf[EC_TIME_ISO_MAX])
{
	if (c == NAME_CREATED && info->created_us != EC_TIME_NONE) {
		ec_time_format_iso(info->created_us, buf);
		return true;
	}
	if (c == NAME_EXPIRES && info->state == EC_STATE_VALID) {
		if (info->expires_us == EC_TIME_NEVER)
			strcpy(buf, "never");
		else
			ec_time_format_iso(info->expires_us, buf);
		return true;
	}
	if (c == NAME_FORMAT) {
		strcpy(buf, info->is_bplist ? "bplist" : "raw");
		return true;
	}
	return false;
}

/* How x is stored for an entry with info: its code, with NAME_DERIVED
 * when its value need not be kept. */
static unsigned stored_code(const struct ec_fsmeta_xattr *x,
			    const struct ec_fsmeta_info *info)
{
	char d[EC_TIME_ISO_MAX];
	unsigned c = name_code(x->name);

	if (c != NAME_OTHER && derived(c, info, d) && strcmp(d, x->value) == 0)
		c |= NAME_DERIVED;
	return c;
}

/* The code of name, or NAME_OTHER. */
static unsigned name_code(const char *name)
{
	unsigned i;

	for (i = 1; i < NAME_N; i++)
		if (strcmp(name, names[i]) == 0)
			return i;
	return NAME_OTHER;
}

int ec_fsmeta_put(struct ec_fsmeta *m, const struct ec_fsmeta_key *k,
		  const struct ec_fsmeta_info *info,
		  const struct ec_fsmeta_xattr *x, size_t nx)
{
	unsigned char codes[CODES_MAX];	/* the first ones' stored_code() */
	struct meta *e;
	size_t i, xlen = 0;
	char *p;

	for (i = 0; i < nx; i++) {
		unsigned c = stored_code(&x[i], info);

		if (i < CODES_MAX)
			codes[i] = (unsigned char)c;
		xlen += 1;
		if (!(c & NAME_DERIVED))
			xlen += strlen(x[i].value) + 1;
		if (c == NAME_OTHER)
			xlen += strlen(x[i].name) + 1;
		if (xlen > UINT32_MAX)
			return -ENOMEM;
	}
	e = malloc(offsetof(struct meta, x) + xlen);
	if (!e)
		return -ENOMEM;
	memset(e, 0, offsetof(struct meta, x));
	e->key = *k;
	e->info = *info;
	e->xlen = (uint32_t)xlen;
	for (p = e->x, i = 0; i < nx; i++) {
		unsigned c = i < CODES_MAX ? codes[i] : stored_code(&x[i], info);
		size_t vl = strlen(x[i].value) + 1;

		*p++ = (char)c;
		if (c == NAME_OTHER) {
			size_t nl = strlen(x[i].name) + 1;

			memcpy(p, x[i].name, nl);
			p += nl;
		}
		if (!(c & NAME_DERIVED)) {
			memcpy(p, x[i].value, vl);
			p += vl;
		}
	}

	pthread_mutex_lock(&m->lock);
	insert(m, e);
	pthread_mutex_unlock(&m->lock);
	return 0;
}

int ec_fsmeta_copy(struct ec_fsmeta *m, const struct ec_fsmeta_key *from,
		   const struct ec_fsmeta_key *to)
{
	struct meta *e, *src;
	size_t xlen;

	pthread_mutex_lock(&m->lock);
	src = *find_slot(m, from);
	if (!src) {
		pthread_mutex_unlock(&m->lock);
		return -ENOENT;
	}
	if (ec_fsmeta_key_equal(from, to)) {
		pthread_mutex_unlock(&m->lock);
		return 0;
	}
	/* Under the lock, so that src cannot be evicted meanwhile; a small
	 * copy. */
	xlen = src->xlen;
	e = malloc(offsetof(struct meta, x) + xlen);
	if (!e) {
		pthread_mutex_unlock(&m->lock);
		return -ENOMEM;
	}
	memcpy(e, src, offsetof(struct meta, x) + xlen);
	e->key = *to;
	/* src may be evicted for e: it has been copied. */
	insert(m, e);
	pthread_mutex_unlock(&m->lock);
	return 0;
}

/* The attribute at p in e->x: *name, and *value (in buf when derived
 * from e's info); returns the next one. */
static const char *attr_at(const struct meta *e, const char *p,
			   const char **name, const char **value,
			   char buf[EC_TIME_ISO_MAX])
{
	unsigned c = (unsigned char)*p++;

	if (c == NAME_OTHER) {
		*name = p;
		p += strlen(p) + 1;
	} else if ((c & ~NAME_DERIVED) > 0 && (c & ~NAME_DERIVED) < NAME_N) {
		*name = names[c & ~NAME_DERIVED];
	} else {
		abort();	/* not something put wrote */
	}
	if (c & NAME_DERIVED) {
		if (!derived(c & ~NAME_DERIVED, &e->info, buf))
			abort();
		*value = buf;
		return p;
	}
	*value = p;
	return p + strlen(p) + 1;
}

int ec_fsmeta_getxattr(struct ec_fsmeta *m, const struct ec_fsmeta_key *k,
		       const char *name, char *buf, size_t size)
{
	const char *p, *end, *an, *v;
	char d[EC_TIME_ISO_MAX];
	struct meta *e;
	int r = -ENODATA;

	pthread_mutex_lock(&m->lock);
	e = *find_slot(m, k);
	if (!e) {
		r = -ENOENT;
		goto out;
	}
	for (p = e->x, end = e->x + e->xlen; p < end;) {
		p = attr_at(e, p, &an, &v, d);
		if (strcmp(an, name) == 0) {
			size_t vl = strlen(v);

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
	}
out:
	pthread_mutex_unlock(&m->lock);
	return r;
}

int ec_fsmeta_listxattr(struct ec_fsmeta *m, const struct ec_fsmeta_key *k,
			char *buf, size_t size)
{
	const char *p, *end, *an, *v;
	char d[EC_TIME_ISO_MAX];
	struct meta *e;
	size_t need = 0;
	int r;

	pthread_mutex_lock(&m->lock);
	e = *find_slot(m, k);
	if (!e) {
		r = -ENOENT;
		goto out;
	}
	for (p = e->x, end = e->x + e->xlen; p < end;) {
		size_t nl;

		p = attr_at(e, p, &an, &v, d);
		nl = strlen(an) + 1;
		if (size) {
			if (need + nl > size) {
				r = -ERANGE;
				goto out;
			}
			memcpy(buf + need, an, nl);
		}
		need += nl;
	}
	r = need > (size_t)INT32_MAX ? -E2BIG : (int)need;
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

	pthread_mutex_lock(&m->lock);
	b = sizeof(*m) + m->nbuckets * sizeof(*m->buckets) + m->bytes -
	    m->n * sizeof(struct meta *);
	pthread_mutex_unlock(&m->lock);
	return b;
}
