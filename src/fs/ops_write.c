/*
 * ops_write: the write side of the mount: write, flush, release, fsync,
 * setattr, create, mkdir, unlink, rmdir (rename: ops_rename.c), and the
 * operations that are refused (mknod, symlink, link, fallocate).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "clear.h"
#include "handle.h"
#include "ops.h"
#include "replace.h"
#include "startup.h"
#include "ttl.h"

void ecfs_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		       size_t size, off_t off, struct fuse_file_info *fi)
{
	struct ecfs *fs = ecfs_of(req);
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	size_t pos;
	int err;

	(void)ino;
	if (!h || !h->writable) {	/* (no handle: inoread.h) */
		ecfs_reply_err(req, -EBADF);
		return;
	}
	pthread_mutex_lock(&h->lock);
	err = ec_handle_render(fs, h, false);
	if (err)
		goto out;
	/* O_APPEND: at the end of the content, whatever the kernel's idea
	 * of the file size is. */
	pos = h->append ? h->buf.len : (size_t)off;
	if (off < 0) {
		err = -EINVAL;
	} else if (size == 0) {
		err = 0;
	} else if (pos > EC_WRITE_MAX || size > EC_WRITE_MAX - pos) {
		err = -EFBIG;
	} else {
		if (pos + size > h->buf.len)
			err = ec_sbuf_resize(&h->buf, pos + size);
		if (!err) {
			memcpy(h->buf.p + pos, buf, size);
			h->written = true;
			ec_handle_changed(fs, h);
		}
	}
out:
	pthread_mutex_unlock(&h->lock);
	if (err) {
		ecfs_reply_err(req, err);
	} else {
		ecfs_count(&fs->stats, EC_FSSTAT_BYTES_WRITTEN, size);
		fuse_reply_write(req, size);
	}
}

/*
 * A save of h failed with err (the entry is left as it was): say so at
 * warning level, where a person looks, and count it.  close() returns
 * err too, but a shell ignores that for a redirection (bash's builtin
 * echo), so this log line may be all anybody sees.
 */
static void save_failed(struct ecfs *fs, struct handle *h, int err)
{
	char id[PATH_MAX], shown[PATH_MAX], text[EC_STARTUP_ERRTEXT_MAX];
	const char *why = ec_startup_errtext(err, text, sizeof(text));
	bool json = h->wview == EC_VIEW_JSON ||
		    (h->wview == EC_VIEW_AUTO && h->wbplist);

	ecfs_count(&fs->stats, EC_FSSTAT_FAILED_SAVES, 1);
	pthread_mutex_lock(&fs->lock);
	if (ec_node_path(h->node, id, sizeof(id)) != 0)
		strcpy(id, "?");
	pthread_mutex_unlock(&fs->lock);
	if (err == -EINVAL && json)
		why = "not JSON that a plist can hold (the entry is shown as "
		      "JSON)";
	else if (err == -EINVAL && h->wview == EC_VIEW_XML)
		why = "not an XML plist";
	ec_fs_printable(id, shown, sizeof(shown));
	fuse_log(FUSE_LOG_WARNING, PROG ": cannot save '%s': %s; the entry "
		 "is left as it was\n", shown, why);
}

/* Note how h's save went (h->lock held), saying why when it failed. */
static void save_done(struct ecfs *fs, struct handle *h, int err)
{
	h->save_failed = err != 0;
	if (err)
		save_failed(fs, h, err);
}

/*
 * Every close(2) of a file descriptor: a handle with unsaved writes saves
 * here, so that the new version is on disk (and shown) when close()
 * returns, and a failure is its return value.
 *
 * A handle that was only created or truncated (O_TRUNC), and neither
 * written nor resized since, saves at release instead (after the last
 * close; asynchronous, nobody waits for it).  For `echo x > file` a shell
 * opens the file, duplicates the descriptor and closes the original
 * before anything is written: saving the empty content at that close
 * would show readers (the Python module) an empty entry in between.
 */
void ecfs_flush(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct ecfs *fs = ecfs_of(req);
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	int err = 0;

	(void)ino;
	if (!h) {
		/* Opened without a message (inoread.h): nothing to save, and
		 * ENOSYS tells the kernel to send no more flushes. */
		ecfs_reply_err(req, -ENOSYS);
		return;
	}
	if (h->writable) {
		pthread_mutex_lock(&h->lock);
		if (ec_handle_flush_due(fs, h))
			err = ec_handle_save(fs, h, fs->sync);
		save_done(fs, h, err);
		pthread_mutex_unlock(&h->lock);
	}
	ecfs_reply_err(req, err);
}

