/*
 * ops_dir: directory listings: opendir, readdir, readdirplus,
 * releasedir.  A listing reads a snapshot of the backing directory; a
 * helper thread (pf_*) loads its entries' metadata ahead of it.
 *
 * The kernel keeps a listing it read to its end (cache_readdir) and uses
 * it again when opendir says it may (keep_cache): when the directory is
 * watched, no outside change was handled since that listing's snapshot
 * (fs->gen) nor is one waiting to be (ec_watch_settled), and no entry it
 * showed has expired since (list_until_us).  Changes through the mount
 * the kernel sees itself: it drops the listing at the next opendir.  So
 * a warm `ls -lR` costs an OPENDIR and a RELEASEDIR per directory, not a
 * READDIRPLUS and a stat of every envelope.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "links.h"
#include "ops.h"

#define UNKNOWN_INO 0xffffffffu	/* d_ino of a plain readdir entry */

/* A directory stream: a snapshot of the backing listing. */
struct snap_item {
	char *name;
	bool is_dir;
	struct stat st;
	int claim;		/* PF_*: who loads its metadata (atomic) */
};

/* An item's metadata is loaded once: by the listing itself, from the
 * front, or by the helper that loads ahead of it, from the back. */
enum { PF_FREE, PF_BUSY, PF_DONE };

struct dirh {
	struct snap_item *v;
	size_t n, cap;
	bool loaded;
	uint64_t gen;		/* fs->gen when the snapshot was taken */
	/* What the kernel may keep of this listing once read to its end: not
	 * if anything in it may be out of date or missing (nocache), else
	 * until the first expiry of an entry it shows. */
	bool nocache;
	int64_t until;
	/* The helper thread loading metadata ahead (cold listings use both
	 * cores: decrypting is most of their cost). */
	struct ecfs *fs;
	char dir[PATH_MAX];
	pthread_t helper;
	bool helping;
	int stop;		/* atomic: releasedir or a new snapshot */
	struct ec_link open;	/* in open_dirs */
};

/*
 * Every directory stream opened and not released yet.  The kernel sends
 * RELEASEDIR in the background, and one still queued when the file
 * system is unmounted never comes: 294 of 300 directories closed just
 * before `fusermount3 -u` were never released here (valgrind: "definitely
 * lost").  ecfs_readdir_quiesce() frees what is left.  (Files lose
 * their RELEASE less often, but they do: see ec_handle_track.)
 */
static pthread_mutex_t open_mu = PTHREAD_MUTEX_INITIALIZER;
static struct ec_link *open_dirs;

static void dirh_link(struct dirh *dh)
{
	pthread_mutex_lock(&open_mu);
	ec_link_push(&open_dirs, &dh->open);
	pthread_mutex_unlock(&open_mu);
}

static void dirh_unlink(struct dirh *dh)
{
	pthread_mutex_lock(&open_mu);
	ec_link_remove(&open_dirs, &dh->open);
	pthread_mutex_unlock(&open_mu);
}

int ecfs_node_kind(struct ecfs *fs, fuse_ino_t ino, bool *is_dir)
{
	struct node *n;

	pthread_mutex_lock(&fs->lock);
	n = ec_node_get(&fs->nodes, ino);
	*is_dir = n && n->is_dir;
	pthread_mutex_unlock(&fs->lock);
	return n ? 0 : -ENOENT;
}

/* Whether the kernel may keep what it has of d's listing, and keep the
 * next one (see the top).  Lock held; settled: ec_watch_settled(),
 * called before the lock was taken. */
static bool may_cache(const struct ecfs *fs, const struct node *d)
{
	return fs->watch && !fs->net && fs->timeout > 0 && d->wd >= 0;
}

static bool keeps_listing(const struct ecfs *fs, const struct node *d,
			  bool settled, int64_t now)
{
	return settled && may_cache(fs, d) && d->listed &&
	       d->list_gen == fs->gen && now <= d->list_until_us;
}

void ecfs_opendir(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	struct ecfs *fs = ecfs_of(req);
	struct dirh *dh;
	struct node *d;
	bool settled = fs->watch && ec_watch_settled(fs->watch);
	int64_t now = ec_clock_now_us();
	int err = 0;

	pthread_mutex_lock(&fs->lock);
	d = ec_node_get(&fs->nodes, ino);
	if (!d)
		err = -ENOENT;
	else if (!d->is_dir)
		err = -ENOTDIR;
	else {
		fi->cache_readdir = may_cache(fs, d);
		fi->keep_cache = keeps_listing(fs, d, settled, now);
	}
	pthread_mutex_unlock(&fs->lock);
	if (err) {
		ecfs_reply_err(req, err);
		return;
	}
	dh = calloc(1, sizeof(*dh));
	if (!dh) {
		ecfs_reply_err(req, -ENOMEM);
		return;
	}
	fi->fh = (uintptr_t)dh;
	if (fi->keep_cache)
		ecfs_count(&fs->stats, EC_FSSTAT_LISTINGS_KEPT, 1);
	dirh_link(dh);
	if (fuse_reply_open(req, fi) != 0) {
		dirh_unlink(dh);
		free(dh);
	}
}

