/*
 * fs: the enccachefs daemon.  Presents a cache directory as plain files,
 * with the FUSE low-level API over the core (cache, store, view, ttl).
 *
 * Why the low-level API: every reply carries its own entry and attribute
 * timeouts, so the kernel can cache a name exactly until the entry's
 * expiry instant (no timer needed), and we own the inode numbers, so an
 * outside change can be invalidated by (directory inode, name) with
 * fuse_lowlevel_notify_inval_entry().  The high-level API has one global
 * timeout and fuse_invalidate_path() only drops attributes and pages.
 *
 * Liveness (an expired, added, rewritten or removed entry shows within a
 * second) comes from:
 *   - readdir is never cached by the kernel: each listing asks us;
 *   - misses are never cached (lookup answers ENOENT, not a negative
 *     entry), so a new entry is found at once;
 *   - a positive entry is cached for min(cache_timeout, time left until
 *     its expiry), so it drops out of the kernel's cache by itself;
 *   - inotify (watch.c) on every backing directory the kernel knows
 *     about invalidates a name as soon as its envelope changes;
 *   - a node (inode) stands for one version of an envelope: when the
 *     backing file changes, the next lookup makes a new node, so pages
 *     and sizes cached for an inode never go stale (keep_cache is always
 *     safe), and an open file keeps its own inode and contents;
 *   - fs->gen counts outside changes: a reply computed while one was
 *     being handled (or from a listing older than one) is sent with zero
 *     timeouts, so an invalidation can never be overtaken by a stale reply.
 * cache_timeout=0 turns all kernel caching (and inotify) off.
 *
 * Cost: an envelope is decrypted when its metadata is first needed (size
 * for lookup/readdirplus; kept in fsmeta per version), and when a read of
 * an open file reaches us (the kernel's page cache serves the rest).
 *
 * Writing: a handle opened for writing edits the content in a guarded
 * buffer (struct handle) and saves it with the core's atomic save at
 * flush (every close) and fsync.  A save makes a new version, so a new
 * node: before flush replies, the kernel is made to drop the name's old
 * node (the notifier thread, below), so `cat` and `stat` right after
 * close() show the new version.  A file created through the mount is a
 * pending node, with no envelope until its first save.  Metadata-only
 * changes (setxattr, utimens) keep the content, so the node follows its
 * envelope to the new version.
 *
 * Locks: fs->lock guards the node table and fs->gen.  Order: a handle's
 * lock, then fs->lock, then the watch module's or fsmeta's internal locks
 * (the notifier's lock is never held with another).  No notification is
 * sent to the kernel with fs->lock held, and no reply is sent with
 * fs->lock held.  Nothing touches a handle after replying to a request
 * on it: release may free it at once.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "error.h"
#include "fsmeta.h"
#include "secrets.h"
#include "secure.h"
#include "store.h"
#include "ttl.h"
#include "view.h"
#include "watch.h"

#define PROG "enccachefs"
#define TIMEOUT_DEFAULT 60.0	/* seconds the kernel may cache a name */
#define SALT_FILE_MAX (1u << 20)
#define UNKNOWN_INO 0xffffffffu	/* d_ino of a plain readdir entry */

/* ---- nodes --------------------------------------------------------- */

/*
 * A node is what the kernel knows as an inode: a directory, or one version
 * of an entry.  It lives while the kernel holds lookups on it, a child
 * node points to it, or a handle is open on it.
 */
struct node {
	fuse_ino_t ino;
	struct node *parent;	/* counts in parent->nchildren */
	char *name;
	bool is_dir;
	bool hashed;		/* found by (parent, name) */
	uint64_t nlookup;	/* the kernel's references */
	unsigned nchildren;
	unsigned nopen;		/* open handles */
	struct ec_fsmeta_key key;	/* backing version (dirs: dev, ino
					   and the times for attributes) */
	struct ec_fsmeta_info info;	/* entries: what was loaded */
	int wd;			/* dirs: inotify watch, or -1 */
	struct node *ino_next, *name_next, *wd_next;

	/* Writing (entries).  A node created through the mount is pending
	 * until its first save: it has no envelope yet, and is found by
	 * lookup only while a handle is open on it. */
	bool pending;
	bool unlinked;		/* removed or replaced: nothing saves it */
	unsigned nwriters;	/* open handles that may write */
	unsigned ndirty;	/* of those, handles with unsaved changes */
	unsigned ncached;	/* open handles that read through the page
				   cache (see ecfs_open) */
	uint64_t wlen;		/* length of the last changed buffer */
	int64_t wtime_us;	/* and when it changed */
	/* For the next save: created_at (utimens on a node being written;
	 * EC_TIME_NONE: now), and, for a pending node, the comment and
	 * validasof set by setxattr (malloc'd, or NULL when unset). */
	int64_t next_created_us;
	char *next_comment;
	char *next_validasof;
};

#define WD_BUCKETS 1024

struct ecfs {
	struct ec_cache *cache;
	const struct ec_store *store;
	enum ec_view view;
	double timeout;		/* cache_timeout: kernel cache seconds */
	uid_t uid;
	gid_t gid;
	struct fuse_session *se;
	struct ec_fsmeta *meta;
	struct ec_watch *watch;

	pthread_mutex_t lock;
	uint64_t gen;		/* bumped by every outside change */
	fuse_ino_t next_ino;
	size_t nnodes;
	struct node **by_ino;
	size_t ino_buckets;
	struct node **by_name;
	size_t name_buckets;
	size_t nhashed;
	struct node *by_wd[WD_BUCKETS];
	struct node root;

	long notify_wait_ms;	/* see notify_wait() */
	bool ro;		/* -o ro: every change is EROFS */
	bool sync;		/* -o sync: every change is durable */
	struct notifier *notifier;
};

/*
 * An open file.  Open reads the envelope (ciphertext: not a secret) and
 * checks that it is the node's version and valid; the first read that
 * reaches us decrypts and renders it into guarded memory.  So a file
 * whose pages the kernel still caches is not decrypted again, and the
 * handle keeps its version readable until release, whatever happens to
 * the backing file.
 *
 * A handle that may write (opened for writing, or with O_TRUNC) holds
 * the content in buf instead, a guarded buffer it edits: loaded from the
 * envelope on first use (empty after O_TRUNC, or for a new entry), saved
 * by flush or fsync when dirty, wiped on release.  Such a handle is
 * direct_io: its reads and writes bypass the page cache and reach buf,
 * so it sees its own writes and the cached pages of the node's version
 * stay that version's.
 *
 * The kernel's inode (its size, which bounds page-cache reads, and its
 * pages) is shared by every handle of a node, and a writer changes the
 * size (O_TRUNC, writes).  So a writer never shares a node with a handle
 * that reads through the page cache (ecfs_open gives it a new node), and
 * a reader that opens while a node has writers (or is pending) reads
 * directly too.
 */
struct handle {
	struct node *node;	/* pinned by node->nopen */
	pthread_mutex_t lock;	/* everything below */
	char *env;		/* malloc'd envelope, until rendered */
	size_t envlen;
	int64_t opened_us;	/* classification time */
	bool ready;		/* data/len (or buf) hold the content */
	uint8_t *data;		/* ec_secure_alloc'd */
	size_t len;

	bool cached;		/* reads go through the page cache */
	bool writable;
	bool append;		/* O_APPEND: every write goes to the end */
	bool dirty;		/* buf differs from what was last saved */
	bool written;		/* written or resized since open (see flush) */
	enum ec_view wview;	/* how buf becomes data at a save */
	bool wbplist;		/* ec_view_parse_content()'s was_bplist */
	struct ec_sbuf buf;
};

/* A directory stream: a snapshot of the backing listing. */
struct snap_item {
	char *name;
	bool is_dir;
	struct stat st;
};

struct dirh {
	struct snap_item *v;
	size_t n, cap;
	bool loaded;
	uint64_t gen;		/* fs->gen when the snapshot was taken */
};

static struct ecfs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static size_t hash_ino(fuse_ino_t ino)
{
	uint64_t h = ino * 0x9e3779b97f4a7c15ull;

	return (size_t)(h ^ (h >> 32));
}

static size_t hash_name(fuse_ino_t parent, const char *name)
{
	uint64_t h = 1469598103934665603ull ^ parent;

	for (; *name; name++) {
		h ^= (unsigned char)*name;
		h *= 1099511628211ull;
	}
	return (size_t)(h ^ (h >> 32));
}

/* Double a chained table when it holds more items than buckets. */
static void grow_ino(struct ecfs *fs)
{
	size_t nb = fs->ino_buckets * 2, i;
	struct node **t;

	if (fs->nnodes <= fs->ino_buckets)
		return;
	t = calloc(nb, sizeof(*t));
	if (!t)
		return;		/* keep the longer chains */
	for (i = 0; i < fs->ino_buckets; i++) {
		while (fs->by_ino[i]) {
			struct node *n = fs->by_ino[i];

			fs->by_ino[i] = n->ino_next;
			n->ino_next = t[hash_ino(n->ino) & (nb - 1)];
			t[hash_ino(n->ino) & (nb - 1)] = n;
		}
	}
	free(fs->by_ino);
	fs->by_ino = t;
	fs->ino_buckets = nb;
}

static void grow_name(struct ecfs *fs)
{
	size_t nb = fs->name_buckets * 2, i;
	struct node **t;

	if (fs->nhashed <= fs->name_buckets)
		return;
	t = calloc(nb, sizeof(*t));
	if (!t)
		return;
	for (i = 0; i < fs->name_buckets; i++) {
		while (fs->by_name[i]) {
			struct node *n = fs->by_name[i];
			size_t h = hash_name(n->parent->ino, n->name) &
				   (nb - 1);

			fs->by_name[i] = n->name_next;
			n->name_next = t[h];
			t[h] = n;
		}
	}
	free(fs->by_name);
	fs->by_name = t;
	fs->name_buckets = nb;
}

/* Lock held for all node_* functions. */
static struct node *node_get(struct ecfs *fs, fuse_ino_t ino)
{
	struct node *n;

	if (ino == FUSE_ROOT_ID)
		return &fs->root;
	n = fs->by_ino[hash_ino(ino) & (fs->ino_buckets - 1)];
	while (n && n->ino != ino)
		n = n->ino_next;
	return n;
}

static struct node *node_child(struct ecfs *fs, struct node *p,
			       const char *name)
{
	struct node *n;

	n = fs->by_name[hash_name(p->ino, name) & (fs->name_buckets - 1)];
	while (n && (n->parent != p || strcmp(n->name, name) != 0))
		n = n->name_next;
	return n;
}

static void node_unhash(struct ecfs *fs, struct node *n)
{
	struct node **pp;

	if (!n->hashed)
		return;
	pp = &fs->by_name[hash_name(n->parent->ino, n->name) &
			  (fs->name_buckets - 1)];
	while (*pp != n)
		pp = &(*pp)->name_next;
	*pp = n->name_next;
	n->hashed = false;
	fs->nhashed--;
}

static void wd_link(struct ecfs *fs, struct node *n)
{
	struct node **b = &fs->by_wd[(unsigned)n->wd % WD_BUCKETS];

	n->wd_next = *b;
	*b = n;
}

static void wd_unlink(struct ecfs *fs, struct node *n)
{
	struct node **pp = &fs->by_wd[(unsigned)n->wd % WD_BUCKETS];

	while (*pp && *pp != n)
		pp = &(*pp)->wd_next;
	if (*pp)
		*pp = n->wd_next;
	n->wd_next = NULL;
}

/* A new node named name under p, hashed.  NULL on ENOMEM. */
static struct node *node_new(struct ecfs *fs, struct node *p,
			     const char *name, bool is_dir)
{
	struct node *n = calloc(1, sizeof(*n));
	size_t h;

	if (!n)
		return NULL;
	n->name = strdup(name);
	if (!n->name) {
		free(n);
		return NULL;
	}
	n->ino = fs->next_ino++;
	n->parent = p;
	n->is_dir = is_dir;
	n->wd = -1;
	n->next_created_us = EC_TIME_NONE;
	p->nchildren++;
	h = hash_ino(n->ino) & (fs->ino_buckets - 1);
	n->ino_next = fs->by_ino[h];
	fs->by_ino[h] = n;
	fs->nnodes++;
	h = hash_name(p->ino, name) & (fs->name_buckets - 1);
	n->name_next = fs->by_name[h];
	fs->by_name[h] = n;
	n->hashed = true;
	fs->nhashed++;
	grow_ino(fs);
	grow_name(fs);
	return n;
}

static void node_free(struct node *n)
{
	free(n->next_comment);
	free(n->next_validasof);
	free(n->name);
	free(n);
}

/* Free n, and then its parent, when nothing refers to them any more. */
static void node_put(struct ecfs *fs, struct node *n)
{
	while (n && n != &fs->root && n->nlookup == 0 &&
	       n->nchildren == 0 && n->nopen == 0) {
		struct node *p = n->parent, **pp;

		node_unhash(fs, n);
		pp = &fs->by_ino[hash_ino(n->ino) & (fs->ino_buckets - 1)];
		while (*pp != n)
			pp = &(*pp)->ino_next;
		*pp = n->ino_next;
		fs->nnodes--;
		if (n->wd >= 0) {
			wd_unlink(fs, n);
			ec_watch_remove(fs->watch, n->wd);
		}
		node_free(n);
		p->nchildren--;
		n = p;
	}
}

/* Move n to name under np (rename), hashed there.  -ENOMEM leaves n
 * where it was, unhashed.  Lock held. */
static int node_move(struct ecfs *fs, struct node *n, struct node *np,
		     const char *name)
{
	struct node *op = n->parent;
	char *nm = strdup(name);
	size_t h;

	node_unhash(fs, n);
	if (!nm)
		return -ENOMEM;
	free(n->name);
	n->name = nm;
	np->nchildren++;
	n->parent = np;
	h = hash_name(np->ino, nm) & (fs->name_buckets - 1);
	n->name_next = fs->by_name[h];
	fs->by_name[h] = n;
	n->hashed = true;
	fs->nhashed++;
	grow_name(fs);
	op->nchildren--;
	node_put(fs, op);
	return 0;
}

/* The id (path below the cache dir) of n, "" for the root. */
static int node_path(const struct node *n, char *buf, size_t size)
{
	size_t pos = size - 1;

	buf[pos] = '\0';
	for (; n->parent; n = n->parent) {
		size_t len = strlen(n->name);

		if (len + 1 > pos)
			return -ENAMETOOLONG;
		pos -= len;
		memcpy(buf + pos, n->name, len);
		if (n->parent->parent)
			buf[--pos] = '/';
	}
	memmove(buf, buf + pos, size - pos);
	return 0;
}

