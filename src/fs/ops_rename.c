/*
 * ops_rename: rename(2), of entries and directories (ops_write.c holds
 * the other changes).  The lifecycle rules it keeps are in fs.h: the
 * source's node moves with its handles, a target renamed over is
 * unlinked, a directory holding a file being created is not empty, and
 * the namespace lock keeps saves from landing under either name.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "handle.h"
#include "ops.h"
#include "replace.h"

/*
 * The target of an entry rename as the user sees it: 2 when it is a valid
 * entry, 1 when it is a file being created, 0 when it does not exist, and
 * then *hidden tells whether an envelope that is not shown (stale,
 * invalid) is there: it is replaced, as a new entry replaces it.
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
	np = ec_node_get(&fs->nodes, newparent);
	t = np ? ec_node_child(&fs->nodes, np, newname) : NULL;
	live = t && ec_node_live_pending(t);
	pthread_mutex_unlock(&fs->lock);
	if (live)
		return 1;
	err = ec_present_meta(fs, to, NULL, now, &key, &mi);
	if (err == 0 && ec_present_shown(fs, &mi, now))
		return 2;
	*hidden = err == 0;
	return 0;
}

/* What a rename needs to know of its source, under fs->lock. */
struct rename_src {
	bool known;		/* a node has the name */
	bool is_dir, pending;
	struct ec_fsmeta_key old;
	/* Rewritten for the entry it replaces (replace.h): the version
	 * renamed, which shows the same content. */
	bool rewritten;
	struct ec_fsmeta_info mi;
	/* What the source entry was (remembered for its old name), or,
	 * for a file being created, what the entry it replaces was. */
	struct ec_replace_info info;
};

/* Rename the backing file or directory from -> to (fs->ns held
 * exclusively).  *key gets the entry's version after the rename, when
 * *have_key. */
static int rename_backing(struct ecfs *fs, struct rename_src *rs,
			  fuse_ino_t newparent, const char *newname,
			  const char *from, const char *to, unsigned flags,
			  struct ec_fsmeta_key *key, bool *have_key)
{
	struct node *np, *tgt;
	struct stat st;
	bool hidden, busy;
	int err, target;

	*have_key = false;
	if (rs->is_dir) {
		/* A directory holding a file being created is not empty. */
		pthread_mutex_lock(&fs->lock);
		np = ec_node_get(&fs->nodes, newparent);
		tgt = np ? ec_node_child(&fs->nodes, np, newname) : NULL;
		busy = tgt && tgt->is_dir &&
		       ec_node_has_pending_child(&fs->nodes, tgt);
		pthread_mutex_unlock(&fs->lock);
		return busy ? -ENOTEMPTY :
		       ec_store_rename_dir(fs->store, from, to, flags);
	}
	if (strlen(newname) + fs->store->suffix_len > NAME_MAX)
		return -ENAMETOOLONG;
	if (ec_store_stat_dir(fs->store, to, &st) == 0)
		return -EISDIR;
	target = rename_target(fs, newparent, newname, to, &hidden);
	if (target && (flags & RENAME_NOREPLACE))
		return -EEXIST;
	if (rs->pending) {
		/* Not saved yet: only the name moves (it is saved under the
		 * new one); what the name held goes now, as POSIX says, and
		 * the first save keeps its key name and comment. */
		if (target == 2) {
			err = ec_replace_info_of(fs, to, &rs->info);
			if (err)
				return err;
		}
		err = ec_cache_remove(fs->cache, to);
		return err == -ENOENT ? 0 : err;
	}
	/* Moved to a free name: what leaves from's name is remembered for
	 * a file created there next (an editor's save: rename to a backup,
	 * write a new file).  A file renamed over an entry replaces it
	 * instead (a temp file's name is free again, not an entry's). */
	if (target == 0) {
		err = ec_replace_info_of(fs, from, &rs->info);
		if (err)
			return err;
	}
	/* Over a valid entry: as an overwrite of it (key, comment, what
	 * content it takes). */
	if (target == 2 && strcmp(from, to) != 0) {
		err = ec_replace_prepare(fs, from, to, &rs->rewritten);
		if (err)
			return err;
	}
	/* A hidden target is replaced: no RENAME_NOREPLACE then. */
	err = ec_store_rename_entry(fs->store, from, to, hidden ? 0 : flags);
	if (!err && ec_store_stat_entry(fs->store, to, &st) == 0) {
		ec_fsmeta_key_of(key, &st);
		*have_key = true;
		/* What the node stands for now (the kernel's pages and
		 * attributes of it stay true: the content shown is the
		 * same). */
		if (rs->rewritten &&
		    ec_present_meta(fs, to, &st, ec_clock_now_us(), key,
				    &rs->mi) != 0)
			rs->rewritten = false;
	}
	return err;
}

