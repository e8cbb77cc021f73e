/*
 * floorfs_write.c: floorfs's handlers of -o writable (floorfs.c's header
 * comment says what they do and how they answer): MKDIR, CREATE, WRITE,
 * FLUSH, RELEASE, SETATTR, UNLINK and RMDIR, each under the mount's one
 * lock, and their helpers: times, a file's contents resized, a new node in
 * its parent's sorted children, a removal whose node waits for its last
 * FORGET; and floor_open_file, OPEN's check of the access mode and O_TRUNC,
 * which CREATE shares.  Without -o writable each fails with EROFS.
 */
#include "floorfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CREATE_ATTR_S 1.0	/* as enccachefs's EC_CREATE_ATTR_S */

static void touch(struct fnode *n, int data)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	n->st.st_ctim = now;
	if (data)
		n->st.st_mtim = now;
}

/* File n's contents cut or zero-extended to size bytes: 0 or -errno. */
static int resize(struct fnode *n, size_t size)
{
	size_t old = (size_t)n->st.st_size;
	char *data;

	if (size > FILE_MAX)
		return -EFBIG;
	data = realloc(n->data, size ? size : 1);
	if (!data)
		return -ENOMEM;
	if (size > old)
		memset(data + old, 0, size - old);
	n->data = data;
	n->st.st_size = (off_t)size;
	n->st.st_blocks = (blkcnt_t)((size + 511) / 512);
	touch(n, 1);
	return 0;
}

/* OPEN of file n, writable or not; lock held.  0 or -errno. */
int floor_open_file(struct floor *f, struct fnode *n,
	      struct fuse_file_info *fi)
{
	int wr = (fi->flags & O_ACCMODE) != O_RDONLY;

	if (!f->writable && (wr || (fi->flags & O_TRUNC)))
		return -EROFS;
	if (wr && (fi->flags & O_TRUNC) && n->st.st_size != 0)
		return resize(n, 0);
	return 0;
}

void floor_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		 size_t size, off_t off, U struct fuse_file_info *fi)
{
	struct floor *f = floor_of(req);
	struct fnode *n;
	size_t end;
	int err = 0;

	n = node_locked(f, ino);
	if (!f->writable)
		err = -EROFS;
	else if (!n || S_ISDIR(n->st.st_mode))
		err = n ? -EISDIR : -ESTALE;
	else if (off < 0)
		err = -EINVAL;
	else if ((size_t)off > FILE_MAX || size > FILE_MAX - (size_t)off)
		err = -EFBIG;
	end = err ? 0 : (size_t)off + size;
	if (!err && end > (size_t)n->st.st_size)
		err = resize(n, end);
	if (!err && size) {
		memcpy(n->data + off, buf, size);
		touch(n, 1);
	}
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_write(req, size);
	unlock(f);
}

/* FLUSH (a close) and RELEASE (the last): nothing to save. */
/* FLUSH (a close) and RELEASE (the last): nothing to save. */
void floor_release(fuse_req_t req, U fuse_ino_t ino,
		   U struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

/* The size as asked; mode, owner and times are ignored. */
void floor_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *a,
		   int set, U struct fuse_file_info *fi)
{
	struct floor *f = floor_of(req);
	struct fnode *n;
	int err = 0;

	n = node_locked(f, ino);
	if (!f->writable)
		err = -EROFS;
	else if (!n)
		err = -ESTALE;
	else if ((set & FUSE_SET_ATTR_SIZE) && S_ISDIR(n->st.st_mode))
		err = -EISDIR;
	else if ((set & FUSE_SET_ATTR_SIZE) && a->st_size < 0)
		err = -EINVAL;
	else if (set & FUSE_SET_ATTR_SIZE)
		err = resize(n, (size_t)a->st_size);
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_attr(req, &n->st, DAY);
	unlock(f);
}

/* A new node name of mode (S_IFREG or S_IFDIR included) in directory
 * parent, owned by the caller; lock held.  Its index, or -errno; with
 * -EEXIST *old is the index of the one there. */
