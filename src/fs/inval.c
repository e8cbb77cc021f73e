/*
 * inval: keeping the kernel's caches true.  The watch thread's callback
 * turns inotify events on backing directories into invalidations of
 * names, and the notifier thread sends the invalidations that replies to
 * our own changes wait for (see below).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "mono.h"

struct inval {
	fuse_ino_t parent;
	char *name;
	char *id;	/* NULL, or: only if id's envelope is not key */
	struct ec_fsmeta_key key;
};

struct invals {
	struct inval *v;
	size_t n, cap;
};

static void inval_add(struct invals *iv, fuse_ino_t parent, const char *name)
{
	if (iv->n == iv->cap) {
		size_t cap = iv->cap ? iv->cap * 2 : 16;
		struct inval *v = realloc(iv->v, cap * sizeof(*v));

		if (!v)
			return;	/* the timeouts still bound the damage */
		iv->v = v;
		iv->cap = cap;
	}
	iv->v[iv->n].name = strdup(name);
	if (!iv->v[iv->n].name)
		return;
	iv->v[iv->n].parent = parent;
	iv->v[iv->n].id = NULL;
	iv->n++;
}

/* The entry name under p, whose node c holds what a save through the
 * mount wrote (own_saved), is dropped only if the file is another version
 * now: the event is most likely that save's own, which already told the
 * kernel what it needs (handle_save.c), and dropping the entry would cost
 * a FORGET and a LOOKUP.  Lock held; the file is stat'ed after it. */
static void check_add(struct invals *iv, const struct node *p,
		      const char *name, const struct node *c)
{
	char id[PATH_MAX];
	size_t k = iv->n;
	bool have = ec_node_path(c, id, sizeof(id)) == 0;

	inval_add(iv, p->ino, name);
	if (have && iv->n > k) {
		iv->v[k].id = strdup(id);	/* NULL: dropped unchecked */
		iv->v[k].key = c->key;
	}
}

/* Whether the entry of iv must be dropped (outside the lock). */
static bool still_needed(const struct ecfs *fs, const struct inval *iv)
{
	return !iv->id || !ec_present_is_version(fs, iv->id, &iv->key);
}

/* The name shown for a backing file name, or NULL when it is not shown. */
static const char *shown_name(const struct ecfs *fs, const char *bname,
			      unsigned what, char *buf, size_t size)
{
	size_t len = strlen(bname), sl = fs->store->suffix_len;

	if (what & EC_WATCH_ISDIR)
		return bname;
	if (len <= sl || len - sl >= size ||
	    strcmp(bname + len - sl, fs->store->suffix) != 0)
		return NULL;
	memcpy(buf, bname, len - sl);
	buf[len - sl] = '\0';
	return buf;
}

/* An event for the entry (or directory) name under directory d.  Lock
 * held. */
static void name_changed(struct ecfs *fs, struct invals *iv, struct node *d,
			 const char *name, unsigned what)
{
	struct node *c = NULL;

	if (!(what & EC_WATCH_ISDIR))
		c = ec_node_child(&fs->nodes, d, name);
	if (c && !c->is_dir && c->nsaving) {
		/* A save through c is under way: this is likely its own
		 * event.  Its publication looks at the file (handle_save). */
		c->changed_saving = true;
		return;
	}
	if (c && !c->is_dir && c->own_saved && !c->pending)
		check_add(iv, d, name, c);
	else
		inval_add(iv, d->ino, name);
}

void ec_inval_on_watch(void *ctx, const struct ec_watch_event *ev, size_t n)
{
	struct ecfs *fs = ctx;
	struct invals iv = { NULL, 0, 0 };
	size_t i;

	pthread_mutex_lock(&fs->lock);
	fs->gen++;
	for (i = 0; i < n; i++) {
		struct node *d, *next;

		if (ev[i].what & EC_WATCH_OVERFLOW) {
			size_t b;

			for (b = 0; b < fs->nodes.name_buckets; b++)
				for (d = fs->nodes.by_name[b]; d; d = d->name_next)
					inval_add(&iv, d->parent->ino, d->name);
			continue;
		}
		if (ev[i].wd < 0)
			continue;
		for (d = ec_node_by_wd(&fs->nodes, ev[i].wd); d;
		     d = next) {
			char buf[NAME_MAX + 1];
			const char *name;

			next = d->wd_next;
			if (d->wd != ev[i].wd)
				continue;
			if ((ev[i].what & (EC_WATCH_SELF | EC_WATCH_GONE)) &&
			    d->parent)
				inval_add(&iv, d->parent->ino, d->name);
			if (ev[i].what & EC_WATCH_CHANGED) {
				name = shown_name(fs, ev[i].name, ev[i].what,
						  buf, sizeof(buf));
				if (name)
					name_changed(fs, &iv, d, name,
						     ev[i].what);
			}
			if (ev[i].what & EC_WATCH_GONE) {
				ec_node_wd_unlink(&fs->nodes, d);
				d->wd = -1;
			}
		}
	}
	pthread_mutex_unlock(&fs->lock);

	for (i = 0; i < iv.n; i++) {
		/* -ENOENT (not cached) is the common, harmless answer. */
		if (still_needed(fs, &iv.v[i]))
			fuse_lowlevel_notify_inval_entry(fs->se,
							 iv.v[i].parent,
							 iv.v[i].name,
							 strlen(iv.v[i].name));
		free(iv.v[i].name);
		free(iv.v[i].id);
	}
	free(iv.v);
}

