/*
 * present: how an entry version is presented.  Loading and classifying
 * an envelope (through the core), rendering it under the mount's view,
 * remembering it in fsmeta with its extended attributes, the attributes
 * and reply timeouts the kernel gets (the one place that decides whether
 * a reply may be cached), and the nodes for what a lookup or listing
 * found.  Logs a bad envelope once per version.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs.h"
#include "secure.h"
#include "ttl.h"

void ec_fs_printable(const char *in, char *out, size_t size)
{
	size_t i;

	for (i = 0; in[i] && i + 1 < size; i++)
		out[i] = ((unsigned char)in[i] < 0x20 || in[i] == 0x7f) ?
			 '?' : in[i];
	out[i] = '\0';
}

void ec_present_unreachable(struct ecfs *fs, int err)
{
	int64_t now = ec_clock_now_us(),
		was = __atomic_load_n(&fs->unreachable_us, __ATOMIC_RELAXED);

	if (was && now - was < 10000000)
		return;
	if (!__atomic_compare_exchange_n(&fs->unreachable_us, &was, now, false,
					 __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return;		/* another thread says it */
	fuse_log(FUSE_LOG_WARNING, PROG ": backing store: %s (requests fail "
		 "until it is back)\n", ec_strerror(err));
}

static void report_loose(struct ecfs *fs, const char *id, bool is_dir,
			 const struct stat *st)
{
	char shown[PATH_MAX];

	/* Once per file and mode, not per version: rewriting a loose file
	 * in place keeps it loose, and that is worth one line. */
	if (!(st->st_mode & 077) ||
	    !ec_fsmeta_once(fs->meta, st->st_dev, st->st_ino,
			    (int64_t)st->st_mode, EC_ONCE_LOOSE))
		return;
	ec_fs_printable(*id ? id : ".", shown, sizeof(shown));
	fuse_log(FUSE_LOG_WARNING, PROG ": %s '%s' is accessible by group or "
		 "others (mode %04o); shown as %s\n", is_dir ? "directory" :
		 "entry", shown, (unsigned)(st->st_mode & 07777),
		 is_dir ? "0700" : "0600");
}

/* The core's verdict, the one enccache ls --all gives too, on what
 * fsmeta kept of an entry when it was loaded. */
static enum ec_state verdict(const struct ecfs *fs,
			     const struct ec_fsmeta_info *mi, int64_t now)
{
	struct ec_entry e;

	memset(&e, 0, sizeof(e));
	e.state = mi->state;
	e.reason = mi->reason;
	e.created_us = mi->created_us;
	e.expires_us = mi->expires_us;
	return ec_entry_verdict(fs->cache, &e, now, NULL);
}

void ec_present_count_hidden(struct ecfs *fs,
			     const struct ec_fsmeta_info *mi, int64_t now)
{
	static const enum ec_fsstat by_state[] = {
		[EC_STATE_STALE] = EC_FSSTAT_HIDDEN_STALE,
		[EC_STATE_SALT_MISMATCH] = EC_FSSTAT_HIDDEN_SALT_MISMATCH,
		[EC_STATE_UNKNOWN_KEY] = EC_FSSTAT_HIDDEN_UNKNOWN_KEY,
		[EC_STATE_CORRUPT] = EC_FSSTAT_HIDDEN_CORRUPT,
		[EC_STATE_TAMPERED] = EC_FSSTAT_HIDDEN_TAMPERED,
	};
	enum ec_state st = verdict(fs, mi, now);

	if (st != EC_STATE_VALID)
		ecfs_count(&fs->stats, by_state[st], 1);
}

int ec_present_stats(struct ecfs *fs, char **out, size_t *len)
{
	struct ec_fsstats s;
	size_t i;

	memset(&s, 0, sizeof(s));
	for (i = 0; i < EC_FSSTAT_N; i++)
		s.v[i] = __atomic_load_n(&fs->stats.v[i], __ATOMIC_RELAXED);
	return ec_fsstats_format(&s, out, len);
}

