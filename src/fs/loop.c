/*
 * loop: the daemon's request loop on a local store.
 *
 * One thread at a time, the leader, reads the FUSE device and runs each
 * request itself, as libfuse's single-threaded loop does.  Most requests
 * here take a few microseconds (a stat, a copy from a kept content), and
 * libfuse's multi-threaded loop pays more than that for each: the kernel
 * wakes its waiting threads in turn, so every request lands on another
 * thread, often on another CPU, with a cold cache (on this project's
 * 2-core VM a warm read of 10,000 entries cost the daemon 24k context
 * switches and 16-22 ticks of CPU that way, 16k and 14-15 here, as with
 * -s).  What the single thread lacks is concurrency: a
 * request that takes long (a save, a big entry) would hold up every
 * other.  So a handler about to do such a thing calls ec_loop_slow()
 * first, and another thread takes over reading while it works; when done
 * (replied), its thread waits to lead again.  Threads are made when one
 * is needed and none waits, up to max, and kept until the end.
 *
 * The end: the leader reads ENODEV once unmounted, or a signal's
 * handler (fuse_set_signal_handlers) calls fuse_session_exit().  The
 * loop's threads block signals, so it runs on the main thread, which
 * then sees it at once, or on one of our other threads, when the main
 * thread sees it within a second.  It cancels the leader, which allows
 * cancellation only while it waits for a request (as libfuse's workers
 * do), and joins every thread after its request.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loop.h"

struct ec_loop {
	struct fuse_session *se;
	pthread_mutex_t mu;	/* guards all below */
	pthread_cond_t cv;	/* waiting threads: the lead is free, or end */
	sem_t finish;		/* the main thread: the end, or a signal */
	bool lead_free;		/* nobody reads: the next free thread does */
	bool leading;		/* someone reads (leader: that thread) */
	pthread_t leader;
	bool stop;
	int err;
	unsigned waiting, n, max;
	pthread_t tids[EC_LOOP_MAX_THREADS];
};

static __thread struct ec_loop *tls_loop;	/* NULL: not a loop thread */
static __thread bool tls_leading;

static void *worker(void *arg);

/* One more thread, which takes the lead when it is free (lp->mu held;
 * signals blocked in it, so that the main thread gets them). */
static int spawn(struct ec_loop *lp)
{
	sigset_t all, old;
	int err;

	if (lp->n >= lp->max)
		return -EAGAIN;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = pthread_create(&lp->tids[lp->n], NULL, worker, lp);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return -err;
	lp->n++;
	return 0;
}

/* The end, for every thread (lp->mu held). */
static void end(struct ec_loop *lp, int err)
{
	if (err && !lp->err)
		lp->err = err;
	lp->stop = true;
	pthread_cond_broadcast(&lp->cv);
	sem_post(&lp->finish);
}

void ec_loop_slow(void)
{
	struct ec_loop *lp = tls_loop;

	if (!lp || !tls_leading)
		return;
	tls_leading = false;
	pthread_mutex_lock(&lp->mu);
	lp->leading = false;
	lp->lead_free = true;
	if (!lp->stop) {
		if (lp->waiting)
			pthread_cond_signal(&lp->cv);
		else
			(void)spawn(lp);	/* at max: the first one done
						   takes the lead */
	}
	pthread_mutex_unlock(&lp->mu);
}

struct leader {
	struct ec_loop *lp;
	struct fuse_buf *buf;
};

/* Cancelled while waiting for a request (the end). */
static void cancelled(void *arg)
{
	struct leader *l = arg;

	free(l->buf->mem);
	l->buf->mem = NULL;
	pthread_mutex_lock(&l->lp->mu);
	l->lp->leading = false;
	pthread_mutex_unlock(&l->lp->mu);
}

/* Read and run requests while this thread leads: 0 when it handed the
 * lead on (ec_loop_slow), 1 at the end, or -errno. */
static int lead(struct ec_loop *lp, struct fuse_buf *buf)
{
	struct leader l = { lp, buf };
	int res = 0;

	while (tls_leading && !fuse_session_exited(lp->se)) {
		pthread_cleanup_push(cancelled, &l);
		pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
		res = fuse_session_receive_buf(lp->se, buf);
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
		pthread_cleanup_pop(0);
		if (res == -EINTR)
			continue;
		if (res <= 0)
			return res < 0 ? res : 1;	/* 0: unmounted */
		fuse_session_process_buf(lp->se, buf);
	}
	return tls_leading ? 1 : 0;
}

static void *worker(void *arg)
{
	struct ec_loop *lp = arg;
	struct fuse_buf buf;
	int res;

	memset(&buf, 0, sizeof(buf));
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	tls_loop = lp;
	pthread_mutex_lock(&lp->mu);
	while (!lp->stop) {
		if (!lp->lead_free) {
			lp->waiting++;
			pthread_cond_wait(&lp->cv, &lp->mu);
			lp->waiting--;
			continue;
		}
		lp->lead_free = false;
		lp->leading = true;
		lp->leader = pthread_self();
		pthread_mutex_unlock(&lp->mu);
		tls_leading = true;
		res = lead(lp, &buf);
		tls_leading = false;
		pthread_mutex_lock(&lp->mu);
		if (res != 0) {
			lp->leading = false;
			end(lp, res < 0 ? res : 0);
		}
	}
	pthread_mutex_unlock(&lp->mu);
	free(buf.mem);
	return NULL;
}

int ec_loop_run(struct fuse_session *se, unsigned max)
{
	struct ec_loop lp;
	unsigned i;
	int err;

	memset(&lp, 0, sizeof(lp));
	lp.se = se;
	lp.max = max < 1 ? 1 : max > EC_LOOP_MAX_THREADS ?
		EC_LOOP_MAX_THREADS : max;
	lp.lead_free = true;
	if (sem_init(&lp.finish, 0, 0) != 0)
		return -errno;
	pthread_mutex_init(&lp.mu, NULL);
	pthread_cond_init(&lp.cv, NULL);
	pthread_mutex_lock(&lp.mu);
	err = spawn(&lp);
	pthread_mutex_unlock(&lp.mu);
	/* Until the end, or a signal's fuse_session_exit(): sem_wait
	 * returns EINTR (libfuse's handlers are set without SA_RESTART),
	 * or, for a signal just before it, the timeout. */
	while (!err && !fuse_session_exited(se)) {
		struct timespec t;
		bool stop;

		pthread_mutex_lock(&lp.mu);
		stop = lp.stop;
		pthread_mutex_unlock(&lp.mu);
		if (stop)
			break;
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_sec++;
		(void)sem_timedwait(&lp.finish, &t);
	}
	pthread_mutex_lock(&lp.mu);
	if (!lp.stop)
		end(&lp, 0);
	if (lp.leading)
		pthread_cancel(lp.leader);
	pthread_mutex_unlock(&lp.mu);
	/* No thread is made once stopped: lp.n stays. */
	for (i = 0; i < lp.n; i++)
		pthread_join(lp.tids[i], NULL);
	if (!err)
		err = lp.err;
	pthread_cond_destroy(&lp.cv);
	pthread_mutex_destroy(&lp.mu);
	sem_destroy(&lp.finish);
	fuse_session_reset(se);
	return err;
}