/* The id of name in directory dir ("" = the root). */
static int child_path_str(const char *dir, const char *name, char *buf,
			  size_t size)
{
	size_t dl = strlen(dir), nl = strlen(name);

	if (dl + 1 + nl + 1 > size)
		return -ENAMETOOLONG;
	memmove(buf, dir, dl);
	if (dl)
		buf[dl++] = '/';
	memcpy(buf + dl, name, nl + 1);
	return 0;
}

/* The id of name under p. */
static int child_path(const struct node *p, const char *name, char *buf,
		      size_t size)
{
	int err = node_path(p, buf, size);

	return err ? err : child_path_str(buf, name, buf, size);
}

/* ---- logging ------------------------------------------------------- */

/* Ids come from file names: show control characters as '?'. */
static void printable(const char *in, char *out, size_t size)
{
	size_t i;

	for (i = 0; in[i] && i + 1 < size; i++)
		out[i] = ((unsigned char)in[i] < 0x20 || in[i] == 0x7f) ?
			 '?' : in[i];
	out[i] = '\0';
}

enum { ONCE_BAD = 1, ONCE_LOOSE = 2, ONCE_WATCH = 3 };

static void report_loose(struct ecfs *fs, const char *id, bool is_dir,
			 const struct stat *st)
{
	char shown[PATH_MAX];

	/* Once per file and mode, not per version: rewriting a loose file
	 * in place keeps it loose, and that is worth one line. */
	if (!(st->st_mode & 077) ||
	    !ec_fsmeta_once(fs->meta, st->st_dev, st->st_ino,
			    (int64_t)st->st_mode, ONCE_LOOSE))
		return;
	printable(*id ? id : ".", shown, sizeof(shown));
	fuse_log(FUSE_LOG_WARNING, PROG ": %s '%s' is accessible by group or "
		 "others (mode %04o); shown as %s\n", is_dir ? "directory" :
		 "entry", shown, (unsigned)(st->st_mode & 07777),
		 is_dir ? "0700" : "0600");
}

/* ---- entries ------------------------------------------------------- */

static bool info_valid(const struct ec_fsmeta_info *mi, int64_t now)
{
	return mi->state == EC_STATE_VALID && now <= mi->expires_us;
}

enum { X_KEY, X_CREATED, X_EXPIRES, X_COMMENT, X_VALIDASOF, X_FORMAT, X_N };

/* Data that does not start with the binary plist magic is shown raw under
 * every view: its size is its length, and nothing needs rendering.  (Data
 * that does start with it may still not parse: the view decides.) */
static bool may_be_bplist(const uint8_t *data, size_t len)
{
	return len >= 8 && memcmp(data, "bplist", 6) == 0;
}

/*
 * Present e, an envelope of id just classified, under the mount's view:
 * *mi gets its state, expiry and rendered size.  With content, the
 * rendered bytes of an entry that has data (a valid one, or a stale one
 * loaded with EC_LOAD_STALE_OK) are handed over (ec_secure_free), and true
 * is returned; e->data may be taken for that.  No I/O.
 */
static bool entry_render(struct ecfs *fs, struct ec_entry *e,
			 struct ec_fsmeta_info *mi, uint8_t **content,
			 size_t *clen)
{
	uint8_t *out = NULL;
	size_t outlen = 0;
	bool bp = false;
	int err;

	memset(mi, 0, sizeof(*mi));
	mi->state = e->state;
	mi->reason = e->reason;
	mi->created_us = e->created_us;
	mi->expires_us = e->expires_us;
	if (!e->data)
		return false;
	if (fs->view == EC_VIEW_RAW || !may_be_bplist(e->data, e->len)) {
		bp = fs->view == EC_VIEW_RAW &&
		     may_be_bplist(e->data, e->len) &&
		     ec_view_is_bplist(e->data, e->len);
		mi->size = e->len;
		mi->is_bplist = bp;
		if (!content)
			return false;
		*content = e->data;	/* shown as it is */
		*clen = e->len;
		e->data = NULL;
		return true;
	}
	err = ec_view_render(fs->view, e->data, e->len, &out, &outlen, &bp);
	if (err) {
		if (e->state == EC_STATE_VALID) {
			mi->state = EC_STATE_CORRUPT;
			mi->reason = err;
		}
		return false;
	}
	mi->size = outlen;
	mi->is_bplist = bp;
	if (!content) {
		ec_secure_free(out);
		return false;
	}
	*content = out;
	*clen = outlen;
	return true;
}

#define YOUNG_US 2000000	/* a file this new may still be being written */

/*
 * Remember in fsmeta what e (id's envelope, version key, classified at
 * now and rendered into *mi) is, with its extended attributes.  Logs a
 * bad (not merely stale) envelope, and loose modes, once per version.
 *
 * The Python module writes in place, so a reader often sees an envelope
 * cut short.  While such a file is young (or empty: the truncation's new
 * size shows before its new mtime) it is hidden without a word and not
 * remembered: it is read again next time, and logged only if it is still
 * incomplete once it is YOUNG_US old.
 */
static void entry_record(struct ecfs *fs, const char *id,
			 const struct ec_entry *e,
			 const struct ec_fsmeta_key *key,
			 const struct ec_fsmeta_info *mi, int64_t now)
{
	struct ec_fsmeta_xattr x[X_N];
	char expires[EC_TIME_ISO_MAX];
	size_t nx = 0;

	if (mi->state == EC_STATE_CORRUPT && mi->reason == -EC_EJSON &&
	    (key->size == 0 || now - key->mtime_ns / 1000 < YOUNG_US))
		return;
	if (mi->state != EC_STATE_VALID && mi->state != EC_STATE_STALE &&
	    ec_fsmeta_once(fs->meta, key->dev, key->ino, key->ctime_ns,
			   ONCE_BAD)) {
		char shown[PATH_MAX];

		printable(id, shown, sizeof(shown));
		fuse_log(FUSE_LOG_WARNING, PROG ": hiding '%s': %s (%s)\n",
			 shown, ec_state_name(mi->state),
			 ec_strerror(mi->reason));
	}
	if (mi->state == EC_STATE_VALID) {
		report_loose(fs, id, false, &e->st);
		x[nx++] = (struct ec_fsmeta_xattr){ "user.enccache.key",
						    e->env.key };
		if (e->env.created_at)
			x[nx++] = (struct ec_fsmeta_xattr){
				"user.enccache.created_at", e->env.created_at };
		if (mi->expires_us == EC_TIME_NEVER)
			strcpy(expires, "never");
		else
			ec_time_format_iso(mi->expires_us, expires);
		x[nx++] = (struct ec_fsmeta_xattr){ "user.enccache.expires_at",
						    expires };
		if (e->env.comment)
			x[nx++] = (struct ec_fsmeta_xattr){
				"user.enccache.comment", e->env.comment };
		if (e->validasof)
			x[nx++] = (struct ec_fsmeta_xattr){
				"user.enccache.validasof", e->validasof };
		x[nx++] = (struct ec_fsmeta_xattr){ "user.enccache.format",
						    mi->is_bplist ? "bplist" :
						    "raw" };
	}
	/* A failed put only costs a reload later. */
	if (ec_fsmeta_put(fs->meta, key, mi, x, nx) < 0)
		fuse_log(FUSE_LOG_DEBUG, PROG ": metadata cache: out of "
			 "memory\n");
}

/*
 * Read, classify and render id's envelope at now, and remember it (see
 * entry_record) under the version actually read, *key.  hint: the version
 * expected (used when the file could not be stat'ed).  With content, as
 * entry_render.
 */
static int entry_load(struct ecfs *fs, const char *id, int64_t now,
		      const struct ec_fsmeta_key *hint,
		      struct ec_fsmeta_key *key, struct ec_fsmeta_info *mi,
		      uint8_t **content, size_t *clen)
{
	struct ec_entry e;
	int err;

	err = ec_cache_load(fs->cache, id, EC_LOAD_DATA, now, &e);
	if (err)
		return err;
	if (e.st.st_ino)
		ec_fsmeta_key_of(key, &e.st);
	else if (hint)
		*key = *hint;
	else
		memset(key, 0, sizeof(*key));
	(void)entry_render(fs, &e, mi, content, clen);
	entry_record(fs, id, &e, key, mi, now);
	ec_entry_release(&e);
	return 0;
}

/* Metadata of id's current version: from fsmeta when st (the backing
 * lstat, or NULL to stat now) is known, else loaded. */
static int entry_meta(struct ecfs *fs, const char *id, const struct stat *st,
		      int64_t now, struct ec_fsmeta_key *key,
		      struct ec_fsmeta_info *mi)
{
	struct stat own;
	struct ec_fsmeta_key hint;
	int err;

	if (!st) {
		err = ec_store_stat_entry(fs->store, id, &own);
		if (err)
			return err;
		st = &own;
	}
	ec_fsmeta_key_of(&hint, st);
	if (ec_fsmeta_get(fs->meta, &hint, mi)) {
		*key = hint;
		return 0;
	}
	return entry_load(fs, id, now, &hint, key, mi, NULL, NULL);
}

static struct timespec ts_of_us(int64_t us)
{
	struct timespec ts;
	int64_t s = us / 1000000, r = us % 1000000;

	if (r < 0) {
		r += 1000000;
		s--;
	}
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)(r * 1000);
	return ts;
}

static struct timespec ts_of_ns(int64_t ns)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ns / 1000000000);
	ts.tv_nsec = (long)(ns % 1000000000);
	if (ts.tv_nsec < 0) {
		ts.tv_nsec += 1000000000;
		ts.tv_sec--;
	}
	return ts;
}

/* What the kernel is told about n.  No I/O. */
static void node_attr(const struct ecfs *fs, const struct node *n,
		      struct stat *a)
{
	memset(a, 0, sizeof(*a));
	a->st_ino = n->ino;
	a->st_uid = fs->uid;
	a->st_gid = fs->gid;
	a->st_blksize = 4096;
	if (n->is_dir) {
		a->st_mode = S_IFDIR | 0700;
		a->st_nlink = 2;
		a->st_size = n->key.size;
		a->st_mtim = ts_of_ns(n->key.mtime_ns);
		a->st_ctim = ts_of_ns(n->key.ctime_ns);
		a->st_atim = a->st_mtim;
	} else {
		/* While a handle has unsaved changes, the file is what it
		 * last wrote (POSIX: a write shows at once). */
		uint64_t size = n->ndirty ? n->wlen : n->info.size;

		a->st_mode = S_IFREG | 0600;
		a->st_nlink = 1;
		a->st_size = (off_t)size;
		a->st_blocks = (blkcnt_t)((size + 511) / 512);
		if (n->ndirty)
			a->st_mtim = ts_of_us(n->wtime_us);
		else if (n->info.created_us != EC_TIME_NONE)
			a->st_mtim = ts_of_us(n->info.created_us);
		else
			a->st_mtim = ts_of_ns(n->key.mtime_ns);
		a->st_atim = a->st_ctim = a->st_mtim;
	}
}

/* How long the kernel may cache n: 0 unless cacheable, never past the
 * entry's expiry, never while it is being written (its size changes at
 * each save, and a pending node may vanish). */
static double node_timeout(const struct ecfs *fs, const struct node *n,
			   int64_t now, bool cacheable)
{
	double t = cacheable ? fs->timeout : 0;

	if (!n->is_dir && (n->nwriters || n->pending))
		return 0;

	if (!n->is_dir && n->info.expires_us != EC_TIME_NEVER) {
		double left = (double)(n->info.expires_us - now) / 1e6;

		if (left < t)
			t = left;
	}
	return t > 0 ? t : 0;
}

static void fill_entry(const struct ecfs *fs, const struct node *n,
		       int64_t now, bool cacheable, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = n->ino;
	node_attr(fs, n, &e->attr);
	e->entry_timeout = e->attr_timeout = node_timeout(fs, n, now,
							  cacheable);
}

/* The directory node for name under p whose backing directory is st,
 * watched.  Lock held. */
static struct node *node_dir(struct ecfs *fs, struct node *p,
			     const char *name, const char *id,
			     const struct stat *st)
{
	struct node *n = node_child(fs, p, name);

	if (n && (!n->is_dir || n->key.dev != (uint64_t)st->st_dev ||
		  n->key.ino != (uint64_t)st->st_ino)) {
		node_unhash(fs, n);
		n = NULL;
	}
	if (!n) {
		int err;

		n = node_new(fs, p, name, true);
		if (!n)
			return NULL;
		/* Without kernel caching there is nothing to invalidate.  An
		 * unwatched directory's entries are answered uncached. */
		err = fs->timeout > 0 ? ec_watch_add(fs->watch, id, &n->wd) : 0;
		if (n->wd >= 0) {
			wd_link(fs, n);
		} else if (err && ec_fsmeta_once(fs->meta, st->st_dev,
						 st->st_ino, 0, ONCE_WATCH)) {
			char shown[PATH_MAX];

			printable(id, shown, sizeof(shown));
			fuse_log(FUSE_LOG_WARNING, PROG ": cannot watch "
				 "directory '%s': %s; its entries are not "
				 "cached by the kernel\n", shown,
				 ec_strerror(err));
		}
		report_loose(fs, id, true, st);
	}
	ec_fsmeta_key_of(&n->key, st);
	return n;
}

/* A node created through the mount, not saved yet, still open. */
static bool node_live_pending(const struct node *n)
{
	return !n->is_dir && n->pending && !n->unlinked && n->nopen > 0;
}

/* The node for the entry version key under p.  Lock held. */
static struct node *node_file(struct ecfs *fs, struct node *p,
			      const char *name,
			      const struct ec_fsmeta_key *key,
			      const struct ec_fsmeta_info *mi)
{
	struct node *n = node_child(fs, p, name);

	if (n && (n->is_dir || !ec_fsmeta_key_equal(&n->key, key))) {
		node_unhash(fs, n);
		n = NULL;
	}
	if (!n) {
		n = node_new(fs, p, name, false);
		if (!n)
			return NULL;
		n->key = *key;
	}
	n->info = *mi;
	return n;
}

/* ---- the watch callback (watch thread) ----------------------------- */

struct inval {
	fuse_ino_t parent;
	char *name;
};

struct invals {
	struct inval *v;
	size_t n, cap;
};

static void inval_add(struct invals *iv, fuse_ino_t parent, const char *name)
{
	if (iv->n == iv->cap) {
		size_t cap = iv->cap ? iv->cap * 2 : 16;
		struct inval *v = realloc(iv->v, cap * sizeof(*v));

		if (!v)
			return;	/* the timeouts still bound the damage */
		iv->v = v;
		iv->cap = cap;
	}
	iv->v[iv->n].name = strdup(name);
	if (!iv->v[iv->n].name)
		return;
	iv->v[iv->n].parent = parent;
	iv->n++;
}

