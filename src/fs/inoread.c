/*
 * inoread: reads that name no handle, served by inode (see inoread.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "handle.h"
#include "inoread.h"
#include "mono.h"

struct ec_inoread {
	struct ecfs *fs;
	pthread_mutex_t mu;	/* slots, sleeps_until, stop */
	pthread_cond_t cv;	/* CLOCK_MONOTONIC: the reaper sleeps */
	pthread_t reaper;
	bool stop;
	int64_t sleeps_until;	/* the reaper wakes by then (0: awake) */
	struct ec_inoread_slot slots[EC_INOREAD_SLOTS];
};

int64_t ec_inoread_due(const struct ec_inoread_slot *s)
{
	if (!s->ino || s->users)
		return INT64_MAX;
	return s->used_us + (s->ended ? EC_INOREAD_END_US :
			     EC_INOREAD_IDLE_US);
}

struct ec_inoread_slot *ec_inoread_pick(struct ec_inoread_slot *slots,
					size_t n, bool *evict)
{
	struct ec_inoread_slot *best = NULL;
	int64_t best_due = INT64_MAX, due;
	size_t i;

	*evict = false;
	for (i = 0; i < n; i++) {
		if (!slots[i].ino)
			return &slots[i];
		due = ec_inoread_due(&slots[i]);
		if (due < best_due) {
			best_due = due;
			best = &slots[i];
		}
	}
	*evict = best != NULL;
	return best;
}

/* Unpin and free h (a handle opened here, no lock held). */
static void drop(struct ecfs *fs, struct handle *h)
{
	if (!h)
		return;
	ec_handle_unpin(fs, h);
	ec_handle_free(h);
}

/* Free slot s (t->mu held): its handle is the caller's to drop. */
static struct handle *vacate(struct ec_inoread_slot *s)
{
	struct handle *h = s->h;

	memset(s, 0, sizeof(*s));
	return h;
}

