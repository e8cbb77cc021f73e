/*
 * ops_read: the read side of the mount: lookup, forget, getattr, open,
 * read, directory listings, statfs.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "handle.h"
#include "ops.h"
#include "ttl.h"

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
	/* The helper thread loading metadata ahead (cold listings use both
	 * cores: decrypting is most of their cost). */
	struct ecfs *fs;
	char dir[PATH_MAX];
	pthread_t helper;
	bool helping;
	int stop;		/* atomic: releasedir or a new snapshot */
};

void ecfs_init(void *userdata, struct fuse_conn_info *conn)
{
	const struct ecfs *fs = userdata;

	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	/* On a shared store a listing is what revalidates its entries
	 * together: every one is stated with it and its attributes sent,
	 * so that ls -l after it asks nothing per file.  (The kernel's
	 * choice would list names only once they are cached.) */
	if (fs->net)
		conn->want &= ~(unsigned)FUSE_CAP_READDIRPLUS_AUTO;
	/* open(O_TRUNC) reaches us as such: the handle starts empty
	 * instead of decrypting what it is about to discard. */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/* Content of an inode never changes (see above): the kernel need
	 * not compare mtimes to drop pages. */
	conn->want &= ~(unsigned)FUSE_CAP_AUTO_INVAL_DATA;
	conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
}

/* Register one more kernel reference on n, or undo it if the reply
 * failed (interrupted request). */
void ecfs_reply_entry_node(fuse_req_t req, struct ecfs *fs, struct node *n,
			     const struct fuse_entry_param *e)
{
	if (fuse_reply_entry(req, e) != 0) {
		pthread_mutex_lock(&fs->lock);
		n->nlookup--;
		ec_node_put(&fs->nodes, n);
		pthread_mutex_unlock(&fs->lock);
	}
}

/*
 * A shared store: a name whose node is a file already answers after one
 * stat of its envelope, when that shows the node's version, still shown
 * (no look for a directory of that name first: on a network file system
 * a name that does not exist costs a round trip to the server each time;
 * a directory made under an entry's name shows once the entry changes).
 * true when replied.
 */
static bool lookup_known(fuse_req_t req, struct ecfs *fs, fuse_ino_t parent,
			 const char *name, const char *id, int64_t now,
			 uint64_t gen)
{
	struct fuse_entry_param e;
	struct ec_fsmeta_key key, k;
	struct ec_fsmeta_info mi;
	struct stat st;
	struct node *p, *n;
	bool known;

	pthread_mutex_lock(&fs->lock);
	p = ec_node_get(&fs->nodes, parent);
	n = p ? ec_node_child(&fs->nodes, p, name) : NULL;
	known = n && !n->is_dir && !n->pending && !n->unlinked;
	if (known)
		key = n->key;
	pthread_mutex_unlock(&fs->lock);
	if (!known || ec_store_stat_entry(fs->store, id, &st) != 0)
		return false;
	ec_fsmeta_key_of(&k, &st);
	if (!ec_fsmeta_key_equal(&key, &k) || !ec_fsmeta_get(fs->meta, &k, &mi) ||
	    !ec_present_shown(fs, &mi, now))
		return false;
	ecfs_count(&fs->stats, EC_FSSTAT_HITS, 1);
	pthread_mutex_lock(&fs->lock);
	p = ec_node_get(&fs->nodes, parent);
	n = p ? ec_node_child(&fs->nodes, p, name) : NULL;
	if (!n || n->is_dir || n->pending || n->unlinked ||
	    !ec_fsmeta_key_equal(&n->key, &k)) {
		pthread_mutex_unlock(&fs->lock);
		return false;
	}
	n->nlookup++;
	ec_present_entry(fs, n, now, gen == fs->gen, &e);
	pthread_mutex_unlock(&fs->lock);
	ecfs_reply_entry_node(req, fs, n, &e);
	return true;
}

void ecfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct ecfs *fs = ecfs_of(req);
	char id[PATH_MAX];
	struct fuse_entry_param e;
	struct ec_fsmeta_key key;
	struct ec_fsmeta_info mi;
	struct stat st;
	struct node *p, *n;
	uint64_t gen;
	int64_t now;
	int err;

	ecfs_count(&fs->stats, EC_FSSTAT_LOOKUPS, 1);

	pthread_mutex_lock(&fs->lock);
	p = ec_node_get(&fs->nodes, parent);
	if (!p || !p->is_dir)
		err = -ENOENT;
	else
		err = ec_node_child_path(p, name, id, sizeof(id));
	gen = fs->gen;
	pthread_mutex_unlock(&fs->lock);
	if (err)
		goto fail;
	now = ec_clock_now_us();
	if (fs->net && lookup_known(req, fs, parent, name, id, now, gen))
		return;

	/* Where a directory and an entry share a name, the directory wins. */
	err = ec_store_stat_dir(fs->store, id, &st);
	if (err == 0) {
		pthread_mutex_lock(&fs->lock);
		p = ec_node_get(&fs->nodes, parent);	/* pinned by the kernel */
		n = p ? ec_present_dir_node(fs, p, name, id, &st) : NULL;
		if (!n) {
			pthread_mutex_unlock(&fs->lock);
			err = -ENOMEM;
			goto fail;
		}
		n->nlookup++;
		ec_present_entry(fs, n, now, ecfs_watched(fs, p) &&
			   ecfs_watched(fs, n) &&
			   gen == fs->gen, &e);
		pthread_mutex_unlock(&fs->lock);
		ecfs_reply_entry_node(req, fs, n, &e);
		return;
	}
	if (err != -ENOENT && err != -ENOTDIR && err != -ELOOP &&
	    err != -EINVAL && err != -EC_EID)
		goto fail;

	/* A file being created through the mount exists before its first
	 * save (at close), as on any file system. */
	pthread_mutex_lock(&fs->lock);
	p = ec_node_get(&fs->nodes, parent);
	n = p ? ec_node_child(&fs->nodes, p, name) : NULL;
	if (n && ec_node_live_pending(n)) {
		n->nlookup++;
		ec_present_entry(fs, n, now, false, &e);
		pthread_mutex_unlock(&fs->lock);
		ecfs_reply_entry_node(req, fs, n, &e);
		return;
	}
	pthread_mutex_unlock(&fs->lock);

	err = ec_present_meta(fs, id, NULL, now, &key, &mi);
	if (!err && !ec_present_shown(fs, &mi, now))
		ec_present_count_hidden(fs, &mi, now);
	if (err || !ec_present_shown(fs, &mi, now)) {
		if (!err || err == -ELOOP || err == -EINVAL || err == -EC_EID)
			err = -ENOENT;
		goto fail;
	}
	pthread_mutex_lock(&fs->lock);
	p = ec_node_get(&fs->nodes, parent);
	n = p ? ec_present_file_node(fs, p, name, &key, &mi) : NULL;
	if (!n) {
		pthread_mutex_unlock(&fs->lock);
		err = -ENOMEM;
		goto fail;
	}
	n->nlookup++;
	ec_present_entry(fs, n, now, ecfs_watched(fs, p) && gen == fs->gen,
			 &e);
	pthread_mutex_unlock(&fs->lock);
	ecfs_reply_entry_node(req, fs, n, &e);
	return;
fail:
	ecfs_reply_err(req, err);
}

static void forget_one(struct ecfs *fs, fuse_ino_t ino, uint64_t nlookup)
{
	struct node *n = ec_node_get(&fs->nodes, ino);

	if (!n || n == &fs->nodes.root)
		return;
	if (nlookup > n->nlookup)
		abort();	/* the kernel forgets more than it looked up */
	n->nlookup -= nlookup;
	ec_node_put(&fs->nodes, n);
}

void ecfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct ecfs *fs = ecfs_of(req);

	pthread_mutex_lock(&fs->lock);
	forget_one(fs, ino, nlookup);
	pthread_mutex_unlock(&fs->lock);
	fuse_reply_none(req);
}

void ecfs_forget_multi(fuse_req_t req, size_t count,
			      struct fuse_forget_data *forgets)
{
	struct ecfs *fs = ecfs_of(req);
	size_t i;

	pthread_mutex_lock(&fs->lock);
	for (i = 0; i < count; i++)
		forget_one(fs, forgets[i].ino, forgets[i].nlookup);
	pthread_mutex_unlock(&fs->lock);
	fuse_reply_none(req);
}

