/*
 * recent: contents kept a moment after a metadata load (see recent.h).
 *
 * Small contents are copied into one guarded arena, used as a ring in
 * the order they came (so the oldest, and the expired, are always at the
 * tail), and described by a ring of records with a hash index on the
 * version.  A put or a take first drops the records too old, and so
 * does a reaper thread (started at the first put, after any fork) when
 * their time comes, so that nothing outlives EC_RECENT_US by much; the
 * arena goes back to the system when none is left.  The reaper tells the
 * time by the callers' clock: the last instant one gave, plus the
 * monotonic time since.  A block per content would
 * cost two resident pages and a mapping each once the secure pool is
 * spent (thousands of entries are listed before `find | xargs cat`
 * reads the first of them).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mono.h"
#include "recent.h"
#include "secure.h"

#define NBUCKETS (EC_RECENT_SLOTS * 2)
#define ARENA_MIN ((size_t)256 << 10)
#define NONE UINT32_MAX

struct rec {
	struct ec_fsmeta_key k;
	uint64_t d;
	int64_t at;
	uint64_t pos;		/* where its bytes start (see arena_at) */
	size_t len;
	uint32_t hnext;		/* hash chain, or NONE */
	bool live;		/* false: taken (its bytes wiped) */
};

struct slot {
	struct ec_fsmeta_key k;
	uint64_t d;
	int64_t at;		/* the caller's instant: before its read */
	int64_t kept;		/* monotonic time it came (us) */
	uint8_t *content;	/* NULL: free */
	size_t len;
};

struct ec_recent {
	pthread_mutex_t mu;
	size_t size;		/* of the arena: ARENA_MIN, doubled while
				   full of young ones, up to EC_RECENT_BYTES
				   (it is locked, so all of it is resident) */
	uint8_t *arena;		/* size bytes, ec_secure_alloc'd, or
				   NULL while nothing is kept */
	struct rec *recs;	/* ring of EC_RECENT_SLOTS, with the arena */
	uint32_t *buckets;	/* NBUCKETS chains of record numbers */
	uint32_t tail, n;	/* the oldest record, and how many */
	uint64_t head_pos;	/* arena position of the next content */
	struct slot big;	/* one big content, or none */
	/* The reaper. */
	pthread_cond_t cv;	/* CLOCK_MONOTONIC; signalled by put, free */
	pthread_t reaper;
	bool reaper_on, reaper_failed, stop;
	int64_t sleeps_until;	/* the reaper's wait ends then (monotonic
				   us), INT64_MAX: untimed, 0: not waiting */
	int64_t last_now;	/* the callers' last instant, */
	int64_t last_mono;	/* and the monotonic time then (us) */
};

/* A caller's instant: remembered for the reaper.  Held: r->mu. */
static void saw(struct ec_recent *r, int64_t now)
{
	r->last_now = now;
	r->last_mono = ec_mono_us();
}

int ec_recent_new(struct ec_recent **out)
{
	struct ec_recent *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (!r)
		return -ENOMEM;
	if (ec_mono_lock_init(&r->mu, &r->cv) != 0) {
		free(r);
		return -ENOMEM;
	}
	*out = r;
	return 0;
}

static void drop(struct slot *s)
{
	ec_secure_free(s->content);
	s->content = NULL;
	s->len = 0;
}

static uint8_t *arena_at(struct ec_recent *r, uint64_t pos)
{
	return r->arena + pos % r->size;
}

static uint32_t bucket_of(const struct ec_fsmeta_key *k, uint64_t d)
{
	uint64_t h = k->ino * 0x9e3779b97f4a7c15ull ^ (uint64_t)k->mtime_ns ^
		     d;

	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 29;
	return (uint32_t)(h % NBUCKETS);
}

/* Take record i out of its hash chain (it is in one while live). */
static void unhash(struct ec_recent *r, uint32_t i)
{
	uint32_t *pp = &r->buckets[bucket_of(&r->recs[i].k, r->recs[i].d)];

	while (*pp != NONE && *pp != i)
		pp = &r->recs[*pp].hnext;
	if (*pp == NONE)
		abort();	/* a live record is always hashed */
	*pp = r->recs[i].hnext;
}

/* Drop a live record's content (wiped) and take it out of the index. */
static void kill(struct ec_recent *r, uint32_t i)
{
	struct rec *x = &r->recs[i];

	if (!x->live)
		return;
	ec_secure_wipe(arena_at(r, x->pos), x->len);
	unhash(r, i);
	x->live = false;
}