/* The name shown for a backing file name, or NULL when it is not shown. */
static const char *shown_name(const struct ecfs *fs, const char *bname,
			      unsigned what, char *buf, size_t size)
{
	size_t len = strlen(bname), sl = fs->store->suffix_len;

	if (what & EC_WATCH_ISDIR)
		return bname;
	if (len <= sl || len - sl >= size ||
	    strcmp(bname + len - sl, fs->store->suffix) != 0)
		return NULL;
	memcpy(buf, bname, len - sl);
	buf[len - sl] = '\0';
	return buf;
}

static void on_watch(void *ctx, const struct ec_watch_event *ev, size_t n)
{
	struct ecfs *fs = ctx;
	struct invals iv = { NULL, 0, 0 };
	size_t i;

	pthread_mutex_lock(&fs->lock);
	fs->gen++;
	for (i = 0; i < n; i++) {
		struct node *d, *next;

		if (ev[i].what & EC_WATCH_OVERFLOW) {
			size_t b;

			for (b = 0; b < fs->name_buckets; b++)
				for (d = fs->by_name[b]; d; d = d->name_next)
					inval_add(&iv, d->parent->ino, d->name);
			continue;
		}
		if (ev[i].wd < 0)
			continue;
		for (d = fs->by_wd[(unsigned)ev[i].wd % WD_BUCKETS]; d;
		     d = next) {
			char buf[NAME_MAX + 1];
			const char *name;

			next = d->wd_next;
			if (d->wd != ev[i].wd)
				continue;
			if ((ev[i].what & (EC_WATCH_SELF | EC_WATCH_GONE)) &&
			    d->parent)
				inval_add(&iv, d->parent->ino, d->name);
			if (ev[i].what & EC_WATCH_CHANGED) {
				name = shown_name(fs, ev[i].name, ev[i].what,
						  buf, sizeof(buf));
				if (name)
					inval_add(&iv, d->ino, name);
			}
			if (ev[i].what & EC_WATCH_GONE) {
				wd_unlink(fs, d);
				d->wd = -1;
			}
		}
	}
	pthread_mutex_unlock(&fs->lock);

	for (i = 0; i < iv.n; i++) {
		/* -ENOENT (not cached) is the common, harmless answer. */
		fuse_lowlevel_notify_inval_entry(fs->se, iv.v[i].parent,
						 iv.v[i].name,
						 strlen(iv.v[i].name));
		free(iv.v[i].name);
	}
	free(iv.v);
}

/* ---- invalidations the replies wait for (notifier thread) ---------- */

/*
 * After a change through the mount, the kernel may still cache the name
 * as the old version's node (for up to cache_timeout), or the node's old
 * attributes.  The reply to flush, setattr or setxattr waits until the
 * kernel has dropped them, so that the next `cat` or `stat` shows the new
 * version.  fuse_lowlevel_notify_inval_entry() takes the directory's lock
 * in the kernel, and that lock may be held by a process whose request
 * waits for one of our worker threads (the only one, with -s): sent from
 * a handler, it could deadlock.  So a thread of its own sends them, and
 * the handler waits at most NOTIFY_WAIT_MS: in the rare case that would
 * deadlock, the reply goes out late and the notification follows it.
 * Single-threaded (-s), that case is common (any concurrent lookup or
 * create in the directory), so the wait is short there: a cat or stat
 * right after a close still sees the new version unless another request
 * was in flight.
 */
#define NOTIFY_WAIT_MS 1000
#define NOTIFY_WAIT_MS_SINGLE 10

struct notice {
	struct notice *next;
	fuse_ino_t parent;	/* inval_entry(parent, name), or, when 0, */
	fuse_ino_t ino;		/* inval_inode(ino): attributes only */
	char *name;
	uint64_t seq;
};

struct notifier {
	struct fuse_session *se;
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* queued, done, or stopping */
	struct notice *head, *tail;
	uint64_t queued, done;
	bool running, stop;
	pthread_t thread;
};

static void *notifier_main(void *arg)
{
	struct notifier *nt = arg;

	pthread_mutex_lock(&nt->lock);
	while (!nt->stop) {
		struct notice *q = nt->head;

		if (!q) {
			pthread_cond_wait(&nt->cond, &nt->lock);
			continue;
		}
		nt->head = q->next;
		if (!nt->head)
			nt->tail = NULL;
		pthread_mutex_unlock(&nt->lock);
		/* -ENOENT (not cached) is the common, harmless answer. */
		if (q->parent)
			fuse_lowlevel_notify_inval_entry(nt->se, q->parent,
							 q->name,
							 strlen(q->name));
		else
			fuse_lowlevel_notify_inval_inode(nt->se, q->ino, -1, 0);
		pthread_mutex_lock(&nt->lock);
		nt->done = q->seq;
		pthread_cond_broadcast(&nt->cond);
		free(q->name);
		free(q);
	}
	pthread_mutex_unlock(&nt->lock);
	return NULL;
}

/* A notifier for se (no thread yet: it may be made before fork). */
static struct notifier *notifier_new(struct fuse_session *se)
{
	struct notifier *nt = calloc(1, sizeof(*nt));
	pthread_condattr_t ca;

	if (!nt)
		return NULL;
	nt->se = se;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (pthread_mutex_init(&nt->lock, NULL) != 0 ||
	    pthread_cond_init(&nt->cond, &ca) != 0) {
		pthread_condattr_destroy(&ca);
		free(nt);
		return NULL;
	}
	pthread_condattr_destroy(&ca);
	return nt;
}

static int notifier_start(struct notifier *nt)
{
	int err = pthread_create(&nt->thread, NULL, notifier_main, nt);

	if (err)
		return -err;
	nt->running = true;
	return 0;
}

/* Stop the thread (after the unmount: no notification can block then)
 * and free nt with what is still queued.  NULL is a no-op. */
static void notifier_free(struct notifier *nt)
{
	if (!nt)
		return;
	if (nt->running) {
		pthread_mutex_lock(&nt->lock);
		nt->stop = true;
		pthread_cond_broadcast(&nt->cond);
		pthread_mutex_unlock(&nt->lock);
		pthread_join(nt->thread, NULL);
	}
	while (nt->head) {
		struct notice *q = nt->head;

		nt->head = q->next;
		free(q->name);
		free(q);
	}
	pthread_cond_destroy(&nt->cond);
	pthread_mutex_destroy(&nt->lock);
	free(nt);
}

/* Queue an invalidation: of name under parent, or (name NULL) of ino's
 * attributes.  Returns its sequence number, 0 when none was queued
 * (thread not running, no memory: the timeouts still bound the damage). */
static uint64_t notify_add(struct ecfs *fs, fuse_ino_t parent,
			   const char *name, fuse_ino_t ino)
{
	struct notifier *nt = fs->notifier;
	struct notice *q;
	uint64_t seq;

	if (!nt || !nt->running || fs->timeout <= 0)
		return 0;	/* nothing is cached without timeouts */
	q = calloc(1, sizeof(*q));
	if (!q)
		return 0;
	if (name) {
		q->name = strdup(name);
		if (!q->name) {
			free(q);
			return 0;
		}
		q->parent = parent;
	} else {
		q->ino = ino;
	}
	pthread_mutex_lock(&nt->lock);
	seq = q->seq = ++nt->queued;
	if (nt->tail)
		nt->tail->next = q;
	else
		nt->head = q;
	nt->tail = q;
	pthread_cond_broadcast(&nt->cond);
	pthread_mutex_unlock(&nt->lock);
	return seq;
}

/* Wait (at most fs->notify_wait_ms) until notice seq has been sent. */
static void notify_wait(struct ecfs *fs, uint64_t seq)
{
	struct notifier *nt = fs->notifier;
	struct timespec until;

	if (!seq)
		return;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += fs->notify_wait_ms / 1000;
	until.tv_nsec += (fs->notify_wait_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&nt->lock);
	while (nt->done < seq && !nt->stop)
		if (pthread_cond_timedwait(&nt->cond, &nt->lock, &until) ==
		    ETIMEDOUT)
			break;
	pthread_mutex_unlock(&nt->lock);
}

/* ---- FUSE operations ----------------------------------------------- */

static void ecfs_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
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
static void reply_entry_node(fuse_req_t req, struct ecfs *fs, struct node *n,
			     const struct fuse_entry_param *e)
{
	if (fuse_reply_entry(req, e) != 0) {
		pthread_mutex_lock(&fs->lock);
		n->nlookup--;
		node_put(fs, n);
		pthread_mutex_unlock(&fs->lock);
	}
}

static void ecfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct ecfs *fs = fs_of(req);
	char id[PATH_MAX];
	struct fuse_entry_param e;
	struct ec_fsmeta_key key;
	struct ec_fsmeta_info mi;
	struct stat st;
	struct node *p, *n;
	uint64_t gen;
	int64_t now;
	int err;

	pthread_mutex_lock(&fs->lock);
	p = node_get(fs, parent);
	if (!p || !p->is_dir)
		err = -ENOENT;
	else
		err = child_path(p, name, id, sizeof(id));
	gen = fs->gen;
	pthread_mutex_unlock(&fs->lock);
	if (err)
		goto fail;
	now = ec_clock_now_us();

	/* Where a directory and an entry share a name, the directory wins. */
	err = ec_store_stat_dir(fs->store, id, &st);
	if (err == 0) {
		pthread_mutex_lock(&fs->lock);
		p = node_get(fs, parent);	/* pinned by the kernel */
		n = p ? node_dir(fs, p, name, id, &st) : NULL;
		if (!n) {
			pthread_mutex_unlock(&fs->lock);
			err = -ENOMEM;
			goto fail;
		}
		n->nlookup++;
		fill_entry(fs, n, now, p->wd >= 0 && n->wd >= 0 &&
			   gen == fs->gen, &e);
		pthread_mutex_unlock(&fs->lock);
		reply_entry_node(req, fs, n, &e);
		return;
	}
	if (err != -ENOENT && err != -ENOTDIR && err != -ELOOP &&
	    err != -EINVAL && err != -EC_EID)
		goto fail;

	/* A file being created through the mount exists before its first
	 * save (at close), as on any file system. */
	pthread_mutex_lock(&fs->lock);
	p = node_get(fs, parent);
	n = p ? node_child(fs, p, name) : NULL;
	if (n && node_live_pending(n)) {
		n->nlookup++;
		fill_entry(fs, n, now, false, &e);
		pthread_mutex_unlock(&fs->lock);
		reply_entry_node(req, fs, n, &e);
		return;
	}
	pthread_mutex_unlock(&fs->lock);

	err = entry_meta(fs, id, NULL, now, &key, &mi);
	if (err || !info_valid(&mi, now)) {
		if (!err || err == -ELOOP || err == -EINVAL || err == -EC_EID)
			err = -ENOENT;
		goto fail;
	}
	pthread_mutex_lock(&fs->lock);
	p = node_get(fs, parent);
	n = p ? node_file(fs, p, name, &key, &mi) : NULL;
	if (!n) {
		pthread_mutex_unlock(&fs->lock);
		err = -ENOMEM;
		goto fail;
	}
	n->nlookup++;
	fill_entry(fs, n, now, p->wd >= 0 && gen == fs->gen, &e);
	pthread_mutex_unlock(&fs->lock);
	reply_entry_node(req, fs, n, &e);
	return;
fail:
	fuse_reply_err(req, -ec_errno(err));
}

static void forget_one(struct ecfs *fs, fuse_ino_t ino, uint64_t nlookup)
{
	struct node *n = node_get(fs, ino);

	if (!n || n == &fs->root)
		return;
	if (nlookup > n->nlookup)
		abort();	/* the kernel forgets more than it looked up */
	n->nlookup -= nlookup;
	node_put(fs, n);
}

static void ecfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct ecfs *fs = fs_of(req);

	pthread_mutex_lock(&fs->lock);
	forget_one(fs, ino, nlookup);
	pthread_mutex_unlock(&fs->lock);
	fuse_reply_none(req);
}

static void ecfs_forget_multi(fuse_req_t req, size_t count,
			      struct fuse_forget_data *forgets)
{
	struct ecfs *fs = fs_of(req);
	size_t i;

	pthread_mutex_lock(&fs->lock);
	for (i = 0; i < count; i++)
		forget_one(fs, forgets[i].ino, forgets[i].nlookup);
	pthread_mutex_unlock(&fs->lock);
	fuse_reply_none(req);
}

/* The length of a writing handle's content, or false when it is not one
 * (or has not loaded it yet). */
static bool handle_length(struct handle *h, size_t *len)
{
	bool known = false;

	if (!h || !h->writable)
		return false;
	pthread_mutex_lock(&h->lock);
	if (h->ready) {
		*len = h->buf.len;
		known = true;
	}
	pthread_mutex_unlock(&h->lock);
	return known;
}

static void set_size(struct stat *a, size_t len)
{
	a->st_size = (off_t)len;
	a->st_blocks = (blkcnt_t)((len + 511) / 512);
}