/*
 * Release h (untracked).  Dirty and written: its last save failed, and
 * close() said so.  Dirty only: created or truncated, to be saved now
 * (see flush).  At the unmount (unmounting: a release that never came),
 * a handle written since its last save that no close reached saves too,
 * unless its last save failed: what a write was told it wrote is not
 * dropped.
 */
static void release_handle(struct ecfs *fs, struct handle *h,
			   bool unmounting)
{
	if (h->writable && h->dirty &&
	    (!h->written || (unmounting && !h->save_failed))) {
		pthread_mutex_lock(&h->lock);
		save_done(fs, h, ec_handle_save(fs, h, fs->sync));
		pthread_mutex_unlock(&h->lock);
	}
	ec_handle_unpin(fs, h);
	ec_handle_free(h);
}

void ecfs_release(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	struct ecfs *fs = ecfs_of(req);
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;

	(void)ino;
	if (!h) {	/* the kernel sends none without an open; still */
		ecfs_reply_err(req, 0);
		return;
	}
	ec_handle_untrack(h);
	release_handle(fs, h, false);
	ecfs_reply_err(req, 0);
}

void ecfs_release_unreleased(struct ecfs *fs)
{
	struct handle *h;

	while ((h = ec_handle_untrack_any()) != NULL)
		release_handle(fs, h, true);
}

/* fsync: a dirty handle saves durably; otherwise the entry on disk (and
 * its directory) is made durable. */
void ecfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		       struct fuse_file_info *fi)
{
	struct ecfs *fs = ecfs_of(req);
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	char id[PATH_MAX];
	struct node *n;
	bool skip;
	int err = 0;

	(void)datasync;
	if (h && h->writable) {
		pthread_mutex_lock(&h->lock);
		if (h->dirty) {
			err = ec_handle_save(fs, h, true);
			save_done(fs, h, err);
			pthread_mutex_unlock(&h->lock);
			ecfs_reply_err(req, err);
			return;
		}
		pthread_mutex_unlock(&h->lock);
	}
	pthread_mutex_lock(&fs->lock);
	/* (No handle: opened without a message, inoread.h.) */
	n = h ? h->node : ec_node_get(&fs->nodes, ino);
	skip = !n || n->pending || n->unlinked ||
	       ec_node_path(n, id, sizeof(id)) != 0;
	pthread_mutex_unlock(&fs->lock);
	if (!skip)
		err = ec_store_sync(fs->store, id);
	if (err == -ENOENT)
		err = 0;	/* removed meanwhile: nothing to sync */
	ecfs_reply_err(req, err);
}

/* The directory part of id ("" at the root) into dir[PATH_MAX]. */
static void parent_of(const char *id, char *dir)
{
	const char *slash = strrchr(id, '/');
	size_t n = slash ? (size_t)(slash - id) : 0;

	memcpy(dir, id, n);
	dir[n] = '\0';
}

/* With -o sync, make a change of names in id's directory durable. */
int ec_ops_sync_parent(struct ecfs *fs, const char *id)
{
	char dir[PATH_MAX];

	if (!fs->sync)
		return 0;
	parent_of(id, dir);
	return ec_store_sync_dir(fs->store, dir);
}

/* chown(2)'s rule for the owner, as the kernel applies it with
 * default_permissions (without it, ec_conf_fuse_opts, only the owner
 * gets here): only root gives a file away; the group may become one of
 * the caller's own.  -EPERM. */
static int chown_allowed(fuse_req_t req, const struct ecfs *fs,
			 const struct stat *attr, int to_set)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	gid_t groups[64];
	int i, n;

	if (ctx->uid == 0)
		return 0;
	if ((to_set & FUSE_SET_ATTR_UID) && attr->st_uid != fs->uid)
		return -EPERM;
	if (!(to_set & FUSE_SET_ATTR_GID) || attr->st_gid == fs->gid ||
	    attr->st_gid == ctx->gid)
		return 0;
	n = fuse_req_getgroups(req, 64, groups);
	for (i = 0; i < n && i < 64; i++)
		if (groups[i] == attr->st_gid)
			return 0;
	return -EPERM;
}

void ecfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			 int to_set, struct fuse_file_info *fi)
{
	struct ecfs *fs = ecfs_of(req);
	struct handle *h = fi ? (struct handle *)(uintptr_t)fi->fh : NULL;
	char id[PATH_MAX];
	struct stat a;
	struct node *n;
	size_t own = 0;
	bool is_dir = false, has_own;
	int err;

	if (fs->ro) {
		ecfs_reply_err(req, -EROFS);
		return;
	}
	pthread_mutex_lock(&fs->lock);
	n = ec_node_get(&fs->nodes, ino);
	if (!n) {
		err = -ENOENT;
	} else {
		is_dir = n->is_dir;
		err = ec_node_path(n, id, sizeof(id));
	}
	pthread_mutex_unlock(&fs->lock);
	if (err)
		goto out;
	/* Modes and owners are fixed (0600/0700, fs->uid/gid): a change is
	 * accepted and ignored, so that cp -p, rsync -a, tar and mv work,
	 * as vfat's quiet and bindfs' --chmod-ignore do; strict_perms
	 * refuses it instead.  What the caller may not ask is refused, by
	 * the kernel (default_permissions) or, without it, here. */
	err = chown_allowed(req, fs, attr, to_set);
	if (err)
		goto out;
	if (fs->strict_perms &&
	    (((to_set & FUSE_SET_ATTR_UID) && attr->st_uid != fs->uid) ||
	     ((to_set & FUSE_SET_ATTR_GID) && attr->st_gid != fs->gid) ||
	     ((to_set & FUSE_SET_ATTR_MODE) && (attr->st_mode & 07077)))) {
		err = -EPERM;
		goto out;
	}
	if (is_dir) {
		/* A directory keeps its backing times. */
		h = NULL;	/* (a directory's fh is not a handle) */
		if (to_set & FUSE_SET_ATTR_SIZE)
			err = -EISDIR;
		goto out;
	}
	if (h && !h->writable)
		h = NULL;	/* futimens on a read-only descriptor */
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (attr->st_size < 0) {
			err = -EINVAL;
		} else if ((uint64_t)attr->st_size > EC_WRITE_MAX) {
			err = -EFBIG;
		} else if (h) {
			pthread_mutex_lock(&h->lock);
			err = ec_handle_render(fs, h, false);
			if (!err)
				err = ec_sbuf_resize(&h->buf,
						     (size_t)attr->st_size);
			if (!err) {
				h->written = true;
				ec_handle_changed(fs, h);
			}
			pthread_mutex_unlock(&h->lock);
		} else {
			err = ec_handle_truncate_path(fs, n, id, (size_t)attr->st_size);
		}
		if (err)
			goto out;
	}
	/* mtime is created_at; atime is not kept.  touch (no time given)
	 * refreshes the entry; an explicit time is what copy tools send
	 * (cp -p, rsync -t, tar: the source's age), and is ignored unless
	 * set_times asks: setfattr user.enccache.created_at sets one on
	 * purpose. */
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		err = ec_meta_set_created(fs, n, ec_clock_now_us());
	else if ((to_set & FUSE_SET_ATTR_MTIME) && fs->set_times)
		err = ec_meta_set_created(fs, n, ec_us_of_ts(&attr->st_mtim));
	else if (to_set & FUSE_SET_ATTR_MTIME)
		/* Ignored, but a file being created (touch -d of a new
		 * name) is saved at its close then, not at the release that
		 * follows: it exists on disk when touch returns. */
		err = ec_meta_set_created(fs, n, EC_TIME_NOW_IF_PENDING);
out:
	if (err) {
		ecfs_reply_err(req, err);
		return;
	}
	has_own = ec_handle_length(h, &own);
	pthread_mutex_lock(&fs->lock);
	ec_present_attr(fs, n, &a);
	if (!is_dir && !n->ndirty && n->next_created_us != EC_TIME_NONE)
		a.st_mtim = ec_ts_of_us(n->next_created_us);
	pthread_mutex_unlock(&fs->lock);
	if (has_own)
		ec_attr_set_size(&a, own);
	fuse_reply_attr(req, &a, 0);
}

void ecfs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		       mode_t mode, dev_t rdev)
{
	(void)parent;
	(void)name;
	(void)mode;
	(void)rdev;
	/* Only entries (create) and directories exist here. */
	ecfs_reply_err(req, ecfs_of(req)->ro ? -EROFS : -EPERM);
}