/* After the backing rename: the target's node is unlinked (replaced),
 * the source's node moves, and keeps its version when the envelope is
 * still the same file (a rename changes only its ctime).  fs->lock held. */
static void rename_nodes(struct ecfs *fs, struct rename_src *rs,
			 fuse_ino_t parent, const char *name,
			 fuse_ino_t newparent, const char *newname,
			 const struct ec_fsmeta_key *key, bool have_key)
{
	const struct ec_fsmeta_key *old = &rs->old;
	struct node *p, *np, *src, *tgt;

	p = ec_node_get(&fs->nodes, parent);
	np = ec_node_get(&fs->nodes, newparent);
	src = p ? ec_node_child(&fs->nodes, p, name) : NULL;
	tgt = np ? ec_node_child(&fs->nodes, np, newname) : NULL;
	if (tgt && tgt != src)
		ec_node_unlinked(&fs->nodes, tgt);
	if (!rs->is_dir) {
		ec_replace_forget(fs, newparent, newname);
		if (rs->pending && src)
			ec_replace_attach(fs, src, &rs->info);
		else if (!rs->pending)
			ec_replace_away(fs, parent, name, &rs->info);
	}
	if (!src || !np || ec_node_move(&fs->nodes, src, np, newname) != 0 ||
	    src->is_dir || src->pending)
		return;
	if (have_key && rs->rewritten && ec_fsmeta_key_equal(&src->key, old)) {
		src->key = *key;	/* same content, new key and comment */
		src->info = rs->mi;
	} else if (have_key && key->dev == old->dev && key->ino == old->ino &&
	    key->size == old->size && key->mtime_ns == old->mtime_ns &&
	    ec_fsmeta_key_equal(&src->key, old)) {
		if (ec_fsmeta_copy(fs->meta, old, key) != 0)
			fuse_log(FUSE_LOG_DEBUG, PROG ": metadata cache: not "
				 "copied\n");
		src->key = *key;
	} else if (ec_node_holds_name(src)) {
		if (have_key) {
			src->key = *key;	/* its handles follow it */
			src->reversioned = true;
		}
	} else {
		ec_node_unhash(&fs->nodes, src);
	}
}

void ecfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		 fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct ecfs *fs = ecfs_of(req);
	char from[PATH_MAX], to[PATH_MAX];
	struct rename_src rs;
	struct ec_fsmeta_key key;
	struct stat st;
	struct node *p, *src;
	bool have_key = false;
	int err;

	if (fs->ro) {
		ecfs_reply_err(req, -EROFS);
		return;
	}
	if (flags & ~(unsigned)RENAME_NOREPLACE) {
		ecfs_reply_err(req, -EINVAL);	/* RENAME_EXCHANGE... */
		return;
	}
	memset(&rs, 0, sizeof(rs));
	/* No save lands under either name meanwhile (fs.h). */
	pthread_rwlock_wrlock(&fs->ns);
	err = ec_ops_child_id(fs, parent, name, from);
	if (!err)
		err = ec_ops_child_id(fs, newparent, newname, to);
	if (err)
		goto out;
	pthread_mutex_lock(&fs->lock);
	p = ec_node_get(&fs->nodes, parent);
	src = p ? ec_node_child(&fs->nodes, p, name) : NULL;
	if (src) {
		rs.known = true;
		rs.is_dir = src->is_dir;
		rs.pending = ec_node_live_pending(src);
		rs.old = src->key;
	}
	pthread_mutex_unlock(&fs->lock);
	if (!rs.known)
		rs.is_dir = ec_store_stat_dir(fs->store, from, &st) == 0;
	err = rename_backing(fs, &rs, newparent, newname, from, to, flags,
			     &key, &have_key);
	if (err)
		goto out;
	pthread_mutex_lock(&fs->lock);
	rename_nodes(fs, &rs, parent, name, newparent, newname, &key,
		     have_key);
	pthread_mutex_unlock(&fs->lock);
	err = ec_ops_sync_parent(fs, from);
	if (!err)
		err = ec_ops_sync_parent(fs, to);
out:
	pthread_rwlock_unlock(&fs->ns);
	ec_replace_info_release(&rs.info);
	ecfs_reply_err(req, err);
}