void ecfs_getattr(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	struct ecfs *fs = ecfs_of(req);
	char id[PATH_MAX];
	struct stat a, st;
	struct node *n;
	uint64_t gen;
	size_t own = 0;
	bool is_dir, has_own;
	double t;
	int err = 0;

	/* The kernel names the handle for its own needs (the end of file
	 * for lseek, appends): a handle that writes answers with its own
	 * content.  (fstat(2) names none.) */
	has_own = fi && ec_handle_length((struct handle *)(uintptr_t)fi->fh,
				      &own);
	pthread_mutex_lock(&fs->lock);
	n = ec_node_get(&fs->nodes, ino);
	if (!n) {
		err = -ENOENT;
	} else {
		is_dir = n->is_dir;
		if (is_dir)
			err = ec_node_path(n, id, sizeof(id));
	}
	gen = fs->gen;
	pthread_mutex_unlock(&fs->lock);
	if (err) {
		ecfs_reply_err(req, err);
		return;
	}
	/* A directory's times follow its backing directory; an entry's
	 * attributes never change for its node (but while it is written). */
	if (is_dir && ec_store_stat_dir(fs->store, id, &st) != 0)
		is_dir = false;	/* gone: answer what we knew */
	pthread_mutex_lock(&fs->lock);
	if (is_dir && n->key.dev == (uint64_t)st.st_dev &&
	    n->key.ino == (uint64_t)st.st_ino)
		ec_fsmeta_key_of(&n->key, &st);
	ec_present_attr(fs, n, &a);
	t = ec_present_timeout(fs, n, ec_clock_now_us(), gen == fs->gen &&
			 (n->is_dir ? ecfs_watched(fs, n) : true) &&
			 (!n->parent || ecfs_watched(fs, n->parent)));
	if (has_own && !n->is_dir) {
		ec_attr_set_size(&a, own);
		t = 0;
	}
	pthread_mutex_unlock(&fs->lock);
	fuse_reply_attr(req, &a, t);
}

/* h found a version other than its node's at open: a reader then reads
 * it directly (the kernel's size and pages are the node's), and the name
 * gets a new node for the version on disk, unless handles follow n. */
static void open_other(struct ecfs *fs, struct handle *h)
{
	struct node *n = h->node;
	fuse_ino_t pino = 0;
	char *name = NULL;

	pthread_mutex_lock(&fs->lock);
	if (h->cached) {
		n->ncached--;
		h->cached = false;
	}
	if (n->hashed && n->parent && !ec_node_holds_name(n)) {
		ec_node_unhash(&fs->nodes, n);
		pino = n->parent->ino;
		name = strdup(n->name);
	}
	pthread_mutex_unlock(&fs->lock);
	if (name)
		(void)ec_inval_queue(fs, pino, name, 0, false);
	free(name);
}

void ecfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ecfs *fs = ecfs_of(req);
	bool wr = (fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC);
	char id[PATH_MAX];
	struct ec_fsmeta_key want;
	struct handle *h = NULL;
	struct node *n;
	bool pending = false, fresh_pages = false;
	int err;

	if (wr && fs->ro) {
		ecfs_reply_err(req, -EROFS);
		return;
	}
	pthread_mutex_lock(&fs->lock);
	n = ec_node_get(&fs->nodes, ino);
	if (!n)
		err = -ENOENT;
	else if (n->is_dir)
		err = -EISDIR;
	else if (n->pending && (n->unlinked || n->nopen == 0))
		err = -ENOENT;	/* its creator closed it unsaved */
	else if (wr && n->ncached) {
		/* The kernel's inode is shared by all handles: its size, which
		 * bounds page-cache reads, and its cached pages.  A writer
		 * changes both (O_TRUNC, saves), so it never shares an inode
		 * with a snapshot through the page cache: the name gets a new
		 * node (same version), and ESTALE makes the kernel look it up
		 * again and retry the open on that one. */
		ec_node_unhash(&fs->nodes, n);
		err = -ESTALE;
	} else
		err = ec_node_path(n, id, sizeof(id));
	if (!err) {
		want = n->key;
		pending = n->pending;
		h = ec_handle_new(n, wr);
		if (!h)
			err = -ENOMEM;
		else
			ec_handle_pin(h);
	}
	pthread_mutex_unlock(&fs->lock);
	if (err) {
		ecfs_reply_err(req, err);
		return;
	}

	if (pending) {
		/* Not saved yet: empty for everyone but its writers; one that
		 * truncates it is saved at release, as at any O_TRUNC. */
		h->ready = true;
		if (wr) {
			ec_handle_set_view(fs, h, false, false);
			h->append = (fi->flags & O_APPEND) != 0;
			if (fi->flags & O_TRUNC)
				ec_handle_changed(fs, h);
		}
	} else {
		err = ec_handle_open(fs, h, id, &want, fi->flags);
		if (err == -ENOENT && fs->net)
			/* On a shared store the name looked up a moment ago
			 * can be gone for an instant while another client
			 * renames a new version over it: ESTALE has the
			 * kernel look the name up again and retry the open
			 * once (creating the file for O_CREAT), as it does for
			 * an NFS client's stale handle. */
			err = -ESTALE;
		if (err)
			goto fail;
		if (wr && (fi->flags & O_TRUNC))
			ec_handle_changed(fs, h);
		if (h->other && !wr)
			open_other(fs, h);
	}
	if (h->cached) {
		/* A save through the node since its pages were cached: let
		 * the kernel drop them now (it does without keep_cache). */
		pthread_mutex_lock(&fs->lock);
		fresh_pages = n->pages_old;
		n->pages_old = false;
		pthread_mutex_unlock(&fs->lock);
	}
	fi->fh = (uintptr_t)h;
	if (h->cached)
		fi->keep_cache = !fresh_pages;
	else
		fi->direct_io = 1;	/* see struct handle */
	/* A reader's close has nothing to save (ecfs_flush): the kernel
	 * need not ask, one round trip less per open (FOPEN_NOFLUSH). */
	fi->noflush = !wr;
	if (fuse_reply_open(req, fi) != 0) {
		ec_handle_unpin(fs, h);
		ec_handle_free(h);
	}
	return;
