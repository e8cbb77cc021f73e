/*
 * handle: open files.  Opening (a complete version, or ENOENT), loading
 * the content once, live readers and writers' buffers (their saves are
 * handle_save.c's); the rules are the file lifecycle written in fs.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "handle.h"
#include "replace.h"
#include "ttl.h"

/* An envelope rewritten in place is half-written for a moment: how often
 * open reads it again (ec_present_pause() apart) before ENOENT. */
#define REREAD_TRIES 25

struct handle *ec_handle_new(struct node *n, bool writable)
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

/* handle.h: the handles the kernel holds. */
static pthread_mutex_t open_mu = PTHREAD_MUTEX_INITIALIZER;
static struct ec_link *open_handles;

void ec_handle_track(struct handle *h)
{
	pthread_mutex_lock(&open_mu);
	ec_link_push(&open_handles, &h->open);
	h->tracked = true;
	pthread_mutex_unlock(&open_mu);
}

void ec_handle_untrack(struct handle *h)
{
	pthread_mutex_lock(&open_mu);
	if (h->tracked)
		ec_link_remove(&open_handles, &h->open);
	h->tracked = false;
	pthread_mutex_unlock(&open_mu);
}

struct handle *ec_handle_untrack_any(void)
{
	struct handle *h = NULL;

	pthread_mutex_lock(&open_mu);
	if (open_handles) {
		h = EC_LINK_OWNER(open_handles, struct handle, open);
		ec_link_remove(&open_handles, &h->open);
		h->tracked = false;
	}
	pthread_mutex_unlock(&open_mu);
	return h;
}

void ec_handle_free(struct handle *h)
{
	free(h->env);
	ec_secure_free(h->data);
	ec_sbuf_release(&h->buf);	/* wipes */
	pthread_mutex_destroy(&h->lock);
	free(h);
}

void ec_handle_pin(struct handle *h)
{
	struct node *n = h->node;

	if (h->writable) {
		n->nopen++;
		n->nwriters++;
		n->writer_due = false;
		return;
	}
	h->cached = ec_node_open_reader(n);
	h->live = !h->cached;
	h->seen_saves = n->saves;
}

void ec_handle_unpin(struct ecfs *fs, struct handle *h)
{
	struct node *n = h->node;

	pthread_mutex_lock(&fs->lock);
	if (h->writable) {
		n->nopen--;
		n->nwriters--;
	} else {
		ec_node_close_reader(n, h->cached, h->live);
	}
	if (h->dirty)
		n->ndirty--;
	h->dirty = false;
	ec_node_put(&fs->nodes, n);
	pthread_mutex_unlock(&fs->lock);
}

/*
 * existing tells whether the writer writes over a (valid) entry, and
 * is_bplist whether that entry's data is a binary plist.  Under view=auto
 * an entry shown as JSON must be written as JSON, a raw entry stays raw,
 * and a new entry is a binary plist when its content parses as JSON, else
 * raw.  The other views apply to every write as they are.
 */
