/*
 * handle: open files.  Opening (a complete version, or ENOENT), loading
 * the content once, live readers, writers' buffers and their saves; the
 * rules are the file lifecycle written in fs.h.
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

/* Give the rendered content to h (ec_secure_alloc'd: h owns it now). */
static void adopt(struct handle *h, uint8_t *content, size_t len)
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
	struct stat st;
	int64_t now;
	bool had;
	int err;

	had = ec_fsmeta_get(fs->meta, want, &known);
	/* Decrypted a moment ago, at its lookup (recent.h)?  Its version
	 * is checked by the file's identity, when settled, and the tag
	 * known of it. */
	now = ec_clock_now_us();
	if (had && fs->contents && settled(want, now - EC_RECENT_US) &&
	    ec_store_stat_entry(fs->store, id, &st) == 0) {
		ec_fsmeta_key_of(&got, &st);
		if (ec_fsmeta_key_equal(want, &got) &&
		    ec_recent_take(fs->contents, want, known.digest, now,
				   &content, &clen)) {
			*mi = known;
			h->other = false;
			adopt(h, content, clen);
			return 0;
		}
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
	adopt(h, content, clen);
	return 0;
}

/* h read version k's bytes, at h->opened_us or later: when they were
 * settled then, k's stat alone tells it from now on. */
static void note_settled(struct ecfs *fs, struct handle *h,
			 const struct ec_fsmeta_key *k)
{
	struct node *n = h->node;

	if (!settled(k, h->opened_us))
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
	    ec_store_stat_entry(fs->store, id, &st) != 0)
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
		adopt(h, content, clen);
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
	 * new version over the file between its lookup and our use of it:
	 * read it again, as a half-written one. */
	if (err == -ESTALE)
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
			note_settled(fs, h, &got);
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
		adopt(h, content, clen);
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
			adopt(h, NULL, 0);	/* empty */
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
		adopt(h, copy, len);
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
		adopt(h, content, clen);
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
	adopt(h, content, clen);
	return 0;
}

