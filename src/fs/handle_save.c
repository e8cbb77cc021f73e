/*
 * handle_save: a writer's buffer saved as the entry's new envelope (at
 * flush, fsync or release), and truncate(2) by path; the rules are the
 * file lifecycle written in fs.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "handle.h"
#include "replace.h"
#include "ttl.h"

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
	if (t->pending && n->next && n->next->comment &&
	    !(t->comment = strdup(n->next->comment)))
		err = -ENOMEM;
	if (t->pending && n->next && n->next->validasof &&
	    !(t->validasof = strdup(n->next->validasof)))
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
	bool inplace, given, saving = false, recheck = false;
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
	if ((res.streamed || (res.st.st_ino && !fs->net)) && !t.live)
		/* What it wrote is known, not read again: a big save, or a
		 * small one linked in whole (its stat is the version's).
		 * Converted data (owned) too: one that may be a bplist is
		 * read back, as any (-EAGAIN), but text the auto view kept
		 * as bytes (it looked like JSON and was not) is shown as it
		 * is. */
		lerr = ec_present_saved(fs, t.id, &res, owned ? owned : data,
					dlen, comment, &key, &mi);
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
	given = n->attrs_given && !h->written;
	n->attrs_given = false;
	inplace = ec_node_saved(&fs->nodes, n, !lerr, &key, &mi);
	n->own_saved = inplace;
	if (n->nlive) {
		/* (None when a live reader came after t was taken: then no
		 * older save may stand in for this one.) */
		ec_node_keep_saved(n, lerr ? NULL : shown, shownlen);
		if (!lerr)
			shown = NULL;
	}
	n->nsaving--;
	recheck = n->changed_saving;
	if (!n->nsaving)
		n->changed_saving = false;
	saving = false;
	pthread_cond_broadcast(&fs->published);
	pthread_mutex_unlock(&fs->lock);
	/* The kernel drops the node's old attributes and pages, or (a new
	 * node for the name) the name; a pending node was never cached, but
	 * for the attributes create gave, which a write through the kernel
	 * has dropped already (ecfs_create). */
	if (inplace && !t.pending)
		seq = ec_inval_queue(fs, 0, NULL, ino, true);
	else if (inplace && given)
		seq = ec_inval_queue(fs, 0, NULL, ino, false);
	else if (!inplace)
		seq = ec_inval_queue(fs, n->parent->ino, n->name, 0, false);
	/* The watch saw the name change while this save was under way
	 * (inval.c): its own linking in, most likely; the name is dropped
	 * only if the file is not what it wrote (another writer's since). */
	if (recheck && inplace && !ec_present_is_version(fs, t.id, &key))
		seq = ec_inval_queue(fs, n->parent->ino, n->name, 0, false);
out:
	if (saving) {	/* failed: nothing to publish */
		pthread_mutex_lock(&fs->lock);
		n->nsaving--;
		recheck = n->changed_saving;
		if (!n->nsaving)
			n->changed_saving = false;
		pthread_cond_broadcast(&fs->published);
		pthread_mutex_unlock(&fs->lock);
		if (recheck)
			seq = ec_inval_queue(fs, n->parent->ino, n->name, 0,
					     false);
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
	has = n->next_created_us != EC_TIME_NONE ||
	      (n->next && (n->next->comment || n->next->validasof));
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
		ec_handle_adopt(h, NULL, 0);
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