static void snap_clear(struct dirh *dh)
{
	size_t i;

	for (i = 0; i < dh->n; i++)
		free(dh->v[i].name);
	dh->n = 0;
	dh->loaded = false;
}

static int snap_add(void *ctx, const struct ec_store_item *it)
{
	struct dirh *dh = ctx;

	if (dh->n == dh->cap) {
		size_t cap = dh->cap ? dh->cap * 2 : 64;
		struct snap_item *v = realloc(dh->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		dh->v = v;
		dh->cap = cap;
	}
	dh->v[dh->n].name = strdup(it->name);
	if (!dh->v[dh->n].name)
		return -ENOMEM;
	dh->v[dh->n].is_dir = it->is_dir;
	dh->v[dh->n].st = it->st;
	dh->v[dh->n].claim = PF_FREE;
	dh->n++;
	return 0;
}

/* At most this many helpers at once in the whole daemon; a listing
 * starts one only when this many of its entries are not known yet. */
#define PF_HELPERS 2
#define PF_MIN 16
static int pf_running;		/* atomic */
static int pf_shutdown;		/* atomic: the daemon is stopping */

/* The helper: metadata of the snapshot's entries, last to first, until
 * it meets the listing (or is stopped). */
static void *pf_main(void *arg)
{
	struct dirh *dh = arg;
	int64_t now = ec_clock_now_us();
	size_t i;

	for (i = dh->n; i-- > 0 &&
	     !__atomic_load_n(&dh->stop, __ATOMIC_ACQUIRE) &&
	     !__atomic_load_n(&pf_shutdown, __ATOMIC_ACQUIRE);) {
		struct snap_item *it = &dh->v[i];
		struct ec_fsmeta_key key;
		struct ec_fsmeta_info mi;
		char id[PATH_MAX];
		int expect = PF_FREE;

		if (!__atomic_compare_exchange_n(&it->claim, &expect, PF_BUSY,
						 false, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			break;	/* the listing got here first */
		/* (A failure leaves the listing to try it again.) */
		if (!it->is_dir &&
		    ec_path_join(dh->dir, it->name, id, sizeof(id)) == 0 &&
		    ec_present_meta(dh->fs, id, &it->st, now, &key, &mi) != 0)
			key.ino = 0;
		__atomic_store_n(&it->claim, PF_DONE, __ATOMIC_RELEASE);
	}
	__atomic_fetch_sub(&pf_running, 1, __ATOMIC_RELAXED);
	return NULL;
}

/* Start the helper for a fresh snapshot of dir when it is worth it. */
static void pf_start(struct ecfs *fs, struct dirh *dh, const char *dir)
{
	size_t i, unknown = 0;

	for (i = 0; i < dh->n && unknown < PF_MIN; i++) {
		struct ec_fsmeta_key k;
		struct ec_fsmeta_info mi;

		ec_fsmeta_key_of(&k, &dh->v[i].st);
		if (!dh->v[i].is_dir && !ec_fsmeta_get(fs->meta, &k, &mi))
			unknown++;
	}
	if (unknown < PF_MIN || strlen(dir) >= sizeof(dh->dir))
		return;
	if (__atomic_fetch_add(&pf_running, 1, __ATOMIC_RELAXED) >=
	    PF_HELPERS) {
		__atomic_fetch_sub(&pf_running, 1, __ATOMIC_RELAXED);
		return;
	}
	dh->fs = fs;
	strcpy(dh->dir, dir);
	__atomic_store_n(&dh->stop, 0, __ATOMIC_RELEASE);
	if (pthread_create(&dh->helper, NULL, pf_main, dh) != 0) {
		__atomic_fetch_sub(&pf_running, 1, __ATOMIC_RELAXED);
		return;
	}
	dh->helping = true;
}

/* Stop and wait for the helper (before the snapshot changes or goes). */
static void pf_stop(struct dirh *dh)
{
	if (!dh->helping)
		return;
	__atomic_store_n(&dh->stop, 1, __ATOMIC_RELEASE);
	pthread_join(dh->helper, NULL);
	dh->helping = false;
}

/* Stop and wait for dh's helper, and free dh (unlinked). */
static void dirh_free(struct dirh *dh)
{
	pf_stop(dh);
	snap_clear(dh);
	free(dh->v);
	free(dh);
}

void ecfs_readdir_quiesce(void)
{
	struct dirh *dh;

	__atomic_store_n(&pf_shutdown, 1, __ATOMIC_RELEASE);
	/* No request runs any more (the loop has ended): what is still
	 * open was never released. */
	pthread_mutex_lock(&open_mu);
	while (open_dirs) {
		dh = EC_LINK_OWNER(open_dirs, struct dirh, open);
		ec_link_remove(&open_dirs, &dh->open);
		pthread_mutex_unlock(&open_mu);
		dirh_free(dh);
		pthread_mutex_lock(&open_mu);
	}
	pthread_mutex_unlock(&open_mu);
	while (__atomic_load_n(&pf_running, __ATOMIC_ACQUIRE) > 0)
		sched_yield();
}

/* The listing's turn at item it: claim it, or wait for the helper that
 * is loading it (its metadata is then in fsmeta). */
static void pf_claim(struct snap_item *it)
{
	int expect = PF_FREE;

	/* Taken by the listing (done: the helper leaves it alone, and a
	 * later request that comes back to it does not wait for itself). */
	if (__atomic_compare_exchange_n(&it->claim, &expect, PF_DONE, false,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return;
	while (__atomic_load_n(&it->claim, __ATOMIC_ACQUIRE) == PF_BUSY)
		sched_yield();
}

/* One readdir request's buffer and what it knows. */
struct rd {
	fuse_req_t req;
	struct ecfs *fs;
	fuse_ino_t ino;
	uint64_t shown, dotdot;	/* st_ino of "." and ".." */
	struct dirh *dh;
	char dir[PATH_MAX];
	char *buf;
	size_t size, used;
	struct node **added;	/* readdirplus: one lookup counted each */
	size_t nadded;
	uint64_t gen;
	int64_t now;
	bool watched, plus;
};

/* Add "." or "..", item i < 2; false when the buffer is full. */
static bool rd_dot(struct rd *r, size_t i)
{
	struct fuse_entry_param e;
	const char *name = i ? ".." : ".";
	size_t need, room = r->size - r->used;

	memset(&e, 0, sizeof(e));
	e.attr.st_mode = S_IFDIR;
	e.attr.st_ino = i ? r->dotdot : r->shown;
	need = r->plus ? fuse_add_direntry_plus(r->req, r->buf + r->used, room,
						name, &e, (off_t)i + 1) :
		fuse_add_direntry(r->req, r->buf + r->used, room, name,
				  &e.attr, (off_t)i + 1);
	if (need > room)
		return false;
	r->used += need;
	return true;
}

/* Add snapshot item i (offset i + 2) when it is shown now; false when
 * the buffer is full (or out of memory: the listing goes on later). */
static bool rd_item(struct rd *r, size_t i)
{
	const struct snap_item *it = &r->dh->v[i];
	struct fuse_entry_param e;
	struct ec_fsmeta_key key;
	struct ec_fsmeta_info mi;
	struct ecfs *fs = r->fs;
	char id[PATH_MAX];
	struct stat st = it->st;
	bool is_dir = it->is_dir;
	struct node *d, *n;
	off_t next = (off_t)i + 3;

	pf_claim(&r->dh->v[i]);
	if (ec_path_join(r->dir, it->name, id, sizeof(id)) != 0)
		return true;
	if (r->gen != r->dh->gen) {
		/* Something changed since the snapshot: look again (below,
		 * replies are not cached either). */
		r->dh->nocache = true;
		is_dir = ec_store_stat_dir(fs->store, id, &st) == 0;
		if (!is_dir && ec_store_stat_entry(fs->store, id, &st) != 0)
			return true;
	}
	if (!is_dir && ec_present_meta(fs, id, &st, r->now, &key, &mi) != 0) {
		r->dh->nocache = true;	/* may be there when asked again */
		return true;
	}
	if (!is_dir && !ec_present_shown(fs, &mi, r->now))
		return true;
	if (!is_dir && mi.expires_us < r->dh->until)
		r->dh->until = mi.expires_us;
	if ((r->plus ? fuse_add_direntry_plus(r->req, NULL, 0, it->name, NULL,
					      0) :
	     fuse_add_direntry(r->req, NULL, 0, it->name, NULL, 0)) >
	    r->size - r->used)
		return false;
	memset(&e, 0, sizeof(e));
	if (!r->plus) {
		e.attr.st_mode = is_dir ? S_IFDIR : S_IFREG;
		e.attr.st_ino = UNKNOWN_INO;
		r->used += fuse_add_direntry(r->req, r->buf + r->used,
					     r->size - r->used, it->name,
					     &e.attr, next);
		return true;
	}
	pthread_mutex_lock(&fs->lock);
	d = ec_node_get(&fs->nodes, r->ino);
	n = !d ? NULL : is_dir ? ec_present_dir_node(fs, d, it->name, id, &st) :
		ec_present_file_node(fs, d, it->name, &key, &mi);
	if (!n) {
		pthread_mutex_unlock(&fs->lock);
		return false;
	}
	n->nlookup++;
	r->added[r->nadded++] = n;
	ec_present_entry(fs, n, r->now, r->watched && r->gen == fs->gen &&
			 r->gen == r->dh->gen &&
			 (!n->is_dir || ecfs_watched(fs, n)),
			 &e);
	pthread_mutex_unlock(&fs->lock);
	r->used += fuse_add_direntry_plus(r->req, r->buf + r->used,
					  r->size - r->used, it->name, &e,
					  next);
	return true;
}

/* The listing of dh (directory ino) was read to its end: what the kernel
 * may keep of it. */
static void listed(struct ecfs *fs, fuse_ino_t ino, const struct dirh *dh)
{
	struct node *d;

	pthread_mutex_lock(&fs->lock);
	d = ec_node_get(&fs->nodes, ino);
	if (d && d->is_dir) {
		d->listed = !dh->nocache;
		d->list_gen = dh->gen;
		d->list_until_us = dh->until;
	}
	pthread_mutex_unlock(&fs->lock);
}

/*
 * One buffer of directory entries from offset off: ".", "..", then the
 * snapshot (taken at offset 0), skipping entries that are not valid now.
 * The offset of an item is its index + 1.  With plus, every entry added
 * (but "." and "..") counts one lookup of its node.
 */
static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t off, struct fuse_file_info *fi, bool plus)
{
	struct rd r = { .req = req, .fs = ecfs_of(req), .ino = ino,
			.size = size, .plus = plus };
	struct ecfs *fs = r.fs;
	struct node *d;
	size_t i;
	int err;

	r.dh = (struct dirh *)(uintptr_t)fi->fh;
	pthread_mutex_lock(&fs->lock);
	d = ec_node_get(&fs->nodes, ino);
	err = d ? ec_node_path(d, r.dir, sizeof(r.dir)) : -ENOENT;
	if (!err) {
		r.shown = d->shown_ino;
		r.dotdot = d->parent ? d->parent->shown_ino : d->shown_ino;
		r.watched = ecfs_watched(fs, d);
	}
	r.gen = fs->gen;
	pthread_mutex_unlock(&fs->lock);
	if (!err && (off == 0 || !r.dh->loaded)) {
		pf_stop(r.dh);
		snap_clear(r.dh);
		err = ec_store_list_dir(fs->store, r.dir, snap_add, r.dh);
		r.dh->loaded = !err;
		r.dh->gen = r.gen;
		/* A snapshot taken at another offset than 0 (after
		 * seekdir) is not the one the kernel read the start of. */
		r.dh->nocache = off != 0;
		r.dh->until = INT64_MAX;
		if (!err && plus)
			pf_start(fs, r.dh, r.dir);
	}
	if (!err) {
		r.buf = malloc(size);
		r.added = calloc(r.dh->n + 1, sizeof(*r.added));
		if (!r.buf || !r.added)
			err = -ENOMEM;
	}
	if (err) {
		free(r.buf);
		free(r.added);
		ecfs_reply_err(req, err);
		return;
	}
	r.now = ec_clock_now_us();
	for (i = (size_t)off; i < r.dh->n + 2; i++)
		if (!(i < 2 ? rd_dot(&r, i) : rd_item(&r, i - 2)))
			break;
	if (i == r.dh->n + 2)
		listed(fs, ino, r.dh);
	if (fuse_reply_buf(req, r.buf, r.used) != 0 && r.nadded) {
		pthread_mutex_lock(&fs->lock);
		for (i = 0; i < r.nadded; i++) {
			r.added[i]->nlookup--;
			ec_node_put(&fs->nodes, r.added[i]);
		}
		pthread_mutex_unlock(&fs->lock);
	}
	free(r.buf);
	free(r.added);
}

void ecfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			 off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

void ecfs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			     off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

void ecfs_releasedir(fuse_req_t req, fuse_ino_t ino,
			    struct fuse_file_info *fi)
{
	struct dirh *dh = (struct dirh *)(uintptr_t)fi->fh;

	(void)ino;
	dirh_unlink(dh);
	dirh_free(dh);
	ecfs_reply_err(req, 0);
}