/* Wakes when the first idle slot is due, and drops what is. */
static void *reap(void *arg)
{
	struct ec_inoread *t = arg;
	struct handle *gone[EC_INOREAD_SLOTS];
	size_t i, n;

	pthread_mutex_lock(&t->mu);
	while (!t->stop) {
		int64_t now = ec_mono_us(), due = INT64_MAX, d;

		n = 0;
		for (i = 0; i < EC_INOREAD_SLOTS; i++) {
			d = ec_inoread_due(&t->slots[i]);
			if (d <= now)
				gone[n++] = vacate(&t->slots[i]);
			else if (d < due)
				due = d;
		}
		if (n) {
			pthread_mutex_unlock(&t->mu);
			for (i = 0; i < n; i++)
				drop(t->fs, gone[i]);
			pthread_mutex_lock(&t->mu);
			continue;
		}
		if (due != INT64_MAX)
			due += 1000;	/* a little after */
		t->sleeps_until = due;
		(void)ec_mono_wait(&t->cv, &t->mu, due);
		t->sleeps_until = 0;
	}
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

int ec_inoread_new(struct ecfs *fs, struct ec_inoread **out)
{
	struct ec_inoread *t = calloc(1, sizeof(*t));
	int err;

	*out = NULL;
	if (!t)
		return -ENOMEM;
	t->fs = fs;
	if (ec_mono_lock_init(&t->mu, &t->cv) != 0) {
		free(t);
		return -ENOMEM;
	}
	err = pthread_create(&t->reaper, NULL, reap, t);
	if (err) {
		pthread_cond_destroy(&t->cv);
		pthread_mutex_destroy(&t->mu);
		free(t);
		return -err;
	}
	*out = t;
	return 0;
}

void ec_inoread_free(struct ec_inoread *t)
{
	size_t i;

	if (!t)
		return;
	pthread_mutex_lock(&t->mu);
	t->stop = true;
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->mu);
	pthread_join(t->reaper, NULL);
	for (i = 0; i < EC_INOREAD_SLOTS; i++)
		if (t->slots[i].ino)
			drop(t->fs, vacate(&t->slots[i]));
	pthread_cond_destroy(&t->cv);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

void ec_inoread_forget(struct ec_inoread *t, fuse_ino_t ino)
{
	struct handle *h = NULL;
	size_t i;

	pthread_mutex_lock(&t->mu);
	for (i = 0; i < EC_INOREAD_SLOTS; i++)
		if (t->slots[i].ino == ino) {
			if (t->slots[i].users == 0)
				h = vacate(&t->slots[i]);
			break;
		}
	pthread_mutex_unlock(&t->mu);
	drop(t->fs, h);
}

/* A snapshot handle on ino's node, pinned (fs->lock taken here). */
static int new_handle(struct ecfs *fs, fuse_ino_t ino, struct handle **out)
{
	struct node *n;
	int err;

	*out = NULL;
	pthread_mutex_lock(&fs->lock);
	err = ec_node_get_file(&fs->nodes, ino, &n);
	if (!err && !(*out = ec_handle_new(n, false)))
		err = -ENOMEM;
	if (!err)
		ec_handle_pin(*out);
	pthread_mutex_unlock(&fs->lock);
	return err;
}

/* Open h (h->lock held) as the version its node stands for. */
static int open_as_node(struct ecfs *fs, struct handle *h)
{
	char id[PATH_MAX], shown[PATH_MAX];
	struct ec_fsmeta_key want;
	int err;

	pthread_mutex_lock(&fs->lock);
	want = h->node->key;
	err = ec_node_path(h->node, id, sizeof(id));
	pthread_mutex_unlock(&fs->lock);
	if (!err)
		err = ec_handle_open(fs, h, id, &want, O_RDONLY);
	if (!err && h->other) {
		/* Rewritten since the kernel learned the inode (before the
		 * watch told us, or while it held the file open): its size
		 * and any page it holds are the old version's. */
		ec_fs_printable(id, shown, sizeof(shown));
		fuse_log(FUSE_LOG_NOTICE, PROG ": cannot read '%s' as "
			 "looked up: rewritten since\n", shown);
		err = -EIO;
	}
	return err;
}

void ec_inoread_read(struct ec_inoread *t, fuse_req_t req, fuse_ino_t ino,
		     size_t size, off_t off)
{
	struct ecfs *fs = t->fs;
	struct ec_inoread_slot own = { 0 }, *s = NULL;
	struct handle *h = NULL, *evicted = NULL;
	bool evict, end = false, wake;
	size_t i;
	int err = 0;

	pthread_mutex_lock(&t->mu);
	for (i = 0; i < EC_INOREAD_SLOTS && !s; i++)
		if (t->slots[i].ino == ino)
			s = &t->slots[i];
	if (!s) {
		err = new_handle(fs, ino, &h);
		if (!err) {
			s = ec_inoread_pick(t->slots, EC_INOREAD_SLOTS,
					    &evict);
			if (s && evict)
				evicted = vacate(s);
			if (!s)
				s = &own;	/* every slot is being read */
			s->ino = ino;
			s->h = h;
		}
	}
	if (s)
		s->users++;
	pthread_mutex_unlock(&t->mu);
	drop(fs, evicted);
	if (err) {
		ecfs_reply_err(req, err);
		return;
	}

	h = s->h;
	pthread_mutex_lock(&h->lock);
	if (!s->opened) {
		s->opened = true;
		s->open_err = open_as_node(fs, h);
	}
	err = s->open_err;
	if (!err)
		err = ec_handle_render(fs, h, off == 0);
	h->served = true;
	pthread_mutex_unlock(&h->lock);
	/* A snapshot's data and len do not change once ready, and the slot
	 * stays while counted. */
	if (!err) {
		if (off < 0 || (uint64_t)off >= h->len)
			size = 0;
		else if (size > h->len - (size_t)off)
			size = h->len - (size_t)off;
		end = off >= 0 && (uint64_t)off + size >= h->len;
		if (end)
			ec_handle_read_end(fs, h);
		ecfs_count(&fs->stats, EC_FSSTAT_BYTES_READ, size);
		if (size && !h->data)
			err = -ENOMEM;
	}
	if (err)
		ecfs_reply_err(req, err);
	else
		fuse_reply_buf(req, size ? (const char *)h->data + off : NULL,
			       size);

	if (s == &own) {
		drop(fs, h);
		return;
	}
	pthread_mutex_lock(&t->mu);
	s->users--;
	if (err)
		s->ended = true;	/* the next read opens afresh */
	else if (end)
		s->ended = true;
	s->used_us = ec_mono_us();
	h = NULL;
	if (err && s->users == 0)
		h = vacate(s);
	wake = !h && s->users == 0 && ec_inoread_due(s) < t->sleeps_until;
	if (wake)
		pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->mu);
	drop(fs, h);
}
