/*
 * fs: the enccachefs daemon's shared state, and the rules it keeps.
 * The daemon presents a cache directory as plain files with the FUSE
 * low-level API over the core (cache, store, view, ttl).  Its modules:
 *
 *   nodes.c     the node and name tables; lifecycle moves of nodes
 *   present.c   how an entry version is presented: loading, state,
 *               attributes, xattrs, reply timeouts (whether a reply may
 *               be cached), nodes for what a lookup or listing found
 *   inval.c     invalidation: the inotify callback, the notifier thread
 *   handle.c    open files: snapshots, live readers, write buffers
 *   handle_save.c a writer's buffer saved as a new envelope; truncate
 *   ops_read.c  lookup, forget, getattr, open, read, statfs
 *   ops_dir.c   opendir, readdir(plus), releasedir: listing snapshots,
 *               the helper threads that load their metadata ahead
 *   ops_write.c write, flush, release, fsync, setattr, create, mkdir,
 *               unlink, rmdir (and the refused ops)
 *   ops_rename.c rename
 *   replace.c   a file renamed over an entry, or put where one was
 *               renamed away (editors), saved as an overwrite of it
 *   clear.c     rmdir's removal of merely stale hidden envelopes
 *   recent.c    contents kept a moment after a metadata load
 *   inoread.c   reads without an open (-o ro on a watched local store:
 *               zero-message opens), served by inode
 *   xattr.c     user.enccache.* attributes, read and written
 *   conf.c      options and their checks, before anything is mounted
 *   main.c      wiring: keys, session, threads, the loop
 *   fsmeta.c    the metadata cache (per envelope version)
 *   mono.c      the monotonic clock, and waits by it
 *
 * Why the low-level API: every reply carries its own entry and attribute
 * timeouts, so the kernel can cache a name exactly until the entry's
 * expiry instant, and we own the inode numbers, so an outside change can
 * be invalidated by (directory inode, name).
 *
 * Liveness (an expired, added, rewritten or removed entry shows within a
 * second): a listing is kept by the kernel only while nothing it shows
 * can have changed: its directory watched, no outside change handled
 * since its snapshot (fs->gen) nor waiting in the inotify queue, no entry
 * it showed expired (ops_dir.c; changes through the mount the kernel sees
 * itself); misses are never cached
 * (ENOENT, not a negative entry); a positive entry is cached for
 * min(cache_timeout, time left until its expiry), the expiry the core
 * computed at load under the id's TTL rule (ttl_rules=), which
 * ec_entry_verdict() alone judges by (present.c); inotify (watch.c) on
 * every backing directory the kernel knows invalidates a name as soon as
 * its envelope changes (but for a save's own event: a name whose node
 * holds what a save through the mount wrote is dropped only when the
 * file's stat is another version's, inval.c); fs->gen counts outside changes, and a reply
 * computed while one was being handled is sent with zero timeouts, so an
 * invalidation is never overtaken by a stale reply.  cache_timeout=0 turns
 * all kernel caching (and inotify) off.  A reader's open of the version
 * its node knows checks it by one stat when its bytes were read settled
 * (EC_SETTLE_US after its ctime: handle.c) and the kernel holds its
 * pages, or its content was decrypted a moment ago; else by reading the
 * envelope and comparing its digest.  Nothing is decrypted either way.
 *
 * On a shared backing store (fs->net: a network or FUSE file system, or
 * net_timeout= given) other machines' changes raise no inotify event:
 * there is none, replies are cached for net_timeout (1 s) at most, and
 * revalidation is one stat: a lookup of a known entry (lookup_known in
 * ops_read.c), an open of the version the node knows (open_unread in
 * handle.c: nothing read while the kernel holds its pages); listings
 * are always readdirplus.  A version younger than EC_NET_SETTLE_US may
 * have been read stale from the network client's caches and is not
 * remembered (present.c).
 *
 * The backing directory is reached through the core only: `cache` for
 * anything that reads or writes an envelope's content, `store` for the
 * namespace (stat, list, mkdir, rmdir, rename, sync).  The store is the
 * layer that resolves ids safely (openat, O_NOFOLLOW, no `..`); routing
 * those calls through `cache` would only forward them.  No module here
 * makes a backing-directory syscall of its own, or does crypto, JSON or
 * plist work.
 *
 * ---- The file lifecycle ---------------------------------------------
 *
 * Nodes.  A directory node follows its backing directory.  An entry node
 * is the file the kernel has open or cached: it carries the envelope
 * version it last saw (key: dev, ino, size, mtime, ctime; info: state,
 * expiry, presented size).  When the envelope changes behind our back
 * (another process), the next lookup of the name makes a new node, so
 * whatever the kernel cached for the old one stays true of it.  When it
 * changes through a save of ours, the node takes the new version in
 * place (the kernel is made to drop its attributes and pages), so the
 * file keeps its inode, and its name, for every handle open on it; only
 * when readers of the old version through the page cache still hold the
 * node does the name get a new node instead (their pages stay right).
 *
 * Inode numbers.  st_ino is the file's, not the node's: a node made
 * anew for a name shows the number its previous node showed when it
 * stands for the same backing file (forgotten and looked up again, split
 * off for a writer or a save beside snapshot readers, rewritten in place
 * by another process); another file renamed over the envelope, or one
 * made anew, shows a new one (nodes.h: st_ino).
 *
 * Names.  rename(2) moves the node (and so every open handle's save
 * target) to the new name; a node renamed over, or unlinked, is
 * "unlinked": nothing is saved for it any more, and its handles read on
 * what they read.  A directory that holds a file being created (open,
 * not saved yet) is not empty: rmdir and renaming a directory over it
 * fail with ENOTEMPTY.
 *
 * Handles.  A read-only handle opened while nothing writes the node reads
 * through the page cache a snapshot of the version it opened (the kernel
 * asks us only once per page; warm opens decrypt nothing).  A read-only
 * handle opened while the node has writers, is being created, or has
 * such live readers already, is live: it reads the node's last saved
 * content (empty until the first save), so that st_size, which follows
 * the saves, matches what read() returns; a read that starts once a
 * save's envelope is in the backing directory waits for that save to
 * publish its content (node->nsaving).  A handle open for writing has
 * its own buffer: the content at open (empty with O_TRUNC and for a new
 * file), changed by its writes; with two writers the last close wins.
 * On a read-only mount of a watched local store files get no handle:
 * the kernel opens and closes them without a message, and a read that
 * reaches us is served by inode from a snapshot of the node's version,
 * or -EIO when the envelope is another version by then (inoread.h).
 *
 * Saves.  At every close(2) (flush) and fsync(2) a handle with unsaved
 * writes is saved: encrypted, written to a temp file and renamed over
 * the envelope, so readers (the Python module) see the old or the new
 * version, never a torn one; a failure is close()'s return value and
 * leaves the old envelope.  A file created or truncated and closed
 * without a write is saved at release instead (asynchronous, right after
 * the last close): `echo x > f` closes a duplicate descriptor before it
 * writes, and an empty entry must not show in between.  An overwrite
 * keeps the entry's key name and comment; a new entry uses key=.  A
 * release still queued when the file system goes (unmounted, or its
 * connection aborted) never comes: the daemon releases what is left as
 * it exits, and saves what those handles hold unsaved (written and not
 * closed too, unless its last save failed).
 *
 * Order.  A save holds fs->ns (shared) from the moment it takes the
 * node's name until the node records what was saved; rename, unlink and
 * rmdir hold it exclusively.  So a save never lands under a name its
 * file has just left, nor brings back an entry just removed.
 *
 * Readers of an envelope being rewritten in place (the Python module
 * truncates and writes the same file) get a complete version or ENOENT:
 * open checks that the bytes it read are the version its node knows
 * (their digest), else uses whatever complete version it read, and
 * retries briefly while the file is half-written.
 *
 * ---- Locks ------------------------------------------------------------
 *
 * A handle's lock, then fs->ns, then fs->lock, then the watch module's or
 * fsmeta's internal locks (the notifier's lock is never held with
 * another).  fs->lock guards the node tables, every node field and
 * fs->gen.  No notification is sent to the kernel with fs->lock held, no
 * reply is sent with fs->lock or fs->ns held, and nobody waits for a
 * notification holding fs->ns.  Nothing touches a handle after replying
 * to a request on it: release may free it at once.
 */
