/*
 * handle: open files (per-open state behind fi->fh, made in open or
 * create, freed in release).  The rules are the lifecycle of fs.h:
 * snapshots through the page cache, live readers, and writers' buffers
 * saved at close.
 */
#ifndef EC_FS_HANDLE_H
#define EC_FS_HANDLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs.h"
#include "links.h"
#include "secure.h"

/* How much older than the read of its bytes a version's ctime must be
 * for its stat alone to tell it later (handle.c, settled()): longer than
 * any clock tick file systems stamp times with (a second, on some). */
#define EC_SETTLE_US 2000000

/* The largest content a file open for writing may hold: it lives in
 * guarded memory once, so memory is the real bound (ENOMEM, EFBIG). */
#define EC_WRITE_MAX ((size_t)16 << 30)

/*
 * A read-only handle holds its content as data/len: rendered from the
 * envelope read at open (env, kept until the first read that reaches us,
 * so a file whose pages the kernel caches is not decrypted again), or,
 * when live, from the node's last saved version (reloaded when
 * node->saves moves past seen_saves).
 *
 * A handle that may write (opened for writing, or with O_TRUNC) holds
 * the content in buf, a guarded buffer it edits: loaded from the envelope
 * on first use (empty after O_TRUNC, or for a new entry), saved by flush
 * or fsync when dirty, wiped on release.  Writers and live readers are
 * direct_io: their reads and writes reach us, not the page cache.
 */
struct handle {
	struct node *node;	/* pinned by node->nopen */
	/* In the list of handles the kernel holds (ec_handle_track): guarded
	 * by that list's own lock. */
	struct ec_link open;
	bool tracked;
	pthread_mutex_t lock;	/* everything below */
	char *env;		/* malloc'd envelope, until rendered */
	size_t envlen;
	struct ec_fsmeta_key version;	/* env's version and digest, when */
	uint64_t digest;		/* it is the node's */
	int64_t opened_us;	/* classification time */
	bool ready;		/* data/len (or buf) hold the content */
	uint8_t *data;		/* ec_secure_alloc'd */
	size_t len;

	bool cached;		/* a snapshot through the page cache */
	bool live;		/* follows the node's saves */
	bool other;		/* read a version other than the node's */
	uint64_t seen_saves;	/* live: node->saves that data reflects */
	bool served;		/* a read was answered from data */
	bool unread;		/* a snapshot opened by a stat alone (a
				   shared store): env is read, if at all,
				   by the first read that reaches us */
	bool writable;
	bool append;		/* O_APPEND: every write goes to the end */
	bool dirty;		/* buf differs from what was last saved */
	bool written;		/* written or resized since open (see flush) */
	bool save_failed;	/* its last save failed (close said so), and
				   it has not changed since */
	enum ec_view wview;	/* how buf becomes data at a save */
	bool wbplist;		/* ec_view_parse_content()'s was_bplist */
	struct ec_sbuf buf;
};

/* A handle on n (not counted on n yet).  NULL on ENOMEM. */
struct handle *ec_handle_new(struct node *n, bool writable);
void ec_handle_free(struct handle *h);

/* The handles the kernel holds (open and create put them there, release
 * takes them out): a RELEASE still queued at the unmount never comes, so
 * the daemon releases what is left itself (ecfs_release_unreleased).
 * Untracking a handle never tracked is a no-op. */
void ec_handle_track(struct handle *h);
void ec_handle_untrack(struct handle *h);
/* One handle still tracked, taken out of the list; NULL when none. */
struct handle *ec_handle_untrack_any(void);

/* Count h on its node (fs->lock held): a writer, or a reader that is a
 * snapshot or live (ec_node_open_reader). */
void ec_handle_pin(struct handle *h);
/* Drop what h holds on its node (unsaved changes are lost with it). */
void ec_handle_unpin(struct ecfs *fs, struct handle *h);

/* How a writer's content becomes data at a save (see handle.c). */
void ec_handle_set_view(struct ecfs *fs, struct handle *h, bool existing,
			bool is_bplist);

/*
 * Prepare h, new and pinned, as open(2) with flags would on the existing
 * entry id, whose node the kernel knows as version want.  A complete
 * version or -ENOENT: bytes that are not the node's version are
 * classified now, and a half-written envelope is read again for a short
 * while.  h->other is set when the content is not want's version.
 */
int ec_handle_open(struct ecfs *fs, struct handle *h, const char *id,
		   const struct ec_fsmeta_key *want, int flags)
	__attribute__((warn_unused_result));

/* The content h reads or edits, loaded once (h->lock held).  A live
 * reader reads the node's last saved version as of its last read from
 * the start (restart): a read that goes on from an offset never mixes
 * two versions. */
int ec_handle_render(struct ecfs *fs, struct handle *h, bool restart)
	__attribute__((warn_unused_result));

/* Give the rendered content to h (ec_secure_alloc'd: h owns it now;
 * NULL, 0: empty); the envelope read for it goes. */
void ec_handle_adopt(struct handle *h, uint8_t *content, size_t len);

/* A snapshot through the page cache (h->cached) was read to its end: the
 * kernel likely holds its pages, and a later open of its version, when
 * settled, needs no read of the envelope (node->pages_full). */
void ec_handle_read_end(struct ecfs *fs, struct handle *h);

/* h's content changed (h->lock held, or h not shared yet). */
void ec_handle_changed(struct ecfs *fs, struct handle *h);

/* The length of a writing handle's content, or false when it is not one
 * (or has not loaded it yet). */
bool ec_handle_length(struct handle *h, size_t *len);

/*
 * Save h's content as its node's entry (h->lock held), atomically: on any
 * failure the previous version stays, and h stays dirty for a later
 * flush or fsync.  Nothing is saved for an unlinked node.  Then the
 * kernel is made to see the new version before the caller replies.
 */
int ec_handle_save(struct ecfs *fs, struct handle *h, bool durable)
	__attribute__((warn_unused_result));

/* Whether a flush saves h now (see ecfs_flush). */
bool ec_handle_flush_due(struct ecfs *fs, struct handle *h);

/* truncate(2) by path: a handle of its own, loaded, resized, saved. */
int ec_handle_truncate_path(struct ecfs *fs, struct node *n, const char *id,
			    size_t size) __attribute__((warn_unused_result));

#endif