static void ecfs_getattr(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	struct ecfs *fs = fs_of(req);
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
	has_own = fi && handle_length((struct handle *)(uintptr_t)fi->fh,
				      &own);
	pthread_mutex_lock(&fs->lock);
	n = node_get(fs, ino);
	if (!n) {
		err = -ENOENT;
	} else {
		is_dir = n->is_dir;
		if (is_dir)
			err = node_path(n, id, sizeof(id));
	}
	gen = fs->gen;
	pthread_mutex_unlock(&fs->lock);
	if (err) {
		fuse_reply_err(req, -err);
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
	node_attr(fs, n, &a);
	t = node_timeout(fs, n, ec_clock_now_us(), gen == fs->gen &&
			 (n->is_dir ? n->wd >= 0 : true) &&
			 (!n->parent || n->parent->wd >= 0));
	if (has_own && !n->is_dir) {
		set_size(&a, own);
		t = 0;
	}
	pthread_mutex_unlock(&fs->lock);
	fuse_reply_attr(req, &a, t);
}

/* ---- handles ------------------------------------------------------- */

#define WRITE_MAX ((size_t)256 << 20)	/* largest content written */

static struct handle *handle_new(struct node *n, bool writable)
{
	struct handle *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	if (pthread_mutex_init(&h->lock, NULL) != 0) {
		free(h);
		return NULL;
	}
	h->node = n;
	h->writable = writable;
	h->opened_us = ec_clock_now_us();
	return h;
}

static void handle_free(struct handle *h)
{
	free(h->env);
	ec_secure_free(h->data);
	ec_sbuf_release(&h->buf);	/* wipes */
	pthread_mutex_destroy(&h->lock);
	free(h);
}

/* Drop what a handle holds on its node: nopen, and for a writer nwriters
 * and ndirty (unsaved changes are lost with it). */
static void handle_unpin(struct ecfs *fs, struct handle *h)
{
	struct node *n = h->node;

	pthread_mutex_lock(&fs->lock);
	n->nopen--;
	if (h->cached)
		n->ncached--;
	if (h->writable)
		n->nwriters--;
	if (h->dirty)
		n->ndirty--;
	h->dirty = false;
	node_put(fs, n);
	pthread_mutex_unlock(&fs->lock);
}

/*
 * How a writer's content becomes data at a save: existing tells whether
 * it writes over a (valid) entry, and is_bplist whether that entry's data
 * is a binary plist.  Under view=auto an entry shown as JSON must be
 * written as JSON, a raw entry stays raw, and a new entry is a binary
 * plist when its content parses as JSON, else raw.  The other views apply
 * to every write as they are.
 */
static void handle_set_view(struct ecfs *fs, struct handle *h, bool existing,
			    bool is_bplist)
{
	h->wview = fs->view;
	h->wbplist = false;
	if (fs->view == EC_VIEW_AUTO && existing) {
		if (is_bplist)
			h->wbplist = true;
		else
			h->wview = EC_VIEW_RAW;
	}
}

/* Give the rendered content to h (ec_secure_alloc'd: h owns it now). */
static void handle_adopt(struct handle *h, uint8_t *content, size_t len)
{
	if (h->writable) {
		h->buf.p = content;
		h->buf.len = h->buf.cap = len;
	} else {
		h->data = content;
		h->len = len;
	}
	h->ready = true;
}

/* Decrypt and render the handle's envelope, once.  h->lock held. */
static int handle_render(struct ecfs *fs, struct handle *h)
{
	struct ec_fsmeta_info mi;
	struct ec_entry e;
	uint8_t *content = NULL;
	size_t clen = 0;

	if (h->ready)
		return 0;
	/* As of the open: valid then, so readable until release. */
	ec_cache_classify(fs->cache, h->env, h->envlen,
			  EC_LOAD_DATA | EC_LOAD_STALE_OK, h->opened_us, &e);
	if (!entry_render(fs, &e, &mi, &content, &clen)) {
		ec_entry_release(&e);
		return -EIO;	/* it was valid at open: cannot happen */
	}
	ec_entry_release(&e);
	free(h->env);
	h->env = NULL;
	handle_adopt(h, content, clen);
	return 0;
}

/* h's content changed (h->lock held, or h not shared yet). */
static void handle_changed(struct ecfs *fs, struct handle *h)
{
	pthread_mutex_lock(&fs->lock);
	if (!h->dirty)
		h->node->ndirty++;
	h->dirty = true;
	h->node->wlen = h->buf.len;
	h->node->wtime_us = ec_clock_now_us();
	pthread_mutex_unlock(&fs->lock);
}

/*
 * Prepare h, new, as open(2) with flags would on the existing entry id,
 * whose node the kernel knows as version want: check that this is still
 * the backing version (-ESTALE makes the kernel look the name up again
 * and retry) and that it is valid (-ENOENT).  Keep the envelope for a
 * decryption on first use (so a file whose pages the kernel caches is not
 * decrypted again), or decrypt it now when the metadata cache has lost
 * it.  A writer opened with O_TRUNC starts empty and reads no envelope.
 */
static int handle_open(struct ecfs *fs, struct handle *h, const char *id,
		       const struct ec_fsmeta_key *want, int flags)
{
	bool trunc = h->writable && (flags & O_TRUNC);
	struct ec_fsmeta_key got;
	struct ec_fsmeta_info mi;
	struct stat st;
	int err;

	if (trunc)
		err = ec_store_stat_entry(fs->store, id, &st);
	else
		err = ec_store_read(fs->store, id, EC_ENVELOPE_MAX, &h->env,
				    &h->envlen, &st);
	if (err == -EC_ETOOBIG || err == -ELOOP || err == -EINVAL ||
	    err == -EISDIR || err == -EC_EID)
		err = -ENOENT;
	if (err)
		return err;
	ec_fsmeta_key_of(&got, &st);
	if (!ec_fsmeta_key_equal(want, &got))
		return -ESTALE;
	if (!ec_fsmeta_get(fs->meta, &got, &mi)) {
		/* Not known (evicted): classify and render right away. */
		if (trunc) {
			struct ec_fsmeta_key k;

			err = entry_load(fs, id, h->opened_us, &got, &k, &mi,
					 NULL, NULL);
			if (err)
				return err == -EISDIR ? -ENOENT : err;
			if (!ec_fsmeta_key_equal(&k, &got))
				return -ESTALE;
		} else {
			struct ec_entry e;
			uint8_t *content = NULL;
			size_t clen = 0;

			ec_cache_classify(fs->cache, h->env, h->envlen,
					  EC_LOAD_DATA, h->opened_us, &e);
			e.st = st;
			if (entry_render(fs, &e, &mi, &content, &clen)) {
				free(h->env);
				h->env = NULL;
				handle_adopt(h, content, clen);
			}
			entry_record(fs, id, &e, &got, &mi, h->opened_us);
			ec_entry_release(&e);
		}
	}
	if (!info_valid(&mi, h->opened_us))
		return -ENOENT;
	if (h->writable) {
		handle_set_view(fs, h, true, mi.is_bplist);
		h->append = (flags & O_APPEND) != 0;
		if (trunc)
			h->ready = true;	/* empty */
	}
	return 0;
}

static void ecfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ecfs *fs = fs_of(req);
	bool wr = (fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC);
	char id[PATH_MAX];
	struct ec_fsmeta_key want;
	struct handle *h = NULL;
	struct node *n;
	bool pending = false;
	int err;

	if (wr && fs->ro) {
		fuse_reply_err(req, EROFS);
		return;
	}
	pthread_mutex_lock(&fs->lock);
	n = node_get(fs, ino);
	if (!n)
		err = -ENOENT;
	else if (n->is_dir)
		err = -EISDIR;
	else if (n->pending && (n->unlinked || n->nopen == 0))
		err = -ENOENT;	/* its creator closed it unsaved */
	else if (wr && n->ncached) {
		/* The kernel's inode is shared by all handles: its size, which
		 * bounds page-cache reads, and its cached pages.  A writer
		 * changes both (O_TRUNC, writes), so it never shares an inode
		 * with a reader that uses the page cache: the name gets a new
		 * node (same version), and ESTALE makes the kernel look it up
		 * again and retry the open on that one. */
		node_unhash(fs, n);
		err = -ESTALE;
	} else
		err = node_path(n, id, sizeof(id));
	if (!err) {
		want = n->key;
		pending = n->pending;
		h = handle_new(n, wr);
		if (!h) {
			err = -ENOMEM;
		} else {
			n->nopen++;
			if (wr) {
				n->nwriters++;
			} else if (!n->nwriters && !n->pending) {
				/* (else it reads directly, see above) */
				h->cached = true;
				n->ncached++;
			}
		}
	}
	pthread_mutex_unlock(&fs->lock);
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}

	if (pending) {
		/* Not saved yet: empty for everyone but its writers. */
		h->ready = true;
		if (wr) {
			handle_set_view(fs, h, false, false);
			h->append = (fi->flags & O_APPEND) != 0;
		}
	} else {
		err = handle_open(fs, h, id, &want, fi->flags);
		if (err)
			goto fail;
		if (wr && (fi->flags & O_TRUNC))
			handle_changed(fs, h);
	}
	fi->fh = (uintptr_t)h;
	if (h->cached)
		fi->keep_cache = 1;	/* a node's content never changes */
	else
		fi->direct_io = 1;	/* see struct handle */
	if (fuse_reply_open(req, fi) != 0) {
		handle_unpin(fs, h);
		handle_free(h);
	}
	return;
fail:
	handle_unpin(fs, h);
	handle_free(h);
	fuse_reply_err(req, -ec_errno(err));
}

static void ecfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	struct ecfs *fs = fs_of(req);
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	const uint8_t *src;
	uint8_t *copy = NULL;
	size_t len;
	int err;

	(void)ino;
	pthread_mutex_lock(&h->lock);
	err = handle_render(fs, h);
	if (err) {
		pthread_mutex_unlock(&h->lock);
		fuse_reply_err(req, -err);
		return;
	}
	src = h->writable ? h->buf.p : h->data;
	len = h->writable ? h->buf.len : h->len;
	if (off < 0 || (uint64_t)off >= len)
		size = 0;
	else if (size > len - (size_t)off)
		size = len - (size_t)off;
	if (h->writable && size) {
		/* buf may be reallocated by a write meanwhile, and h must not
		 * be touched once the reply is out (release may free it):
		 * reply from a copy. */
		copy = ec_secure_alloc(size);
		if (copy)
			memcpy(copy, src + off, size);
		src = copy;
		off = 0;
	}
	/* data and len do not change once ready. */
	pthread_mutex_unlock(&h->lock);
	if (size && !src)
		fuse_reply_err(req, ENOMEM);
	else
		fuse_reply_buf(req, size ? (const char *)src + off : NULL,
			       size);
	ec_secure_free(copy);
}

static void ecfs_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		       size_t size, off_t off, struct fuse_file_info *fi)
{
	struct ecfs *fs = fs_of(req);
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	size_t pos;
	int err;

	(void)ino;
	if (!h->writable) {
		fuse_reply_err(req, EBADF);
		return;
	}
	pthread_mutex_lock(&h->lock);
	err = handle_render(fs, h);
	if (err)
		goto out;
	/* O_APPEND: at the end of the content, whatever the kernel's idea
	 * of the file size is. */
	pos = h->append ? h->buf.len : (size_t)off;
	if (off < 0) {
		err = -EINVAL;
	} else if (size == 0) {
		err = 0;
	} else if (pos > WRITE_MAX || size > WRITE_MAX - pos) {
		err = -EFBIG;
	} else {
		if (pos + size > h->buf.len)
			err = ec_sbuf_resize(&h->buf, pos + size);
		if (!err) {
			memcpy(h->buf.p + pos, buf, size);
			h->written = true;
			handle_changed(fs, h);
		}
	}
out:
	pthread_mutex_unlock(&h->lock);
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_write(req, size);
}

/*
 * Save h's content as its node's entry (h->lock held), atomically (the
 * core writes a temp file and renames it: on any failure the previous
 * version stays as it was, and h stays dirty for a later flush or fsync).
 * The data comes from the content under the handle's view (-EINVAL for
 * invalid JSON...); an overwrite keeps the entry's key name and comment,
 * a new entry (or one replacing a hidden envelope) uses the key= option;
 * created_at is now (or what utimens asked for meanwhile).  Then the
 * kernel is made to drop the name's old node, so the next lookup finds
 * the new version, before the caller replies.
 */
static int handle_save(struct ecfs *fs, struct handle *h, bool durable)
{
	struct ec_save_options o = { .created_us = EC_TIME_NONE };
	struct node *n = h->node;
	char id[PATH_MAX];
	struct ec_fsmeta_key key;
	struct ec_fsmeta_info mi;
	struct ec_entry cur;
	bool have_cur = false, pending;
	char *comment = NULL, *validasof = NULL, *name = NULL;
	uint8_t *data = NULL;
	size_t dlen = 0;
	fuse_ino_t pino = 0;
	int64_t created_us;
	int err, lerr;

	err = handle_render(fs, h);
	if (err)
		return err;
	pthread_mutex_lock(&fs->lock);
	if (n->unlinked) {
		/* Removed or replaced meanwhile: the changes go nowhere, as
		 * writes to an unlinked file do. */
		if (h->dirty)
			n->ndirty--;
		h->dirty = false;
		pthread_mutex_unlock(&fs->lock);
		return 0;
	}
	err = node_path(n, id, sizeof(id));
	pending = n->pending;
	created_us = n->next_created_us;
	if (pending && n->next_comment && !(comment = strdup(n->next_comment)))
		err = -ENOMEM;
	if (pending && n->next_validasof &&
	    !(validasof = strdup(n->next_validasof)))
		err = -ENOMEM;
	name = strdup(n->name);
	if (!name)
		err = -ENOMEM;
	pino = n->parent->ino;
	pthread_mutex_unlock(&fs->lock);
	if (err)
		goto out;

	err = ec_view_parse_content(h->wview, h->wbplist, h->buf.p,
				    h->buf.len, &data, &dlen);
	if (err)
		goto out;
	if (!pending &&
	    ec_cache_load(fs->cache, id, 0, ec_clock_now_us(), &cur) == 0) {
		have_cur = true;
		if (cur.state == EC_STATE_VALID) {
			o.key = cur.env.key;
			o.comment = cur.env.comment;
		}
	}
	if (pending) {
		o.comment = comment;
		o.validasof = validasof;
	}
	o.created_us = created_us;
	o.durable = durable;
	err = ec_cache_save(fs->cache, id, data, dlen, &o);
	if (err)
		goto out;

	/* What is on disk now, for the next lookup (no need to decrypt it
	 * again then) and for the node. */
	lerr = entry_load(fs, id, ec_clock_now_us(), NULL, &key, &mi, NULL,
			  NULL);
	pthread_mutex_lock(&fs->lock);
	if (h->dirty)
		n->ndirty--;
	h->dirty = false;
	if (n->next_created_us == created_us)
		n->next_created_us = EC_TIME_NONE;
	if (n->pending) {
		/* Nothing can have cached other content for this node: it
		 * becomes the version just saved. */
		if (!lerr) {
			n->key = key;
			n->info = mi;
		}
		n->pending = false;
		free(n->next_comment);
		free(n->next_validasof);
		n->next_comment = n->next_validasof = NULL;
	} else if (n->hashed && (lerr || !ec_fsmeta_key_equal(&n->key, &key))) {
		/* n stays the old version (for handles still reading it);
		 * the name gets a new node at its next lookup. */
		node_unhash(fs, n);
	}
	pthread_mutex_unlock(&fs->lock);
	/* A pending node was never cached by the kernel (zero timeouts). */
	if (!pending)
		notify_wait(fs, notify_add(fs, pino, name, 0));
out:
	if (have_cur)
		ec_entry_release(&cur);
	ec_secure_free(data);
	free(comment);
	free(validasof);
	free(name);
	return err;
}

/* Whether n carries metadata for its next save (utimens, setxattr on a
 * file being created): an explicit change, saved at the next flush. */