#ifndef EC_FS_FS_H
#define EC_FS_FS_H

#include <errno.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "cache.h"
#include "error.h"
#include "fsmeta.h"
#include "fsstats.h"
#include "inoread.h"
#include "nodes.h"
#include "recent.h"
#include "store.h"
#include "view.h"
#include "watch.h"

#define PROG "enccachefs"

struct ec_notifier;

/* What the daemon counts since it started (fsstats.h names them; the
 * JSON of user.enccache.stats on the mount root).  Relaxed atomics: a
 * reader sees each counter whole, not all of them at one instant. */
struct ecfs_stats {
	uint64_t v[EC_FSSTAT_N];
};

static inline void ecfs_count(struct ecfs_stats *st, enum ec_fsstat i,
			      uint64_t n)
{
	__atomic_fetch_add(&st->v[i], n, __ATOMIC_RELAXED);
}

/* replace.c: entries renamed away lately, and files that took their
 * place (see replace.h). */
#define EC_REPLACE_RECENT 16
struct ec_replace_recent {
	fuse_ino_t parent;	/* 0: the slot is free */
	char *name;
	fuse_ino_t node;	/* the file that claimed it, or 0 */
	char *key, *comment;
	bool bplist;
	int64_t at_us;
};

struct ecfs {
	struct ec_cache *cache;
	const struct ec_store *store;
	enum ec_view view;
	double timeout;		/* cache_timeout: kernel cache seconds */
	unsigned readahead_kb;	/* readahead=: asked for at INIT (0: not) */
	bool net;		/* shared backing store: no inotify, names
				   and attributes cached fs->timeout
				   (net_timeout) at most, see below */
	uid_t uid;
	gid_t gid;
	struct fuse_session *se;
	struct ec_fsmeta *meta;
	struct ec_recent *contents;	/* kept a moment (recent.h) */
	struct ec_watch *watch;

