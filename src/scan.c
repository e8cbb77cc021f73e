/*
 * scan: the ids in one walk, then ordered parallel loads.
 *
 * Loaders (helper threads, and the calling thread while the slot it hands
 * over next is not ready) claim indices in order and load each into a
 * slot of a ring of `window` slots; the calling thread hands slot i to
 * the callback and frees it.  No index is claimed more than `window`
 * ahead of the one handed over, so a slot is always free when claimed.
 * Claims, done flags and counters are atomics (sequentially consistent);
 * the mutex and the two condition variables serve only to sleep: a
 * sleeper publishes what it waits for before it checks, a waker publishes
 * its change before it looks for a sleeper, so no wake-up is lost.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scan.h"
#include "store.h"

#define SLOTS_PER_THREAD 8

/* ---- the ids ---------------------------------------------------------- */

static int add_id(void *ctx, const char *id, const struct stat *st)
{
	struct ec_scan_ids *l = ctx;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		char **ids = realloc(l->ids, cap * sizeof(*ids));
		struct stat *sts;

		if (!ids)
			return -ENOMEM;
		l->ids = ids;
		sts = realloc(l->st, cap * sizeof(*sts));
		if (!sts)
			return -ENOMEM;
		l->st = sts;
		l->cap = cap;
	}
	l->ids[l->n] = strdup(id);
	if (!l->ids[l->n])
		return -ENOMEM;
	l->st[l->n++] = *st;
	return 0;
}

int ec_scan_list(const struct ec_cache *c, struct ec_scan_ids *out)
{
	int err;

	memset(out, 0, sizeof(*out));
	err = ec_store_walk(ec_cache_store(c), add_id, out);
	if (err) {
		ec_scan_ids_release(out);
		return err < 0 ? err : -EIO;
	}
	return 0;
}

void ec_scan_ids_release(struct ec_scan_ids *ids)
{
	size_t i;

	for (i = 0; i < ids->n; i++)
		free(ids->ids[i]);
	free(ids->ids);
	free(ids->st);
	memset(ids, 0, sizeof(*ids));
}

/* ---- the loads -------------------------------------------------------- */

struct slot {
	atomic_bool done;	/* loaded, not yet handed to the callback */
	int err;
	struct ec_entry e;
};

struct scan {
	const struct ec_cache *c;
	const char *const *ids;
	size_t n;
	const struct ec_scan_options *o;
	int (*load)(void *ctx, size_t i, const char *id, struct ec_entry *e);
	void *load_ctx;		/* NULL load: ec_cache_load() */
	struct slot *slots;
	size_t window;
	atomic_size_t next;	/* the next index to claim */
	atomic_size_t consumed;	/* indices below it were handed over */
	atomic_size_t waiting_for; /* the slot the consumer sleeps on, or
				      SIZE_MAX */
	atomic_uint waiting;	/* workers sleeping for room */
	atomic_bool stop;
	pthread_mutex_t mu;	/* only for sleeping and waking */
	pthread_cond_t filled;	/* the slot waiting_for became done */
	pthread_cond_t room;	/* consumed grew, or stop was set */
};

/*
 * Claim the next index, if it is within the window of the consumer: 1
 * with *i, 0 when there is none left (or the scan stopped), -1 when the
 * window is full.
 */
static int claim(struct scan *s, size_t *i)
{
	size_t j = atomic_load(&s->next);

	for (;;) {
		if (j >= s->n || atomic_load(&s->stop))
			return 0;
		if (j >= atomic_load(&s->consumed) + s->window)
			return -1;
		if (atomic_compare_exchange_weak(&s->next, &j, j + 1)) {
			*i = j;
			return 1;
		}
	}
}

/* Whether a worker must go on sleeping: the window is full, work is
 * left and the scan goes on.  Called with mu held. */
static bool claim_blocked(struct scan *s)
{
	size_t j = atomic_load(&s->next);

	return j < s->n && !atomic_load(&s->stop) &&
	       j >= atomic_load(&s->consumed) + s->window;
}

/* Entry i, loaded (or worked on) into e. */
static int load_at(struct scan *s, size_t i, struct ec_entry *e)
{
	if (s->load)
		return s->load(s->load_ctx, i, s->ids[i], e);
	return ec_cache_load(s->c, s->ids[i], s->o->flags, s->o->now, e);
}

/* Load index i into its slot and say so (waking the consumer only when
 * it sleeps on this very slot). */
static void load_one(struct scan *s, size_t i)
{
	struct slot *sl = &s->slots[i % s->window];

	sl->err = load_at(s, i, &sl->e);
	atomic_store(&sl->done, true);
	if (atomic_load(&s->waiting_for) == i) {
		pthread_mutex_lock(&s->mu);
		pthread_cond_signal(&s->filled);
		pthread_mutex_unlock(&s->mu);
	}
}