static bool node_has_next(struct ecfs *fs, struct node *n)
{
	bool has;

	pthread_mutex_lock(&fs->lock);
	has = n->next_created_us != EC_TIME_NONE || n->next_comment ||
	      n->next_validasof;
	pthread_mutex_unlock(&fs->lock);
	return has;
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
static void ecfs_flush(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct ecfs *fs = fs_of(req);
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	int err = 0;

	(void)ino;
	if (h->writable) {
		pthread_mutex_lock(&h->lock);
		if (h->dirty && (h->written || node_has_next(fs, h->node)))
			err = handle_save(fs, h, fs->sync);
		pthread_mutex_unlock(&h->lock);
	}
	fuse_reply_err(req, -ec_errno(err));
}

static void ecfs_release(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	struct ecfs *fs = fs_of(req);
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	char id[PATH_MAX], shown[PATH_MAX];
	int err;

	(void)ino;
	/* Dirty and written: its last save failed, and close() said so.
	 * Dirty only: created or truncated, to be saved now (see flush). */
	if (h->writable && h->dirty && !h->written) {
		pthread_mutex_lock(&h->lock);
		err = handle_save(fs, h, fs->sync);
		pthread_mutex_unlock(&h->lock);
		if (err) {
			pthread_mutex_lock(&fs->lock);
			if (node_path(h->node, id, sizeof(id)) != 0)
				strcpy(id, "?");
			pthread_mutex_unlock(&fs->lock);
			printable(id, shown, sizeof(shown));
			fuse_log(FUSE_LOG_WARNING, PROG ": cannot save '%s': "
				 "%s\n", shown, ec_strerror(err));
		}
	}
	handle_unpin(fs, h);
	handle_free(h);
	fuse_reply_err(req, 0);
}

/* fsync: a dirty handle saves durably; otherwise the entry on disk (and
 * its directory) is made durable. */
static void ecfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		       struct fuse_file_info *fi)
{
	struct ecfs *fs = fs_of(req);
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	char id[PATH_MAX];
	bool skip;
	int err = 0;

	(void)ino;
	(void)datasync;
	if (h->writable) {
		pthread_mutex_lock(&h->lock);
		if (h->dirty) {
			err = handle_save(fs, h, true);
			pthread_mutex_unlock(&h->lock);
			fuse_reply_err(req, -ec_errno(err));
			return;
		}
		pthread_mutex_unlock(&h->lock);
	}
	pthread_mutex_lock(&fs->lock);
	skip = h->node->pending || h->node->unlinked ||
	       node_path(h->node, id, sizeof(id)) != 0;
	pthread_mutex_unlock(&fs->lock);
	if (!skip)
		err = ec_store_sync(fs->store, id);
	if (err == -ENOENT)
		err = 0;	/* removed meanwhile: nothing to sync */
	fuse_reply_err(req, -ec_errno(err));
}

static void ecfs_opendir(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	struct ecfs *fs = fs_of(req);
	struct dirh *dh;
	struct node *n;
	int err = 0;

	pthread_mutex_lock(&fs->lock);
	n = node_get(fs, ino);
	if (!n)
		err = ENOENT;
	else if (!n->is_dir)
		err = ENOTDIR;
	pthread_mutex_unlock(&fs->lock);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	dh = calloc(1, sizeof(*dh));
	if (!dh) {
		fuse_reply_err(req, ENOMEM);
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
	dh->n++;
	return 0;
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
	struct ecfs *fs = fs_of(req);
	struct dirh *dh = (struct dirh *)(uintptr_t)fi->fh;
	char dir[PATH_MAX], id[PATH_MAX];
	struct node *d, **added = NULL;
	size_t used = 0, nadded = 0, i;
	char *buf = NULL;
	fuse_ino_t dotdot;
	uint64_t gen;
	int64_t now;
	bool watched;
	int err;

	pthread_mutex_lock(&fs->lock);
	d = node_get(fs, ino);
	err = d ? node_path(d, dir, sizeof(dir)) : -ENOENT;
	if (!err) {
		dotdot = d->parent ? d->parent->ino : d->ino;
		watched = d->wd >= 0;
	}
	gen = fs->gen;
	pthread_mutex_unlock(&fs->lock);
	if (err)
		goto out;
	if (off == 0 || !dh->loaded) {
		snap_clear(dh);
		err = ec_store_list_dir(fs->store, dir, snap_add, dh);
		if (err)
			goto out;
		dh->loaded = true;
		dh->gen = gen;
	}
	buf = malloc(size);
	added = calloc(dh->n + 1, sizeof(*added));
	if (!buf || !added) {
		err = -ENOMEM;
		goto out;
	}
	now = ec_clock_now_us();
	for (i = (size_t)off; i < dh->n + 2; i++) {
		struct fuse_entry_param e;
		struct ec_fsmeta_key key;
		struct ec_fsmeta_info mi;
		const struct snap_item *it;
		const char *name;
		struct stat st;
		struct node *n;
		bool is_dir;
		size_t need;

		if (i < 2) {
			name = i ? ".." : ".";
			memset(&e, 0, sizeof(e));
			e.attr.st_mode = S_IFDIR;
			e.attr.st_ino = i ? dotdot : ino;
			need = plus ? fuse_add_direntry_plus(req, buf + used,
					size - used, name, &e, (off_t)i + 1) :
				fuse_add_direntry(req, buf + used, size - used,
					name, &e.attr, (off_t)i + 1);
			if (need > size - used)
				break;
			used += need;
			continue;
		}
		it = &dh->v[i - 2];
		name = it->name;
		if (child_path_str(dir, name, id, sizeof(id)) != 0)
			continue;
		is_dir = it->is_dir;
		st = it->st;
		if (gen != dh->gen) {
			/* Something changed since the snapshot: look again
			 * (below, replies are not cached either). */
			is_dir = ec_store_stat_dir(fs->store, id, &st) == 0;
			if (!is_dir && ec_store_stat_entry(fs->store, id,
							   &st) != 0)
				continue;
		}
		if (!is_dir &&
		    (entry_meta(fs, id, &st, now, &key, &mi) != 0 ||
		     !info_valid(&mi, now)))
			continue;
		need = plus ? fuse_add_direntry_plus(req, NULL, 0, name, NULL,
						     0) :
			fuse_add_direntry(req, NULL, 0, name, NULL, 0);
		if (need > size - used)
			break;
		if (!plus) {
			memset(&e, 0, sizeof(e));
			e.attr.st_mode = is_dir ? S_IFDIR : S_IFREG;
			e.attr.st_ino = UNKNOWN_INO;
			used += fuse_add_direntry(req, buf + used, size - used,
						  name, &e.attr, (off_t)i + 1);
			continue;
		}
		pthread_mutex_lock(&fs->lock);
		d = node_get(fs, ino);
		n = !d ? NULL : is_dir ? node_dir(fs, d, name, id, &st) :
			node_file(fs, d, name, &key, &mi);
		if (!n) {
			pthread_mutex_unlock(&fs->lock);
			break;
		}
		n->nlookup++;
		added[nadded++] = n;
		fill_entry(fs, n, now, watched && gen == fs->gen &&
			   gen == dh->gen && (!n->is_dir || n->wd >= 0), &e);
		pthread_mutex_unlock(&fs->lock);
		used += fuse_add_direntry_plus(req, buf + used, size - used,
					       name, &e, (off_t)i + 1);
	}
	if (fuse_reply_buf(req, buf, used) != 0 && nadded) {
		pthread_mutex_lock(&fs->lock);
		for (i = 0; i < nadded; i++) {
			added[i]->nlookup--;
			node_put(fs, added[i]);
		}
		pthread_mutex_unlock(&fs->lock);
	}
	free(buf);
	free(added);
	return;
out:
	free(buf);
	free(added);
	fuse_reply_err(req, -ec_errno(err));
}

static void ecfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			 off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

static void ecfs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			     off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

static void ecfs_releasedir(fuse_req_t req, fuse_ino_t ino,
			    struct fuse_file_info *fi)
{
	struct dirh *dh = (struct dirh *)(uintptr_t)fi->fh;

	(void)ino;
	snap_clear(dh);
	free(dh->v);
	free(dh);
	fuse_reply_err(req, 0);
}

static void ecfs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct ecfs *fs = fs_of(req);
	struct statvfs sv;
	int err;

	(void)ino;
	err = ec_store_statvfs(fs->store, &sv);
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	/* Names shown are shorter than the backing ones by the suffix. */
	if (sv.f_namemax > fs->store->suffix_len)
		sv.f_namemax -= fs->store->suffix_len;
	fuse_reply_statfs(req, &sv);
}

/*
 * Extended attributes: ours are user.enccache.*.  Other namespaces
 * (security., system., trusted.) are not supported at all, which tells
 * tools such as ls to stop asking; other user.* names are absent.
 */
static void do_xattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		     size_t size)
{
	struct ecfs *fs = fs_of(req);
	struct ec_fsmeta_key key, got;
	struct ec_fsmeta_info mi;
	char id[PATH_MAX];
	char *buf = NULL;
	struct node *n;
	int r, tries;

	if (name && strncmp(name, "user.", 5) != 0) {
		fuse_reply_err(req, ENOTSUP);
		return;
	}
	pthread_mutex_lock(&fs->lock);
	n = node_get(fs, ino);
	if (!n)
		r = -ENOENT;
	else if (n->is_dir)
		r = name ? -ENODATA : 0;
	else
		r = node_path(n, id, sizeof(id)) ? -ENAMETOOLONG : 1;
	if (n)
		key = n->key;
	pthread_mutex_unlock(&fs->lock);
	if (r <= 0)
		goto reply;
	if (size) {
		buf = malloc(size);
		if (!buf) {
			r = -ENOMEM;
			goto reply;
		}
	}
	for (tries = 0; tries < 2; tries++) {
		r = name ? ec_fsmeta_getxattr(fs->meta, &key, name, buf, size) :
			ec_fsmeta_listxattr(fs->meta, &key, buf, size);
		if (r != -ENOENT)
			break;
		/* Evicted from the cache: load this version again. */
		r = entry_load(fs, id, ec_clock_now_us(), &key, &got, &mi,
			       NULL, NULL);
		if (r || !ec_fsmeta_key_equal(&key, &got)) {
			r = name ? -ENODATA : 0;	/* no longer there */
			break;
		}
	}
	if (r == -ENOENT)
		r = name ? -ENODATA : 0;
reply:
	if (r < 0)
		fuse_reply_err(req, -r);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)r);
	else
		fuse_reply_buf(req, buf, (size_t)r);
	free(buf);
}

static void ecfs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			  size_t size)
{
	do_xattr(req, ino, name, size);
}

static void ecfs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	do_xattr(req, ino, NULL, size);
}

/* ---- changes ------------------------------------------------------- */

/*
 * Attributes follow the cache, not the caller: files are 0600 and
 * directories 0700, owned by the user who mounted.  So chmod may only
 * name owner bits (it then changes nothing: the mode shown stays), chown
 * only the owner and group they have; anything else is EPERM.
 */

static int64_t us_of_ts(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000 + ts->tv_nsec / 1000;
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
static int sync_parent(struct ecfs *fs, const char *id)
{
	char dir[PATH_MAX];

	if (!fs->sync)
		return 0;
	parent_of(id, dir);
	return ec_store_sync_dir(fs->store, dir);
}

/*
 * id's envelope was just rewritten by us with the same content and new
 * metadata (comment, created_at, validasof).  If n stood for the version
 * before (old), it stands for the new one now: its content, and so what
 * the kernel caches of it, is unchanged.  Else n is dropped from the name.
 * The kernel is made to forget n's attributes and, with name (created_at
 * changed: the expiry, and so the time the name may be cached, too), the
 * name; the caller replies after that.
 */
static void node_rekey(struct ecfs *fs, struct node *n, const char *id,
		       const struct ec_fsmeta_key *old, bool name)
{
	struct ec_fsmeta_key key;
	struct ec_fsmeta_info mi;
	char *nm = NULL;
	fuse_ino_t pino = 0, ino;
	uint64_t s1 = 0, s2;
	int err;

	err = entry_load(fs, id, ec_clock_now_us(), NULL, &key, &mi, NULL,
			 NULL);
	pthread_mutex_lock(&fs->lock);
	if (!err && ec_fsmeta_key_equal(&n->key, old)) {
		n->key = key;
		n->info = mi;
	} else if (n->hashed) {
		node_unhash(fs, n);
	}
	if (name && n->parent) {
		nm = strdup(n->name);
		pino = n->parent->ino;
	}
	ino = n->ino;
	pthread_mutex_unlock(&fs->lock);
	if (nm)
		s1 = notify_add(fs, pino, nm, 0);
	s2 = notify_add(fs, 0, NULL, ino);
	notify_wait(fs, s1 > s2 ? s1 : s2);
	free(nm);
}

/* created_at := t for n (id): now, or at the next save when n is being
 * written (a save would overwrite it: `cp -p`, `touch` of a new file). */
static int set_created(struct ecfs *fs, struct node *n, const char *id,
		       int64_t t)
{
	struct ec_fsmeta_key old;
	struct stat st;
	bool later;
	int err;

	pthread_mutex_lock(&fs->lock);
	later = n->pending || n->ndirty;
	if (later)
		n->next_created_us = t;
	pthread_mutex_unlock(&fs->lock);
	if (later)
		return 0;
	err = ec_store_stat_entry(fs->store, id, &st);
	if (err)
		return err;
	ec_fsmeta_key_of(&old, &st);
	err = ec_cache_set_meta(fs->cache, id, EC_META_CREATED, NULL, t);
	if (err)
		return err == -EC_EHMAC || err == -EBADMSG ? -ENOENT : err;
	node_rekey(fs, n, id, &old, true);
	return 0;
}

/* truncate(2) by path: a handle of its own, loaded, resized, saved. */
static int truncate_path(struct ecfs *fs, struct node *n, const char *id,
			 size_t size)
{
	struct ec_fsmeta_key want;
	struct handle *h;
	bool pending;
	int err;

	pthread_mutex_lock(&fs->lock);
	want = n->key;
	pending = n->pending;
	h = handle_new(n, true);
	if (h) {
		n->nopen++;
		n->nwriters++;
	}
	pthread_mutex_unlock(&fs->lock);
	if (!h)
		return -ENOMEM;
	if (pending) {
		h->ready = true;
		handle_set_view(fs, h, false, false);
		err = 0;
	} else {
		err = handle_open(fs, h, id, &want,
				  size ? O_WRONLY : O_WRONLY | O_TRUNC);
	}
	pthread_mutex_lock(&h->lock);
	if (!err)
		err = handle_render(fs, h);
	if (!err)
		err = ec_sbuf_resize(&h->buf, size);
	if (!err) {
		handle_changed(fs, h);
		err = handle_save(fs, h, fs->sync);
	}
	pthread_mutex_unlock(&h->lock);
	handle_unpin(fs, h);
	handle_free(h);
	return err;
}

static void ecfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			 int to_set, struct fuse_file_info *fi)
{
	struct ecfs *fs = fs_of(req);
	struct handle *h = fi ? (struct handle *)(uintptr_t)fi->fh : NULL;
	char id[PATH_MAX];
	struct stat a;
	struct node *n;
	size_t own = 0;
	bool is_dir = false, has_own;
	int err;

	if (fs->ro) {
		fuse_reply_err(req, EROFS);
		return;
	}
	pthread_mutex_lock(&fs->lock);
	n = node_get(fs, ino);
	if (!n) {
		err = -ENOENT;
	} else {
		is_dir = n->is_dir;
		err = node_path(n, id, sizeof(id));
	}
	pthread_mutex_unlock(&fs->lock);
	if (err)
		goto out;
	if (((to_set & FUSE_SET_ATTR_UID) && attr->st_uid != fs->uid) ||
	    ((to_set & FUSE_SET_ATTR_GID) && attr->st_gid != fs->gid) ||
	    ((to_set & FUSE_SET_ATTR_MODE) && (attr->st_mode & 07077))) {
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
		} else if ((uint64_t)attr->st_size > WRITE_MAX) {
			err = -EFBIG;
		} else if (h) {
			pthread_mutex_lock(&h->lock);
			err = handle_render(fs, h);
			if (!err)
				err = ec_sbuf_resize(&h->buf,
						     (size_t)attr->st_size);
			if (!err) {
				h->written = true;
				handle_changed(fs, h);
			}
			pthread_mutex_unlock(&h->lock);
		} else {
			err = truncate_path(fs, n, id, (size_t)attr->st_size);
		}
		if (err)
			goto out;
	}
	/* mtime is created_at; atime is not kept. */
	if (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW))
		err = set_created(fs, n, id,
				  (to_set & FUSE_SET_ATTR_MTIME_NOW) ?
				  ec_clock_now_us() : us_of_ts(&attr->st_mtim));
