/*
 * floorfs: a measurement aid for scripts/bench, never installed.  It reads
 * a directory tree into memory at start (names, modes, sizes, times and
 * the contents of its regular files, with plain read(2)) and serves it
 * over the FUSE low-level API from that memory: no crypto, no disk I/O, a
 * lookup is a binary search in a sorted array.  What a workload costs on
 * it is the lowest cost any FUSE file system pays for it here: the
 * kernel's requests, the round trips to the daemon and libfuse's
 * multi-threaded loop, and nothing else.
 *
 * It asks the kernel for what enccachefs asks, so that the two receive the
 * same requests: default_permissions, READDIRPLUS (the kernel's automatic
 * choice), no writeback cache, no automatic invalidation of data; OPEN
 * answered with keep_cache, and with noflush for a reader; opendir without
 * cache_readdir; getxattr and listxattr answered as enccachefs answers
 * them when there are none (not ENOSYS, after which the kernel would stop
 * asking).  Entries and attributes are cached for a day (enccachefs: 60 s
 * by default; one figure of a bench run takes less).
 *
 * Read-only by default (writes fail with EROFS), with no locks: the tree
 * never changes.  With -o writable (not "rw", which is the kernel's mount
 * flag and libfuse's) it also creates, writes, truncates and removes, in
 * memory: MKDIR, CREATE, WRITE, FLUSH, RELEASE, SETATTR (the size; mode,
 * owner and times are ignored), UNLINK and RMDIR; every operation then holds
 * one mutex, and counts the kernel's lookups, so that a removed node's
 * memory goes at its last FORGET.  CREATE is answered as enccachefs
 * answers it: the name not cached (entry timeout 0), the attributes for
 * 1 s (which spares the GETATTR of open's permission check), direct_io
 * (with keep_cache instead, each write through the page cache costs a
 * GETXATTR of security.capability too).  RENAME, LINK, SYMLINK, MKNOD
 * and SETXATTR stay refused (EPERM, ENOTSUP).  A file holds FILE_MAX bytes
 * at most.
 *
 * With -o no_open it answers OPEN and OPENDIR with ENOSYS instead, as a
 * file system without per-open state could: the kernel then sends neither
 * again, nor RELEASE (nor FLUSH: the first is answered ENOSYS too), and
 * caches files as with keep_cache and listings as with cache_readdir
 * (enccachefs does so for files on a read-only mount only: it needs its
 * handles for writes).  A file
 * the daemon was asked to read then costs a GETATTR at its next stat (the
 * kernel drops its atime), unless the mount is read-only (-o ro).
 *
 * usage: floorfs [-o no_open,writable] [FUSE options] SOURCE MOUNTPOINT
 * (-f: foreground)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* scandirat */
#endif
#include "floorfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --- loading: the tree read whole ---------------------------------------- */

/* Append a node named name (taken over) under parent; its index, or -1. */
long floor_add_node(struct floor *f, char *name, const struct stat *st,
	      size_t parent)
{
	if (!name)
		return -1;
	if (f->count == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 1024;
		struct fnode *n = realloc(f->n, cap * sizeof(*n));

		if (!n) {
			free(name);
			return -1;
		}
		f->n = n;
		f->cap = cap;
	}
	memset(&f->n[f->count], 0, sizeof(f->n[0]));
	f->n[f->count].name = name;
	f->n[f->count].st = *st;
	f->n[f->count].st.st_ino = f->count + 1;
	f->n[f->count].parent = parent;
	return (long)f->count++;
}

/* A file's contents, st_size bytes at most, with read(2); 0 or -errno. */
static int load_file(int dfd, const char *name, struct fnode *n)
{
	size_t size = (size_t)n->st.st_size, got = 0;
	int fd, err = 0;
	ssize_t r;

	if (size > FILE_MAX)
		return -EFBIG;
	n->data = malloc(size ? size : 1);
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW);
	if (!n->data || fd < 0)
		err = n->data ? -errno : -ENOMEM;
	while (!err && got < size) {
		r = read(fd, n->data + got, size - got);
		if (r < 0 && errno != EINTR)
			err = -errno;
		else if (r == 0)
			size = got;	/* shrank since the stat */
		else if (r > 0)
			got += (size_t)r;
	}
	n->st.st_size = (off_t)got;
	if (fd >= 0)
		close(fd);
	return err;
}

static int not_dots(const struct dirent *de)
{
	return strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
}

/* strcmp's order, which lookup's binary search follows (not strcoll's). */
static int name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int load_dir(struct floor *f, int dfd, size_t self, const char *path);

/* Add name, in directory node self (open as dfd), if it is a file or a
 * directory (with all below it); 0 or -errno. */