/* The parent node and the id of name under it (the lock is taken and
 * released).  -ENOENT, -ENOTDIR, -ENAMETOOLONG. */
int ec_ops_child_id(struct ecfs *fs, fuse_ino_t parent, const char *name,
		    char *id)
{
	struct node *p;
	int err;

	pthread_mutex_lock(&fs->lock);
	p = ec_node_get(&fs->nodes, parent);
	if (!p)
		err = -ENOENT;
	else if (!p->is_dir)
		err = -ENOTDIR;
	else
		err = ec_node_child_path(p, name, id, PATH_MAX);
	pthread_mutex_unlock(&fs->lock);
	return err;
}

void ecfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		       mode_t mode)
{
	struct ecfs *fs = ecfs_of(req);
	char id[PATH_MAX];
	struct stat st;
	uint64_t gen;
	int err;

	(void)mode;	/* directories are 0700 */
	if (fs->ro) {
		ecfs_reply_err(req, -EROFS);
		return;
	}
	err = ec_ops_child_id(fs, parent, name, id);
	if (err)
		goto fail;
	pthread_mutex_lock(&fs->lock);
	gen = fs->gen;
	pthread_mutex_unlock(&fs->lock);
	err = ec_store_mkdir(fs->store, id);
	if (!err)
		err = ec_ops_sync_parent(fs, id);
	if (!err)
		err = ec_store_stat_dir(fs->store, id, &st);
	if (!err)
		err = ec_ops_reply_dir(req, fs, parent, name, id, &st,
				       ec_clock_now_us(), gen);
	if (!err)
		return;
fail:
	ecfs_reply_err(req, err);
}

void ecfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct ecfs *fs = ecfs_of(req);
	char id[PATH_MAX];
	struct node *p, *n;
	bool pending = false;
	int err;

	if (fs->ro) {
		ecfs_reply_err(req, -EROFS);
		return;
	}
	pthread_rwlock_wrlock(&fs->ns);	/* no save lands meanwhile */
	err = ec_ops_child_id(fs, parent, name, id);
	if (err)
		goto out;
	pthread_mutex_lock(&fs->lock);
	p = ec_node_get(&fs->nodes, parent);
	n = p ? ec_node_child(&fs->nodes, p, name) : NULL;
	pending = n && ec_node_live_pending(n);
	pthread_mutex_unlock(&fs->lock);
	err = ec_cache_remove(fs->cache, id);
	if (err == -ENOENT && pending)
		err = 0;	/* never saved: nothing on disk */
	if (err)
		goto out;
	pthread_mutex_lock(&fs->lock);
	p = ec_node_get(&fs->nodes, parent);
	n = p ? ec_node_child(&fs->nodes, p, name) : NULL;
	if (n && !n->is_dir)
		ec_node_unlinked(&fs->nodes, n);	/* nothing saves it */
	pthread_mutex_unlock(&fs->lock);
	err = ec_ops_sync_parent(fs, id);
out:
	pthread_rwlock_unlock(&fs->ns);
	ecfs_reply_err(req, err);
}

void ecfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct ecfs *fs = ecfs_of(req);
	char id[PATH_MAX];
	struct node *p, *n;
	int err;

	if (fs->ro) {
		ecfs_reply_err(req, -EROFS);
		return;
	}
	pthread_rwlock_wrlock(&fs->ns);	/* no file is created meanwhile */
	err = ec_ops_child_id(fs, parent, name, id);
	if (!err) {
		/* A file being created in it makes it not empty. */
		pthread_mutex_lock(&fs->lock);
		p = ec_node_get(&fs->nodes, parent);
		n = p ? ec_node_child(&fs->nodes, p, name) : NULL;
		if (n && n->is_dir && ec_node_has_pending_child(&fs->nodes, n))
			err = -ENOTEMPTY;
		pthread_mutex_unlock(&fs->lock);
	}
	/* What looks empty may still hold hidden envelopes and temp files:
	 * the stale ones and ours go with the directory; envelopes that
	 * are not ours to judge, and other files, keep it (ENOTEMPTY). */
	if (!err) {
		err = ec_store_rmdir(fs->store, id);
		if (err == -ENOTEMPTY) {
			err = ec_clear_dir(fs, id);
			if (!err)
				err = ec_store_rmdir(fs->store, id);
		}
	}
	if (err)
		goto out;
	pthread_mutex_lock(&fs->lock);
	p = ec_node_get(&fs->nodes, parent);
	n = p ? ec_node_child(&fs->nodes, p, name) : NULL;
	if (n && n->is_dir)
		ec_node_unhash(&fs->nodes, n);
	pthread_mutex_unlock(&fs->lock);
	err = ec_ops_sync_parent(fs, id);