	pthread_rwlock_t ns;	/* saves (shared) against rename, unlink,
				   rmdir (exclusive); see above */
	pthread_mutex_t lock;
	pthread_cond_t published;	/* with lock: a save published what
					   it wrote (node->nsaving) */
	uint64_t gen;		/* bumped by every outside change */
	struct ec_nodes nodes;

	long notify_wait_ms;	/* see ec_inval_wait() */
	bool push;		/* an open may store pages (ops_read.c:
				   push_pages): not single-threaded, nor
				   on a shared store (main.c) */
	bool ro;		/* -o ro: every change is EROFS */
	bool no_open;		/* zero-message opens (inoread.h): set at
				   INIT, read-only on a watched local
				   store, when the kernel can */
	struct ec_inoread *inoread;	/* for them; NULL when they
					   cannot be */
	bool sync;		/* -o sync: every change is durable */
	bool strict_perms;	/* -o strict_perms: chmod/chown that would
				   change something are EPERM */
	bool set_times;		/* -o set_times: explicit utimensat times
				   set created_at */
	struct ecfs_stats stats;	/* atomic counters */
	int64_t unreachable_us;	/* atomic: ec_present_unreachable() */
	struct ec_replace_recent recent[EC_REPLACE_RECENT];	/* fs->lock */
	struct ec_notifier *notifier;
};