/*
 * After a change through the mount, the kernel may still cache the name
 * as the old version's node (for up to cache_timeout), or the node's old
 * attributes.  The reply to flush, setattr or setxattr waits until the
 * kernel has dropped them, so that the next `cat` or `stat` shows the new
 * version.  fuse_lowlevel_notify_inval_entry() takes the directory's lock
 * in the kernel, and that lock may be held by a process whose request
 * waits for one of our worker threads (the only one, with -s): sent from
 * a handler, it could deadlock.  So a thread of its own sends them, and
 * the handler waits at most EC_NOTIFY_WAIT_MS: in the rare case that would
 * deadlock, the reply goes out late and the notification follows it.
 * Single-threaded (-s), that case is common (any concurrent lookup or
 * create in the directory), so the wait is short there: a cat or stat
 * right after a close still sees the new version unless another request
 * was in flight.
 */

struct notice {
	struct notice *next;
	fuse_ino_t parent;	/* inval_entry(parent, name), or, when 0, */
	fuse_ino_t ino;		/* inval_inode(ino): attributes, */
	bool pages;		/* and with pages, every cached page */
	char *name;
	uint64_t seq;
};

struct ec_notifier {
	struct fuse_session *se;
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* queued, done, or stopping */
	struct notice *head, *tail;
	uint64_t queued, done;
	bool running, stop;
	pthread_t thread;
};

static void *notifier_main(void *arg)
{
	struct ec_notifier *nt = arg;

	pthread_mutex_lock(&nt->lock);
	while (!nt->stop) {
		struct notice *q = nt->head;

		if (!q) {
			pthread_cond_wait(&nt->cond, &nt->lock);
			continue;
		}
		nt->head = q->next;
		if (!nt->head)
			nt->tail = NULL;
		pthread_mutex_unlock(&nt->lock);
		/* -ENOENT (not cached) is the common, harmless answer. */
		if (q->parent)
			fuse_lowlevel_notify_inval_entry(nt->se, q->parent,
							 q->name,
							 strlen(q->name));
		else
			fuse_lowlevel_notify_inval_inode(nt->se, q->ino,
							 q->pages ? 0 : -1, 0);
		pthread_mutex_lock(&nt->lock);
		nt->done = q->seq;
		pthread_cond_broadcast(&nt->cond);
		free(q->name);
		free(q);
	}
	pthread_mutex_unlock(&nt->lock);
	return NULL;
}

/* A notifier for se (no thread yet: it may be made before fork). */
struct ec_notifier *ec_notifier_new(struct fuse_session *se)
{
	struct ec_notifier *nt = calloc(1, sizeof(*nt));

	if (!nt)
		return NULL;
	nt->se = se;
	if (ec_mono_lock_init(&nt->lock, &nt->cond) != 0) {
		free(nt);
		return NULL;
	}
	return nt;
}

int ec_notifier_start(struct ec_notifier *nt)
{
	int err = pthread_create(&nt->thread, NULL, notifier_main, nt);

	if (err)
		return -err;
	nt->running = true;
	return 0;
}

/* Stop the thread (after the unmount: no notification can block then)
 * and free nt with what is still queued.  NULL is a no-op. */
void ec_notifier_free(struct ec_notifier *nt)
{
	if (!nt)
		return;
	if (nt->running) {
		pthread_mutex_lock(&nt->lock);
		nt->stop = true;
		pthread_cond_broadcast(&nt->cond);
		pthread_mutex_unlock(&nt->lock);
		pthread_join(nt->thread, NULL);
	}
	while (nt->head) {
		struct notice *q = nt->head;

		nt->head = q->next;
		free(q->name);
		free(q);
	}
	pthread_cond_destroy(&nt->cond);
	pthread_mutex_destroy(&nt->lock);
	free(nt);
}

/* See fs.h.  Nothing is queued when the thread is not running, or out of
 * memory: the timeouts still bound the damage then. */
uint64_t ec_inval_queue(struct ecfs *fs, fuse_ino_t parent, const char *name,
			fuse_ino_t ino, bool pages)
{
	struct ec_notifier *nt = fs->notifier;
	struct notice *q;
	uint64_t seq;

	/* Without timeouts the kernel caches no names or attributes; pages
	 * it caches all the same (keep_cache). */
	if (!nt || !nt->running || (fs->timeout <= 0 && !pages))
		return 0;
	q = calloc(1, sizeof(*q));
	if (!q)
		return 0;
	if (name) {
		q->name = strdup(name);
		if (!q->name) {
			free(q);
			return 0;
		}
		q->parent = parent;
	} else {
		q->ino = ino;
		q->pages = pages;
	}
	pthread_mutex_lock(&nt->lock);
	seq = q->seq = ++nt->queued;
	if (nt->tail)
		nt->tail->next = q;
	else
		nt->head = q;
	nt->tail = q;
	pthread_cond_broadcast(&nt->cond);
	pthread_mutex_unlock(&nt->lock);
	return seq;
}

/* Wait (at most fs->notify_wait_ms) until notice seq has been sent. */
void ec_inval_wait(struct ecfs *fs, uint64_t seq)
{
	struct ec_notifier *nt = fs->notifier;
	int64_t until;

	if (!seq)
		return;
	until = ec_mono_us() + (int64_t)fs->notify_wait_ms * 1000;
	pthread_mutex_lock(&nt->lock);
	while (nt->done < seq && !nt->stop)
		if (ec_mono_wait(&nt->cond, &nt->lock, until) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&nt->lock);
}