out:
	pthread_rwlock_unlock(&fs->ns);
	ecfs_reply_err(req, err);
}

void ecfs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
			 const char *name)
{
	(void)link;
	(void)parent;
	(void)name;
	ecfs_reply_err(req, ecfs_of(req)->ro ? -EROFS : -EPERM);
}

void ecfs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		      const char *newname)
{
	(void)ino;
	(void)newparent;
	(void)newname;
	ecfs_reply_err(req, ecfs_of(req)->ro ? -EROFS : -EPERM);
}

/*
 * create: open(O_CREAT) of a name the kernel found absent.  The new entry
 * is pending (see struct node) until its first save at close, so that
 * nobody (the Python module least of all) ever sees it empty or half
 * written; an envelope that is not shown (stale, invalid) is replaced
 * then.  If a valid entry has appeared meanwhile, it is opened (EEXIST
 * with O_EXCL).
 */
/* The node create opens for writing under p (fs->lock held): the
 * entry's (a node of its own when snapshots hold it: see ecfs_open), a
 * file being created already, or a new pending one (*fresh). */
static struct node *create_node(struct ecfs *fs, struct node *p,
				const char *name, bool exists,
				const struct ec_fsmeta_key *key,
				const struct ec_fsmeta_info *mi, int64_t now,
				int flags, bool *fresh, int *err)
{
	struct node *n;

	if (exists) {
		n = ec_present_file_node(fs, p, name, key, mi);
		if (n && n->ncached) {
			ec_node_unhash(&fs->nodes, n);
			n = ec_node_new(&fs->nodes, p, name, false);
			if (n) {
				n->key = *key;
				n->info = *mi;
				ec_node_identify(&fs->nodes, n);
			}
		}
		return n;
	}
	n = ec_node_child(&fs->nodes, p, name);
	if (n && ec_node_live_pending(n)) {
		if (flags & O_EXCL)
			*err = -EEXIST;
		return n;
	}
	if (n)
		ec_node_unhash(&fs->nodes, n);
	n = ec_node_new(&fs->nodes, p, name, false);
	if (n) {
		n->pending = true;
		n->info.state = EC_STATE_VALID;
		n->info.created_us = now;
		n->info.expires_us = EC_TIME_NEVER;
		*fresh = true;
	}
	return n;
}

/* Undo what create did to n for h (the open failed, or its reply). */
static void create_undo(struct ecfs *fs, struct node *n, struct handle *h)
{
	ec_handle_untrack(h);
	ec_handle_unpin(fs, h);
	ec_handle_free(h);
	pthread_mutex_lock(&fs->lock);
	n->nlookup--;
	ec_node_put(&fs->nodes, n);
	pthread_mutex_unlock(&fs->lock);
}

/*
 * A new file's attributes are exactly known: it is empty, and only
 * handles through this mount change it.  Its name stays uncached (a
 * pending node may vanish), but the kernel may keep its attributes a
 * moment, which spares the GETATTR that open's permission check
 * (default_permissions) would send right after the create.  They stay
 * true: the kernel itself drops size and times at each write and takes
 * a truncate's from its reply; a save with no write through the kernel
 * (a file created and closed empty) has them dropped (handle_save.c).
 * At most EC_CREATE_ATTR_S, whatever cache_timeout is.  Lock held.
 */
#define EC_CREATE_ATTR_S 1.0
static void create_attr_timeout(const struct ecfs *fs, struct node *n,
				bool fresh, struct fuse_entry_param *e)
{
	if (!fresh || !n->pending || fs->timeout <= 0)
		return;
	e->attr_timeout = fs->timeout < EC_CREATE_ATTR_S ? fs->timeout :
			  EC_CREATE_ATTR_S;
	n->attrs_given = true;
}