out:
	if (err) {
		fuse_reply_err(req, -ec_errno(err));
		return;
	}
	has_own = handle_length(h, &own);
	pthread_mutex_lock(&fs->lock);
	node_attr(fs, n, &a);
	if (!is_dir && !n->ndirty && n->next_created_us != EC_TIME_NONE)
		a.st_mtim = ts_of_us(n->next_created_us);
	pthread_mutex_unlock(&fs->lock);
	if (has_own)
		set_size(&a, own);
	fuse_reply_attr(req, &a, 0);
}

static void ecfs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		       mode_t mode, dev_t rdev)
{
	(void)parent;
	(void)name;
	(void)mode;
	(void)rdev;
	/* Only entries (create) and directories exist here. */
	fuse_reply_err(req, fs_of(req)->ro ? EROFS : EPERM);
}

/* The parent node and the id of name under it (the lock is taken and
 * released).  -ENOENT, -ENOTDIR, -ENAMETOOLONG. */
static int child_id(struct ecfs *fs, fuse_ino_t parent, const char *name,
		    char *id)
{
	struct node *p;
	int err;

	pthread_mutex_lock(&fs->lock);
	p = node_get(fs, parent);
	if (!p)
		err = -ENOENT;
	else if (!p->is_dir)
		err = -ENOTDIR;
	else
		err = child_path(p, name, id, PATH_MAX);
	pthread_mutex_unlock(&fs->lock);
	return err;
}

static void ecfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		       mode_t mode)
{
	struct ecfs *fs = fs_of(req);
	char id[PATH_MAX];
	struct fuse_entry_param e;
	struct stat st;
	struct node *p, *n;
	uint64_t gen;
	int err;

	(void)mode;	/* directories are 0700 */
	if (fs->ro) {
		fuse_reply_err(req, EROFS);
		return;
	}
	err = child_id(fs, parent, name, id);
	if (err)
		goto fail;
	pthread_mutex_lock(&fs->lock);
	gen = fs->gen;
	pthread_mutex_unlock(&fs->lock);
	err = ec_store_mkdir(fs->store, id);
	if (!err)
		err = sync_parent(fs, id);
	if (!err)
		err = ec_store_stat_dir(fs->store, id, &st);
	if (err)
		goto fail;
	pthread_mutex_lock(&fs->lock);
	p = node_get(fs, parent);
	n = p ? node_dir(fs, p, name, id, &st) : NULL;
	if (!n) {
		pthread_mutex_unlock(&fs->lock);
		err = -ENOMEM;
		goto fail;
	}
	n->nlookup++;
	fill_entry(fs, n, ec_clock_now_us(), p->wd >= 0 && n->wd >= 0 &&
		   gen == fs->gen, &e);
	pthread_mutex_unlock(&fs->lock);
	reply_entry_node(req, fs, n, &e);
	return;
fail:
	fuse_reply_err(req, -ec_errno(err));
}

static void ecfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct ecfs *fs = fs_of(req);
	char id[PATH_MAX];
	struct node *p, *n;
	bool pending = false;
	int err;

	if (fs->ro) {
		fuse_reply_err(req, EROFS);
		return;
	}
	err = child_id(fs, parent, name, id);
	if (err)
		goto out;
	pthread_mutex_lock(&fs->lock);
	p = node_get(fs, parent);
	n = p ? node_child(fs, p, name) : NULL;
	pending = n && node_live_pending(n);
	pthread_mutex_unlock(&fs->lock);
	err = ec_cache_remove(fs->cache, id);
	if (err == -ENOENT && pending)
		err = 0;	/* never saved: nothing on disk */
	if (err)
		goto out;
	pthread_mutex_lock(&fs->lock);
	p = node_get(fs, parent);
	n = p ? node_child(fs, p, name) : NULL;
	if (n && !n->is_dir) {
		n->unlinked = true;	/* its writers save nothing */
		node_unhash(fs, n);
	}
	pthread_mutex_unlock(&fs->lock);
	err = sync_parent(fs, id);
out:
	fuse_reply_err(req, -ec_errno(err));
}

static void ecfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct ecfs *fs = fs_of(req);
	char id[PATH_MAX];
	struct node *p, *n;
	int err;

	if (fs->ro) {
		fuse_reply_err(req, EROFS);
		return;
	}
	err = child_id(fs, parent, name, id);
	/* ENOTEMPTY also when only hidden envelopes (stale, invalid) or
	 * other files remain: they are not ours to remove. */
	if (!err)
		err = ec_store_rmdir(fs->store, id);
	if (err)
		goto out;
	pthread_mutex_lock(&fs->lock);
	p = node_get(fs, parent);
	n = p ? node_child(fs, p, name) : NULL;
	if (n && n->is_dir)
		node_unhash(fs, n);
	pthread_mutex_unlock(&fs->lock);
	err = sync_parent(fs, id);
out:
	fuse_reply_err(req, -ec_errno(err));
}

static void ecfs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
			 const char *name)
{
	(void)link;
	(void)parent;
	(void)name;
	fuse_reply_err(req, fs_of(req)->ro ? EROFS : EPERM);
}

/*
 * The target of an entry rename as the user sees it: 1 when it exists (a
 * valid entry, or one being created), 0 when it does not, and then
 * *hidden tells whether an envelope that is not shown (stale, invalid) is
 * there: it is replaced, as a new entry replaces it.
 */
static int rename_target(struct ecfs *fs, fuse_ino_t newparent,
			 const char *newname, const char *to, bool *hidden)
{
	struct ec_fsmeta_key key;
	struct ec_fsmeta_info mi;
	struct node *np, *t;
	int64_t now = ec_clock_now_us();
	bool live;
	int err;

	*hidden = false;
	pthread_mutex_lock(&fs->lock);
	np = node_get(fs, newparent);
	t = np ? node_child(fs, np, newname) : NULL;
	live = t && node_live_pending(t);
	pthread_mutex_unlock(&fs->lock);
	if (live)
		return 1;
	err = entry_meta(fs, to, NULL, now, &key, &mi);
	if (err == 0 && info_valid(&mi, now))
		return 1;
	*hidden = err == 0;
	return 0;
}

static void ecfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			fuse_ino_t newparent, const char *newname,
			unsigned int flags)
{
	struct ecfs *fs = fs_of(req);
	char from[PATH_MAX], to[PATH_MAX];
	struct ec_fsmeta_key old, key;
	struct stat st;
	struct node *p, *np, *src, *tgt;
	bool is_dir, pending = false, have_key = false, hidden;
	int err;

	if (fs->ro) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (flags & ~(unsigned)RENAME_NOREPLACE) {
		fuse_reply_err(req, EINVAL);	/* RENAME_EXCHANGE... */
		return;
	}
	err = child_id(fs, parent, name, from);
	if (!err)
		err = child_id(fs, newparent, newname, to);
	if (err)
		goto out;
	memset(&old, 0, sizeof(old));
	pthread_mutex_lock(&fs->lock);
	p = node_get(fs, parent);
	src = p ? node_child(fs, p, name) : NULL;
	if (src) {
		is_dir = src->is_dir;
		pending = node_live_pending(src);
		old = src->key;
	}
	pthread_mutex_unlock(&fs->lock);
	if (!src)
		is_dir = ec_store_stat_dir(fs->store, from, &st) == 0;
	if (is_dir) {
		err = ec_store_rename_dir(fs->store, from, to, flags);
	} else if (strlen(newname) + fs->store->suffix_len > NAME_MAX) {
		err = -ENAMETOOLONG;
	} else if (ec_store_stat_dir(fs->store, to, &st) == 0) {
		err = -EISDIR;
	} else if (rename_target(fs, newparent, newname, to, &hidden) &&
		   (flags & RENAME_NOREPLACE)) {
		err = -EEXIST;
	} else if (pending) {
		/* Not saved yet: only the name moves (it is saved under the
		 * new one); what the name held goes now, as POSIX says. */
		err = ec_cache_remove(fs->cache, to);
		if (err == -ENOENT)
			err = 0;
	} else {
		/* A hidden target is replaced: no RENAME_NOREPLACE then. */
		err = ec_store_rename_entry(fs->store, from, to,
					    hidden ? 0 : flags);
		if (!err && ec_store_stat_entry(fs->store, to, &st) == 0) {
			ec_fsmeta_key_of(&key, &st);
			have_key = true;
		}
	}
	if (err)
		goto out;

	pthread_mutex_lock(&fs->lock);
	p = node_get(fs, parent);
	np = node_get(fs, newparent);
	src = p ? node_child(fs, p, name) : NULL;
	tgt = np ? node_child(fs, np, newname) : NULL;
	if (tgt && tgt != src) {
		if (!tgt->is_dir)
			tgt->unlinked = true;	/* replaced */
		node_unhash(fs, tgt);
	}
	if (src && np && node_move(fs, src, np, newname) == 0 &&
	    !src->is_dir && !src->pending) {
		/* A rename changes only the envelope's ctime: the node (and
		 * its metadata) follow it when it is still the same file. */
		if (have_key && key.dev == old.dev && key.ino == old.ino &&
		    key.size == old.size && key.mtime_ns == old.mtime_ns &&
		    ec_fsmeta_key_equal(&src->key, &old)) {
			if (ec_fsmeta_copy(fs->meta, &old, &key) != 0)
				fuse_log(FUSE_LOG_DEBUG, PROG ": metadata "
					 "cache: not copied\n");
			src->key = key;
		} else {
			node_unhash(fs, src);
		}
	}
	pthread_mutex_unlock(&fs->lock);
	err = sync_parent(fs, from);
	if (!err)
		err = sync_parent(fs, to);
out:
	fuse_reply_err(req, -ec_errno(err));
}

static void ecfs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		      const char *newname)
{
	(void)ino;
	(void)newparent;
	(void)newname;
	fuse_reply_err(req, fs_of(req)->ro ? EROFS : EPERM);
}

/*
 * Writable attributes: user.enccache.comment (cleartext: the envelope is
 * rewritten, not re-encrypted), user.enccache.validasof (ISO-8601;
 * re-encrypted), user.enccache.created_at (ISO-8601, as utimens).  The
 * others of ours are derived (EPERM); no other name can be kept
 * (ENOTSUP).
 */
enum xkind { XK_OTHER, XK_COMMENT, XK_VALIDASOF, XK_CREATED, XK_DERIVED };

static enum xkind xattr_kind(const char *name)
{
	if (!strcmp(name, "user.enccache.comment"))
		return XK_COMMENT;
	if (!strcmp(name, "user.enccache.validasof"))
		return XK_VALIDASOF;
	if (!strcmp(name, "user.enccache.created_at"))
		return XK_CREATED;
	if (!strcmp(name, "user.enccache.key") ||
	    !strcmp(name, "user.enccache.expires_at") ||
	    !strcmp(name, "user.enccache.format"))
		return XK_DERIVED;
	return XK_OTHER;
}

/* For a node not saved yet: kept for its first save.  text NULL removes.
 * -EAGAIN when n is no longer pending.  ISO text checked by the caller. */
static int set_pending_xattr(struct ecfs *fs, struct node *n, enum xkind k,
			     const char *text, int64_t t, int flags)
{
	char **slot = k == XK_COMMENT ? &n->next_comment :
		      k == XK_VALIDASOF ? &n->next_validasof : NULL;
	char *copy = NULL;
	bool cur;
	int err = 0;

	if (text && !(copy = strdup(text)))
		return -ENOMEM;
	pthread_mutex_lock(&fs->lock);
	cur = slot ? *slot != NULL : true;
	if (!n->pending)
		err = -EAGAIN;
	else if (!text && !cur)
		err = -ENODATA;
	else if ((flags & XATTR_CREATE) && cur)
		err = -EEXIST;
	else if ((flags & XATTR_REPLACE) && !cur)
		err = -ENODATA;
	else if (!slot)
		n->next_created_us = t;
	else {
		free(*slot);
		*slot = copy;
		copy = NULL;
	}
	pthread_mutex_unlock(&fs->lock);
	free(copy);
	return err;
}

/* Set (text) or remove (NULL) attribute k of entry id, node n. */
static int set_entry_xattr(struct ecfs *fs, struct node *n, const char *id,
			   enum xkind k, const char *text, int64_t t,
			   int flags)
{
	struct ec_save_options o = { .created_us = EC_TIME_NONE };
	struct ec_fsmeta_key old;
	struct ec_entry e;
	const char *cur;
	int err;

	err = ec_cache_load(fs->cache, id,
			    k == XK_VALIDASOF ? EC_LOAD_DATA : 0,
			    ec_clock_now_us(), &e);
	if (err)
		return err == -EC_EID ? -ENOENT : err;
	if (e.state != EC_STATE_VALID) {
		err = -ENOENT;	/* hidden now */
		goto out;
	}
	ec_fsmeta_key_of(&old, &e.st);
	cur = k == XK_COMMENT ? e.env.comment :
	      k == XK_VALIDASOF ? e.validasof : e.env.created_at;
	if ((!text || (flags & XATTR_REPLACE)) && !cur) {
		err = -ENODATA;
		goto out;
	}
	if ((flags & XATTR_CREATE) && cur) {
		err = -EEXIST;
		goto out;
	}
	switch (k) {
	case XK_COMMENT:
		err = ec_cache_set_meta(fs->cache, id, EC_META_COMMENT, text,
					0);
		break;
	case XK_CREATED:
		err = text ? ec_cache_set_meta(fs->cache, id, EC_META_CREATED,
					       NULL, t) : -EPERM;
		break;
	default:	/* XK_VALIDASOF: inside the token */
		o.key = e.env.key;
		o.comment = e.env.comment;
		o.validasof = text;
		o.created_us = e.created_us;
		err = ec_cache_save(fs->cache, id, e.data, e.len, &o);
		break;
	}
	if (!err)
		node_rekey(fs, n, id, &old, k == XK_CREATED);
out:
	ec_entry_release(&e);
	return err;
}