static void *worker(void *arg)
{
	struct scan *s = arg;
	size_t i;
	int got;

	while ((got = claim(s, &i)) != 0) {
		if (got > 0) {
			load_one(s, i);
			continue;
		}
		/* the window is full: sleep until the consumer moves on */
		pthread_mutex_lock(&s->mu);
		atomic_fetch_add(&s->waiting, 1);
		while (claim_blocked(s))
			pthread_cond_wait(&s->room, &s->mu);
		atomic_fetch_sub(&s->waiting, 1);
		pthread_mutex_unlock(&s->mu);
	}
	return NULL;
}

/* One thread: load and hand over in turn. */
static int scan_inline(struct scan *s,
		       int (*cb)(void *, size_t, int, struct ec_entry *),
		       void *ctx)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		struct ec_entry e;
		int err, rc;

		err = load_at(s, i, &e);
		rc = cb(ctx, i, err, err ? NULL : &e);
		if (!err)
			ec_entry_release(&e);
		if (rc)
			return rc;
	}
	return 0;
}

/* Until slot i is done: load what can be claimed meanwhile, else sleep. */
static void wait_for(struct scan *s, size_t i)
{
	struct slot *sl = &s->slots[i % s->window];
	size_t j;

	while (!atomic_load(&sl->done)) {
		if (claim(s, &j) > 0) {
			load_one(s, j);
			continue;
		}
		pthread_mutex_lock(&s->mu);
		atomic_store(&s->waiting_for, i);
		while (!atomic_load(&sl->done))
			pthread_cond_wait(&s->filled, &s->mu);
		atomic_store(&s->waiting_for, SIZE_MAX);
		pthread_mutex_unlock(&s->mu);
	}
}

/* The calling thread's part: it loads too, and hands slots over in
 * order. */
static int consume(struct scan *s,
		   int (*cb)(void *, size_t, int, struct ec_entry *),
		   void *ctx)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < s->n && !rc; i++) {
		struct slot *sl = &s->slots[i % s->window];

		wait_for(s, i);
		rc = cb(ctx, i, sl->err, sl->err ? NULL : &sl->e);
		if (!sl->err)
			ec_entry_release(&sl->e);
		atomic_store(&sl->done, false);
		atomic_store(&s->consumed, i + 1);
		if (rc)
			atomic_store(&s->stop, true);
		if (atomic_load(&s->waiting) || rc) {
			pthread_mutex_lock(&s->mu);
			pthread_cond_broadcast(&s->room);
			pthread_mutex_unlock(&s->mu);
		}
	}
	return rc;
}

static unsigned thread_count(const struct ec_scan_options *o, size_t n)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t t = o->threads ? o->threads : cpus < 1 ? 1 : (size_t)cpus;

	if (t > EC_SCAN_THREADS_MAX)
		t = EC_SCAN_THREADS_MAX;
	if (t > n)
		t = n;
	return t ? (unsigned)t : 1;
}

int ec_scan_load(const struct ec_cache *c, const char *const *ids, size_t n,
		 const struct ec_scan_options *o,
		 int (*cb)(void *ctx, size_t i, int err, struct ec_entry *e),
		 void *ctx)
{
	return ec_scan_work(c, ids, n, o, NULL, NULL, cb, ctx);
}

int ec_scan_work(const struct ec_cache *c, const char *const *ids, size_t n,
		 const struct ec_scan_options *o,
		 int (*load)(void *load_ctx, size_t i, const char *id,
			     struct ec_entry *e),
		 void *load_ctx,
		 int (*cb)(void *ctx, size_t i, int err, struct ec_entry *e),
		 void *ctx)
{
	struct scan s = { .c = c, .ids = ids, .n = n, .o = o, .load = load,
			  .load_ctx = load_ctx };
	pthread_t tids[EC_SCAN_THREADS_MAX];
	unsigned nthreads = thread_count(o, n), started = 0, i;
	int rc;

	if (nthreads <= 1)
		return scan_inline(&s, cb, ctx);
	s.window = (size_t)nthreads * SLOTS_PER_THREAD;
	s.slots = calloc(s.window, sizeof(*s.slots));
	if (!s.slots)
		return -ENOMEM;
	atomic_init(&s.next, 0);
	atomic_init(&s.consumed, 0);
	atomic_init(&s.waiting_for, SIZE_MAX);
	atomic_init(&s.waiting, 0);
	atomic_init(&s.stop, false);
	pthread_mutex_init(&s.mu, NULL);
	pthread_cond_init(&s.filled, NULL);
	pthread_cond_init(&s.room, NULL);
	/* the calling thread is one of the loaders */
	for (; started + 1 < nthreads; started++)
		if (pthread_create(&tids[started], NULL, worker, &s) != 0)
			break;
	rc = consume(&s, cb, ctx);
	for (i = 0; i < started; i++)
		if (pthread_join(tids[i], NULL) != 0)
			abort();	/* a joinable thread we made: a bug */
	/* After a stop: entries loaded ahead and never handed over. */
	for (i = 0; i < s.window; i++)
		if (atomic_load(&s.slots[i].done) && !s.slots[i].err)
			ec_entry_release(&s.slots[i].e);
	pthread_cond_destroy(&s.room);
	pthread_cond_destroy(&s.filled);
	pthread_mutex_destroy(&s.mu);
	free(s.slots);
	return rc;
}
