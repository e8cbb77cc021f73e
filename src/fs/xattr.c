/*
 * xattr: the user.enccache.* extended attributes, read (from fsmeta) and
 * written (the envelope rewritten through the core), and the metadata
 * changes they share with utimens(2).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "fs.h"
#include "ops.h"
#include "ttl.h"

/*
 * id's envelope was just rewritten by us with the same content and new
 * metadata (comment, created_at, validasof).  If n stood for the version
 * before (old), it stands for the new one now: its content, and so what
 * the kernel caches of it, is unchanged.  Else n is dropped from the name.
 * The kernel is to forget n's attributes and, with name (created_at
 * changed: the expiry, and so the time the name may be cached, too), the
 * name: returns what to ec_inval_wait() for (fs->ns held: not here).
 */
static uint64_t node_rekey(struct ecfs *fs, struct node *n, const char *id,
			   const struct ec_fsmeta_key *old, bool name)
{
	struct ec_fsmeta_key key;
	struct ec_fsmeta_info mi;
	char *nm = NULL;
	fuse_ino_t pino = 0, ino;
	uint64_t s1 = 0, s2;
	int err;

	err = ec_present_load(fs, id, ec_clock_now_us(), NULL, &key, &mi, NULL,
			 NULL);
	pthread_mutex_lock(&fs->lock);
	if (!err && (ec_fsmeta_key_equal(&n->key, old) ||
		     ec_node_holds_name(n))) {
		n->key = key;
		n->info = mi;
	} else if (n->hashed) {
		ec_node_unhash(&fs->nodes, n);
	}
	if (name && n->parent) {
		nm = strdup(n->name);
		pino = n->parent->ino;
	}
	ino = n->ino;
	pthread_mutex_unlock(&fs->lock);
	if (nm)
		s1 = ec_inval_queue(fs, pino, nm, 0, false);
	s2 = ec_inval_queue(fs, 0, NULL, ino, false);
	free(nm);
	return s1 > s2 ? s1 : s2;
}

/* See ops.h. */
/* created_at := t for n: now, or at the next save when n is being
 * written (a save would overwrite it: `cp -p`, `touch` of a new file). */
int ec_meta_set_created(struct ecfs *fs, struct node *n, int64_t t)
{
	struct ec_fsmeta_key old;
	char id[PATH_MAX];
	struct stat st;
	uint64_t seq = 0;
	bool later;
	int err;

	pthread_rwlock_rdlock(&fs->ns);
	pthread_mutex_lock(&fs->lock);
	later = n->pending || n->ndirty;
	if (t == EC_TIME_NOW_IF_PENDING) {
		if (n->pending)
			n->next_created_us = ec_clock_now_us();
		pthread_mutex_unlock(&fs->lock);
		pthread_rwlock_unlock(&fs->ns);
		return 0;
	}
	if (later)
		n->next_created_us = t;
	err = n->unlinked ? -ENOENT : ec_node_path(n, id, sizeof(id));
	pthread_mutex_unlock(&fs->lock);
	if (later || err)
		goto out;
	err = ec_store_stat_entry(fs->store, id, &st);
	if (err)
		goto out;
	ec_fsmeta_key_of(&old, &st);
	err = ec_cache_set_meta(fs->cache, id, EC_META_CREATED, NULL, t);
	if (err == -EC_EHMAC || err == -EBADMSG)
		err = -ENOENT;
	if (!err)
		seq = node_rekey(fs, n, id, &old, true);
out:
	pthread_rwlock_unlock(&fs->ns);
	ec_inval_wait(fs, seq);
	return later ? 0 : err;
}

/* The mount root's one attribute: the statistics (fsstats.h), read
 * afresh at each call. */
static void root_xattr(fuse_req_t req, struct ecfs *fs, const char *name,
		       size_t size)
{
	static const char list[] = EC_FSSTATS_XATTR;
	char *json = NULL;
	size_t len = 0;
	int err;

	if (!name) {
		if (size == 0)
			fuse_reply_xattr(req, sizeof(list));
		else if (size < sizeof(list))
			ecfs_reply_err(req, -ERANGE);
		else
			fuse_reply_buf(req, list, sizeof(list));
		return;
	}
	if (strcmp(name, EC_FSSTATS_XATTR) != 0) {
		ecfs_reply_err(req, -ENODATA);
		return;
	}
	err = ec_present_stats(fs, &json, &len);
	if (err)
		ecfs_reply_err(req, err);
	else if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		ecfs_reply_err(req, -ERANGE);
	else
		fuse_reply_buf(req, json, len);
	free(json);
}

/*
 * Extended attributes: ours are user.enccache.*.  Other namespaces
 * (security., system., trusted.) are not supported at all, which tells
 * tools such as ls to stop asking; other user.* names are absent.
 */
