/*
 * nodes: the daemon's node and name tables.  A node is what the kernel
 * knows as an inode: a directory, or an entry (one file of the cache).
 * Nodes are found by inode number, by (parent, name) while they are
 * "hashed" (the name refers to them), and directories by inotify watch.
 * Pure data structure: no I/O, no locking (the caller holds fs->lock),
 * no FUSE calls; the file lifecycle rules that only move nodes around
 * live here too, so that unit tests reach them (tests/unit/check_nodes.c).
 * The rules as a whole are written down in fs.h.
 */
#ifndef EC_FS_NODES_H
#define EC_FS_NODES_H

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fsmeta.h"
#include "watch.h"

/*
 * A node lives while the kernel holds lookups on it, a child node points
 * to it, or a handle is open on it.  An entry node stands for the version
 * of its envelope last seen (key, info); see fs.h for when that
 * version changes in place and when the name gets a new node instead.
 */
struct node {
	fuse_ino_t ino;		/* the kernel's node id, never reused */
	uint64_t shown_ino;	/* st_ino: ino, or the number the file
				   showed before (ec_node_identify) */
	struct node *parent;	/* counts in parent->nchildren */
	char *name;
	uint64_t nlookup;	/* the kernel's references */
	struct ec_fsmeta_key key;	/* backing version (dirs: dev, ino
					   and the times for attributes) */
	struct ec_fsmeta_info info;	/* entries: what was loaded */
	struct node *ino_next, *name_next, *wd_next;
	unsigned nchildren;
	unsigned nopen;		/* open handles */
	int wd;			/* dirs: inotify watch, or -1 */
	/* The flags are bits (fs->lock guards every node field): the
	 * node stays at 240 bytes, 256 with a short name. */
	bool is_dir : 1;
	bool hashed : 1;	/* found by (parent, name) */

	/* Writing (entries).  A node created through the mount is pending
	 * until its first save: it has no envelope yet, and is found by
	 * lookup only while a handle is open on it. */
	bool pending : 1;
	bool unlinked : 1;	/* removed or replaced: nothing saves it */
	bool attrs_given : 1;	/* pending: create's reply let the kernel
				   cache its attributes (ecfs_create) */
	bool pages_old : 1;	/* taken a new version in place: pages the
				   kernel cached before are to be dropped */
	bool pages_full : 1;	/* a snapshot of this version was read to
				   its end: the kernel likely holds its
				   pages (an open on a shared store then
				   reads nothing, handle.c), of content */
	bool reversioned : 1;	/* has taken another version in place
				   (a save through it, a version found or
				   a rename while handles follow it): the
				   kernel's pages and size for it may be
				   another version's, so no open stores
				   pages (ops_read.c push_pages) */
	bool settled : 1;	/* this version's bytes were read settled,
				   its stat alone tells it since
				   (handle.c) */
	bool own_saved : 1;	/* holds the version a save through it
				   wrote in place (the kernel's entry for
				   the name, if any, is this node): an
				   inotify event for the name is checked
				   against the file before the entry is
				   dropped (inval.c) */
	bool changed_saving : 1;	/* an event for the name came while
					   a save through it was under way:
					   decided when it publishes */
	bool listed : 1;	/* dirs: the kernel may keep the listing
				   last read to its end (list_gen,
				   list_until_us; ops_dir.c) */
	bool writer_due : 1;	/* made for a writer that snapshot readers
				   turned away (ecfs_open): readers open
				   it live until the writer comes, and it
				   outlives the kernel's forgetting it
				   (its revalidation looks up and forgets
				   before the lookup that opens) */
	unsigned nwriters;	/* open handles that may write */
	unsigned ndirty;	/* of those, handles with unsaved changes */
	unsigned ncached;	/* open handles that read through the page
				   cache (snapshots of this version) */
	unsigned nlive;		/* open read-only handles that follow the
				   node's saves (fs.h) */
	uint32_t saves;		/* bumped by every save through the node
				   (compared for equality only) */
	unsigned nsaving;	/* saves under way, from the write to the
				   backing dir until they publish (handle.c) */
	union {
		uint64_t pages_digest;	/* entries: pages_full's content
					   has this digest (envelope tag) */
		uint64_t list_gen;	/* dirs, when listed: fs->gen
					   before the listing's snapshot */
	};
	/* While live readers are open: the presented content of the last
	 * save through the node, which they read (ec_secure_alloc'd), so
	 * that they read the file's saves even after it is unlinked or
	 * another file took its name. */
	uint8_t *saved;
	size_t saved_len;
	union {
		uint64_t wlen;		/* entries: length of the last
					   changed buffer */
		int64_t list_until_us;	/* dirs, when listed: the first
					   instant an entry it showed may
					   be hidden (its expiry) */
	};
	int64_t wtime_us;	/* and when it changed */
	/* For the next save: created_at (utimens on a node being written;
	 * EC_TIME_NONE: now), and, for a pending node, the comment and
	 * validasof set by setxattr (NULL until one is: apart, so that
	 * every node is 8 bytes smaller). */
	int64_t next_created_us;
	struct node_next *next;
};