void ec_handle_changed(struct ecfs *fs, struct handle *h)
{
	pthread_mutex_lock(&fs->lock);
	if (!h->dirty)
		h->node->ndirty++;
	h->dirty = true;
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

/* What a save needs from the node, copied under fs->lock. */
struct save_target {
	char id[PATH_MAX];
	bool pending;
	bool live;		/* live readers want the content */
	bool have_version;	/* version: the one the save replaces */
	struct ec_fsmeta_key version;
	int64_t created_us;
	char *comment, *validasof;	/* pending: set by setxattr */
	char *key;		/* pending: the key of the entry it replaces
				   (replace.h), or NULL for key= */
};

/* 1 when n is unlinked (nothing to save), else 0 or -errno. */
static int save_target(struct ecfs *fs, struct node *n,
		       struct save_target *t)
{
	int err;

	memset(t, 0, sizeof(*t));
	if (n->unlinked)
		return 1;
	err = ec_node_path(n, t->id, sizeof(t->id));
	t->pending = n->pending;
	t->live = n->nlive > 0;
	t->have_version = !n->pending && n->info.state == EC_STATE_VALID;
	t->version = n->key;
	t->created_us = n->next_created_us;
	if (t->pending && n->next_comment &&
	    !(t->comment = strdup(n->next_comment)))
		err = -ENOMEM;
	if (t->pending && n->next_validasof &&
	    !(t->validasof = strdup(n->next_validasof)))
		err = -ENOMEM;
	if (t->pending && !err) {
		char *comment = NULL;

		err = ec_replace_for_save(fs, n, &t->key, &comment);
		if (!t->comment)
			t->comment = comment;	/* setxattr's wins */
		else
			free(comment);
	}
	return err;
}

/*
 * Encrypt data for t: an overwrite keeps the entry's key name and
 * comment, a new entry (or one replacing a hidden envelope) uses the
 * key= option; created_at is now, or what utimens asked for meanwhile.
 */
/* The key name and comment of the version t overwrites, from fsmeta
 * (what was shown of it), into key/comment (malloc'd, comment may be
 * NULL); false when fsmeta has forgotten it. */
static bool known_meta(struct ecfs *fs, const struct save_target *t,
		       char **key, char **comment)
{
	char k[256], c[4096];
	int kl, cl;

	*key = *comment = NULL;
	if (!t->have_version)
		return false;
	kl = ec_fsmeta_getxattr(fs->meta, &t->version, "user.enccache.key", k,
				sizeof(k) - 1);
	cl = ec_fsmeta_getxattr(fs->meta, &t->version,
				"user.enccache.comment", c, sizeof(c) - 1);
	if (kl < 0 || (cl < 0 && cl != -ENODATA))
		return false;
	k[kl] = '\0';
	*key = strdup(k);
	if (cl >= 0) {
		c[cl] = '\0';
		*comment = strdup(c);
	}
	return *key && (cl < 0 || *comment);
}


/* The envelope a save replaces, as it is now (its key and comment). */
static int load_current(struct ecfs *fs, const char *id, struct ec_entry *e)
{
	int err = ec_cache_load(fs->cache, id, 0, ec_clock_now_us(), e);

	ecfs_count(&fs->stats, EC_FSSTAT_ENVELOPE_READS, 1);
	return err;
}
/*
 * Encrypt data for t: an overwrite keeps the entry's key name and
 * comment (as shown: fsmeta knows them without reading the envelope
 * again, which for a big entry would mean decrypting all of it), a new
 * entry (or one replacing a hidden envelope) uses the key= option;
 * created_at is now, or what utimens asked for meanwhile.  *comment_used:
 * a copy of the comment saved (free), for the caller's record.
 */
static int save_data(struct ecfs *fs, const struct save_target *t,
		     const uint8_t *data, size_t dlen, bool durable,
		     struct ec_save_result *res, char **comment_used)
{
	struct ec_save_options o = { .created_us = t->created_us,
				     .result = res };
	char *kname = NULL, *kcomment = NULL;
	struct ec_entry cur;
	bool have_cur = false;
	int err;

	if (!t->pending && known_meta(fs, t, &kname, &kcomment)) {
		o.key = kname;
		o.comment = kcomment;
	} else if (!t->pending && load_current(fs, t->id, &cur) == 0) {
		have_cur = true;
		if (cur.state == EC_STATE_VALID) {
			o.key = cur.env.key;
			o.comment = cur.env.comment;
		}
	}
	if (t->pending) {
		o.key = t->key;
		o.comment = t->comment;
		o.validasof = t->validasof;
	}
	o.durable = durable;
	err = ec_cache_save(fs->cache, t->id, data, dlen, &o);
	*comment_used = !err && o.comment ? strdup(o.comment) : NULL;
	if (have_cur)
		ec_entry_release(&cur);
	free(kname);
	free(kcomment);
	return err;
}

/* Whether the text cannot start a JSON value (after white space), so
 * view=auto would keep it as bytes: decided without parsing it. */
static bool not_json(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' ||
			 p[i] == '\r'))
		i++;
	return i < n && !strchr("{[\"-0123456789tfn", p[i]);
}

/*
 * The data a save stores for h's content under its view: the buffer
 * itself when it is stored as it is (raw view, or auto with bytes that
 * are not JSON: a big file is never copied), else the converted data in
 * *owned (ec_secure_free).
 */
static int save_bytes(struct handle *h, const uint8_t **data, size_t *len,
		      uint8_t **owned)
{
	*owned = NULL;
	if (h->wview == EC_VIEW_RAW ||
	    (h->wview == EC_VIEW_AUTO && !h->wbplist &&
	     not_json(h->buf.p, h->buf.len))) {
		*data = h->buf.p ? h->buf.p : (const uint8_t *)"";
		*len = h->buf.len;
		return 0;
	}
	return ec_view_parse_content(h->wview, h->wbplist, h->buf.p,
				     h->buf.len, owned, len);
}

