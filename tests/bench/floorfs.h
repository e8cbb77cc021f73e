/*
 * floorfs.h: what floorfs's two files share: the node and mount structs,
 * the one lock of -o writable, and the helpers each calls of the other.
 * floorfs.c loads the tree and holds the read-only handlers and main (its
 * header comment says what floorfs is); floorfs_write.c holds the
 * handlers of -o writable.  Each includes it before any system header
 * (floorfs.c after defining _GNU_SOURCE, for scandirat).
 */
#ifndef EC_FLOORFS_H
#define EC_FLOORFS_H

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 31
#endif
#include <fuse_lowlevel.h>

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define DAY 86400.0
#define FILE_MAX (8 << 20)	/* bytes: larger files are refused */
#define U __attribute__((unused))

/* One file or directory; its inode number is its index + 1. */
struct fnode {
	char *name;		/* "" for the root; NULL once removed */
	struct stat st;
	size_t parent;		/* index */
	char *data;		/* a file's st.st_size bytes (owned) */
	size_t *kids;		/* a directory's: indices, sorted by name */
	size_t nkids, kcap;	/* kids used, allocated */
	uint64_t nlookup;	/* -o writable: lookups not forgotten yet */
};

struct floor {
	struct fnode *n;
	size_t count, cap;
	const char *source;	/* argv's */
	int no_open;		/* -o no_open */
	int writable;		/* -o writable */
	pthread_mutex_t lock;	/* -o writable: held by every operation */
};

static inline struct floor *floor_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* The node of ino, or NULL. */
static inline struct fnode *node(struct floor *f, fuse_ino_t ino)
{
	return ino >= 1 && ino <= f->count ? &f->n[ino - 1] : NULL;
}

/* Every operation runs between lock and unlock: a no-op when read-only. */
static inline void lock(struct floor *f)
{
	if (f->writable)
		pthread_mutex_lock(&f->lock);
}

/* lock(f), then node(f, ino). */
static inline struct fnode *node_locked(struct floor *f, fuse_ino_t ino)
{
	lock(f);
	return node(f, ino);
}

static inline void unlock(struct floor *f)
{
	if (f->writable)
		pthread_mutex_unlock(&f->lock);
}

/* floorfs.c */

/* Append a node named name (taken over) under parent; its index, or -1. */
long floor_add_node(struct floor *f, char *name, const struct stat *st,
	      size_t parent);
void floor_entry_of(const struct fnode *n, struct fuse_entry_param *e,
	      double entry_timeout, double attr_timeout);
/* A removed node's memory goes when the kernel has forgotten it too. */
void floor_drop_if_gone(struct fnode *n);
/* Reply n's entry (lock held), counting the lookup when writable. */
void floor_reply_entry(fuse_req_t req, struct floor *f, struct fnode *n);
/* Where name is, or would go, among directory p's children (strcmp's
 * order); *found says whether it is there. */
size_t floor_kid_pos(const struct floor *f, const struct fnode *p,
	       const char *name, int *found);

/* floorfs_write.c: floor_open_file, and the handlers floorfs.c's table names */

/* OPEN of file n, writable or not; lock held.  0 or -errno. */
int floor_open_file(struct floor *f, struct fnode *n,
	      struct fuse_file_info *fi);

void floor_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		 size_t size, off_t off, struct fuse_file_info *fi);
void floor_release(fuse_req_t req, fuse_ino_t ino,
		   struct fuse_file_info *fi);
void floor_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *a,
		   int set, struct fuse_file_info *fi);
void floor_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		 mode_t mode);
void floor_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		  mode_t mode, struct fuse_file_info *fi);
void floor_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void floor_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);

#endif
