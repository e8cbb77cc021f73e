/*
 * scan: the ids in one walk, then ordered parallel loads.
 *
 * Workers claim indices in order and load each into a slot of a ring of
 * `window` slots; the calling thread waits for slot i, hands it to the
 * callback and frees the slot.  A worker never claims an index more than
 * `window` ahead of the callback, so a slot is always free when claimed.
 * One mutex guards next, consumed, stop and every slot's done flag.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
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
	bool done;		/* loaded, not yet handed to the callback */
	int err;
	struct ec_entry e;
};

struct scan {
	const struct ec_cache *c;
	const char *const *ids;
	size_t n;
	const struct ec_scan_options *o;
	struct slot *slots;
	size_t window;
	pthread_mutex_t mu;
	pthread_cond_t filled;	/* a slot became done */
	pthread_cond_t room;	/* consumed grew, or stop was set */
	size_t next;		/* the next index to claim */
	size_t consumed;	/* indices below it were handed over */
	unsigned waiting;	/* workers waiting for room */
	bool stop;
};

static void *worker(void *arg)
{
	struct scan *s = arg;

	for (;;) {
		struct slot *sl;
		size_t i;
		int err;

		pthread_mutex_lock(&s->mu);
		while (!s->stop && s->next < s->n &&
		       s->next >= s->consumed + s->window) {
			s->waiting++;
			pthread_cond_wait(&s->room, &s->mu);
			s->waiting--;
		}
		if (s->stop || s->next >= s->n) {
			pthread_mutex_unlock(&s->mu);
			return NULL;
		}
		i = s->next++;
		pthread_mutex_unlock(&s->mu);

		sl = &s->slots[i % s->window];
		err = ec_cache_load(s->c, s->ids[i], s->o->flags, s->o->now,
				    &sl->e);
		pthread_mutex_lock(&s->mu);
		sl->err = err;
		sl->done = true;
		/* the consumer waits for nothing but the slot it hands over
		 * next: wake it for that one only */
		if (i == s->consumed)
			pthread_cond_signal(&s->filled);
		pthread_mutex_unlock(&s->mu);
	}
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

		err = ec_cache_load(s->c, s->ids[i], s->o->flags, s->o->now,
				    &e);
		rc = cb(ctx, i, err, err ? NULL : &e);
		if (!err)
			ec_entry_release(&e);
		if (rc)
			return rc;
	}
	return 0;
}

/* The calling thread's part: hand slots over in order. */
static int consume(struct scan *s,
		   int (*cb)(void *, size_t, int, struct ec_entry *),
		   void *ctx)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < s->n && !rc; i++) {
		struct slot *sl = &s->slots[i % s->window];

		pthread_mutex_lock(&s->mu);
		while (!sl->done)
			pthread_cond_wait(&s->filled, &s->mu);
		pthread_mutex_unlock(&s->mu);

		rc = cb(ctx, i, sl->err, sl->err ? NULL : &sl->e);
		if (!sl->err)
			ec_entry_release(&sl->e);

		pthread_mutex_lock(&s->mu);
		sl->done = false;
		s->consumed = i + 1;
		if (rc)
			s->stop = true;
		if (s->waiting || rc)
			pthread_cond_broadcast(&s->room);
		pthread_mutex_unlock(&s->mu);
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
	struct scan s = { .c = c, .ids = ids, .n = n, .o = o };
	pthread_t tids[EC_SCAN_THREADS_MAX];
	unsigned nthreads = thread_count(o, n), started = 0, i;
	int rc;

	if (nthreads <= 1)
		return scan_inline(&s, cb, ctx);
	s.window = (size_t)nthreads * SLOTS_PER_THREAD;
	s.slots = calloc(s.window, sizeof(*s.slots));
	if (!s.slots)
		return -ENOMEM;
	pthread_mutex_init(&s.mu, NULL);
	pthread_cond_init(&s.filled, NULL);
	pthread_cond_init(&s.room, NULL);
	for (; started < nthreads; started++)
		if (pthread_create(&tids[started], NULL, worker, &s) != 0)
			break;
	if (started == 0) {
		rc = scan_inline(&s, cb, ctx);	/* no thread: still right */
	} else {
		rc = consume(&s, cb, ctx);
	}
	for (i = 0; i < started; i++)
		if (pthread_join(tids[i], NULL) != 0)
			abort();	/* a joinable thread we made: a bug */
	/* After a stop: entries loaded ahead and never handed over. */
	for (i = 0; i < s.window; i++)
		if (s.slots[i].done && !s.slots[i].err)
			ec_entry_release(&s.slots[i].e);
	pthread_cond_destroy(&s.room);
	pthread_cond_destroy(&s.filled);
	pthread_mutex_destroy(&s.mu);
	free(s.slots);
	return rc;
}