static long make_node(fuse_req_t req, struct floor *f, fuse_ino_t parent,
		      const char *name, mode_t mode, size_t *old)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct fnode *p = node(f, parent);
	struct stat st = { 0 };
	size_t pos, *kids;
	int found;
	long k;

	if (!f->writable)
		return -EROFS;
	if (!p || !S_ISDIR(p->st.st_mode) || p->st.st_nlink == 0)
		return p && S_ISDIR(p->st.st_mode) ? -ENOENT :
		       p ? -ENOTDIR : -ESTALE;
	if (strlen(name) > NAME_MAX)
		return -ENAMETOOLONG;
	pos = floor_kid_pos(f, p, name, &found);
	if (found) {
		*old = p->kids[pos];
		return -EEXIST;
	}
	if (p->nkids == p->kcap) {
		kids = realloc(p->kids, 2 * (p->kcap + 8) * sizeof(*kids));
		if (!kids)
			return -ENOMEM;
		p->kids = kids;
		p->kcap = 2 * (p->kcap + 8);
	}
	st.st_mode = mode;
	st.st_nlink = S_ISDIR(mode) ? 2 : 1;
	st.st_uid = ctx->uid;
	st.st_gid = ctx->gid;
	st.st_blksize = 4096;
	clock_gettime(CLOCK_REALTIME, &st.st_mtim);
	st.st_atim = st.st_ctim = st.st_mtim;
	k = floor_add_node(f, strdup(name), &st, (size_t)(parent - 1));
	if (k < 0)
		return -ENOMEM;
	p = node(f, parent);	/* floor_add_node may have moved the nodes */
	memmove(&p->kids[pos + 1], &p->kids[pos],
		(p->nkids - pos) * sizeof(*p->kids));
	p->kids[pos] = (size_t)k;
	p->nkids++;
	if (S_ISDIR(mode))
		p->st.st_nlink++;
	touch(p, 1);
	return k;
}

void floor_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		 mode_t mode)
{
	struct floor *f = floor_of(req);
	size_t old;
	long k;

	lock(f);
	k = make_node(req, f, parent, name, S_IFDIR | (mode & 07777), &old);
	if (k < 0)
		fuse_reply_err(req, (int)-k);
	else
		floor_reply_entry(req, f, &f->n[k]);
	unlock(f);
}

/* Answered as enccachefs answers it (ecfs_create): the name uncached, the
 * attributes for CREATE_ATTR_S, the file opened with direct_io. */
void floor_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		  mode_t mode, struct fuse_file_info *fi)
{
	struct floor *f = floor_of(req);
	struct fuse_entry_param e;
	size_t old = 0;
	long k;

	lock(f);
	k = make_node(req, f, parent, name, S_IFREG | (mode & 07777), &old);
	if (k == -EEXIST && (fi->flags & O_EXCL) == 0) {
		k = S_ISDIR(f->n[old].st.st_mode) ? -EISDIR :
		    floor_open_file(f, &f->n[old], fi);
		k = k ? k : (long)old;	/* there already: opened */
	}
	if (k < 0) {
		fuse_reply_err(req, (int)-k);
		unlock(f);
		return;
	}
	floor_entry_of(&f->n[k], &e, 0, CREATE_ATTR_S);
	fi->direct_io = 1;
	if (fuse_reply_create(req, &e, fi) == 0)
		f->n[k].nlookup++;
	unlock(f);
}

/* UNLINK (dir 0) or RMDIR (dir 1) of name in directory parent. */
static void remove_node(fuse_req_t req, fuse_ino_t parent, const char *name,
			int dir)
{
	struct floor *f = floor_of(req);
	struct fnode *p, *n = NULL;
	size_t pos = 0;
	int found = 0, err = 0;

	p = node_locked(f, parent);
	if (!f->writable)
		err = -EROFS;
	else if (!p || !S_ISDIR(p->st.st_mode))
		err = p ? -ENOTDIR : -ESTALE;
	else if (pos = floor_kid_pos(f, p, name, &found), !found)
		err = -ENOENT;
	else if (n = &f->n[p->kids[pos]], dir != !!S_ISDIR(n->st.st_mode))
		err = dir ? -ENOTDIR : -EISDIR;
	else if (n->nkids)
		err = -ENOTEMPTY;
	if (!err) {
		memmove(&p->kids[pos], &p->kids[pos + 1],
			(p->nkids - pos - 1) * sizeof(*p->kids));
		p->nkids--;
		if (dir)
			p->st.st_nlink--;
		touch(p, 1);
		n->st.st_nlink = 0;	/* no hard links here */
		touch(n, 0);
		free(n->name);
		n->name = NULL;
		floor_drop_if_gone(n);
	}
	fuse_reply_err(req, -err);
	unlock(f);
}

void floor_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_node(req, parent, name, 0);
}

void floor_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_node(req, parent, name, 1);
}