static void do_xattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		     size_t size)
{
	struct ecfs *fs = ecfs_of(req);
	struct ec_fsmeta_key key, got;
	struct ec_fsmeta_info mi;
	char id[PATH_MAX];
	char *buf = NULL;
	struct node *n;
	int r, tries;

	if (name && strncmp(name, "user.", 5) != 0) {
		ecfs_reply_err(req, -ENOTSUP);
		return;
	}
	if (ino == FUSE_ROOT_ID) {
		root_xattr(req, fs, name, size);
		return;
	}
	pthread_mutex_lock(&fs->lock);
	n = ec_node_get(&fs->nodes, ino);
	if (!n)
		r = -ENOENT;
	else if (n->is_dir)
		r = name ? -ENODATA : 0;
	else
		r = ec_node_path(n, id, sizeof(id)) ? -ENAMETOOLONG : 1;
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
		r = ec_present_load(fs, id, ec_clock_now_us(), &key, &got, &mi,
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
		ecfs_reply_err(req, r);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)r);
	else
		fuse_reply_buf(req, buf, (size_t)r);
	free(buf);
}

void ecfs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			  size_t size)
{
	do_xattr(req, ino, name, size);
}

void ecfs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	do_xattr(req, ino, NULL, size);
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
	bool meta = k == XK_COMMENT || k == XK_VALIDASOF;
	struct node_next *fresh = NULL;
	char *copy = NULL, **slot = NULL;
	bool cur;
	int err = 0;

	if (text && (!(copy = strdup(text)) ||
		     (meta && !(fresh = calloc(1, sizeof(*fresh)))))) {
		free(copy);
		return -ENOMEM;
	}
	pthread_mutex_lock(&fs->lock);
	if (meta && !n->next && fresh) {
		n->next = fresh;
		fresh = NULL;
	}
	if (meta && n->next)
		slot = k == XK_COMMENT ? &n->next->comment :
					 &n->next->validasof;
	cur = meta ? slot && *slot : true;
	if (!n->pending)
		err = -EAGAIN;
	else if (!text && !cur)
		err = -ENODATA;
	else if ((flags & XATTR_CREATE) && cur)
		err = -EEXIST;
	else if ((flags & XATTR_REPLACE) && !cur)
		err = -ENODATA;
	else if (!meta)
		n->next_created_us = t;
	else {
		free(*slot);	/* slot is set: text, or cur */
		*slot = copy;
		copy = NULL;
	}
	pthread_mutex_unlock(&fs->lock);
	free(copy);
	free(fresh);
	return err;
}

/* Set (text) or remove (NULL) attribute k of entry id, node n. */
static int set_entry_xattr(struct ecfs *fs, struct node *n, enum xkind k,
			   const char *text, int64_t t, int flags)
{
	struct ec_save_options o = { .created_us = EC_TIME_NONE };
	struct ec_fsmeta_key old;
	struct ec_entry e;
	char id[PATH_MAX];
	const char *cur;
	uint64_t seq = 0;
	int err;

	/* The envelope is rewritten under the node's name: it stays. */
	pthread_rwlock_rdlock(&fs->ns);
	pthread_mutex_lock(&fs->lock);
	err = n->unlinked ? -ENOENT : ec_node_path(n, id, sizeof(id));
	pthread_mutex_unlock(&fs->lock);
	if (!err) {
		err = ec_cache_load(fs->cache, id,
				    k == XK_VALIDASOF ? EC_LOAD_DATA : 0,
				    ec_clock_now_us(), &e);
		ecfs_count(&fs->stats, EC_FSSTAT_ENVELOPE_READS, 1);
	}
	if (err) {
		pthread_rwlock_unlock(&fs->ns);
		return err == -EC_EID ? -ENOENT : err;
	}
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
		seq = node_rekey(fs, n, id, &old, k == XK_CREATED);
out:
	ec_entry_release(&e);
	pthread_rwlock_unlock(&fs->ns);
	ec_inval_wait(fs, seq);
	return err;
}

/* setxattr (value) and removexattr (value NULL). */
static void do_set_xattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			 const char *value, size_t size, int flags)
{
	struct ecfs *fs = ecfs_of(req);
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
	n = ec_node_get(&fs->nodes, ino);
	if (!n) {
		err = -ENOENT;
	} else if (n->is_dir) {
		err = value ? -ENOTSUP : -ENODATA;	/* none there */
	} else {
		pending = n->pending;
		err = ec_node_path(n, id, sizeof(id));
	}
	pthread_mutex_unlock(&fs->lock);
	if (err)
		goto out;
	if (pending)
		err = set_pending_xattr(fs, n, k, text, t, flags);
	if (!pending || err == -EAGAIN)
		err = set_entry_xattr(fs, n, k, text, t, flags);
out:
	free(copy);
	ecfs_reply_err(req, err);
}

void ecfs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			  const char *value, size_t size, int flags)
{
	do_set_xattr(req, ino, name, value ? value : "", value ? size : 0,
		     flags);
}

void ecfs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	do_set_xattr(req, ino, name, NULL, 0, 0);
}