static int load_one(struct floor *f, int dfd, size_t self, const char *path,
		    const char *name)
{
	char sub[PATH_MAX];
	struct stat st;
	int fd, err;
	long k;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return -errno;
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "floorfs: skipped '%s/%s': neither a file nor "
			"a directory\n", path, name);
		return 0;
	}
	k = floor_add_node(f, strdup(name), &st, self);
	if (k < 0)
		return -ENOMEM;
	f->n[self].kids[f->n[self].nkids++] = (size_t)k;
	if (S_ISREG(st.st_mode)) {
		err = load_file(dfd, name, &f->n[k]);
		if (err)
			fprintf(stderr, "floorfs: cannot read '%s/%s': %s\n",
				path, name, strerror(-err));
		return err;
	}
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	snprintf(sub, sizeof(sub), "%s/%s", path, name);
	err = load_dir(f, fd, (size_t)k, sub);
	close(fd);
	return err;
}

/* Add what directory node self (open as dfd) holds, sorted by name, and
 * all below it; 0 or -errno. */
static int load_dir(struct floor *f, int dfd, size_t self, const char *path)
{
	struct dirent **ents = NULL;
	int count = scandirat(dfd, ".", &ents, not_dots, name_cmp), i;
	int err = count < 0 ? -errno : 0;

	f->n[self].kids = calloc(count > 0 ? (size_t)count : 1, sizeof(size_t));
	f->n[self].kcap = count > 0 ? (size_t)count : 1;
	if (!err && !f->n[self].kids)
		err = -ENOMEM;
	for (i = 0; i < count && !err; i++)
		err = load_one(f, dfd, self, path, ents[i]->d_name);
	for (i = 0; i < count; i++)
		free(ents[i]);
	free(ents);
	return err;
}

/* --- the operations ------------------------------------------------------ */

static void floor_init(U void *userdata, struct fuse_conn_info *conn)
{
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~(unsigned)FUSE_CAP_AUTO_INVAL_DATA;
	conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
}

void floor_entry_of(const struct fnode *n, struct fuse_entry_param *e,
	      double entry_timeout, double attr_timeout)
{
	memset(e, 0, sizeof(*e));
	e->ino = n->st.st_ino;
	e->attr = n->st;
	e->entry_timeout = entry_timeout;
	e->attr_timeout = attr_timeout;
}

/* A removed node's memory goes when the kernel has forgotten it too. */
void floor_drop_if_gone(struct fnode *n)
{
	if (n->st.st_nlink != 0 || n->nlookup != 0)
		return;
	free(n->data);
	free(n->kids);
	n->data = NULL;
	n->kids = NULL;
	n->kcap = 0;
}

/* Reply n's entry (lock held), counting the lookup when writable. */
void floor_reply_entry(fuse_req_t req, struct floor *f, struct fnode *n)
{
	struct fuse_entry_param e;

	floor_entry_of(n, &e, DAY, DAY);
	if (fuse_reply_entry(req, &e) == 0 && f->writable)
		n->nlookup++;
}

/* Where name is, or would go, among directory p's children (strcmp's
 * order); *found says whether it is there. */
size_t floor_kid_pos(const struct floor *f, const struct fnode *p,
	       const char *name, int *found)
{
	size_t lo = 0, hi = p->nkids, mid;
	int c;

	*found = 0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(name, f->n[p->kids[mid]].name);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static void floor_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct floor *f = floor_of(req);
	struct fnode *p;
	size_t i;
	int found = 0;

	p = node_locked(f, parent);
	i = p ? floor_kid_pos(f, p, name, &found) : 0;
	if (found)
		floor_reply_entry(req, f, &f->n[p->kids[i]]);
	else
		fuse_reply_err(req, p ? ENOENT : ESTALE);
	unlock(f);
}

/* Read-only, nodes live as long as the mount; writable, a removed one
 * goes at its last forget. */
static void forget_one(struct floor *f, fuse_ino_t ino, uint64_t nlookup)
{
	struct fnode *n = node(f, ino);

	if (!f->writable || !n)
		return;
	n->nlookup -= nlookup < n->nlookup ? nlookup : n->nlookup;
	floor_drop_if_gone(n);
}

static void floor_forget_multi(fuse_req_t req, size_t count,
			       struct fuse_forget_data *forgets)
{
	struct floor *f = floor_of(req);
	size_t i;

	lock(f);
	for (i = 0; i < count; i++)
		forget_one(f, forgets[i].ino, forgets[i].nlookup);
	unlock(f);
	fuse_reply_none(req);
}

static void floor_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct fuse_forget_data one = { .ino = ino, .nlookup = nlookup };

	floor_forget_multi(req, 1, &one);
}

static void floor_getattr(fuse_req_t req, fuse_ino_t ino,
			  U struct fuse_file_info *fi)
{
	struct floor *f = floor_of(req);
	struct fnode *n;

	n = node_locked(f, ino);
	if (n)
		fuse_reply_attr(req, &n->st, DAY);
	else
		fuse_reply_err(req, ESTALE);
	unlock(f);
}