/* Whether what the kernel caches of n is kept true: by inotify on its
 * directory, or (a shared backing store, where no event tells another
 * host's changes) by the timeout alone, short and bounded.  Lock held. */
static inline bool ecfs_watched(const struct ecfs *fs, const struct node *n)
{
	return fs->net || n->wd >= 0;
}

static inline struct ecfs *ecfs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* The one way to answer with an error: err is 0 or a negative code of
 * ours or errno's (ec_errno maps ours). */
void ec_present_unreachable(struct ecfs *fs, int err);
static inline void ecfs_reply_err(fuse_req_t req, int err)
{
	int e = -ec_errno(err);

	if (e == ENOTCONN || e == ESHUTDOWN || e == EHOSTDOWN ||
	    e == EHOSTUNREACH || e == ENETDOWN || e == ENETUNREACH ||
	    e == ETIMEDOUT || e == ECONNREFUSED)
		ec_present_unreachable(ecfs_of(req), -e);
	fuse_reply_err(req, e);
}

/* ---- present.c: ec_present_unreachable(fs, err) logs that a request
 * failed with err because the backing store cannot be reached (a network
 * file system's server, a stopped brick): at most once in 10 s. */

/* Kinds of ec_fsmeta_once() questions: a problem is logged once. */
enum { EC_ONCE_BAD = 1, EC_ONCE_LOOSE = 2, EC_ONCE_WATCH = 3 };

/* ---- present.c ------------------------------------------------------ */

/* On a shared store, how long after its ctime a version may still be
 * read stale from the network client's caches (see present.c). */
#define EC_NET_SETTLE_US 3000000

/* Ids come from file names: control characters shown as '?'. */
void ec_fs_printable(const char *in, char *out, size_t size);

/* Count what hides an entry that is not shown (state of mi at now). */
void ec_present_count_hidden(struct ecfs *fs,
			     const struct ec_fsmeta_info *mi, int64_t now);

/* The JSON of the statistics (user.enccache.stats): *out malloc'd. */
int ec_present_stats(struct ecfs *fs, char **out, size_t *len)
	__attribute__((warn_unused_result));

/* Whether an entry with metadata mi is shown at now (the verdict of the
 * core: valid, and not expired since it was loaded). */
bool ec_present_shown(const struct ecfs *fs, const struct ec_fsmeta_info *mi,
		      int64_t now);

/*
 * Read, classify and render id's envelope at now (read again for a short
 * while when it is half-written), remember it in fsmeta
 * under the version actually read (*key), and say what it is (*mi).
 * hint: the version expected (used when the file could not be stat'ed).
 * With content, the rendered bytes of an entry that has data are handed
 * over (ec_secure_free; NULL when there are none).
 */
int ec_present_load(struct ecfs *fs, const char *id, int64_t now,
		    const struct ec_fsmeta_key *hint, struct ec_fsmeta_key *key,
		    struct ec_fsmeta_info *mi, uint8_t **content, size_t *clen)
	__attribute__((warn_unused_result));

/*
 * Classify and render envelope bytes env (read from id as version key)
 * at now, remember them in fsmeta, and say what they are.  content as
 * ec_present_load.  No I/O.
 */
void ec_present_bytes(struct ecfs *fs, const char *id, const char *env,
		      size_t envlen, const struct stat *st, int64_t now,
		      unsigned flags, struct ec_fsmeta_info *mi,
		      uint8_t **content, size_t *clen);

/* Classify and render envelope bytes of id (its TTL rule; NULL: the
 * global TTL) as of now, a stale entry's data included; nothing is
 * remembered.  content as ec_present_load. */
void ec_present_classify(struct ecfs *fs, const char *id, const char *env,
			 size_t envlen, int64_t now, struct ec_fsmeta_info *mi,
			 uint8_t **content, size_t *clen);

/* Whether mi, version key, looks like an envelope being written in place:
 * not a complete envelope, and empty or younger than a few seconds. */