/* setxattr (value) and removexattr (value NULL). */
static void do_set_xattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			 const char *value, size_t size, int flags)
{
	struct ecfs *fs = fs_of(req);
	char id[PATH_MAX], iso[EC_TIME_ISO_MAX];
	const char *text = NULL;
	char *copy = NULL;
	enum xkind k;
	struct node *n;
	bool pending = false;
	int64_t t = EC_TIME_NONE;
	int err;

	if (fs->ro) {
		err = -EROFS;
		goto out;
	}
	if (strncmp(name, "user.", 5) != 0) {
		err = -ENOTSUP;
		goto out;
	}
	k = xattr_kind(name);
	if (k == XK_OTHER) {
		err = value ? -ENOTSUP : -ENODATA;
		goto out;
	}
	if (k == XK_DERIVED || (k == XK_CREATED && !value)) {
		err = -EPERM;	/* an entry always has a created_at */
		goto out;
	}
	if (value) {
		if (memchr(value, '\0', size)) {
			err = -EINVAL;
			goto out;
		}
		copy = malloc(size + 1);
		if (!copy) {
			err = -ENOMEM;
			goto out;
		}
		memcpy(copy, value, size);
		copy[size] = '\0';
		text = copy;
		if (k == XK_VALIDASOF || k == XK_CREATED) {
			/* Stored as Python's isoformat() writes it. */
			if (ec_time_parse_iso(copy, &t) != 0) {
				err = -EINVAL;
				goto out;
			}
			ec_time_format_iso(t, iso);
			text = iso;
		}
	}
	pthread_mutex_lock(&fs->lock);
	n = node_get(fs, ino);
	if (!n) {
		err = -ENOENT;
	} else if (n->is_dir) {
		err = value ? -ENOTSUP : -ENODATA;	/* none there */
	} else {
		pending = n->pending;
		err = node_path(n, id, sizeof(id));
	}
	pthread_mutex_unlock(&fs->lock);
	if (err)
		goto out;
	if (pending)
		err = set_pending_xattr(fs, n, k, text, t, flags);
	if (!pending || err == -EAGAIN)
		err = set_entry_xattr(fs, n, id, k, text, t, flags);
out:
	free(copy);
	fuse_reply_err(req, -ec_errno(err));
}

static void ecfs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			  const char *value, size_t size, int flags)
{
	do_set_xattr(req, ino, name, value ? value : "", value ? size : 0,
		     flags);
}

static void ecfs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	do_set_xattr(req, ino, name, NULL, 0, 0);
}

/*
 * create: open(O_CREAT) of a name the kernel found absent.  The new entry
 * is pending (see struct node) until its first save at close, so that
 * nobody (the Python module least of all) ever sees it empty or half
 * written; an envelope that is not shown (stale, invalid) is replaced
 * then.  If a valid entry has appeared meanwhile, it is opened (EEXIST
 * with O_EXCL).
 */
static void ecfs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
			mode_t mode, struct fuse_file_info *fi)
{
	struct ecfs *fs = fs_of(req);
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
		fuse_reply_err(req, EROFS);
		return;
	}
	err = child_id(fs, parent, name, id);
	if (!err && strlen(name) + fs->store->suffix_len > NAME_MAX)
		err = -ENAMETOOLONG;
	if (err)
		goto fail;
	now = ec_clock_now_us();
	if (ec_store_stat_dir(fs->store, id, &st) == 0) {
		err = (fi->flags & O_EXCL) ? -EEXIST : -EISDIR;
		goto fail;
	}
	err = entry_meta(fs, id, NULL, now, &key, &mi);
	if (err == -EISDIR)
		goto fail;	/* a directory named like the envelope */
	exists = !err && info_valid(&mi, now);
	if (exists && (fi->flags & O_EXCL)) {
		err = -EEXIST;
		goto fail;
	}
	err = 0;
	pthread_mutex_lock(&fs->lock);
	p = node_get(fs, parent);
	if (exists && p) {
		n = node_file(fs, p, name, &key, &mi);
		if (n && n->ncached) {
			/* A writer gets a node of its own (see ecfs_open). */
			node_unhash(fs, n);
			n = node_new(fs, p, name, false);
			if (n) {
				n->key = key;
				n->info = mi;
			}
		}
	} else if (p) {
		n = node_child(fs, p, name);
		if (n && node_live_pending(n)) {
			if (fi->flags & O_EXCL)
				err = -EEXIST;
		} else {
			if (n)
				node_unhash(fs, n);
			n = node_new(fs, p, name, false);
			if (n) {
				n->pending = true;
				n->info.state = EC_STATE_VALID;
				n->info.created_us = now;
				n->info.expires_us = EC_TIME_NEVER;
				fresh = true;
			}
		}
	}
	if (!err && n)
		h = handle_new(n, true);
	if (!err && !h)
		err = p ? -ENOMEM : -ENOENT;
	if (err) {
		if (n)
			node_put(fs, n);	/* frees it if unused */
		pthread_mutex_unlock(&fs->lock);
		goto fail;
	}
	n->nlookup++;
	n->nopen++;
	n->nwriters++;
	want = n->key;
	pthread_mutex_unlock(&fs->lock);

	if (exists) {
		err = handle_open(fs, h, id, &want, fi->flags);
		if (!err && (fi->flags & O_TRUNC))
			handle_changed(fs, h);
	} else {
		h->ready = true;	/* empty */
		handle_set_view(fs, h, false, false);
		h->append = (fi->flags & O_APPEND) != 0;
		if (fresh)
			handle_changed(fs, h);	/* saved even if empty */
	}
	if (err) {
		handle_unpin(fs, h);
		handle_free(h);
		pthread_mutex_lock(&fs->lock);
		n->nlookup--;
		node_put(fs, n);
		pthread_mutex_unlock(&fs->lock);
		goto fail;
	}
	pthread_mutex_lock(&fs->lock);
	fill_entry(fs, n, now, false, &e);
	pthread_mutex_unlock(&fs->lock);
	fi->fh = (uintptr_t)h;
	fi->direct_io = 1;
	if (fuse_reply_create(req, &e, fi) != 0) {
		handle_unpin(fs, h);
		handle_free(h);
		pthread_mutex_lock(&fs->lock);
		n->nlookup--;
		node_put(fs, n);
		pthread_mutex_unlock(&fs->lock);
	}
	return;
fail:
	fuse_reply_err(req, -ec_errno(err));
}

static void ecfs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			  struct fuse_file_info *fi)
{
	struct ecfs *fs = fs_of(req);
	char id[PATH_MAX];
	struct node *n;
	int err;

	(void)datasync;
	(void)fi;
	pthread_mutex_lock(&fs->lock);
	n = node_get(fs, ino);
	err = n ? node_path(n, id, sizeof(id)) : -ENOENT;
	pthread_mutex_unlock(&fs->lock);
	if (!err)
		err = ec_store_sync_dir(fs->store, id);
	fuse_reply_err(req, -ec_errno(err));
}

/* Space is not reserved for content that lives in memory until it is
 * saved; posix_fallocate(3) falls back to writing. */
static void ecfs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			   off_t offset, off_t length,
			   struct fuse_file_info *fi)
{
	(void)ino;
	(void)mode;
	(void)offset;
	(void)length;
	(void)fi;
	fuse_reply_err(req, fs_of(req)->ro ? EROFS : EOPNOTSUPP);
}

static const struct fuse_lowlevel_ops ecfs_ops = {
	.init = ecfs_init,
	.lookup = ecfs_lookup,
	.forget = ecfs_forget,
	.forget_multi = ecfs_forget_multi,
	.getattr = ecfs_getattr,
	.setattr = ecfs_setattr,
	.mknod = ecfs_mknod,
	.mkdir = ecfs_mkdir,
	.unlink = ecfs_unlink,
	.rmdir = ecfs_rmdir,
	.symlink = ecfs_symlink,
	.rename = ecfs_rename,
	.link = ecfs_link,
	.open = ecfs_open,
	.read = ecfs_read,
	.write = ecfs_write,
	.flush = ecfs_flush,
	.release = ecfs_release,
	.fsync = ecfs_fsync,
	.fsyncdir = ecfs_fsyncdir,
	.opendir = ecfs_opendir,
	.readdir = ecfs_readdir,
	.readdirplus = ecfs_readdirplus,
	.releasedir = ecfs_releasedir,
	.statfs = ecfs_statfs,
	.setxattr = ecfs_setxattr,
	.getxattr = ecfs_getxattr,
	.listxattr = ecfs_listxattr,
	.removexattr = ecfs_removexattr,
	.create = ecfs_create,
	.fallocate = ecfs_fallocate,
};

/* ---- start-up ------------------------------------------------------ */

struct conf {
	char *secrets;
	char *salt;
	char *salt_file;
	char *ttl;
	char *oldest_valid;
	char *key;
	char *suffix;
	char *view;
	char *cache_timeout;
	char *meta_cache;
	char *cachedir;
	char *mountpoint;
	int ro;
	int sync;
	int nonopts;
};

enum { KEY_RO, KEY_SYNC };

#define EC_OPT(t, p) { t, offsetof(struct conf, p), 1 }

static const struct fuse_opt conf_opts[] = {
	EC_OPT("secrets=%s", secrets),
	EC_OPT("salt=%s", salt),
	EC_OPT("salt_file=%s", salt_file),
	EC_OPT("ttl=%s", ttl),
	EC_OPT("oldest_valid=%s", oldest_valid),
	EC_OPT("key=%s", key),
	EC_OPT("suffix=%s", suffix),
	EC_OPT("view=%s", view),
	EC_OPT("cache_timeout=%s", cache_timeout),
	EC_OPT("meta_cache=%s", meta_cache),
	FUSE_OPT_KEY("ro", KEY_RO),
	FUSE_OPT_KEY("sync", KEY_SYNC),
	FUSE_OPT_END
};

static int conf_proc(void *data, const char *arg, int key,
		     struct fuse_args *outargs)
{
	struct conf *c = data;

	(void)outargs;
	switch (key) {
	case KEY_RO:
		c->ro = 1;
		return 1;	/* the kernel mounts read-only too */
	case KEY_SYNC:
		/* Ours: the kernel's would fsync after every write(2), each
		 * a whole save here.  We make every save durable instead. */
		c->sync = 1;
		return 0;
	case FUSE_OPT_KEY_NONOPT:
		/* Both are ours, so that we word the errors about them. */
		c->nonopts++;
		if (!c->cachedir) {
			c->cachedir = strdup(arg);
			return c->cachedir ? 0 : -1;
		}
		if (!c->mountpoint) {
			c->mountpoint = strdup(arg);
			return c->mountpoint ? 0 : -1;
		}
		return 0;	/* too many: check_conf says so */
	default:
		return 1;
	}
}

static void usage(const char *prog)
{
	printf(
"usage: %s [-f] [-d] [-o OPTION[,OPTION...]] CACHEDIR MOUNTPOINT\n"
"\n"
"Mount a cache directory of encrypted envelopes as plain files.\n"
"\n"
"enccachefs options:\n"
"    -o secrets=FILE        secrets file: JSON object of key names to\n"
"                           passwords, mode 0600 (required)\n"
"    -o salt=TEXT           the salt, as the UTF-8 bytes of TEXT\n"
"    -o salt_file=FILE      the salt, as the exact bytes of FILE\n"
"                           (one of salt= and salt_file= is required)\n"
"    -o ttl=DURATION        time to live: '5 days', '3d 2h', '0', 'inf',\n"
"                           or an ISO-8601 expiry time (default: 5 days)\n"
"    -o oldest_valid=ISO    entries created before this time are stale\n"
"    -o key=NAME            key name for new entries (default: 'default',\n"
"                           or the only key)\n"
"    -o suffix=TEXT         envelope file suffix (default: .enc.json)\n"
"    -o view=VIEW           auto, raw, json or xml (default: auto)\n"
"    -o ro                  read-only mount\n"
"    -o sync                make every change durable (fsync the envelope\n"
"                           and its directory) before it returns\n"
"    -o cache_timeout=SECS  how long the kernel may cache names and\n"
"                           attributes (default: 60 on local file\n"
"                           systems, 0 on network ones)\n"
"    -o meta_cache=N        metadata cache size in entries (default: %u)\n"
"\n", prog, EC_FSMETA_DEFAULT_MAX);
}

/* One line on stderr: "enccachefs: <message>". */
__attribute__((format(printf, 1, 2)))
static void complain(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Our messages are lower-case; strerror()'s start with a capital. */
static const char *errtext(int err)
{
	static char text[256];

	snprintf(text, sizeof(text), "%s", ec_strerror(err));
	if (text[0] >= 'A' && text[0] <= 'Z' &&
	    !(text[1] >= 'A' && text[1] <= 'Z'))
		text[0] = (char)(text[0] - 'A' + 'a');
	return text;
}

/* Read a whole small file (the salt: not a secret). */
static int read_small_file(const char *path, uint8_t **out, size_t *outlen)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int fd, err = 0;

	*out = NULL;
	*outlen = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(SALT_FILE_MAX + 1);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, SALT_FILE_MAX + 1 - len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > SALT_FILE_MAX) {
			err = -EC_ETOOBIG;
			goto out;
		}
	}
	*out = buf;
	*outlen = len;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return err;
}

/* Undo mountinfo's octal escapes (\040 for a space...) in place. */
static void unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
				      (s[3] - '0'));
			s += 3;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

/* Whether something is mounted on the directory real (a realpath). */
static bool is_mounted(const char *real)
{
	char line[8192];
	bool found = false;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f) {
		/* No /proc: compare devices with the parent instead. */
		char parent[PATH_MAX];
		struct stat a, b;

		if (snprintf(parent, sizeof(parent), "%s/..", real) >=
		    (int)sizeof(parent) || stat(real, &a) < 0 ||
		    stat(parent, &b) < 0)
			return false;
		return a.st_dev != b.st_dev && strcmp(real, "/") != 0;
	}
	while (!found && fgets(line, sizeof(line), f)) {
		char *save = NULL, *field = strtok_r(line, " ", &save);
		int i;

		for (i = 1; field && i < 5; i++)
			field = strtok_r(NULL, " ", &save);
		if (field) {
			unescape(field);
			found = strcmp(field, real) == 0;
		}
	}
	fclose(f);
	return found;
}