static void floor_opendir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct floor *f = floor_of(req);
	struct fnode *n;

	n = node_locked(f, ino);
	if (f->no_open)
		fuse_reply_err(req, ENOSYS);
	else if (!n || !S_ISDIR(n->st.st_mode))
		fuse_reply_err(req, n ? ENOTDIR : ESTALE);
	else
		fuse_reply_open(req, fi);
	unlock(f);
}

/* Entry i of a listing: ".", "..", then the children; offset i + 1.
 * Each entry of a READDIRPLUS but "." and ".." is a lookup. */
static void list(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		 int plus)
{
	struct floor *f = floor_of(req);
	struct fnode *d, *n;
	struct fuse_entry_param e;
	char *buf = malloc(size);
	size_t at = 0, len, i;
	const char *name;

	d = node_locked(f, ino);
	if (!d || !buf) {
		fuse_reply_err(req, d ? ENOMEM : ESTALE);
		goto out;
	}
	for (i = (size_t)off; i < d->nkids + 2; i++) {
		n = i == 0 ? d : i == 1 ? &f->n[d->parent] : &f->n[d->kids[i - 2]];
		name = i == 0 ? "." : i == 1 ? ".." : n->name;
		floor_entry_of(n, &e, DAY, DAY);
		len = plus ? fuse_add_direntry_plus(req, buf + at, size - at,
						    name, &e, (off_t)i + 1) :
			fuse_add_direntry(req, buf + at, size - at, name,
					  &n->st, (off_t)i + 1);
		if (len > size - at)
			break;
		at += len;
		if (plus && i >= 2 && f->writable)
			n->nlookup++;
	}
	fuse_reply_buf(req, buf, at);
out:
	unlock(f);
	free(buf);
}

static void floor_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			  off_t off, U struct fuse_file_info *fi)
{
	list(req, ino, size, off, 0);
}

static void floor_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			      off_t off, U struct fuse_file_info *fi)
{
	list(req, ino, size, off, 1);
}

/* A file opened without a message has nothing to flush either: ENOSYS
 * has the kernel send no more FLUSH (as enccachefs -o ro does). */
static void floor_flush(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	if (floor_of(req)->no_open)
		fuse_reply_err(req, ENOSYS);
	else
		floor_release(req, ino, fi);
}

static void floor_open(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct floor *f = floor_of(req);
	struct fnode *n;
	int err;

	n = node_locked(f, ino);
	if (f->no_open)
		err = -ENOSYS;
	else if (!n || S_ISDIR(n->st.st_mode))
		err = n ? -EISDIR : -ESTALE;
	else
		err = floor_open_file(f, n, fi);
	if (err) {
		fuse_reply_err(req, -err);
		unlock(f);
		return;
	}
	fi->keep_cache = 1;
#if FUSE_VERSION >= FUSE_MAKE_VERSION(3, 11)
	fi->noflush = (fi->flags & O_ACCMODE) == O_RDONLY;
#endif
	fuse_reply_open(req, fi);
	unlock(f);
}

static void floor_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       U struct fuse_file_info *fi)
{
	struct floor *f = floor_of(req);
	struct fnode *n;
	size_t len;

	n = node_locked(f, ino);
	len = n ? (size_t)n->st.st_size : 0;
	if (!n || off < 0)
		fuse_reply_err(req, n ? EINVAL : ESTALE);
	else if ((size_t)off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, n->data + off,
			       size < len - (size_t)off ? size : len - (size_t)off);
	unlock(f);
}

/* WRITE, FLUSH, RELEASE, SETATTR, MKDIR, CREATE, UNLINK, RMDIR (and
 * floor_open_file, which OPEN calls): floorfs_write.c */

/* No extended attributes; as on enccachefs, none but user.* could be kept
 * (ENOTSUP, after which ls -l stops asking for security.selinux and ACLs
 * on this file system), a user.* one is just not there (ENODATA). */
static void floor_getxattr(fuse_req_t req, U fuse_ino_t ino, const char *name,
			   U size_t size)
{
	fuse_reply_err(req, strncmp(name, "user.", 5) ? ENOTSUP : ENODATA);
}

static void floor_listxattr(fuse_req_t req, U fuse_ino_t ino, size_t size)
{
	if (size)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_xattr(req, 0);
}

/* What is never done: EROFS, or when writable err. */
static void refuse(fuse_req_t req, int err)
{
	fuse_reply_err(req, floor_of(req)->writable ? err : EROFS);
}
static void floor_mknod(fuse_req_t req, U fuse_ino_t p, U const char *n,
			U mode_t m, U dev_t d) { refuse(req, EPERM); }
static void floor_symlink(fuse_req_t req, U const char *l, U fuse_ino_t p,
			  U const char *n) { refuse(req, EPERM); }
