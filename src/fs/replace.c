/*
 * replace: rename(2) over an entry as an overwrite of it (replace.h).
 * The renamed envelope is rewritten under its own name first, then the
 * rename is the one atomic step that replaces the entry: a reader (the
 * Python module) sees the old entry or the new one, never a mix.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "replace.h"
#include "secure.h"
#include "ttl.h"

/* Same text, NULL being its own value. */
static bool same_text(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/*
 * The data that an overwrite of an entry whose data is (is_bplist) or is
 * not a binary plist would store for content shown (rendered) as text:
 * the view's rule for writes over an existing entry, as
 * ec_handle_set_view() applies it.  *out ec_secure_alloc'd.
 */
static int store_as(const struct ecfs *fs, bool is_bplist, const uint8_t *text,
		    size_t len, uint8_t **out, size_t *outlen)
{
	enum ec_view v = fs->view;

	if (v == EC_VIEW_AUTO && !is_bplist)
		v = EC_VIEW_RAW;
	return ec_view_parse_content(v, is_bplist, text, len, out, outlen);
}

int ec_replace_prepare(struct ecfs *fs, const char *from, const char *to,
		       bool *rewritten)
{
	struct ec_save_options o = { .created_us = EC_TIME_NONE };
	struct ec_entry src, dst;
	uint8_t *shown = NULL, *data = NULL;
	size_t shownlen = 0, dlen = 0;
	int64_t now = ec_clock_now_us();
	bool have_src = false, have_dst = false, bp;
	int err;

	*rewritten = false;
	err = ec_cache_load(fs->cache, to, EC_LOAD_DATA, now, &dst);
	ecfs_count(&fs->stats, EC_FSSTAT_ENVELOPE_READS, 1);
	if (err)
		return 0;	/* gone meanwhile: a plain rename */
	have_dst = true;
	err = ec_cache_load(fs->cache, from, EC_LOAD_DATA, now, &src);
	ecfs_count(&fs->stats, EC_FSSTAT_ENVELOPE_READS, 1);
	if (err) {
		err = 0;
		goto out;
	}
	have_src = true;
	if (ec_entry_verdict(fs->cache, &dst, now, NULL) != EC_STATE_VALID ||
	    ec_entry_verdict(fs->cache, &src, now, NULL) != EC_STATE_VALID)
		goto out;	/* a hidden target counts as absent */
	/* What the mount shows of from, stored as into to. */
	err = ec_view_render(fs->view, src.data, src.len, &shown, &shownlen,
			     NULL);
	if (err)
		goto out;
	bp = dst.len >= 8 && ec_view_is_bplist(dst.data, dst.len);
	err = store_as(fs, bp, shown, shownlen, &data, &dlen);
	if (err)
		goto out;
	if (dlen == src.len && (dlen == 0 ||
				memcmp(data, src.data, dlen) == 0) &&
	    same_text(src.env.key, dst.env.key) &&
	    same_text(src.env.comment, dst.env.comment))
		goto out;	/* nothing to change: the rename does it */
	o.key = dst.env.key;
	o.comment = dst.env.comment;
	o.validasof = src.validasof;
	o.created_us = src.created_us;
	o.durable = fs->sync;
	err = ec_cache_save(fs->cache, from, data, dlen, &o);
	*rewritten = err == 0;
out:
	ec_secure_free(data);
	ec_secure_free(shown);
	if (have_src)
		ec_entry_release(&src);
	if (have_dst)
		ec_entry_release(&dst);
	return err;
}

/* ---- a new file in the place of an entry renamed away ----------------- */

int ec_replace_info_of(struct ecfs *fs, const char *id,
		       struct ec_replace_info *info)
{
	struct ec_fsmeta_key key;
	struct ec_fsmeta_info mi;
	int64_t now = ec_clock_now_us();
	char buf[4096];
	int n;

	memset(info, 0, sizeof(*info));
	if (ec_present_meta(fs, id, NULL, now, &key, &mi) != 0 ||
	    !ec_present_shown(fs, &mi, now))
		return 0;
	n = ec_fsmeta_getxattr(fs->meta, &key, "user.enccache.key", buf,
			       sizeof(buf) - 1);
	if (n < 0)
		return 0;	/* evicted meanwhile: nothing to go by */
	buf[n] = '\0';
	info->key = strdup(buf);
	n = ec_fsmeta_getxattr(fs->meta, &key, "user.enccache.comment", buf,
			       sizeof(buf) - 1);
	if (n >= 0) {
		buf[n] = '\0';
		info->comment = strdup(buf);
	} else if (n == -ERANGE) {
		/* A long comment: read it whole. */
		int len = ec_fsmeta_getxattr(fs->meta, &key,
					     "user.enccache.comment", NULL, 0);

		info->comment = len > 0 ? malloc((size_t)len + 1) : NULL;
		if (info->comment &&
		    ec_fsmeta_getxattr(fs->meta, &key, "user.enccache.comment",
				       info->comment, (size_t)len) == len)
			info->comment[len] = '\0';
		else
			goto fail;
	}
	if (!info->key)
		goto fail;
	info->bplist = mi.is_bplist;
	info->valid = true;
	return 0;
fail:
	ec_replace_info_release(info);
	return -ENOMEM;
}

void ec_replace_info_release(struct ec_replace_info *info)
{
	free(info->key);
	free(info->comment);
	memset(info, 0, sizeof(*info));
}

static void slot_clear(struct ec_replace_recent *r)
{
	free(r->name);
	free(r->key);
	free(r->comment);
	memset(r, 0, sizeof(*r));
}

/* A slot for a new record: a free one, else the oldest. */
static struct ec_replace_recent *slot_new(struct ecfs *fs)
{
	struct ec_replace_recent *r, *old = &fs->recent[0];
	size_t i;

	for (i = 0; i < EC_REPLACE_RECENT; i++) {
		r = &fs->recent[i];
		if (!r->parent)
			return r;
		if (r->at_us < old->at_us)
			old = r;
	}
	slot_clear(old);
	return old;
}

/* The record of what left name under parent lately (unclaimed). */
static struct ec_replace_recent *find_away(struct ecfs *fs, fuse_ino_t parent,
					   const char *name, int64_t now)
{
	size_t i;

	for (i = 0; i < EC_REPLACE_RECENT; i++) {
		struct ec_replace_recent *r = &fs->recent[i];

		if (r->parent == parent && !r->node && r->name &&
		    strcmp(r->name, name) == 0) {
			if (now - r->at_us <= EC_REPLACE_AWAY_US)
				return r;
			slot_clear(r);	/* too old to be an editor's save */
		}
	}
	return NULL;
}

static void fill(struct ec_replace_recent *r, struct ec_replace_info *info,
		 int64_t now)
{
	r->key = info->key;
	r->comment = info->comment;
	r->bplist = info->bplist;
	r->at_us = now;
	info->key = info->comment = NULL;
	info->valid = false;
}

void ec_replace_away(struct ecfs *fs, fuse_ino_t parent, const char *name,
		     struct ec_replace_info *info)
{
	int64_t now = ec_clock_now_us();
	struct ec_replace_recent *r;

	if (!info->valid)
		return;
	r = find_away(fs, parent, name, now);
	if (r)
		slot_clear(r);
	r = slot_new(fs);
	r->name = strdup(name);
	if (!r->name)
		return;		/* ENOMEM: nothing remembered */
	r->parent = parent;
	fill(r, info, now);
}

void ec_replace_forget(struct ecfs *fs, fuse_ino_t parent, const char *name)
{
	struct ec_replace_recent *r = find_away(fs, parent, name,
						ec_clock_now_us());

	if (r)
		slot_clear(r);
}

bool ec_replace_claim(struct ecfs *fs, fuse_ino_t parent, const char *name,
		      const struct node *n, bool *bplist)
{
	struct ec_replace_recent *r = find_away(fs, parent, name,
						ec_clock_now_us());

	if (!r)
		return false;
	r->node = n->ino;	/* kept until n's first save takes it */
	*bplist = r->bplist;
	return true;
}

void ec_replace_attach(struct ecfs *fs, const struct node *n,
		       struct ec_replace_info *info)
{
	struct ec_replace_recent *r;

	if (!info->valid)
		return;
	r = slot_new(fs);
	r->parent = n->parent ? n->parent->ino : FUSE_ROOT_ID;
	r->node = n->ino;
	fill(r, info, ec_clock_now_us());
}

int ec_replace_for_save(struct ecfs *fs, const struct node *n, char **key,
			char **comment)
{
	size_t i;

	*key = *comment = NULL;
	for (i = 0; i < EC_REPLACE_RECENT; i++) {
		struct ec_replace_recent *r = &fs->recent[i];

		if (!r->parent || r->node != n->ino)
			continue;
		*key = strdup(r->key);
		*comment = r->comment ? strdup(r->comment) : NULL;
		if (!*key || (r->comment && !*comment)) {
			free(*key);
			free(*comment);
			*key = *comment = NULL;
			return -ENOMEM;
		}
		return 0;
	}
	return 0;
}

void ec_replace_release(struct ecfs *fs)
{
	size_t i;

	for (i = 0; i < EC_REPLACE_RECENT; i++)
		slot_clear(&fs->recent[i]);
}