void ecfs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		 mode_t mode, struct fuse_file_info *fi)
{
	struct ecfs *fs = ecfs_of(req);
	char id[PATH_MAX];
	struct fuse_entry_param e;
	struct ec_fsmeta_key key, want;
	struct ec_fsmeta_info mi;
	struct handle *h = NULL;
	struct node *p, *n = NULL;
	struct stat st;
	bool exists, fresh = false;
	int64_t now;
	int err;

	(void)mode;	/* files are 0600 */
	if (fs->ro) {
		ecfs_reply_err(req, -EROFS);
		return;
	}
	/* The name stays what it is found to be until the node is made. */
	pthread_rwlock_rdlock(&fs->ns);
	err = ec_ops_child_id(fs, parent, name, id);
	if (!err && strlen(name) + fs->store->suffix_len > NAME_MAX)
		err = -ENAMETOOLONG;
	if (err)
		goto fail;
	now = ec_clock_now_us();
	if (ec_store_stat_dir(fs->store, id, &st) == 0) {
		err = (fi->flags & O_EXCL) ? -EEXIST : -EISDIR;
		goto fail;
	}
	err = ec_present_meta(fs, id, NULL, now, &key, &mi);
	if (err == -EISDIR)
		goto fail;	/* a directory named like the envelope */
	exists = !err && ec_present_shown(fs, &mi, now);
	if (exists && (fi->flags & O_EXCL)) {
		err = -EEXIST;
		goto fail;
	}
	err = 0;
	pthread_mutex_lock(&fs->lock);
	p = ec_node_get(&fs->nodes, parent);
	if (p)
		n = create_node(fs, p, name, exists, &key, &mi, now, fi->flags,
				&fresh, &err);
	if (!err && n)
		h = ec_handle_new(n, true);
	if (!err && !h)
		err = p ? -ENOMEM : -ENOENT;
	if (err) {
		if (n)
			ec_node_put(&fs->nodes, n);	/* frees it if unused */
		pthread_mutex_unlock(&fs->lock);
		goto fail;
	}
	n->nlookup++;
	ec_handle_pin(h);
	want = n->key;
	pthread_mutex_unlock(&fs->lock);

	if (exists) {
		err = ec_handle_open(fs, h, id, &want, fi->flags);
		if (!err && (fi->flags & O_TRUNC))
			ec_handle_changed(fs, h);
	} else {
		bool over = false, bp = false;

		h->ready = true;	/* empty */
		/* In the place of an entry just renamed away: as an
		 * overwrite of it (an editor's save; replace.h). */
		if (fresh) {
			pthread_mutex_lock(&fs->lock);
			over = ec_replace_claim(fs, parent, name, n, &bp);
			pthread_mutex_unlock(&fs->lock);
		}
		ec_handle_set_view(fs, h, over, bp);
		h->append = (fi->flags & O_APPEND) != 0;
		if (fresh)
			ec_handle_changed(fs, h);	/* saved even if empty */
	}
	pthread_rwlock_unlock(&fs->ns);
	if (err) {
		create_undo(fs, n, h);
		ecfs_reply_err(req, err);
		return;
	}
	pthread_mutex_lock(&fs->lock);
	ec_present_entry(fs, n, now, false, &e);
	create_attr_timeout(fs, n, fresh, &e);
	pthread_mutex_unlock(&fs->lock);
	fi->fh = (uintptr_t)h;
	fi->direct_io = 1;
	ec_handle_track(h);
	if (fuse_reply_create(req, &e, fi) != 0)
		create_undo(fs, n, h);
	return;
fail:
	pthread_rwlock_unlock(&fs->ns);
	ecfs_reply_err(req, err);
}

void ecfs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			  struct fuse_file_info *fi)
{
	struct ecfs *fs = ecfs_of(req);
	char id[PATH_MAX];
	struct node *n;
	int err;

	(void)datasync;
	(void)fi;
	pthread_mutex_lock(&fs->lock);
	n = ec_node_get(&fs->nodes, ino);
	err = n ? ec_node_path(n, id, sizeof(id)) : -ENOENT;
	pthread_mutex_unlock(&fs->lock);
	if (!err)
		err = ec_store_sync_dir(fs->store, id);
	ecfs_reply_err(req, err);
}

/* Space is not reserved for content that lives in memory until it is
 * saved; posix_fallocate(3) falls back to writing. */
void ecfs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			   off_t offset, off_t length,
			   struct fuse_file_info *fi)
{
	(void)ino;
	(void)mode;
	(void)offset;
	(void)length;
	(void)fi;
	ecfs_reply_err(req, ecfs_of(req)->ro ? -EROFS : -EOPNOTSUPP);
}