int ec_handle_save(struct ecfs *fs, struct handle *h, bool durable)
{
	struct node *n = h->node;
	struct save_target t;
	struct ec_fsmeta_key key;
	struct ec_fsmeta_info mi;
	struct ec_save_result res = { 0 };
	const uint8_t *data = NULL;
	uint8_t *owned = NULL, *shown = NULL;
	char *comment = NULL;
	size_t dlen = 0, shownlen = 0;
	fuse_ino_t ino = n->ino;
	bool inplace, saving = false;
	uint64_t seq = 0;
	int err, lerr;

	err = ec_handle_render(fs, h, false);
	if (err)
		return err;
	pthread_rwlock_rdlock(&fs->ns);
	pthread_mutex_lock(&fs->lock);
	err = save_target(fs, n, &t);
	if (err == 1) {
		/* Removed or replaced: the changes go nowhere, as writes to
		 * an unlinked file do. */
		if (h->dirty)
			n->ndirty--;
		h->dirty = false;
	} else if (!err) {
		n->nsaving++;	/* live readers wait for what it writes */
		saving = true;
	}
	pthread_mutex_unlock(&fs->lock);
	if (!err)
		err = save_bytes(h, &data, &dlen, &owned);
	if (err)
		goto out;
	err = save_data(fs, &t, owned ? owned : data, dlen, durable, &res,
			&comment);
	if (err)
		goto out;

	/* What is on disk now, for the next lookup and for the node (and
	 * the content itself, for live readers). */
	lerr = -EAGAIN;
	if (res.streamed && !t.live && !owned)
		/* A big save: what it wrote is known, not read again. */
		lerr = ec_present_saved(fs, t.id, &res, data, dlen, comment,
					&key, &mi);
	if (lerr == -EAGAIN)
		lerr = ec_present_load(fs, t.id, ec_clock_now_us(), NULL, &key,
				       &mi, t.live ? &shown : NULL, &shownlen);
	pthread_mutex_lock(&fs->lock);
	if (h->dirty)
		n->ndirty--;
	h->dirty = false;
	if (n->next_created_us == t.created_us)
		n->next_created_us = EC_TIME_NONE;
	ecfs_count(&fs->stats, EC_FSSTAT_SAVES, 1);
	inplace = ec_node_saved(&fs->nodes, n, !lerr, &key, &mi);
	if (n->nlive) {
		/* (None when a live reader came after t was taken: then no
		 * older save may stand in for this one.) */
		ec_node_keep_saved(n, lerr ? NULL : shown, shownlen);
		if (!lerr)
			shown = NULL;
	}
	n->nsaving--;
	saving = false;
	pthread_cond_broadcast(&fs->published);
	pthread_mutex_unlock(&fs->lock);
	/* The kernel drops the node's old attributes and pages, or (a new
	 * node for the name) the name; a pending node was never cached. */
	if (inplace && !t.pending)
		seq = ec_inval_queue(fs, 0, NULL, ino, true);
	else if (!inplace)
		seq = ec_inval_queue(fs, n->parent->ino, n->name, 0, false);
out:
	if (saving) {	/* failed: nothing to publish */
		pthread_mutex_lock(&fs->lock);
		n->nsaving--;
		pthread_cond_broadcast(&fs->published);
		pthread_mutex_unlock(&fs->lock);
	}
	pthread_rwlock_unlock(&fs->ns);
	ec_inval_wait(fs, seq);
	ec_secure_free(owned);
	ec_secure_free(shown);
	free(comment);
	free(t.comment);
	free(t.validasof);
	free(t.key);
	return err == 1 ? 0 : err;
}

bool ec_handle_flush_due(struct ecfs *fs, struct handle *h)
{
	struct node *n = h->node;
	bool has;

	if (!h->dirty)
		return false;
	if (h->written)
		return true;
	/* Only created or truncated: saved at release (see ecfs_flush),
	 * unless metadata was set for the next save (utimens, setxattr on
	 * a file being created), an explicit change. */
	pthread_mutex_lock(&fs->lock);
	has = n->next_created_us != EC_TIME_NONE || n->next_comment ||
	      n->next_validasof;
	pthread_mutex_unlock(&fs->lock);
	return has;
}

int ec_handle_truncate_path(struct ecfs *fs, struct node *n, const char *id,
			    size_t size)
{
	struct ec_fsmeta_key want;
	struct handle *h;
	bool pending;
	int err;

	pthread_mutex_lock(&fs->lock);
	want = n->key;
	pending = n->pending;
	h = ec_handle_new(n, true);
	if (h)
		ec_handle_pin(h);
	pthread_mutex_unlock(&fs->lock);
	if (!h)
		return -ENOMEM;
	if (pending) {
		adopt(h, NULL, 0);
		ec_handle_set_view(fs, h, false, false);
		err = 0;
	} else {
		err = ec_handle_open(fs, h, id, &want,
				     size ? O_WRONLY : O_WRONLY | O_TRUNC);
	}
	pthread_mutex_lock(&h->lock);
	if (!err)
		err = ec_handle_render(fs, h, false);
	if (!err)
		err = ec_sbuf_resize(&h->buf, size);
	if (!err) {
		ec_handle_changed(fs, h);
		err = ec_handle_save(fs, h, fs->sync);
	}
	pthread_mutex_unlock(&h->lock);
	ec_handle_unpin(fs, h);
	ec_handle_free(h);
	return err;
}