/* A pending node's metadata for its first save (each malloc'd, or NULL
 * when unset). */
struct node_next {
	char *comment;
	char *validasof;
};

#define EC_NODES_WD_BUCKETS 1024

/* One remembered inode number (ec_node_identify): the file backed by
 * (dev, bino), named by name_hash under the directory shown as parent,
 * was shown as ino (0: the slot is free; a set's used slots come first,
 * oldest first). */
struct ec_ino_memo {
	uint64_t parent, name_hash, dev, bino, ino;
};
#define EC_INO_MEMO_WAYS 4
#define EC_INO_MEMO_SETS 16384	/* 64 Ki names, 2.5 MiB at most */

struct ec_nodes {
	fuse_ino_t next_ino;
	size_t nnodes;
	struct node **by_ino;
	size_t ino_buckets;
	struct node **by_name;
	size_t name_buckets;
	size_t nhashed;
	struct node *by_wd[EC_NODES_WD_BUCKETS];
	struct node root;
	struct ec_watch *watch;	/* borrowed, may be NULL: a freed
				   directory's watch is removed there */
	struct ec_ino_memo *memo;	/* EC_INO_MEMO_SETS * WAYS, made at
					   first use (NULL: none yet) */
};

/* Empty tables with the root directory (ino FUSE_ROOT_ID, one lookup).
 * -ENOMEM.  Release with ec_nodes_release(), which frees every node. */
int ec_nodes_init(struct ec_nodes *t) __attribute__((warn_unused_result));
void ec_nodes_release(struct ec_nodes *t);

/* Lookups: NULL when absent.  The root is found by ino only. */
struct node *ec_node_get(struct ec_nodes *t, fuse_ino_t ino);
struct node *ec_node_child(struct ec_nodes *t, struct node *p,
			   const char *name);
/* The entry (file) node ino as *out: -ENOENT when absent, -EISDIR (*out
 * set) for a directory. */
int ec_node_get_file(struct ec_nodes *t, fuse_ino_t ino, struct node **out)
	__attribute__((warn_unused_result));

/* A new node named name under p, hashed.  NULL on ENOMEM. */
struct node *ec_node_new(struct ec_nodes *t, struct node *p, const char *name,
			 bool is_dir);
/*
 * st_ino.  The kernel knows a file by its node id, which is never reused:
 * a file whose node is forgotten, or whose name gets a new node for the
 * daemon's own reasons (a writer beside snapshot readers, a save beside
 * them: see fs.h), comes back as a new node.  Its st_ino must not change
 * for that: vim, for one, compares st_ino before and after its open and
 * refuses to write ("E949: File changed while writing"); git's index and
 * find look at it too.  So a name's node that leaves the name (unhashed,
 * or freed while hashed) leaves its shown_ino behind, remembered with the
 * backing file it showed (dev, ino); the next node made for the name
 * shows that number again if its backing file is the same one: forgotten
 * and looked up again, split off, rewritten in place by another process.
 * A file renamed over it, or removed and made anew, is another file with
 * another number, as on any file system.  Memory is bounded (a set-
 * associative table, each set in age order: a full one loses its
 * oldest), so a name forgotten long ago may come back with a new number.
 *
 * ec_node_identify(): n, just made and given its key, takes the number
 * its name's file showed before, if remembered.  Lock held.
 */