void ec_handle_set_view(struct ecfs *fs, struct handle *h, bool existing,
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

void ec_handle_adopt(struct handle *h, uint8_t *content, size_t len)
{
	if (h->writable) {
		ec_sbuf_release(&h->buf);
		h->buf.p = content;
		h->buf.len = h->buf.cap = len;
	} else {
		ec_secure_free(h->data);
		h->data = content;
		h->len = len;
	}
	free(h->env);
	h->env = NULL;
	h->ready = true;
}

/*
 * Whether version k, read at read_us, is known by its stat alone: an
 * envelope rewritten in place keeps its inode and may keep its size, and
 * a file system stamps times from a clock that ticks coarsely (a jiffy;
 * a second on some), so a write within the tick of k's ctime may leave
 * the stat unchanged.  Once the ctime is EC_SETTLE_US older than the
 * read, any later write stamps a later ctime, and the stat tells.
 */
static bool settled(const struct ec_fsmeta_key *k, int64_t read_us)
{
	return read_us - k->ctime_ns / 1000 >= EC_SETTLE_US;
}

/*
 * Whether id's file is still version want (digest d) now, for a content
 * kept from its lookup, whose read began at read_at or later: told by its
 * stat when settled then (a rewrite in place since would stamp a later
 * ctime), else, as when it was saved a moment ago, by reading the
 * envelope through for its tag without decrypting it (about a tenth of a
 * load).
 */
static bool still_version(struct ecfs *fs, const char *id,
			  const struct ec_fsmeta_key *want, uint64_t d,
			  int64_t read_at)
{
	struct ec_fsmeta_key got;
	struct stat st;
	uint64_t tag = 0;

	if (settled(want, read_at)) {
		if (ec_store_stat_known(fs->store, id, &st) != 0)
			return false;
	} else if (ec_cache_big_tag(fs->cache, id, &st, &tag) != 0 ||
		   tag != d) {
		return false;
	}
	ec_fsmeta_key_of(&got, &st);
	return ec_fsmeta_key_equal(want, &got);
}

/*
 * A big envelope (EC_STREAM_MIN bytes and more): loaded now, in one
 * pass through the core, and its content adopted, so that it is never in
 * memory twice (no envelope kept for later).  Another version than want
 * is told by its key and its tag.  1 when it looks half-written.
 */
static int read_big(struct ecfs *fs, struct handle *h, const char *id,
		    const struct ec_fsmeta_key *want,
		    struct ec_fsmeta_info *mi)
{
	struct ec_fsmeta_info known;
	struct ec_fsmeta_key got;
	uint8_t *content = NULL;
	size_t clen = 0;
	int64_t now, read_at = 0;
	bool had;
	int err;

	had = ec_fsmeta_get(fs->meta, want, &known);
	/* Decrypted a moment ago, at its lookup (recent.h)? */
	now = ec_clock_now_us();
	if (had && fs->contents &&
	    ec_recent_take_big(fs->contents, want, known.digest, now,
			       &content, &clen, &read_at)) {
		if (still_version(fs, id, want, known.digest, read_at)) {
			*mi = known;
			h->other = false;
			ec_handle_adopt(h, content, clen);
			return 0;
		}
		ec_secure_free(content);
		content = NULL;
		clen = 0;
	}
	err = ec_present_load(fs, id, h->opened_us, want, &got, mi, &content,
			      &clen);
	if (err)
		return err == -EISDIR || err == -ELOOP || err == -EINVAL ||
		       err == -EC_EID ? -ENOENT : err;
	if (!ec_present_shown(fs, mi, h->opened_us)) {
		ec_secure_free(content);
		return ec_present_torn(mi, &got, ec_clock_now_us());
	}
	h->other = !ec_fsmeta_key_equal(want, &got) ||
		   (had && known.digest != mi->digest);
	ec_handle_adopt(h, content, clen);
	return 0;
}

/* h's node's version k had its bytes read at read_us or later: when they
 * were settled then, k's stat alone tells it from now on. */
static void note_settled(struct ecfs *fs, struct handle *h,
			 const struct ec_fsmeta_key *k, int64_t read_us)
{
	struct node *n = h->node;

	if (!settled(k, read_us))
		return;
	pthread_mutex_lock(&fs->lock);
	if (ec_fsmeta_key_equal(&n->key, k))
		n->settled = true;
	pthread_mutex_unlock(&fs->lock);
}

void ec_handle_read_end(struct ecfs *fs, struct handle *h)
{
	pthread_mutex_lock(&fs->lock);
	h->node->pages_full = true;
	h->node->pages_digest = h->digest;
	pthread_mutex_unlock(&fs->lock);
}

/*
 * Every read of an envelope costs syscalls (a round trip to its server
 * on a shared store), a stat fewer (the network client caches
 * attributes).  A snapshot of the version its node knows, as one stat
 * shows it, is opened without reading it when its content is at hand
 * (decrypted a moment ago) or the kernel most likely holds its pages
 * (this version, with the digest fsmeta knows, was read to its end
 * before); the first read that reaches us reads the envelope then
 * (unread_load).  Either only for a settled version (above), and on a
 * shared store fsmeta knows no version that may have been read stale
 * (present.c, EC_NET_SETTLE_US).  *mi as fsmeta knows it; 1 when the
 * envelope is to be read now.
 */
static int open_unread(struct ecfs *fs, struct handle *h, const char *id,
		       const struct ec_fsmeta_key *want,
		       struct ec_fsmeta_info *mi)
{
	struct ec_fsmeta_key got;
	uint8_t *content = NULL;
	size_t clen = 0;
	struct stat st;
	int64_t now;
	bool full;

	if ((uint64_t)want->size >= EC_STREAM_MIN ||
	    ec_store_stat_known(fs->store, id, &st) != 0)
		return 1;	/* a big one, or the read tells what is wrong */
	ec_fsmeta_key_of(&got, &st);
	if (!ec_fsmeta_key_equal(want, &got) ||
	    !ec_fsmeta_get(fs->meta, want, mi))
		return 1;
	h->other = false;
	now = ec_clock_now_us();
	/* A kept content was read EC_RECENT_US ago at most. */
	if (fs->contents && settled(want, now - EC_RECENT_US) &&
	    ec_recent_take(fs->contents, want, mi->digest, now, &content,
			   &clen)) {
		ec_handle_adopt(h, content, clen);
		/* (Without this, the next open of a file read once since the
		 * mount read its envelope again for the digest.) */
		note_settled(fs, h, want, now - EC_RECENT_US);
		return 0;
	}
	pthread_mutex_lock(&fs->lock);
	full = h->node->pages_full && !h->node->pages_old &&
	       h->node->pages_digest == mi->digest &&
	       (h->node->settled || fs->net);
	pthread_mutex_unlock(&fs->lock);
	if (!full)
		return 1;
	h->version = got;
	h->digest = mi->digest;
	h->unread = true;
	return 0;
}

/* The envelope of a snapshot opened unread, when a read reaches us (the
 * kernel dropped the pages): still the version opened, or -EIO (it was
 * rewritten since the open: the kernel's size is the old version's). */
static int unread_load(struct ecfs *fs, struct handle *h)
{
	char id[PATH_MAX], shown[PATH_MAX];
	struct ec_fsmeta_key got;
	struct stat st;
	int err;

	pthread_mutex_lock(&fs->lock);
	err = ec_node_path(h->node, id, sizeof(id));
	pthread_mutex_unlock(&fs->lock);
	if (!err) {
		err = ec_store_read(fs->store, id, EC_STREAM_MIN - 1, &h->env,
				    &h->envlen, &st);
		ecfs_count(&fs->stats, EC_FSSTAT_ENVELOPE_READS, 1);
		if (err == -EAGAIN)
			err = -ESTALE;	/* being rewritten in place */
	}
	if (!err) {
		ec_fsmeta_key_of(&got, &st);
		if (!ec_fsmeta_key_equal(&h->version, &got) ||
		    ec_fsmeta_digest(h->env, h->envlen) != h->digest)
			err = -ESTALE;
	}
	h->unread = false;
	if (!err)
		return 0;
	free(h->env);
	h->env = NULL;
	ec_fs_printable(id, shown, sizeof(shown));
	fuse_log(FUSE_LOG_NOTICE, PROG ": cannot read '%s' as opened: %s\n",
		 shown, err == -ESTALE ? "rewritten since" : ec_strerror(err));
	return -EIO;
}

/*
 * Read id's envelope into h (a writer opened with O_TRUNC only stats it)
 * and tell what it is (*mi).  When the bytes are want's version (same
 * key, same digest) the metadata cache answers and the content is
 * rendered on first use; otherwise they are classified now, and the
 * content, if shown, adopted.  1 when the envelope looks half-written.
 */
static int read_version(struct ecfs *fs, struct handle *h, const char *id,
			const struct ec_fsmeta_key *want, bool trunc,
			struct ec_fsmeta_info *mi)
{
	struct ec_fsmeta_key got, k;
	uint8_t *content = NULL;
	size_t clen = 0;
	struct stat st;
	bool same, known;
	int err;

	free(h->env);
	h->env = NULL;
	if (h->cached && !h->writable) {
		err = open_unread(fs, h, id, want, mi);
		if (err <= 0)
			return err;
	}
	/* One read for a small envelope (no stat before it); a big one is
	 * refused by the read and loaded in a stream instead. */
	if (trunc)
		err = ec_store_stat_entry(fs->store, id, &st);
	else {
		err = ec_store_read(fs->store, id, EC_STREAM_MIN - 1, &h->env,
				    &h->envlen, &st);
		if (err != -EC_ETOOBIG)	/* a big one is read next */
			ecfs_count(&fs->stats, EC_FSSTAT_ENVELOPE_READS, 1);
	}
	if (err == -EC_ETOOBIG)
		return read_big(fs, h, id, want, mi);
	/* A network file system's answer when another client renamed a
	 * new version over the file between its lookup and our use of it,
	 * or one rewritten in place each time we read it: read it again,
	 * as a half-written one. */
	if (err == -ESTALE || err == -EAGAIN)
		return 1;
	if (err == -EC_ETOOBIG || err == -ELOOP || err == -EINVAL ||
	    err == -EISDIR || err == -EC_EID)
		err = -ENOENT;
	if (err)
		return err;
	ec_fsmeta_key_of(&got, &st);
	same = ec_fsmeta_key_equal(want, &got);
	if (trunc) {
		/* The content is not needed: any valid version will do. */
		err = ec_present_meta(fs, id, &st, h->opened_us, &k, mi);
		h->other = !same;
		return err == -EISDIR ? -ENOENT : err;
	}
	known = same && ec_fsmeta_get(fs->meta, &got, mi);
	if (known && mi->digest == ec_fsmeta_digest(h->env, h->envlen)) {
		h->version = got;	/* rendered on first use */
		h->digest = mi->digest;
		if (h->cached)
			note_settled(fs, h, &got, h->opened_us);
		return 0;
	}
	ec_present_bytes(fs, id, h->env, h->envlen, &st, h->opened_us,
			 EC_LOAD_DATA, mi, &content, &clen);
	if (!ec_present_shown(fs, mi, h->opened_us)) {
		ec_secure_free(content);
		return ec_present_torn(mi, &got, ec_clock_now_us());
	}
	/* Known under the same key with another digest: rewritten within
	 * one mtime tick. */
	h->other = !same || known;
	if (content)
		ec_handle_adopt(h, content, clen);
	return 0;
}

int ec_handle_open(struct ecfs *fs, struct handle *h, const char *id,
		   const struct ec_fsmeta_key *want, int flags)
{
	bool trunc = h->writable && (flags & O_TRUNC);
	struct ec_fsmeta_info mi;
	int tries, err = 1;

	for (tries = 0; tries < REREAD_TRIES && err == 1; tries++) {
		if (tries)
			ec_present_pause();
		err = read_version(fs, h, id, want, trunc, &mi);
	}
	if (err == 1 || (!err && !ec_present_shown(fs, &mi, h->opened_us)))
		return -ENOENT;
	if (err)
		return err;
	h->digest = mi.digest;	/* of the content h reads */
	if (h->writable) {
		ec_handle_set_view(fs, h, true, mi.is_bplist);
		h->append = (flags & O_APPEND) != 0;
		if (trunc)
			ec_handle_adopt(h, NULL, 0);	/* empty */
	}
	return 0;
}

/* A live reader takes the content of the node's last save, when one was
 * made since it last looked (h->lock held).  A save whose envelope is in
 * the backing directory already but not yet published is waited for: a
 * read that starts after the envelope changed returns what it holds. */
static int take_saved(struct ecfs *fs, struct handle *h)
{
	struct node *n = h->node;
	uint8_t *copy = NULL;
	size_t len = 0;
	uint64_t saves;
	int err = 0;

	pthread_mutex_lock(&fs->lock);
	while (n->nsaving)
		pthread_cond_wait(&fs->published, &fs->lock);
	saves = n->saves;
	if (saves != h->seen_saves && n->saved) {
		len = n->saved_len;
		copy = ec_secure_alloc(len ? len : 1);
		if (copy)
			memcpy(copy, n->saved, len);
		else
			err = -ENOMEM;
	}
	pthread_mutex_unlock(&fs->lock);
	if (err)
		return h->ready ? 0 : err;
	if (copy)
		ec_handle_adopt(h, copy, len);
	h->seen_saves = saves;
	return 0;
}

int ec_handle_render(struct ecfs *fs, struct handle *h, bool restart)
{
	struct ec_fsmeta_info mi;
	char id[PATH_MAX];
	uint8_t *content = NULL;
	size_t clen = 0;
	bool named;
	int err;

	if (h->live && (restart || !h->served)) {
		err = take_saved(fs, h);
		if (err)
			return err;
	}
	if (h->ready)
		return 0;
	/* Decrypted a moment ago for its metadata (recent.h)? */
	if (fs->contents && ec_recent_take(fs->contents, &h->version, h->digest,
					 ec_clock_now_us(), &content,
					 &clen)) {
		ec_handle_adopt(h, content, clen);
		return 0;
	}
	if (h->unread) {
		err = unread_load(fs, h);
		if (err)
			return err;
	}
	/* As of the open: valid then (its digest was checked), so readable
	 * until release; under the TTL rule of its name (which decides
	 * whether created_at is read). */
	pthread_mutex_lock(&fs->lock);
	named = ec_node_path(h->node, id, sizeof(id)) == 0;
	pthread_mutex_unlock(&fs->lock);
	ec_present_classify(fs, named ? id : NULL, h->env, h->envlen,
			    h->opened_us, &mi, &content, &clen);
	if (mi.state != EC_STATE_VALID && mi.state != EC_STATE_STALE) {
		ec_secure_free(content);
		return -EIO;	/* authenticated at open: cannot happen */
	}
	ec_handle_adopt(h, content, clen);
	return 0;
}

void ec_handle_changed(struct ecfs *fs, struct handle *h)
{
	pthread_mutex_lock(&fs->lock);
	if (!h->dirty)
		h->node->ndirty++;
	h->dirty = true;
	h->save_failed = false;	/* changed since: worth saving again */
	h->node->wlen = h->buf.len;
	h->node->wtime_us = ec_clock_now_us();
	pthread_mutex_unlock(&fs->lock);
}

bool ec_handle_length(struct handle *h, size_t *len)
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