static void floor_rename(fuse_req_t req, U fuse_ino_t p, U const char *n,
			 U fuse_ino_t np, U const char *nn, U unsigned int fl)
{ refuse(req, EPERM); }
static void floor_link(fuse_req_t req, U fuse_ino_t i, U fuse_ino_t np,
		       U const char *nn) { refuse(req, EPERM); }
static void floor_setxattr(fuse_req_t req, U fuse_ino_t i, U const char *n,
			   U const char *v, U size_t s, U int fl)
{ refuse(req, ENOTSUP); }
static void floor_removexattr(fuse_req_t req, U fuse_ino_t i, U const char *n)
{ refuse(req, ENOTSUP); }

static const struct fuse_lowlevel_ops floor_ops = {
	.init = floor_init, .lookup = floor_lookup, .forget = floor_forget,
	.forget_multi = floor_forget_multi, .getattr = floor_getattr,
	.opendir = floor_opendir, .readdir = floor_readdir,
	.readdirplus = floor_readdirplus, .open = floor_open,
	.read = floor_read, .flush = floor_flush, .release = floor_release,
	.getxattr = floor_getxattr, .listxattr = floor_listxattr,
	.setattr = floor_setattr, .mknod = floor_mknod, .mkdir = floor_mkdir,
	.unlink = floor_unlink, .rmdir = floor_rmdir,
	.symlink = floor_symlink, .rename = floor_rename, .link = floor_link,
	.write = floor_write, .create = floor_create, .setxattr = floor_setxattr,
	.removexattr = floor_removexattr,
};

/* --- main ---------------------------------------------------------------- */

static const struct fuse_opt floor_opts[] = {
	{ "no_open", offsetof(struct floor, no_open), 1 },
	{ "writable", offsetof(struct floor, writable), 1 },
	FUSE_OPT_END
};

/* The first argument that is not an option is SOURCE. */
static int take_source(void *data, const char *arg, int key,
		       U struct fuse_args *out)
{
	struct floor *f = data;

	if (key != FUSE_OPT_KEY_NONOPT || f->source)
		return 1;
	f->source = arg;
	return 0;
}

/* libfuse 3.12-3.14's loop of version 31 leaks its config (src/fs/main.c):
 * enccachefs calls the 3.2 entry point, and so do we. */
int fuse_session_loop_mt_32(struct fuse_session *se,
			    struct fuse_loop_config *config);

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts cmd = { 0 };
	struct fuse_loop_config lc = { 0 };
	struct fuse_session *se = NULL;
	struct floor f = { 0 };
	struct stat st;
	int ret = 1, fd, err;

	pthread_mutex_init(&f.lock, NULL);
	if (fuse_opt_parse(&args, &f, floor_opts, take_source) != 0 ||
	    fuse_parse_cmdline(&args, &cmd) != 0)
		goto out;
	if (!f.source || !cmd.mountpoint) {
		fprintf(stderr, "usage: %s [-o no_open,writable] [FUSE options] SOURCE "
			"MOUNTPOINT\n", argv[0]);
		goto out;
	}
	fd = open(f.source, O_RDONLY | O_DIRECTORY);
	err = fd < 0 || fstat(fd, &st) != 0 ? -errno : 0;
	if (!err && floor_add_node(&f, strdup(""), &st, 0) != 0)
		err = -ENOMEM;
	if (!err)
		err = load_dir(&f, fd, 0, f.source);
	if (fd >= 0)
		close(fd);
	if (err) {
		fprintf(stderr, "floorfs: cannot load '%s': %s\n", f.source,
			strerror(-err));
		goto out;
	}
	if (fuse_opt_add_arg(&args, "-odefault_permissions,subtype=floorfs") != 0)
		goto out;
	se = fuse_session_new(&args, &floor_ops, sizeof(floor_ops), &f);
	if (!se || fuse_set_signal_handlers(se) != 0)
		goto out;
	if (fuse_session_mount(se, cmd.mountpoint) == 0) {
		lc.clone_fd = cmd.clone_fd;
		lc.max_idle_threads = cmd.max_idle_threads == UINT_MAX ? 10 :
			cmd.max_idle_threads;
		if (fuse_daemonize(cmd.foreground) == 0)
			ret = (cmd.singlethread ? fuse_session_loop(se) :
			       fuse_session_loop_mt_32(se, &lc)) < 0;
		fuse_session_unmount(se);
	}
	fuse_remove_signal_handlers(se);
out:
	if (se)
		fuse_session_destroy(se);
	while (f.count--) {
		free(f.n[f.count].name);
		free(f.n[f.count].data);
		free(f.n[f.count].kids);
	}
	free(f.n);
	pthread_mutex_destroy(&f.lock);
	free(cmd.mountpoint);
	fuse_opt_free_args(&args);
	return ret;
}