/* The oldest record goes. */
static void pop(struct ec_recent *r)
{
	kill(r, r->tail);
	r->tail = (r->tail + 1) % EC_RECENT_SLOTS;
	r->n--;
}

/* Everything kept: the arena and its records go. */
static void release_arena(struct ec_recent *r)
{
	while (r->n)
		pop(r);
	ec_secure_free(r->arena);
	free(r->recs);
	free(r->buckets);
	r->arena = NULL;
	r->recs = NULL;
	r->buckets = NULL;
	r->tail = 0;
	r->head_pos = 0;
}

/* Drop the records older than EC_RECENT_US, and the arena when none is
 * left.  Held: r->mu. */
static void expire(struct ec_recent *r, int64_t now)
{
	/* The big one by when it came: decrypting it may have taken a
	 * while since the instant its read began. */
	if (r->big.content && ec_mono_us() - r->big.kept > EC_RECENT_US)
		drop(&r->big);
	while (r->n && now - r->recs[r->tail].at > EC_RECENT_US)
		pop(r);
	if (!r->n && r->arena)
		release_arena(r);
}

/* Move every record into an arena twice as large, in order, the live
 * ones' bytes packed from position 0 (the old arena is wiped).  -ENOMEM
 * leaves everything as it was.  Held: r->mu. */
static int grow(struct ec_recent *r)
{
	size_t size = r->size * 2;
	uint8_t *a = ec_secure_alloc(size);
	uint64_t pos = 0;
	uint32_t j;

	if (!a)
		return -ENOMEM;
	for (j = 0; j < r->n; j++) {
		struct rec *x = &r->recs[(r->tail + j) % EC_RECENT_SLOTS];

		if (x->live && x->len)
			memcpy(a + pos, arena_at(r, x->pos), x->len);
		x->pos = pos;
		if (x->live)
			pos += x->len;
	}
	ec_secure_free(r->arena);	/* wiped */
	r->arena = a;
	r->size = size;
	r->head_pos = pos;
	return 0;
}

static int make_arena(struct ec_recent *r)
{
	uint32_t i;

	r->size = ARENA_MIN;
	r->arena = ec_secure_alloc(r->size);
	r->recs = calloc(EC_RECENT_SLOTS, sizeof(*r->recs));
	r->buckets = malloc(NBUCKETS * sizeof(*r->buckets));
	if (!r->arena || !r->recs || !r->buckets) {
		release_arena(r);
		return -ENOMEM;
	}
	for (i = 0; i < NBUCKETS; i++)
		r->buckets[i] = NONE;
	r->tail = 0;
	r->n = 0;
	r->head_pos = 0;
	return 0;
}