static bool parse_double(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return *s && !*end && !errno && isfinite(*out) && *out >= 0;
}

static bool parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end || errno || v == 0 || v > SIZE_MAX / 2)
		return false;
	*out = (size_t)v;
	return true;
}

/* Checked settings, ready for ec_cache_open. */
struct setup {
	struct ec_cache_options co;
	enum ec_view view;
	double timeout;		/* < 0: not given */
	size_t meta_max;
	char *mountpoint;	/* realpath, malloc'd */
	char *cachedir;		/* realpath, malloc'd */
	uint8_t *salt;		/* malloc'd */
};

static void setup_release(struct setup *s)
{
	free(s->mountpoint);
	free(s->cachedir);
	free(s->salt);
}

/* Validate everything that needs no key; 0, or -1 after complaining. */
static int check_conf(const struct conf *c, const char *mountpoint,
		      struct setup *s)
{
	struct ec_store probe;
	struct stat st;
	int err;

	memset(s, 0, sizeof(*s));
	s->co.ttl = ec_ttl_default();
	s->co.oldest_valid_us = EC_TIME_NONE;
	s->timeout = -1;
	if (!c->cachedir || !mountpoint) {
		complain("missing %s: usage: " PROG " [options] CACHEDIR "
			 "MOUNTPOINT (see --help)",
			 c->cachedir ? "MOUNTPOINT" : "CACHEDIR");
		return -1;
	}
	if (c->nonopts > 2) {
		complain("too many arguments: usage: " PROG " [options] "
			 "CACHEDIR MOUNTPOINT");
		return -1;
	}
	if (!c->secrets) {
		complain("missing option -o secrets=FILE");
		return -1;
	}
	if (c->salt && c->salt_file) {
		complain("options salt= and salt_file= cannot be used "
			 "together");
		return -1;
	}
	if (!c->salt && !c->salt_file) {
		complain("missing option -o salt=TEXT or -o salt_file=FILE");
		return -1;
	}
	if (c->ttl) {
		err = ec_ttl_parse(c->ttl, &s->co.ttl);
		if (err) {
			complain("invalid ttl '%s': %s", c->ttl, errtext(err));
			return -1;
		}
	}
	if (c->oldest_valid) {
		err = ec_time_parse_iso(c->oldest_valid,
					&s->co.oldest_valid_us);
		if (err) {
			complain("invalid oldest_valid '%s': %s",
				 c->oldest_valid, errtext(err));
			return -1;
		}
	}
	s->view = EC_VIEW_AUTO;
	if (c->view && ec_view_parse(c->view, &s->view) != 0) {
		complain("invalid view '%s': use auto, raw, json or xml",
			 c->view);
		return -1;
	}
	if (c->suffix && (!*c->suffix || strchr(c->suffix, '/'))) {
		complain("invalid suffix '%s': must be non-empty, without '/'",
			 c->suffix);
		return -1;
	}
	if (c->key && !*c->key) {
		complain("invalid key name: empty");
		return -1;
	}
	if (c->cache_timeout && !parse_double(c->cache_timeout, &s->timeout)) {
		complain("invalid cache_timeout '%s': not a number of seconds",
			 c->cache_timeout);
		return -1;
	}
	if (c->meta_cache && !parse_size(c->meta_cache, &s->meta_max)) {
		complain("invalid meta_cache '%s': not a positive count",
			 c->meta_cache);
		return -1;
	}

	err = ec_store_open(&probe, c->cachedir, c->suffix);
	if (err) {
		complain("cannot open cache directory '%s': %s", c->cachedir,
			 errtext(err));
		return -1;
	}
	ec_store_release(&probe);
	s->cachedir = realpath(c->cachedir, NULL);
	s->mountpoint = realpath(mountpoint, NULL);
	if (!s->mountpoint || stat(s->mountpoint, &st) < 0) {
		complain("bad mount point '%s': %s", mountpoint,
			 errtext(-errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		complain("bad mount point '%s': %s", mountpoint,
			 errtext(-ENOTDIR));
		return -1;
	}
	if (!s->cachedir) {
		complain("cannot open cache directory '%s': %s", c->cachedir,
			 errtext(-errno));
		return -1;
	}
	if (is_mounted(s->mountpoint)) {
		complain("mount point '%s' is busy: something is already "
			 "mounted there", mountpoint);
		return -1;
	}
	{
		size_t cl = strlen(s->cachedir);

		if (strncmp(s->mountpoint, s->cachedir, cl) == 0 &&
		    (s->mountpoint[cl] == '/' || !s->mountpoint[cl] ||
		     cl == 1)) {
			complain("mount point '%s' is inside the cache "
				 "directory '%s'", mountpoint, c->cachedir);
			return -1;
		}
	}
	if (c->salt) {
		s->co.salt_len = strlen(c->salt);
		s->salt = (uint8_t *)strdup(c->salt);
		if (!s->salt) {
			complain("out of memory");
			return -1;
		}
	} else {
		err = read_small_file(c->salt_file, &s->salt, &s->co.salt_len);
		if (err) {
			complain("cannot read salt file '%s': %s",
				 c->salt_file, errtext(err));
			return -1;
		}
	}
	s->co.dir = s->cachedir;
	s->co.durable = c->sync;
	s->co.suffix = c->suffix;
	s->co.salt = s->salt;
	s->co.default_key = c->key;
	return 0;
}

/*
 * fuse_session_loop_mt() of FUSE_USE_VERSION 31 leaks its loop config in
 * libfuse 3.12 to 3.14 (valgrind: "definitely lost").  The 3.2 entry
 * point takes the version-1 config, which is our struct fuse_loop_config,
 * and frees what it makes; libfuse exports it from 3.2 on.
 */
#if FUSE_USE_VERSION < 32
int fuse_session_loop_mt_32(struct fuse_session *se,
			    struct fuse_loop_config *config);
#endif

static int loop_mt(struct fuse_session *se,
		   const struct fuse_cmdline_opts *cmd)
{
#if FUSE_USE_VERSION < 32
	/* UINT_MAX (not given) would be logged as invalid: use libfuse's
	 * documented default of 10. */
	struct fuse_loop_config lc = {
		.clone_fd = cmd->clone_fd,
		.max_idle_threads = cmd->max_idle_threads == UINT_MAX ? 10 :
			cmd->max_idle_threads,
	};

	return fuse_session_loop_mt_32(se, &lc);
#elif FUSE_USE_VERSION < FUSE_MAKE_VERSION(3, 12)
	struct fuse_loop_config lc = {
		.clone_fd = cmd->clone_fd,
		.max_idle_threads = cmd->max_idle_threads,
	};

	return fuse_session_loop_mt(se, &lc);
#else
	struct fuse_loop_config *lc = fuse_loop_cfg_create();
	int err;

	if (!lc)
		return -ENOMEM;
	fuse_loop_cfg_set_clone_fd(lc, (unsigned)cmd->clone_fd);
	fuse_loop_cfg_set_idle_threads(lc, cmd->max_idle_threads);
	fuse_loop_cfg_set_max_threads(lc, cmd->max_threads);
	err = fuse_session_loop_mt(se, lc);
	fuse_loop_cfg_destroy(lc);
	return err;
#endif
}

__attribute__((format(printf, 2, 0)))
static void log_syslog(enum fuse_log_level level, const char *fmt,
		       va_list ap)
{
	vsyslog((int)level, fmt, ap);
}

static void fs_release(struct ecfs *fs)
{
	size_t i;

	ec_watch_free(fs->watch);
	fs->watch = NULL;
	if (fs->by_ino) {
		for (i = 0; i < fs->ino_buckets; i++) {
			while (fs->by_ino[i]) {
				struct node *n = fs->by_ino[i];

				fs->by_ino[i] = n->ino_next;
				node_free(n);
			}
		}
	}
	free(fs->by_ino);
	free(fs->by_name);
	ec_fsmeta_free(fs->meta);
	ec_cache_free(fs->cache);
	pthread_mutex_destroy(&fs->lock);
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts cmd;
	struct ec_secrets secrets = { NULL, 0 };
	struct conf c;
	struct setup s;
	struct ecfs fs;
	struct fuse_session *se = NULL;
	bool mounted = false, handlers = false;
	int err, ret = 1;

	memset(&c, 0, sizeof(c));
	memset(&s, 0, sizeof(s));
	memset(&cmd, 0, sizeof(cmd));
	memset(&fs, 0, sizeof(fs));
	pthread_mutex_init(&fs.lock, NULL);
	fs.watch = NULL;

	/* Keys and plaintext stay out of core dumps and ptrace. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* Whatever we create in the cache is ours alone (the store sets
	 * 0600 on envelopes; directories are made 0700). */
	umask(077);
	if (ec_secure_init() != 0) {
		complain("cannot initialise libsodium");
		goto out;
	}
	if (fuse_opt_parse(&args, &c, conf_opts, conf_proc) != 0)
		goto out;
	if (fuse_parse_cmdline(&args, &cmd) != 0)
		goto out;
	if (cmd.show_help) {
		usage(argv[0]);
		printf("FUSE options:\n");
		fuse_cmdline_help();
		fuse_lowlevel_help();
		ret = 0;
		goto out;
	}
	if (cmd.show_version) {
		printf(PROG " version %s\n", PACKAGE_VERSION);
		printf("FUSE library version %s\n", fuse_pkgversion());
		fflush(stdout);	/* fusermount3 --version writes next */
		fuse_lowlevel_version();
		ret = 0;
		goto out;
	}
	if (check_conf(&c, c.mountpoint, &s) != 0)
		goto out;
	if (fuse_opt_add_arg(&args, "-odefault_permissions,fsname=" PROG
			     ",subtype=" PROG) != 0) {
		complain("out of memory");
		goto out;
	}

	fs.view = s.view;
	fs.ro = c.ro;
	fs.sync = c.sync;
	fs.uid = getuid();
	fs.gid = getgid();
	fs.next_ino = FUSE_ROOT_ID + 1;
	fs.ino_buckets = fs.name_buckets = 1024;
	fs.by_ino = calloc(fs.ino_buckets, sizeof(*fs.by_ino));
	fs.by_name = calloc(fs.name_buckets, sizeof(*fs.by_name));
	if (!fs.by_ino || !fs.by_name ||
	    ec_fsmeta_new(s.meta_max, &fs.meta) != 0) {
		complain("out of memory");
		goto out;
	}
	/* Unknown FUSE options are reported here, before keys are made. */
	se = fuse_session_new(&args, &ecfs_ops, sizeof(ecfs_ops), &fs);
	if (!se)
		goto out;
	fs.se = se;
	fs.notifier = notifier_new(se);
	if (!fs.notifier) {
		complain("out of memory");
		goto out;
	}

	err = ec_secrets_read_file(c.secrets, &secrets);
	if (err) {
		complain("cannot use secrets file '%s': %s", c.secrets,
			 errtext(err));
		goto out;
	}
	err = ec_cache_open(&s.co, &secrets, &fs.cache);  /* wipes secrets */
	if (err) {
		if (err == -EC_EKEY || err == -EINVAL)
			complain("unknown key name '%s': not in secrets file "
				 "'%s'", c.key ? c.key : "default", c.secrets);
		else
			complain("cannot open cache directory '%s': %s",
				 c.cachedir, errtext(err));
		goto out;
	}
	fs.store = ec_cache_store(fs.cache);
	fs.timeout = s.timeout >= 0 ? s.timeout :
		ec_watch_reliable(fs.store->dirfd) ? TIMEOUT_DEFAULT : 0;

	fs.root.ino = FUSE_ROOT_ID;
	fs.root.is_dir = true;
	fs.root.nlookup = 1;
	fs.root.wd = -1;
	fs.root.name = (char *)"";
	{
		struct stat rst;

		if (ec_store_stat_dir(fs.store, "", &rst) == 0)
			ec_fsmeta_key_of(&fs.root.key, &rst);
	}
	err = ec_watch_open(fs.store->dirfd, on_watch, &fs, &fs.watch);
	if (err) {
		complain("cannot watch cache directory '%s': %s", c.cachedir,
			 errtext(err));
		goto out;
	}
	if (fs.timeout > 0) {
		err = ec_watch_add(fs.watch, "", &fs.root.wd);
		if (err) {
			complain("cannot watch cache directory '%s': %s",
				 c.cachedir, errtext(err));
			goto out;
		}
		wd_link(&fs, &fs.root);
	}

	if (fuse_set_signal_handlers(se) != 0)
		goto out;
	handlers = true;
	if (fuse_session_mount(se, s.mountpoint) != 0)
		goto out;
	mounted = true;
	if (fuse_daemonize(cmd.foreground) != 0)
		goto out;
	if (!cmd.foreground) {
		openlog(PROG, LOG_PID, LOG_DAEMON);
		fuse_set_log_func(log_syslog);
		/* Memory locks are not inherited across fork(2). */
		err = ec_cache_lock_keys(fs.cache);
		if (err)
			fuse_log(FUSE_LOG_WARNING, PROG ": cannot lock the "
				 "keys in memory: %s\n", ec_strerror(err));
	}
	err = notifier_start(fs.notifier);
	if (err) {
		fuse_log(FUSE_LOG_ERR, PROG ": cannot start the notifier "
			 "thread: %s\n", ec_strerror(err));
		goto out;
	}
	err = ec_watch_start(fs.watch);
	if (err) {
		fuse_log(FUSE_LOG_ERR, PROG ": cannot start the watch thread: "
			 "%s\n", ec_strerror(err));
		goto out;
	}
	fs.notify_wait_ms = cmd.singlethread ? NOTIFY_WAIT_MS_SINGLE :
		NOTIFY_WAIT_MS;
	if (cmd.singlethread)
		err = fuse_session_loop(se);
	else
		err = loop_mt(se, &cmd);
	ret = err < 0 ? 1 : 0;	/* > 0: stopped by a signal */
out:
	/* Unmount first: that fails any request still pending, so a
	 * notification the watch thread is sending cannot wait for one;
	 * then stop the thread before the session goes away. */
	if (mounted)
		fuse_session_unmount(se);
	ec_watch_free(fs.watch);
	fs.watch = NULL;
	notifier_free(fs.notifier);
	fs.notifier = NULL;
	if (handlers)
		fuse_remove_signal_handlers(se);
	if (se)
		fuse_session_destroy(se);
	fs_release(&fs);
	ec_secrets_release(&secrets);
	setup_release(&s);
	free(cmd.mountpoint);
	free(c.secrets);
	free(c.salt);
	free(c.salt_file);
	free(c.ttl);
	free(c.oldest_valid);
	free(c.key);
	free(c.suffix);
	free(c.view);
	free(c.cache_timeout);
	free(c.meta_cache);
	free(c.cachedir);
	free(c.mountpoint);
	fuse_opt_free_args(&args);
	return ret;
}
