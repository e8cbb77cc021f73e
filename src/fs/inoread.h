/*
 * inoread: reads that name no handle (zero-message opens).
 *
 * A read-only mount of a watched local store (ecfs_init, main.c) answers
 * the kernel's first OPEN of a file with ENOSYS (FUSE_CAP_NO_OPEN_SUPPORT).
 * From then on the kernel opens and closes files without asking: no OPEN,
 * no RELEASE, and no FLUSH once the first one was answered ENOSYS too; it
 * keeps every file's pages (FOPEN_KEEP_CACHE), so a warm read of a file
 * costs the daemon no message at all.  What stays true without the open:
 * a node stands for one envelope version for all its life on such a
 * mount (nothing saves through it; an outside change gives the name a new
 * node, fs.h), so the kernel's pages of an inode are that version's.
 *
 * A READ then comes with fh 0 and is served here, by inode, from a
 * snapshot handle (handle.h) kept per inode: opened by the first read
 * that reaches us, as the version the node stands for (another version
 * on disk by then is -EIO: the kernel's size is the node's), shared by
 * every read of the inode, and dropped, its content wiped, shortly after
 * a read reached the content's end (the kernel holds every page then; a
 * read-ahead request still on its way finds it), EC_INOREAD_IDLE_US after
 * its last read otherwise, or at once when the kernel forgets the inode.
 * At most EC_INOREAD_SLOTS inodes are kept; past that the least recently
 * read idle one goes, or, when every one is being read, the read is
 * served by a handle of its own.
 *
 * Thread-safe.  Lock order: the table's lock, then a handle's (never
 * both held: a slot in use is pinned by its count), then fs->lock.
 */
#ifndef EC_FS_INOREAD_H
#define EC_FS_INOREAD_H

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EC_INOREAD_SLOTS 64
#define EC_INOREAD_IDLE_US 10000000	/* a partly read content kept */
#define EC_INOREAD_END_US 200000	/* one read to its end kept */

struct ecfs;
struct ec_inoread;

/* A table for fs (its reaper thread started).  -ENOMEM, -EAGAIN. */
int ec_inoread_new(struct ecfs *fs, struct ec_inoread **out)
	__attribute__((warn_unused_result));
/* Drop (wipe) every kept content and stop the reaper; NULL is a no-op.
 * No read may be under way. */
void ec_inoread_free(struct ec_inoread *t);

/* Answer a READ of ino that names no handle. */
void ec_inoread_read(struct ec_inoread *t, fuse_req_t req, fuse_ino_t ino,
		     size_t size, off_t off);

/* The kernel forgot ino: no read of it can come any more. */
void ec_inoread_forget(struct ec_inoread *t, fuse_ino_t ino);

/* ---- the slot policy (pure, for tests/unit/check_inoread.c) ---- */

struct ec_inoread_slot {
	fuse_ino_t ino;		/* 0: free */
	void *h;		/* struct handle *, opaque here */
	unsigned users;		/* reads using it now */
	bool opened;		/* h opened (h->lock) */
	int open_err;		/* and how (h->lock) */
	bool ended;		/* a read reached its end */
	int64_t used_us;	/* monotonic: its last read ended */
};

/* When an idle slot (users 0) is to go; INT64_MAX for a free or busy
 * one. */
int64_t ec_inoread_due(const struct ec_inoread_slot *s);

/* The slot for a new inode among n: a free one, else the idle one due
 * first (*evict set: its handle is to be dropped), else NULL. */
struct ec_inoread_slot *ec_inoread_pick(struct ec_inoread_slot *slots,
					size_t n, bool *evict);

#endif