void ec_node_identify(struct ec_nodes *t, struct node *n);

/* Drop n's metadata for its first save (n->next). */
void ec_node_next_free(struct node *n);

/* Free n, and then its parents, when nothing refers to them any more
 * (lookups, children, open handles, a writer due).  NULL is a no-op. */
void ec_node_put(struct ec_nodes *t, struct node *n);
/* The name no longer refers to n (n itself lives on while referred to;
 * no writer is due on it any more). */
void ec_node_unhash(struct ec_nodes *t, struct node *n);
/* Move n to name under np, hashed there.  -ENOMEM leaves n unhashed. */
int ec_node_move(struct ec_nodes *t, struct node *n, struct node *np,
		 const char *name) __attribute__((warn_unused_result));

/* A directory's inotify watch n->wd (>= 0) is linked for ec_node_by_wd. */
void ec_node_wd_link(struct ec_nodes *t, struct node *n);
void ec_node_wd_unlink(struct ec_nodes *t, struct node *n);
/* The first directory node watched by wd (then follow wd_next, checking
 * ->wd), or NULL. */
struct node *ec_node_by_wd(struct ec_nodes *t, int wd);

/* The id (path below the cache dir) of n, "" for the root. */
int ec_node_path(const struct node *n, char *buf, size_t size)
	__attribute__((warn_unused_result));
/* The id of name under p. */
int ec_node_child_path(const struct node *p, const char *name, char *buf,
		       size_t size) __attribute__((warn_unused_result));
/* The id of name in directory dir ("" = the root); buf may be dir. */
int ec_path_join(const char *dir, const char *name, char *buf, size_t size)
	__attribute__((warn_unused_result));

/* ---- lifecycle transitions (fs.h) --------------------------- */

/* A node created through the mount, not saved yet, still open. */
bool ec_node_live_pending(const struct node *n);

/* Whether n is a file that handles follow (writers, a file being
 * created, live readers): it keeps its name when the envelope on disk
 * turns out to be another version (a save in flight, an outside change:
 * its handles' saves go to that name anyway). */
bool ec_node_holds_name(const struct node *n);

/* Whether directory p has a child being created (live pending): such a
 * directory is not empty (rmdir, rename over it: ENOTEMPTY). */
bool ec_node_has_pending_child(const struct ec_nodes *t,
			       const struct node *p);

/* The entry n was removed, or another file was renamed over it: nothing
 * saves it any more, and its name is free. */
void ec_node_unlinked(struct ec_nodes *t, struct node *n);

/*
 * A save through n has just written the version key/info (ok) or failed
 * to learn what it wrote (!ok).  Returns true when n now stands for the
 * new version in place (the kernel must then drop n's attributes and
 * pages), false when the name was given up for a new node instead: n
 * still had readers of its old version through the page cache, or the
 * saved version is unknown.
 */
bool ec_node_saved(struct ec_nodes *t, struct node *n, bool ok,
		   const struct ec_fsmeta_key *key,
		   const struct ec_fsmeta_info *info);

/*
 * How a new read-only handle on n reads (n->nopen etc. updated): true for
 * a snapshot through the page cache (nothing is writing n), false for a
 * live handle that follows n's saves (n has writers, is pending, has
 * live readers already, or a writer is due).  ec_node_close_reader() undoes it, with what
 * the handle is by then: cached, live, or (both false) a snapshot read
 * directly (one that found a version other than n's at open).
 */
bool ec_node_open_reader(struct node *n);
/* Keep content (ec_secure_alloc'd, taken over; NULL: none) as what n's
 * live readers read from now on; dropped when the last one closes. */
void ec_node_keep_saved(struct node *n, uint8_t *content, size_t len);
void ec_node_close_reader(struct node *n, bool cached, bool live);

#endif