/* Wakes when the oldest content kept is due, and drops what is. */
static void *reap(void *arg)
{
	struct ec_recent *r = arg;

	pthread_mutex_lock(&r->mu);
	while (!r->stop) {
		int64_t now = r->last_now + (ec_mono_us() - r->last_mono), due;

		expire(r, now);
		/* In monotonic time, a little after it is due (none kept:
		 * INT64_MAX, until a put signals). */
		due = r->n ? r->recs[r->tail].at + EC_RECENT_US + 1000 - now +
			     ec_mono_us() : INT64_MAX;
		if (r->big.content && r->big.kept + EC_RECENT_US + 1000 < due)
			due = r->big.kept + EC_RECENT_US + 1000;
		r->sleeps_until = due;
		(void)ec_mono_wait(&r->cv, &r->mu, due);
		r->sleeps_until = 0;
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* The reaper runs from the first put on (held: r->mu). */
static void start_reaper(struct ec_recent *r)
{
	if (r->reaper_on || r->reaper_failed)
		return;
	if (pthread_create(&r->reaper, NULL, reap, r) == 0)
		r->reaper_on = true;
	else
		r->reaper_failed = true;	/* puts and takes expire */
}

void ec_recent_free(struct ec_recent *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = true;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	if (r->reaper_on)
		pthread_join(r->reaper, NULL);
	release_arena(r);
	drop(&r->big);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

/* Copy a small content in as the newest record; false when there is no
 * arena to be had.  Held: r->mu. */
static bool put_small(struct ec_recent *r, const struct ec_fsmeta_key *k,
		      uint64_t d, const uint8_t *content, size_t len,
		      int64_t now)
{
	uint64_t pos;
	uint32_t i, b;

	if (!r->arena && make_arena(r) != 0)
		return false;
	if (r->n == EC_RECENT_SLOTS)
		pop(r);
	for (;;) {
		uint64_t tail_pos;

		/* A content never wraps round the end of the arena. */
		pos = r->head_pos;
		if (pos % r->size + len > r->size)
			pos += r->size - pos % r->size;
		tail_pos = r->n ? r->recs[r->tail].pos : pos;
		if (pos + len - tail_pos <= r->size)
			break;
		/* Full of young ones: a larger arena, else the oldest go. */
		if (r->size >= EC_RECENT_BYTES || grow(r) != 0)
			pop(r);
	}
	i = (r->tail + r->n) % EC_RECENT_SLOTS;
	r->n++;
	r->recs[i] = (struct rec){ .k = *k, .d = d, .at = now, .pos = pos,
				   .len = len, .live = true };
	if (len)
		memcpy(arena_at(r, pos), content, len);
	r->head_pos = pos + len;
	b = bucket_of(k, d);
	r->recs[i].hnext = r->buckets[b];
	r->buckets[b] = i;
	return true;
}

void ec_recent_put(struct ec_recent *r, const struct ec_fsmeta_key *k,
		   uint64_t d, uint8_t *content, size_t len, int64_t now)
{
	if (!content)
		return;
	pthread_mutex_lock(&r->mu);
	saw(r, now);
	start_reaper(r);
	expire(r, now);
	/* The reaper is woken only for a content due before its wait ends
	 * (none was kept: it waits untimed).  This one is due after all
	 * those kept, so a burst of puts (a cold listing, a create loop)
	 * costs no wakeup each. */
	if (r->sleeps_until &&
	    ec_mono_us() + EC_RECENT_US + 1000 < r->sleeps_until)
		pthread_cond_signal(&r->cv);
	if (len > EC_RECENT_ENTRY_MAX) {
		struct slot *s = &r->big;	/* the last wins */

		drop(s);
		s->k = *k;
		s->d = d;
		s->at = now;
		s->kept = ec_mono_us();
		s->content = content;
		s->len = len;
		content = NULL;
	} else {
		(void)put_small(r, k, d, content, len, now);
	}
	pthread_mutex_unlock(&r->mu);
	ec_secure_free(content);	/* copied (or not kept), wiped */
}

/* Take the big slot's content when it is (k, d)'s and young. */
static bool take_big(struct slot *s, const struct ec_fsmeta_key *k,
		     uint64_t d, int64_t now, uint8_t **content, size_t *len)
{
	if (!s->content || s->d != d || !ec_fsmeta_key_equal(&s->k, k))
		return false;
	(void)now;
	if (ec_mono_us() - s->kept > EC_RECENT_US) {
		drop(s);
		return false;
	}
	*content = s->content;
	*len = s->len;
	s->content = NULL;
	s->len = 0;
	return true;
}

bool ec_recent_take(struct ec_recent *r, const struct ec_fsmeta_key *k,
		    uint64_t d, int64_t now, uint8_t **content, size_t *len)
{
	bool got;
	uint32_t i;

	pthread_mutex_lock(&r->mu);
	saw(r, now);
	got = take_big(&r->big, k, d, now, content, len);
	expire(r, now);
	for (i = r->buckets ? r->buckets[bucket_of(k, d)] : NONE;
	     !got && i != NONE; i = r->recs[i].hnext) {
		struct rec *x = &r->recs[i];
		uint8_t *copy;

		if (x->d != d || !ec_fsmeta_key_equal(&x->k, k))
			continue;
		copy = ec_secure_alloc(x->len);
		if (copy) {
			if (x->len)
				memcpy(copy, arena_at(r, x->pos), x->len);
			*content = copy;
			*len = x->len;
			got = true;
		}
		kill(r, i);	/* taken once, or gone */
		break;
	}
	pthread_mutex_unlock(&r->mu);
	return got;
}

void ec_recent_drop_big(struct ec_recent *r, const struct ec_fsmeta_key *k)
{
	pthread_mutex_lock(&r->mu);
	if (r->big.content && ec_fsmeta_key_equal(&r->big.k, k))
		drop(&r->big);
	pthread_mutex_unlock(&r->mu);
}

bool ec_recent_take_big(struct ec_recent *r, const struct ec_fsmeta_key *k,
			uint64_t d, int64_t now, uint8_t **content,
			size_t *len, int64_t *read_at)
{
	int64_t at;
	bool got;

	pthread_mutex_lock(&r->mu);
	saw(r, now);
	at = r->big.at;
	got = take_big(&r->big, k, d, now, content, len);
	expire(r, now);
	pthread_mutex_unlock(&r->mu);
	if (got)
		*read_at = at;
	return got;
}