bool ec_present_shown(const struct ecfs *fs, const struct ec_fsmeta_info *mi,
		      int64_t now)
{
	return verdict(fs, mi, now) == EC_STATE_VALID;
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
static bool render(struct ecfs *fs, struct ec_entry *e,
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

bool ec_present_torn(const struct ec_fsmeta_info *mi,
		     const struct ec_fsmeta_key *key, int64_t now)
{
	return mi->state == EC_STATE_CORRUPT &&
	       (key->size == 0 || now - key->mtime_ns / 1000 < YOUNG_US);
}

bool ec_present_is_version(const struct ecfs *fs, const char *id,
			   const struct ec_fsmeta_key *key)
{
	struct ec_fsmeta_key k;
	struct stat st;

	if (ec_store_stat_known(fs->store, id, &st) != 0)
		return false;
	ec_fsmeta_key_of(&k, &st);
	return ec_fsmeta_key_equal(&k, key);
}

/* How often, and how long apart, a half-written envelope is read again
 * before it is answered as it is. */
#define REREAD_TRIES 25
#define REREAD_PAUSE_NS 2000000L	/* 2 ms: 50 ms in all */

void ec_present_pause(void)
{
	struct timespec ts = { 0, REREAD_PAUSE_NS };

	nanosleep(&ts, NULL);
}

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
static void record(struct ecfs *fs, const char *id,
			 const struct ec_entry *e,
			 const struct ec_fsmeta_key *key,
			 const struct ec_fsmeta_info *mi, int64_t now)
{
	struct ec_fsmeta_xattr x[X_N];
	char expires[EC_TIME_ISO_MAX];
	size_t nx = 0;

	if (mi->reason == -EC_EJSON && ec_present_torn(mi, key, now))
		return;
	if (mi->state != EC_STATE_VALID && mi->state != EC_STATE_STALE &&
	    ec_fsmeta_once(fs->meta, key->dev, key->ino, key->ctime_ns,
			   EC_ONCE_BAD)) {
		char shown[PATH_MAX];

		ec_fs_printable(id, shown, sizeof(shown));
		if (mi->state == EC_STATE_TAMPERED) {
			/* Said as enccache says it: most often the wrong
			 * password, not a changed file. */
			char why[EC_REASON_MAX];

			ec_entry_reason_text(fs->cache, e, now, why,
					     sizeof(why));
			ec_fs_printable(why, why, sizeof(why));
			fuse_log(FUSE_LOG_WARNING, PROG ": hiding '%s': %s\n",
				 shown, why);
		} else {
			fuse_log(FUSE_LOG_WARNING, PROG ": hiding '%s': %s "
				 "(%s)\n", shown, ec_state_name(mi->state),
				 ec_strerror(mi->reason));
		}
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
 * Whether a version read now may be remembered.  A network client caches
 * attributes and data apart (GlusterFS 1 s each), so for a moment after an
 * envelope is rewritten in place on another machine a read here may give
 * the old bytes with the new version's stat; remembered, that version
 * would show the old content for good (an open checks a known version by
 * a stat alone there, handle.c).  So on a shared store a version younger
 * than EC_NET_SETTLE_US (by its ctime) is read again each time instead.
 */
static bool may_record(const struct ecfs *fs, const struct ec_fsmeta_key *key,
		       int64_t now)
{
	return !fs->net || now - key->ctime_ns / 1000 >= EC_NET_SETTLE_US;
}

void ec_present_classify(struct ecfs *fs, const char *id, const char *env,
			 size_t envlen, int64_t now, struct ec_fsmeta_info *mi,
			 uint8_t **content, size_t *clen)
{
	struct ec_entry e;

	ec_cache_classify_id(fs->cache, id, env, envlen,
			     EC_LOAD_DATA | EC_LOAD_STALE_OK, now, &e);
	ecfs_count(&fs->stats, EC_FSSTAT_DECRYPTIONS, 1);
	*content = NULL;
	(void)render(fs, &e, mi, content, clen);
	ec_entry_release(&e);
}

void ec_present_bytes(struct ecfs *fs, const char *id, const char *env,
		      size_t envlen, const struct stat *st, int64_t now,
		      unsigned flags, struct ec_fsmeta_info *mi,
		      uint8_t **content, size_t *clen)
{
	struct ec_fsmeta_key key;
	struct ec_entry e;

	ec_cache_classify_id(fs->cache, id, env, envlen, flags, now, &e);
	ecfs_count(&fs->stats, EC_FSSTAT_DECRYPTIONS, 1);
	e.st = *st;
	ec_fsmeta_key_of(&key, st);
	if (content)
		*content = NULL;
	(void)render(fs, &e, mi, content, clen);
	mi->digest = e.tag;
	if (may_record(fs, &key, now))
		record(fs, id, &e, &key, mi, now);
	ec_entry_release(&e);
}

/* One read of id's envelope, for ec_present_load. */
static int load_once(struct ecfs *fs, const char *id, int64_t now,
		     const struct ec_fsmeta_key *hint,
		     struct ec_fsmeta_key *key, struct ec_fsmeta_info *mi,
		     uint8_t **content, size_t *clen)
{
	uint8_t *kept = NULL;
	size_t keptlen = 0;
	struct ec_entry e;
	int err;

	/* The core reads a big envelope in a stream (the plaintext once). */
	err = ec_cache_load(fs->cache, id, EC_LOAD_DATA, now, &e);
	ecfs_count(&fs->stats, EC_FSSTAT_ENVELOPE_READS, 1);
	if (err)
		return err;
	ecfs_count(&fs->stats, EC_FSSTAT_DECRYPTIONS, 1);
	if (e.st.st_ino)
		ec_fsmeta_key_of(key, &e.st);
	else if (hint)
		*key = *hint;
	else
		memset(key, 0, sizeof(*key));
	if (content)
		*content = NULL;
	if (content || !fs->contents) {
		(void)render(fs, &e, mi, content, clen);
	} else if (render(fs, &e, mi, &kept, &keptlen)) {
		/* For the read that usually follows (recent.h). */
		ec_recent_put(fs->contents, key, e.tag, kept, keptlen, now);
	}
	mi->digest = e.tag;
	if (e.st.st_ino && may_record(fs, key, now))
		record(fs, id, &e, key, mi, now);
	ec_entry_release(&e);
	return 0;
}

int ec_present_load(struct ecfs *fs, const char *id, int64_t now,
		    const struct ec_fsmeta_key *hint, struct ec_fsmeta_key *key,
		    struct ec_fsmeta_info *mi, uint8_t **content, size_t *clen)
{
	int tries, err;

	/* The Python module rewrites an envelope in place: a reader that
	 * finds it half-written waits a moment for the whole of it. */
	for (tries = 0;; tries++) {
		err = load_once(fs, id, now, hint, key, mi, content, clen);
		if (err || tries + 1 >= REREAD_TRIES ||
		    !ec_present_torn(mi, key, ec_clock_now_us()))
			return err;
		ec_present_pause();
	}
}

/* A small save's content kept for the read that usually follows, as a
 * load of it keeps it (recent.h); a big one's is not. */
static void keep_small(struct ecfs *fs, const struct ec_fsmeta_key *key,
		       uint64_t tag, const uint8_t *data, size_t len,
		       int64_t now, bool streamed)
{
	uint8_t *copy;

	if (streamed || !fs->contents)
		return;
	copy = ec_secure_alloc(len ? len : 1);
	if (!copy)
		return;
	if (len)
		memcpy(copy, data, len);
	ec_recent_put(fs->contents, key, tag, copy, len, now);
}

int ec_present_saved(struct ecfs *fs, const char *id,
		     const struct ec_save_result *r, const uint8_t *data,
		     size_t len, const char *comment, struct ec_fsmeta_key *key,
		     struct ec_fsmeta_info *mi)
{
	char created[EC_TIME_ISO_MAX];
	int64_t now = ec_clock_now_us();
	struct ec_entry e;
	int err;

	/* Shown as it is under every view when it cannot be a bplist. */
	if (may_be_bplist(data, len))
		return -EAGAIN;
	memset(&e, 0, sizeof(e));
	if (r->st.st_ino)
		e.st = r->st;
	else if ((err = ec_store_stat_entry(fs->store, id, &e.st)) != 0)
		return err;
	ec_time_format_iso(r->created_us, created);
	e.state = EC_STATE_VALID;
	e.created_us = r->created_us;
	/* under id's TTL rule, as a load of it would judge it */
	e.expires_us = ec_cache_expiry(fs->cache, id, r->created_us);
	e.env.key = (char *)r->key;
	e.env.created_at = created;
	e.env.comment = (char *)comment;
	e.tag = r->tag;
	ec_fsmeta_key_of(key, &e.st);
	memset(mi, 0, sizeof(*mi));
	mi->state = ec_entry_verdict(fs->cache, &e, now, &mi->reason);
	mi->created_us = e.created_us;
	mi->expires_us = e.expires_us;
	mi->size = len;
	mi->digest = e.tag;
	record(fs, id, &e, key, mi, now);
	keep_small(fs, key, e.tag, data, len, now, r->streamed);
	return 0;
}

/* Whether mi, kept for a version of an envelope, was judged under the TTL
 * rule id has: a version keeps its key when it, or a directory above it,
 * is renamed, and its new id may fall under another rule (ttl_rules=).
 * The expiry the load computed tells, for an authenticated entry. */
static bool same_rule(const struct ecfs *fs, const char *id,
		      const struct ec_fsmeta_info *mi)
{
	if (ec_cache_rules(fs->cache)->n == 0 ||
	    (mi->state != EC_STATE_VALID && mi->state != EC_STATE_STALE))
		return true;
	return ec_cache_expiry(fs->cache, id, mi->created_us) ==
	       mi->expires_us;
}

/* Metadata of id's current version: from fsmeta when st (the backing
 * lstat, or NULL to stat now) is known and was judged under id's TTL
 * rule, else loaded. */
int ec_present_meta(struct ecfs *fs, const char *id, const struct stat *st,
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
	if (ec_fsmeta_get(fs->meta, &hint, mi) && same_rule(fs, id, mi)) {
		ecfs_count(&fs->stats, EC_FSSTAT_HITS, 1);
		*key = hint;
		return 0;
	}
	ecfs_count(&fs->stats, EC_FSSTAT_MISSES, 1);
	return ec_present_load(fs, id, now, &hint, key, mi, NULL, NULL);
}

int64_t ec_us_of_ts(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000 + ts->tv_nsec / 1000;
}

struct timespec ec_ts_of_us(int64_t us)
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
void ec_present_attr(const struct ecfs *fs, const struct node *n,
		      struct stat *a)
{
	memset(a, 0, sizeof(*a));
	a->st_ino = n->shown_ino;
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
			a->st_mtim = ec_ts_of_us(n->wtime_us);
		else if (n->info.created_us != EC_TIME_NONE)
			a->st_mtim = ec_ts_of_us(n->info.created_us);
		else
			a->st_mtim = ts_of_ns(n->key.mtime_ns);
		a->st_atim = a->st_ctim = a->st_mtim;
	}
}

/* How long the kernel may cache n: 0 unless cacheable, never past the
 * entry's expiry, never while it is being written (its size changes at
 * each save, and a pending node may vanish). */
double ec_present_timeout(const struct ecfs *fs, const struct node *n,
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

void ec_present_entry(const struct ecfs *fs, const struct node *n,
		       int64_t now, bool cacheable, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = n->ino;
	ec_present_attr(fs, n, &e->attr);
	e->entry_timeout = e->attr_timeout = ec_present_timeout(fs, n, now,
							  cacheable);
}

/* The directory node for name under p whose backing directory is st,
 * watched.  Lock held. */
struct node *ec_present_dir_node(struct ecfs *fs, struct node *p,
			     const char *name, const char *id,
			     const struct stat *st)
{
	struct node *n = ec_node_child(&fs->nodes, p, name);

	if (n && (!n->is_dir || n->key.dev != (uint64_t)st->st_dev ||
		  n->key.ino != (uint64_t)st->st_ino)) {
		ec_node_unhash(&fs->nodes, n);
		n = NULL;
	}
	if (!n) {
		int err;

		n = ec_node_new(&fs->nodes, p, name, true);
		if (!n)
			return NULL;
		ec_fsmeta_key_of(&n->key, st);
		ec_node_identify(&fs->nodes, n);
		/* Without kernel caching there is nothing to invalidate.  An
		 * unwatched directory's entries are answered uncached. */
		err = fs->timeout > 0 && !fs->net && fs->watch ?
			ec_watch_add(fs->watch, id, &n->wd) : 0;
		if (n->wd >= 0) {
			ec_node_wd_link(&fs->nodes, n);
		} else if (err && ec_fsmeta_once(fs->meta, st->st_dev,
						 st->st_ino, 0, EC_ONCE_WATCH)) {
			char shown[PATH_MAX];

			ec_fs_printable(id, shown, sizeof(shown));
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

/* The node for the entry version key under p.  Lock held. */
struct node *ec_present_file_node(struct ecfs *fs, struct node *p,
			      const char *name,
			      const struct ec_fsmeta_key *key,
			      const struct ec_fsmeta_info *mi)
{
	struct node *n = ec_node_child(&fs->nodes, p, name), *old = NULL;

	/* A file that handles follow keeps its name (ec_node_holds_name);
	 * without snapshots through the page cache it takes the version
	 * found (the kernel does not cache its attributes meanwhile). */
	if (n && ec_node_holds_name(n) &&
	    !ec_fsmeta_key_equal(&n->key, key)) {
		if (!n->ncached && !n->pending) {
			n->key = *key;
			n->info = *mi;
			n->reversioned = true;
			n->pages_full = false;
			n->settled = false;
		}
		return n;
	}
	if (n && (n->is_dir || !ec_fsmeta_key_equal(&n->key, key))) {
		if (n->writer_due)
			old = n;
		ec_node_unhash(&fs->nodes, n);
		n = NULL;
	}
	if (!n) {
		n = ec_node_new(&fs->nodes, p, name, false);
		if (!n)
			return NULL;
		n->key = *key;
		ec_node_identify(&fs->nodes, n);
		/* One made for a writer that has not come (ecfs_open) may
		 * have nothing referring to it: freed then (p keeps n). */
		ec_node_put(&fs->nodes, old);
	}
	n->info = *mi;
	return n;
}

void ec_attr_set_size(struct stat *a, size_t len)
{
	a->st_size = (off_t)len;
	a->st_blocks = (blkcnt_t)((len + 511) / 512);
}