fail:
	ec_handle_unpin(fs, h);
	ec_handle_free(h);
	ecfs_reply_err(req, err);
}

void ecfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	struct ecfs *fs = ecfs_of(req);
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	const uint8_t *src;
	uint8_t *copy = NULL;
	size_t len;
	int err;

	(void)ino;
	pthread_mutex_lock(&h->lock);
	err = ec_handle_render(fs, h, off == 0);
	h->served = true;
	if (err) {
		pthread_mutex_unlock(&h->lock);
		ecfs_reply_err(req, err);
		return;
	}
	src = h->writable ? h->buf.p : h->data;
	len = h->writable ? h->buf.len : h->len;
	if (off < 0 || (uint64_t)off >= len)
		size = 0;
	else if (size > len - (size_t)off)
		size = len - (size_t)off;
	if ((h->writable || h->live) && size) {
		/* buf may be reallocated by a write meanwhile (a live
		 * reader's data by a reload), and h must not be touched once
		 * the reply is out (release may free it): reply from a copy. */
		copy = ec_secure_alloc(size);
		if (copy)
			memcpy(copy, src + off, size);
		src = copy;
		off = 0;
	}
	/* A snapshot's data and len do not change once ready. */
	pthread_mutex_unlock(&h->lock);
	if (h->cached && off >= 0 && (uint64_t)off + size >= len) {
		/* Read to its end: its pages are likely all cached now. */
		pthread_mutex_lock(&fs->lock);
		h->node->pages_full = true;
		h->node->pages_digest = h->digest;
		pthread_mutex_unlock(&fs->lock);
	}
	ecfs_count(&fs->stats, EC_FSSTAT_BYTES_READ, size);
	if (size && !src)
		ecfs_reply_err(req, -ENOMEM);
	else
		fuse_reply_buf(req, size ? (const char *)src + off : NULL,
			       size);
	ec_secure_free(copy);
}

void ecfs_opendir(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	struct ecfs *fs = ecfs_of(req);
	struct dirh *dh;
	struct node *n;
	int err = 0;

	pthread_mutex_lock(&fs->lock);
	n = ec_node_get(&fs->nodes, ino);
	if (!n)
		err = -ENOENT;
	else if (!n->is_dir)
		err = -ENOTDIR;
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
	if (fuse_reply_open(req, fi) != 0)
		free(dh);
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

void ecfs_readdir_quiesce(void)
{
	__atomic_store_n(&pf_shutdown, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(&pf_running, __ATOMIC_ACQUIRE) > 0)
		sched_yield();
}

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
	fuse_ino_t ino, dotdot;
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
	e.attr.st_ino = i ? r->dotdot : r->ino;
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
		is_dir = ec_store_stat_dir(fs->store, id, &st) == 0;
		if (!is_dir && ec_store_stat_entry(fs->store, id, &st) != 0)
			return true;
	}
	if (!is_dir && (ec_present_meta(fs, id, &st, r->now, &key, &mi) != 0 ||
			!ec_present_shown(fs, &mi, r->now)))
		return true;
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
		r.dotdot = d->parent ? d->parent->ino : d->ino;
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
	pf_stop(dh);
	snap_clear(dh);
	free(dh->v);
	free(dh);
	ecfs_reply_err(req, 0);
}

void ecfs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct ecfs *fs = ecfs_of(req);
	struct statvfs sv;
	int err;

	(void)ino;
	err = ec_store_statvfs(fs->store, &sv);
	if (err) {
		ecfs_reply_err(req, err);
		return;
	}
	/* Names shown are shorter than the backing ones by the suffix. */
	if (sv.f_namemax > fs->store->suffix_len)
		sv.f_namemax -= fs->store->suffix_len;
	fuse_reply_statfs(req, &sv);
}
