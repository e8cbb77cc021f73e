/*
 * ops_read: the read side of the mount: lookup, forget, getattr, open,
 * read, statfs (directory listings: ops_dir.c).
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

void ecfs_init(void *userdata, struct fuse_conn_info *conn)
{
	struct ecfs *fs = userdata;

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
	/* The kernel keeps the lower of this and its own read-ahead, which
	 * main.c raised to the same before INIT (see set_readahead). */
	if (fs->readahead_kb)
		conn->max_readahead = fs->readahead_kb * 1024u;
	/* A read-only mount of a watched local store: opens and closes cost
	 * no message (inoread.h). */
	if (fs->inoread && (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT)) {
		conn->want |= FUSE_CAP_NO_OPEN_SUPPORT;
		fs->no_open = true;
	}
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

int ec_ops_reply_dir(fuse_req_t req, struct ecfs *fs, fuse_ino_t parent,
		     const char *name, const char *id, const struct stat *st,
		     int64_t now, uint64_t gen)
{
	struct fuse_entry_param e;
	struct node *p, *n;

	pthread_mutex_lock(&fs->lock);
	p = ec_node_get(&fs->nodes, parent);	/* pinned by the kernel */
	n = p ? ec_present_dir_node(fs, p, name, id, st) : NULL;
	if (!n) {
		pthread_mutex_unlock(&fs->lock);
		return -ENOMEM;
	}
	n->nlookup++;
	ec_present_entry(fs, n, now, ecfs_watched(fs, p) &&
			 ecfs_watched(fs, n) && gen == fs->gen, &e);
	pthread_mutex_unlock(&fs->lock);
	ecfs_reply_entry_node(req, fs, n, &e);
	return 0;
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
	if (!known || ec_store_stat_known(fs->store, id, &st) != 0)
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
		err = ec_ops_reply_dir(req, fs, parent, name, id, &st, now,
				       gen);
		if (err)
			goto fail;
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
	/* The kernel forgets an inode when it evicts it: no read of it
	 * follows. */
	if (fs->inoread)
		ec_inoread_forget(fs->inoread, ino);
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
	for (i = 0; fs->inoread && i < count; i++)
		ec_inoread_forget(fs->inoread, forgets[i].ino);
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

/* n's name, just unhashed for a writer that n's snapshot readers turned
 * away, gets its node for the writer's retry now (same version).  Without
 * memory the lookup makes one as usual.  Lock held. */
static void renamed_for_writer(struct ecfs *fs, const struct node *n)
{
	struct node *m;

	if (!n->parent || ec_node_child(&fs->nodes, n->parent, n->name))
		return;
	m = ec_node_new(&fs->nodes, n->parent, n->name, false);
	if (!m)
		return;
	m->key = n->key;
	m->info = n->info;
	m->writer_due = true;
	ec_node_identify(&fs->nodes, m);	/* n's st_ino (E949) */
}

/*
 * A snapshot whose content is at hand at its open (decrypted a moment ago
 * by the lookup or listing that found it: recent.h) goes into the
 * kernel's page cache before the reply (FUSE_NOTIFY_STORE, up to the
 * content's end, which is the size the kernel knows: every page is then
 * up to date), so that the read which follows is served there instead of
 * a READ round trip; the open's keep_cache keeps the pages.
 *
 * Only for a node that never took another version in place
 * (node->reversioned): the kernel's size and pages for it are then this
 * version's, and stay right for as long as the kernel keeps them.
 * Storing a shorter version over a page the kernel holds of a longer
 * one, under the longer one's size, leaves that one's tail readable
 * (mount_gluster read "overwrite 17nt"); not on a shared store either
 * (fs->push, main.c).  Not with -s: the store waits for the folios it
 * fills, which another reader's read-ahead may hold while its READ waits
 * for the one thread; with the multi-threaded loop another thread serves
 * that READ.  Up to EC_PUSH_MAX: a bigger content is read by the
 * kernel's read-ahead, several requests at once.
 */
#define EC_PUSH_MAX ((size_t)256 << 10)

static void push_pages(struct ecfs *fs, struct handle *h, fuse_ino_t ino)
{
	struct fuse_bufvec bv = FUSE_BUFVEC_INIT(h->len);
	bool known, reversioned;
	int err;

	if (!fs->push || !h->cached || h->writable || h->other ||
	    !h->ready || !h->data || h->len == 0 || h->len > EC_PUSH_MAX)
		return;
	pthread_mutex_lock(&fs->lock);
	known = h->node->pages_full && !h->node->pages_old &&
		h->node->pages_digest == h->digest;
	reversioned = h->node->reversioned;
	pthread_mutex_unlock(&fs->lock);
	if (known || reversioned)
		return;		/* the kernel most likely holds them, or may
				   hold another version's (a shorter one's
				   store would leave its tail in a page) */
	bv.buf[0].mem = h->data;
	err = fuse_lowlevel_notify_store(fs->se, ino, 0, &bv, 0);
	if (err) {
		fuse_log(FUSE_LOG_DEBUG, "enccachefs: storing %zu bytes of "
			 "inode %llu in the page cache: %s\n", h->len,
			 (unsigned long long)ino, ec_strerror(err));
		return;
	}
	/* As a read to the end (ecfs_read) would: later opens of the
	 * version may read nothing (handle.c). */
	ec_handle_read_end(fs, h);
	ecfs_count(&fs->stats, EC_FSSTAT_BYTES_READ, h->len);
	ecfs_count(&fs->stats, EC_FSSTAT_PREFILLED, 1);
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
	if (fs->no_open) {
		/* The kernel takes it as success, for this open and every
		 * later one: reads come by inode (inoread.h). */
		ecfs_reply_err(req, -ENOSYS);
		return;
	}
	pthread_mutex_lock(&fs->lock);
	err = ec_node_get_file(&fs->nodes, ino, &n);
	if (!err && n->pending && (n->unlinked || n->nopen == 0))
		err = -ENOENT;	/* its creator closed it unsaved */
	else if (!err && wr && n->ncached) {
		/* The kernel's inode is shared by all handles: its size, which
		 * bounds page-cache reads, and its cached pages.  A writer
		 * changes both (O_TRUNC, saves), so it never shares an inode
		 * with a snapshot through the page cache: the name gets a new
		 * node (same version), and ESTALE makes the kernel look it up
		 * again and retry the open on that one, once.  The new node
		 * is made here, writer_due: a reader that opens it before
		 * the writer's retry reads it live, so the retry cannot meet
		 * a snapshot again (mount_stress saw ESTALE reach open(2)). */
		ec_node_unhash(&fs->nodes, n);
		renamed_for_writer(fs, n);
		err = -ESTALE;
	} else if (!err)
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
		/* A big content kept from the lookup (recent.h) is of the
		 * version this open truncates: freed now, not beside the
		 * writer's data until it ages out (twice the entry). */
		if (wr && (fi->flags & O_TRUNC) && fs->contents)
			ec_recent_drop_big(fs->contents, &want);
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
	if (h->cached && !fresh_pages)
		push_pages(fs, h, ino);
	if (h->cached)
		fi->keep_cache = !fresh_pages;
	else
		fi->direct_io = 1;	/* see struct handle */
	/* A reader's close has nothing to save (ecfs_flush): the kernel
	 * need not ask, one round trip less per open (FOPEN_NOFLUSH, which
	 * libfuse passes on from 3.11). */
#if FUSE_VERSION >= FUSE_MAKE_VERSION(3, 11)
	fi->noflush = !wr;
#endif
	ec_handle_track(h);
	if (fuse_reply_open(req, fi) != 0) {
		ec_handle_untrack(h);
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

	if (!h) {	/* opened without a message (inoread.h) */
		ec_inoread_read(fs->inoread, req, ino, size, off);
		return;
	}
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
		ec_handle_read_end(fs, h);
	}
	ecfs_count(&fs->stats, EC_FSSTAT_BYTES_READ, size);
	if (size && !src)
		ecfs_reply_err(req, -ENOMEM);
	else
		fuse_reply_buf(req, size ? (const char *)src + off : NULL,
			       size);
	ec_secure_free(copy);
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

/*
 * access(2) and chdir(2), asked only without default_permissions, that
 * is when every process that gets in owns everything (ec_conf_fuse_opts
 * in conf.c): as the kernel would judge the 0600 files and 0700
 * directories shown, a file is not executable, nothing else is refused
 * (writing to a read-only mount is, by the kernel, before it asks).
 */
void ecfs_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct ecfs *fs = ecfs_of(req);
	bool is_dir;
	int err = ecfs_node_kind(fs, ino, &is_dir);

	if (!err && (mask & X_OK) && !is_dir)
		err = -EACCES;
	else if (!err && (mask & W_OK) && fs->ro)
		err = -EROFS;
	ecfs_reply_err(req, err);
}