bool ec_present_torn(const struct ec_fsmeta_info *mi,
		     const struct ec_fsmeta_key *key, int64_t now);
/* The pause between two reads of a torn envelope. */
void ec_present_pause(void);
/* Whether id's envelope is, by its stat (one system call), version key.
 * Only as good as the file system's times for a version written a moment
 * ago: a rewrite in place of the same size in the same clock tick looks
 * the same (an open tells it by the envelope's tag, handle.c). */
bool ec_present_is_version(const struct ecfs *fs, const char *id,
			   const struct ec_fsmeta_key *key);

/*
 * Remember in fsmeta what a big save (r->streamed), or a small one whose
 * stat is known (r->st), just wrote as id, data/len shown as they are,
 * without reading it back (which would mean decrypting it all again);
 * *key and *mi as ec_present_load gives them (and a small one's content
 * kept, as a load keeps it).
 * -EAGAIN when the data could be a binary plist (load it then).
 */
int ec_present_saved(struct ecfs *fs, const char *id,
		     const struct ec_save_result *r, const uint8_t *data,
		     size_t len, const char *comment, struct ec_fsmeta_key *key,
		     struct ec_fsmeta_info *mi)
	__attribute__((warn_unused_result));

/* Metadata of id's current version: from fsmeta when st (the backing
 * lstat, or NULL to stat now) is known, else loaded. */
int ec_present_meta(struct ecfs *fs, const char *id, const struct stat *st,
		    int64_t now, struct ec_fsmeta_key *key,
		    struct ec_fsmeta_info *mi)
	__attribute__((warn_unused_result));

/* What the kernel is told about n (fs->lock held; no I/O). */
void ec_present_attr(const struct ecfs *fs, const struct node *n,
		     struct stat *a);
/* How long the kernel may cache n: 0 unless cacheable, never past the
 * entry's expiry, never while it is being written. */
double ec_present_timeout(const struct ecfs *fs, const struct node *n,
			  int64_t now, bool cacheable);
void ec_present_entry(const struct ecfs *fs, const struct node *n,
		      int64_t now, bool cacheable,
		      struct fuse_entry_param *e);
/* The directory node for name under p whose backing directory is st,
 * watched; the entry node for version key.  fs->lock held. */
struct node *ec_present_dir_node(struct ecfs *fs, struct node *p,
				 const char *name, const char *id,
				 const struct stat *st);
struct node *ec_present_file_node(struct ecfs *fs, struct node *p,
				  const char *name,
				  const struct ec_fsmeta_key *key,
				  const struct ec_fsmeta_info *mi);

struct timespec ec_ts_of_us(int64_t us);
int64_t ec_us_of_ts(const struct timespec *ts);
void ec_attr_set_size(struct stat *a, size_t len);

/* ---- inval.c -------------------------------------------------------- */

/* How long a reply waits for its invalidation (inval.c explains). */
#define EC_NOTIFY_WAIT_MS 1000
#define EC_NOTIFY_WAIT_MS_SINGLE 10

/* The watch module's callback (watch thread): invalidate what changed. */
void ec_inval_on_watch(void *ctx, const struct ec_watch_event *ev, size_t n);

/* The notifier thread (see inval.c): made before fork, started after. */
struct ec_notifier *ec_notifier_new(struct fuse_session *se);
int ec_notifier_start(struct ec_notifier *nt)
	__attribute__((warn_unused_result));
void ec_notifier_free(struct ec_notifier *nt);

/* Queue an invalidation: of name under parent, or (name NULL) of ino's
 * attributes (pages too with pages).  Returns its sequence number, 0 when
 * none was queued.  ec_inval_wait() waits (bounded) until it was sent. */
uint64_t ec_inval_queue(struct ecfs *fs, fuse_ino_t parent, const char *name,
			fuse_ino_t ino, bool pages);
void ec_inval_wait(struct ecfs *fs, uint64_t seq);

#endif
